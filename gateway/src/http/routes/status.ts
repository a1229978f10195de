// Who this node is and what it sees (GET /status and GET /api/status, one body), and
// Prometheus metrics (GET /metrics: any principal, or anyone with --metrics-public).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { withoutPassword } from '../../bus/connect.js';
import type { RouteDeps } from '../options.js';

const StatusSchema = z.looseObject({
  node_id: z.string(),
  nats_url: z.string(),
  mqtt_port: z.number().int().optional().describe('where devices reach this node over MQTT'),
  mqtt_tls_port: z.number().int().optional().describe('the same over TLS, when the gateway speaks it'),
  devices: z.number().int(),
  devices_online: z.number().int(),
  entities: z.number().int(),
  leaders: z.record(z.string(), z.unknown()).optional(),
  leading: z.array(z.string()).optional(),
  nodes: z.array(z.unknown()).optional(),
});

export const statusRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const mqttPorts = () => {
    let ports: ReturnType<NonNullable<typeof o.mqttPorts>> = {};
    try {
      ports = o.mqttPorts?.() ?? {};
    } catch {
      // not listening yet
    }
    return {
      ...(ports.mqtt === undefined ? {} : { mqtt_port: ports.mqtt }),
      ...(ports.mqtt_tls === undefined ? {} : { mqtt_tls_port: ports.mqtt_tls }),
    };
  };
  const status = async () => {
    const devices = o.registry.devices();
    return {
      node_id: o.nodeId,
      nats_url: withoutPassword(o.natsUrl),
      ...mqttPorts(),
      devices: devices.length,
      // devices whose connection this node holds (as before the HTTP layer moved to Fastify)
      devices_online: devices.filter((d) => o.availability.isOnline(d.id)).length,
      entities: o.registry.entities().length,
      ...(o.cluster ? await o.cluster.status() : {}),
    };
  };
  const schema = {
    summary: 'this node, the leaders of single-writer subsystems, the live nodes, counts',
    response: { 200: StatusSchema },
  };
  app.get('/api/status', { schema, config: { role: 'viewer' } }, status);
  app.get('/status', { schema: { ...schema, hide: true }, config: { role: 'viewer' } }, status);

  app.get(
    '/metrics',
    {
      schema: { summary: 'Prometheus metrics (text exposition format)' },
      config: { role: o.metricsPublic ? 'public' : 'viewer' },
    },
    async (_request, reply) => {
      const text = await o.metrics.registry.metrics();
      return reply.type(o.metrics.registry.contentType).send(text);
    },
  );
};
