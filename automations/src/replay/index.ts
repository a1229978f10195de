// Replay: an automation over recorded readings on a simulated clock (nothing is sent).
export * from './format.js';
export { type ReplayEntity, type ReplayOptions, type ReplayResult, replayAutomation } from './replay.js';
