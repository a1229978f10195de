// The messages a client sends to Home Assistant's WebSocket API
// (developers.home-assistant.io/docs/api/websocket), parsed with zod because the
// simulator must answer a malformed message the way Home Assistant does (an
// `invalid_format` result) instead of throwing.
import { z } from 'zod';

/** Home Assistant's version as the simulator announces it: recent enough for subscribe_entities (2022.4) and coalescing (2022.9). */
export const SIM_HA_VERSION = '2025.1.0';

/** Error codes of `result` messages (homeassistant/components/websocket_api/const.py). */
export const HA_ERROR = {
  idReuse: 'id_reuse',
  invalidFormat: 'invalid_format',
  notFound: 'not_found',
  unknownCommand: 'unknown_command',
  homeAssistantError: 'home_assistant_error',
  serviceValidationError: 'service_validation_error',
} as const;
export type HaErrorCode = (typeof HA_ERROR)[keyof typeof HA_ERROR];

/** Auth phase: the only message a client may send before auth_ok. */
export const AuthMessageSchema = z.object({ type: z.literal('auth'), access_token: z.string() });

/** Command phase: every message has an increasing integer id and a type. */
export const CommandBaseSchema = z.looseObject({ id: z.number().int().positive(), type: z.string().min(1) });

const entityIds = z.union([z.string(), z.array(z.string())]);

export const CallServiceSchema = z.looseObject({
  domain: z.string().min(1),
  service: z.string().min(1),
  service_data: z.record(z.string(), z.unknown()).optional(),
  target: z
    .looseObject({
      entity_id: entityIds.optional(),
      device_id: entityIds.optional(),
      area_id: entityIds.optional(),
    })
    .optional(),
  return_response: z.boolean().optional(),
});
export type CallService = z.infer<typeof CallServiceSchema>;

export const SubscribeEventsSchema = z.looseObject({ event_type: z.string().min(1).optional() });
export const SubscribeEntitiesSchema = z.looseObject({ entity_ids: z.array(z.string()).optional() });
export const UnsubscribeEventsSchema = z.looseObject({ subscription: z.number().int() });
export const SupportedFeaturesSchema = z.looseObject({
  features: z.record(z.string(), z.number()).optional(),
});
