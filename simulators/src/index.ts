// @sentinel/simulators: simulated devices for tests, demos and load runs.
export { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
export { type Cancel, type Clock, type ManualClock, manualClock, systemClock } from './clock.js';
export { EventTimeoutError, type WaitForEventOptions, waitForEvent } from './events.js';
export { CredentialLineSchema, parsePicketCredentials, picketIdOf } from './picket/credentials.js';
export {
  PicketDevice,
  type PicketDeviceEvents,
  type PicketDeviceOptions,
  type PicketDeviceStats,
  type PicketDeviceStatus,
} from './picket/device.js';
export {
  applyCommand,
  type CommandOutcome,
  type DriftOptions,
  defaultPicketEntities,
  drift,
  type EntityContext,
  humiditySensor,
  readAll,
  relaySwitch,
  type SimulatedEntity,
  temperatureSensor,
} from './picket/entities.js';
export {
  type DeviceCredentials,
  type FleetSummary,
  PicketFleet,
  type PicketFleetEvents,
  type PicketFleetOptions,
  picketFleetIds,
} from './picket/fleet.js';
export { GatewayFrameSchema, parseGatewayFrame } from './picket/gateway-frames.js';
export { type MqttTransportOptions, mqttTransport } from './picket/mqtt-transport.js';
export {
  ConnectFailure,
  DEFAULT_TUNING,
  type DeviceProblem,
  type DeviceProblemCode,
  type GatewayEndpoint,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
  type QoS,
  resolveGatewayEndpoint,
  SimulatorOptionsError,
  type TransportCredentials,
  type TransportTuning,
} from './picket/transport.js';
export { transportFor } from './picket/transports.js';
export { UnackedStates } from './picket/unacked.js';
export { type PicketWsTransportOptions, picketWsTransport } from './picket/ws-transport.js';
export { gaussian, type Random, seededRandom, systemRandom } from './random.js';
