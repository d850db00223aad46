import { checkIndex, typeError } from './internal/args.js';
import { outOfBounds, tooBig } from './internal/errs.js';
import { ByteWindow, LEVEL_SLICE, spanOf } from './internal/byte-window.js';
import { checkType, requireRead, requireWrite } from './internal/access.js';
import { copyBetween, copyView, type HostMemory } from './internal/host-memory.js';
import type { ValueType } from './types.js';
import { VolatileArrayRef, VolatileRef } from './volatile-ref.js';

/** Any integer or float typed array (what the bulk copy methods take). */
export type TypedArray =
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

function checkTypedArray(name: string, value: unknown): TypedArray {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) throw typeError(name, 'a typed array', value);
  return value as TypedArray;
}

/**
 * VolatileSlice: a bounds-checked window of a mapping, with `Bytes<number>` at slice-relative
 * offsets. Slices are cheap views (no copy); they keep their mapping alive.
 *
 * Memory model: naturally aligned 1/2/4/8-byte scalar accesses (`load`/`store`, `readObj`/
 * `writeObj` of a scalar, refs) are single tear-free volatile accesses through Atomics; bulk
 * copies, unaligned scalars and structs may tear.
 *
 * Bounds rule: [offset, offset + count) is valid iff offset + count <= len (a zero-length range
 * at len is valid); otherwise OutOfBounds { addr: offset + count }, or Overflow past 2^53-1.
 *
 * @example
 * const s = region.getSlice(0x100, 0x40);
 * s.writeObj(u32, 0xdeadbeef, 0);
 * const [head, tail] = s.splitAt(0x10);
 */
export class VolatileSlice extends ByteWindow {
  /** @internal Slices come from `getSlice`/`asVolatileSlice` of a mapping, region or memory. */
  constructor(hm: HostMemory, base: number, len: number) {
    super(hm, base, len, LEVEL_SLICE);
  }

  /** Whether the slice has no bytes. */
  isEmpty(): boolean {
    return this.len === 0;
  }

  /**
   * The sub-slice [offset, offset + count). Throws OutOfBounds or Overflow.
   * @example s.getSlice(4, 8).len // 8
   */
  getSlice(offset: number, count: number): VolatileSlice {
    checkIndex('offset', offset);
    checkIndex('count', count);
    this.checkRange(offset, count);
    return new VolatileSlice(spanOf(this).hm, spanOf(this).base + offset, count);
  }

  /** Same as {@link getSlice}. */
  subslice(offset: number, count: number): VolatileSlice {
    return this.getSlice(offset, count);
  }

  /** The slice starting `count` bytes in. Throws OutOfBounds { addr: count } if count > len. */
  offset(count: number): VolatileSlice {
    checkIndex('count', count);
    if (count > this.len) throw outOfBounds(count);
    return new VolatileSlice(spanOf(this).hm, spanOf(this).base + count, this.len - count);
  }

  /** `[this[0, mid), this[mid, len)]`. Throws OutOfBounds { addr: mid } if mid > len. */
  splitAt(mid: number): [VolatileSlice, VolatileSlice] {
    checkIndex('mid', mid);
    if (mid > this.len) throw outOfBounds(mid);
    return [
      new VolatileSlice(spanOf(this).hm, spanOf(this).base, mid),
      new VolatileSlice(spanOf(this).hm, spanOf(this).base + mid, this.len - mid),
    ];
  }

  /**
   * A reference to a `type` value at `offset` (unaligned allowed: then non-atomic, may tear).
   * @example s.getRef(u64, 8).store(1n)
   */
  getRef<T>(type: ValueType<T>, offset: number): VolatileRef<T> {
    const t = checkType(type) as ValueType<T>;
    checkIndex('offset', offset);
    this.checkRange(offset, t.size);
    return new VolatileRef(spanOf(this).hm, spanOf(this).base + offset, t);
  }

  /**
   * A reference to `n` consecutive `type` values at `offset`. Throws TooBig if n * size
   * exceeds 2^53-1, OutOfBounds if it does not fit.
   */
  getArrayRef<T>(type: ValueType<T>, offset: number, n: number): VolatileArrayRef<T> {
    const t = checkType(type) as ValueType<T>;
    checkIndex('offset', offset);
    checkIndex('n', n);
    const bytes = n * t.size;
    if (bytes > Number.MAX_SAFE_INTEGER) throw tooBig(n, t.size);
    this.checkRange(offset, bytes);
    return new VolatileArrayRef(spanOf(this).hm, spanOf(this).base + offset, t, n);
  }

  /**
   * Copies min(floor(len / dst.BYTES_PER_ELEMENT), dst.length) elements (raw bytes, host byte
   * order) into `dst`; returns that count. Not atomic.
   */
  copyTo(dst: TypedArray): number {
    const arr = checkTypedArray('dst', dst);
    const el = arr.BYTES_PER_ELEMENT;
    const count = Math.min(Math.floor(this.len / el), arr.length);
    if (count > 0) {
      requireRead(spanOf(this).hm, 0);
      copyView(spanOf(this).hm, spanOf(this).base, arr, count * el, false);
    }
    return count;
  }

  /** Copies min(floor(len / src.BYTES_PER_ELEMENT), src.length) elements from `src`. Not atomic. */
  copyFrom(src: TypedArray): void {
    const arr = checkTypedArray('src', src);
    const el = arr.BYTES_PER_ELEMENT;
    const count = Math.min(Math.floor(this.len / el), arr.length);
    if (count > 0) {
      requireWrite(spanOf(this).hm, 0);
      copyView(spanOf(this).hm, spanOf(this).base, arr, count * el, true);
    }
  }

  /** Copies min(this.len, dst.len) bytes into `dst` (overlap-safe); returns the count. */
  copyToVolatileSlice(dst: VolatileSlice): number {
    if (!(dst instanceof VolatileSlice)) throw typeError('dst', 'a VolatileSlice', dst);
    const n = Math.min(this.len, dst.len);
    if (n > 0) {
      requireRead(spanOf(this).hm, 0);
      requireWrite(spanOf(dst).hm, 0);
      copyBetween(spanOf(dst).hm, spanOf(dst).base, spanOf(this).hm, spanOf(this).base, n);
    }
    return n;
  }
}
