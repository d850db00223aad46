// The API fuzzer behind fuzz-child.mjs: deterministic random sequences of public API calls
// (valid, boundary and garbage arguments) against a random guest memory with read-only,
// PROT_NONE, 1-byte, file-backed and >4 GiB regions. Every call must return or throw a typed
// error; calls with well-formed arguments on the guest map are also run on a reference model
// (sparse bytes per region, with protections), whose results and error kinds must match; and
// after each sequence the model's bytes must equal guest memory's.
//
// Everything is a pure function of (seed, sequence index), so a failure replays exactly.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applySnapshot,
  loadSnapshot,
  saveSnapshot,
  AtomicBitmap,
  FileOffset,
  GuestMemoryError,
  GuestMemoryMmap,
  GuestRegionMmap,
  MmapRegion,
  VolatileArrayRef,
  VolatileRef,
  VolatileSlice,
  array,
  be32,
  constants,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  le64,
  packed,
  struct,
  u16,
  u32,
  u64,
  u8,
  GUEST_MEMORY_ERROR_KINDS,
} from 'guestmem';
// The addon's own record of each mapping (the built package's internal module, for this check only).
import { native } from '../../dist/src/native.js';

const { PROT_READ, PROT_WRITE, PROT_NONE, MAP_ANONYMOUS, MAP_PRIVATE, MAP_NORESERVE } = constants;
const KINDS = new Set(GUEST_MEMORY_ERROR_KINDS);
const ARG_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']);
/** Hostile objects throw errors with this prefix; such a user error may propagate. */
const HOSTILE = 'fuzz-hostile:';

export function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    next,
    int: (n) => next() % n,
    pick: (a) => a[next() % a.length],
    chance: (p) => next() / 2 ** 32 < p,
  };
}

const Pair = struct([
  ['a', u16],
  ['b', u32],
]);
const Packed = packed([
  ['x', u8],
  ['y', u64],
]);
const Arr = array(u16, 3);
export const SCALARS = [u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, be32, le64];
const ATOMIC = [u8, i8, u16, i16, u32, i32, u64, i64];
const ALL_TYPES = [...SCALARS, Pair, Packed, Arr];

/**
 * Look-alikes of the library's types: every one must be refused with ERR_INVALID_ARG_TYPE (a
 * forged size once aimed accesses outside the checked memory and killed the process).
 */
const FORGED_TYPES = [
  { ...u32, size: -1 },
  { ...u64, size: 1 },
  { ...f64, size: 1 },
  { ...u8, size: 2 ** 31 },
  Object.create(u32, { size: { value: -1 } }),
  Object.create(u64, { size: { value: 1 } }),
  Object.create(Pair, { size: { value: 1 } }),
  { size: -1, scalar: 4, atomic: true, atomicScalar: 4, plainScalar: 4, align: 1, name: 'u32', form: 0 },
];

/** File descriptors past int32: each wraps onto a real fd modulo 2^32, so each must be refused. */
const WRAPPED_FDS = (fds) => [2 ** 31, 2 ** 32 + fds[0], 2 ** 32 + fds[2], -(2 ** 32) + fds[1], 2 ** 53 - 1];

/** Garbage for any argument slot. Built per sequence (some are stateful objects). */
function garbage() {
  return [
    -1,
    -0,
    0.5,
    1.5,
    NaN,
    Infinity,
    -Infinity,
    2 ** 53,
    2 ** 64,
    -(2 ** 31),
    1n,
    -1n,
    2n ** 64n,
    '16',
    '',
    null,
    undefined,
    true,
    {},
    [],
    [1, 2],
    Symbol('fuzz'),
    () => 1,
    new Uint8Array(3),
    new Uint16Array(2),
    new Float64Array(1),
    new DataView(new ArrayBuffer(4)),
    Object.create(null),
    new ArrayBuffer(8),
    new SharedArrayBuffer(8),
    {
      valueOf() {
        throw new Error(`${HOSTILE} valueOf`);
      },
      toString() {
        throw new Error(`${HOSTILE} toString`);
      },
    },
    new Proxy(
      {},
      {
        get() {
          throw new Error(`${HOSTILE} proxy get`);
        },
      },
    ),
  ];
}

/** A random layout: regions with gaps (some adjacent), odd sizes, protections and backings. */
function layout(r, allowHuge) {
  const n = 1 + r.int(4);
  const regions = [];
  let at = r.chance(0.3) ? 0 : r.int(0x3000);
  for (let i = 0; i < n; i++) {
    const size = r.chance(0.15) ? r.pick([1, 2, 3, 7, 8]) : r.pick([4095, 4096, 4097, 0x1000 + r.int(0x3000), 65536]);
    const prot = r.chance(0.15) ? 'ro' : r.chance(0.1) ? 'none' : 'rw';
    const backing = prot === 'rw' && r.chance(0.15) ? 'file' : 'anon';
    regions.push({ base: at, size, prot, backing });
    at += size + (r.chance(0.4) ? 0 : 1 + r.int(0x2000));
  }
  if (allowHuge) {
    // > 4 GiB, sparse (MAP_NORESERVE); placed past the others
    const base = Math.ceil(at / 0x1000) * 0x1000 + 0x10000;
    regions.push({ base, size: 2 ** 32 + 0x3000, prot: 'rw', backing: 'anon' });
  }
  return regions;
}

