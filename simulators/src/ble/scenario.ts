// A BLE scenario file: sensors, where each is heard (RSSI per proxy id) and how
// often it advertises. `sentinel ble-proxy --simulate <file>` and
// `sentinel simulate ble <file>` run the real proxy code on it.
import { z } from 'zod';
import { BleAir } from './air.js';
import { encodeBthome } from './encoders/index.js';
import { SimulatedPeripheral } from './peripheral.js';
import { SimulatedBleSensor } from './sensor.js';

const Mac = z.string().regex(/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/, 'must be AA:BB:CC:DD:EE:FF');

export const BleScenarioSchema = z.object({
  /** proxies `sentinel simulate ble` runs (ids; each hears what its rssi entries say) */
  proxies: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)).default([]),
  sensors: z
    .array(
      z.object({
        mac: Mac,
        name: z.string().max(29).optional(),
        /** BTHome v2: temperature drifts ±0.5 around `temperature` (0.01 per measurement), humidity and battery fixed */
        format: z.literal('bthome').default('bthome'),
        temperature: z.number().default(21),
        humidity: z.number().min(0).max(100).default(45),
        battery: z.number().int().min(0).max(100).default(90),
        bindkey: z
          .string()
          .regex(/^[0-9a-fA-F]{32}$/)
          .optional(),
        advertise_ms: z.number().int().min(10).max(60_000).default(1000),
        measure_ms: z.number().int().min(10).max(3_600_000).default(10_000),
        /** dBm per proxy id; a proxy not listed does not hear the sensor */
        rssi: z.record(z.string(), z.number().int().min(-127).max(20)),
        /** a GATT battery service (180f/2a19 read+notify, ff01 read+write) */
        gatt: z.boolean().default(false),
      }),
    )
    .max(10_000),
});
export type BleScenario = z.output<typeof BleScenarioSchema>;

/** The air of a scenario (not started). */
export function scenarioAir(scenario: BleScenario): BleAir {
  return new BleAir(
    scenario.sensors.map((s) => {
      const key = s.bindkey ? Buffer.from(s.bindkey, 'hex') : undefined;
      return new SimulatedBleSensor({
        mac: s.mac,
        advertiseEveryMs: s.advertise_ms,
        measureEveryMs: s.measure_ms,
        rssi: s.rssi,
        // the BTHome encoder (encoders/), so the bytes are what a real BTHome sensor sends
        advertisement: (m) =>
          encodeBthome({
            mac: s.mac,
            ...(s.name ? { name: s.name } : {}),
            packetId: m & 0xff,
            measurements: {
              // a slow saw-tooth of ±0.5 °C: every measurement in a 100-slot cycle differs
              temperature: Math.round((s.temperature + ((m % 100) - 50) / 100) * 100) / 100,
              humidity: s.humidity,
              battery: s.battery,
            },
            ...(key ? { bindkey: key, counter: m >>> 0 } : {}),
          }),
        ...(s.gatt
          ? {
              peripheral: new SimulatedPeripheral([
                {
                  uuid: '180f',
                  characteristics: [
                    { uuid: '2a19', properties: ['read', 'notify'], value: Uint8Array.of(s.battery) },
                    { uuid: 'ff01', properties: ['read', 'write'], value: Uint8Array.of(0) },
                  ],
                },
              ]),
            }
          : {}),
      });
    }),
  );
}
