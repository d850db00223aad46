/**
 * The `Bytes<number>` implementation shared by VolatileSlice (slice-relative offsets) and
 * GuestRegionMmap (region-relative offsets): a window [base, base + len) of one mapping.
 *
 * The two differ only in how a bounds failure is reported, as in vm-memory: a slice throws
 * OutOfBounds / Overflow, a region converts those to InvalidBackendAddress.
 *
 * load/store/readObj/writeObj have an inline fast path (an in-bounds, in-chunk-0 access with a
 * valid integer offset and value) that allocates nothing and calls nothing native; anything
 * else falls through to the slow path, which validates everything and throws the right error.
 */
import { markPage } from '../atomic-bitmap.js';
import type { Bytes } from '../bytes.js';
import {
  checkFd,
  checkIndex,
  checkPosition,
  checkTimeout,
  checkOptionalIndex,
  checkUint8Array,
  MAX_SAFE,
} from './args.js';
import { invalidBackendAddress, outOfBounds, overflow, partialBuffer } from './errs.js';
import {
  VIEW_CHUNK,
  copyIn,
  copyOut,
  loadScalar,
  OP_ADD,
  OP_AND,
  OP_EXCHANGE,
  OP_OR,
  OP_SUB,
  OP_XOR,
  readAligned,
  readFd,
  storeScalar,
  writeAligned,
  writeFd,
  type HostMemory,
  type Views,
} from './host-memory.js';
import {
  checkAtomicType,
  checkedCompareExchange,
  checkedLoad,
  checkedNotify,
  checkedRmw,
  checkedStore,
  checkedWait,
  checkOperand,
  checkType,
  checkWaitType,
  encodeValue,
  readObjAt,
  requireRead,
  requireWrite,
  writeObjAt,
} from './access.js';
import {
  S_COMPOSITE,
  S_F32,
  S_F64,
  S_I16,
  S_I32,
  S_I8,
  S_U16,
  S_U32,
  S_U8,
  S_U64,
  S_I64,
  ValueType,
  type WriteValue,
} from '../types.js';

/** How a window reports bounds errors. */
export const LEVEL_SLICE = 0;
export const LEVEL_REGION = 1;

/**
 * What the fast paths of one window read: its mapping, bounds and chunk-0 views. It is only ever
 * held in private fields (ByteWindow's, GuestMemoryMmap's), so no public object leads to a raw
 * view: a view over a read-only mapping, written by mistake, would fault the process.
 */
export class Span {
  /** The mapping. */
  readonly hm: HostMemory;
  /** Absolute offset of the window's first byte in the mapping. */
  readonly base: number;
  /** Length of the window in bytes. */
  readonly len: number;
  /** LEVEL_SLICE or LEVEL_REGION. */
  readonly level: number;
  /** The guest address of the window's first byte (regions; 0 for slices). */
  readonly startAddr: number;
  /** The public window this span belongs to (set once by its constructor). */
  readonly window: ByteWindow | null;
  /** Fast-path limits: offsets below these are readable/writable in chunk 0. */
  readonly rEnd: number;
  readonly wEnd: number;
  /** Dirty-bitmap words (null when tracking is off) and log2(page size). */
  readonly dirty: Int32Array | null;
  readonly pageShift: number;
  /** hm.c0, and its views, one load closer to the fast paths. */
  readonly c0: Views;
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

  constructor(window: ByteWindow | null, hm: HostMemory, base: number, len: number, level: number, startAddr: number) {
    this.window = window;
    this.hm = hm;
    this.base = base;
    this.len = len;
    this.level = level;
    this.startAddr = startAddr;
    const inChunk0 = Math.max(0, Math.min(len, VIEW_CHUNK - base));
    this.rEnd = hm.readable ? inChunk0 : 0;
    this.wEnd = hm.writable ? inChunk0 : 0;
    this.dirty = hm.dirty;
    this.pageShift = hm.pageShift;
    this.c0 = hm.c0;
    this.u8 = hm.c0.u8;
    this.i8 = hm.c0.i8;
    this.u16 = hm.c0.u16;
    this.i16 = hm.c0.i16;
    this.u32 = hm.c0.u32;
    this.i32 = hm.c0.i32;
    this.u64 = hm.c0.u64;
    this.i64 = hm.c0.i64;
    this.f32 = hm.c0.f32;
    this.f64 = hm.c0.f64;
  }
}

/** The span of a window: a module function, so only the library's own modules can call it. */
export let spanOf: (w: ByteWindow) => Span;

export abstract class ByteWindow implements Bytes<number> {
  readonly #s: Span;

  static {
    spanOf = (w) => w.#s;
  }

