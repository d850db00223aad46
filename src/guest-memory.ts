import type { Bytes } from './bytes.js';
import { checkIndex, checkUint8Array, MAX_SAFE, typeError } from './internal/args.js';
import { hex, invalidGuestRegion, partialBuffer } from './internal/errs.js';
import { OP_ADD, OP_AND, OP_EXCHANGE, OP_OR, OP_SUB, OP_XOR } from './internal/host-memory.js';
import { spanOf, type Span } from './internal/byte-window.js';
import * as fast from './internal/memory-fast.js';
import {
  compareExchangeAny,
  loadAny,
  readObjAny,
  readUnorderedAny,
  rmwAny,
  storeAny,
  writeObjAny,
  writeUnorderedAny,
} from './internal/memory-general.js';
import {
  checkedRegions,
  dirtyPagesOf,
  fileRangeRegions,
  NO_SPAN,
  rangeRegions,
  regionTable,
  shareRegions,
  sharedRegions,
  type MisalignedPolicy,
  type SharedGuestMemory,
} from './internal/memory-layout.js';
import { ldSlow, notifyAt, stSlow, waitAsyncAt, waitAt } from './internal/memory-slow.js';
import {
  coverage,
  fdLoop,
  setLocate,
  slicesOf,
  spanFor,
  transfer,
  tryAccess,
  type AccessFn,
} from './internal/memory-walk.js';
import type { FileOffset } from './file-offset.js';
import { GuestRegionMmap } from './guest-region.js';
import type { MappingOptions } from './mmap-region.js';
import * as types from './types.js';
import type { ValueType, WriteValue } from './types.js';
import type { VolatileSlice } from './volatile-slice.js';
import { isMmioBus, type MmioBus } from './mmio-bus.js';

export type { AccessFn, MisalignedPolicy, SharedGuestMemory };

// The hot paths' helpers and value types as this module's own constants: an imported binding is
// a module-cell load and a hole check at every use, even inlined, while a constant of the module
// folds away in optimized code (12% of an RMW, 7% of a load).
const { isU32, marked, markedPlain, readable, writable, storeByte, storeHalf, storeWord } = fast;
const { add32, and32, or32, sub32, swap32, xor32 } = fast;
const { i16: I16, i32: I32, i8: I8, u16: U16, u32: U32, u64: U64, u8: U8 } = types;

/**
 * log2 of the bytes per region-table slot, and the first address the table does not cover: local
 * constants, which the JIT folds into the hot paths (an imported binding is a load and a check).
 */
const TABLE_SHIFT = 20;
const TABLE_LIMIT = 2 ** 32;

const token = Symbol('GuestMemoryMmap');

/**
 * GuestMemoryMmap: the guest's physical address space, a sorted immutable set of
 * GuestRegionMmaps. Implements `Bytes<number>` with guest addresses: an access that spans
 * adjacent regions is split at the boundary (vm-memory's try_access); a start address in no
 * region throws InvalidGuestAddress; running into a hole after some bytes gives a partial count
 * (or PartialBuffer for the all-or-error methods).
 *
 * Hot path: a scalar access picks a region span (the last region used, else the region table's
 * entry), then does one bounds test and one typed-array access; other addresses take a binary
 * search. Nothing on that path allocates (except bigint results) or calls native
 * code. This file holds the constructor and those paths; construction, walks over adjacent
 * regions and slow paths are in `internal/memory-*.ts`.
 *
 * Memory model: see VolatileSlice. Atomic operations must lie inside one region.
 *
 * @example
 * const mem = GuestMemoryMmap.fromRanges([[0, 0xa0000], [0x100000, 0x1000000]]);
 * mem.writeObj(u32, 0x12345678, 0x100000);
 * mem.load(u32, 0x100000); // 0x12345678
 */
