import { closeSync, openSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FileOffset,
  GuestMemoryMmap,
  GuestRegionMmap,
  MmapRegion,
  constants,
  i8,
  i16,
  i32,
  u8,
  u16,
  u32,
  u64,
  struct,
  type VolatileSlice,
} from '../src/index.js';
import { expectGuestError } from './helpers/expect-error.js';
import { tempFile } from './helpers/temp-file.js';

type Range = [number, number];

// vm-memory runs each guest-memory test on anonymous and on file-backed regions.
const variants: [string, (ranges: Range[]) => GuestMemoryMmap][] = [
  ['anonymous', (ranges) => GuestMemoryMmap.fromRanges(ranges)],
  [
    'file-backed',
    (ranges) =>
      GuestMemoryMmap.fromRangesWithFiles(
        ranges.map(([start, size]) => [start, size, new FileOffset(tempFile(size).fd, 0)] as const),
      ),
  ],
];

describe.each(variants)('GuestMemoryMmap (%s)', (_name, make) => {
  it('construction errors: none, overlap, unsorted', () => {
    expectGuestError(() => make([]), 'NoMemoryRegion');
    expectGuestError(
      () =>
        make([
          [0, 100],
          [99, 100],
        ]),
      'MemoryRegionOverlap',
    );
    expectGuestError(
      () =>
        make([
          [100, 100],
          [0, 100],
        ]),
      'UnsortedMemoryRegions',
    );
    expectGuestError(
      () =>
        make([
          [0, 100],
          [0, 200],
        ]),
      'MemoryRegionOverlap',
    );
  });

  it('address queries over regions at 0x0 and 0x800 of 0x400 each', () => {
    const mem = make([
      [0x0, 0x400],
      [0x800, 0x400],
    ]);
    expect(mem.numRegions).toBe(2);
    expect(mem.lastAddr()).toBe(0xbff);
    expect(mem.addressInRange(0x200)).toBe(true);
    expect(mem.addressInRange(0x600)).toBe(false);
    expect(mem.addressInRange(0xa00)).toBe(true);
    expect(mem.addressInRange(0xc00)).toBe(false);
    expect(mem.checkAddress(0x200)).toBe(0x200);
    expect(mem.checkAddress(0x600)).toBeUndefined();
    expect(mem.checkAddress(0xa00)).toBe(0xa00);
    expect(mem.checkAddress(0xc00)).toBeUndefined();
    expect(mem.findRegion(0x3ff)?.startAddr).toBe(0);
    expect(mem.findRegion(0x400)).toBeUndefined();
    expect(mem.findRegion(0x800)?.startAddr).toBe(0x800);
    const [region, off] = mem.toRegionAddr(0xa10)!;
    expect(region.startAddr).toBe(0x800);
    expect(off).toBe(0x210);
    expect(mem.toRegionAddr(0x500)).toBeUndefined();
    expect([...mem].map((r) => r.startAddr)).toEqual([0, 0x800]);
    expect([...mem.iter()].map((r) => r.len)).toEqual([0x400, 0x400]);
  });

  it('checkedOffset and checkRange over three regions', () => {
    const mem = make([
      [0, 0x400],
      [0x400, 0x400],
      [0x1000, 0x400],
    ]);
    expect(mem.checkedOffset(0, 0x200)).toBe(0x200);
    expect(mem.checkedOffset(0, 0xa00)).toBeUndefined();
    expect(mem.checkedOffset(0x400, 0x3ff)).toBe(0x7ff);
    expect(mem.checkedOffset(0x200, 0x600)).toBeUndefined(); // 0x800 is in the hole
    expect(mem.checkedOffset(0x800, 0x900)).toBe(0x1100); // only the end point is checked
    expect(mem.checkedOffset(Number.MAX_SAFE_INTEGER, 1)).toBeUndefined();
    expect(mem.checkRange(0, 0x800)).toBe(true); // across two adjacent regions
    expect(mem.checkRange(0x200, 0x500)).toBe(true);
    expect(mem.checkRange(0x200, 0x700)).toBe(false); // into the hole
    expect(mem.checkRange(0x1000, 0x400)).toBe(true);
    expect(mem.checkRange(0x1000, 0x401)).toBe(false);
    expect(mem.checkRange(0x900, 0x10)).toBe(false);
  });

  it('cross-boundary read/write at 0xffc over two adjacent 0x1000 regions', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
    ]);
    const value = 0x0123456789abcdefn;
    mem.writeObj(u64, value, 0xffc);
    expect(mem.readObj(u64, 0xffc)).toBe(value);
    // the halves landed in the two regions
    expect(mem.readObj(u32, 0xffc)).toBe(Number(value & 0xffffffffn));
    expect(mem.readObj(u32, 0x1000)).toBe(Number(value >> 32n));
    const buf = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mem.write(buf, 0xffc)).toBe(8);
    const out = new Uint8Array(8);
    expect(mem.read(out, 0xffc)).toBe(8);
    expect([...out]).toEqual([...buf]);
  });

  it('PartialBuffer {8, 4} for a u64 at 0x1ffc; InvalidGuestAddress at 0x2001', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
    ]);
    expectGuestError(() => mem.readObj(u64, 0x1ffc), 'PartialBuffer', { expected: 8, completed: 4 });
    expectGuestError(() => mem.writeObj(u64, 1n, 0x1ffc), 'PartialBuffer', { expected: 8, completed: 4 });
    expectGuestError(() => mem.readObj(u64, 0x2001), 'InvalidGuestAddress', { addr: 0x2001 });
    expectGuestError(() => mem.writeObj(u64, 1n, 0x2001), 'InvalidGuestAddress', { addr: 0x2001 });
    expect(mem.write(new Uint8Array(8), 0x1ffc)).toBe(4);
    expectGuestError(() => mem.writeSlice(new Uint8Array(8), 0x1ffc), 'PartialBuffer', { expected: 8, completed: 4 });
  });

  it('insert and remove regions, immutably', () => {
    const mem = make([
      [0, 0x1000],
      [0x10000, 0x1000],
    ]);
    const extra = new GuestRegionMmap(MmapRegion.create(0x1000), 0x8000);
    const bigger = mem.insertRegion(extra);
    expect(bigger.numRegions).toBe(3);
    expect(mem.numRegions).toBe(2);
    expect([...bigger].map((r) => r.startAddr)).toEqual([0, 0x8000, 0x10000]);
    bigger.writeObj(u32, 0xabcd, 0x8004);
    expect(extra.readObj(u32, 4)).toBe(0xabcd);
    expectGuestError(
      () => bigger.insertRegion(new GuestRegionMmap(MmapRegion.create(0x1000), 0x8800)),
      'MemoryRegionOverlap',
    );
    expectGuestError(
      () => bigger.insertRegion(new GuestRegionMmap(MmapRegion.create(0x1000), 0x8000)),
      'MemoryRegionOverlap',
    );
    const [smaller, removed] = bigger.removeRegion(0x8000, 0x1000);
    expect(removed).toBe(extra);
    expect(smaller.numRegions).toBe(2);
    expect(bigger.numRegions).toBe(3);
    expectGuestError(() => smaller.readObj(u32, 0x8004), 'InvalidGuestAddress');
    expectGuestError(() => bigger.removeRegion(0x8000, 0x800), 'InvalidGuestRegion');
    expectGuestError(() => bigger.removeRegion(0x8001, 0x1000), 'InvalidGuestRegion');
    const empty = new GuestMemoryMmap();
    expect(empty.numRegions).toBe(0);
    expect(empty.lastAddr()).toBe(0);
    expectGuestError(() => empty.readObj(u8, 0), 'InvalidGuestAddress');
    expect(empty.insertRegion(extra).numRegions).toBe(1);
  });

  it('fromRegions checks the order as given', () => {
    const a = new GuestRegionMmap(MmapRegion.create(0x1000), 0);
    const b = new GuestRegionMmap(MmapRegion.create(0x1000), 0x1000);
    expect(GuestMemoryMmap.fromRegions([a, b]).numRegions).toBe(2);
    expectGuestError(() => GuestMemoryMmap.fromRegions([b, a]), 'UnsortedMemoryRegions');
    expectGuestError(() => GuestMemoryMmap.fromRegions([]), 'NoMemoryRegion');
  });

  it('tryAccess splits at region boundaries like vm-memory', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
      [0x3000, 0x1000],
    ]);
    const calls: [number, number, number, number][] = [];
    const total = mem.tryAccess(0x20, 0xff0, (offset, count, regionOffset, region) => {
      calls.push([offset, count, regionOffset, region.startAddr]);
      return count;
    });
    expect(total).toBe(0x20);
    expect(calls).toEqual([
      [0, 0x10, 0xff0, 0],
      [0x10, 0x10, 0, 0x1000],
    ]);
    // stops at the hole after 0x2000
    expect(mem.tryAccess(0x20, 0x1ff0, (_o, c) => c)).toBe(0x10);
    // a partial callback is called again for the rest; 0 stops
    const seen: number[] = [];
    expect(
      mem.tryAccess(8, 0, (_o, c) => {
        seen.push(c);
        return Math.min(c, 3);
      }),
    ).toBe(8);
    expect(seen).toEqual([8, 5, 2]);
    expect(mem.tryAccess(8, 0, () => 0)).toBe(0);
    expectGuestError(() => mem.tryAccess(8, 0x2000, (_o, c) => c), 'InvalidGuestAddress', { addr: 0x2000 });
  });

  it('getSlice (one region) and getSlices (across adjacent regions)', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
      [0x3000, 0x1000],
    ]);
    const s = mem.getSlice(0x100, 0x10);
    s.writeObj(u32, 0x11223344, 0);
    expect(mem.readObj(u32, 0x100)).toBe(0x11223344);
    expectGuestError(() => mem.getSlice(0xff0, 0x20), 'InvalidBackendAddress');
    expectGuestError(() => mem.getSlice(0x2000, 1), 'InvalidGuestAddress');
    const slices: VolatileSlice[] = mem.getSlices(0xff0, 0x20);
    expect(slices.map((x) => x.len)).toEqual([0x10, 0x10]);
    slices[1]!.writeObj(u8, 0x5a, 0);
    expect(mem.readObj(u8, 0x1000)).toBe(0x5a);
    expect(mem.getSlices(0xff0, 0)).toEqual([]); // a zero count yields nothing, as vm-memory's iterator
    expectGuestError(() => mem.getSlices(0x1ff0, 0x20), 'InvalidGuestAddress', { addr: 0x2000 });
  });

  it('atomics inside one region; across the end is InvalidBackendAddress', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
    ]);
    mem.store(u32, 10, 0x1004);
    expect(mem.fetchAdd(u32, 0x1004, 5)).toBe(10);
    expect(mem.load(u32, 0x1004)).toBe(15);
    expect(mem.compareExchange(u16, 0x1004, 15, 20)).toBe(15);
    expect(mem.load(u16, 0x1004)).toBe(20);
    expectGuestError(() => mem.load(u32, 0x1006), 'Misaligned', { addr: 0x1006, alignment: 4 });
    // bounds are checked before alignment, as in vm-memory
    expectGuestError(() => mem.load(u64, 0x1ffc), 'InvalidBackendAddress');
    expectGuestError(() => mem.store(u32, 1, 0xffe), 'InvalidBackendAddress');
    expectGuestError(() => mem.load(u32, 0x2000), 'InvalidGuestAddress');
  });

  it('fd I/O: readExactFrom /dev/zero and writeAllTo a file, across regions', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
    ]);
    mem.writeSlice(new Uint8Array(0x20).fill(0xee), 0xff0);
    const zero = openSync('/dev/zero', 'r');
    try {
      mem.readExactFrom(0xff0, zero, 0x20);
      expect(mem.readObj(u64, 0xff8)).toBe(0n);
      expect(mem.readFrom(0x1ff0, zero, 0x20)).toBe(0x10); // runs into the end of memory
    } finally {
      closeSync(zero);
    }
    mem.writeSlice(new TextEncoder().encode('cross-region data'), 0xff8);
    const { fd, path } = tempFile();
    mem.writeAllTo(0xff8, fd, 17);
    expect(readFileSync(path, 'utf8')).toBe('cross-region data');
    const src = tempFile(0, new TextEncoder().encode('0123456789')).fd;
    expect(mem.readFrom(0xffc, src, 100)).toBe(10); // reads to the end of the file
    expect(mem.readFrom(0xffc, src, 100)).toBe(0); // then end of file
    const again = openSync(readlinkFd(src), 'r');
    try {
      expectGuestError(() => mem.readExactFrom(0xffc, again, 16), 'PartialBuffer', { expected: 16, completed: 10 });
      expect(mem.readObj(u8, 0x1005)).toBe('9'.charCodeAt(0));
    } finally {
      closeSync(again);
    }
    expectGuestError(() => mem.writeTo(0, 99999, 4), 'IOError', { errno: 9 });
  });

  it('structs round-trip, including across the region boundary', () => {
    const mem = make([
      [0, 0x1000],
      [0x1000, 0x1000],
    ]);
    const Desc = struct([
      ['addr', u64],
      ['len', u32],
      ['flags', u16],
      ['next', u16],
    ]);
    const d = { addr: 0x1234n, len: 512, flags: 3, next: 7 };
    mem.writeObj(Desc, d, 0xff8);
    expect(mem.readObj(Desc, 0xff8)).toEqual(d);
    mem.writeObj(Desc, d, 0x10);
    expect(mem.readObj(Desc, 0x10)).toEqual(d);
  });
});

