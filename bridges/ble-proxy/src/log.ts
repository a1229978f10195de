// The proxy logs JSON lines (pino) to stderr, like the gateway.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createProxyLogger(level = 'info'): Logger {
  return pino({ name: 'sentinel-ble-proxy', level }, pino.destination({ dest: 2, sync: false }));
}
