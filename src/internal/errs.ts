/**
 * Builders for each GuestMemoryError kind, so every throw site words its message the same way
 * (addresses in hex). Kept out of hot functions: callers throw from their slow paths.
 */
import { GuestMemoryError } from '../errors.js';

export const hex = (n: number | bigint): string => '0x' + n.toString(16);

export const outOfBounds = (addr: number): GuestMemoryError =>
  new GuestMemoryError('OutOfBounds', `address ${hex(addr)} is out of bounds`, { addr });

export const overflow = (base: number, offset: number): GuestMemoryError =>
  new GuestMemoryError('Overflow', `${hex(base)} + ${hex(offset)} exceeds 2^53-1`, {
    base,
    offset,
  });

export const tooBig = (nelements: number, size: number): GuestMemoryError =>
  new GuestMemoryError('TooBig', `${nelements} elements of ${size} bytes exceed 2^53-1 bytes`, { nelements, size });

export const misaligned = (addr: number, alignment: number): GuestMemoryError =>
  new GuestMemoryError('Misaligned', `address ${hex(addr)} is not aligned to ${alignment} bytes`, { addr, alignment });

export const accessDenied = (addr: number, access: 'read' | 'write'): GuestMemoryError =>
  new GuestMemoryError('AccessDenied', `${access} access at ${hex(addr)} denied by the mapping's protection`, {
    addr,
    access,
  });

export const invalidGuestAddress = (addr: number): GuestMemoryError =>
  new GuestMemoryError('InvalidGuestAddress', `guest address ${hex(addr)} is in no region`, {
    addr,
  });

export const invalidBackendAddress = (addr: number, count: number): GuestMemoryError =>
  new GuestMemoryError(
    'InvalidBackendAddress',
    `[${hex(addr)}, ${hex(addr)} + ${hex(count)}) is not inside the region`,
  );

export const partialBuffer = (expected: number, completed: number): GuestMemoryError =>
  new GuestMemoryError('PartialBuffer', `only ${completed} of ${expected} bytes were transferred`, {
    expected,
    completed,
  });

export const invalidGuestRegion = (why: string): GuestMemoryError => new GuestMemoryError('InvalidGuestRegion', why);
