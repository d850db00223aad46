/**
 * VolatileRef / VolatileArrayRef: typed references into guest memory.
 *
 * Memory model: a naturally aligned scalar ref is one tear-free atomic access per load/store
 * (never merged, hoisted or split); an unaligned ref, or a struct/array ref, may tear.
 *
 * @example
 * const counter = slice.getRef(u32, 0);
 * counter.store(counter.load() + 1);
 * const ring = slice.getArrayRef(u16, 0x100, 64);
 * ring.store(3, 0xffff);
 */
import { checkIndex, typeError } from './internal/args.js';
import { outOfBounds } from './internal/errs.js';
import { checkOperand, readObjAt, requireRead, requireWrite, writeObjAt } from './internal/access.js';
import { copyIn, copyView, type HostMemory } from './internal/host-memory.js';
import { S_COMPOSITE, type ValueType, type WriteValue } from './types.js';
import { VolatileSlice } from './volatile-slice.js';

/**
 * A typed reference to one value of `type` in a mapping: `load`/`store` (one tear-free atomic access when aligned), `readObj`/`writeObj`. Made by `getRef`.
 *
 * @example
 * const counter = slice.getRef(u32, 0);
 * counter.store(counter.load() + 1);
 */
export class VolatileRef<T> {
  readonly #hm: HostMemory;
  /** @internal */
  readonly abs: number;
  /** The value type of the referenced memory. */
  readonly type: ValueType<T>;

  /** @internal Refs come from `getRef`. */
  constructor(hm: HostMemory, abs: number, type: ValueType<T>) {
    this.#hm = hm;
    this.abs = abs;
    this.type = type;
    Object.freeze(this);
  }

  /** The referenced type's size in bytes. */
  get len(): number {
    return this.type.size;
  }

  /** Reads the value (atomic if a naturally aligned scalar). Throws AccessDenied on PROT_NONE. */
  load(): T {
    return readObjAt(this.#hm, this.type, this.abs, 0) as T;
  }

  /** Writes the value (atomic if a naturally aligned scalar), after checking it fits the type. */
  store(value: WriteValue<T>): void {
    if (this.type.scalar !== S_COMPOSITE) checkOperand(this.type, value);
    writeObjAt(this.#hm, this.type, value, this.abs, 0);
  }

  /** The referenced bytes as a slice. */
  toSlice(): VolatileSlice {
    return new VolatileSlice(this.#hm, this.abs, this.type.size);
  }
}

/** An indexable array-like of T (a plain array or a typed array). */
export type ArrayLikeOf<T> = ArrayLike<T> & { [i: number]: T };

function isTypedArray(value: unknown): value is ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number } {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** Kinds whose values a typed array of the same element size holds bit-for-bit. */
const TYPED_FOR_KIND: Record<number, string> = {
  0: 'Uint8Array',
  1: 'Int8Array',
  2: 'Uint16Array',
  3: 'Int16Array',
  4: 'Uint32Array',
  5: 'Int32Array',
  6: 'BigUint64Array',
  7: 'BigInt64Array',
  8: 'Float32Array',
  9: 'Float64Array',
};

/**
 * A typed reference to `length` consecutive values of `type`: per-element `load`/`store`, bulk `copyTo`/`copyFrom`. Made by `getArrayRef`.
 *
 * @example
 * const ring = slice.getArrayRef(u16, 0x100, 64);
 * ring.store(3, 0xffff);
 */
export class VolatileArrayRef<T> {
  readonly #hm: HostMemory;
  /** @internal */
  readonly abs: number;
  /** The value type of each element. */
  readonly type: ValueType<T>;
  /** Number of elements. */
  readonly len: number;

  /** @internal Array refs come from `getArrayRef`. */
  constructor(hm: HostMemory, abs: number, type: ValueType<T>, len: number) {
    this.#hm = hm;
    this.abs = abs;
    this.type = type;
    this.len = len;
    Object.freeze(this);
  }

  /** Size of one element in bytes. */
  get elementSize(): number {
    return this.type.size;
  }

  private at(index: number): number {
    checkIndex('index', index);
    if (index >= this.len) throw outOfBounds((index + 1) * this.type.size);
    return this.abs + index * this.type.size;
  }

  /** Reads element `index` (atomic if a naturally aligned scalar). Throws OutOfBounds. */
  load(index: number): T {
    return readObjAt(this.#hm, this.type, this.at(index), index * this.type.size) as T;
  }

  /** Writes element `index` (atomic if a naturally aligned scalar). Throws OutOfBounds. */
  store(index: number, value: T): void {
    const abs = this.at(index);
    if (this.type.scalar !== S_COMPOSITE) checkOperand(this.type, value);
    writeObjAt(this.#hm, this.type, value, abs, index * this.type.size);
  }

  /** A VolatileRef to element `index`. */
  ref(index: number): VolatileRef<T> {
    return new VolatileRef(this.#hm, this.at(index), this.type);
  }

  /** The referenced bytes as a slice. */
  toSlice(): VolatileSlice {
    return new VolatileSlice(this.#hm, this.abs, this.len * this.type.size);
  }

  private bulkCompatible(arr: unknown): boolean {
    const t = this.type;
    return (
      isTypedArray(arr) && !t.swap && t.scalar !== S_COMPOSITE && arr.constructor.name === TYPED_FOR_KIND[t.scalar]
    );
  }

  /**
   * Copies min(len, arr.length) elements into `arr` (an array, or the matching typed array for
   * a bulk copy); returns the count. Element by element it is per-element atomic; bulk it may tear.
   */
  copyTo(arr: ArrayLikeOf<T>): number {
    if (typeof arr !== 'object' || arr === null || typeof arr.length !== 'number') {
      throw typeError('arr', 'an array or typed array', arr);
    }
    const count = Math.min(this.len, arr.length);
    if (count === 0) return 0;
    requireRead(this.#hm, 0);
    if (this.bulkCompatible(arr)) {
      copyView(this.#hm, this.abs, arr as unknown as ArrayBufferView, count * this.type.size, false);
      return count;
    }
    for (let i = 0; i < count; i++) arr[i] = readObjAt(this.#hm, this.type, this.abs + i * this.type.size, 0) as T;
    return count;
  }

  /**
   * Copies min(len, arr.length) elements from `arr`. Every element is checked before any is
   * written.
   */
  copyFrom(arr: ArrayLike<T>): void {
    if (typeof arr !== 'object' || arr === null || typeof arr.length !== 'number') {
      throw typeError('arr', 'an array or typed array', arr);
    }
    const count = Math.min(this.len, arr.length);
    if (count === 0) return;
    if (this.bulkCompatible(arr)) {
      requireWrite(this.#hm, 0);
      copyView(this.#hm, this.abs, arr as unknown as ArrayBufferView, count * this.type.size, true);
      return;
    }
    if (this.type.scalar !== S_COMPOSITE) {
      // Read each element once (a getter must not pass the check with one value and then
      // write another), check them all, then write.
      const values = new Array<unknown>(count);
      for (let i = 0; i < count; i++) {
        const v = arr[i];
        checkOperand(this.type, v, `arr[${i}]`);
        values[i] = v;
      }
      requireWrite(this.#hm, 0);
      for (let i = 0; i < count; i++) writeObjAt(this.#hm, this.type, values[i], this.abs + i * this.type.size, 0);
      return;
    }
    const size = this.type.size;
    const bytes = new Uint8Array(count * size);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) this.type.encode(dv, i * size, arr[i] as T, `arr[${i}]`);
    requireWrite(this.#hm, 0);
    copyIn(this.#hm, this.abs, bytes, 0, bytes.length);
  }
}
