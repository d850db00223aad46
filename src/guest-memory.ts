import type { Bytes } from './bytes.js';
import {
  checkFd,
  checkFunction,
  checkIndex,
  checkPosition,
  checkOptionalIndex,
  checkTimeout,
  checkUint8Array,
  MAX_SAFE,
  rangeError,
  typeError,
} from './internal/args.js';
import { GuestMemoryError } from './errors.js';
import { markPage, markPageAfterPlain } from './atomic-bitmap.js';
import {
  hex,
  invalidBackendAddress,
  invalidGuestAddress,
  invalidGuestRegion,
  misaligned,
  partialBuffer,
} from './internal/errs.js';
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
  scalarScratch,
  readObjAt,
  requireRead,
  requireWrite,
  writeObjAt,
} from './internal/access.js';
import { fitsInline, fitsOperand, spanOf, type Span } from './internal/byte-window.js';
import {
  copyIn,
  copyOut,
  loadScalar,
  OP_ADD,
  OP_AND,
  OP_EXCHANGE,
  OP_OR,
  OP_SUB,
  OP_XOR,
  arrayOf,
  VIEW_CHUNK,
  atomicLoad,
  atomicStore,
  bswap16,
  bswap32,
  readAligned,
  readFd,
  rmwAt,
  storeScalar,
  writeAligned,
  writeFd,
} from './internal/host-memory.js';
import { FileOffset } from './file-offset.js';
import { GuestRegionMmap } from './guest-region.js';
import { emptyMapping, MmapRegion, type MappingOptions, type SharedMapping } from './mmap-region.js';
import {
  HOST_LITTLE_ENDIAN,
  S_COMPOSITE,
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
  i16 as I16,
  i32 as I32,
  i8 as I8,
  u16 as U16,
  u32 as U32,
  u64 as U64,
  u8 as U8,
  ValueType,
  type WriteValue,
} from './types.js';
import { VolatileSlice } from './volatile-slice.js';
import { isMmioBus, type MmioBus } from './mmio-bus.js';

/** The structured-clone-safe form of a GuestMemoryMmap (see {@link GuestMemoryMmap.share}). */
export interface SharedGuestMemory {
  /** Tags the descriptor for `GuestMemoryMmap.fromShared`. */
  readonly descriptor: 'guestmem.GuestMemoryMmap';
  /** The register accessors' misalignment policy, carried to the receiving thread. */
  readonly misaligned?: MisalignedPolicy;
  /** Each region: its guest base and its shared mapping. */
  readonly regions: readonly {
    /** Guest-physical base of the region. */
    readonly guestBase: number;
    /** Its mapping. */
    readonly mapping: SharedMapping;
  }[];
}

/** What the register accessors do with a misaligned address: throw Misaligned, or split the access into bytes. */
export type MisalignedPolicy = 'fault' | 'split';

/** Callback of {@link GuestMemoryMmap.tryAccess}: returns the bytes it handled (0 stops). */
export type AccessFn = (offset: number, count: number, regionOffset: number, region: GuestRegionMmap) => number;

const token = Symbol('GuestMemoryMmap');

/** A region of length 0 that no address hits; its span is what `#locate` returns for unmapped addresses. */
const NO_REGION = new GuestRegionMmap(emptyMapping(), 0);
const NO_SPAN = spanOf(NO_REGION);

/** log2 of the bytes per region-table slot, and the first address the table does not cover. */
const TABLE_SHIFT = 20;
const TABLE_LIMIT = 2 ** 32;

function regionTable(spans: readonly Span[]): Span[] {
  // Array.from: a packed array (no hole checks on the fast paths)
  const table = Array.from({ length: TABLE_LIMIT / 2 ** TABLE_SHIFT }, () => NO_SPAN);
  for (const r of spans) {
    if (r.startAddr >= TABLE_LIMIT || r.len === 0) continue;
    const last = Math.min(r.startAddr + r.len - 1, TABLE_LIMIT - 1);
    for (let slot = Math.floor(r.startAddr / 2 ** TABLE_SHIFT); slot <= Math.floor(last / 2 ** TABLE_SHIFT); slot++) {
      if (table[slot] === NO_SPAN) table[slot] = r;
    }
  }
  return table;
}

/** Checks the layout rules in vm-memory's order; `spans` are [start, size] sorted as given. */
function checkLayout(spans: readonly (readonly [number, number])[]): void {
  if (spans.length === 0) throw new GuestMemoryError('NoMemoryRegion', 'no memory region was given');
  for (let i = 1; i < spans.length; i++) {
    const [ps, pl] = spans[i - 1]!;
    const [ns] = spans[i]!;
    if (ps > ns) {
      throw new GuestMemoryError('UnsortedMemoryRegions', `region at ${hex(ns)} comes after the region at ${hex(ps)}`);
    }
    if (ps + Math.max(pl, 1) - 1 >= ns) {
      throw new GuestMemoryError(
        'MemoryRegionOverlap',
        `region at ${hex(ns)} overlaps the region at ${hex(ps)} (${hex(pl)} bytes)`,
      );
    }
  }
}

