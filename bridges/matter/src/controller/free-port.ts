import { createSocket } from 'node:dgram';

/**
 * A UDP port that is free on 127.0.0.1 right now. matter.js advertises the port it was
 * configured with, so a simulated device needs a concrete one rather than port 0.
 */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