export class Env {
  constructor(seed, index) {
    this.r = rng((seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
    this.huge = index % 16 === 5;
    this.spec = layout(this.r, this.huge);
    this.dir = mkdtempSync(join(tmpdir(), 'guestmem-fuzz-'));
    this.fds = [];
    this.mem = this.build('m');
    // Hostile calls go to a second map of the same layout, so the first one stays exactly
    // what the model says it is.
    this.scratch = this.build('s');
    this.model = new Model(this.spec);
    const zero = openSync('/dev/zero', 'r');
    const nul = openSync('/dev/null', 'w');
    const file = openSync(join(this.dir, 'io'), 'w+');
    const dirFd = openSync(this.dir, 'r');
    this.fds.push(zero, nul, file, dirFd);
    this.fdPool = [zero, nul, file, dirFd, 987654];
    this.garbage = garbage();
    this.log = [];
  }

  build(tag) {
    const regions = this.spec.map((s, i) => {
      let mapping;
      if (s.backing === 'file') {
        const fd = openSync(join(this.dir, `${tag}${i}`), 'w+');
        this.fds.push(fd);
        ftruncateSync(fd, s.size);
        mapping = MmapRegion.fromFile(new FileOffset(fd, 0), s.size);
      } else {
        const prot = s.prot === 'rw' ? PROT_READ | PROT_WRITE : s.prot === 'ro' ? PROT_READ : PROT_NONE;
        mapping = MmapRegion.build(null, s.size, prot, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE);
      }
      return new GuestRegionMmap(mapping, s.base);
    });
    return GuestMemoryMmap.fromRegions(regions);
  }

  /** An address argument that is certainly invalid (never -0, which is a valid 0). */
  badAddr() {
    return this.r.pick([
      -1,
      0.5,
      NaN,
      Infinity,
      2 ** 53,
      2 ** 64,
      1n,
      '16',
      null,
      undefined,
      {},
      Symbol('a'),
      this.garbage[30],
    ]);
  }

  close() {
    for (const fd of this.fds) closeSync(fd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An address worth trying: region edges, holes, the end, far away. */
  addr() {
    const r = this.r;
    const s = r.pick(this.spec);
    switch (r.int(6)) {
      case 0:
        return s.base;
      case 1:
        return s.base + s.size - 1 - r.int(Math.min(16, s.size));
      case 2:
        return s.base + s.size + r.int(4); // at or just past the end: a hole or the next region
      case 3:
        return s.base + r.int(s.size);
      case 4:
        return s.size > 2 ** 32 ? s.base + 2 ** 32 - 8 + r.int(16) : r.int(0x10000);
      default:
        return r.pick([0, 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53 - 8]);
    }
  }

  len() {
    return this.r.pick([0, 1, 2, 3, 4, 7, 8, 9, 16, 64, 4095, 4096, 4097, this.r.int(0x2400)]);
  }

  /** One argument: mostly well-formed, sometimes garbage. */
  maybe(valid) {
    return this.r.chance(0.12) ? this.r.pick(this.garbage) : valid;
  }

  valueFor(type) {
    const r = this.r;
    if (type === u64 || type === le64) return BigInt(r.next()) * BigInt(r.next() + 1);
    if (type === i64) return BigInt(r.next() | 0) * 4096n;
    if (type === f32) return Math.fround((r.next() | 0) / 8);
    if (type === f64) return (r.next() | 0) / 3;
    if (type === i8) return (r.next() << 24) >> 24;
    if (type === i16) return (r.next() << 16) >> 16;
    if (type === i32) return r.next() | 0;
    if (type === Pair) return { a: r.int(65536), b: r.next() };
    if (type === Packed) return { x: r.int(256), y: BigInt(r.next()) };
    if (type === Arr) return [r.int(65536), r.int(65536), r.int(65536)];
    return r.next() % 2 ** (type.size * 8);
  }

  bytes(n) {
    return Uint8Array.from({ length: n }, () => this.r.int(256));
  }
}

// ---- the reference model ------------------------------------------------------------------

class Fail {
  constructor(kind, completed) {
    this.kind = kind;
    this.completed = completed;
  }
}

class Model {
  constructor(spec) {
    this.regions = spec.map((s) => ({
      base: s.base,
      size: s.size,
      readable: s.prot !== 'none',
      writable: s.prot === 'rw',
      bytes: new Map(),
    }));
  }

  find(addr) {
    return this.regions.find((g) => addr >= g.base && addr < g.base + g.size);
  }

  get(g, off) {
    return g.bytes.get(off) ?? 0;
  }

  /** try_access: region by region, protection checked as each region is entered. */
  walk(addr, count, write, f) {
    if (count === 0) return 0;
    let g = this.find(addr);
    if (!g) throw new Fail('InvalidGuestAddress');
    let done = 0;
    for (;;) {
      if (write ? !g.writable : !g.readable) throw new Fail('AccessDenied', done);
      const off = addr + done - g.base;
      const n = Math.min(g.size - off, count - done);
      for (let i = 0; i < n; i++) f(g, off + i, done + i);
      done += n;
      if (done === count) return done;
      g = this.find(addr + done);
      if (!g) return done;
    }
  }

  write(buf, addr) {
    return this.walk(addr, buf.length, true, (g, off, i) => g.bytes.set(off, buf[i]));
  }

  read(out, addr) {
    return this.walk(addr, out.length, false, (g, off, i) => (out[i] = this.get(g, off)));
  }

  writeSlice(buf, addr) {
    const n = this.write(buf, addr);
    if (n !== buf.length) throw new Fail('PartialBuffer', n);
  }

  readSlice(out, addr) {
    const n = this.read(out, addr);
    if (n !== out.length) throw new Fail('PartialBuffer', n);
  }

  readObj(type, addr) {
    const b = new Uint8Array(type.size);
    this.readSlice(b, addr);
    return type.decode(new DataView(b.buffer), 0);
  }

  writeObj(type, value, addr) {
    const b = new Uint8Array(type.size);
    type.encode(new DataView(b.buffer), 0, value);
    this.writeSlice(b, addr);
  }

  target(type, addr, write) {
    const g = this.find(addr);
    if (!g) throw new Fail('InvalidGuestAddress');
    const off = addr - g.base;
    if (off + type.size > g.size) throw new Fail('InvalidBackendAddress');
    // GUESTMEM_FUZZ_SELFTEST breaks the model on purpose, to test the failure report and replay.
    if (off % type.size !== 0 && !process.env.GUESTMEM_FUZZ_SELFTEST) throw new Fail('Misaligned');
    if (write ? !g.writable : !g.readable) throw new Fail('AccessDenied');
    return [g, off];
  }

  loadAt(type, g, off) {
    const b = Uint8Array.from({ length: type.size }, (_, i) => this.get(g, off + i));
    return type.decode(new DataView(b.buffer), 0);
  }

  storeAt(type, g, off, v) {
    const b = new Uint8Array(type.size);
    type.encode(new DataView(b.buffer), 0, v);
    b.forEach((x, i) => g.bytes.set(off + i, x));
  }

  load(type, addr) {
    const [g, off] = this.target(type, addr, false);
    return this.loadAt(type, g, off);
  }

  store(type, v, addr) {
    const [g, off] = this.target(type, addr, true);
    this.storeAt(type, g, off, v);
  }

  rmw(op, type, addr, v) {
    const [g, off] = this.target(type, addr, true);
    const old = this.loadAt(type, g, off);
    const bits = BigInt(type.size * 8);
    const a = BigInt(old);
    const b = BigInt(v);
    const raw = { add: a + b, sub: a - b, and: a & b, or: a | b, xor: a ^ b, exchange: b }[op];
    const wrapped = type.scalar % 2 === 1 ? BigInt.asIntN(Number(bits), raw) : BigInt.asUintN(Number(bits), raw);
    this.storeAt(type, g, off, typeof old === 'bigint' ? wrapped : Number(wrapped));
    return old;
  }

  compareExchange(type, addr, expected, replacement) {
    const [g, off] = this.target(type, addr, true);
    const old = this.loadAt(type, g, off);
    if (old === expected) this.storeAt(type, g, off, replacement);
    return old;
  }

  /** The model's bytes of region g, for the final comparison. */
  image(g) {
    const b = new Uint8Array(g.size);
    for (const [off, v] of g.bytes) b[off] = v;
    return b;
  }
}

// ---- one call -----------------------------------------------------------------------------

const snake = (k) =>
  k
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();

/** What a call did: { ok: value } or { err: kind | code }; throws if the error is untyped. */
function outcome(f) {
  try {
    const v = f();
    return { ok: v instanceof Uint8Array ? [...v] : v };
  } catch (e) {
    if (e instanceof Fail) return { err: e.kind };
    if (e instanceof GuestMemoryError) {
      if (!KINDS.has(e.kind) || e.code !== `ERR_GUESTMEM_${snake(e.kind)}`) {
        throw new Untyped(e, 'GuestMemoryError with an unknown kind or code');
      }
      return { err: e.kind };
    }
    if ((e instanceof TypeError || e instanceof RangeError) && ARG_CODES.has(e.code)) return { err: e.code };
    if (e instanceof Error && e.message.startsWith(HOSTILE)) return { err: 'hostile' };
    throw new Untyped(e, 'untyped error');
  }
}

/**
 * The path of a typed array, DataView or SharedArrayBuffer over a guestmem mapping that may not
 * be written, reachable from `value` through data properties and getters; null if none.
 * Writing through such a view would fault the process, so no public object may lead to one.
 */
function protectedView(value) {
  const seen = new Set();
  let budget = 400;
  const walk = (v, path, depth) => {
    if (typeof v !== 'object' || v === null || seen.has(v) || depth > 5 || --budget < 0) return null;
    seen.add(v);
    const buf = v instanceof SharedArrayBuffer ? v : ArrayBuffer.isView(v) ? v.buffer : null;
    if (buf !== null) {
      const info = native.describe(buf);
      return info !== null && (info[0] & PROT_WRITE) === 0 ? path : null;
    }
    for (const key of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      const hit = d && 'value' in d ? walk(d.value, `${path}.${String(key)}`, depth + 1) : null;
      if (hit) return hit;
    }
    for (let p = Object.getPrototypeOf(v); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const key of Reflect.ownKeys(p)) {
        const d = Object.getOwnPropertyDescriptor(p, key);
        if (!d?.get) continue;
        let got;
        try {
          got = d.get.call(v);
        } catch {
          continue;
        }
        const hit = walk(got, `${path}.${String(key)}`, depth + 1);
        if (hit) return hit;
      }
    }
    return null;
  };
  return walk(value, 'result', 0);
}

export class Untyped extends Error {
  constructor(cause, why) {
    super(`${why}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    this.cause = cause;
  }
}

export class Mismatch extends Error {}

const show = (v) => {
  try {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'symbol') return 'Symbol()';
    if (typeof v === 'function') return 'fn';
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength})`;
    if (v && typeof v === 'object') {
      const cls = v.constructor?.name;
      if (cls === 'ValueType') return v.name;
      if (cls && cls !== 'Object' && cls !== 'Array') return cls;
      const json = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? 'object';
      return json.length > 120 ? `${json.slice(0, 117)}...` : json;
    }
    return Object.is(v, -0) ? '-0' : String(v);
  } catch {
    return 'hostile';
  }
};

/**
 * Differential ops on the guest map: both sides get the same well-formed arguments. One call in
 * ten gets a certainly invalid address instead: it must fail with an argument error and write
 * nothing (the model is not run, so the final byte comparison catches any write).
 */
function differential(env) {
  const { r, mem, model } = env;
  const bad = r.chance(0.1);
  const addr = bad ? env.badAddr() : env.addr();
  const step = pick(env, r, mem, model, addr);
  if (bad) step[3] = null;
  step.push(bad);
  return step;
}

function pick(env, r, mem, model, addr) {
  switch (r.int(12)) {
    case 0: {
      const b = env.bytes(env.len());
      return ['write', [b, addr], () => mem.write(b, addr), () => model.write(b, addr)];
    }
    case 1: {
      const n = env.len();
      const a = new Uint8Array(n);
      const b = new Uint8Array(n);
      return ['read', [n, addr], () => [mem.read(a, addr), ...a], () => [model.read(b, addr), ...b]];
    }
    case 2: {
      const b = env.bytes(env.len());
      return ['writeSlice', [b, addr], () => mem.writeSlice(b, addr), () => model.writeSlice(b, addr)];
    }
    case 3: {
      const n = env.len();
      const a = new Uint8Array(n);
      const b = new Uint8Array(n);
      return ['readSlice', [n, addr], () => (mem.readSlice(a, addr), [...a]), () => (model.readSlice(b, addr), [...b])];
    }
    case 4: {
      const t = r.pick(ALL_TYPES);
      const v = env.valueFor(t);
      return ['writeObj', [t, v, addr], () => mem.writeObj(t, v, addr), () => model.writeObj(t, v, addr)];
    }
    case 5: {
      const t = r.pick(ALL_TYPES);
      return ['readObj', [t, addr], () => mem.readObj(t, addr), () => model.readObj(t, addr)];
    }
    case 6: {
      const t = r.pick(SCALARS);
      const v = env.valueFor(t);
      // unordered: same semantics as writeObj/readObj for scalars
      return r.chance(0.5)
        ? ['writeUnordered', [t, v, addr], () => mem.writeUnordered(t, v, addr), () => model.writeObj(t, v, addr)]
        : ['readUnordered', [t, addr], () => mem.readUnordered(t, addr), () => model.readObj(t, addr)];
    }
    case 7: {
      const t = r.pick(ATOMIC);
      return ['load', [t, addr], () => mem.load(t, addr), () => model.load(t, addr)];
    }
    case 8: {
      const t = r.pick(ATOMIC);
      const v = env.valueFor(t);
      return ['store', [t, v, addr], () => mem.store(t, v, addr), () => model.store(t, v, addr)];
    }
    case 9:
    case 10: {
      const t = r.pick(ATOMIC);
      const v = env.valueFor(t);
      const op = r.pick(['add', 'sub', 'and', 'or', 'xor', 'exchange']);
      const name = op === 'exchange' ? 'exchange' : `fetch${op[0].toUpperCase()}${op.slice(1)}`;
      return [name, [t, addr, v], () => mem[name](t, addr, v), () => model.rmw(op, t, addr, v)];
    }
    default: {
      const t = r.pick(ATOMIC);
      // expected: half the time the current value, so the swap happens
      let cur;
      try {
        cur = model.load(t, addr);
      } catch {
        cur = env.valueFor(t);
      }
      const expected = r.chance(0.5) ? cur : env.valueFor(t);
      const repl = env.valueFor(t);
      return [
        'compareExchange',
        [t, addr, expected, repl],
        () => mem.compareExchange(t, addr, expected, repl),
        () => model.compareExchange(t, addr, expected, repl),
      ];
    }
  }
}

/** Crash-freedom ops: any public method of any container, arguments often garbage. */
function hostile(env) {
  const { r } = env;
  const mem = env.scratch;
  const m = env.maybe.bind(env);
  const region = r.pick([...mem.iter()]);
  let slice;
  try {
    slice = region.mapping.prot & PROT_READ ? region.getSlice(0, Math.min(region.len, 64)) : undefined;
  } catch {
    slice = undefined;
  }
  // a forged type or a wrapped fd makes the call `bad`: only an argument error will do
  let bad = false;
  const t = () => {
    if (!r.chance(0.06)) return m(r.pick(ALL_TYPES));
    bad = true;
    return r.pick(FORGED_TYPES);
  };
  const at = () => m(env.addr());
  const n = () => m(env.len());
  const fd = () => {
    if (!r.chance(0.1)) return m(r.pick(env.fdPool));
    bad = true;
    return r.pick(WRAPPED_FDS(env.fdPool));
  };
  const safe = (f) => {
    try {
      return f();
    } catch {
      return undefined; // too short for a ref: no target this time
    }
  };
  const target = r.pick([
    mem,
    region,
    region.mapping,
    slice,
    safe(() => slice.getRef(u32, 0)),
    safe(() => slice.getArrayRef(u16, 0, 8)),
  ]);
  const calls = {
    guest: [
      ['write', () => [m(env.bytes(env.len())), at()]],
      ['read', () => [m(new Uint8Array(env.len())), at()]],
      ['writeSlice', () => [m(env.bytes(env.len())), at()]],
      ['readSlice', () => [m(new Uint8Array(env.len())), at()]],
      ['readObj', () => [t(), at()]],
      ['writeObj', () => [t(), m(env.valueFor(r.pick(SCALARS))), at()]],
      ['load', () => [t(), at()]],
      ['store', () => [t(), m(r.next()), at()]],
      ['fetchAdd', () => [t(), at(), m(r.next() & 0xff)]],
      ['fetchSub', () => [t(), at(), m(1)]],
      ['fetchAnd', () => [t(), at(), m(0xf0)]],
      ['fetchOr', () => [t(), at(), m(1n)]],
      ['fetchXor', () => [t(), at(), m(-1)]],
      ['exchange', () => [t(), at(), m(0)]],
      ['compareExchange', () => [t(), at(), m(0), m(1)]],
      // timeouts stay short: a matching value with no timeout would legitimately block
      ['wait', () => [m(r.pick([i32, i64])), at(), m(r.pick([0, 1, 0n, -1])), r.pick([0, 1, -1, NaN, 'x', 2.5, 1n])]],
      ['notify', () => [at(), m(r.int(3))]],
      ['readFrom', () => [at(), fd(), n()]],
      ['readExactFrom', () => [at(), fd(), n()]],
      ['writeTo', () => [at(), fd(), n()]],
      ['writeAllTo', () => [at(), fd(), n()]],
    ],
    mapOnly: [
      ['readUnordered', () => [t(), at()]],
      ['writeUnordered', () => [t(), m(env.valueFor(r.pick(SCALARS))), at()]],
      ['getSlice', () => [at(), n()]],
      ['getSlices', () => [at(), n()]],
      ['checkAddress', () => [at()]],
      ['checkedOffset', () => [at(), m(r.int(0x3000))]],
      ['checkRange', () => [at(), n()]],
      ['findRegion', () => [at()]],
      ['addressInRange', () => [at()]],
      ['toRegionAddr', () => [at()]],
      ['tryAccess', () => [n(), at(), m((off, count) => count)]],
      ['dirtyPages', () => [m({ reset: r.chance(0.5) })]],
      ['removeRegion', () => [at(), n()]],
      ['insertRegion', () => [m(new GuestRegionMmap(MmapRegion.create(1 + r.int(0x2000)), env.addr()))]],
    ],
    region: [
      ['getSlice', () => [m(r.int(0x3000)), n()]],
      ['checkAddress', () => [at()]],
      ['checkedOffset', () => [at(), m(r.int(0x3000))]],
      ['addressInRange', () => [at()]],
      ['toRegionAddr', () => [at()]],
      ['asVolatileSlice', () => []],
    ],
    mapping: [
      ['getSlice', () => [m(r.int(0x3000)), n()]],
      ['getRef', () => [t(), m(r.int(0x3000))]],
      ['getArrayRef', () => [t(), m(r.int(0x3000)), m(r.pick([0, 1, 4, 2 ** 52]))]],
      ['asVolatileSlice', () => []],
      ['flush', () => []],
      ['fdsOverlap', () => [m(region.mapping)]],
    ],
    slice: [
      ['getSlice', () => [m(r.int(80)), m(r.int(80))]],
      ['subslice', () => [m(r.int(80)), m(r.int(80))]],
      ['offset', () => [m(r.int(80))]],
      ['splitAt', () => [m(r.int(80))]],
      ['getRef', () => [t(), m(r.int(80))]],
      ['getArrayRef', () => [t(), m(r.int(80)), m(r.int(40))]],
      ['copyTo', () => [m(new Uint8Array(r.int(100)))]],
      ['copyFrom', () => [m(env.bytes(r.int(100)))]],
      ['copyToVolatileSlice', () => [m(slice)]],
    ],
    ref: [
      ['load', () => []],
      ['store', () => [m(r.next())]],
      ['toSlice', () => []],
    ],
    arrayRef: [
      ['load', () => [m(r.int(10))]],
      ['store', () => [m(r.int(10)), m(r.int(70000))]],
      ['ref', () => [m(r.int(10))]],
      ['copyTo', () => [m(r.pick([[], new Array(9), new Uint16Array(8), new Uint8Array(8)]))]],
      ['copyFrom', () => [m(r.pick([[1, 2, 3], new Uint16Array(8), [1, 'x'], [70000]]))]],
    ],
  };
  let list;
  let who;
  if (target === mem) [list, who] = [[...calls.guest, ...calls.mapOnly], 'mem'];
  else if (target instanceof GuestRegionMmap) [list, who] = [[...calls.guest, ...calls.region], 'region'];
  else if (target instanceof MmapRegion) [list, who] = [calls.mapping, 'mapping'];
  else if (target instanceof VolatileSlice) [list, who] = [[...calls.guest, ...calls.slice], 'slice'];
  else if (target instanceof VolatileRef) [list, who] = [calls.ref, 'ref'];
  else if (target instanceof VolatileArrayRef) [list, who] = [calls.arrayRef, 'arrayRef'];
  else return null;
  const [name, args] = r.pick(list);
  const a = args();
  return [`${who}.${name}`, a, () => target[name](...a), null, bad];
}

/** One random forgery of a share() descriptor (a structured clone, as a worker would get). */
function mutateDescriptor(r, shared) {
  const d = structuredClone(shared);
  const i = r.int(d.regions.length);
  const g = d.regions[i];
  // a protected mapping travels as a share token and has no buffer to measure
  const size = g.mapping.buffer?.byteLength ?? g.mapping.bitmap?.byteSize ?? 4096;
  switch (r.int(9)) {
    case 0:
      g.mapping.prot = r.pick([3, '3', 7, -1]);
      break;
    case 1:
      // a foreign buffer in place of the mapping's, or a forged token
      if (g.mapping.token && r.int(2)) g.mapping.token = new SharedArrayBuffer(8);
      else g.mapping.buffer = new SharedArrayBuffer(size);
      break;
    case 2:
      g.mapping.hostAddress = r.pick([0n, g.mapping.hostAddress + 4096n, 1, null]);
      break;
    case 3:
      d.regions.push({ ...g, guestBase: 2 ** 52 });
      break;
    case 4:
      g.guestBase = r.pick([-1, 0.5, 2 ** 53, g.guestBase + 1]);
      break;
    case 5:
      g.mapping.flags = r.pick([0, 0x100000, '34']);
      break;
    case 6: {
      // a foreign bitmap of the right geometry, a wrong page size, or none at all
      const words = Math.max(4, Math.ceil(Math.ceil(size / 4096) / 32) * 4);
      const foreign = {
        words: new SharedArrayBuffer(words),
        epoch: new SharedArrayBuffer(4),
        byteSize: size,
        pageSize: 4096,
      };
      const pick = r.int(3);
      if (pick === 0) g.mapping.bitmap = foreign;
      else if (pick === 1 && g.mapping.bitmap) g.mapping.bitmap = { ...g.mapping.bitmap, pageSize: 8192 };
      else if (g.mapping.bitmap) delete g.mapping.bitmap;
      else g.mapping.bitmap = foreign;
      break;
    }
    case 7:
      d.regions[i] = r.pick([null, 7, {}, { guestBase: 0 }]);
      break;
    default:
      d.descriptor = 'guestmem.Other';
  }
  return d;
}

/** Static and constructor calls with hostile arguments. */
function constructors(env) {
  const { r } = env;
  const m = env.maybe.bind(env);
  const choices = [
    ['MmapRegion.create', () => [m(r.pick([1, 4096, 0, 2 ** 40]))], (a) => MmapRegion.create(...a)],
    [
      'MmapRegion.build',
      () => [
        m(r.chance(0.5) ? null : new FileOffset(r.pick(env.fdPool), m(r.int(8192)))),
        m(r.pick([1, 4096, 0])),
        m(r.pick([PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE, -1, 0x100])),
        m(r.pick([MAP_ANONYMOUS | MAP_PRIVATE, constants.MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, 0, MAP_PRIVATE])),
      ],
      (a) => MmapRegion.build(...a),
    ],
    [
      'new FileOffset',
      () => [m(r.pick(env.fdPool)), m(r.pick([0, 2n ** 64n - 1n, 2n ** 64n, -1]))],
      (a) => new FileOffset(...a),
    ],
    ['GuestMemoryMmap.fromRanges', () => [m([[m(env.addr()), m(env.len())]])], (a) => GuestMemoryMmap.fromRanges(...a)],
    [
      'GuestMemoryMmap.fromRanges(2)',
      () => [
        [
          [m(0), m(100)],
          [m(r.pick([99, 100, 0])), m(100)],
        ],
      ],
      (a) => GuestMemoryMmap.fromRanges(...a),
    ],
    [
      'GuestMemoryMmap.fromShared',
      () => [m(r.chance(0.5) ? env.scratch.share() : {})],
      (a) => GuestMemoryMmap.fromShared(...a),
    ],
    [
      // a share() descriptor with one field forged: refused with an argument error, or (for
      // harmless edits such as a new guest base) a map whose regions keep their real protection
      'GuestMemoryMmap.fromShared(mutated)',
      () => [mutateDescriptor(r, env.scratch.share())],
      (a) => {
        const got = GuestMemoryMmap.fromShared(...a);
        const real = new Map([...env.scratch.iter()].map((g) => [g.mapping.hostAddress, g.mapping.prot]));
        const bitmaps = new Map([...env.scratch.iter()].map((g) => [g.mapping.hostAddress, g.mapping.bitmap]));
        for (const g of got.iter()) {
          if (real.has(g.mapping.hostAddress) && real.get(g.mapping.hostAddress) !== g.mapping.prot)
            throw new Error(`${HOSTILE} a descriptor changed a mapping's protection`);
          const own = bitmaps.get(g.mapping.hostAddress);
          if (own !== undefined && (own === null) !== (g.mapping.bitmap === null))
            throw new Error(`${HOSTILE} a descriptor added or dropped a dirty bitmap`);
          if (own && own.pageSize !== g.mapping.bitmap.pageSize)
            throw new Error(`${HOSTILE} a descriptor changed a dirty bitmap's page size`);
        }
        return got;
      },
    ],
    [
      'new GuestRegionMmap',
      () => [m(MmapRegion.create(16)), m(r.pick([0, 2 ** 53 - 8, 2 ** 53]))],
      (a) => new GuestRegionMmap(...a),
    ],
    ['new AtomicBitmap', () => [m(r.int(100000)), m(r.pick([8, 4096, 3, 0]))], (a) => new AtomicBitmap(...a)],
    ['struct', () => [m([['a', m(u8)]])], (a) => struct(...a)],
    ['array', () => [m(u32), m(r.pick([0, 1, 2 ** 40, -1]))], (a) => array(...a)],
  ];
  const [name, args, call] = r.pick(choices);
  const a = args();
  return [name, a, () => call(a)];
}

/**
 * Runs sequence `index` of `seed` with `ops` calls. Returns per-outcome counts; throws Untyped
 * or Mismatch (with `.log`, the calls so far, for the replay) on a failure.
 */
export function runSequence(seed, index, ops, stats) {
  const env = new Env(seed, index);
  try {
    for (let k = 0; k < ops; k++) {
      const mode = env.r.int(10);
      let step;
      try {
        step = mode < 6 ? differential(env) : mode < 9 ? hostile(env) : constructors(env);
      } catch (e) {
        // building the arguments already called the API (a FileOffset, a region): same rules
        step = [
          '(argument construction)',
          [],
          () => {
            throw e;
          },
        ];
      }
      if (step === null) continue;
      const [name, args, real, ref, bad] = step;
      env.log.push(`${name}(${args.map(show).join(', ')})`);
      let got;
      // every 8th call: its result must not lead to a view of a read-only or PROT_NONE mapping
      const hunt = stats.calls % 8 === 0;
      const checked = () => {
        const v = real();
        const path = hunt && !name.includes('share') ? protectedView(v) : null;
        if (path !== null)
          throw new Mismatch(`${name} returned an object leading to a protected mapping's view: ${path}`);
        return v;
      };
      try {
        got = outcome(checked);
      } catch (e) {
        e.log = env.log;
        throw e;
      }
      stats.calls++;
      if (bad && !(got.err === 'ERR_INVALID_ARG_TYPE' || got.err === 'ERR_OUT_OF_RANGE' || got.err === 'hostile')) {
        const e = new Mismatch(`${name} with an invalid argument gave ${show(got)}, not an argument error`);
        e.log = env.log;
        throw e;
      }
      const key = got.err ?? 'ok';
      stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
      if (ref) {
        const want = outcome(ref);
        if (!same(got, want)) {
          const e = new Mismatch(`${name}: guestmem gave ${show(got)}, the model ${show(want)}`);
          e.log = env.log;
          throw e;
        }
        stats.compared++;
      }
    }
    // nothing any failed call did may have written memory: every byte matches the model
    for (const [i, g] of env.model.regions.entries()) {
      if (!g.readable || g.size > 1 << 20) continue;
      const region = [...env.mem.iter()][i];
      const got = new Uint8Array(g.size);
      region.readSlice(got, 0);
      const want = env.model.image(g);
      const at = got.findIndex((v, j) => v !== want[j]);
      if (at >= 0) {
        const e = new Mismatch(`region ${i} byte ${at}: guestmem ${got[at]}, model ${want[at]}`);
        e.log = env.log;
        throw e;
      }
    }
    stats.sequences++;
  } finally {
    env.close();
  }
}

function same(a, b) {
  const norm = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : Number.isNaN(v) ? 'NaN' : v));
  return norm(a) === norm(b);
}

/**
 * Damaged snapshot files: a small map with dirty tracking is saved (full, then incremental),
 * the file gets 1-3 flipped bits, a truncation or a spliced tail, and applying or loading it
 * must fail with ERR_SNAPSHOT_FORMAT and leave the target memory exactly as it was.
 */
export async function snapshotDamage(seed, index) {
  const r = rng(seed * 7919 + index);
  const dir = mkdtempSync(join(tmpdir(), 'guestmem-fuzzsnap-'));
  try {
    const ranges = [
      [0, 0x2000 + r.int(0x4000)],
      [0x10000, 0x1000 + r.int(0x3000)],
    ];
    const mem = GuestMemoryMmap.fromRanges(ranges, { trackDirty: true });
    for (let k = 0; k < 64; k++) {
      const g = r.pick(ranges);
      mem.store(u8, r.int(256), g[0] + r.int(g[1]));
    }
    const path = join(dir, 'a.snap');
    const incremental = r.chance(0.5);
    if (incremental) {
      await saveSnapshot(mem, join(dir, 'base.snap'));
      for (let k = 0; k < 8; k++) mem.store(u8, 0xee, ranges[0][0] + r.int(ranges[0][1]));
    }
    await saveSnapshot(mem, path, { incremental });
    const bytes = readFileSync(path);
    let bad;
    switch (r.int(4)) {
      case 0:
        bad = bytes.subarray(0, r.int(bytes.length));
        break;
      case 1:
        bad = Buffer.concat([bytes, Buffer.from([r.int(256)])]);
        break;
      default: {
        bad = Buffer.from(bytes);
        for (let k = 1 + r.int(3); k > 0; k--) bad[r.int(bad.length)] ^= 1 << r.int(8);
        if (bad.equals(bytes)) bad[0] ^= 1; // two flips of one bit cancel out
      }
    }
    writeFileSync(path, bad);
    const target = GuestMemoryMmap.fromRanges(ranges);
    target.store(u32, 0x5a5a5a5a, 0);
    const before = [...target.iter()].map((g) => {
      const b = new Uint8Array(g.len);
      g.readSlice(b, 0);
      return b;
    });
    for (const attempt of [() => applySnapshot(target, path), () => loadSnapshot(path)]) {
      let err = null;
      try {
        await attempt();
      } catch (e) {
        err = e;
      }
      // loading an incremental snapshot is refused as a format error too
      if (err?.code !== 'ERR_SNAPSHOT_FORMAT') {
        throw new Error(`damaged snapshot (sequence ${index}): ${err === null ? 'accepted' : String(err)}`);
      }
    }
    [...target.iter()].forEach((g, i) => {
      const b = new Uint8Array(g.len);
      g.readSlice(b, 0);
      if (!Buffer.from(b).equals(Buffer.from(before[i])))
        throw new Error(`damaged snapshot (sequence ${index}) changed memory`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
