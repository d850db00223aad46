/**
 * The typed-array views over one mapping's SharedArrayBuffer and the primitive accesses on
 * them, at absolute byte offsets into the mapping. Callers have already checked bounds,
 * alignment and protection; nothing here throws for a valid offset.
 *
 * A typed array on Node 20 holds at most 2^32 elements, so a mapping is cut into chunks of
 * VIEW_CHUNK bytes, each with its own set of views; chunk 0 is what the containers' fast paths use.
 * Naturally aligned accesses never straddle a chunk (VIEW_CHUNK is a multiple of 8); unaligned ones
 * go through one DataView over the whole buffer, which has no such limit.
 *
 * Aligned scalar accesses use Atomics (single, tear-free, never merged or hoisted by the JIT);
 * floats go through their integer bit patterns so they are tear-free too.
 */
import { markRange, type AtomicBitmap } from '../atomic-bitmap.js';
import { native } from '../native.js';
import { S_F32, S_I16, S_I32, S_I8, S_U16, S_U32, S_U64, S_U8, type ValueType } from '../types.js';

export const VIEW_CHUNK = 2 ** 32;

/** The views of one chunk of a mapping, all starting at the chunk's first byte. */
export class Views {
  readonly len: number;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u64: BigUint64Array;
  readonly i64: BigInt64Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;

  constructor(buffer: SharedArrayBuffer, start: number, len: number) {
    this.len = len;
    this.u8 = new Uint8Array(buffer, start, len);
    this.i8 = new Int8Array(buffer, start, len);
    // Plain division: a full chunk is 2^32 bytes, which `>>>` would wrap to 0.
    const n16 = Math.floor(len / 2);
    const n32 = Math.floor(len / 4);
    const n64 = Math.floor(len / 8);
    this.u16 = new Uint16Array(buffer, start, n16);
    this.i16 = new Int16Array(buffer, start, n16);
    this.u32 = new Uint32Array(buffer, start, n32);
    this.i32 = new Int32Array(buffer, start, n32);
    this.u64 = new BigUint64Array(buffer, start, n64);
    this.i64 = new BigInt64Array(buffer, start, n64);
    this.f32 = new Float32Array(buffer, start, n32);
    this.f64 = new Float64Array(buffer, start, n64);
  }
}

const PROT_READ = 1;
const PROT_WRITE = 2;

/**
 * The raw buffer of a mapping, for the library's own native calls and descriptors. A module
 * function, not a member: internal modules are not reachable through the package's exports.
 */
export let rawBuffer: (hm: HostMemory) => SharedArrayBuffer;

/** Everything JavaScript needs to access one mapping. */
export class HostMemory {
  /** The mapping's buffer: private, so no object reachable from the API hands it out. */
  readonly #buffer: SharedArrayBuffer;
  readonly size: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly dv: DataView;
  readonly chunks: readonly Views[];
  readonly c0: Views;
  /** Dirty tracking, if on: the bitmap, its words (null when off) and log2(page size). */
  readonly bitmap: AtomicBitmap | null;
  readonly dirty: Int32Array | null;
  readonly pageShift: number;

  static {
    rawBuffer = (hm) => hm.#buffer;
  }

  constructor(buffer: SharedArrayBuffer, prot: number, bitmap: AtomicBitmap | null = null) {
    this.bitmap = bitmap;
    this.dirty = bitmap === null ? null : bitmap.words;
    this.pageShift = bitmap === null ? 0 : bitmap.shift;
    this.#buffer = buffer;
    this.size = buffer.byteLength;
    // Linux: a writable mapping is also readable on every architecture we build for, but the
    // contract follows the requested protection, not the hardware's rounding up.
    this.readable = (prot & PROT_READ) !== 0;
    this.writable = this.readable && (prot & PROT_WRITE) !== 0;
    // A PROT_NONE mapping gets views over nothing: every access to it is refused before any
    // view is used, and a view over it would fault the process if one were ever touched.
    const viewed = this.readable ? buffer : new SharedArrayBuffer(0);
    this.dv = new DataView(viewed);
    const chunks: Views[] = [];
    for (let start = 0; start === 0 || start < viewed.byteLength; start += VIEW_CHUNK) {
      chunks.push(new Views(viewed, start, Math.min(VIEW_CHUNK, viewed.byteLength - start)));
    }
    this.chunks = chunks;
    this.c0 = chunks[0]!;
  }
}

/** Marks the pages of an `Atomics` write if the mapping tracks dirty pages (see markRange). */
function markAtomicWrite(hm: HostMemory, abs: number, n: number): void {
  if (hm.dirty !== null) markRange(hm.dirty, hm.pageShift, abs, n, false);
}

