// Sun position and sunrise/sunset from latitude and longitude, computed locally with
// the NOAA solar calculator equations (Meeus' low-precision series), so the sun
// triggers need no network service. Accurate to about a minute at mid latitudes.

const RAD = Math.PI / 180;
const DEG = 180 / Math.PI;
const DAY_MS = 86_400_000;
/** geometric zenith of sunrise/sunset: 90° plus refraction (34') and the sun's radius (16') */
const RISE_SET_ZENITH = 90.833;

interface SolarTerms {
  /** declination, degrees */
  declination: number;
  /** equation of time, minutes */
  equationOfTime: number;
}

/** Declination and equation of time at an instant (Julian centuries since J2000). */
function solarTerms(ms: number): SolarTerms {
  const julianDay = ms / DAY_MS + 2440587.5;
  const t = (julianDay - 2451545) / 36525;
  const meanLongitude = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360;
  const meanAnomaly = 357.52911 + t * (35999.05029 - 0.0001537 * t);
  const eccentricity = 0.016708634 - t * (0.000042037 + 0.0000001267 * t);
  const m = meanAnomaly * RAD;
  const center =
    Math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t)) +
    Math.sin(2 * m) * (0.019993 - 0.000101 * t) +
    Math.sin(3 * m) * 0.000289;
  const omega = (125.04 - 1934.136 * t) * RAD;
  const apparentLongitude = (meanLongitude + center - 0.00569 - 0.00478 * Math.sin(omega)) * RAD;
  const meanObliquity = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60;
  const obliquity = (meanObliquity + 0.00256 * Math.cos(omega)) * RAD;
  const declination = Math.asin(Math.sin(obliquity) * Math.sin(apparentLongitude)) * DEG;
  const y = Math.tan(obliquity / 2) ** 2;
  const l0 = meanLongitude * RAD;
  const equationOfTime =
    4 *
    DEG *
    (y * Math.sin(2 * l0) -
      2 * eccentricity * Math.sin(m) +
      4 * eccentricity * y * Math.sin(m) * Math.cos(2 * l0) -
      0.5 * y * y * Math.sin(4 * l0) -
      1.25 * eccentricity * eccentricity * Math.sin(2 * m));
  return { declination, equationOfTime };
}

/** Atmospheric refraction in degrees for a geometric elevation (NOAA's piecewise fit). */
function refraction(elevation: number): number {
  if (elevation > 85) return 0;
  const tan = Math.tan(elevation * RAD);
  let arcSeconds: number;
  if (elevation > 5) arcSeconds = 58.1 / tan - 0.07 / tan ** 3 + 0.000086 / tan ** 5;
  else if (elevation > -0.575)
    arcSeconds = 1735 + elevation * (-518.2 + elevation * (103.4 + elevation * (-12.79 + elevation * 0.711)));
  else arcSeconds = -20.772 / tan;
  return arcSeconds / 3600;
}

/** The sun's apparent elevation above the horizon in degrees (refraction included). */
export function sunElevation(ms: number, latitude: number, longitude: number): number {
  const { declination, equationOfTime } = solarTerms(ms);
  const minutesOfDay = (((ms % DAY_MS) + DAY_MS) % DAY_MS) / 60_000;
  const trueSolarMinutes = (((minutesOfDay + equationOfTime + 4 * longitude) % 1440) + 1440) % 1440;
  const hourAngle = (trueSolarMinutes / 4 - 180) * RAD;
  const lat = latitude * RAD;
  const dec = declination * RAD;
  const cosZenith = Math.sin(lat) * Math.sin(dec) + Math.cos(lat) * Math.cos(dec) * Math.cos(hourAngle);
  const elevation = 90 - Math.acos(Math.min(1, Math.max(-1, cosZenith))) * DEG;
  return elevation + refraction(elevation);
}

export interface SunTimes {
  /** ms since the epoch, or null when the sun does not rise (polar night) or set (polar day) that day */
  sunrise: number | null;
  sunset: number | null;
  solarNoon: number;
}

/** Minutes from UTC midnight of the event, refined once at the event's own instant. */
function eventMinutes(dayStart: number, latitude: number, longitude: number, sign: -1 | 0 | 1) {
  let minutes = 720 - 4 * longitude;
  for (let pass = 0; pass < 2; pass++) {
    const { declination, equationOfTime } = solarTerms(dayStart + minutes * 60_000);
    const noon = 720 - 4 * longitude - equationOfTime;
    if (sign === 0) return noon;
    const lat = latitude * RAD;
    const dec = declination * RAD;
    const cosHourAngle =
      Math.cos(RISE_SET_ZENITH * RAD) / (Math.cos(lat) * Math.cos(dec)) - Math.tan(lat) * Math.tan(dec);
    if (cosHourAngle > 1 || cosHourAngle < -1) return null;
    minutes = noon + sign * 4 * Math.acos(cosHourAngle) * DEG;
  }
  return minutes;
}

/** Sunrise, solar noon and sunset of the UTC day that contains `ms`. */
export function sunTimes(ms: number, latitude: number, longitude: number): SunTimes {
  const dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
  const at = (m: number | null) => (m === null ? null : Math.round(dayStart + m * 60_000));
  return {
    sunrise: at(eventMinutes(dayStart, latitude, longitude, -1)),
    sunset: at(eventMinutes(dayStart, latitude, longitude, 1)),
    solarNoon: at(eventMinutes(dayStart, latitude, longitude, 0))!,
  };
}

/** The first sunrise or sunset strictly after `after`, looking up to a year ahead (polar nights end). */
export function nextSunEvent(
  event: 'sunrise' | 'sunset',
  after: number,
  latitude: number,
  longitude: number,
): number | null {
  // the UTC day of a local event can be the day before or after: start one day early
  for (let day = -1; day <= 366; day++) {
    const t = sunTimes(after + day * DAY_MS, latitude, longitude)[event];
    if (t !== null && t > after) return t;
  }
  return null;
}
