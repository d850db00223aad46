// One contract, every Bytes container: VolatileSlice, GuestRegionMmap, GuestMemoryMmap.
// Each container exposes addresses [0, LEN); the guest memory is two adjacent regions, so its
// accesses around MID are split across them.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GuestMemoryMmap,
  GuestRegionMmap,
  MmapRegion,
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
  be16,
  be32,
  be64,
  struct,
  type Bytes,
  type GuestMemoryErrorKind,
} from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';
import { tempFile } from './helpers/temp-file.js';

const LEN = 0x2000;
const MID = 0x1000;

interface Container {
  make(): Bytes<number>;
  /** The error for an access starting at or past LEN. */
  pastEnd: GuestMemoryErrorKind;
}

const containers: [string, Container][] = [
  ['VolatileSlice', { make: () => MmapRegion.create(LEN + 0x1000).getSlice(0x1000, LEN), pastEnd: 'OutOfBounds' }],
  [
    'GuestRegionMmap',
    { make: () => new GuestRegionMmap(MmapRegion.create(LEN), 0x40000), pastEnd: 'InvalidBackendAddress' },
  ],
  [
    'GuestMemoryMmap',
    {
      make: () =>
        GuestMemoryMmap.fromRanges([
          [0, MID],
          [MID, LEN - MID],
        ]),
      pastEnd: 'InvalidGuestAddress',
    },
  ],
];

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe.each(containers)('Bytes contract: %s', (_name, c) => {
  it('write/read round-trip, anywhere (including across MID)', () => {
    const m = c.make();
    for (const addr of [0, 1, MID - 3, MID, LEN - 16]) {
      const data = bytes(16, addr);
      expect(m.write(data, addr)).toBe(16);
      const out = new Uint8Array(16);
      expect(m.read(out, addr)).toBe(16);
      expect(out).toEqual(data);
    }
  });

  it('write/read are partial at the end; *Slice throw PartialBuffer after doing the part', () => {
    const m = c.make();
    expect(m.write(bytes(8), LEN - 4)).toBe(4);
    const out = new Uint8Array(8);
    expect(m.read(out, LEN - 4)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([...bytes(8).subarray(0, 4)]);
    expectGuestError(() => m.writeSlice(bytes(8, 9), LEN - 4), 'PartialBuffer', { expected: 8, completed: 4 });
    expect(m.readObj(u8, LEN - 4)).toBe(bytes(8, 9)[0]);
    expectGuestError(() => m.readSlice(new Uint8Array(8), LEN - 4), 'PartialBuffer', { expected: 8, completed: 4 });
  });

  it('an access starting past the end fails with the container error', () => {
    const m = c.make();
    expectGuestError(() => m.write(bytes(1), LEN), c.pastEnd);
    expectGuestError(() => m.read(new Uint8Array(1), LEN + 5), c.pastEnd);
    expectGuestError(() => m.readObj(u32, LEN), c.pastEnd);
    expectGuestError(() => m.writeObj(u32, 1, LEN), c.pastEnd);
  });

  it('zero-length accesses return 0 / succeed, even at the end', () => {
    const m = c.make();
    const empty = new Uint8Array(0);
    expect(m.write(empty, 0)).toBe(0);
    expect(m.read(empty, LEN - 1)).toBe(0);
    expect(m.write(empty, LEN)).toBe(0);
    m.writeSlice(empty, LEN);
    m.readSlice(empty, 5);
  });

  it('readObj/writeObj of every scalar type, aligned and unaligned', () => {
    const m = c.make();
    const cases: [typeof u8, number | bigint][] = [
      [u8, 0xab],
      [i8, -100],
      [u16, 0xbeef],
      [i16, -12345],
      [u32, 0xdeadbeef],
      [i32, -0x12345678],
      [u64 as unknown as typeof u8, 0xfedcba9876543210n],
      [i64 as unknown as typeof u8, -0x123456789abcdefn],
      [f32, 1.5],
      [f64, Math.PI],
      [le16, 0x1234],
      [be32, 0x89abcdef],
      [be64 as unknown as typeof u8, 0x0102030405060708n],
    ];
    for (const [type, value] of cases) {
      for (const addr of [0x100, 0x101, 0x103, MID - 4, MID - 1, LEN - type.size]) {
        m.writeObj(type, value as number, addr);
        expect(m.readObj(type, addr), `${type.name} at ${addr}`).toBe(value);
      }
    }
  });

  it('structs round-trip; a partial writeObj writes what fits then throws', () => {
    const m = c.make();
    const S = struct([
      ['a', u32],
      ['b', u64],
    ]);
    m.writeObj(S, { a: 5, b: 6n }, MID - 8);
    expect(m.readObj(S, MID - 8)).toEqual({ a: 5, b: 6n });
    expectGuestError(() => m.writeObj(u64, 0x0807060504030201n, LEN - 4), 'PartialBuffer', {
      expected: 8,
      completed: 4,
    });
    expect(m.readObj(u32, LEN - 4)).toBe(0x04030201);
    expectGuestError(() => m.readObj(S, LEN - 8), 'PartialBuffer', { expected: 16, completed: 8 });
  });

  it('atomics: load/store every integer type, RMW results and wrapping', () => {
    const m = c.make();
    m.store(u8, 255, 0x10);
    expect(m.fetchAdd(u8, 0x10, 1)).toBe(255);
    expect(m.load(u8, 0x10)).toBe(0);
    m.store(i16, -2, 0x20);
    expect(m.fetchSub(i16, 0x20, 1)).toBe(-2);
    expect(m.load(i16, 0x20)).toBe(-3);
    m.store(u32, 0xf0f0f0f0, 0x40);
    expect(m.fetchAnd(u32, 0x40, 0xff00ff00)).toBe(0xf0f0f0f0);
    expect(m.fetchOr(u32, 0x40, 0x0f)).toBe(0xf000f000);
    expect(m.fetchXor(u32, 0x40, 0xffffffff)).toBe(0xf000f00f);
    expect(m.load(u32, 0x40)).toBe(0x0fff0ff0);
    expect(m.exchange(i32, 0x44, -1)).toBe(0);
    expect(m.load(i32, 0x44)).toBe(-1);
    m.store(u64, 2n ** 64n - 1n, 0x48);
    expect(m.fetchAdd(u64, 0x48, 2n)).toBe(2n ** 64n - 1n);
    expect(m.load(u64, 0x48)).toBe(1n);
    expect(m.compareExchange(i64, 0x48, 5n, 7n)).toBe(1n); // no swap
    expect(m.compareExchange(i64, 0x48, 1n, -7n)).toBe(1n); // swap
    expect(m.load(i64, 0x48)).toBe(-7n);
    expect(m.compareExchange(u16, 0x50, 0, 9)).toBe(0);
    expect(m.load(u16, 0x50)).toBe(9);
  });

  it('atomics are naturally aligned integers only', () => {
    const m = c.make();
    expectGuestError(() => m.load(u32, 0x102), 'Misaligned', { addr: 0x102, alignment: 4 });
    expectGuestError(() => m.store(u64, 1n, 0x104), 'Misaligned', { alignment: 8 });
    expectGuestError(() => m.fetchAdd(u16, 0x101, 1), 'Misaligned');
    expectGuestError(() => m.compareExchange(u32, 0x106, 0, 1), 'Misaligned');
    expectArgError(() => m.load(f32, 0), 'ERR_INVALID_ARG_TYPE');
    // le* types are host order on a little-endian host: atomic; be* are refused with a reason
    expect(m.load(le16, 0)).toBe(0);
    expectArgError(() => m.load(be16, 0), 'ERR_INVALID_ARG_TYPE');
    expect(() => m.store(be32, 1, 0)).toThrow(/host byte order/);
    expectArgError(() => m.store(struct([['a', u8]]) as never, 1, 0), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => m.store(u8, 256, 0), 'ERR_OUT_OF_RANGE');
    expect(m.load(u8, 0)).toBe(0);
  });

  it('wait/notify on i32 and i64', () => {
    const m = c.make();
    m.store(i32, 5, 0x80);
    expect(m.wait(i32, 0x80, 4)).toBe('not-equal');
    expect(m.wait(i32, 0x80, 5, 1)).toBe('timed-out');
    expect(m.wait(i64, 0x88, 0n, 0)).toBe('timed-out');
    expect(m.wait(i64, 0x88, 1n, 0)).toBe('not-equal');
    expect(m.notify(0x80)).toBe(0);
    expect(m.notify(0x80, 1)).toBe(0);
    expectArgError(() => m.wait(u32, 0x80, 5, 1), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => m.wait(i32, 0x80, 5, -1), 'ERR_OUT_OF_RANGE');
    expectGuestError(() => m.notify(0x82), 'Misaligned');
  });

  it('fd I/O: readFrom/readExactFrom/writeTo/writeAllTo with real files', () => {
    const m = c.make();
    m.writeSlice(new Uint8Array(64).fill(0xcc), MID - 32);
    const zero = openSync('/dev/zero', 'r');
    try {
      expect(m.readFrom(MID - 32, zero, 64)).toBe(c.pastEnd === 'InvalidGuestAddress' ? 64 : 64);
      m.readExactFrom(MID - 32, zero, 64);
      expect(m.readObj(u64, MID - 4)).toBe(0n);
    } finally {
      closeSync(zero);
    }
    const data = bytes(100, 3);
    m.writeSlice(data, MID - 50);
    const out = tempFile();
    expect(m.writeTo(MID - 50, out.fd, 100)).toBe(100);
    m.writeAllTo(MID - 50, out.fd, 100);
    const file = readFileSync(out.path);
    expect(file.length).toBe(200);
    expect(new Uint8Array(file.subarray(100))).toEqual(data);
    const src = openSync(out.path, 'r');
    try {
      m.readExactFrom(0x10, src, 150);
      expect(m.readObj(u8, 0x10 + 100)).toBe(data[0]);
      expectGuestError(() => m.readExactFrom(0x10, src, 100), 'PartialBuffer', { expected: 100, completed: 50 });
      expect(m.readFrom(0x10, src, 10)).toBe(0);
    } finally {
      closeSync(src);
    }
    expect(m.readFrom(0, 0, 0)).toBe(0);
    expectGuestError(() => m.readFrom(0, 99999, 4), 'IOError', { errno: 9, syscall: 'read' });
    expectGuestError(() => m.writeAllTo(0, 99999, 4), 'IOError', { errno: 9, syscall: 'write' });
    expectGuestError(() => m.readFrom(0, 99999, 4, 512), 'IOError', { errno: 9, syscall: 'pread' });
    expectGuestError(() => m.writeTo(0, 99999, 4, 512), 'IOError', { errno: 9, syscall: 'pwrite' });
  });

  it('bad arguments throw argument errors and change nothing', () => {
    const m = c.make();
    m.writeObj(u32, 0x55aa55aa, 0);
    const badAddrs: unknown[] = [-1, 1.5, NaN, Infinity, 2 ** 53, '0', 0n, null, undefined, {}];
    for (const a of badAddrs) {
      expectArgError(() => m.writeObj(u32, 1, a as number));
      expectArgError(() => m.store(u32, 1, a as number));
      expectArgError(() => m.load(u32, a as number));
      expectArgError(() => m.readObj(u32, a as number));
      expectArgError(() => m.write(new Uint8Array(4), a as number));
      expectArgError(() => m.read(new Uint8Array(4), a as number));
      expectArgError(() => m.fetchAdd(u32, a as number, 1));
      expectArgError(() => m.readFrom(a as number, 0, 4));
    }
    const badTypes: unknown[] = [null, undefined, 4, 'u32', {}, { size: 4 }];
    for (const t of badTypes) {
      expectArgError(() => m.readObj(t as typeof u32, 0), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => m.writeObj(t as typeof u32, 1, 0), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => m.load(t as typeof u32, 0), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => m.store(t as typeof u32, 1, 0), 'ERR_INVALID_ARG_TYPE');
    }
    const badBufs: unknown[] = [null, [1, 2], new Uint16Array(2), 'abc', new ArrayBuffer(4)];
    for (const b of badBufs) {
      expectArgError(() => m.write(b as Uint8Array, 0), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => m.readSlice(b as Uint8Array, 0), 'ERR_INVALID_ARG_TYPE');
    }
    const badValues: unknown[] = [-1, 2 ** 32, 1.5, NaN, '1', 1n, null];
    for (const v of badValues) {
      expectArgError(() => m.writeObj(u32, v as number, 0));
      expectArgError(() => m.store(u32, v as number, 0));
      expectArgError(() => m.fetchAdd(u32, 0, v as number));
      expectArgError(() => m.compareExchange(u32, 0, 0, v as number));
    }
    expectArgError(() => m.readFrom(0, -1, 4), 'ERR_OUT_OF_RANGE');
    expectArgError(() => m.writeTo(0, 0, 1.5), 'ERR_OUT_OF_RANGE');
    expectArgError(() => m.notify(0, -1), 'ERR_OUT_OF_RANGE');
    expect(m.readObj(u32, 0)).toBe(0x55aa55aa);
  });
});
