// The two checks an automation gets before it is trusted (docs/automations.md): types
// from the registry (tsc fails on a missing entity or a wrong value) and replay against
// recorded history (what it would have done, and when). Re-exported by the package root.
export * from '../replay/index.js';
export * from './generate.js';
export * from './registry.js';