export class GuestMemoryMmap implements Iterable<GuestRegionMmap>, Bytes<number> {
  /** @internal Regions sorted by start address. */
  readonly regions: readonly GuestRegionMmap[];
  /** Start addresses, for the binary search. */
  readonly #starts: readonly number[];
  /** The regions' spans (what the fast paths read), in the same order; private like every span. */
  readonly #spans: readonly Span[];
  /**
   * The span of the last region used (per thread: each thread has its own object). Initialized
   * here to a span, not left `undefined`, so that V8 tracks the field's class (no map check).
   */
  #hot: Span = NO_SPAN;
  /**
   * Region table of the first 4 GiB (see regionTable): `#span`'s pick when `#hot` misses, and
   * `#locate`'s first step. An entry may not hold the address; the bounds test then fails.
   */
  readonly #table: readonly Span[];
  /**
   * What the register accessors (`ld*`/`st*`) do with a misaligned address: 'fault' throws
   * Misaligned (the default, as the atomic accessors do), 'split' performs it byte by byte
   * (not atomic, may span regions). Chosen with {@link withMisaligned}; kept by
   * insertRegion/removeRegion and carried by share().
   */
  readonly misaligned: MisalignedPolicy;
  /**
   * The device bus that register accesses (`ld*`/`st*`) missing every region go to, or null
   * (they throw InvalidGuestAddress). Set with {@link withBus}; per thread, not shared.
   */
  readonly bus: MmioBus | null;

