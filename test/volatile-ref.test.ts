import { describe, expect, it } from 'vitest';
import { MmapRegion, u8, u16, u32, u64, i16, f32, f64, be32, struct } from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';

describe('VolatileRef', () => {
  it('load/store aligned and unaligned scalars', () => {
    const s = MmapRegion.create(0x1000).asVolatileSlice();
    const r = s.getRef(u32, 0x10);
    expect(r.len).toBe(4);
    r.store(0x01020304);
    expect(r.load()).toBe(0x01020304);
    expect(s.readObj(u8, 0x10)).toBe(4); // host (little-endian) order
    const un = s.getRef(u64, 0x21);
    un.store(0x1122334455667788n);
    expect(un.load()).toBe(0x1122334455667788n);
    expect(s.readObj(u8, 0x21)).toBe(0x88);
    const f = s.getRef(f64, 0x40);
    f.store(-1.5);
    expect(f.load()).toBe(-1.5);
    const g = s.getRef(f32, 0x49);
    g.store(0.25);
    expect(g.load()).toBe(0.25);
    const b = s.getRef(be32, 0x50);
    b.store(0x11223344);
    expect(s.readObj(u8, 0x50)).toBe(0x11);
    expect(b.load()).toBe(0x11223344);
  });

  it('struct refs and toSlice', () => {
    const S = struct([
      ['a', u8],
      ['b', u32],
    ]);
    const s = MmapRegion.create(0x1000).asVolatileSlice();
    const r = s.getRef(S, 0x100);
    expect(r.len).toBe(8);
    r.store({ a: 1, b: 2 });
    expect(r.load()).toEqual({ a: 1, b: 2 });
    expect(r.toSlice().len).toBe(8);
    expect(r.toSlice().readObj(u32, 4)).toBe(2);
  });

  it('store checks the value before writing', () => {
    const s = MmapRegion.create(0x1000).asVolatileSlice();
    const r = s.getRef(u16, 0);
    r.store(7);
    expectArgError(() => r.store(0x10000), 'ERR_OUT_OF_RANGE');
    expectArgError(() => r.store('1' as unknown as number), 'ERR_INVALID_ARG_TYPE');
    expect(r.load()).toBe(7);
  });
});

describe('VolatileArrayRef', () => {
  it('len, elementSize, load/store/ref, index out of range', () => {
    const s = MmapRegion.create(0x1000).asVolatileSlice();
    const a = s.getArrayRef(i16, 0x10, 8);
    expect(a.len).toBe(8);
    expect(a.elementSize).toBe(2);
    a.store(3, -5);
    expect(a.load(3)).toBe(-5);
    expect(a.ref(3).load()).toBe(-5);
    expect(s.readObj(i16, 0x16)).toBe(-5);
    expectGuestError(() => a.load(8), 'OutOfBounds', { addr: 18 });
    expectGuestError(() => a.store(8, 1), 'OutOfBounds');
    expect(a.toSlice().len).toBe(16);
  });

  it('copyTo / copyFrom with arrays and matching typed arrays', () => {
    const s = MmapRegion.create(0x1000).asVolatileSlice();
    const a = s.getArrayRef(u32, 0, 4);
    a.copyFrom([1, 2, 3]);
    const out: number[] = [0, 0, 0, 0, 0];
    expect(a.copyTo(out)).toBe(4);
    expect(out).toEqual([1, 2, 3, 0, 0]);
    a.copyFrom(new Uint32Array([9, 8, 7, 6, 5]));
    const typed = new Uint32Array(4);
    expect(a.copyTo(typed)).toBe(4);
    expect([...typed]).toEqual([9, 8, 7, 6]);
    // a bad element writes nothing
    expectArgError(() => a.copyFrom([1, 2, -1]), 'ERR_OUT_OF_RANGE');
    expect(a.load(0)).toBe(9);
    const S = struct([['x', u8]]);
    const sa = s.getArrayRef(S, 0x100, 2);
    expectArgError(() => sa.copyFrom([{ x: 1 }, { x: 999 }]), 'ERR_OUT_OF_RANGE');
    expect(sa.load(0)).toEqual({ x: 0 });
    sa.copyFrom([{ x: 1 }, { x: 2 }]);
    expect(sa.load(1)).toEqual({ x: 2 });
  });
});
