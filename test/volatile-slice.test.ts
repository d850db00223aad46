import { describe, expect, it } from 'vitest';
import { MmapRegion, u8, u16, u32, u64, VolatileSlice, array } from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';

const slice = (len = 0x100) => MmapRegion.create(0x1000).getSlice(0x100, len);

describe('VolatileSlice', () => {
  it('len, isEmpty, and the bounds rule (zero length at len is valid)', () => {
    const s = slice(0x10);
    expect(s.len).toBe(0x10);
    expect(s.isEmpty()).toBe(false);
    expect(s.getSlice(0x10, 0).isEmpty()).toBe(true);
    expect(s.getSlice(0, 0x10).len).toBe(0x10);
    expectGuestError(() => s.getSlice(0x10, 1), 'OutOfBounds', { addr: 0x11 });
    expectGuestError(() => s.getSlice(0x11, 0), 'OutOfBounds', { addr: 0x11 });
    expectGuestError(() => s.getSlice(1, Number.MAX_SAFE_INTEGER), 'Overflow', {
      base: 1,
      offset: Number.MAX_SAFE_INTEGER,
    });
  });

  it('subslice shares memory with its parent', () => {
    const s = slice();
    const sub = s.subslice(0x10, 0x20);
    sub.writeObj(u32, 0xfeedf00d, 4);
    expect(s.readObj(u32, 0x14)).toBe(0xfeedf00d);
    expectGuestError(() => sub.readObj(u32, 0x20), 'OutOfBounds', { addr: 0x20 });
    expectGuestError(() => s.subslice(0xf0, 0x20), 'OutOfBounds', { addr: 0x110 });
  });

  it('offset(count)', () => {
    const s = slice(0x10);
    s.writeObj(u8, 9, 4);
    const o = s.offset(4);
    expect(o.len).toBe(0xc);
    expect(o.readObj(u8, 0)).toBe(9);
    expect(s.offset(0x10).len).toBe(0);
    expectGuestError(() => s.offset(0x11), 'OutOfBounds', { addr: 0x11 });
  });

  it('splitAt(mid)', () => {
    const s = slice(0x10);
    const [l, r] = s.splitAt(6);
    expect([l.len, r.len]).toEqual([6, 10]);
    r.writeObj(u8, 1, 0);
    expect(s.readObj(u8, 6)).toBe(1);
    const [a, b] = s.splitAt(0x10);
    expect([a.len, b.len]).toEqual([0x10, 0]);
    expectGuestError(() => s.splitAt(0x11), 'OutOfBounds', { addr: 0x11 });
  });

  it('copyTo / copyFrom with typed arrays: min of both lengths, whole elements', () => {
    const s = slice(10);
    s.copyFrom(new Uint16Array([1, 2, 3, 4, 5, 6, 7]));
    expect(s.readObj(u16, 8)).toBe(5);
    expect(s.readObj(u16, 0)).toBe(1);
    const out = new Uint32Array(4);
    expect(s.copyTo(out)).toBe(2); // floor(10 / 4)
    expect(out[0]).toBe(1 | (2 << 16));
    const big = new Uint8Array(3);
    expect(s.copyTo(big)).toBe(3);
    expect([...big]).toEqual([1, 0, 2]);
    expectArgError(() => s.copyTo([1, 2] as unknown as Uint8Array), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => s.copyFrom(new DataView(new ArrayBuffer(4)) as unknown as Uint8Array), 'ERR_INVALID_ARG_TYPE');
  });

  it('copyToVolatileSlice copies min(len) bytes, overlap-safe', () => {
    const m = MmapRegion.create(0x1000);
    const a = m.getSlice(0, 8);
    a.writeSlice(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 0);
    const b = MmapRegion.create(0x1000).getSlice(0x10, 4);
    expect(a.copyToVolatileSlice(b)).toBe(4);
    const out = new Uint8Array(4);
    b.readSlice(out, 0);
    expect([...out]).toEqual([1, 2, 3, 4]);
    // overlapping: shift right by 2 within one mapping
    expect(m.getSlice(0, 8).copyToVolatileSlice(m.getSlice(2, 8))).toBe(8);
    const all = new Uint8Array(10);
    m.getSlice(0, 10).readSlice(all, 0);
    expect([...all]).toEqual([1, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('getRef / getArrayRef bounds and TooBig', () => {
    const s = slice(0x10);
    expect(s.getRef(u64, 8).len).toBe(8);
    expectGuestError(() => s.getRef(u64, 9), 'OutOfBounds', { addr: 0x11 });
    expect(s.getArrayRef(u32, 0, 4).len).toBe(4);
    expectGuestError(() => s.getArrayRef(u32, 4, 4), 'OutOfBounds', { addr: 0x14 });
    expectGuestError(() => s.getArrayRef(u64, 0, 2 ** 51), 'TooBig', { nelements: 2 ** 51, size: 8 });
    expectGuestError(() => s.getRef(array(u8, 0x11), 0), 'OutOfBounds');
  });

  it('is not constructible from user code with bad arguments', () => {
    expect(slice()).toBeInstanceOf(VolatileSlice);
  });
});
