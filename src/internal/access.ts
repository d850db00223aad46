/**
 * Checked accesses at an absolute mapping offset whose bounds the caller has checked: each
 * checks alignment (atomics) and the mapping's protection, then does the access. `errAddr` is
 * the address as the caller's user sees it (slice offset, region offset or guest address), so
 * Misaligned and AccessDenied name it at every level.
 */
import { accessDenied, misaligned } from './errs.js';
import { typeError } from './args.js';
import {
  atomicCompareExchange,
  atomicLoad,
  atomicNotify,
  atomicRmw,
  atomicStore,
  atomicWait,
  copyIn,
  copyOut,
  readScalar,
  writeScalar,
  type HostMemory,
} from './host-memory.js';
import { checkScalarValue, checkValueType, S_COMPOSITE, S_I64, ValueType } from '../types.js';

/** The atomic ops take u8 … i64 only. */
export function checkAtomicType(type: unknown): ValueType<unknown> {
  if (!ValueType.is(type) || !type.atomic) {
    const why =
      ValueType.is(type) && type.swap && type.scalar <= S_I64
        ? ` in host byte order (${type.name} is ${type.little ? 'little' : 'big'}-endian, the host is not)`
        : '';
    throw typeError('type', `an integer type (u8, i8, u16, i16, u32, i32, u64, i64, le16, le32, le64)${why}`, type);
  }
  return type;
}

export function checkWaitType(type: unknown): ValueType<unknown> {
  if (!ValueType.is(type) || !type.waitable) {
    throw typeError('type', 'i32 or i64', type);
  }
  return type;
}

export function checkType(type: unknown): ValueType<unknown> {
  return checkValueType('type', type);
}

export function requireRead(hm: HostMemory, errAddr: number): void {
  if (!hm.readable) throw accessDenied(errAddr, 'read');
}

export function requireWrite(hm: HostMemory, errAddr: number): void {
  if (!hm.writable) throw accessDenied(errAddr, hm.readable ? 'write' : 'read');
}

function requireAligned(abs: number, size: number, errAddr: number): void {
  if (abs % size !== 0) throw misaligned(errAddr, size);
}

export function checkedLoad(hm: HostMemory, type: ValueType<unknown>, abs: number, errAddr: number): number | bigint {
  requireAligned(abs, type.size, errAddr);
  requireRead(hm, errAddr);
  return atomicLoad(hm, type.atomicScalar, abs);
}

export function checkedStore(
  hm: HostMemory,
  type: ValueType<unknown>,
  value: unknown,
  abs: number,
  errAddr: number,
): void {
  requireAligned(abs, type.size, errAddr);
  requireWrite(hm, errAddr);
  atomicStore(hm, type.atomicScalar, abs, value as number | bigint);
}

export function checkedRmw(
  hm: HostMemory,
  op: number,
  type: ValueType<unknown>,
  value: unknown,
  abs: number,
  errAddr: number,
): number | bigint {
  requireAligned(abs, type.size, errAddr);
  requireWrite(hm, errAddr);
  return atomicRmw(hm, op, type.atomicScalar, abs, value as number | bigint);
}

export function checkedCompareExchange(
  hm: HostMemory,
  type: ValueType<unknown>,
  expected: unknown,
  replacement: unknown,
  abs: number,
  errAddr: number,
): number | bigint {
  requireAligned(abs, type.size, errAddr);
  requireWrite(hm, errAddr);
  return atomicCompareExchange(hm, type.atomicScalar, abs, expected as number | bigint, replacement as number | bigint);
}

export function checkedWait(
  hm: HostMemory,
  type: ValueType<unknown>,
  expected: unknown,
  timeoutMs: number,
  abs: number,
  errAddr: number,
): 'ok' | 'not-equal' | 'timed-out' {
  requireAligned(abs, type.size, errAddr);
  requireRead(hm, errAddr);
  return atomicWait(hm, type.atomicScalar, abs, expected as number | bigint, timeoutMs);
}

export function checkedNotify(hm: HostMemory, count: number | undefined, abs: number, errAddr: number): number {
  requireAligned(abs, 4, errAddr);
  // No thread can wait on memory it cannot read (wait refuses it), and a PROT_NONE mapping has
  // no views to notify through: nobody to wake.
  if (!hm.readable) return 0;
  return atomicNotify(hm, abs, count);
}

/** Validates atomic operands against the type (numbers or bigints in its range). */
export function checkOperand(type: ValueType<unknown>, value: unknown, what = 'value'): void {
  checkScalarValue(type, value, what);
}

// Composite values are encoded into, and decoded from, a private buffer and then copied, so a
// value that fails validation halfway has written nothing to guest memory.
let decodeBuf = new Uint8Array(64);
let decodeDv = new DataView(decodeBuf.buffer);

/** Reads a whole object that lies inside one mapping. */
export function readObjAt(hm: HostMemory, type: ValueType<unknown>, abs: number, errAddr: number): unknown {
  requireRead(hm, errAddr);
  if (type.scalar !== S_COMPOSITE) return readScalar(hm, type, abs);
  const n = type.size;
  if (decodeBuf.length < n) {
    decodeBuf = new Uint8Array(Math.max(n, decodeBuf.length * 2));
    decodeDv = new DataView(decodeBuf.buffer);
  }
  copyOut(hm, abs, decodeBuf, 0, n);
  return type.decode(decodeDv, 0);
}

// Scalars spanning two regions go through this scratch buffer instead of fresh bytes. Only
// scalars use it: their values are primitives checked beforehand, so encoding them runs no user
// code that could re-enter and overwrite the scratch before it is copied.
const scalarBuf = new Uint8Array(8);
const scalarDv = new DataView(scalarBuf.buffer);

/** Encodes a checked scalar into the shared scratch bytes (valid until the next call). */
export function encodeScalarScratch(type: ValueType<unknown>, value: unknown): Uint8Array {
  type.encode(scalarDv, 0, value);
  return scalarBuf;
}

/** The scratch bytes a scalar spanning regions is gathered into before decodeScalarScratch. */
export function scalarScratch(): Uint8Array {
  return scalarBuf;
}

export function decodeScalarScratch(type: ValueType<unknown>): unknown {
  return type.decode(scalarDv, 0);
}

/** Encodes a value into fresh bytes (validating it all first). */
export function encodeValue(type: ValueType<unknown>, value: unknown): Uint8Array {
  const bytes = new Uint8Array(type.size);
  type.encode(new DataView(bytes.buffer), 0, value);
  return bytes;
}

/** Decodes a value from bytes gathered elsewhere (a read split across regions). */
export function decodeValue(type: ValueType<unknown>, bytes: Uint8Array): unknown {
  return type.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}

/** Writes a whole object (already validated for scalars) that lies inside one mapping. */
export function writeObjAt(
  hm: HostMemory,
  type: ValueType<unknown>,
  value: unknown,
  abs: number,
  errAddr: number,
): void {
  if (type.scalar !== S_COMPOSITE) {
    requireWrite(hm, errAddr);
    writeScalar(hm, type, abs, value);
    return;
  }
  const bytes = encodeValue(type, value);
  requireWrite(hm, errAddr);
  copyIn(hm, abs, bytes, 0, bytes.length);
}

export { checkValueType };
