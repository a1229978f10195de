// Simulated Matter devices (matter.js on the device side). The implementation is imported
// on first use: matter.js takes seconds to load, and most users of @sentinel/simulators
// never start a Matter device.
export const SIMULATED_MATTER_DEVICE_TYPES = [
  'on-off-light',
  'on-off-plug',
  'dimmable-light',
  'contact-sensor',
  'temperature-sensor',
] as const;
export type SimulatedMatterDeviceType = (typeof SIMULATED_MATTER_DEVICE_TYPES)[number];

export interface SimulatedMatterDeviceOptions {
  readonly type: SimulatedMatterDeviceType;
  /** the setup passcode; 20202021 (the SDK's test passcode) when omitted */
  readonly passcode?: number;
  /** 0…4095; 3840 when omitted */
  readonly discriminator?: number;
  /** its Matter UDP port; a free one when omitted */
  readonly port?: number;
  /**
   * true (default): listen on 127.0.0.1/::1 and advertise nothing (controllers need the
   * address). false: listen on every interface and advertise by mDNS.
   */
  readonly loopbackOnly?: boolean;
  /** Basic Information names (at most 32 characters) */
  readonly name?: string;
  readonly logLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error';
}

export interface SimulatedMatterDevice {
  readonly type: SimulatedMatterDeviceType;
  /** 127.0.0.1 on loopback; undefined when listening everywhere */
  readonly host: string | undefined;
  readonly port: number;
  readonly passcode: number;
  readonly discriminator: number;
  readonly manualPairingCode: string;
  readonly qrPairingCode: string;
  /** the application endpoint's number (the light or sensor) */
  readonly endpoint: number;
  isOn(): Promise<boolean>;
  /** a change made on the device itself (a wall switch), reported to subscribers */
  setOn(on: boolean): Promise<void>;
  setContact(closed: boolean): Promise<void>;
  /** contact sensor: BooleanState StateValue (true: contact, i.e. closed) */
  contact(): Promise<boolean | null>;
  /** dimmable light: CurrentLevel 1…254, set on the device */
  setLevel(level: number): Promise<void>;
  level(): Promise<number | null>;
  /** resolves once the device accepts commissioning (again, after leaving its last fabric) */
  whenCommissionable(): Promise<void>;
  /** how many fabrics the device currently belongs to */
  fabricCount(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSimulatedMatterDevice(
  options: SimulatedMatterDeviceOptions,
): Promise<SimulatedMatterDevice> {
  const { startDevice } = await import('./device.js');
  return startDevice(options);
}
