// Messages between `bench web` and its live-feed client processes (web/clients.ts).
import type { HistogramSnapshot } from '../lib/histogram.js';

export type ClientsRequest =
  | {
      type: 'connect';
      /** ws: the gateway's live feed; nats: straight from the bus (the peer) */
      mode: 'ws' | 'nats';
      url: string;
      count: number;
      /** ws only: an API token, and the Origin a page of the gateway sends */
      token?: string;
      origin?: string;
    }
  /** latencies of updates sent between these times (epoch ms) are recorded */
  | { type: 'window'; fromMs: number; toMs: number }
  | { type: 'report' }
  | { type: 'close' };

export type ClientsReply =
  | { type: 'connected'; count: number }
  | { type: 'window-set' }
  | {
      type: 'report';
      histogram: HistogramSnapshot;
      /** updates received since the window was set, and those sent inside it */
      received: number;
      inWindow: number;
      /** frames that were not our updates */
      foreign: number;
    }
  | { type: 'closed' };
