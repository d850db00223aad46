// Random operation sequences on a random region map, run on GuestMemoryMmap and on a plain
// reference model (one byte array per region); results, error kinds and final bytes must match.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemoryError, GuestMemoryMmap, u8, u16, u32, u64, i32, be32, f64, type ValueType } from '../src/index.js';

interface ModelRegion {
  start: number;
  bytes: Uint8Array;
}

/** The reference: vm-memory's semantics spelled out over plain arrays. */
class Model {
  constructor(readonly regions: ModelRegion[]) {}

  find(addr: number): ModelRegion | undefined {
    return this.regions.find((r) => addr >= r.start && addr < r.start + r.bytes.length);
  }

  /** Bytes accessible contiguously from addr (across adjacent regions), up to count. */
  private walk(addr: number, count: number, f: (r: ModelRegion, off: number, done: number) => void): number {
    if (count === 0) return 0;
    if (!this.find(addr)) throw fail('InvalidGuestAddress');
    let done = 0;
    while (done < count) {
      const r = this.find(addr + done);
      if (!r) break;
      f(r, addr + done - r.start, done);
      done++;
    }
    return done;
  }

  write(buf: Uint8Array, addr: number): number {
    return this.walk(addr, buf.length, (r, off, i) => (r.bytes[off] = buf[i]!));
  }

  read(n: number, addr: number): [number, number[]] {
    const out: number[] = [];
    const done = this.walk(addr, n, (r, off) => out.push(r.bytes[off]!));
    return [done, out];
  }

  writeSlice(buf: Uint8Array, addr: number): void {
    const done = this.write(buf, addr);
    if (done !== buf.length) throw fail('PartialBuffer', done);
  }

  readSlice(n: number, addr: number): number[] {
    const [done, out] = this.read(n, addr);
    if (done !== n) throw fail('PartialBuffer', done);
    return out;
  }

  encode(type: ValueType<unknown>, v: unknown): Uint8Array {
    const b = new Uint8Array(type.size);
    const dv = new DataView(b.buffer);
    if (type === u8) dv.setUint8(0, v as number);
    else if (type === u16) dv.setUint16(0, v as number, true);
    else if (type === u32) dv.setUint32(0, v as number, true);
    else if (type === i32) dv.setInt32(0, v as number, true);
    else if (type === be32) dv.setUint32(0, v as number, false);
    else if (type === f64) dv.setFloat64(0, v as number, true);
    else dv.setBigUint64(0, v as bigint, true);
    return b;
  }

  decode(type: ValueType<unknown>, b: Uint8Array): unknown {
    const dv = new DataView(Uint8Array.from(b).buffer);
    if (type === u8) return dv.getUint8(0);
    if (type === u16) return dv.getUint16(0, true);
    if (type === u32) return dv.getUint32(0, true);
    if (type === i32) return dv.getInt32(0, true);
    if (type === be32) return dv.getUint32(0, false);
    if (type === f64) return dv.getFloat64(0, true);
    return dv.getBigUint64(0, true);
  }

  writeObj(type: ValueType<unknown>, v: unknown, addr: number): void {
    this.writeSlice(this.encode(type, v), addr);
  }

  readObj(type: ValueType<unknown>, addr: number): unknown {
    return this.decode(type, Uint8Array.from(this.readSlice(type.size, addr)));
  }

  atomic(type: ValueType<unknown>, addr: number): [ModelRegion, number] {
    const r = this.find(addr);
    if (!r) throw fail('InvalidGuestAddress');
    const off = addr - r.start;
    if (off + type.size > r.bytes.length) throw fail('InvalidBackendAddress');
    if (off % type.size !== 0) throw fail('Misaligned');
    return [r, off];
  }

  load(type: ValueType<unknown>, addr: number): unknown {
    const [r, off] = this.atomic(type, addr);
    return this.decode(type, r.bytes.subarray(off, off + type.size));
  }

  store(type: ValueType<unknown>, v: unknown, addr: number): void {
    const [r, off] = this.atomic(type, addr);
    r.bytes.set(this.encode(type, v), off);
  }

  fetchAdd32(addr: number, v: number): number {
    const old = this.load(u32, addr) as number;
    this.store(u32, (old + v) >>> 0, addr);
    return old;
  }
}

class Failure {
  constructor(
    readonly kind: string,
    readonly completed?: number,
  ) {}
}
const fail = (kind: string, completed?: number) => new Failure(kind, completed);

function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof Failure) return { err: e.kind, completed: e.completed };
    if (e instanceof GuestMemoryError) return { err: e.kind, completed: e.completed };
    throw e;
  }
}

const layoutArb = fc
  .array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x3000 })),
      size: fc.integer({ min: 1, max: 0x2400 }),
    }),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .map((parts) => {
    let at = 0;
    return parts.map(({ gap, size }) => {
      const start = at + gap;
      at = start + size;
      return [start, size] as [number, number];
    });
  });

const scalarTypes = [u8, u16, u32, i32, be32, u64, f64] as ValueType<unknown>[];
const valueFor = (t: ValueType<unknown>, seed: number): unknown =>
  t === u64
    ? BigInt(seed) * 0x100000001n
    : t === f64
      ? seed / 7
      : t === i32
        ? (seed | 0) - 0x4000
        : seed % 2 ** (t.size * 8);

type Op =
  | { op: 'write'; addr: number; len: number; seed: number }
  | { op: 'read'; addr: number; len: number }
  | { op: 'writeSlice'; addr: number; len: number; seed: number }
  | { op: 'readSlice'; addr: number; len: number }
  | { op: 'writeObj' | 'writeUnordered' | 'store'; addr: number; t: number; seed: number }
  | { op: 'readObj' | 'readUnordered' | 'load'; addr: number; t: number }
  | { op: 'fetchAdd'; addr: number; seed: number };

