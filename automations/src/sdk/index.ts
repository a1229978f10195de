// The automation SDK: what an automation module imports.

export { type Duration, parseDuration } from '../duration.js';
export * from './define.js';
export * from './notify.js';
export * from './triggers.js';
