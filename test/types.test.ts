import { describe, expect, it } from 'vitest';
import {
  u8,
  i8,
  u16,
  i16,
  u32,
  i32,
  u64,
  i64,
  f32,
  f64,
  le16,
  le32,
  le64,
  be16,
  be32,
  be64,
  struct,
  packed,
  array,
  MmapRegion,
} from '../src/index.js';
import { expectArgError } from './helpers/expect-error.js';

describe('ByteValued types', () => {
  it('scalars have natural size and alignment', () => {
    const all = { u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, le16, le32, le64, be16, be32, be64 };
    const sizes: Record<string, number> = {
      u8: 1,
      i8: 1,
      u16: 2,
      i16: 2,
      u32: 4,
      i32: 4,
      u64: 8,
      i64: 8,
      f32: 4,
      f64: 8,
      le16: 2,
      le32: 4,
      le64: 8,
      be16: 2,
      be32: 4,
      be64: 8,
    };
    for (const [name, t] of Object.entries(all)) {
      expect(t.size, name).toBe(sizes[name]);
      expect(t.align, name).toBe(sizes[name]);
    }
  });

  it('struct: C layout with padding, size rounded to the largest alignment', () => {
    const S = struct([
      ['a', u8],
      ['b', u32],
      ['c', u16],
    ]);
    expect(S.size).toBe(12);
    expect(S.align).toBe(4);
    const T = struct([
      ['x', u8],
      ['s', S],
      ['y', u64],
    ]);
    expect(T.size).toBe(24);
    expect(T.align).toBe(8);
  });

  it('packed: no padding', () => {
    const P = packed([
      ['a', u8],
      ['b', u32],
      ['c', u16],
    ]);
    expect(P.size).toBe(7);
    expect(P.align).toBe(1);
    const s = MmapRegion.create(4096).asVolatileSlice();
    s.writeObj(P, { a: 1, b: 0x02030405, c: 0x0607 }, 0);
    const bytes = new Uint8Array(7);
    s.readSlice(bytes, 0);
    expect([...bytes]).toEqual([1, 5, 4, 3, 2, 7, 6]);
    expect(s.readObj(P, 0)).toEqual({ a: 1, b: 0x02030405, c: 0x0607 });
  });

  it('array: fixed length, values as arrays or typed arrays', () => {
    const A = array(u16, 3);
    expect(A.size).toBe(6);
    expect(A.align).toBe(2);
    const s = MmapRegion.create(4096).asVolatileSlice();
    s.writeObj(A, [1, 2, 3], 0);
    expect(s.readObj(A, 0)).toEqual([1, 2, 3]);
    s.writeObj(A, new Uint16Array([4, 5, 6]), 0);
    expect(s.readObj(A, 0)).toEqual([4, 5, 6]);
    expectArgError(() => s.writeObj(A, [1, 2], 0), 'ERR_OUT_OF_RANGE');
    expectArgError(() => array(u8, -1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => array({} as typeof u8, 1), 'ERR_INVALID_ARG_TYPE');
  });

  it('le/be types store explicit byte orders', () => {
    const s = MmapRegion.create(4096).asVolatileSlice();
    s.writeObj(be16, 0x1234, 0);
    s.writeObj(le16, 0x1234, 2);
    s.writeObj(be64, 0x0102030405060708n, 8);
    s.writeObj(le64, 0x0102030405060708n, 16);
    s.writeObj(be32, 0xa1b2c3d4, 25); // unaligned
    const b = new Uint8Array(32);
    s.readSlice(b, 0);
    expect([...b.subarray(0, 4)]).toEqual([0x12, 0x34, 0x34, 0x12]);
    expect([...b.subarray(8, 16)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...b.subarray(16, 24)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect([...b.subarray(25, 29)]).toEqual([0xa1, 0xb2, 0xc3, 0xd4]);
    expect(s.readObj(be64, 8)).toBe(0x0102030405060708n);
    expect(s.readObj(be32, 25)).toBe(0xa1b2c3d4);
    expect(s.readObj(le32, 2)).toBe(0x1234);
  });

  it('values are checked against the type', () => {
    const s = MmapRegion.create(4096).asVolatileSlice();
    const bad: [typeof u8, unknown, string][] = [
      [u8, 256, 'ERR_OUT_OF_RANGE'],
      [u8, -1, 'ERR_OUT_OF_RANGE'],
      [i8, 128, 'ERR_OUT_OF_RANGE'],
      [u16, 1.5, 'ERR_OUT_OF_RANGE'],
      [i32, 2 ** 31, 'ERR_OUT_OF_RANGE'],
      [u32, -1, 'ERR_OUT_OF_RANGE'],
      [u32, NaN, 'ERR_OUT_OF_RANGE'],
      [u32, '1', 'ERR_INVALID_ARG_TYPE'],
      [u64 as unknown as typeof u8, 1, 'ERR_INVALID_ARG_TYPE'],
      [u64 as unknown as typeof u8, -1n, 'ERR_OUT_OF_RANGE'],
      [u64 as unknown as typeof u8, 2n ** 64n, 'ERR_OUT_OF_RANGE'],
      [i64 as unknown as typeof u8, 2n ** 63n, 'ERR_OUT_OF_RANGE'],
      [f32, 1n, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [t, v, code] of bad) {
      expectArgError(() => s.writeObj(t, v as number, 0), code as 'ERR_OUT_OF_RANGE');
      expect(s.readObj(u64, 0)).toBe(0n);
    }
    const S = struct([
      ['a', u8],
      ['b', u8],
    ]);
    expectArgError(() => s.writeObj(S, { a: 1 } as { a: number; b: number }, 0), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => s.writeObj(S, null as unknown as { a: number; b: number }, 0), 'ERR_INVALID_ARG_TYPE');
    expect(s.readObj(u64, 0)).toBe(0n);
  });

  it('struct builder rejects bad fields', () => {
    expectArgError(() => struct('x' as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => struct([['a', 5 as never]]), 'ERR_INVALID_ARG_TYPE');
    expectArgError(
      () =>
        struct([
          ['a', u8],
          ['a', u8],
        ]),
      'ERR_INVALID_ARG_TYPE',
    );
  });
});