  static {
    setLocate((m, addr) => m.#locate(addr));
  }

  /** An empty guest memory (every access throws InvalidGuestAddress); add regions with insertRegion. */
  constructor(...args: unknown[]) {
    const regions = args[0] === token ? (args[1] as GuestRegionMmap[]) : [];
    if (args.length > 0 && args[0] !== token)
      throw typeError('arguments', 'none (use fromRanges/fromRegions)', args[0]);
    this.regions = Object.freeze(regions.slice());
    this.misaligned = args[0] === token && args[2] === 'split' ? 'split' : 'fault';
    this.bus = args[0] === token && isMmioBus(args[3]) ? args[3] : null;
    this.#starts = this.regions.map((r) => r.startAddr);
    this.#spans = this.regions.map(spanOf);
    this.#hot = this.#spans[0] ?? NO_SPAN;
    this.#table = regionTable(this.#spans, TABLE_SHIFT, TABLE_LIMIT);
  }

  // ---- construction (internal/memory-layout.ts) ------------------------------------------------

  /**
   * Anonymous regions at the given [start, size] ranges. Checks NoMemoryRegion, then per
   * adjacent pair UnsortedMemoryRegions and MemoryRegionOverlap, before mapping anything.
   * `options.trackDirty` turns on dirty-page tracking for every region (see MappingOptions).
   * @example GuestMemoryMmap.fromRanges([[0, 0x1000], [0x1000, 0x1000]])
   */
  static fromRanges(ranges: readonly (readonly [number, number])[], options?: MappingOptions): GuestMemoryMmap {
    return new GuestMemoryMmap(token, rangeRegions(ranges, options));
  }

  /** Like {@link fromRanges}, with a FileOffset (or undefined for anonymous) per range. */
  static fromRangesWithFiles(
    ranges: readonly (readonly [number, number, FileOffset | undefined])[],
    options?: MappingOptions,
  ): GuestMemoryMmap {
    return new GuestMemoryMmap(token, fileRangeRegions(ranges, options));
  }

  /** A guest memory of existing regions (checked like {@link fromRanges}; not re-sorted). */
  static fromRegions(regions: readonly GuestRegionMmap[]): GuestMemoryMmap {
    return new GuestMemoryMmap(token, checkedRegions(regions));
  }

  /** A new map with `region` added (kept sorted). Throws MemoryRegionOverlap. This map is unchanged. */
  insertRegion(region: GuestRegionMmap): GuestMemoryMmap {
    if (!(region instanceof GuestRegionMmap)) throw typeError('region', 'a GuestRegionMmap', region);
    const next = [...this.regions, region].sort((a, b) => a.startAddr - b.startAddr);
    return new GuestMemoryMmap(token, checkedRegions(next), this.misaligned, this.bus);
  }

  /**
   * A new map without the region of exactly `base` and `size`, and that region. Throws
   * InvalidGuestRegion if no region matches exactly. This map is unchanged.
   */
  removeRegion(base: number, size: number): [GuestMemoryMmap, GuestRegionMmap] {
    checkIndex('base', base);
    checkIndex('size', size);
    const i = this.regions.findIndex((r) => r.startAddr === base && r.len === size);
    if (i < 0) throw invalidGuestRegion(`no region at ${hex(base)} of ${hex(size)} bytes`);
    const rest = this.regions.filter((_, j) => j !== i);
    return [new GuestMemoryMmap(token, rest, this.misaligned, this.bus), this.regions[i]!];
  }

  /**
   * A structured-clone-safe descriptor of this map: the regions' SharedArrayBuffers and layout,
   * no copy of guest memory. Post it to a worker and call {@link fromShared} there.
   * @example worker.postMessage(mem.share())
   */
  share(): SharedGuestMemory {
    return shareRegions(this.regions, this.misaligned);
  }

  /** Rebuilds, in any thread, a map over the same memory as the one that made `shared`. */
  static fromShared(shared: SharedGuestMemory): GuestMemoryMmap {
    const [regions, policy] = sharedRegions(shared);
    return new GuestMemoryMmap(token, regions, policy);
  }

  /**
   * The same memory with another misalignment policy for the register accessors (a new object
   * over the same regions; nothing is copied or mapped).
   * @example const mem = GuestMemoryMmap.fromRanges([[0x8000_0000, 128 << 20]]).withMisaligned('split');
   */
  withMisaligned(policy: MisalignedPolicy): GuestMemoryMmap {
    if (policy !== 'fault' && policy !== 'split') throw typeError('policy', "'fault' or 'split'", policy);
    return policy === this.misaligned
      ? this
      : new GuestMemoryMmap(token, this.regions as GuestRegionMmap[], policy, this.bus);
  }

  /**
   * The same memory with `bus` behind it: a register access (`ld*`/`st*`) whose address is in
   * no region goes to the device there (in-vCPU handler or MMIO exit) instead of throwing,
   * with no exception on the way. RAM accesses are unchanged. Per thread (a bus holds this
   * thread's device handlers); re-apply it to maps received later (GuestMemoryAtomic snapshots).
   * @example const phys = ctx.memory.withBus(bus); const v = phys.ld32s(0x1000_0000);
   */
  withBus(bus: MmioBus | null): GuestMemoryMmap {
    if (bus !== null && !isMmioBus(bus)) throw typeError('bus', 'a DeviceBus (an MmioBus) or null', bus);
    return new GuestMemoryMmap(token, this.regions as GuestRegionMmap[], this.misaligned, bus);
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Number of regions. */
  get numRegions(): number {
    return this.regions.length;
  }

  /** The regions in address order. */
  [Symbol.iterator](): Iterator<GuestRegionMmap> {
    return this.regions[Symbol.iterator]();
  }

  /** The regions in address order. */
  iter(): IterableIterator<GuestRegionMmap> {
    return this.regions[Symbol.iterator]();
  }

  /**
   * The span of the region holding `addr` (any number), or NO_SPAN: the table, then the last
   * region found, then a binary search (which updates the latter).
   */
  #locate(addr: number): Span {
    if (addr < TABLE_LIMIT && addr >= 0) {
      const t = this.#table[addr >>> TABLE_SHIFT]!;
      if (addr >= t.startAddr && addr - t.startAddr < t.len) return t;
    }
    const hot = this.#hot;
    if (addr >= hot.startAddr && addr - hot.startAddr < hot.len) return hot;
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0) return NO_SPAN;
    const r = this.#spans[hi]!;
    if (!(addr - r.startAddr < r.len)) return NO_SPAN;
    this.#hot = r;
    return r;
  }

