// The register space READ_REG/WRITE_REG reach ("32-Bit Read/Write" section):
// chip-detect magic, eFuses (MAC, revision), the UART clock divider, and the
// SPI flash controller, which executes a user command (RDID 0x9F, RDSR 0x05…)
// when SPI_CMD_USR is set — that is how flashers read the flash id.
import { CHIP_DETECT_MAGIC_REG_ADDR, type ChipProfile } from './chips.js';
import type { FlashMemory } from './flash.js';

const SPI_CMD_USR = 1 << 18;
const SPI_USR_MISO = 1 << 28;
const SPIFLASH_RDID = 0x9f;
const SPIFLASH_RDSR = 0x05;
const SPIFLASH_RDSR2 = 0x35;
const SPIFLASH_RDSR3 = 0x15;
const XTAL_HZ = 40_000_000;

export class RegisterFile {
  private readonly values = new Map<number, number>();
  /** the current UART baud; the clock divider register follows it */
  baud = 115200;

  constructor(
    private readonly profile: ChipProfile,
    private readonly flash: FlashMemory,
    mac: Uint8Array,
  ) {
    for (const [address, value] of profile.fixedRegisters) this.values.set(address, value >>> 0);
    this.values.set(
      profile.macWordAddress,
      ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0,
    );
    this.values.set(profile.macWordAddress + 4, (mac[0]! << 8) | mac[1]!);
  }

  read(address: number): number {
    if (address === CHIP_DETECT_MAGIC_REG_ADDR) return this.profile.magic >>> 0;
    if (address === this.profile.uartClkDivReg) return Math.round(XTAL_HZ / this.baud) & 0xfffff;
    return this.values.get(address >>> 0) ?? 0;
  }

  /** WRITE_REG semantics: only the bits in `mask` change. */
  write(address: number, value: number, mask = 0xffffffff): void {
    const old = this.read(address);
    const next = ((old & ~mask) | (value & mask)) >>> 0;
    this.values.set(address >>> 0, next);
    if (address === this.profile.spi.base && next & SPI_CMD_USR) this.runSpiUserCommand();
  }

  /** Executes the SPI user command configured in USR/USR2 and clears SPI_CMD_USR ("done"). */
  private runSpiUserCommand(): void {
    const { base, usr, usr2, w0 } = this.profile.spi;
    const usrFlags = this.values.get(base + usr) ?? 0;
    const command = (this.values.get(base + usr2) ?? 0) & 0xff;
    if (usrFlags & SPI_USR_MISO) {
      switch (command) {
        case SPIFLASH_RDID:
          this.values.set(base + w0, this.flash.jedecId());
          break;
        case SPIFLASH_RDSR:
        case SPIFLASH_RDSR2:
        case SPIFLASH_RDSR3:
          this.values.set(base + w0, 0);
          break;
        default:
          break;
      }
    }
    this.values.set(base, (this.values.get(base) ?? 0) & ~SPI_CMD_USR);
  }
}