/** Marks the pages of a plain write if the mapping tracks dirty pages (see markRange). */
function markPlainWrite(hm: HostMemory, abs: number, n: number): void {
  if (hm.dirty !== null) markRange(hm.dirty, hm.pageShift, abs, n, true);
}

// Scratch space for reinterpreting bit patterns (floats, swapped 64-bit values) without allocating.
const scratch = new ArrayBuffer(8);
const sI32 = new Int32Array(scratch);
const sF32 = new Float32Array(scratch);
const sI64 = new BigInt64Array(scratch);
const sF64 = new Float64Array(scratch);
const sDv = new DataView(scratch);

export function bswap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function bswap64(v: bigint): bigint {
  sDv.setBigUint64(0, v, true);
  return sDv.getBigUint64(0, false);
}

/** Atomic load of an integer scalar at `local` (aligned) within chunk views `v`. */
export function loadScalar(v: Views, scalar: number, local: number): number | bigint {
  switch (scalar) {
    case S_U8:
      return Atomics.load(v.u8, local);
    case S_I8:
      return Atomics.load(v.i8, local);
    case S_U16:
      return Atomics.load(v.u16, local >>> 1);
    case S_I16:
      return Atomics.load(v.i16, local >>> 1);
    case S_U32:
      return Atomics.load(v.i32, local >>> 2) >>> 0; // int32 from the builtin: no heap number
    case S_I32:
      return Atomics.load(v.i32, local >>> 2);
    case S_U64:
      return Atomics.load(v.u64, Math.floor(local / 8));
    default:
      return Atomics.load(v.i64, Math.floor(local / 8));
  }
}

/** Atomic store of an integer scalar (value already checked to fit). */
export function storeScalar(v: Views, scalar: number, local: number, value: number | bigint): void {
  switch (scalar) {
    case S_U8:
      Atomics.store(v.u8, local, value as number);
      return;
    case S_I8:
      Atomics.store(v.i8, local, value as number);
      return;
    case S_U16:
      Atomics.store(v.u16, local >>> 1, value as number);
      return;
    case S_I16:
      Atomics.store(v.i16, local >>> 1, value as number);
      return;
    case S_U32:
      Atomics.store(v.i32, local >>> 2, (value as number) | 0);
      return;
    case S_I32:
      Atomics.store(v.i32, local >>> 2, value as number);
      return;
    case S_U64:
      Atomics.store(v.u64, Math.floor(local / 8), value as bigint);
      return;
    default:
      Atomics.store(v.i64, Math.floor(local / 8), value as bigint);
  }
}

/** The views and chunk-local offset for an access of `size` bytes at `abs` that fits in a chunk. */
function chunkOf(hm: HostMemory, abs: number): Views {
  return hm.chunks[Math.floor(abs / VIEW_CHUNK)]!;
}

export function atomicLoad(hm: HostMemory, scalar: number, abs: number): number | bigint {
  return loadScalar(chunkOf(hm, abs), scalar, abs % VIEW_CHUNK);
}

export function atomicStore(hm: HostMemory, scalar: number, abs: number, value: number | bigint): void {
  storeScalar(chunkOf(hm, abs), scalar, abs % VIEW_CHUNK, value);
  markAtomicWrite(hm, abs, 1);
}

/** Reads a scalar at an aligned chunk-local offset: atomically, then reinterpreted. */
export function readAligned(v: Views, type: ValueType<unknown>, local: number): number | bigint {
  const scalar = type.scalar;
  if (scalar === S_F32) {
    sI32[0] = Atomics.load(v.i32, local >>> 2);
    return sF32[0]!;
  }
  if (scalar > S_F32) {
    sI64[0] = Atomics.load(v.i64, Math.floor(local / 8));
    return sF64[0]!;
  }
  const raw = loadScalar(v, scalar, local);
  if (!type.swap) return raw;
  switch (scalar) {
    case S_U16:
      return bswap16(raw as number);
    case S_U32:
      return bswap32(raw as number);
    default:
      return bswap64(raw as bigint);
  }
}

/** Writes a scalar (already checked) at an aligned chunk-local offset, atomically. */
export function writeAligned(v: Views, type: ValueType<unknown>, local: number, value: unknown): void {
  const scalar = type.scalar;
  if (scalar === S_F32) {
    sF32[0] = value as number;
    Atomics.store(v.i32, local >>> 2, sI32[0]!);
    return;
  }
  if (scalar > S_F32) {
    sF64[0] = value as number;
    Atomics.store(v.i64, Math.floor(local / 8), sI64[0]!);
    return;
  }
  let raw = value as number | bigint;
  if (type.swap) {
    raw =
      scalar === S_U16 ? bswap16(raw as number) : scalar === S_U32 ? bswap32(raw as number) : bswap64(raw as bigint);
  }
  storeScalar(v, scalar, local, raw);
}

