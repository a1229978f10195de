// What each simulated chip looks like from the serial port: the values flashers
// read to detect and describe it (esptool's "Chip Type Detection" section and the
// per-target register maps esptool and esptool-js read), its RAM map for stub
// uploads, and its boot banners.

export type EspChip = 'esp32' | 'esp32s3' | 'esp32c3' | 'esp32p4';
export const ESP_CHIPS: readonly EspChip[] = ['esp32', 'esp32s3', 'esp32c3', 'esp32p4'];

/** The word esptool reads at CHIP_DETECT_MAGIC_REG_ADDR to tell chips apart. */
export const CHIP_DETECT_MAGIC_REG_ADDR = 0x40001000;

export interface SpiRegisters {
  base: number;
  usr: number;
  usr1: number;
  usr2: number;
  w0: number;
  mosiDlen?: number;
  misoDlen?: number;
}

export interface ChipProfile {
  chip: EspChip;
  name: string;
  magic: number;
  /** GET_SECURITY_INFO chip id; undefined where the ROM lacks the command (ESP32) */
  securityChipId: number | undefined;
  /** the ROM sends 4 status bytes (status, error, 2 reserved); the stub always 2 */
  romStatusLength: 2 | 4;
  /** the ROM's FLASH_BEGIN/FLASH_DEFL_BEGIN take a fifth "encrypted" word */
  romBeginHasEncryptWord: boolean;
  /** UART0 clock divider register; the ROM clocks UART0 from the 40 MHz crystal */
  uartClkDivReg: number;
  spi: SpiRegisters;
  /** where the MAC lives: word address of the low 32 bits, the high 16 bits in the next word */
  macWordAddress: number;
  /** fixed eFuse/SoC register values (chip revision, package…), everything else reads 0 */
  fixedRegisters: ReadonlyArray<readonly [number, number]>;
  /** RAM a MEM_BEGIN may load into */
  ram: ReadonlyArray<readonly [number, number]>;
  /** flash offset of the second-stage bootloader (the image the ROM boots) */
  bootloaderOffset: number;
  romBanner: { header: string; downloadBoot: string; flashBoot: string };
}

const SPI_C3_STYLE = { usr: 0x18, usr1: 0x1c, usr2: 0x20, mosiDlen: 0x24, misoDlen: 0x28, w0: 0x58 };

export const CHIP_PROFILES: Record<EspChip, ChipProfile> = {
  esp32: {
    chip: 'esp32',
    name: 'ESP32',
    magic: 0x00f01d83,
    securityChipId: undefined,
    romStatusLength: 4,
    romBeginHasEncryptWord: false,
    uartClkDivReg: 0x3ff40014,
    spi: { base: 0x3ff42000, usr: 0x1c, usr1: 0x20, usr2: 0x24, mosiDlen: 0x28, misoDlen: 0x2c, w0: 0x80 },
    // EFUSE_BLK0_RDATA1/2 at 0x3ff5a004/8 hold the MAC
    macWordAddress: 0x3ff5a004,
    fixedRegisters: [
      // EFUSE_BLK0_RDATA3: package D0WD (bits 9-11 = 1), rev bit 0 (bit 15)
      [0x3ff5a00c, (1 << 9) | (1 << 15)],
      // EFUSE_BLK0_RDATA4: ADC vref calibrated
      [0x3ff5a010, 0x0c << 8],
      // EFUSE_BLK0_RDATA5: rev bit 1 (bit 20)
      [0x3ff5a014, 1 << 20],
      // APB_CTRL_DATE: rev bit 2 (bit 31) → chip revision 3
      [0x3ff6607c, 0x80000000 | 0x16042000],
    ],
    ram: [
      [0x3ffae000, 0x40000000],
      [0x40070000, 0x400c0000],
    ],
    bootloaderOffset: 0x1000,
    romBanner: {
      header: 'ets Jul 29 2019 12:21:46\r\n\r\n',
      downloadBoot: '0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))',
      flashBoot: '0x13 (SPI_FAST_FLASH_BOOT)',
    },
  },
  esp32s3: {
    chip: 'esp32s3',
    name: 'ESP32-S3',
    magic: 0x00000009,
    securityChipId: 9,
    romStatusLength: 4,
    romBeginHasEncryptWord: true,
    uartClkDivReg: 0x60000014,
    spi: { base: 0x60002000, ...SPI_C3_STYLE },
    macWordAddress: 0x60007044,
    fixedRegisters: [],
    ram: [
      [0x3fc88000, 0x3fd00000],
      [0x40370000, 0x403e0000],
    ],
    bootloaderOffset: 0x0,
    romBanner: {
      header: 'ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n',
      downloadBoot: '0x0 (DOWNLOAD(USB/UART0))',
      flashBoot: '0x8 (SPI_FAST_FLASH_BOOT)',
    },
  },
  esp32c3: {
    chip: 'esp32c3',
    name: 'ESP32-C3',
    magic: 0x1b31506f,
    securityChipId: 5,
    romStatusLength: 4,
    romBeginHasEncryptWord: true,
    uartClkDivReg: 0x60000014,
    spi: { base: 0x60002000, ...SPI_C3_STYLE },
    macWordAddress: 0x60008844,
    fixedRegisters: [],
    ram: [
      [0x3fc80000, 0x3fce0000],
      [0x4037c000, 0x403e0000],
    ],
    bootloaderOffset: 0x0,
    romBanner: {
      header: 'ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n',
      downloadBoot: '0x5 (DOWNLOAD(USB/UART0/1))',
      flashBoot: '0xc (SPI_FAST_FLASH_BOOT)',
    },
  },
  esp32p4: {
    chip: 'esp32p4',
    name: 'ESP32-P4',
    magic: 0x0addbad0,
    securityChipId: 18,
    romStatusLength: 4,
    romBeginHasEncryptWord: true,
    uartClkDivReg: 0x500ca014,
    spi: { base: 0x5008d000, ...SPI_C3_STYLE },
    macWordAddress: 0x5012d044,
    fixedRegisters: [],
    ram: [[0x4ff00000, 0x4ffc0000]],
    bootloaderOffset: 0x2000,
    romBanner: {
      header: 'ESP-ROM:esp32p4-eco2-20240710\r\nBuild:Jul 10 2024\r\n',
      downloadBoot: '0x20f (DOWNLOAD(USB/UART0/SPI))',
      flashBoot: '0x30f (SPI_FAST_FLASH_BOOT)',
    },
  },
};

/** A locally administered default MAC per chip, so two simulated chips differ. */
export function defaultMac(chip: EspChip): Uint8Array {
  const index = ESP_CHIPS.indexOf(chip);
  return Uint8Array.from([0x24, 0x0a, 0xc4, 0x5e, 0x00, 0x10 + index]);
}
