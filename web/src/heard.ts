// Sensors the BLE proxies hear that are not devices yet (GET /api/ble/heard), as a
// person reads them, and the bindkey a person types for an encrypted one. Pure.

export interface HeardSensor {
  mac: string;
  device_id: string;
  name?: string;
  format?: string;
  model?: string;
  manufacturer?: string;
  encrypted: boolean;
  has_key: boolean;
  key_works?: boolean;
  measurements: string[];
  rssi: number;
  proxy: string;
  proxies: { proxy: string; rssi: number; age_ms: number }[];
  age_ms: number;
}

/** Why a typed bindkey cannot be right, or undefined (the gateway checks that it opens the data). */
export function bindkeyProblem(text: string): string | undefined {
  const clean = text.trim();
  if (clean === '') return 'Enter the bindkey: 32 hex digits (0–9, a–f).';
  if (/[^0-9a-fA-F]/.test(clean)) return 'A bindkey has only the digits 0–9 and the letters a–f.';
  if (clean.length !== 32 && clean.length !== 24)
    return `A bindkey is 32 hex digits; this has ${clean.length}.`;
  return undefined;
}

/** "temperature, humidity, battery" — or why nothing is known yet */
export function measurementList(sensor: Pick<HeardSensor, 'measurements' | 'encrypted'>): string {
  if (sensor.measurements.length > 0) return sensor.measurements.map((m) => m.replace(/_/g, ' ')).join(', ');
  return sensor.encrypted ? 'unknown until its bindkey opens its data' : 'nothing yet';
}

/** "−58 dBm, strong, via kitchen (also hall)" */
export function signalText(sensor: Pick<HeardSensor, 'rssi' | 'proxy' | 'proxies'>): string {
  const strength = sensor.rssi >= -65 ? 'strong' : sensor.rssi >= -80 ? 'fair' : 'weak';
  const others = sensor.proxies.filter((p) => p.proxy !== sensor.proxy).map((p) => p.proxy);
  return `${sensor.rssi} dBm, ${strength}, via ${sensor.proxy}${others.length ? ` (also ${others.join(', ')})` : ''}`;
}
