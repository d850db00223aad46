import { checkIndex, MAX_SAFE, typeError } from './internal/args.js';
import { hex, invalidGuestRegion } from './internal/errs.js';
import { ByteWindow, LEVEL_REGION, spanOf } from './internal/byte-window.js';
import type { FileOffset } from './file-offset.js';
import { hostOf, MmapRegion } from './mmap-region.js';
import { VolatileSlice } from './volatile-slice.js';

/**
 * GuestRegionMmap: an MmapRegion placed at a guest physical address. Implements
 * `Bytes<number>` with region-relative offsets; a bounds failure is InvalidBackendAddress (as
 * vm-memory converts slice errors at this level), Misaligned and AccessDenied name the offset.
 *
 * @example
 * const ram = new GuestRegionMmap(MmapRegion.create(0x10000), 0x100000);
 * ram.toRegionAddr(0x100010); // 0x10
 * ram.writeObj(u32, 7, 0x10);
 */
export class GuestRegionMmap extends ByteWindow {
  readonly #mapping: MmapRegion;

  /**
   * Places `mapping` at `guestBase`. Throws InvalidGuestRegion if guestBase + len > 2^53
   * (the region would not be addressable with safe integers).
   */
  constructor(mapping: MmapRegion, guestBase: number) {
    if (!(mapping instanceof MmapRegion)) throw typeError('mapping', 'an MmapRegion', mapping);
    checkIndex('guestBase', guestBase);
    if (guestBase + mapping.size > MAX_SAFE + 1) {
      throw invalidGuestRegion(`region at ${hex(guestBase)} of ${hex(mapping.size)} bytes ends past 2^53`);
    }
    super(hostOf(mapping), 0, mapping.size, LEVEL_REGION, guestBase);
    this.#mapping = mapping;
  }

  /** The guest physical address of the region's first byte. */
  get startAddr(): number {
    return spanOf(this).startAddr;
  }

  /** The mapping behind the region. */
  get mapping(): MmapRegion {
    return this.#mapping;
  }

  /** The file backing the region, if any. */
  get fileOffset(): FileOffset | undefined {
    return this.mapping.fileOffset;
  }

  /** The guest address of the last byte (startAddr + len - 1). */
  lastAddr(): number {
    return this.startAddr + this.len - 1;
  }

  /** `offset` if it is inside the region, else undefined. */
  checkAddress(offset: number): number | undefined {
    checkIndex('offset', offset);
    return offset < this.len ? offset : undefined;
  }

  /** Whether `offset` is inside the region. */
  addressInRange(offset: number): boolean {
    return this.checkAddress(offset) !== undefined;
  }

  /** `base + offset` if that is inside the region, else undefined. */
  checkedOffset(base: number, offset: number): number | undefined {
    checkIndex('base', base);
    checkIndex('offset', offset);
    const sum = base + offset;
    return sum <= MAX_SAFE ? this.checkAddress(sum) : undefined;
  }

  /** The region offset of guest address `addr`, or undefined if it is not in this region. */
  toRegionAddr(addr: number): number | undefined {
    checkIndex('addr', addr);
    return addr >= this.startAddr && addr - this.startAddr < this.len ? addr - this.startAddr : undefined;
  }

  /** The slice [offset, offset + count) of the region. Throws InvalidBackendAddress. */
  getSlice(offset: number, count: number): VolatileSlice {
    checkIndex('offset', offset);
    checkIndex('count', count);
    this.checkRange(offset, count);
    return new VolatileSlice(spanOf(this).hm, offset, count);
  }

  /** The whole region as a slice. */
  asVolatileSlice(): VolatileSlice {
    return new VolatileSlice(spanOf(this).hm, 0, this.len);
  }
}
