// The root of the typed errors the format libraries throw. Each format narrows `reason`
// to its own string union, so callers branch on `error.reason`, never on message text.

export abstract class FirmwareFormatError extends Error {
  abstract readonly format: 'image' | 'partitions' | 'nvs' | 'manifest' | 'provisioning';
  abstract readonly reason: string;
}
