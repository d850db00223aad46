/**
 * GuestMemoryMmap's slow paths: what its inline fast paths hand over (a first access to another
 * region, a misaligned or region-spanning value, a bad argument, a device behind the map, an
 * atomic wait). Each validates everything, then performs the access or throws the typed error.
 */
import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkIndex, checkOptionalIndex, checkTimeout, rangeError, typeError } from './args.js';
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
  decodeScalarScratch,
  decodeValue,
  encodeScalarScratch,
  encodeValue,
  readObjAt,
  requireRead,
  requireWrite,
  scalarScratch,
  writeObjAt,
} from './access.js';
import type { Span } from './byte-window.js';
import { invalidBackendAddress, misaligned, partialBuffer } from './errs.js';
import { atomicLoad, atomicStore, bswap16, bswap32, VIEW_CHUNK } from './host-memory.js';
import { locate, spanFor, transfer } from './memory-walk.js';
import { NO_SPAN } from './memory-layout.js';
import {
  HOST_LITTLE_ENDIAN,
  S_COMPOSITE,
  S_I32,
  S_U16,
  S_U32,
  S_U8,
  type ValueType,
  type WriteValue,
} from '../types.js';

/** readObj of anything: inside one region, or gathered from adjacent ones and decoded. */
export function readObjSlow<T>(m: GuestMemoryMmap, type: ValueType<T>, addr: number): T {
  checkType(type);
  checkIndex('addr', addr);
  const r = spanFor(m, addr);
  const off = addr - r.startAddr;
  if (off + type.size <= r.len) return readObjAt(r.hm, type, off, addr) as T;
  // Spans regions: gather the bytes, then decode (scalars through scratch, no allocation).
  const scalar = type.scalar !== S_COMPOSITE;
  const bytes = scalar ? scalarScratch() : new Uint8Array(type.size);
  const done = transfer(m, bytes, type.size, addr, false);
  if (done !== type.size) throw partialBuffer(type.size, done);
  return (scalar ? decodeScalarScratch(type) : decodeValue(type, bytes)) as T;
}

/** writeObj of anything: checked first (a bad value writes nothing), then written or scattered. */
export function writeObjSlow<T>(m: GuestMemoryMmap, type: ValueType<T>, value: WriteValue<T>, addr: number): void {
  checkType(type);
  checkIndex('addr', addr);
  if (type.scalar !== S_COMPOSITE) checkOperand(type, value);
  const r = spanFor(m, addr);
  const off = addr - r.startAddr;
  if (off + type.size <= r.len) {
    writeObjAt(r.hm, type, value, off, addr);
    return;
  }
  // Spans regions: encode first (a bad composite writes nothing), then scatter.
  const bytes = type.scalar !== S_COMPOSITE ? encodeScalarScratch(type, value) : encodeValue(type, value);
  const done = transfer(m, bytes, type.size, addr, true);
  if (done !== type.size) throw partialBuffer(type.size, done);
}