  /** @internal */
  constructor(hm: HostMemory, base: number, len: number, level: number, startAddr = 0) {
    this.#s = new Span(this, hm, base, len, level, startAddr);
  }

  /** Length of the window in bytes. */
  get len(): number {
    return this.#s.len;
  }

  /** @internal The error for [offset, offset + count) not inside the window. */
  boundsError(offset: number, count: number): Error {
    if (this.#s.level === LEVEL_REGION) return invalidBackendAddress(offset, count);
    return offset + count > MAX_SAFE ? overflow(offset, count) : outOfBounds(offset + count);
  }

  /** @internal Checks [offset, offset + count) lies inside the window. */
  checkRange(offset: number, count: number): void {
    if (offset + count > this.#s.len) throw this.boundsError(offset, count);
  }

  // ---- bulk bytes ---------------------------------------------------------------------------

  /**
   * Writes as much of `buf` as fits at `addr`; returns the bytes written (may be fewer than
   * `buf.length`). Not atomic. Throws OutOfBounds (slice) / InvalidBackendAddress (region) if
   * `addr` is at or past the end and `buf` is not empty, AccessDenied on a read-only mapping.
   * @example slice.write(new Uint8Array([1, 2, 3]), 0x10) // 3
   */
  write(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    const n = buf.length;
    if (n === 0) return 0;
    if (addr >= this.#s.len) throw this.boundsError(addr, 0);
    requireWrite(this.#s.hm, addr);
    const count = Math.min(n, this.#s.len - addr);
    copyIn(this.#s.hm, this.#s.base + addr, buf, 0, count);
    return count;
  }

  /**
   * Reads as much as fits into `buf` from `addr`; returns the bytes read (may be partial).
   * Not atomic. Errors as for {@link write}.
   * @example slice.read(buf, 0)
   */
  read(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    const n = buf.length;
    if (n === 0) return 0;
    if (addr >= this.#s.len) throw this.boundsError(addr, 0);
    requireRead(this.#s.hm, addr);
    const count = Math.min(n, this.#s.len - addr);
    copyOut(this.#s.hm, this.#s.base + addr, buf, 0, count);
    return count;
  }

  /**
   * Writes all of `buf` at `addr`, or throws PartialBuffer {expected, completed} after writing
   * the part that fits. Not atomic (bytes may be observed in any order by other threads).
   * @example slice.writeSlice(new Uint8Array(16), 0)
   */
  writeSlice(buf: Uint8Array, addr: number): void {
    const done = this.write(buf, addr);
    if (done !== buf.length) throw partialBuffer(buf.length, done);
  }

  /** Reads exactly `buf.length` bytes at `addr`, or throws PartialBuffer. Not atomic. */
  readSlice(buf: Uint8Array, addr: number): void {
    const done = this.read(buf, addr);
    if (done !== buf.length) throw partialBuffer(buf.length, done);
  }

  // ---- objects ------------------------------------------------------------------------------

  /**
   * Reads a value of `type` at `addr`. Aligned scalars are one tear-free atomic load; unaligned
   * scalars and structs/arrays may tear. Throws PartialBuffer if only part of it is inside.
   * @example const n = slice.readObj(u32, 8);
   */
  readObj<T>(type: ValueType<T>, addr: number): T {
    if (
      typeof addr === 'number' &&
      addr >>> 0 === addr &&
      ValueType.is(type) &&
      addr + type.size <= this.#s.rEnd &&
      type.scalar >= 0
    ) {
      const abs = this.#s.base + addr;
      if ((abs & (type.size - 1)) === 0) return readAligned(this.#s.c0, type, abs) as T;
    }
    return this.readObjSlow(type, addr);
  }

  private readObjSlow<T>(type: ValueType<T>, addr: number): T {
    checkType(type);
    checkIndex('addr', addr);
    const size = type.size;
    if (addr + size <= this.#s.len) return readObjAt(this.#s.hm, type, this.#s.base + addr, addr) as T;
    // Like vm-memory's read_slice: what fits is read, then the shortfall is reported.
    if (size === 0) return type.decode(new DataView(new ArrayBuffer(0)), 0);
    if (addr >= this.#s.len) throw this.boundsError(addr, 0);
    requireRead(this.#s.hm, addr);
    throw partialBuffer(size, this.#s.len - addr);
  }

  /**
   * Writes `value` as `type` at `addr`. Aligned scalars are one tear-free atomic store;
   * unaligned scalars and structs/arrays may tear. The value is checked (TypeError/RangeError)
   * before anything is written. Throws PartialBuffer after writing the part that fits.
   * @example slice.writeObj(u16, 0xbeef, 2)
   */
  writeObj<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    if (typeof addr === 'number' && addr >>> 0 === addr && ValueType.is(type) && addr + type.size <= this.#s.wEnd) {
      const abs = this.#s.base + addr;
      if ((abs & (type.size - 1)) === 0 && fitsInline(type.scalar, value)) {
        writeAligned(this.#s.c0, type, abs, value);
        if (this.#s.dirty !== null) markPage(this.#s.dirty, abs >>> this.#s.pageShift);
        return;
      }
    }
    this.writeObjSlow(type, value, addr);
  }

  private writeObjSlow<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    checkType(type);
    checkIndex('addr', addr);
    const size = type.size;
    if (type.scalar !== S_COMPOSITE) checkOperand(type, value);
    if (addr + size <= this.#s.len) {
      writeObjAt(this.#s.hm, type, value, this.#s.base + addr, addr);
      return;
    }
    const bytes = encodeValue(type, value);
    this.writeSlice(bytes, addr);
  }

  // ---- file descriptors ---------------------------------------------------------------------

  /** @internal Shared checks of the fd methods; returns the absolute offset. */
  private fdRange(addr: number, fd: number, count: number, into: boolean): number {
    checkIndex('addr', addr);
    checkFd('fd', fd);
    checkIndex('count', count);
    this.checkRange(addr, count);
    if (count > 0) {
      if (into) requireWrite(this.#s.hm, addr);
      else requireRead(this.#s.hm, addr);
    }
    return this.#s.base + addr;
  }

  /**
   * Reads up to `count` bytes from file descriptor `fd` into memory at `addr` with one read(2),
   * or one pread(2) at file offset `position` (the descriptor's position is then left alone);
   * returns the bytes read (0 at end of file). The whole range must be inside. Throws IOError.
   * @example slice.readFrom(0, fd, 4096)
   */
  readFrom(addr: number, fd: number, count: number, position?: number): number {
    const abs = this.fdRange(addr, fd, count, true);
    const pos = checkPosition('position', position);
    return count === 0 ? 0 : readFd(this.#s.hm, abs, fd, count, pos);
  }

  /** Reads exactly `count` bytes from `fd` (at `position`, if given) into `addr`, or throws PartialBuffer at end of file. */
  readExactFrom(addr: number, fd: number, count: number, position?: number): void {
    const abs = this.fdRange(addr, fd, count, true);
    const pos = checkPosition('position', position);
    let done = 0;
    while (done < count) {
      const n = readFd(this.#s.hm, abs + done, fd, count - done, pos < 0 ? pos : pos + done);
      if (n === 0) throw partialBuffer(count, done);
      done += n;
    }
  }

  /** Writes up to `count` bytes at `addr` to `fd` with one write(2) (pwrite(2) at `position`); returns the bytes written. */
  writeTo(addr: number, fd: number, count: number, position?: number): number {
    const abs = this.fdRange(addr, fd, count, false);
    const pos = checkPosition('position', position);
    return count === 0 ? 0 : writeFd(this.#s.hm, abs, fd, count, pos);
  }

  /** Writes all `count` bytes at `addr` to `fd` (at `position`, if given), or throws PartialBuffer / IOError. */
  writeAllTo(addr: number, fd: number, count: number, position?: number): void {
    const abs = this.fdRange(addr, fd, count, false);
    const pos = checkPosition('position', position);
    let done = 0;
    while (done < count) {
      const n = writeFd(this.#s.hm, abs + done, fd, count - done, pos < 0 ? pos : pos + done);
      if (n === 0) throw partialBuffer(count, done);
      done += n;
    }
  }

  // ---- atomics ------------------------------------------------------------------------------

  /**
   * Atomic, sequentially consistent load of an integer type at a naturally aligned `addr`.
   * Throws Misaligned if unaligned, AccessDenied on a PROT_NONE mapping.
   * @example const v = slice.load(u32, 0x40);
   */
  load<T>(type: ValueType<T>, addr: number): T {
    if (typeof addr === 'number' && addr >>> 0 === addr && ValueType.is(type) && addr + type.size <= this.#s.rEnd) {
      const abs = this.#s.base + addr;
      const scalar = type.atomicScalar;
      if (scalar >= 0 && (abs & (type.size - 1)) === 0) return loadScalar(this.#s.c0, scalar, abs) as T;
    }
    const t = checkAtomicType(type);
    this.checkAtomicAddr(addr, t.size);
    return checkedLoad(this.#s.hm, t, this.#s.base + addr, addr) as T;
  }

  /**
   * Atomic, sequentially consistent store (tear-free). The value must fit the type.
   * @example slice.store(u32, 7, 0x40)
   */
  store<T>(type: ValueType<T>, value: T, addr: number): void {
    if (typeof addr === 'number' && addr >>> 0 === addr && ValueType.is(type) && addr + type.size <= this.#s.wEnd) {
      const abs = this.#s.base + addr;
      const scalar = type.atomicScalar;
      if (scalar >= 0 && (abs & (type.size - 1)) === 0 && fitsInline(scalar, value)) {
        storeScalar(this.#s.c0, scalar, abs, value as number);
        if (this.#s.dirty !== null) markPage(this.#s.dirty, abs >>> this.#s.pageShift);
        return;
      }
    }
    const t = checkAtomicType(type);
    checkOperand(t, value);
    this.checkAtomicAddr(addr, t.size);
    checkedStore(this.#s.hm, t, value, this.#s.base + addr, addr);
  }

  /** @internal */
  private checkAtomicAddr(addr: number, size: number): void {
    checkIndex('addr', addr);
    this.checkRange(addr, size);
  }

  private rmw<T>(op: number, type: ValueType<T>, addr: number, value: T): T {
    const t = checkAtomicType(type);
    checkOperand(t, value);
    this.checkAtomicAddr(addr, t.size);
    return checkedRmw(this.#s.hm, op, t, value, this.#s.base + addr, addr) as T;
  }

  /** Atomic compare-and-exchange; returns the old value (equal to `expected` if it swapped). */
  compareExchange<T>(type: ValueType<T>, addr: number, expected: T, replacement: T): T {
    const t = checkAtomicType(type);
    checkOperand(t, expected, 'expected');
    checkOperand(t, replacement, 'replacement');
    this.checkAtomicAddr(addr, t.size);
    return checkedCompareExchange(this.#s.hm, t, expected, replacement, this.#s.base + addr, addr) as T;
  }

  /** Atomic exchange; returns the old value. */
  exchange<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_EXCHANGE, type, addr, value);
  }

  /** Atomic wrapping add; returns the old value. */
  fetchAdd<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_ADD, type, addr, value);
  }

  /** Atomic wrapping subtract; returns the old value. */
  fetchSub<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_SUB, type, addr, value);
  }

  /** Atomic bitwise and; returns the old value. */
  fetchAnd<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_AND, type, addr, value);
  }

  /** Atomic bitwise or; returns the old value. */
  fetchOr<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_OR, type, addr, value);
  }

  /** Atomic bitwise xor; returns the old value. */
  fetchXor<T>(type: ValueType<T>, addr: number, value: T): T {
    return this.rmw(OP_XOR, type, addr, value);
  }

  /**
   * Blocks the calling thread while the i32/i64 at `addr` equals `expected`, until notified or
   * `timeoutMs` passes (default: forever). Returns 'ok', 'not-equal' or 'timed-out'.
   * @example slice.wait(i32, 0, 0, 100)
   */
  wait<T>(type: ValueType<T>, addr: number, expected: T, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out' {
    const t = checkWaitType(type);
    checkOperand(t, expected, 'expected');
    const timeout = checkTimeout('timeoutMs', timeoutMs);
    this.checkAtomicAddr(addr, t.size);
    return checkedWait(this.#s.hm, t, expected, timeout, this.#s.base + addr, addr);
  }

  /** Wakes up to `count` (default: all) threads waiting on the 4-aligned `addr`; returns how many. */
  notify(addr: number, count?: number): number {
    const n = checkOptionalIndex('count', count);
    this.checkAtomicAddr(addr, 4);
    return checkedNotify(this.#s.hm, n, this.#s.base + addr, addr);
  }
}

/**
 * Whether the fast paths may store `value` for an integer/float scalar without the full check:
 * an in-range number for the 8/16/32-bit integers. 64-bit and float values take the slow path,
 * which validates them (bigints allocate anyway).
 */
/** Like fitsInline, and also an in-range bigint for the 64-bit integers (RMW operands). */
export function fitsOperand(scalar: number, value: unknown): boolean {
  if (typeof value === 'bigint') {
    if (scalar === S_U64) return value >= 0n && value <= 0xffff_ffff_ffff_ffffn;
    if (scalar === S_I64) return value >= -0x8000_0000_0000_0000n && value <= 0x7fff_ffff_ffff_ffffn;
    return false;
  }
  return fitsInline(scalar, value);
}

export function fitsInline(scalar: number, value: unknown): boolean {
  if (typeof value !== 'number') return false;
  switch (scalar) {
    case S_U8:
      return ((value as number) & 0xff) === value;
    case S_U16:
      return ((value as number) & 0xffff) === value;
    case S_U32:
      return (value as number) >>> 0 === value;
    case S_I32:
      return ((value as number) | 0) === value;
    case S_I8:
      return ((value as number) << 24) >> 24 === value;
    case S_I16:
      return ((value as number) << 16) >> 16 === value;
    case S_F32:
    case S_F64:
      return typeof value === 'number';
    default:
      return false;
  }
}
