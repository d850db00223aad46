/**
 * GuestMemoryMmap's general paths: what its methods do for the types they do not test by
 * identity (any scalar, through the region holding the address), before the validating slow
 * path (memory-slow.ts) takes anything that is not a plain aligned access inside one region.
 */
import type { GuestMemoryMmap } from '../guest-memory.js';
import { fitsInline, fitsOperand, type Span } from './byte-window.js';
import { arrayOf, loadScalar, readAligned, rmwAt, storeScalar, writeAligned } from './host-memory.js';
import { isU32, marked, markedPlain, readable, writable } from './memory-fast.js';
import { NO_SPAN } from './memory-layout.js';
import { compareExchangeSlow, loadSlow, readObjSlow, rmwSlow, storeSlow, writeObjSlow } from './memory-slow.js';
import { locate } from './memory-walk.js';
import {
  S_F32,
  S_F64,
  S_I16,
  S_I32,
  S_I64,
  S_I8,
  S_U16,
  S_U32,
  S_U64,
  S_U8,
  ValueType,
  type WriteValue,
} from '../types.js';

/** The span of the region holding `addr`; NO_SPAN (whose bounds test fails) for unmapped addresses and non-numbers. */
function near(m: GuestMemoryMmap, addr: unknown): Span {
  return typeof addr === 'number' ? locate(m, addr) : NO_SPAN;
}

export function readObjAny<T>(m: GuestMemoryMmap, type: ValueType<T>, addr: number): T {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
  if (readable(r, off, size)) {
    if (type.plainScalar === S_U32) return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
    if (type.scalar >= 0) return readAligned(r.c0, type, off) as T;
  }
  return readObjSlow(m, type, addr);
}

export function writeObjAny<T>(m: GuestMemoryMmap, type: ValueType<T>, value: WriteValue<T>, addr: number): void {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (writable(r, off, size)) {
    if (type.plainScalar === S_U32 && isU32(value)) {
      Atomics.store(r.i32, off >>> 2, value | 0);
      marked(r, off);
      return;
    }
    if (fitsInline(type.scalar, value)) {
      writeAligned(r.c0, type, off, value);
      marked(r, off);
      return;
    }
  }
  writeObjSlow(m, type, value, addr);
}

export function readUnorderedAny<T>(m: GuestMemoryMmap, type: ValueType<T>, addr: number): T {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (readable(r, off, size)) {
    switch (type.plainScalar) {
      case S_U32:
        return r.u32[off >>> 2] as T;
      case S_U8:
        return r.u8[off] as T;
      case S_U16:
        return r.u16[off >>> 1] as T;
      case S_I32:
        return r.i32[off >>> 2] as T;
      case S_I8:
        return r.i8[off] as T;
      case S_I16:
        return r.i16[off >>> 1] as T;
      case S_F64:
        return r.f64[off >>> 3] as T;
      case S_F32:
        return r.f32[off >>> 2] as T;
      case S_U64:
        return r.u64[off >>> 3] as T;
      case S_I64:
        return r.i64[off >>> 3] as T;
      default:
        break;
    }
  }
  return readObjSlow(m, type, addr);
}

export function writeUnorderedAny<T>(m: GuestMemoryMmap, type: ValueType<T>, value: T, addr: number): void {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (writable(r, off, size) && fitsInline(type.plainScalar, value)) {
    const v = value as number;
    switch (type.plainScalar) {
      case S_U32:
        r.u32[off >>> 2] = v;
        break;
      case S_U8:
        r.u8[off] = v;
        break;
      case S_U16:
        r.u16[off >>> 1] = v;
        break;
      case S_I32:
        r.i32[off >>> 2] = v;
        break;
      case S_I8:
        r.i8[off] = v;
        break;
      case S_I16:
        r.i16[off >>> 1] = v;
        break;
      case S_F64:
        r.f64[off >>> 3] = v;
        break;
      default:
        r.f32[off >>> 2] = v;
        break;
    }
    markedPlain(r, off);
    return;
  }
  writeObjSlow(m, type, value, addr);
}

export function loadAny<T>(m: GuestMemoryMmap, type: ValueType<T>, addr: number): T {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (readable(r, off, size)) {
    switch (type.atomicScalar) {
      case S_U32:
        return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
      case S_U8:
        return Atomics.load(r.u8, off) as T;
      case S_U16:
        return Atomics.load(r.u16, off >>> 1) as T;
      case S_I32:
        return Atomics.load(r.i32, off >>> 2) as T;
      case S_U64:
        return Atomics.load(r.u64, off >>> 3) as T;
      default:
        if (type.atomicScalar >= 0) return loadScalar(r.c0, type.atomicScalar, off) as T;
    }
  }
  return loadSlow(m, type, addr);
}

export function storeAny<T>(m: GuestMemoryMmap, type: ValueType<T>, value: T, addr: number): void {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (writable(r, off, size)) {
    const scalar = type.atomicScalar;
    if (scalar === S_U32 && isU32(value)) {
      Atomics.store(r.i32, off >>> 2, value | 0);
      marked(r, off);
      return;
    }
    if (scalar >= 0 && fitsInline(scalar, value)) {
      storeScalar(r.c0, scalar, off, value as number);
      marked(r, off);
      return;
    }
  }
  storeSlow(m, type, value, addr);
}

/**
 * The general fast path of every RMW: any integer type in chunk 0 of a writable region, found
 * through the last region or a search, no allocation; anything else validates in rmwSlow.
 */
export function rmwAny<T>(m: GuestMemoryMmap, op: number, type: ValueType<T>, addr: number, value: T): T {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (writable(r, off, size)) {
    const sc = type.atomicScalar;
    if (sc >= 0 && fitsOperand(sc, value)) {
      const old = rmwAt(arrayOf(r.c0, sc), off / size, op, value as number);
      marked(r, off);
      return old as T;
    }
  }
  return rmwSlow(m, op, type, addr, value);
}

export function compareExchangeAny<T>(
  m: GuestMemoryMmap,
  type: ValueType<T>,
  addr: number,
  expected: T,
  replacement: T,
): T {
  const r = near(m, addr);
  const off = typeof addr === 'number' ? addr - r.startAddr : -1;
  const size = ValueType.is(type) ? type.size : NaN;
  if (writable(r, off, size)) {
    const sc = type.atomicScalar;
    if (sc >= 0 && fitsOperand(sc, expected) && fitsOperand(sc, replacement)) {
      const arr = arrayOf(r.c0, sc) as Int32Array;
      const old = Atomics.compareExchange(arr, off / size, expected as number, replacement as number);
      marked(r, off);
      return old as T;
    }
  }
  return compareExchangeSlow(m, type, addr, expected, replacement);
}