/** Sign-extends the low `size` bytes of `v` to an int32, or returns them unsigned. */
function extend(v: number, size: number, signed: boolean): number {
  if (!signed) return size === 4 ? v >>> 0 : v;
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

const UNSIGNED = [0, S_U8, S_U16, 0, S_U32];

/** Everything the register loads' fast path does not take: validate, then the bus, split or throw. */
export function ldSlow(m: GuestMemoryMmap, addr: number, size: number, signed: boolean): number {
  checkIndex('addr', addr);
  if (m.bus !== null && locate(m, addr) === NO_SPAN) return extend(m.bus.read(addr, size), size, signed);
  const r = spanFor(m, addr);
  const off = addr - r.startAddr;
  if ((off & (size - 1)) === 0 && off + size <= r.len) {
    requireRead(r.hm, addr);
    return extend(Number(atomicLoad(r.hm, UNSIGNED[size]!, off)), size, signed);
  }
  if (m.misaligned !== 'split') throw misaligned(addr, size);
  const b = scalarScratch();
  const done = transfer(m, b, size, addr, false);
  if (done !== size) throw partialBuffer(size, done);
  let v = size === 1 ? b[0]! : size === 2 ? b[0]! | (b[1]! << 8) : b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  if (!HOST_LITTLE_ENDIAN) v = size === 2 ? bswap16(v) : size === 4 ? bswap32(v) : v;
  return extend(v, size, signed);
}

/** Everything the register stores' fast path does not take. */
export function stSlow(m: GuestMemoryMmap, addr: number, size: number, value: number): void {
  checkIndex('addr', addr);
  if (typeof value !== 'number') throw typeError('value', 'of type number', value);
  if ((value | 0) !== value && value >>> 0 !== value)
    throw rangeError('value', 'an integer from -2^31 to 2^32-1', value);
  const bits = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
  if (m.bus !== null && locate(m, addr) === NO_SPAN) {
    m.bus.write(addr, size, bits);
    return;
  }
  const r = spanFor(m, addr);
  const off = addr - r.startAddr;
  if ((off & (size - 1)) === 0 && off + size <= r.len) {
    requireWrite(r.hm, addr);
    atomicStore(r.hm, UNSIGNED[size]!, off, bits);
    return;
  }
  if (m.misaligned !== 'split') throw misaligned(addr, size);
  const b = scalarScratch();
  const le = HOST_LITTLE_ENDIAN ? bits : size === 2 ? bswap16(bits) : bswap32(bits);
  for (let i = 0; i < size; i++) b[i] = (le >>> (8 * i)) & 0xff;
  const done = transfer(m, b, size, addr, true);
  if (done !== size) throw partialBuffer(size, done);
}

/** The span for an atomic access of `size` bytes at `addr`: inside one region, or the typed error. */
function atomicTarget(m: GuestMemoryMmap, addr: number, size: number): Span {
  checkIndex('addr', addr);
  const r = spanFor(m, addr);
  const off = addr - r.startAddr;
  if (off + size > r.len) throw invalidBackendAddress(off, size);
  return r;
}

export function loadSlow<T>(m: GuestMemoryMmap, type: ValueType<T>, addr: number): T {
  const t = checkAtomicType(type);
  const r = atomicTarget(m, addr, t.size);
  return checkedLoad(r.hm, t, addr - r.startAddr, addr) as T;
}

export function storeSlow<T>(m: GuestMemoryMmap, type: ValueType<T>, value: T, addr: number): void {
  const t = checkAtomicType(type);
  checkOperand(t, value);
  const r = atomicTarget(m, addr, t.size);
  checkedStore(r.hm, t, value, addr - r.startAddr, addr);
}

export function rmwSlow<T>(m: GuestMemoryMmap, op: number, type: ValueType<T>, addr: number, value: T): T {
  const t = checkAtomicType(type);
  checkOperand(t, value);
  const r = atomicTarget(m, addr, t.size);
  return checkedRmw(r.hm, op, t, value, addr - r.startAddr, addr) as T;
}

export function compareExchangeSlow<T>(
  m: GuestMemoryMmap,
  type: ValueType<T>,
  addr: number,
  expected: T,
  replacement: T,
): T {
  const t = checkAtomicType(type);
  checkOperand(t, expected, 'expected');
  checkOperand(t, replacement, 'replacement');
  const r = atomicTarget(m, addr, t.size);
  return checkedCompareExchange(r.hm, t, expected, replacement, addr - r.startAddr, addr) as T;
}

export function waitAt<T>(
  m: GuestMemoryMmap,
  type: ValueType<T>,
  addr: number,
  expected: T,
  timeoutMs: number | undefined,
): 'ok' | 'not-equal' | 'timed-out' {
  const t = checkWaitType(type);
  checkOperand(t, expected, 'expected');
  const timeout = checkTimeout('timeoutMs', timeoutMs);
  const r = atomicTarget(m, addr, t.size);
  return checkedWait(r.hm, t, expected, timeout, addr - r.startAddr, addr);
}

export function waitAsyncAt<T>(
  m: GuestMemoryMmap,
  type: ValueType<T>,
  addr: number,
  expected: T,
  timeoutMs: number | undefined,
): Promise<'ok' | 'not-equal' | 'timed-out'> {
  const t = checkWaitType(type);
  checkOperand(t, expected, 'expected');
  const timeout = checkTimeout('timeoutMs', timeoutMs);
  const target = atomicTarget(m, addr, t.size);
  const off = addr - target.startAddr;
  if (off % t.size !== 0) throw misaligned(addr, t.size);
  requireRead(target.hm, addr);
  const v = target.hm.chunks[Math.floor(off / VIEW_CHUNK)]!;
  const local = off % VIEW_CHUNK;
  const r =
    t.atomicScalar === S_I32
      ? Atomics.waitAsync(v.i32, local / 4, expected as number, timeout)
      : Atomics.waitAsync(v.i64, local / 8, expected as bigint, timeout);
  return r.async ? r.value : Promise.resolve(r.value);
}

export function notifyAt(m: GuestMemoryMmap, addr: number, count: number | undefined): number {
  const n = checkOptionalIndex('count', count);
  const r = atomicTarget(m, addr, 4);
  return checkedNotify(r.hm, n, addr - r.startAddr, addr);
}