  /**
   * The span the fast paths try for a number `addr`: the last region used if it holds `addr`,
   * else the table entry (now the last used), which may not: the caller's bounds test decides.
   */
  #span(addr: number): Span {
    const h = this.#hot;
    const off = addr - h.startAddr;
    if (off >= 0 && off < h.len) return h;
    return addr < TABLE_LIMIT && addr >= 0 ? (this.#hot = this.#table[addr >>> TABLE_SHIFT]!) : h;
  }

  /** @internal The region holding `addr`, or undefined. */
  lookup(addr: number): GuestRegionMmap | undefined {
    const r = this.#locate(addr);
    return r === NO_SPAN ? undefined : (r.window as GuestRegionMmap);
  }

  /** The region containing `addr`, or undefined. */
  findRegion(addr: number): GuestRegionMmap | undefined {
    checkIndex('addr', addr);
    return this.lookup(addr);
  }

  /** The highest guest address backed by a region (0 if there are none). */
  lastAddr(): number {
    const last = this.regions[this.regions.length - 1];
    return last === undefined ? 0 : last.lastAddr();
  }

  /** Whether `addr` is in some region. */
  addressInRange(addr: number): boolean {
    return this.findRegion(addr) !== undefined;
  }

  /** `addr` if it is in some region, else undefined. */
  checkAddress(addr: number): number | undefined {
    return this.addressInRange(addr) ? addr : undefined;
  }

  /** `base + offset` if that address is in some region (only the end point is checked). */
  checkedOffset(base: number, offset: number): number | undefined {
    checkIndex('base', base);
    checkIndex('offset', offset);
    const sum = base + offset;
    return sum <= MAX_SAFE ? this.checkAddress(sum) : undefined;
  }

  /** Whether all of [addr, addr + count) is backed, possibly by several adjacent regions. */
  checkRange(addr: number, count: number): boolean {
    checkIndex('addr', addr);
    checkIndex('count', count);
    return this.lookup(addr) !== undefined && coverage(this, addr, count) === count;
  }

  /** `[region, offset]` for guest address `addr`, or undefined. */
  toRegionAddr(addr: number): [GuestRegionMmap, number] | undefined {
    const r = this.findRegion(addr);
    return r === undefined ? undefined : [r, addr - r.startAddr];
  }

  // ---- dirty pages -----------------------------------------------------------------------------

  /**
   * Guest addresses of the pages written since the last reset (ascending), over the regions
   * that track dirty pages. With `{ reset: true }` each bitmap word is read and cleared in one
   * atomic exchange, so a write racing with the call is either listed or stays marked.
   * @example for (const a of mem.dirtyPages({ reset: true })) save(a)
   */
  dirtyPages(options?: { readonly reset?: boolean }): number[] {
    return dirtyPagesOf(this.regions, options?.reset === true);
  }

  /** Clears every region's dirty bitmap. */
  resetDirty(): void {
    for (const r of this.regions) r.mapping.bitmap?.reset();
  }

  // ---- slices and bulk bytes (internal/memory-walk.ts) ----------------------------------------

  /**
   * vm-memory's try_access: calls `fn(offset, count, regionOffset, region)` for each region
   * piece of [addr, addr + count), in order, and returns the total it reports. A callback that
   * returns fewer bytes than asked is called again for the rest; 0 stops. Throws
   * InvalidGuestAddress if `addr` is in no region; stops early at a hole.
   */
  tryAccess(count: number, addr: number, fn: AccessFn): number {
    return tryAccess(this, count, addr, fn);
  }

  /** The slice [addr, addr + count) inside one region. Throws InvalidGuestAddress / InvalidBackendAddress. */
  getSlice(addr: number, count: number): VolatileSlice {
    checkIndex('addr', addr);
    checkIndex('count', count);
    const r = spanFor(this, addr);
    return (r.window as GuestRegionMmap).getSlice(addr - r.startAddr, count);
  }

