// The flasher core: esptool-js over one Web-Serial-shaped port (pure: no Node or DOM imports).
export { FlasherError, PortError } from './errors.js';
export {
  type ConnectOptions,
  chipFamily,
  FlasherSession,
  type FlashRun,
  flash,
  ROM_BAUD,
  type WriteOptions,
} from './flasher.js';
export { AppReset, CommandStatusError, SentinelLoader } from './loader.js';
export { MemoryPort, type SerialDeviceLike } from './memory-port.js';
export { type ByteLink, type FlasherPort, LinkPort, type LinkSink, type SerialSignals } from './port.js';
export {
  type DetectedChip,
  describeState,
  type FlashErrorCode,
  type FlashPart,
  type FlashState,
  type FlashStateListener,
  percent,
} from './state.js';
