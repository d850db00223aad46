/**
 * The tests and inline stores GuestMemoryMmap's fast paths run on a span, as module functions
 * so that the hot methods stay small enough for the JIT to inline them into the caller's loop
 * (V8 inlines up to 460 bytes of bytecode per function; test/guest-memory-inlining.test.ts fails
 * when `load`/`store` grow past that).
 */
import * as bitmap from '../atomic-bitmap.js';
import type { Span } from './byte-window.js';

// Module constants, not imported bindings, on the hot paths (see guest-memory.ts).
const { markPage, markPageAfterPlain } = bitmap;

/** Whether `size` bytes at `off` (naturally aligned) are in span `r`'s readable fast window. */
export function readable(r: Span, off: number, size: number): boolean {
  return off >>> 0 === off && off + size <= r.rEnd && (off & (size - 1)) === 0;
}

/** Whether `size` bytes at `off` (naturally aligned) are in span `r`'s writable fast window. */
export function writable(r: Span, off: number, size: number): boolean {
  return off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0;
}

/** Marks the page of `off` dirty after an atomic store (when `r` tracks dirty pages). */
export function marked(r: Span, off: number): void {
  if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
}

/** Marks the page of `off` dirty after a plain store: a locked or (see markRange). */
export function markedPlain(r: Span, off: number): void {
  if (r.dirty !== null) markPageAfterPlain(r.dirty, off >>> r.pageShift);
}

/**
 * The inline stores of a 32-, 8- and 16-bit integer (already range-checked) at `off` of span `r`:
 * true if done, false if the slow path must decide (outside the fast window, misaligned).
 * Signed and unsigned types of one width store the same bits through one view.
 */
export function storeWord(r: Span, value: number, off: number): boolean {
  if (!writable(r, off, 4)) return false;
  Atomics.store(r.i32, off >>> 2, value | 0);
  marked(r, off);
  return true;
}

export function storeByte(r: Span, value: number, off: number): boolean {
  if (off >>> 0 !== off || off >= r.wEnd) return false;
  Atomics.store(r.u8, off, value);
  marked(r, off);
  return true;
}

export function storeHalf(r: Span, value: number, off: number): boolean {
  if (!writable(r, off, 2)) return false;
  Atomics.store(r.u16, off >>> 1, value);
  marked(r, off);
  return true;
}

/** Whether `value` is a u32 (the operand of the 32-bit RMW fast paths). */
export function isU32(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

/**
 * The 32-bit read-modify-writes at `off` of span `r` (inside its writable window), one function
 * per operation so that each `Atomics` call site sees one array type; the old value as a u32.
 * Each marks the page.
 */
export function add32(r: Span, off: number, value: number): number {
  const old = Atomics.add(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}

export function sub32(r: Span, off: number, value: number): number {
  const old = Atomics.sub(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}

export function and32(r: Span, off: number, value: number): number {
  const old = Atomics.and(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}

export function or32(r: Span, off: number, value: number): number {
  const old = Atomics.or(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}

export function xor32(r: Span, off: number, value: number): number {
  const old = Atomics.xor(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}

export function swap32(r: Span, off: number, value: number): number {
  const old = Atomics.exchange(r.i32, off >>> 2, value | 0) >>> 0;
  marked(r, off);
  return old;
}
