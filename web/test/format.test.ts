import { describe, expect, it } from 'vitest';
import { ago, duration, formatNumber, formatValue, shortName, signal, withUnit } from '../src/format.js';

describe('formatting', () => {
  it('gives numbers the decimals they deserve', () => {
    expect(formatNumber(21.456)).toBe('21.5');
    expect(formatNumber(1013.25)).toBe('1,013');
    expect(formatNumber(3.45678)).toBe('3.46');
    expect(formatNumber(0.03214)).toBe('0.032');
    expect(formatNumber(-7)).toBe('-7');
  });

  it('puts units after values', () => {
    expect(withUnit('21.5', '°C')).toBe('21.5 °C');
    expect(withUnit('40', '%')).toBe('40%');
    expect(formatValue({ platform: 'sensor', unit: '°C' }, 21.5)).toBe('21.5 °C');
  });

  it('says on and off in the words of the device class', () => {
    expect(formatValue({ platform: 'switch' }, true)).toBe('On');
    expect(formatValue({ platform: 'switch' }, false)).toBe('Off');
    expect(formatValue({ platform: 'binary_sensor', device_class: 'door' }, true)).toBe('Open');
    expect(formatValue({ platform: 'binary_sensor', device_class: 'motion' }, false)).toBe('Clear');
    expect(formatValue({ platform: 'switch' }, null)).toBe('unknown');
    expect(formatValue({ platform: 'text' }, 'hello')).toBe('hello');
  });

  it('tells times the way people do', () => {
    expect(ago(1000, 2000)).toBe('just now');
    expect(ago(0, 30_000)).toBe('30 s ago');
    expect(ago(0, 5 * 60_000)).toBe('5 min ago');
    expect(ago(0, 3 * 3_600_000)).toBe('3 h ago');
    expect(ago(0, 4 * 86_400_000)).toBe('4 days ago');
    expect(duration(90)).toBe('1 min 30 s');
    expect(duration(7200)).toBe('2 h');
  });

  it('drops the device name from an entity name inside its card', () => {
    expect(shortName('Kitchen Temperature', 'Kitchen')).toBe('Temperature');
    expect(shortName('Kitchen', 'Kitchen')).toBe('Kitchen');
    expect(shortName('Hall light', 'Kitchen')).toBe('Hall light');
  });

  it('describes signal strength in words too', () => {
    expect(signal(-55)).toBe('-55 dBm (strong)');
    expect(signal(-90)).toBe('-90 dBm (very weak)');
  });
});
