import { describe, expect, it } from 'vitest';
import { FileOffset, GuestRegionMmap, MmapRegion, u32, u64 } from '../src/index.js';
import { expectGuestError } from './helpers/expect-error.js';
import { tempFile } from './helpers/temp-file.js';

describe('GuestRegionMmap', () => {
  it('addresses: startAddr, lastAddr, checks and conversions', () => {
    const r = new GuestRegionMmap(MmapRegion.create(0x400), 0x1000);
    expect(r.startAddr).toBe(0x1000);
    expect(r.len).toBe(0x400);
    expect(r.lastAddr()).toBe(0x13ff);
    expect(r.checkAddress(0x3ff)).toBe(0x3ff);
    expect(r.checkAddress(0x400)).toBeUndefined();
    expect(r.addressInRange(0)).toBe(true);
    expect(r.addressInRange(0x400)).toBe(false);
    expect(r.checkedOffset(0x200, 0x1ff)).toBe(0x3ff);
    expect(r.checkedOffset(0x200, 0x200)).toBeUndefined();
    expect(r.checkedOffset(Number.MAX_SAFE_INTEGER, 1)).toBeUndefined();
    expect(r.toRegionAddr(0x1010)).toBe(0x10);
    expect(r.toRegionAddr(0xfff)).toBeUndefined();
    expect(r.toRegionAddr(0x1400)).toBeUndefined();
    expect(r.fileOffset).toBeUndefined();
  });

  it('InvalidGuestRegion when the end passes 2^53', () => {
    const m = MmapRegion.create(0x1000);
    expectGuestError(() => new GuestRegionMmap(m, 2 ** 53 - 0x800), 'InvalidGuestRegion');
    expect(new GuestRegionMmap(m, 2 ** 53 - 0x1000).lastAddr()).toBe(2 ** 53 - 1);
  });

  it('region-level bounds errors are InvalidBackendAddress', () => {
    const r = new GuestRegionMmap(MmapRegion.create(0x1000), 0);
    expectGuestError(() => r.getSlice(0xff0, 0x20), 'InvalidBackendAddress');
    expectGuestError(() => r.load(u32, 0x1000), 'InvalidBackendAddress');
    expectGuestError(() => r.write(new Uint8Array(1), 0x1000), 'InvalidBackendAddress');
    expectGuestError(() => r.readObj(u64, 0xffc), 'PartialBuffer', { expected: 8, completed: 4 });
    expectGuestError(() => r.load(u32, 2), 'Misaligned', { addr: 2, alignment: 4 });
    expect(r.asVolatileSlice().len).toBe(0x1000);
  });

  it('exposes its mapping and file', () => {
    const fo = new FileOffset(tempFile(0x1000).fd, 0);
    const m = MmapRegion.fromFile(fo, 0x1000);
    const r = new GuestRegionMmap(m, 0);
    expect(r.mapping).toBe(m);
    expect(r.fileOffset).toBe(fo);
  });
});
