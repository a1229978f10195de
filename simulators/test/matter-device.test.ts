// The simulated Matter devices on their own (pairing is tested in bridges/matter): every
// type starts with setup codes that carry its passcode and discriminator, and the changes
// a test makes on a device are in its state.
import { ManualPairingCodeCodec, QrPairingCodeCodec } from '@matter/main/types';
import { describe, expect, it } from 'vitest';
import { SIMULATED_MATTER_DEVICE_TYPES, startSimulatedMatterDevice } from '../src/matter/index.js';

describe('simulated Matter devices', () => {
  it.each(SIMULATED_MATTER_DEVICE_TYPES)('%s: codes carry its passcode and discriminator', async (type) => {
    const device = await startSimulatedMatterDevice({ type, passcode: 20202021, discriminator: 2049 });
    try {
      expect(device.host).toBe('127.0.0.1');
      expect(device.port).toBeGreaterThan(0);
      const manual = ManualPairingCodeCodec.decode(device.manualPairingCode);
      expect(manual.passcode).toBe(20202021);
      // a manual code holds the top 4 bits of the discriminator
      expect(manual.shortDiscriminator).toBe(2049 >> 8);
      const [qr] = QrPairingCodeCodec.decode(device.qrPairingCode);
      expect(qr).toMatchObject({ passcode: 20202021, discriminator: 2049 });
      expect(await device.fabricCount()).toBe(0);
    } finally {
      await device.stop();
    }
  });

  it('a dimmable light takes on/off and a level; a contact sensor its contact', async () => {
    const [light, sensor] = await Promise.all([
      startSimulatedMatterDevice({ type: 'dimmable-light' }),
      startSimulatedMatterDevice({ type: 'contact-sensor', discriminator: 7 }),
    ]);
    try {
      await light.setOn(true);
      await light.setLevel(128);
      expect(await light.isOn()).toBe(true);
      expect(await light.level()).toBe(128);
      await sensor.setContact(true);
      expect(await sensor.contact()).toBe(true);
      await sensor.setContact(false);
      expect(await sensor.contact()).toBe(false);
    } finally {
      await light.stop();
      await sensor.stop();
    }
  });
});