  /** Slices covering [addr, addr + count) across adjacent regions; InvalidGuestAddress at the first hole. */
  getSlices(addr: number, count: number): VolatileSlice[] {
    return slicesOf(this, addr, count);
  }

  /**
   * Writes `buf` at guest `addr`, across adjacent regions; returns the bytes written (fewer if
   * it runs into a hole). Not atomic. Throws InvalidGuestAddress if `addr` is in no region.
   * @example mem.write(bytes, 0x1000)
   */
  write(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    return transfer(this, buf, buf.length, addr, true);
  }

  /** Reads into `buf` from guest `addr`, across adjacent regions; returns the bytes read. Not atomic. */
  read(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    return transfer(this, buf, buf.length, addr, false);
  }

  /** Writes all of `buf` or throws PartialBuffer {expected, completed} (the first part is written). */
  writeSlice(buf: Uint8Array, addr: number): void {
    const done = this.write(buf, addr);
    if (done !== buf.length) throw partialBuffer(buf.length, done);
  }

  /** Reads exactly `buf.length` bytes or throws PartialBuffer. */
  readSlice(buf: Uint8Array, addr: number): void {
    const done = this.read(buf, addr);
    if (done !== buf.length) throw partialBuffer(buf.length, done);
  }

  /**
   * Reads from `fd` into guest memory at `addr`, up to `count` bytes, across adjacent regions,
   * until end of file or a hole; returns the bytes read. With `position`, reads the file from
   * that offset with pread(2) and leaves the descriptor's position alone (disk devices, image
   * loaders). Throws IOError, InvalidGuestAddress.
   * @example mem.readFrom(0x8000_0000, fd, size, 0) // an image file at its offset 0
   */
  readFrom(addr: number, fd: number, count: number, position?: number): number {
    return fdLoop(this, addr, fd, count, true, position);
  }

  /** Reads exactly `count` bytes from `fd` (at `position`, if given) or throws PartialBuffer (what was read stays). */
  readExactFrom(addr: number, fd: number, count: number, position?: number): void {
    const done = fdLoop(this, addr, fd, count, true, position);
    if (done !== count) throw partialBuffer(count, done);
  }

  /** Writes up to `count` bytes of guest memory at `addr` to `fd` (pwrite(2) at `position`, if given); returns the bytes written. */
  writeTo(addr: number, fd: number, count: number, position?: number): number {
    return fdLoop(this, addr, fd, count, false, position);
  }

  /** Writes exactly `count` bytes to `fd` (at `position`, if given) or throws PartialBuffer. */
  writeAllTo(addr: number, fd: number, count: number, position?: number): void {
    const done = fdLoop(this, addr, fd, count, false, position);
    if (done !== count) throw partialBuffer(count, done);
  }

  // ---- objects ---------------------------------------------------------------------------------
  //
  // Each hot method tests its commonest types by identity (no type fields to load) on the span
  // `#span` picks, and hands everything else to its `*Any` method: any scalar, through the last
  // region found or a search, then to the validating slow path (internal/memory-slow.ts).

