// @sentinel/automations: the SDK automations import, and the runtime that runs them.
export * from './clock.js';
export * from './runtime/runtime.js';
export type { Trace, TraceResult } from './runtime/trace.js';
export * from './sdk/index.js';
export { nextSunEvent, sunElevation, sunTimes } from './sun.js';
