/**
 * Everything of GuestMemoryMmap that walks over adjacent regions: one walk (vm-memory's
 * try_access) and the operations built on it (bulk copies, fd I/O, slices, coverage). The map
 * hands its region lookup over once, from its class's static block, so these reach it without
 * a public method and without an import cycle.
 */
import type { GuestMemoryMmap } from '../guest-memory.js';
import type { GuestRegionMmap } from '../guest-region.js';
import { checkFd, checkFunction, checkIndex, checkPosition, MAX_SAFE, typeError } from './args.js';
import { requireRead, requireWrite } from './access.js';
import type { Span } from './byte-window.js';
import { invalidGuestAddress } from './errs.js';
import { copyIn, copyOut, readFd, writeFd } from './host-memory.js';
import { NO_SPAN } from './memory-layout.js';
import { VolatileSlice } from '../volatile-slice.js';

/** Callback of `GuestMemoryMmap.tryAccess`: returns the bytes it handled (0 stops). */
export type AccessFn = (offset: number, count: number, regionOffset: number, region: GuestRegionMmap) => number;

/** The span of the region of `m` holding `addr` (any number), or NO_SPAN; set by GuestMemoryMmap. */
export let locate: (m: GuestMemoryMmap, addr: number) => Span;

/** Called once, by GuestMemoryMmap's static block. */
export function setLocate(fn: typeof locate): void {
  locate = fn;
}

/** The span of the region holding `addr`, or InvalidGuestAddress. */
export function spanFor(m: GuestMemoryMmap, addr: number): Span {
  const r = locate(m, addr);
  if (r === NO_SPAN) throw invalidGuestAddress(addr);
  return r;
}

/**
 * One step of a walk: handles `len` bytes at offset `off` of span `r`, the `done`-th byte of the
 * walk on; returns how many it handled (0 ends the walk). `a` and `b` are the walk's own
 * arguments, passed through so a step is a module function, not a closure made per call.
 */
type Step<A, B> = (r: Span, off: number, len: number, done: number, a: A, b: B) => number;

/**
 * The one walk over [addr, addr + count): calls `step` for each region piece in address order
 * (again for the rest of a piece when it handled fewer bytes) and returns the bytes handled. It
 * stops at a hole or when a step returns 0. Throws InvalidGuestAddress if `addr` is in no region.
 */
export function walk<A, B>(m: GuestMemoryMmap, addr: number, count: number, step: Step<A, B>, a: A, b: B): number {
  let r = spanFor(m, addr);
  let done = 0;
  for (;;) {
    const off = addr + done - r.startAddr;
    const n = step(r, off, Math.min(r.len - off, count - done), done, a, b);
    if (n === 0) return done;
    done += n;
    if (done === count) return done;
    r = locate(m, addr + done);
    if (r === NO_SPAN) return done;
  }
}

/** Steps of the walks below. */
function copyInStep(r: Span, off: number, len: number, done: number, buf: Uint8Array): number {
  requireWrite(r.hm, r.startAddr + off);
  copyIn(r.hm, off, buf, done, len);
  return len;
}

function copyOutStep(r: Span, off: number, len: number, done: number, buf: Uint8Array): number {
  requireRead(r.hm, r.startAddr + off);
  copyOut(r.hm, off, buf, done, len);
  return len;
}

function coverStep(_r: Span, _off: number, len: number): number {
  return len;
}

function sliceStep(r: Span, off: number, len: number, _done: number, out: VolatileSlice[]): number {
  out.push(new VolatileSlice(r.hm, off, len));
  return len;
}

function accessStep(r: Span, off: number, len: number, done: number, fn: AccessFn): number {
  const n = fn(done, len, off, r.window as GuestRegionMmap);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > len) {
    throw typeError('fn result', `a byte count in [0, ${len}]`, n);
  }
  return n;
}

function fdInStep(r: Span, off: number, len: number, done: number, fd: number, pos: number): number {
  requireWrite(r.hm, r.startAddr + off);
  return readFd(r.hm, off, fd, len, pos < 0 ? pos : pos + done);
}

function fdOutStep(r: Span, off: number, len: number, done: number, fd: number, pos: number): number {
  requireRead(r.hm, r.startAddr + off);
  return writeFd(r.hm, off, fd, len, pos < 0 ? pos : pos + done);
}

/**
 * The copy behind read/write: `count` bytes between `buf` and [addr, addr + count) across
 * adjacent regions; returns the bytes moved. An access inside one region (the common case) is one
 * copy with no walk. Throws InvalidGuestAddress if `addr` is in no region, AccessDenied at a
 * protected one.
 */
export function transfer(m: GuestMemoryMmap, buf: Uint8Array, count: number, addr: number, toGuest: boolean): number {
  if (count === 0) return 0;
  const r = locate(m, addr);
  const off = addr - r.startAddr;
  if (r !== NO_SPAN && count <= r.len - off) {
    if (toGuest) {
      requireWrite(r.hm, addr);
      copyIn(r.hm, off, buf, 0, count);
    } else {
      requireRead(r.hm, addr);
      copyOut(r.hm, off, buf, 0, count);
    }
    return count;
  }
  return walk(m, addr, count, toGuest ? copyInStep : copyOutStep, buf, undefined);
}

/** How many bytes from `addr` (in a region) are backed contiguously, up to `count`. */
export function coverage(m: GuestMemoryMmap, addr: number, count: number): number {
  return count === 0 ? 0 : walk(m, addr, count, coverStep, undefined, undefined);
}

/** `GuestMemoryMmap.getSlices`: slices covering [addr, addr + count); InvalidGuestAddress at the first hole. */
export function slicesOf(m: GuestMemoryMmap, addr: number, count: number): VolatileSlice[] {
  checkIndex('addr', addr);
  checkIndex('count', count);
  if (addr + count > MAX_SAFE + 1) throw invalidGuestAddress(MAX_SAFE);
  const out: VolatileSlice[] = [];
  if (count === 0) return out; // as vm-memory's iterator: nothing for a zero count
  const done = walk(m, addr, count, sliceStep, out, undefined);
  if (done !== count) throw invalidGuestAddress(addr + done);
  return out;
}

/** `GuestMemoryMmap.tryAccess`: the walk with the caller's callback, its results checked. */
export function tryAccess(m: GuestMemoryMmap, count: number, addr: number, fn: AccessFn): number {
  checkIndex('count', count);
  checkIndex('addr', addr);
  checkFunction('fn', fn);
  return walk(m, addr, count, accessStep, fn, undefined);
}

/**
 * try_access over [addr, addr + count) with one read(2)/write(2) per step, or pread(2)/pwrite(2)
 * at `position` onward when it is given; a short transfer is continued, 0 (end of file) stops.
 */
export function fdLoop(
  m: GuestMemoryMmap,
  addr: number,
  fd: number,
  count: number,
  toGuest: boolean,
  position: unknown,
): number {
  checkIndex('addr', addr);
  checkFd('fd', fd);
  checkIndex('count', count);
  const pos = checkPosition('position', position);
  if (count === 0) return 0;
  return walk(m, addr, count, toGuest ? fdInStep : fdOutStep, fd, pos);
}