  /**
   * Reads a `type` value at guest `addr`. An aligned scalar inside one region is a single
   * tear-free atomic load; unaligned scalars, structs and arrays may tear; a value spanning
   * adjacent regions is gathered from both. Throws InvalidGuestAddress, PartialBuffer.
   * @example const flags = mem.readObj(u32, 0x1000);
   */
  readObj<T>(type: ValueType<T>, addr: number): T {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (type === U32) {
        if (readable(r, off, 4)) return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
      } else if (type === U64) {
        if (readable(r, off, 8)) return Atomics.load(r.u64, off >>> 3) as T;
      }
    }
    return readObjAny(this, type, addr);
  }

  /**
   * Writes `value` as `type` at guest `addr` (checked first: TypeError/RangeError write
   * nothing). Aligned scalars inside one region are one tear-free atomic store; others may tear.
   * Throws InvalidGuestAddress, PartialBuffer (after writing what fits).
   * @example mem.writeObj(u64, 0xffn, 0x2000)
   */
  writeObj<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      if (storeWord(r, value, addr - r.startAddr)) return;
    }
    writeObjAny(this, type, value, addr);
  }

  /**
   * Unordered fast path for interpreter loops: like readObj of a scalar, but a plain typed-array
   * read when aligned (no Atomics: the JIT may merge or hoist it, so it is not volatile; it
   * still never tears when aligned on x86-64/aarch64 except for 64-bit values read as bigint,
   * which are plain 8-byte loads too). Same bounds, protection and argument checks.
   * @example const op = mem.readUnordered(u8, pc);
   */
  readUnordered<T>(type: ValueType<T>, addr: number): T {
    if (typeof addr === 'number') {
      // The last region used, tested in full here (one test per hot access); a miss re-picks it.
      const r = this.#hot;
      const off = addr - r.startAddr;
      if (type === U32) {
        if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0) return r.u32[off >>> 2] as T;
      } else if (type === U8) {
        if (off >>> 0 === off && off < r.rEnd) return r.u8[off] as T;
      }
      return this.#readUnorderedMiss(type, addr);
    }
    return readUnorderedAny(this, type, addr);
  }

  /** readUnordered after a miss in the last region used: the region `#span` picks. */
  #readUnorderedMiss<T>(type: ValueType<T>, addr: number): T {
    const r = this.#span(addr);
    const off = addr - r.startAddr;
    if (type === U32) {
      if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0) return r.u32[off >>> 2] as T;
    } else if (type === U8) {
      if (off >>> 0 === off && off < r.rEnd) return r.u8[off] as T;
    }
    return readUnorderedAny(this, type, addr);
  }

  /** Unordered counterpart of writeObj for scalars (a plain typed-array store when aligned). */
  writeUnordered<T>(type: ValueType<T>, value: T, addr: number): void {
    if (typeof addr === 'number' && typeof value === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (type === U32) {
        if (writable(r, off, 4) && value >>> 0 === value) {
          r.u32[off >>> 2] = value;
          markedPlain(r, off);
          return;
        }
      } else if (type === U8) {
        if (off >>> 0 === off && off < r.wEnd && (value & 0xff) === value) {
          r.u8[off] = value;
          markedPlain(r, off);
          return;
        }
      }
    }
    writeUnorderedAny(this, type, value, addr);
  }

  // ---- register-file accessors ----------------------------------------------------------------

  /**
   * Register-file loads: `ld8u`/`ld16u` return 0 … 2^n-1, `ld8s`/`ld16s`/`ld32s` sign-extend to
   * an int32, `ld32u` returns 0 … 2^32-1. Aligned accesses are single atomic (volatile)
   * accesses on the fast path; a misaligned one follows {@link misaligned}. The int32-valued
   * ones never allocate (a small integer even when not inlined). Throws InvalidGuestAddress,
   * AccessDenied, Misaligned (policy 'fault'), or the argument errors.
   * @example x[rd] = mem.ld32s(x[rs1] + imm);
   */
  ld8u(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off < r.rEnd) return Atomics.load(r.u8, off);
    }
    return ldSlow(this, addr, 1, false);
  }

  /** Signed 8-bit load (see {@link ld8u}). */
  ld8s(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off < r.rEnd) return Atomics.load(r.i8, off);
    }
    return ldSlow(this, addr, 1, true);
  }

  /** Unsigned 16-bit load (see {@link ld8u}). */
  ld16u(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (readable(r, off, 2)) return Atomics.load(r.u16, off >>> 1);
    }
    return ldSlow(this, addr, 2, false);
  }

  /** Signed 16-bit load (see {@link ld8u}). */
  ld16s(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (readable(r, off, 2)) return Atomics.load(r.i16, off >>> 1);
    }
    return ldSlow(this, addr, 2, true);
  }

  /** 32-bit load as an int32 (the register form; see {@link ld8u}). */
  ld32s(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (readable(r, off, 4)) return Atomics.load(r.i32, off >>> 2);
    }
    return ldSlow(this, addr, 4, true);
  }

  /** 32-bit load as 0 … 2^32-1 (see {@link ld8u}; prefer ld32s in hot loops: values >= 2^31 are doubles). */
  ld32u(addr: number): number {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (readable(r, off, 4)) return Atomics.load(r.i32, off >>> 2) >>> 0;
    }
    return ldSlow(this, addr, 4, false);
  }

  /**
   * Register-file stores: write the low 8/16/32 bits of `value`, any integer from -2^31 to
   * 2^32-1 (an int32 register or a u32), explicitly wrapping, unlike the checked `store`.
   * Aligned stores are single atomic accesses and mark dirty pages; misaligned ones follow
   * {@link misaligned}. Throws InvalidGuestAddress, AccessDenied, Misaligned ('fault'),
   * RangeError for a value that is not such an integer.
   * @example mem.st8(x[rs1] + imm, x[rs2]); // keeps the low byte
   */
  st8(addr: number, value: number): void {
    if (typeof addr === 'number' && typeof value === 'number' && ((value | 0) === value || value >>> 0 === value)) {
      const r = this.#span(addr);
      if (storeByte(r, value & 0xff, addr - r.startAddr)) return;
    }
    stSlow(this, addr, 1, value);
  }

  /** 16-bit register store (see {@link st8}). */
  st16(addr: number, value: number): void {
    if (typeof addr === 'number' && typeof value === 'number' && ((value | 0) === value || value >>> 0 === value)) {
      const r = this.#span(addr);
      if (storeHalf(r, value & 0xffff, addr - r.startAddr)) return;
    }
    stSlow(this, addr, 2, value);
  }

  /** 32-bit register store (see {@link st8}). */
  st32(addr: number, value: number): void {
    if (typeof addr === 'number' && typeof value === 'number' && ((value | 0) === value || value >>> 0 === value)) {
      const r = this.#span(addr);
      if (storeWord(r, value, addr - r.startAddr)) return;
    }
    stSlow(this, addr, 4, value);
  }

  // ---- atomics -----------------------------------------------------------------------------

  /**
   * Atomic, sequentially consistent load of an integer type (u8 … i64) at a naturally aligned
   * guest address inside one region: a single tear-free access.
   * Throws Misaligned, InvalidGuestAddress, InvalidBackendAddress, AccessDenied.
   * @example mem.load(u32, 0x1000)
   */
  load<T>(type: ValueType<T>, addr: number): T {
    if (typeof addr === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      // The integer types by identity (the library's own objects); u64 and the rest take loadAny.
      if (type === U32) {
        if (readable(r, off, 4)) return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
      } else if (type === I32) {
        if (readable(r, off, 4)) return Atomics.load(r.i32, off >>> 2) as T;
      } else if (type === U8) {
        if (readable(r, off, 1)) return Atomics.load(r.u8, off) as T;
      } else if (type === U16) {
        if (readable(r, off, 2)) return Atomics.load(r.u16, off >>> 1) as T;
      } else if (type === I8) {
        if (readable(r, off, 1)) return Atomics.load(r.i8, off) as T;
      } else if (type === I16) {
        if (readable(r, off, 2)) return Atomics.load(r.i16, off >>> 1) as T;
      }
    }
    return loadAny(this, type, addr);
  }

  /** Atomic, sequentially consistent store (tear-free); the value must fit the type. */
  store<T>(type: ValueType<T>, value: T, addr: number): void {
    if (typeof addr === 'number' && typeof value === 'number') {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      // The integer types by identity (the library's own objects), each with its own range
      // check; u32 and i32 (registers are int32) store the same 32 bits.
      if (type === U32) {
        if (value >>> 0 === value && storeWord(r, value, off)) return;
      } else if (type === I32) {
        if ((value | 0) === value && storeWord(r, value, off)) return;
      } else if (type === U8) {
        if ((value & 0xff) === value && storeByte(r, value, off)) return;
      } else if (type === U16) {
        if ((value & 0xffff) === value && storeHalf(r, value, off)) return;
      } else if (type === I8) {
        if ((value << 24) >> 24 === value && storeByte(r, value, off)) return;
      } else if (type === I16) {
        if ((value << 16) >> 16 === value && storeHalf(r, value, off)) return;
      }
    }
    storeAny(this, type, value, addr);
  }

  /** Atomic compare-and-exchange; returns the old value (the swap happened if it equals `expected`). */
  compareExchange<T>(type: ValueType<T>, addr: number, expected: T, replacement: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(expected) && isU32(replacement)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) {
        const old = Atomics.compareExchange(r.i32, off >>> 2, expected | 0, replacement | 0) >>> 0;
        marked(r, off);
        return old as T;
      }
    }
    return compareExchangeAny(this, type, addr, expected, replacement);
  }

  /*
   * The RMWs: u32 inline on the span `#span` picks, the rest through `#rmwAny`. One method per
   * operation with its own Atomics call, so each call site stays monomorphic.
   */

  /** Atomic exchange; returns the old value. */
  exchange<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return swap32(r, off, value) as T;
    }
    return rmwAny(this, OP_EXCHANGE, type, addr, value);
  }

  /**
   * Atomic wrapping add; returns the old value.
   * @example mem.fetchAdd(u32, COUNTER, 1)
   */
  fetchAdd<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return add32(r, off, value) as T;
    }
    return rmwAny(this, OP_ADD, type, addr, value);
  }

  /** Atomic wrapping subtract; returns the old value. */
  fetchSub<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return sub32(r, off, value) as T;
    }
    return rmwAny(this, OP_SUB, type, addr, value);
  }

  /** Atomic bitwise and; returns the old value. */
  fetchAnd<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return and32(r, off, value) as T;
    }
    return rmwAny(this, OP_AND, type, addr, value);
  }

  /** Atomic bitwise or; returns the old value. */
  fetchOr<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return or32(r, off, value) as T;
    }
    return rmwAny(this, OP_OR, type, addr, value);
  }

  /** Atomic bitwise xor; returns the old value. */
  fetchXor<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && isU32(value)) {
      const r = this.#span(addr);
      const off = addr - r.startAddr;
      if (writable(r, off, 4)) return xor32(r, off, value) as T;
    }
    return rmwAny(this, OP_XOR, type, addr, value);
  }

  /**
   * Blocks while the i32/i64 at guest `addr` equals `expected`, until notified (by any thread)
   * or `timeoutMs` passes. Returns 'ok', 'not-equal' or 'timed-out'.
   */
  wait<T>(type: ValueType<T>, addr: number, expected: T, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out' {
    return waitAt(this, type, addr, expected, timeoutMs);
  }

  /**
   * Like {@link wait} without blocking the thread (Atomics.waitAsync): resolves to 'ok' when
   * notified, 'not-equal' at once if the value differs, or 'timed-out'. For device threads and
   * the main thread, which must keep their event loop running. The same checks as `wait`.
   * @example if ((await mem.waitAsync(i32, DOORBELL, seen, 100)) === 'ok') serve();
   */
  waitAsync<T>(
    type: ValueType<T>,
    addr: number,
    expected: T,
    timeoutMs?: number,
  ): Promise<'ok' | 'not-equal' | 'timed-out'> {
    return waitAsyncAt(this, type, addr, expected, timeoutMs);
  }

  /** Wakes up to `count` (default all) waiters on the 4-aligned guest `addr`; returns how many. */
  notify(addr: number, count?: number): number {
    return notifyAt(this, addr, count);
  }
}