function checkRangeList(name: string, ranges: unknown, width: number): unknown[][] {
  if (!Array.isArray(ranges)) throw typeError(name, 'an array of ranges', ranges);
  // Copies, each element read once: holes (a sparse array) become undefined and are refused
  // below, and a getter cannot pass the checks with one value and hand the mmap another.
  const list = Array.from(ranges as unknown[], (r, i) => {
    if (!Array.isArray(r) || r.length < 2 || r.length > width)
      throw typeError(`${name}[${i}]`, `a [start, size${width === 3 ? ', fileOffset' : ''}] tuple`, r);
    const t = width === 3 ? [r[0], r[1], r[2]] : [r[0], r[1]];
    checkIndex(`${name}[${i}][0]`, t[0]);
    checkIndex(`${name}[${i}][1]`, t[1]);
    if ((t[0] as number) + (t[1] as number) > MAX_SAFE + 1)
      throw invalidGuestRegion(`region at ${hex(t[0] as number)} of ${hex(t[1] as number)} bytes ends past 2^53`);
    return t;
  });
  return list;
}

/**
 * Whether `size` bytes at `off` (naturally aligned) are in span `r`'s readable fast window. A
 * function of its own, as are the stores below, so `load`/`store` stay small enough for the JIT
 * to inline them into the caller's loop (V8 inlines up to 460 bytes of bytecode per function).
 */
function readable(r: Span, off: number, size: number): boolean {
  return off >>> 0 === off && off + size <= r.rEnd && (off & (size - 1)) === 0;
}

/**
 * The inline stores of a 32-, 8- and 16-bit integer (already range-checked) at `off` of span `r`:
 * true if done, false if the slow path must decide (outside the fast window, misaligned).
 * Signed and unsigned types of one width store the same bits through one view.
 */
function storeWord(r: Span, value: number, off: number): boolean {
  if (off >>> 0 !== off || off + 4 > r.wEnd || (off & 3) !== 0) return false;
  Atomics.store(r.i32, off >>> 2, value | 0);
  if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
  return true;
}

function storeByte(r: Span, value: number, off: number): boolean {
  if (off >>> 0 !== off || off >= r.wEnd) return false;
  Atomics.store(r.u8, off, value);
  if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
  return true;
}

function storeHalf(r: Span, value: number, off: number): boolean {
  if (off >>> 0 !== off || off + 2 > r.wEnd || (off & 1) !== 0) return false;
  Atomics.store(r.u16, off >>> 1, value);
  if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
  return true;
}

