// Values, units and times as a person reads them. Pure.

import type { Entity, Value } from './types.js';

const ON_OFF: Record<string, [string, string]> = {
  door: ['Open', 'Closed'],
  window: ['Open', 'Closed'],
  opening: ['Open', 'Closed'],
  garage_door: ['Open', 'Closed'],
  motion: ['Motion', 'Clear'],
  occupancy: ['Occupied', 'Clear'],
  presence: ['Home', 'Away'],
  moisture: ['Wet', 'Dry'],
  smoke: ['Smoke', 'Clear'],
  gas: ['Gas', 'Clear'],
  lock: ['Unlocked', 'Locked'],
  battery: ['Low', 'Normal'],
  problem: ['Problem', 'OK'],
  connectivity: ['Connected', 'Disconnected'],
  plug: ['Plugged in', 'Unplugged'],
  power: ['On', 'Off'],
};

/** A number with as many decimals as it deserves: 21.5, 1013, 0.032. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 || Number.isInteger(n) ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en', { maximumFractionDigits: digits });
}

export function withUnit(text: string, unit: string | undefined): string {
  if (!unit) return text;
  return unit === '%' ? `${text}%` : `${text} ${unit}`;
}

/** The text of a value that is known (null is the caller's "unknown"). */
export function formatValue(
  entity: Pick<Entity, 'platform' | 'device_class' | 'unit'>,
  value: Value,
): string {
  if (value === null) return 'unknown';
  if (typeof value === 'boolean') {
    const [on, off] =
      ON_OFF[entity.device_class ?? ''] ?? (entity.platform === 'lock' ? ON_OFF.lock! : ['On', 'Off']);
    return value ? on : off;
  }
  if (typeof value === 'number') return withUnit(formatNumber(value), entity.unit);
  return value;
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", "4 days ago". */
export function ago(ts: number, now: number): string {
  const s = Math.round((now - ts) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** 90 → "1 min 30 s", 7200 → "2 h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} days`;
}

export function dateTime(ts: number): string {
  return new Date(ts).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Inside its device's card, "Kitchen Temperature" reads as "Temperature". */
export function shortName(entityName: string, deviceName: string | undefined): string {
  if (deviceName && entityName.length > deviceName.length && entityName.startsWith(`${deviceName} `))
    return entityName.slice(deviceName.length + 1);
  return entityName;
}

/** A received signal strength in words as well as dBm. */
export function signal(rssi: number): string {
  const words = rssi >= -60 ? 'strong' : rssi >= -75 ? 'good' : rssi >= -85 ? 'weak' : 'very weak';
  return `${rssi} dBm (${words})`;
}