/** Reads a scalar anywhere in the mapping: atomic when aligned, else one DataView read (may tear). */
export function readScalar(hm: HostMemory, type: ValueType<unknown>, abs: number): number | bigint {
  if (abs % type.size === 0) return readAligned(chunkOf(hm, abs), type, abs % VIEW_CHUNK);
  return type.decode(hm.dv, abs) as number | bigint;
}

/** Writes a checked scalar anywhere in the mapping: atomic when aligned, else via DataView. */
export function writeScalar(hm: HostMemory, type: ValueType<unknown>, abs: number, value: unknown): void {
  if (abs % type.size === 0) writeAligned(chunkOf(hm, abs), type, abs % VIEW_CHUNK, value);
  else type.encode(hm.dv, abs, value);
  markPlainWrite(hm, abs, type.size);
}

/** RMW operations, in the order of the public methods. */
export const OP_ADD = 0;
export const OP_SUB = 1;
export const OP_AND = 2;
export const OP_OR = 3;
export const OP_XOR = 4;
export const OP_EXCHANGE = 5;

type IntArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;
type BigArray = BigUint64Array | BigInt64Array;

/** The typed array of chunk views `v` for an integer scalar code (no allocation). */
export function arrayOf(v: Views, scalar: number): IntArray | BigArray {
  switch (scalar) {
    case S_U8:
      return v.u8;
    case S_I8:
      return v.i8;
    case S_U16:
      return v.u16;
    case S_I16:
      return v.i16;
    case S_U32:
      return v.u32;
    case S_I32:
      return v.i32;
    case S_U64:
      return v.u64;
    default:
      return v.i64;
  }
}

/** Byte size of each integer scalar code (S_U8 … S_I64). */
const SCALAR_SIZE = [1, 1, 2, 2, 4, 4, 8, 8];

/** One RMW `op` on element `i` of `arr` (any integer typed array; value already checked to fit). */
export function rmwAt(arr: IntArray | BigArray, i: number, op: number, value: number | bigint): number | bigint {
  const a = arr as Int32Array; // one signature for both number and bigint arrays
  const v = value as number;
  switch (op) {
    case OP_ADD:
      return Atomics.add(a, i, v);
    case OP_SUB:
      return Atomics.sub(a, i, v);
    case OP_AND:
      return Atomics.and(a, i, v);
    case OP_OR:
      return Atomics.or(a, i, v);
    case OP_XOR:
      return Atomics.xor(a, i, v);
    default:
      return Atomics.exchange(a, i, v);
  }
}

export function atomicRmw(
  hm: HostMemory,
  op: number,
  scalar: number,
  abs: number,
  value: number | bigint,
): number | bigint {
  const arr = arrayOf(chunkOf(hm, abs), scalar);
  const old = rmwAt(arr, (abs % VIEW_CHUNK) / SCALAR_SIZE[scalar]!, op, value);
  markAtomicWrite(hm, abs, 1);
  return old;
}

export function atomicCompareExchange(
  hm: HostMemory,
  scalar: number,
  abs: number,
  expected: number | bigint,
  replacement: number | bigint,
): number | bigint {
  const arr = arrayOf(chunkOf(hm, abs), scalar) as Int32Array;
  const i = (abs % VIEW_CHUNK) / SCALAR_SIZE[scalar]!;
  const old = Atomics.compareExchange(arr, i, expected as number, replacement as number);
  markAtomicWrite(hm, abs, 1);
  return old;
}

export function atomicWait(
  hm: HostMemory,
  scalar: number,
  abs: number,
  expected: number | bigint,
  timeoutMs: number,
): 'ok' | 'not-equal' | 'timed-out' {
  const v = chunkOf(hm, abs);
  const local = abs % VIEW_CHUNK;
  if (scalar === S_I32) return Atomics.wait(v.i32, local / 4, expected as number, timeoutMs);
  return Atomics.wait(v.i64, local / 8, expected as bigint, timeoutMs);
}

/** Wakes waiters on the 4-byte-aligned word at `abs` (V8 keys waiters by byte address). */
export function atomicNotify(hm: HostMemory, abs: number, count: number | undefined): number {
  const v = chunkOf(hm, abs);
  return Atomics.notify(v.i32, (abs % VIEW_CHUNK) / 4, count);
}

/**
 * Copy strategy, by size and relative alignment (measured in bench/copy.bench.js):
 * - up to TINY_COPY bytes, a byte loop (no call, no allocation);
 * - up to SMALL_COPY bytes with both sides at the same offset mod 8, TypedArray.prototype.set
 *   on a subarray (V8 copies word by word, but a call into the addon costs more);
 * - everything else, one native memmove: it runs at memcpy speed whatever the alignment,
 *   while TypedArray.prototype.set on a SharedArrayBuffer copies byte by byte when the two
 *   sides are not equally aligned.
 */
