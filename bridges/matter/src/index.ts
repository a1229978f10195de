// @sentinel/matter: a matter.js controller behind the matter server's WebSocket API, and
// simulated Matter devices for tests and demos.
export { parseMatterJson, stringifyMatterJson } from '@sentinel/protocol';
export {
  CommandArgs,
  MIN_SUPPORTED_SCHEMA_VERSION,
  SCHEMA_VERSION,
  type ServerInfo,
} from './api/messages.js';
export {
  type MatterWebSocketServer,
  startMatterWebSocketServer,
  type WebSocketServerOptions,
} from './api/server.js';
export {
  type ControllerOptions,
  decodeSetupCode,
  type KnownAddress,
  MatterController,
  type MatterNodeData,
} from './controller/controller.js';
export {
  CorruptRecordError,
  MATTER_BUCKET,
  type NatsStorage,
  type NatsStorageStats,
  natsStorage,
} from './controller/nats-storage.js';
export { directoryStorage, memoryStorage, type NodeStorage } from './controller/storage.js';
export { ErrorCode, MatterServerError } from './errors.js';
export { type MatterServer, type MatterServerOptions, startMatterServer } from './matter-server.js';
export {
  LOCKS_BUCKET,
  type MatterBus,
  MatterBusError,
  type MatterBusOptions,
  openMatterBus,
} from './nats.js';
