// TranslationCache: views of RAM runs, refused for holes and protection, invalidated by
// hot-unplug through GuestMemoryAtomic and by dirty resets, with dirty marks kept correct.
import { describe, expect, it } from 'vitest';
import {
  constants,
  GuestMemoryAtomic,
  GuestMemoryMmap,
  GuestRegionMmap,
  MmapRegion,
  TranslationCache,
  u32,
} from '../src/index.js';

describe('TranslationCache', () => {
  it('hands out views whose index is addr + offset, for the whole run', () => {
    const mem = GuestMemoryMmap.fromRanges([
      [0x1000, 0x1000],
      [0x8000_0000, 0x10000],
    ]);
    mem.store(u32, 0xdeadbeef, 0x8000_0100);
    const tc = new TranslationCache(mem);
    const t = tc.lookup(0x8000_0104, false)!;
    expect([t.start, t.end, t.writable]).toEqual([0x8000_0000, 0x8001_0000, false]);
    expect(t.u32[(0x8000_0100 + t.offset) >>> 2]).toBe(0xdeadbeef);
    const w = tc.lookup(0x8000_0200, true)!;
    w.i32[(0x8000_0200 + w.offset) >>> 2] = -1;
    expect(mem.load(u32, 0x8000_0200)).toBe(0xffffffff);
    expect(tc.lookup(0x2000, false)).toBeNull(); // a hole
    expect(tc.lookup(-1, false)).toBeNull();
    expect(tc.lookup(Number.NaN, true)).toBeNull();
    expect(tc.valid()).toBe(true);
  });

  it('translates read-write regions only: read-only and PROT_NONE ones get null, the checked accessors still work', () => {
    const { PROT_READ, PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
    const ro = MmapRegion.build(undefined, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    const none = MmapRegion.build(undefined, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    const mem = GuestMemoryMmap.fromRegions([new GuestRegionMmap(ro, 0), new GuestRegionMmap(none, 0x1000)]);
    const tc = new TranslationCache(mem);
    expect(tc.lookup(0, false)).toBeNull();
    expect(tc.lookup(0, true)).toBeNull();
    expect(tc.lookup(0x1000, false)).toBeNull();
    expect(tc.lookup(0x1000, true)).toBeNull();
    expect(mem.ld32s(0)).toBe(0);
    expect(() => mem.st32(0, 1)).toThrow(expect.objectContaining({ kind: 'AccessDenied' }));
  });

  it('learns a hot-unplug through GuestMemoryAtomic with one load, and follows the new map', () => {
    const base = GuestMemoryMmap.fromRanges([[0, 0x1000]]);
    const extra = new GuestRegionMmap(MmapRegion.create(0x1000), 0x10000);
    const atomic = new GuestMemoryAtomic(base.insertRegion(extra));
    const tc = new TranslationCache(atomic);
    expect(tc.lookup(0x10000, true)).not.toBeNull();
    const g = atomic.lock();
    g.replace(g.memory().removeRegion(0x10000, 0x1000)[0]);
    g.unlock();
    expect(tc.valid()).toBe(false);
    tc.flush();
    expect(tc.valid()).toBe(true);
    expect(tc.lookup(0x10000, true)).toBeNull();
    atomic.close();
  });

  it('with dirty tracking: write runs are one page, marked at hand-out, re-marked after a reset', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x10000]], { trackDirty: true });
    const tc = new TranslationCache(mem);
    const t = tc.lookup(0x3004, true)!;
    expect([t.start, t.end]).toEqual([0x3000, 0x4000]);
    expect(mem.dirtyPages()).toEqual([0x3000]);
    expect(tc.lookup(0x5000, false)!.end).toBe(0x10000); // reads are not limited
    expect(mem.dirtyPages({ reset: true })).toEqual([0x3000]);
    // the holder writes after the collection: its next check fails, the re-lookup marks again
    t.u8[0x3010 + t.offset] = 7;
    expect(tc.valid()).toBe(false);
    tc.flush();
    tc.lookup(0x3010, true);
    expect(mem.dirtyPages()).toEqual([0x3000]);
    expect(tc.valid()).toBe(true);
  });

  it('no lost page: a write after a reset through a translation never looked up again is in the next collection', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x10000]], { trackDirty: true });
    const tc = new TranslationCache(mem);
    const t = tc.lookup(0x3004, true)!;
    const u = tc.lookup(0x7000, true)!;
    t.u8[0x3004 + t.offset] = 1;
    expect(mem.dirtyPages({ reset: true })).toEqual([0x3000, 0x7000]);
    t.u8[0x3008 + t.offset] = 2; // after the reset, through the old translation
    expect(tc.valid()).toBe(false);
    tc.flush(); // no lookup of 0x3000 follows
    expect(mem.dirtyPages({ reset: true })).toEqual([0x3000, 0x7000]);
    void u;
    // a flush with no reset since marks nothing again
    tc.lookup(0x9000, true);
    expect(mem.dirtyPages({ reset: true })).toEqual([0x9000]);
    tc.flush();
    tc.flush();
    expect(mem.dirtyPages()).toEqual([0x9000]); // its epoch moved: marked once more, then forgotten
    mem.dirtyPages({ reset: true });
    tc.flush();
    expect(mem.dirtyPages()).toEqual([]);
  });

  it('publishDirty marks every page handed out for writing again, keeping the translations valid', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x10000]], { trackDirty: true });
    const tc = new TranslationCache(mem);
    const t = tc.lookup(0x2000, true)!;
    expect(mem.dirtyPages({ reset: true })).toEqual([0x2000]);
    t.u32[(0x2010 + t.offset) >>> 2] = 9;
    tc.publishDirty(); // what a vCPU does before it parks
    expect(mem.dirtyPages()).toEqual([0x2000]);
    expect(tc.valid()).toBe(true);
  });

  it('caches: the same read translation per region and the same write translation per run until flush', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x10000]], { trackDirty: true });
    const tc = new TranslationCache(mem);
    const r = tc.lookup(0x100, false);
    expect(tc.lookup(0x8000, false)).toBe(r);
    const w = tc.lookup(0x3004, true);
    expect(tc.lookup(0x3ffc, true)).toBe(w);
    expect(tc.lookup(0x4000, true)).not.toBe(w);
    mem.dirtyPages({ reset: true });
    expect(tc.lookup(0x3000, true)).toBe(w); // still marked again when handed out
    expect(mem.dirtyPages()).toEqual([0x3000]);
    tc.flush();
    expect(tc.lookup(0x100, false)).not.toBe(r);
    expect(tc.lookup(0x3004, true)).not.toBe(w);
  });

  it('refuses what is not guest memory', () => {
    expect(() => new TranslationCache({} as never)).toThrow(TypeError);
  });
});
