// Matter cluster ↔ entity mappings: tables (mappings.ts) and the engine that reads them.
export {
  attributeKey,
  type MatterEndpoint,
  type MatterReading,
  matterEndpoints,
  numberOf,
  parseAttributeKey,
} from './endpoints.js';
export {
  isStructurePath,
  type MatterDeviceInfo,
  type MatterEntity,
  matterDeviceInfo,
  matterEntities,
  matterEntityCommand,
  matterEntityValue,
} from './entities.js';
export {
  ATTRIBUTE as MATTER_ATTRIBUTE,
  CLUSTER as MATTER_CLUSTER,
  DEVICE_TYPE as MATTER_DEVICE_TYPE,
} from './ids.js';
export {
  kelvinToMireds,
  levelToPercent,
  MATTER_ENTITY_MAPPINGS,
  type MatterAction,
  type MatterCommandPlan,
  type MatterCommandRequest,
  type MatterEntityKind,
  type MatterEntityMapping,
  type MatterPlatform,
  miredsToKelvin,
  percentToLevel,
  THERMOSTAT_MODES,
} from './mappings.js';
