// A BLE proxy's health from its last status (protocol/src/ble-proxy.ts ProxyStatus). Pure.

import { duration } from './format.js';

export interface ProxyStatus {
  proxy: string;
  version?: string;
  ts?: number;
  interval_ms?: number;
  adapter?: string;
  scanning?: string;
  gatt?: { used: number; total: number };
  buffer?: { depth: number; capacity: number };
  dropped?: { buffer: number };
  advertisements?: number;
  restarts?: number;
  rss_bytes?: number;
  uptime_s?: number;
}

/** One proxy as GET /api/ble/proxies says it: its last status (nested or flat) and its age. */
export function normalizeProxy(
  item: Record<string, unknown>,
  now: number,
): { status: ProxyStatus; ageMs: number } {
  const status = (
    typeof item.status === 'object' && item.status !== null ? item.status : item
  ) as ProxyStatus;
  const proxy =
    status.proxy ??
    (typeof item.proxy === 'string' ? item.proxy : typeof item.id === 'string' ? item.id : '?');
  const age =
    typeof item.age_ms === 'number'
      ? item.age_ms
      : typeof item.age === 'number'
        ? item.age
        : status.ts
          ? now - status.ts
          : 0;
  return { status: { ...status, proxy }, ageMs: age };
}

export function health(status: ProxyStatus, ageMs: number): { tone: 'ok' | 'warn' | 'bad'; text: string } {
  const interval = status.interval_ms ?? 10_000;
  if (ageMs > 2 * interval) return { tone: 'bad', text: `Not heard for ${duration(ageMs / 1000)}` };
  if (status.adapter && status.adapter !== 'poweredOn')
    return { tone: 'bad', text: `Bluetooth ${status.adapter}` };
  if (status.scanning && status.scanning !== 'active')
    return { tone: 'warn', text: `Scanning ${status.scanning}` };
  if (status.buffer && status.buffer.depth > status.buffer.capacity * 0.8)
    return { tone: 'warn', text: 'Buffer nearly full' };
  return { tone: 'ok', text: 'Healthy' };
}