function readlinkFd(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

describe('GuestMemoryMmap load/store of every integer type up to 32 bits (the inline paths)', () => {
  // [type, size, in-range values, out-of-range values]
  const cases = [
    [u8, 1, [0, 1, 0x7f, 0x80, 0xff], [-1, 0x100, 1.5]],
    [i8, 1, [0, -1, -0x80, 0x7f], [0x80, -0x81, 0.5]],
    [u16, 2, [0, 0x7fff, 0x8000, 0xffff], [-1, 0x10000, 2.5]],
    [i16, 2, [0, -1, -0x8000, 0x7fff], [0x8000, -0x8001]],
    [u32, 4, [0, 0x7fffffff, 0x80000000, 0xffffffff], [-1, 2 ** 32, 0.25]],
    [i32, 4, [0, -1, -0x80000000, 0x7fffffff], [0x80000000, -0x80000001, 1.5]],
  ] as const;

  it.each(cases.map((c) => [c[0].name, ...c] as const))(
    '%s: the bits land where the model says, bad values and places are refused, pages marked',
    (_name, type, size, good, bad) => {
      const mem = GuestMemoryMmap.fromRanges(
        [
          [0, 0x1000],
          [0x3000, 0x1000],
        ],
        { trackDirty: true },
      );
      const ro = MmapRegion.build(null, 0x1000, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS);
      const withRo = mem.insertRegion(new GuestRegionMmap(ro, 0x5000));
      const dv = new DataView(new ArrayBuffer(4));
      for (const at of [0, 0x3000 + 8 * size, 0x3ffc]) {
        for (const v of good) {
          withRo.store(type, v, at);
          expect(withRo.load(type, at)).toBe(v);
          // the same bytes as a little-endian DataView write of the value
          const bytes = new Uint8Array(size);
          withRo.readSlice(bytes, at);
          if (size === 1) dv.setUint8(0, v & 0xff);
          else if (size === 2) dv.setUint16(0, v & 0xffff, true);
          else dv.setUint32(0, v >>> 0, true);
          expect([...bytes]).toEqual([...new Uint8Array(dv.buffer, 0, size)]);
        }
        for (const v of bad) {
          const before = withRo.load(type, at);
          expect(() => withRo.store(type, v, at)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
          expect(withRo.load(type, at)).toBe(before);
        }
      }
      expect(mem.dirtyPages()).toEqual([0, 0x3000]);
      if (size > 1) {
        expectGuestError(() => withRo.store(type, 0, 0x3001), 'Misaligned');
        expectGuestError(() => withRo.load(type, 0x3001), 'Misaligned');
      }
      expectGuestError(() => withRo.store(type, 0, 0x1000), 'InvalidGuestAddress');
      expectGuestError(() => withRo.load(type, 0x2000), 'InvalidGuestAddress');
      expectGuestError(() => withRo.store(type, 0, 0x5000), 'AccessDenied');
      expect(withRo.load(type, 0x5000)).toBe(0);
    },
  );
});

describe('GuestMemoryMmap with file-backed regions', () => {
  it('writes reach the file', () => {
    const { fd, path } = tempFile(0x2000);
    const mem = GuestMemoryMmap.fromRangesWithFiles([
      [0, 0x1000, new FileOffset(fd, 0)],
      [0x1000, 0x1000, new FileOffset(fd, 0x1000)],
      [0x4000, 0x1000, undefined],
    ]);
    mem.writeSlice(new TextEncoder().encode('ABCDEFGH'), 0xffc);
    for (const r of mem) r.mapping.flush();
    expect(readFileSync(path).subarray(0xffc, 0x1004).toString()).toBe('ABCDEFGH');
    expect(mem.findRegion(0x4000)?.fileOffset).toBeUndefined();
  });

  it('a mapping past the end of the file is refused', () => {
    const { fd } = tempFile(0x1000);
    expectGuestError(() => GuestMemoryMmap.fromRangesWithFiles([[0, 0x2000, new FileOffset(fd, 0)]]), 'MappingPastEof');
  });
});