export const TINY_COPY = 16;
export const SMALL_COPY = 512;

/** What the addon copies between: a buffer, or a view of one (its own range). */
type ByteSource = ArrayBufferLike | ArrayBufferView;

const copyArgs = native.copyArgs;
const copyBuffers = native.copyBuffers;

/** memmove in the addon between two buffers or views, at byte offsets in each (checked there again). */
function memmove(dst: ByteSource, dstOff: number, src: ByteSource, srcOff: number, n: number): void {
  copyArgs[0] = dstOff;
  copyArgs[1] = srcOff;
  copyArgs[2] = n;
  const status = copyBuffers(dst, src);
  if (status !== 0) throw copyFailed(status);
}

function copyFailed(status: number): Error {
  const e = status === -1 ? new TypeError('copy between two buffers') : new RangeError('copy range out of bounds');
  return Object.assign(e, { code: status === -1 ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE' });
}

/** Copies `n` bytes of the mapping at `abs` into `dst` at byte `dstOff` of the view. */
export function copyOut(hm: HostMemory, abs: number, dst: Uint8Array, dstOff: number, n: number): void {
  if (n <= SMALL_COPY && abs + n <= VIEW_CHUNK) {
    const u8 = hm.c0.u8;
    if (n <= TINY_COPY) {
      for (let i = 0; i < n; i++) dst[dstOff + i] = u8[abs + i]!;
      return;
    }
    if (((abs ^ (dst.byteOffset + dstOff)) & 7) === 0) {
      dst.set(u8.subarray(abs, abs + n), dstOff);
      return;
    }
  }
  memmove(dst, dstOff, rawBuffer(hm), abs, n);
}

/** Copies `n` bytes of `src` from byte `srcOff` of the view into the mapping at `abs`. */
export function copyIn(hm: HostMemory, abs: number, src: Uint8Array, srcOff: number, n: number): void {
  copyInBytes(hm, abs, src, srcOff, n);
  markPlainWrite(hm, abs, n);
}

function copyInBytes(hm: HostMemory, abs: number, src: Uint8Array, srcOff: number, n: number): void {
  if (n <= SMALL_COPY && abs + n <= VIEW_CHUNK) {
    const u8 = hm.c0.u8;
    if (n <= TINY_COPY) {
      for (let i = 0; i < n; i++) u8[abs + i] = src[srcOff + i]!;
      return;
    }
    if (((abs ^ (src.byteOffset + srcOff)) & 7) === 0) {
      u8.set(srcOff === 0 && n === src.length ? src : src.subarray(srcOff, srcOff + n), abs);
      return;
    }
  }
  memmove(rawBuffer(hm), abs, src, srcOff, n);
}

/** Copies the first `n` bytes of any typed array's memory into the mapping, or out of it. */
export function copyView(hm: HostMemory, abs: number, view: ArrayBufferView, n: number, toMapping: boolean): void {
  if (toMapping) {
    memmove(rawBuffer(hm), abs, view, 0, n);
    markPlainWrite(hm, abs, n);
  } else {
    memmove(view, 0, rawBuffer(hm), abs, n);
  }
}

/** Copies between two mappings (or within one; overlapping ranges are handled like memmove). */
export function copyBetween(dst: HostMemory, dstAbs: number, src: HostMemory, srcAbs: number, n: number): void {
  memmove(rawBuffer(dst), dstAbs, rawBuffer(src), srcAbs, n);
  markPlainWrite(dst, dstAbs, n);
}

/**
 * One read(2) from `fd` into the mapping (pread(2) at file offset `position` when it is >= 0);
 * returns the bytes read (0 at end of file).
 */
export function readFd(hm: HostMemory, abs: number, fd: number, n: number, position = -1): number {
  const got = native.readFd(fd, rawBuffer(hm), abs, n, position);
  if (got < 0) throw native.osError(-got, position >= 0 ? 'pread' : 'read', 'reading from fd failed');
  markPlainWrite(hm, abs, got);
  return got;
}

/** One write(2) of the mapping's bytes to `fd` (pwrite(2) at `position` when >= 0); returns the bytes written. */
export function writeFd(hm: HostMemory, abs: number, fd: number, n: number, position = -1): number {
  const done = native.writeFd(fd, rawBuffer(hm), abs, n, position);
  if (done < 0) throw native.osError(-done, position >= 0 ? 'pwrite' : 'write', 'writing to fd failed');
  return done;
}
