// What @sentinel/gateway/store gives `sentinel ota`: the request logic and the record's
// shape, without the engine (the CLI must start quickly).
export {
  askRollout,
  loadRollout,
  RolloutRequestPending,
  rolloutSummary,
  stageLabel,
} from './client.js';
export { type Answer, ROLLOUT_KEY, type Rollout, type RolloutRequest } from './schema.js';
