// The simulated noble bindings driven by unmodified noble (@stoprocent/noble's own
// Noble class): what noble's users see must match what the HCI bindings give them.
import { createRequire } from 'node:module';
import type { Noble, Peripheral } from '@stoprocent/noble';
import { afterEach, describe, expect, it } from 'vitest';
import { BleAir } from '../src/ble/air.js';
import { SimulatedNobleBindings } from '../src/ble/bindings.js';
import { bthomeV2 } from '../src/ble/bthome.js';
import { encodeBthome } from '../src/ble/encoders/index.js';
import { SimulatedPeripheral } from '../src/ble/peripheral.js';
import { SimulatedBleSensor } from '../src/ble/sensor.js';

const NobleClass = createRequire(import.meta.url)('@stoprocent/noble/lib/noble.js') as new (
  b: unknown,
) => Noble;

let air: BleAir | undefined;
let noble: Noble | undefined;
afterEach(() => {
  air?.stop();
  noble?.stop();
});

function setUp() {
  const peripheral = new SimulatedPeripheral([
    {
      uuid: '180F',
      characteristics: [
        { uuid: '2A19', properties: ['read', 'notify'], value: Uint8Array.of(64) },
        { uuid: 'ff01', properties: ['write'], value: Uint8Array.of() },
      ],
    },
  ]);
  const near = new SimulatedBleSensor({
    mac: 'A4:C1:38:00:00:01',
    advertiseEveryMs: 20,
    measureEveryMs: 1000,
    rssi: { p1: -48, p2: -90 },
    advertisement: (m) =>
      bthomeV2('A4:C1:38:00:00:01', { packetId: m & 0xff, temperature: 21.5 }, { name: 'Kitchen' }),
    peripheral,
  });
  const far = new SimulatedBleSensor({
    mac: 'A4:C1:38:00:00:02',
    advertiseEveryMs: 20,
    rssi: { p2: -70 }, // p1 cannot hear it
    advertisement: () => encodeBthome({ mac: 'A4:C1:38:00:00:02', measurements: { humidity: 50 } }),
  });
  air = new BleAir([near, far]);
  const bindings = new SimulatedNobleBindings(air, { listenerId: 'p1', resetMs: 20 });
  noble = new NobleClass(bindings);
  air.start();
  return { noble, bindings, peripheral };
}

const discovered = (n: Noble, count: number) =>
  new Promise<Peripheral[]>((resolve) => {
    const seen: Peripheral[] = [];
    const on = (p: Peripheral) => {
      seen.push(p);
      if (seen.length >= count) {
        n.off('discover', on);
        resolve(seen);
      }
    };
    n.on('discover', on);
  });

describe('simulated noble bindings', () => {
  it('powers on and reports advertisements with duplicates, as HCI does, only for sensors in range', async () => {
    const { noble } = setUp();
    await noble.waitForPoweredOnAsync(5000);
    await noble.startScanningAsync([], true);
    const seen = await discovered(noble, 10);
    expect(new Set(seen.map((p) => p.address))).toEqual(new Set(['a4:c1:38:00:00:01']));
    const p = seen[0]!;
    expect(p.rssi).toBe(-48);
    expect(p.addressType).toBe('public');
    expect(p.advertisement.localName).toBe('Kitchen');
    expect(p.advertisement.serviceData[0]!.uuid).toBe('fcd2');
    expect([...p.advertisement.serviceData[0]!.data]).toEqual([
      0x40,
      0x00,
      p.advertisement.serviceData[0]!.data[2],
      0x02,
      0x66,
      0x08,
    ]);
  });

  it('serves GATT: discover, read, write and notifications through noble’s own API', async () => {
    const { noble, peripheral } = setUp();
    await noble.waitForPoweredOnAsync(5000);
    await noble.startScanningAsync([], true);
    const [p] = await discovered(noble, 1);
    await noble.stopScanningAsync();
    await p!.connectAsync();
    const { characteristics } = await p!.discoverAllServicesAndCharacteristicsAsync();
    expect(characteristics.map((c) => [c.uuid, c.properties])).toEqual([
      ['2a19', ['read', 'notify']],
      ['ff01', ['write']],
    ]);
    const battery = characteristics[0]!;
    expect([...(await battery.readAsync())]).toEqual([64]);
    const written = new Promise((resolve) => peripheral.once('write', (_s, _c, data) => resolve([...data])));
    await characteristics[1]!.writeAsync(Buffer.from([7, 8]), false);
    expect(await written).toEqual([7, 8]);
    await battery.subscribeAsync();
    const note = new Promise<number[]>((resolve) =>
      battery.once('data', (data: Buffer) => resolve([...data])),
    );
    peripheral.update('180f', '2a19', Uint8Array.of(63));
    expect(await note).toEqual([63]);
    // writing where the firmware does not allow it fails like a GATT error
    await expect(battery.writeAsync(Buffer.from([1]), false)).rejects.toThrow('not writable');
    await p!.disconnectAsync();
    expect(p!.state).toBe('disconnected');
  });

  it('fails on demand: a power cycle drops connections, a pulled dongle stays off, scans and connects can fail', async () => {
    const { noble, bindings } = setUp();
    await noble.waitForPoweredOnAsync(5000);
    await noble.startScanningAsync([], true);
    const [p] = await discovered(noble, 1);
    await p!.connectAsync();
    const states: string[] = [];
    noble.on('stateChange', (s: string) => states.push(s));
    const dropped = new Promise((resolve) => p!.once('disconnect', resolve));
    bindings.powerCycle();
    await dropped;
    await noble.waitForPoweredOnAsync(5000);
    expect(states).toEqual(['resetting', 'poweredOn']);
    bindings.unplug();
    expect(noble.state).toBe('poweredOff');
    bindings.failScanStarts(1);
    bindings.plugIn();
    await noble.waitForPoweredOnAsync(5000);
    await expect(noble.startScanningAsync([], true)).rejects.toThrow('simulated adapter error');
    await noble.startScanningAsync([], true);
    const [again] = await discovered(noble, 1);
    bindings.failConnects(1);
    await expect(again!.connectAsync()).rejects.toThrow('simulated connection failure');
  });
});
