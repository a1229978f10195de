// The whole bridge in one call: the controller and its WebSocket API, stopped together.
// What `sentinel matter-server [--port 5580] [--storage <dir>]` is meant to run.
import { type MatterWebSocketServer, startMatterWebSocketServer } from './api/server.js';
import { type ControllerOptions, MatterController } from './controller/controller.js';

export interface MatterServerOptions extends ControllerOptions {
  /** the API's address; 127.0.0.1 unless told otherwise */
  readonly host?: string;
  /** the API's TCP port; 5580 as the matter server, 0 for a free one */
  readonly apiPort?: number;
}

export interface MatterServer extends MatterWebSocketServer {
  readonly controller: MatterController;
}

export async function startMatterServer(options: MatterServerOptions): Promise<MatterServer> {
  const controller = await MatterController.start(options);
  let api: MatterWebSocketServer;
  try {
    api = await startMatterWebSocketServer({ controller, host: options.host, port: options.apiPort ?? 5580 });
  } catch (error) {
    await controller.close();
    throw error;
  }
  return {
    controller,
    url: api.url,
    port: api.port,
    async close() {
      // the API first, so no client sees a half-closed controller
      await api.close();
      await controller.close();
    },
  };
}
