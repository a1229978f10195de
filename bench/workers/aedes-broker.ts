// The bare-broker peer: aedes with its defaults (in-memory persistence, no
// authentication) on 127.0.0.1, in a process of its own so that its CPU and
// RSS are its own. Prints the same kind of ready line as the gateway.
//
// One setting differs from a bare `net.createServer(broker.handle)`: TCP_NODELAY.
// Without it, QoS 0 deliveries to a subscriber that never answers wait for
// Nagle + delayed ACK (~40 ms p99 here), which measures the kernel rather than
// aedes; the gateway's own delivery hop (nats-server, Go) has NODELAY by default.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer({ noDelay: true }, broker.handle);

await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => resolve());
});
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('aedes: no TCP address');
process.stdout.write(`${JSON.stringify({ event: 'ready', mqtt_port: address.port, pid: process.pid })}\n`);

const stop = () => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