function opArb(limit: number): fc.Arbitrary<Op> {
  const addr = fc.integer({ min: 0, max: limit });
  const len = fc.integer({ min: 0, max: 0x1800 });
  const seed = fc.integer({ min: 0, max: 0x7fffffff });
  const t = fc.integer({ min: 0, max: scalarTypes.length - 1 });
  return fc.oneof(
    fc.record({ op: fc.constant('write' as const), addr, len, seed }),
    fc.record({ op: fc.constant('read' as const), addr, len }),
    fc.record({ op: fc.constant('writeSlice' as const), addr, len, seed }),
    fc.record({ op: fc.constant('readSlice' as const), addr, len }),
    fc.record({ op: fc.constant('writeObj' as const), addr, t, seed }),
    fc.record({ op: fc.constant('readObj' as const), addr, t }),
    fc.record({ op: fc.constant('writeUnordered' as const), addr, t, seed }),
    fc.record({ op: fc.constant('readUnordered' as const), addr, t }),
    fc.record({ op: fc.constant('store' as const), addr, t: fc.integer({ min: 0, max: 3 }), seed }),
    fc.record({ op: fc.constant('load' as const), addr, t: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ op: fc.constant('fetchAdd' as const), addr: addr.map((a) => a & ~3), seed }),
  );
}

const atomicTypes = [u8, u16, u32, u64] as ValueType<unknown>[];

function run(mem: GuestMemoryMmap, model: Model, o: Op): void {
  const fill = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, i) => (seed + i * 31) & 0xff);
  let real: unknown;
  let ref: unknown;
  switch (o.op) {
    case 'write': {
      const b = fill(o.len, o.seed);
      real = outcome(() => mem.write(b, o.addr));
      ref = outcome(() => model.write(b, o.addr));
      break;
    }
    case 'read': {
      const b = new Uint8Array(o.len);
      real = outcome(() => [mem.read(b, o.addr), [...b]]);
      ref = outcome(() => {
        const [n, bytes] = model.read(o.len, o.addr);
        return [n, [...bytes, ...new Array(o.len - bytes.length).fill(0)]];
      });
      break;
    }
    case 'writeSlice': {
      const b = fill(o.len, o.seed);
      real = outcome(() => mem.writeSlice(b, o.addr));
      ref = outcome(() => model.writeSlice(b, o.addr));
      break;
    }
    case 'readSlice': {
      const b = new Uint8Array(o.len);
      real = outcome(() => (mem.readSlice(b, o.addr), [...b]));
      ref = outcome(() => model.readSlice(o.len, o.addr));
      break;
    }
    case 'writeObj': {
      const t = scalarTypes[o.t]!;
      const v = valueFor(t, o.seed);
      real = outcome(() => mem.writeObj(t, v, o.addr));
      ref = outcome(() => model.writeObj(t, v, o.addr));
      break;
    }
    case 'readObj': {
      const t = scalarTypes[o.t]!;
      real = outcome(() => mem.readObj(t, o.addr));
      ref = outcome(() => model.readObj(t, o.addr));
      break;
    }
    // the unordered accessors have readObj/writeObj's semantics (plain instead of atomic accesses)
    case 'writeUnordered': {
      const t = scalarTypes[o.t]!;
      const v = valueFor(t, o.seed);
      real = outcome(() => mem.writeUnordered(t, v, o.addr));
      ref = outcome(() => model.writeObj(t, v, o.addr));
      break;
    }
    case 'readUnordered': {
      const t = scalarTypes[o.t]!;
      real = outcome(() => mem.readUnordered(t, o.addr));
      ref = outcome(() => model.readObj(t, o.addr));
      break;
    }
    case 'store': {
      const t = atomicTypes[o.t]!;
      const v = valueFor(t, o.seed);
      real = outcome(() => mem.store(t, v, o.addr));
      ref = outcome(() => model.store(t, v, o.addr));
      break;
    }
    case 'load': {
      const t = atomicTypes[o.t]!;
      real = outcome(() => mem.load(t, o.addr));
      ref = outcome(() => model.load(t, o.addr));
      break;
    }
    case 'fetchAdd':
      real = outcome(() => mem.fetchAdd(u32, o.addr, o.seed));
      ref = outcome(() => model.fetchAdd32(o.addr, o.seed));
      break;
  }
  expect(real, JSON.stringify(o)).toEqual(ref);
}

describe('GuestMemoryMmap against a reference model', () => {
  it('random operation sequences give the same results, errors and bytes', () => {
    fc.assert(
      fc.property(
        layoutArb.chain((layout) => {
          const end = layout[layout.length - 1]![0] + layout[layout.length - 1]![1];
          return fc.tuple(fc.constant(layout), fc.array(opArb(end + 0x100), { minLength: 1, maxLength: 40 }));
        }),
        ([layout, ops]) => {
          const mem = GuestMemoryMmap.fromRanges(layout);
          const model = new Model(layout.map(([start, size]) => ({ start, bytes: new Uint8Array(size) })));
          for (const o of ops) run(mem, model, o);
          for (const r of model.regions) {
            const got = new Uint8Array(r.bytes.length);
            mem.readSlice(got, r.start);
            expect(got).toEqual(r.bytes);
          }
        },
      ),
      { numRuns: 150, seed: 0x6e57 },
    );
  });
});
