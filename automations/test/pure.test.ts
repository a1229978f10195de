// The parts without I/O: durations, the controllable clock, the sun, the rate of change.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { parseDuration } from '../src/duration.js';
import { slopePerMinute } from '../src/runtime/triggers/derivative.js';
import { cronNext, timeOfDayCron } from '../src/runtime/triggers/schedule.js';
import { nextSunEvent, sunElevation, sunTimes } from '../src/sun.js';

const minutesApart = (a: number | null, b: number) => Math.abs((a ?? Number.NaN) - b) / 60_000;

describe('durations', () => {
  it('reads numbers and unit strings, refuses the rest', () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(() => parseDuration('10 minutes')).toThrow(/malformed duration/);
    expect(() => parseDuration(-1)).toThrow();
  });
});

describe('ManualClock', () => {
  it('fires timers in time order as it advances, none going backwards', async () => {
    const clock = new ManualClock(1000);
    const fired: [string, number][] = [];
    clock.at(3000, () => fired.push(['b', clock.now()]));
    clock.at(2000, () => fired.push(['a', clock.now()]));
    const c = clock.at(2500, () => fired.push(['c', clock.now()]));
    c.cancel();
    await clock.set(500);
    expect(fired).toEqual([]);
    await clock.advance(3000);
    expect(fired).toEqual([
      ['a', 2000],
      ['b', 3000],
    ]);
    expect(clock.now()).toBe(3500);
  });
});

describe('sun (NOAA equations)', () => {
  const greenwich = { lat: 51.4769, lon: -0.0005 };
  it('culminates at 90° − latitude + declination', () => {
    // June solstice: declination ≈ +23.44°
    const noon = sunTimes(Date.UTC(2024, 5, 21), greenwich.lat, greenwich.lon).solarNoon;
    expect(sunElevation(noon, greenwich.lat, greenwich.lon)).toBeCloseTo(90 - 51.4769 + 23.44, 1);
    // March equinox at the equator and prime meridian: nearly overhead
    const eqNoon = sunTimes(Date.UTC(2024, 2, 20), 0, 0).solarNoon;
    expect(sunElevation(eqNoon, 0, 0)).toBeGreaterThan(89.5);
    // and well below the horizon at midnight
    expect(sunElevation(Date.UTC(2024, 5, 21, 0, 0), greenwich.lat, greenwich.lon)).toBeLessThan(-10);
  });

  it('gives sunrise and sunset within two minutes of the almanac', () => {
    // London, 21 June 2024: 04:43 and 21:21 BST
    const london = sunTimes(Date.UTC(2024, 5, 21, 12), greenwich.lat, greenwich.lon);
    expect(minutesApart(london.sunrise, Date.UTC(2024, 5, 21, 3, 43))).toBeLessThan(2);
    expect(minutesApart(london.sunset, Date.UTC(2024, 5, 21, 20, 21))).toBeLessThan(2);
    // New York, 21 December 2024: 07:16 and 16:32 EST (UTC−5); sunset falls on the next UTC day
    const rise = nextSunEvent('sunrise', Date.UTC(2024, 11, 21, 5), 40.7128, -74.006);
    const set = nextSunEvent('sunset', Date.UTC(2024, 11, 21, 5), 40.7128, -74.006);
    expect(minutesApart(rise, Date.UTC(2024, 11, 21, 12, 16))).toBeLessThan(2);
    expect(minutesApart(set, Date.UTC(2024, 11, 21, 21, 32))).toBeLessThan(2);
  });

  it('knows the polar night', () => {
    const tromso = sunTimes(Date.UTC(2024, 11, 21, 12), 69.65, 18.96);
    expect(tromso.sunrise).toBeNull();
    expect(tromso.sunset).toBeNull();
  });
});

describe('schedules', () => {
  it('turns a time of day into the next matching instant', () => {
    const next = cronNext(timeOfDayCron('07:30'), 'UTC');
    expect(next(Date.UTC(2025, 0, 1, 6))).toBe(Date.UTC(2025, 0, 1, 7, 30));
    expect(next(Date.UTC(2025, 0, 1, 7, 30))).toBe(Date.UTC(2025, 0, 2, 7, 30));
    expect(() => cronNext('not a cron')).toThrow();
  });
});

describe('rate of change', () => {
  it('is the least-squares slope per minute', () => {
    expect(slopePerMinute([[0, 10]])).toBeUndefined();
    expect(
      slopePerMinute([
        [0, 10],
        [60_000, 12],
        [120_000, 14],
      ]),
    ).toBeCloseTo(2);
  });
});
