// @sentinel/automations: the SDK automations import, and the runtime that runs them.
export * from './clock.js';
export { SANDBOX_DEFAULTS, type SandboxOptions } from './runtime/isolation/sandbox.js';
export * from './runtime/runtime.js';
export {
  connectRuntimeBus,
  openBucket,
  RuntimeBusError,
  startAutomationService,
} from './runtime/service.js';
export { openAutomationBucket, type TriggerStateFence } from './runtime/store.js';
export type { Trace, TraceResult } from './runtime/trace.js';
export { readStoredTraces, STORED_TRACES, tracesKey } from './runtime/trace-store.js';
export * from './sdk/index.js';
export { nextSunEvent, sunElevation, sunTimes } from './sun.js';
export * from './types/index.js';
