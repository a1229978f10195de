// The ESP serial bootloader protocol: opcodes, status/error codes and sizes, as
// documented in esptool's "Serial Protocol" page (advanced-topics/serial-protocol)
// and used by esptool and esptool-js. Names follow that page.

/** Command identifiers ("Commands" tables of the serial protocol page). */
export const Op = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  /** ROM only: up to 64 bytes per command, answered in a 64-byte buffer */
  READ_FLASH_SLOW: 0x0e,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  // "Supported by Stub Loader Only"
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;
export type OpName = keyof typeof Op;

const OP_NAMES = new Map<number, OpName>(
  (Object.entries(Op) as [OpName, number][]).map(([name, value]) => [value, name]),
);
/** The protocol name of an opcode, or its hex form when it has none. */
export function opName(op: number): string {
  return OP_NAMES.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}

/** "ROM Loader Errors": the second status byte when the first is 1. */
export const RomError = {
  INVALID_MESSAGE: 0x05,
  FAILED_TO_ACT: 0x06,
  INVALID_CRC: 0x07,
  FLASH_WRITE_ERROR: 0x08,
  FLASH_READ_ERROR: 0x09,
  FLASH_READ_LENGTH_ERROR: 0x0a,
  DEFLATE_ERROR: 0x0b,
} as const;

/**
 * "Stub Loader Status & Error": the flasher stub sends the error code itself as
 * the first status byte (0xC0…, 0xFF for an unimplemented command) and 0 after it.
 */
export const StubError = {
  BAD_DATA_LEN: 0xc0,
  BAD_DATA_CHECKSUM: 0xc1,
  BAD_BLOCKSIZE: 0xc2,
  INVALID_COMMAND: 0xc3,
  FAILED_SPI_OP: 0xc4,
  FAILED_SPI_UNLOCK: 0xc5,
  NOT_IN_FLASH_MODE: 0xc6,
  INFLATE_ERROR: 0xc7,
  NOT_ENOUGH_DATA: 0xc8,
  TOO_MUCH_DATA: 0xc9,
  CMD_NOT_IMPLEMENTED: 0xff,
} as const;

/** "Checksum": XOR of the data-to-write bytes, seeded with 0xEF. */
export const CHECKSUM_SEED = 0xef;
export function checksum(data: Uint8Array, seed = CHECKSUM_SEED): number {
  let state = seed;
  for (const byte of data) state ^= byte;
  return state;
}

/** SYNC payload: 0x07 0x07 0x12 0x20 followed by 32 × 0x55. */
export const SYNC_PAYLOAD: Uint8Array = Uint8Array.from([
  0x07,
  0x07,
  0x12,
  0x20,
  ...new Array(32).fill(0x55),
]);

/** Block sizes the flashers use: RAM download 0x1800, flash 0x400 with the ROM, 0x4000 with the stub. */
export const ESP_RAM_BLOCK = 0x1800;
export const ROM_FLASH_WRITE_SIZE = 0x400;
export const STUB_FLASH_WRITE_SIZE = 0x4000;
export const FLASH_SECTOR_SIZE = 0x1000;
/** the stub's read buffer: READ_FLASH packets larger than one sector are refused */
export const STUB_MAX_READ_BLOCK = FLASH_SECTOR_SIZE;
/** Every chip's ROM loader starts at this rate. */
export const ROM_BAUD = 115200;

/** A request packet ("Command Packet"): direction 0x00, op, size, checksum, data. */
export interface Request {
  op: number;
  checksum: number;
  data: Uint8Array;
}

/** Parses one de-SLIPped request; null when the header is not a request header. */
export function parseRequest(packet: Uint8Array): Request | { malformed: string } {
  if (packet.length < 8) return { malformed: `packet of ${packet.length} bytes is shorter than a header` };
  if (packet[0] !== 0x00) return { malformed: `direction byte 0x${packet[0]!.toString(16)} is not 0x00` };
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const size = view.getUint16(2, true);
  const data = packet.subarray(8);
  if (data.length !== size) {
    return { malformed: `size field says ${size} bytes, packet carries ${data.length}` };
  }
  return { op: packet[1]!, checksum: view.getUint32(4, true), data };
}

/** Builds a response packet ("Response Packet"): direction 0x01, op, size, value, data. */
export function encodeResponse(op: number, value: number, data: Uint8Array): Uint8Array {
  const packet = new Uint8Array(8 + data.length);
  const view = new DataView(packet.buffer);
  packet[0] = 0x01;
  packet[1] = op;
  view.setUint16(2, data.length, true);
  view.setUint32(4, value >>> 0, true);
  packet.set(data, 8);
  return packet;
}

/** Little-endian 32-bit words of a payload (only whole words). */
export function words(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) out.push(view.getUint32(i, true));
  return out;
}

export function u32le(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint32(i * 4, v >>> 0, true);
  });
  return out;
}