/**
 * GuestMemoryMmap: the guest's physical address space, a sorted immutable set of
 * GuestRegionMmaps. Implements `Bytes<number>` with guest addresses: an access that spans
 * adjacent regions is split at the boundary (vm-memory's try_access); a start address in no
 * region throws InvalidGuestAddress; running into a hole after some bytes gives a partial count
 * (or PartialBuffer for the all-or-error methods).
 *
 * Hot path: a scalar access checks the last region used (one compare), then does one
 * typed-array access; other addresses take a binary search. Nothing on that path allocates
 * (except bigint results) or calls native code.
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
  /** @internal Start addresses, for the binary search. */
  private readonly starts: readonly number[];
  /** The regions' spans (what the fast paths read), in the same order; private like every span. */
  readonly #spans: readonly Span[];
  /** The span of the last region an access hit (per thread: each thread has its own object). */
  #hot: Span;
  /**
   * Region table of the first 4 GiB, one entry per 2^TABLE_SHIFT bytes: the span of the first
   * region overlapping that slot, or NO_SPAN. The fast paths index it instead of testing the
   * last region used, so random accesses over several regions cost no mispredicted branch; an
   * entry that does not hold the address (a slot shared by two regions) fails the fast path's
   * bounds test and the access falls back to `#locate`.
   */
  readonly #table: readonly Span[];
  /** More than one region: the fast paths index `#table` instead of using `#hot`. */
  readonly #multi: boolean;
  /**
   * What the register accessors (`ld*`/`st*`) do with a misaligned address: 'fault' throws
   * Misaligned (the default, as the atomic accessors do), 'split' performs it byte by byte
   * (not atomic, may span regions). Chosen with {@link withMisaligned}; kept by
   * insertRegion/removeRegion and carried by share().
   */
  readonly misaligned: MisalignedPolicy;
  /** @internal */
  private readonly splitMisaligned: boolean;
  /**
   * The device bus that register accesses (`ld*`/`st*`) missing every region go to, or null
   * (they throw InvalidGuestAddress). Set with {@link withBus}; per thread, not shared.
   */
  readonly bus: MmioBus | null;

  /** An empty guest memory (every access throws InvalidGuestAddress); add regions with insertRegion. */
  constructor(...args: unknown[]) {
    const regions = args[0] === token ? (args[1] as GuestRegionMmap[]) : [];
    if (args.length > 0 && args[0] !== token)
      throw typeError('arguments', 'none (use fromRanges/fromRegions)', args[0]);
    this.regions = Object.freeze(regions.slice());
    this.misaligned = args[0] === token && args[2] === 'split' ? 'split' : 'fault';
    this.bus = args[0] === token && isMmioBus(args[3]) ? args[3] : null;
    this.splitMisaligned = this.misaligned === 'split';
    this.starts = this.regions.map((r) => r.startAddr);
    this.#spans = this.regions.map(spanOf);
    this.#hot = this.#spans[0] ?? NO_SPAN;
    this.#table = regionTable(this.#spans);
    this.#multi = this.regions.length > 1;
  }

  // ---- construction ----------------------------------------------------------------------------

  /**
   * Anonymous regions at the given [start, size] ranges. Checks NoMemoryRegion, then per
   * adjacent pair UnsortedMemoryRegions and MemoryRegionOverlap, before mapping anything.
   * `options.trackDirty` turns on dirty-page tracking for every region (see MappingOptions).
   * @example GuestMemoryMmap.fromRanges([[0, 0x1000], [0x1000, 0x1000]])
   */
  static fromRanges(ranges: readonly (readonly [number, number])[], options?: MappingOptions): GuestMemoryMmap {
    const list = checkRangeList('ranges', ranges, 2);
    checkLayout(list as [number, number][]);
    return new GuestMemoryMmap(
      token,
      list.map(([start, size]) => new GuestRegionMmap(MmapRegion.create(size as number, options), start as number)),
    );
  }

  /** Like {@link fromRanges}, with a FileOffset (or undefined for anonymous) per range. */
  static fromRangesWithFiles(
    ranges: readonly (readonly [number, number, FileOffset | undefined])[],
    options?: MappingOptions,
  ): GuestMemoryMmap {
    const list = checkRangeList('ranges', ranges, 3);
    list.forEach((r, i) => {
      if (r[2] !== undefined && !(r[2] instanceof FileOffset))
        throw typeError(`ranges[${i}][2]`, 'a FileOffset or undefined', r[2]);
    });
    checkLayout(list as [number, number][]);
    return new GuestMemoryMmap(
      token,
      list.map(([start, size, fo]) => {
        const mapping =
          fo === undefined
            ? MmapRegion.create(size as number, options)
            : MmapRegion.fromFile(fo as FileOffset, size as number, options);
        return new GuestRegionMmap(mapping, start as number);
      }),
    );
  }

  /** A guest memory of existing regions (checked like {@link fromRanges}; not re-sorted). */
  static fromRegions(regions: readonly GuestRegionMmap[]): GuestMemoryMmap {
    if (!Array.isArray(regions)) throw typeError('regions', 'an array of GuestRegionMmap', regions);
    regions.forEach((r, i) => {
      if (!(r instanceof GuestRegionMmap)) throw typeError(`regions[${i}]`, 'a GuestRegionMmap', r);
    });
    checkLayout(regions.map((r) => [r.startAddr, r.len] as const));
    return new GuestMemoryMmap(token, regions as GuestRegionMmap[]);
  }

  /** A new map with `region` added (kept sorted). Throws MemoryRegionOverlap. This map is unchanged. */
  insertRegion(region: GuestRegionMmap): GuestMemoryMmap {
    if (!(region instanceof GuestRegionMmap)) throw typeError('region', 'a GuestRegionMmap', region);
    const next = [...this.regions, region].sort((a, b) => a.startAddr - b.startAddr);
    return new GuestMemoryMmap(
      token,
      GuestMemoryMmap.fromRegions(next).regions as GuestRegionMmap[],
      this.misaligned,
      this.bus,
    );
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

  // ---- sharing with other threads --------------------------------------------------------------

  /**
   * A structured-clone-safe descriptor of this map: the regions' SharedArrayBuffers and layout,
   * no copy of guest memory. Post it to a worker and call {@link fromShared} there.
   * @example worker.postMessage(mem.share())
   */
  share(): SharedGuestMemory {
    return {
      descriptor: 'guestmem.GuestMemoryMmap',
      misaligned: this.misaligned,
      regions: this.regions.map((r) => ({ guestBase: r.startAddr, mapping: r.mapping.toShared() })),
    };
  }

  /** Rebuilds, in any thread, a map over the same memory as the one that made `shared`. */
  static fromShared(shared: SharedGuestMemory): GuestMemoryMmap {
    if (
      typeof shared !== 'object' ||
      shared === null ||
      shared.descriptor !== 'guestmem.GuestMemoryMmap' ||
      !Array.isArray(shared.regions)
    ) {
      throw typeError('shared', 'a descriptor from GuestMemoryMmap.share()', shared);
    }
    const seen = new Set<bigint>();
    const regions = Array.from(shared.regions, (r, i) => {
      if (typeof r !== 'object' || r === null || typeof r.mapping !== 'object' || r.mapping === null) {
        throw typeError(`shared.regions[${i}]`, 'a shared region', r);
      }
      const mapping = MmapRegion.fromShared(r.mapping, `shared.regions[${i}].mapping`);
      // one mapping at two guest bases would alias guest memory behind the layout checks (by
      // host address: two tokens, or a token and a buffer, can name one mapping)
      if (seen.has(mapping.hostAddress)) {
        throw typeError(`shared.regions[${i}].mapping`, 'a mapping no other region of the map uses', r.mapping);
      }
      seen.add(mapping.hostAddress);
      return new GuestRegionMmap(mapping, r.guestBase);
    });
    const policy = shared.misaligned === 'split' ? 'split' : 'fault';
    if (regions.length === 0) return new GuestMemoryMmap(token, [], policy);
    checkLayout(regions.map((r) => [r.startAddr, r.len] as const));
    return new GuestMemoryMmap(token, regions, policy);
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Number of regions. */
  get numRegions(): number {
    return this.regions.length;
  }

  // ---- dirty pages -----------------------------------------------------------------------------

  /**
   * Guest addresses of the pages written since the last reset (ascending), over the regions
   * that track dirty pages. With `{ reset: true }` each bitmap word is read and cleared in one
   * atomic exchange, so a write racing with the call is either listed or stays marked.
   * @example for (const a of mem.dirtyPages({ reset: true })) save(a)
   */
  dirtyPages(options?: { readonly reset?: boolean }): number[] {
    const reset = options?.reset === true;
    const out: number[] = [];
    for (const r of this.regions) {
      const bm = r.mapping.bitmap;
      if (bm === null) continue;
      for (const p of bm.setPages(reset)) out.push(r.startAddr + p * bm.pageSize);
    }
    return out;
  }

  /** Clears every region's dirty bitmap. */
  resetDirty(): void {
    for (const r of this.regions) r.mapping.bitmap?.reset();
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
   * The span of the region holding `addr` (any number), or NO_SPAN; updates the cache. The fast
   * paths call this first, so a cache miss costs a binary search, not the validating slow path.
   */
  #locate(addr: number): Span {
    if (addr < TABLE_LIMIT && addr >= 0) {
      const t = this.#table[Math.floor(addr / 2 ** TABLE_SHIFT)]!;
      if (addr >= t.startAddr && addr - t.startAddr < t.len) return t;
    }
    const hot = this.#hot;
    if (addr >= hot.startAddr && addr - hot.startAddr < hot.len) return hot;
    const starts = this.starts;
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

  /**
   * The span the fast paths try for a number `addr`: with one region the cached one, with
   * several the table's (no branch on which region; see `#table`). It may not hold `addr`: the
   * caller's bounds test on `addr - startAddr` decides.
   */
  #span(addr: number): Span {
    return this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
  }

  /** The span of the region containing `addr`, or InvalidGuestAddress. */
  #spanFor(addr: number): Span {
    const r = this.#locate(addr);
    if (r === NO_SPAN) throw invalidGuestAddress(addr);
    return r;
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
    if (this.lookup(addr) === undefined) return false;
    return this.coverage(addr, count) === count;
  }

  /** @internal How many bytes from `addr` (in a region) are backed contiguously, up to count. */
  private coverage(addr: number, count: number): number {
    let done = 0;
    while (done < count) {
      const r = this.lookup(addr + done);
      if (r === undefined) break;
      done += Math.min(count - done, r.len - (addr + done - r.startAddr));
    }
    return done;
  }

  /** `[region, offset]` for guest address `addr`, or undefined. */
  toRegionAddr(addr: number): [GuestRegionMmap, number] | undefined {
    const r = this.findRegion(addr);
    return r === undefined ? undefined : [r, addr - r.startAddr];
  }

  /**
   * vm-memory's try_access: calls `fn(offset, count, regionOffset, region)` for each region
   * piece of [addr, addr + count), in order, and returns the total it reports. A callback that
   * returns fewer bytes than asked is called again for the rest; 0 stops. Throws
   * InvalidGuestAddress if `addr` is in no region; stops early at a hole.
   */
  tryAccess(count: number, addr: number, fn: AccessFn): number {
    checkIndex('count', count);
    checkIndex('addr', addr);
    checkFunction('fn', fn);
    let total = 0;
    let cur = addr;
    let region = this.lookup(cur);
    if (region === undefined) throw invalidGuestAddress(addr);
    while (region !== undefined) {
      const start = cur - region.startAddr;
      const len = Math.min(region.len - start, count - total);
      const done = fn(total, len, start, region);
      if (typeof done !== 'number' || !Number.isSafeInteger(done) || done < 0 || done > len) {
        throw typeError('fn result', `a byte count in [0, ${len}]`, done);
      }
      if (done === 0) return total;
      total += done;
      if (total === count) break;
      cur += done;
      region = this.lookup(cur);
    }
    return total;
  }

  /** The slice [addr, addr + count) inside one region. Throws InvalidGuestAddress / InvalidBackendAddress. */
  getSlice(addr: number, count: number): VolatileSlice {
    checkIndex('addr', addr);
    checkIndex('count', count);
    const r = this.#spanFor(addr);
    return (r.window as GuestRegionMmap).getSlice(addr - r.startAddr, count);
  }

  /** Slices covering [addr, addr + count) across adjacent regions; InvalidGuestAddress at the first hole. */
  getSlices(addr: number, count: number): VolatileSlice[] {
    checkIndex('addr', addr);
    checkIndex('count', count);
    if (addr + count > MAX_SAFE + 1) throw invalidGuestAddress(MAX_SAFE);
    const out: VolatileSlice[] = [];
    if (count === 0) return out; // as vm-memory's iterator: nothing for a zero count
    let done = 0;
    do {
      const cur = addr + done;
      const r = this.#spanFor(cur);
      const off = cur - r.startAddr;
      const n = Math.min(count - done, r.len - off);
      out.push(new VolatileSlice(r.hm, off, n));
      done += n;
    } while (done < count);
    return out;
  }

  // ---- bulk bytes ------------------------------------------------------------------------------

  /**
   * The copy loop behind read/write: try_access semantics without a closure. Returns the bytes
   * moved; throws InvalidGuestAddress if `addr` is in no region, AccessDenied at a protected one.
   */
  private transfer(buf: Uint8Array, count: number, addr: number, toGuest: boolean): number {
    if (count === 0) return 0;
    let r = this.#spanFor(addr);
    let total = 0;
    for (;;) {
      const cur = addr + total;
      const off = cur - r.startAddr;
      const n = Math.min(r.len - off, count - total);
      if (toGuest) {
        requireWrite(r.hm, cur);
        copyIn(r.hm, off, buf, total, n);
      } else {
        requireRead(r.hm, cur);
        copyOut(r.hm, off, buf, total, n);
      }
      total += n;
      if (total === count) return total;
      const next = this.#locate(addr + total);
      if (next === NO_SPAN) return total;
      r = next;
    }
  }

  /**
   * Writes `buf` at guest `addr`, across adjacent regions; returns the bytes written (fewer if
   * it runs into a hole). Not atomic. Throws InvalidGuestAddress if `addr` is in no region.
   * @example mem.write(bytes, 0x1000)
   */
  write(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    return this.transfer(buf, buf.length, addr, true);
  }

  /** Reads into `buf` from guest `addr`, across adjacent regions; returns the bytes read. Not atomic. */
  read(buf: Uint8Array, addr: number): number {
    checkUint8Array('buf', buf);
    checkIndex('addr', addr);
    return this.transfer(buf, buf.length, addr, false);
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

  // ---- objects ---------------------------------------------------------------------------------

  /**
   * Reads a `type` value at guest `addr`. An aligned scalar inside one region is a single
   * tear-free atomic load; unaligned scalars, structs and arrays may tear; a value spanning
   * adjacent regions is gathered from both. Throws InvalidGuestAddress, PartialBuffer.
   * @example const flags = mem.readObj(u32, 0x1000);
   */
  readObj<T>(type: ValueType<T>, addr: number): T {
    // u32 and u64 first, by identity: no type fields to load; the rest takes the general path.
    // load() repeats this block, and store()/writeObj() share theirs, on purpose: moving it into a
    // shared helper measured 5-15% slower (the helper's extra inlining level), on the hottest path.
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (type === U32) {
        if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0)
          return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
      } else if (type === U64) {
        if (off >>> 0 === off && off + 8 <= r.rEnd && (off & 7) === 0) return Atomics.load(r.u64, off >>> 3) as T;
      }
    }
    return this.readObjAny(type, addr);
  }

  private readObjAny<T>(type: ValueType<T>, addr: number): T {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.rEnd && (off & (size - 1)) === 0) {
      const scalar = type.plainScalar;
      if (scalar === S_U32) return (Atomics.load(r.i32, off >>> 2) >>> 0) as T;
      if (type.scalar >= 0) return readAligned(r.c0, type, off) as T;
    }
    return this.readObjSlow(type, addr);
  }

  private readObjSlow<T>(type: ValueType<T>, addr: number): T {
    checkType(type);
    checkIndex('addr', addr);
    const r = this.#spanFor(addr);
    const off = addr - r.startAddr;
    if (off + type.size <= r.len) return readObjAt(r.hm, type, off, addr) as T;
    // Spans regions: gather the bytes, then decode (scalars through scratch, no allocation).
    const scalar = type.scalar !== S_COMPOSITE;
    const bytes = scalar ? scalarScratch() : new Uint8Array(type.size);
    const done = this.transfer(bytes, type.size, addr, false);
    if (done !== type.size) throw partialBuffer(type.size, done);
    return (scalar ? decodeScalarScratch(type) : decodeValue(type, bytes)) as T;
  }

  /**
   * Writes `value` as `type` at guest `addr` (checked first: TypeError/RangeError write
   * nothing). Aligned scalars inside one region are one tear-free atomic store; others may tear.
   * Throws InvalidGuestAddress, PartialBuffer (after writing what fits).
   * @example mem.writeObj(u64, 0xffn, 0x2000)
   */
  writeObj<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        Atomics.store(r.i32, off >>> 2, value | 0);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    this.writeObjAny(type, value, addr);
  }

  private writeObjAny<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0) {
      const scalar = type.plainScalar;
      if (scalar === S_U32 && typeof value === 'number' && value >>> 0 === value) {
        Atomics.store(r.i32, off >>> 2, (value as number) | 0);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
      if (fitsInline(type.scalar, value)) {
        writeAligned(r.c0, type, off, value);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    this.writeObjSlow(type, value, addr);
  }

  private writeObjSlow<T>(type: ValueType<T>, value: WriteValue<T>, addr: number): void {
    checkType(type);
    checkIndex('addr', addr);
    if (type.scalar !== S_COMPOSITE) checkOperand(type, value);
    const r = this.#spanFor(addr);
    const off = addr - r.startAddr;
    if (off + type.size <= r.len) {
      writeObjAt(r.hm, type, value, off, addr);
      return;
    }
    // Spans regions: encode first (a bad composite writes nothing), then scatter.
    const bytes = type.scalar !== S_COMPOSITE ? encodeScalarScratch(type, value) : encodeValue(type, value);
    const done = this.transfer(bytes, type.size, addr, true);
    if (done !== type.size) throw partialBuffer(type.size, done);
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
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (type === U32) {
        if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0) return r.u32[off >>> 2] as T;
      } else if (type === U8) {
        if (off >>> 0 === off && off < r.rEnd) return r.u8[off] as T;
      }
    }
    return this.readUnorderedAny(type, addr);
  }

  private readUnorderedAny<T>(type: ValueType<T>, addr: number): T {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.rEnd && (off & (size - 1)) === 0) {
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
    return this.readObjSlow(type, addr);
  }

  /** Unordered counterpart of writeObj for scalars (a plain typed-array store when aligned). */
  writeUnordered<T>(type: ValueType<T>, value: T, addr: number): void {
    if (typeof addr === 'number' && typeof value === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (type === U32) {
        if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0 && value >>> 0 === value) {
          r.u32[off >>> 2] = value;
          if (r.dirty !== null) markPageAfterPlain(r.dirty, off >>> r.pageShift);
          return;
        }
      } else if (type === U8) {
        if (off >>> 0 === off && off < r.wEnd && (value & 0xff) === value) {
          r.u8[off] = value;
          if (r.dirty !== null) markPageAfterPlain(r.dirty, off >>> r.pageShift);
          return;
        }
      }
    }
    this.writeUnorderedAny(type, value, addr);
  }

  private writeUnorderedAny<T>(type: ValueType<T>, value: T, addr: number): void {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0 && fitsInline(type.plainScalar, value)) {
      switch (type.plainScalar) {
        case S_U32:
          r.u32[off >>> 2] = value as number;
          break;
        case S_U8:
          r.u8[off] = value as number;
          break;
        case S_U16:
          r.u16[off >>> 1] = value as number;
          break;
        case S_I32:
          r.i32[off >>> 2] = value as number;
          break;
        case S_I8:
          r.i8[off] = value as number;
          break;
        case S_I16:
          r.i16[off >>> 1] = value as number;
          break;
        case S_F64:
          r.f64[off >>> 3] = value as number;
          break;
        default:
          r.f32[off >>> 2] = value as number;
          break;
      }
      // A plain store: marked with a locked or (see markRange).
      if (r.dirty !== null) markPageAfterPlain(r.dirty, off >>> r.pageShift);
      return;
    }
    this.writeObjSlow(type, value, addr);
  }

  // ---- register-file accessors ----------------------------------------------------------------

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
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off < r.rEnd) return Atomics.load(r.u8, off);
    }
    return this.ldSlow(addr, 1, false);
  }

  /** Signed 8-bit load (see {@link ld8u}). */
  ld8s(addr: number): number {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off < r.rEnd) return Atomics.load(r.i8, off);
    }
    return this.ldSlow(addr, 1, true);
  }

  /** Unsigned 16-bit load (see {@link ld8u}). */
  ld16u(addr: number): number {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 2 <= r.rEnd && (off & 1) === 0) return Atomics.load(r.u16, off >>> 1);
    }
    return this.ldSlow(addr, 2, false);
  }

  /** Signed 16-bit load (see {@link ld8u}). */
  ld16s(addr: number): number {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 2 <= r.rEnd && (off & 1) === 0) return Atomics.load(r.i16, off >>> 1);
    }
    return this.ldSlow(addr, 2, true);
  }

  /** 32-bit load as an int32 (the register form; see {@link ld8u}). */
  ld32s(addr: number): number {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0) return Atomics.load(r.i32, off >>> 2);
    }
    return this.ldSlow(addr, 4, true);
  }

  /** 32-bit load as 0 … 2^32-1 (see {@link ld8u}; prefer ld32s in hot loops: values >= 2^31 are doubles). */
  ld32u(addr: number): number {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.rEnd && (off & 3) === 0) return Atomics.load(r.i32, off >>> 2) >>> 0;
    }
    return this.ldSlow(addr, 4, false);
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
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off < r.wEnd) {
        Atomics.store(r.i8, off, (value << 24) >> 24);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    this.stSlow(addr, 1, value);
  }

  /** 16-bit register store (see {@link st8}). */
  st16(addr: number, value: number): void {
    if (typeof addr === 'number' && typeof value === 'number' && ((value | 0) === value || value >>> 0 === value)) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 2 <= r.wEnd && (off & 1) === 0) {
        Atomics.store(r.i16, off >>> 1, (value << 16) >> 16);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    this.stSlow(addr, 2, value);
  }

  /** 32-bit register store (see {@link st8}). */
  st32(addr: number, value: number): void {
    if (typeof addr === 'number' && typeof value === 'number' && ((value | 0) === value || value >>> 0 === value)) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        Atomics.store(r.i32, off >>> 2, value | 0);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    this.stSlow(addr, 4, value);
  }

  /** @internal Everything the register loads' fast path does not take: validate, then split or throw. */
  private ldSlow(addr: number, size: number, signed: boolean): number {
    checkIndex('addr', addr);
    if (this.bus !== null && this.lookup(addr) === undefined) {
      const v = this.bus.read(addr, size);
      if (!signed) return v;
      return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
    }
    const r = this.#spanFor(addr);
    const off = addr - r.startAddr;
    let v: number;
    if ((off & (size - 1)) === 0 && off + size <= r.len) {
      requireRead(r.hm, addr);
      v = Number(atomicLoad(r.hm, size === 1 ? S_U8 : size === 2 ? S_U16 : S_U32, off));
    } else {
      if (!this.splitMisaligned) throw misaligned(addr, size);
      const b = scalarScratch();
      const done = this.transfer(b, size, addr, false);
      if (done !== size) throw partialBuffer(size, done);
      v =
        size === 1
          ? b[0]!
          : size === 2
            ? b[0]! | (b[1]! << 8)
            : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (!HOST_LITTLE_ENDIAN) v = size === 2 ? bswap16(v) : size === 4 ? bswap32(v) : v;
    }
    if (!signed) return size === 4 ? v >>> 0 : v;
    return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
  }

  /** @internal Everything the register stores' fast path does not take. */
  private stSlow(addr: number, size: number, value: number): void {
    checkIndex('addr', addr);
    if (typeof value !== 'number') throw typeError('value', 'of type number', value);
    if ((value | 0) !== value && value >>> 0 !== value)
      throw rangeError('value', 'an integer from -2^31 to 2^32-1', value);
    if (this.bus !== null && this.lookup(addr) === undefined) {
      this.bus.write(addr, size, size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0);
      return;
    }
    const r = this.#spanFor(addr);
    const off = addr - r.startAddr;
    const bits = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
    if ((off & (size - 1)) === 0 && off + size <= r.len) {
      requireWrite(r.hm, addr);
      atomicStore(r.hm, size === 1 ? S_U8 : size === 2 ? S_U16 : S_U32, off, bits);
      return;
    }
    if (!this.splitMisaligned) throw misaligned(addr, size);
    const b = scalarScratch();
    const le = HOST_LITTLE_ENDIAN ? bits : size === 2 ? bswap16(bits) : bswap32(bits);
    for (let i = 0; i < size; i++) b[i] = (le >>> (8 * i)) & 0xff;
    const done = this.transfer(b, size, addr, true);
    if (done !== size) throw partialBuffer(size, done);
  }

  // ---- file descriptors --------------------------------------------------------------------

  /**
   * @internal try_access over [addr, addr + count) calling one read(2)/write(2) per step, or
   * pread(2)/pwrite(2) at `position` onward when `position` is given.
   */
  private fdLoop(addr: number, fd: number, count: number, toGuest: boolean, position: unknown): number {
    checkIndex('addr', addr);
    checkFd('fd', fd);
    checkIndex('count', count);
    const pos = checkPosition('position', position);
    if (count === 0) return 0;
    let r = this.#spanFor(addr);
    let total = 0;
    for (;;) {
      const cur = addr + total;
      const off = cur - r.startAddr;
      const len = Math.min(r.len - off, count - total);
      const at = pos < 0 ? pos : pos + total;
      let n: number;
      if (toGuest) {
        requireWrite(r.hm, cur);
        n = readFd(r.hm, off, fd, len, at);
      } else {
        requireRead(r.hm, cur);
        n = writeFd(r.hm, off, fd, len, at);
      }
      if (n === 0) return total;
      total += n;
      if (total === count) return total;
      const next = this.#locate(addr + total);
      if (next === NO_SPAN) return total;
      r = next;
    }
  }

  /**
   * Reads from `fd` into guest memory at `addr`, up to `count` bytes, across adjacent regions,
   * until end of file or a hole; returns the bytes read. With `position`, reads the file from
   * that offset with pread(2) and leaves the descriptor's position alone (disk devices, image
   * loaders). Throws IOError, InvalidGuestAddress.
   * @example mem.readFrom(0x8000_0000, fd, size, 0) // an image file at its offset 0
   */
  readFrom(addr: number, fd: number, count: number, position?: number): number {
    return this.fdLoop(addr, fd, count, true, position);
  }

  /** Reads exactly `count` bytes from `fd` (at `position`, if given) or throws PartialBuffer (what was read stays). */
  readExactFrom(addr: number, fd: number, count: number, position?: number): void {
    const done = this.fdLoop(addr, fd, count, true, position);
    if (done !== count) throw partialBuffer(count, done);
  }

  /** Writes up to `count` bytes of guest memory at `addr` to `fd` (pwrite(2) at `position`, if given); returns the bytes written. */
  writeTo(addr: number, fd: number, count: number, position?: number): number {
    return this.fdLoop(addr, fd, count, false, position);
  }

  /** Writes exactly `count` bytes to `fd` (at `position`, if given) or throws PartialBuffer. */
  writeAllTo(addr: number, fd: number, count: number, position?: number): void {
    const done = this.fdLoop(addr, fd, count, false, position);
    if (done !== count) throw partialBuffer(count, done);
  }

  // ---- atomics -----------------------------------------------------------------------------

  /** @internal The region and region offset for an atomic access of `size` bytes at `addr`. */
  private atomicTarget(addr: number, size: number): Span {
    checkIndex('addr', addr);
    const r = this.#spanFor(addr);
    const off = addr - r.startAddr;
    if (off + size > r.len) throw invalidBackendAddress(off, size);
    return r;
  }

  /**
   * Atomic, sequentially consistent load of an integer type (u8 … i64) at a naturally aligned
   * guest address inside one region: a single tear-free access.
   * Throws Misaligned, InvalidGuestAddress, InvalidBackendAddress, AccessDenied.
   * @example mem.load(u32, 0x1000)
   */
  load<T>(type: ValueType<T>, addr: number): T {
    if (typeof addr === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
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
    return this.loadAny(type, addr);
  }

  private loadAny<T>(type: ValueType<T>, addr: number): T {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.rEnd && (off & (size - 1)) === 0) {
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
    return this.loadSlow(type, addr);
  }

  private loadSlow<T>(type: ValueType<T>, addr: number): T {
    const t = checkAtomicType(type);
    const target = this.atomicTarget(addr, t.size);
    return checkedLoad(target.hm, t, addr - target.startAddr, addr) as T;
  }

  /** Atomic, sequentially consistent store (tear-free); the value must fit the type. */
  store<T>(type: ValueType<T>, value: T, addr: number): void {
    if (typeof addr === 'number' && typeof value === 'number') {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
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
    this.storeAny(type, value, addr);
  }

  private storeAny<T>(type: ValueType<T>, value: T, addr: number): void {
    let r = this.#hot;
    // typeof first: subtracting a bigint would throw an untyped TypeError.
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr); // cache miss: a binary search, then the same fast access
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0) {
      const scalar = type.atomicScalar;
      if (scalar === S_U32 && typeof value === 'number' && value >>> 0 === value) {
        Atomics.store(r.i32, off >>> 2, (value as number) | 0);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
      if (scalar >= 0 && fitsInline(scalar, value)) {
        storeScalar(r.c0, scalar, off, value as number);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return;
      }
    }
    const t = checkAtomicType(type);
    checkOperand(t, value);
    const target = this.atomicTarget(addr, t.size);
    checkedStore(target.hm, t, value, addr - target.startAddr, addr);
  }

  private rmw<T>(op: number, type: ValueType<T>, addr: number, value: T): T {
    const t = checkAtomicType(type);
    checkOperand(t, value);
    const target = this.atomicTarget(addr, t.size);
    return checkedRmw(target.hm, op, t, value, addr - target.startAddr, addr) as T;
  }

  /**
   * The general fast path of every RMW: any integer type in chunk 0 of a writable region, found
   * through the cache or a binary search, no allocation; anything else validates in `rmw`.
   */
  private rmwAny<T>(op: number, type: ValueType<T>, addr: number, value: T): T {
    let r = this.#hot;
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr);
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0) {
      const sc = type.atomicScalar;
      if (sc >= 0 && fitsOperand(sc, value)) {
        const old = rmwAt(arrayOf(r.c0, sc), off / size, op, value as number);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmw(op, type, addr, value);
  }

  /** Atomic compare-and-exchange; returns the old value (the swap happened if it equals `expected`). */
  compareExchange<T>(type: ValueType<T>, addr: number, expected: T, replacement: T): T {
    if (
      type === U32 &&
      typeof addr === 'number' &&
      typeof expected === 'number' &&
      typeof replacement === 'number' &&
      expected >>> 0 === expected &&
      replacement >>> 0 === replacement
    ) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.compareExchange(r.i32, off >>> 2, expected | 0, replacement | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.compareExchangeAny(type, addr, expected, replacement);
  }

  private compareExchangeAny<T>(type: ValueType<T>, addr: number, expected: T, replacement: T): T {
    let r = this.#hot;
    let off = typeof addr === 'number' ? addr - r.startAddr : -1;
    if (!(off >= 0 && off < r.len) && typeof addr === 'number') {
      r = this.#locate(addr);
      off = addr - r.startAddr;
    }
    const size = ValueType.is(type) ? type.size : NaN; // NaN: a forged type takes the slow path, which refuses it
    if (off >>> 0 === off && off + size <= r.wEnd && (off & (size - 1)) === 0) {
      const sc = type.atomicScalar;
      if (sc >= 0 && fitsOperand(sc, expected) && fitsOperand(sc, replacement)) {
        const arr = arrayOf(r.c0, sc) as Int32Array;
        const old = Atomics.compareExchange(arr, off / size, expected as number, replacement as number);
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.compareExchangeSlow(type, addr, expected, replacement);
  }

  private compareExchangeSlow<T>(type: ValueType<T>, addr: number, expected: T, replacement: T): T {
    const t = checkAtomicType(type);
    checkOperand(t, expected, 'expected');
    checkOperand(t, replacement, 'replacement');
    const target = this.atomicTarget(addr, t.size);
    return checkedCompareExchange(target.hm, t, expected, replacement, addr - target.startAddr, addr) as T;
  }

  /** Atomic exchange; returns the old value. */
  exchange<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.exchange(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_EXCHANGE, type, addr, value);
  }

  /**
   * Atomic wrapping add; returns the old value.
   * @example mem.fetchAdd(u32, COUNTER, 1)
   */
  fetchAdd<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.add(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_ADD, type, addr, value);
  }

  /** Atomic wrapping subtract; returns the old value. */
  fetchSub<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.sub(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_SUB, type, addr, value);
  }

  /** Atomic bitwise and; returns the old value. */
  fetchAnd<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.and(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_AND, type, addr, value);
  }

  /** Atomic bitwise or; returns the old value. */
  fetchOr<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.or(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_OR, type, addr, value);
  }

  /** Atomic bitwise xor; returns the old value. */
  fetchXor<T>(type: ValueType<T>, addr: number, value: T): T {
    if (type === U32 && typeof addr === 'number' && typeof value === 'number' && value >>> 0 === value) {
      // One region: the cached one; several: the table's (no branch on which region; see `#table`).
      const r = this.#multi && addr < TABLE_LIMIT ? this.#table[addr >>> TABLE_SHIFT]! : this.#hot;
      const off = addr - r.startAddr;
      if (off >>> 0 === off && off + 4 <= r.wEnd && (off & 3) === 0) {
        const old = Atomics.xor(r.i32, off >>> 2, value | 0) >>> 0;
        if (r.dirty !== null) markPage(r.dirty, off >>> r.pageShift);
        return old as T;
      }
    }
    return this.rmwAny(OP_XOR, type, addr, value);
  }

  /**
   * Blocks while the i32/i64 at guest `addr` equals `expected`, until notified (by any thread)
   * or `timeoutMs` passes. Returns 'ok', 'not-equal' or 'timed-out'.
   */
  wait<T>(type: ValueType<T>, addr: number, expected: T, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out' {
    const t = checkWaitType(type);
    checkOperand(t, expected, 'expected');
    const timeout = checkTimeout('timeoutMs', timeoutMs);
    const target = this.atomicTarget(addr, t.size);
    return checkedWait(target.hm, t, expected, timeout, addr - target.startAddr, addr);
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
    const t = checkWaitType(type);
    checkOperand(t, expected, 'expected');
    const timeout = checkTimeout('timeoutMs', timeoutMs);
    const target = this.atomicTarget(addr, t.size);
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

  /** Wakes up to `count` (default all) waiters on the 4-aligned guest `addr`; returns how many. */
  notify(addr: number, count?: number): number {
    const n = checkOptionalIndex('count', count);
    const target = this.atomicTarget(addr, 4);
    return checkedNotify(target.hm, n, addr - target.startAddr, addr);
  }
}
