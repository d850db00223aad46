// Regions larger than 4 GiB: typed-array views are limited to 2^32 elements on Node 20, so the
// mapping is viewed in chunks; none of that may show through the API.
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap, MmapRegion, u8, u32, u64, f64, be64 } from '../src/index.js';
import { expectGuestError } from './helpers/expect-error.js';

const GiB = 2 ** 30;
const SIZE = 16 * GiB;
const BASE = 0x1_0000_0000; // guest address of the big region

describe('a 16 GiB MAP_NORESERVE region', () => {
  const mem = GuestMemoryMmap.fromRanges([
    [0, 0x10000],
    [BASE, SIZE],
  ]);

  it('writes and reads its last byte', () => {
    const last = BASE + SIZE - 1;
    expect(mem.lastAddr()).toBe(last);
    mem.writeObj(u8, 0xa5, last);
    expect(mem.readObj(u8, last)).toBe(0xa5);
    expect(mem.load(u8, last)).toBe(0xa5);
    expectGuestError(() => mem.readObj(u8, last + 1), 'InvalidGuestAddress');
    expectGuestError(() => mem.readObj(u64, last - 3), 'PartialBuffer', { expected: 8, completed: 4 });
  });

  it('an 8-byte access across every internal 4 GiB boundary', () => {
    for (let k = 1; k < SIZE / (4 * GiB); k++) {
      const boundary = BASE + k * 4 * GiB;
      for (const delta of [-7, -4, -1]) {
        const addr = boundary + delta;
        const v = 0x0102030405060708n + BigInt(k * 16 - delta);
        mem.writeObj(u64, v, addr);
        expect(mem.readObj(u64, addr), `u64 at ${addr.toString(16)}`).toBe(v);
        mem.writeObj(be64, v, addr);
        expect(mem.readObj(be64, addr)).toBe(v);
        const bytes = new Uint8Array(8);
        mem.readSlice(bytes, addr);
        expect(bytes[0]).toBe(Number((v >> 56n) & 0xffn)); // be64: most significant first
      }
      // aligned atomics right below and above the boundary
      mem.store(u64, 0xdeadn + BigInt(k), boundary - 8);
      mem.store(u64, 0xbeefn + BigInt(k), boundary);
      expect(mem.load(u64, boundary - 8)).toBe(0xdeadn + BigInt(k));
      expect(mem.load(u64, boundary)).toBe(0xbeefn + BigInt(k));
      expect(mem.fetchAdd(u32, boundary + 8, 3)).toBe(0);
      expect(mem.readObj(u32, boundary + 8)).toBe(3);
      mem.writeObj(f64, 2.5, boundary + 16);
      expect(mem.readObj(f64, boundary + 16)).toBe(2.5);
    }
  });

  it('the fast paths work up to the last word of the first 4 GiB chunk', () => {
    const end0 = BASE + 4 * GiB;
    mem.store(u32, 0x11223344, end0 - 4);
    expect(mem.load(u32, end0 - 4)).toBe(0x11223344);
    expect(mem.readObj(u32, end0 - 4)).toBe(0x11223344);
    expect(mem.readUnordered(u32, end0 - 4)).toBe(0x11223344);
    mem.writeUnordered(u32, 0x55667788, end0 - 8);
    expect(mem.readObj(u32, end0 - 8)).toBe(0x55667788);
    mem.writeObj(u32, 9, end0 + 4); // and just past it, in chunk 1
    expect(mem.readUnordered(u32, end0 + 4)).toBe(9);
    expect(mem.load(u32, end0 + 4)).toBe(9);
  });

  it('bulk copies and slices across a 4 GiB boundary', () => {
    const at = BASE + 4 * GiB - 100;
    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    mem.writeSlice(data, at);
    const out = new Uint8Array(300);
    mem.readSlice(out, at);
    expect(out).toEqual(data);
    const s = mem.getSlice(at, 300);
    expect(s.readObj(u8, 150)).toBe(150);
    const [, right] = s.splitAt(100);
    expect(right.readObj(u32, 0)).toBe(new DataView(data.buffer).getUint32(100, true));
    const region = mem.findRegion(BASE)!;
    const mapping: MmapRegion = region.mapping;
    expect(mapping.size).toBe(SIZE);
    expect(mapping.getSlice(SIZE - 8, 8).readObj(u64, 0) >= 0n).toBe(true);
  });

  it('fd I/O beyond 4 GiB', () => {
    const zero = openSync('/dev/zero', 'r');
    try {
      const at = BASE + 12 * GiB - 16;
      mem.writeSlice(new Uint8Array(32).fill(7), at);
      mem.readExactFrom(at, zero, 32);
      expect(mem.readObj(u64, at + 8)).toBe(0n);
    } finally {
      closeSync(zero);
    }
  });
});
