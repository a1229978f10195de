// A port the gateway needs is taken: say which, what probably holds it, and the option
// that moves it, in one line (the CLI prints it and exits 1). The ports are tried before
// anything starts, so a busy port costs no nats-server start and leaves no log behind.
import { createServer } from 'node:net';
import { GATEWAY_OPTIONS } from './config.js';

export type ListenerOption = 'mqttPort' | 'httpPort' | 'mqttTlsPort' | 'natsPort';

const LISTENERS: Record<ListenerOption, { what: string; likely: string }> = {
  mqttPort: { what: 'MQTT', likely: "another broker? Debian's mosquitto starts one at install" },
  mqttTlsPort: { what: 'MQTT over TLS', likely: "another broker? Debian's mosquitto may listen there" },
  httpPort: { what: 'HTTP', likely: 'another web server, or a gateway already running?' },
  natsPort: {
    what: 'The embedded nats-server',
    likely: "another nats-server? Debian's nats-server starts one at install; --nats <url> uses it instead",
  },
};

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly option: ListenerOption,
    readonly port: number,
    readonly host: string,
    options?: ErrorOptions,
  ) {
    const { what, likely } = LISTENERS[option];
    const { flag, env } = GATEWAY_OPTIONS[option];
    const name = flag.split(' ')[0];
    const which = option === 'natsPort' ? `${what}'s port ${port}` : `${what} port ${port}`;
    super(`${which} is in use (${likely}): stop it or choose another with ${name} / ${env}`, options);
  }
}

/** Whether an error is the system's "address already in use". */
export const isAddressInUse = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';

/**
 * Throws PortInUseError when `port` cannot be bound on `host`; 0 (any free port) always
 * can. Other failures (a host that is not this machine's) are left to the real listen.
 */
export async function ensurePortFree(option: ListenerOption, port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  const error = await new Promise<unknown>((resolve) => {
    probe.once('error', resolve);
    probe.listen({ port, host, exclusive: true }, () => resolve(undefined));
  });
  if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  if (isAddressInUse(error)) throw new PortInUseError(option, port, host, { cause: error });
}
