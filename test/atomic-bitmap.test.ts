// Dirty-page tracking: the AtomicBitmap API, and that every write path of the API marks the
// pages it writes (and reads do not), at the slice, region, ref and guest-memory levels.
import { openSync, closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AtomicBitmap, GuestMemoryMmap, MmapRegion, u8, u16, u32, u64, f64, struct } from '../src/index.js';
import { tempFile } from './helpers/temp-file.js';

const PAGE = 4096;

describe('AtomicBitmap', () => {
  it('sets, tests, resets address ranges page by page', () => {
    const bm = new AtomicBitmap(10 * PAGE);
    expect(bm.len).toBe(10);
    expect(bm.isAddrSet(0)).toBe(false);
    bm.setAddrRange(PAGE - 1, 2); // straddles pages 0 and 1
    expect([bm.isAddrSet(0), bm.isAddrSet(PAGE), bm.isAddrSet(2 * PAGE)]).toEqual([true, true, false]);
    expect(bm.count()).toBe(2);
    bm.resetAddrRange(0, 1);
    expect(bm.setPages()).toEqual([1]);
    bm.setAddrRange(9 * PAGE, 100 * PAGE); // clipped to the end
    expect(bm.setPages()).toEqual([1, 9]);
    expect(bm.isAddrSet(100 * PAGE)).toBe(false); // past the end: false, no throw
    bm.setAddrRange(3 * PAGE, 0); // empty range marks nothing
    expect(bm.count()).toBe(2);
  });

  it('getAndReset returns the words and clears them', () => {
    const bm = new AtomicBitmap(64 * 16, 16);
    bm.setAddrRange(0, 16);
    bm.setAddrRange(33 * 16, 1);
    const words = bm.getAndReset();
    expect(Array.from(words)).toEqual([1, 2]);
    expect(bm.count()).toBe(0);
    expect(Array.from(bm.getAndReset())).toEqual([0, 0]);
  });

  it('checks its arguments', () => {
    expect(() => new AtomicBitmap(100, 3)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new AtomicBitmap(100, 4)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new AtomicBitmap(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const bm = new AtomicBitmap(PAGE);
    expect(() => bm.setAddrRange(-1, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => bm.isAddrSet('0' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => MmapRegion.create(PAGE, { trackDirty: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => MmapRegion.create(PAGE, { trackDirty: 12 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });
});

/** Two tracked regions of 16 pages, at 0 and 0x10000. */
function tracked(): GuestMemoryMmap {
  return GuestMemoryMmap.fromRanges(
    [
      [0, 0x10000],
      [0x10000, 0x10000],
    ],
    { trackDirty: true },
  );
}

const pt = struct([
  ['x', u32],
  ['y', u32],
]);

describe('every API write marks its pages; reads do not', () => {
  const A = 0x3008; // page 3 of region 0
  const writes: [string, (m: GuestMemoryMmap) => void][] = [
    ['write', (m) => m.write(new Uint8Array(4), A)],
    ['writeSlice', (m) => m.writeSlice(new Uint8Array(4), A)],
    ['writeObj u32', (m) => m.writeObj(u32, 1, A)],
    ['writeObj u64', (m) => m.writeObj(u64, 1n, A)],
    ['writeObj f64', (m) => m.writeObj(f64, 1.5, A)],
    ['writeObj struct', (m) => m.writeObj(pt, { x: 1, y: 2 }, A)],
    ['writeObj unaligned', (m) => m.writeObj(u32, 1, A + 1)],
    ['writeUnordered', (m) => m.writeUnordered(u32, 1, A)],
    ['store', (m) => m.store(u32, 1, A)],
    ['store u8', (m) => m.store(u8, 1, A)],
    ['fetchAdd', (m) => m.fetchAdd(u32, A, 1)],
    ['fetchOr', (m) => m.fetchOr(u16, A, 1)],
    ['exchange', (m) => m.exchange(u64, A, 2n)],
    ['compareExchange', (m) => m.compareExchange(u32, A, 0, 1)],
    ['region writeObj', (m) => m.findRegion(A)!.writeObj(u32, 1, A)],
    ['region store', (m) => m.findRegion(A)!.store(u32, 1, A)],
    ['slice writeObj', (m) => m.getSlice(A, 8).writeObj(u32, 1, 0)],
    ['slice copyFrom', (m) => m.getSlice(A, 8).copyFrom(new Uint8Array(8))],
    ['ref store', (m) => m.getSlice(A, 8).getRef(u32, 0).store(5)],
    ['array ref store', (m) => m.getSlice(A, 8).getArrayRef(u16, 0, 4).store(1, 5)],
    ['array ref copyFrom', (m) => m.getSlice(A, 8).getArrayRef(u16, 0, 4).copyFrom([1, 2, 3, 4])],
    ['array ref copyFrom typed', (m) => m.getSlice(A, 8).getArrayRef(u16, 0, 4).copyFrom(new Uint16Array(4))],
    ['copyToVolatileSlice (destination)', (m) => m.getSlice(0x9000, 8).copyToVolatileSlice(m.getSlice(A, 8))],
    [
      'readFrom fd',
      (m) => {
        const fd = openSync('/dev/zero', 'r');
        try {
          m.readExactFrom(A, fd, 8);
        } finally {
          closeSync(fd);
        }
      },
    ],
  ];
  it.each(writes)('%s', (_name, op) => {
    const m = tracked();
    op(m);
    expect(m.dirtyPages()).toEqual([0x3000]);
  });

  it('reads, loads and writeTo an fd mark nothing', () => {
    const m = tracked();
    m.read(new Uint8Array(64), A);
    m.readObj(u64, A);
    m.readUnordered(u32, A);
    m.load(u32, A);
    m.getSlice(A, 8).getRef(u32, 0).load();
    m.getSlice(0x9000, 8).copyToVolatileSlice(m.getSlice(0x5000, 8).subslice(0, 8)); // marks 0x5000 only
    const { fd } = tempFile();
    m.writeAllTo(A, fd, 8);
    expect(m.dirtyPages()).toEqual([0x5000]);
  });

  it('a write across pages and regions marks each page it touches', () => {
    const m = tracked();
    m.writeSlice(new Uint8Array(2 * PAGE + 2), 0x10000 - PAGE - 1);
    expect(m.dirtyPages()).toEqual([0xe000, 0xf000, 0x10000, 0x11000]);
    m.writeObj(u64, 1n, 0x10000 - 4); // spans two regions
    expect(m.dirtyPages({ reset: true })).toEqual([0xe000, 0xf000, 0x10000, 0x11000]);
    expect(m.dirtyPages()).toEqual([]);
  });

  it('raw buffer writes bypass tracking (documented)', () => {
    const m = tracked();
    new Uint8Array(m.findRegion(0)!.mapping.buffer)[A] = 1;
    expect(m.dirtyPages()).toEqual([]);
  });

  it('untracked memory reports nothing and resetDirty clears', () => {
    const plain = GuestMemoryMmap.fromRanges([[0, 0x10000]]);
    plain.writeObj(u32, 1, 0);
    expect(plain.dirtyPages()).toEqual([]);
    const m = tracked();
    m.writeObj(u32, 1, 0);
    m.resetDirty();
    expect(m.dirtyPages()).toEqual([]);
  });

  it('the bitmap is shared: a worker’s writes through fromShared mark the same bitmap', async () => {
    const m = tracked();
    const w = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.dist).then(({ GuestMemoryMmap, u32 }) => {
         const m = GuestMemoryMmap.fromShared(workerData.mem);
         m.store(u32, 1, 0x12000);
         m.writeObj(u32, 1, 0x7000);
         parentPort.postMessage('done');
       });`,
      { eval: true, workerData: { mem: m.share(), dist: new URL('../dist/src/index.js', import.meta.url).href } },
    );
    try {
      await new Promise((res, rej) => (w.once('message', res), w.once('error', rej)));
    } finally {
      await w.terminate();
    }
    expect(m.dirtyPages()).toEqual([0x7000, 0x12000]);
  }, 20_000);
});
