// The simulated Home Assistant (its WebSocket API), for tests and demos.
export { HA_ERROR, type HaErrorCode, SIM_HA_VERSION } from './protocol.js';
export {
  type ServiceCallRecord,
  type SimChange,
  type SimDeviceEntry,
  type SimDeviceSpec,
  type SimEntitySpec,
  type SimRegistryEntry,
  SimulatedHomeAssistant,
  type SimulatedHomeAssistantOptions,
} from './server.js';
export type { SimState } from './state.js';
