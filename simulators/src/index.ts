// @sentinel/simulators: simulated devices for tests, demos and load runs.
export { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
export { type AirListener, BleAir } from './ble/air.js';
export {
  type NobleAdvertisement,
  type SimulatedAdapterState,
  type SimulatedBindingsOptions,
  SimulatedNobleBindings,
  toNobleAdvertisement,
} from './ble/bindings.js';
export { type BthomeReading, bthomeV2 } from './ble/bthome.js';
export {
  type AdvertisementSpec,
  BleEncodeError,
  type BthomeEncodeInput,
  type EddystoneEncodeInput,
  type EncodeBase,
  encodeAdvertisement,
  encodeBthome,
  encodeEddystone,
  encodeIbeacon,
  encodeLayoutAdvertisement,
  encodeMibeacon,
  encodeQingping,
  encodeXiaomiScale,
  type IbeaconEncodeInput,
  LAYOUT_FORMAT_IDS,
  type LayoutEncodeInput,
  type Measurements,
  type MibeaconEncodeInput,
  type QingpingEncodeInput,
  type XiaomiScaleEncodeInput,
} from './ble/encoders/index.js';
export {
  type CharacteristicProperty,
  GattError,
  type SimulatedCharacteristic,
  SimulatedPeripheral,
  type SimulatedService,
} from './ble/peripheral.js';
export { type BleScenario, BleScenarioSchema, scenarioAir } from './ble/scenario.js';
export {
  type SimulatedAdvertisement,
  SimulatedBleSensor,
  type SimulatedBleSensorOptions,
} from './ble/sensor.js';
export { type Cancel, type Clock, type ManualClock, manualClock, systemClock } from './clock.js';
export {
  CHIP_DETECT_MAGIC_REG_ADDR,
  CHIP_PROFILES,
  type ChipProfile,
  ESP_CHIPS,
  type EspChip,
} from './esp-rom/chips.js';
export { firmwareLikeBytes } from './esp-rom/firmware-bytes.js';
export {
  CHECKSUM_SEED,
  checksum as espChecksum,
  ESP_RAM_BLOCK,
  Op as EspOp,
  ROM_BAUD,
  ROM_FLASH_WRITE_SIZE,
  RomError as EspRomError,
  STUB_FLASH_WRITE_SIZE,
  StubError as EspStubError,
  SYNC_PAYLOAD,
} from './esp-rom/protocol.js';
export { PtyHost, PtyHostError, type PtyHostEvents, type PtyHostOptions } from './esp-rom/pty.js';
export { type ChipPins, pinsFor, type SerialSignals } from './esp-rom/reset-circuit.js';
export {
  type Rfc2217Options,
  type Rfc2217Server,
  type Rfc2217Stats,
  serveRfc2217,
} from './esp-rom/rfc2217.js';
export {
  type EspCommandOutcome,
  type EspRomEvents,
  type EspRomFaults,
  EspRomOptionsError,
  EspRomSimulator,
  type EspRomSimulatorOptions,
  type EspRomState,
  type EspRomStats,
  type ResetCause,
  type SerialDevice,
} from './esp-rom/simulator.js';
export { SlipDecoder, type SlipEvent, slipEncode } from './esp-rom/slip.js';
export {
  serveEspRomOverWebSocket,
  type WsBridge,
  type WsBridgeOptions,
  type WsBridgeStats,
  type WsControl,
  WsControlSchema,
} from './esp-rom/ws-bridge.js';
export { EventTimeoutError, type WaitForEventOptions, waitForEvent } from './events.js';
export {
  HA_ERROR,
  type HaErrorCode,
  type ServiceCallRecord,
  SIM_HA_VERSION,
  type SimChange,
  type SimEntitySpec,
  type SimRegistryEntry,
  type SimState,
  SimulatedHomeAssistant,
  type SimulatedHomeAssistantOptions,
} from './home-assistant/index.js';
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
export { type FailoverTransport, failoverTransport } from './picket/failover.js';
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
export type { OtaEvent } from './picket/ota.js';
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
