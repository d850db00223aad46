/**
 * The `Bytes<A>` interface every container implements (VolatileSlice, GuestRegionMmap with
 * region offsets, GuestMemoryMmap with guest addresses). Verb meanings are fixed, as in
 * vm-memory: `read`/`write` may be partial and return a count; `*Slice`, `*Obj`,
 * `readExactFrom`, `writeAllTo` do all or throw PartialBuffer; `load`/`store` and the RMW
 * operations are atomic (seq-cst, naturally aligned, integer types only).
 */
import type { ValueType, WriteValue } from './types.js';

export interface Bytes<A> {
  write(buf: Uint8Array, addr: A): number;
  read(buf: Uint8Array, addr: A): number;
  writeSlice(buf: Uint8Array, addr: A): void;
  readSlice(buf: Uint8Array, addr: A): void;
  writeObj<T>(type: ValueType<T>, value: WriteValue<T>, addr: A): void;
  readObj<T>(type: ValueType<T>, addr: A): T;
  readFrom(addr: A, fd: number, count: number, position?: number): number;
  readExactFrom(addr: A, fd: number, count: number, position?: number): void;
  writeTo(addr: A, fd: number, count: number, position?: number): number;
  writeAllTo(addr: A, fd: number, count: number, position?: number): void;
  load<T>(type: ValueType<T>, addr: A): T;
  store<T>(type: ValueType<T>, value: T, addr: A): void;
  compareExchange<T>(type: ValueType<T>, addr: A, expected: T, replacement: T): T;
  exchange<T>(type: ValueType<T>, addr: A, value: T): T;
  fetchAdd<T>(type: ValueType<T>, addr: A, value: T): T;
  fetchSub<T>(type: ValueType<T>, addr: A, value: T): T;
  fetchAnd<T>(type: ValueType<T>, addr: A, value: T): T;
  fetchOr<T>(type: ValueType<T>, addr: A, value: T): T;
  fetchXor<T>(type: ValueType<T>, addr: A, value: T): T;
  wait<T>(type: ValueType<T>, addr: A, expected: T, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out';
  notify(addr: A, count?: number): number;
}
