import type { ValueType, WriteValue } from './types.js';

/**
 * The `Bytes<A>` interface every container implements (VolatileSlice, GuestRegionMmap with
 * region offsets, GuestMemoryMmap with guest addresses). Verb meanings are fixed, as in
 * vm-memory: `read`/`write` may be partial and return a count; `*Slice`, `*Obj`,
 * `readExactFrom`, `writeAllTo` do all or throw PartialBuffer; `load`/`store` and the RMW
 * operations are atomic (seq-cst, naturally aligned, integer types only).
 */
export interface Bytes<A> {
  /** Copies `buf` to `addr`; may stop early at the end of the container. Returns the bytes written. */
  write(buf: Uint8Array, addr: A): number;
  /** Fills `buf` from `addr`; may stop early. Returns the bytes read. */
  read(buf: Uint8Array, addr: A): number;
  /** Copies all of `buf` to `addr` or throws PartialBuffer (with `completed`). */
  writeSlice(buf: Uint8Array, addr: A): void;
  /** Fills all of `buf` from `addr` or throws PartialBuffer. */
  readSlice(buf: Uint8Array, addr: A): void;
  /** Writes `value` as `type` (scalar, struct, array) at `addr`; all or PartialBuffer. */
  writeObj<T>(type: ValueType<T>, value: WriteValue<T>, addr: A): void;
  /** Reads a `type` value at `addr` (bigint for 64-bit integers, an object for structs). */
  readObj<T>(type: ValueType<T>, addr: A): T;
  /** One read(2) (pread(2) at `position`) from `fd` straight into guest memory; returns the count (0 at end of file). */
  readFrom(addr: A, fd: number, count: number, position?: number): number;
  /** Reads exactly `count` bytes from `fd` into guest memory or throws (IOError, PartialBuffer at end of file). */
  readExactFrom(addr: A, fd: number, count: number, position?: number): void;
  /** One write(2) (pwrite(2) at `position`) of guest memory to `fd`; returns the count. */
  writeTo(addr: A, fd: number, count: number, position?: number): number;
  /** Writes exactly `count` bytes of guest memory to `fd` or throws. */
  writeAllTo(addr: A, fd: number, count: number, position?: number): void;
  /** Atomic (sequentially consistent) load of a naturally aligned integer; Misaligned otherwise. */
  load<T>(type: ValueType<T>, addr: A): T;
  /** Atomic store of a naturally aligned integer; values must fit `type` (RangeError otherwise). */
  store<T>(type: ValueType<T>, value: T, addr: A): void;
  /** Atomically replaces the value at `addr` with `replacement` if it equals `expected`; returns the old value. */
  compareExchange<T>(type: ValueType<T>, addr: A, expected: T, replacement: T): T;
  /** Atomically stores `value`; returns the old value. */
  exchange<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomically adds `value` (wrapping); returns the old value. */
  fetchAdd<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomically subtracts `value` (wrapping); returns the old value. */
  fetchSub<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomic bitwise AND; returns the old value. */
  fetchAnd<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomic bitwise OR; returns the old value. */
  fetchOr<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomic bitwise XOR; returns the old value. */
  fetchXor<T>(type: ValueType<T>, addr: A, value: T): T;
  /** Atomics.wait on a waitable type (i32, le32, i64, le64 views) at `addr`: blocks until notified, `expected` differs, or the timeout. */
  wait<T>(type: ValueType<T>, addr: A, expected: T, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out';
  /** Atomics.notify at `addr`: wakes up to `count` waiters (default all); returns how many woke. */
  notify(addr: A, count?: number): number;
}
