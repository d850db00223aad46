import { GuestMemoryAtomic } from './guest-memory-atomic.js';
import { GuestMemoryMmap } from './guest-memory.js';
import { markPageAfterPlain, type AtomicBitmap } from './atomic-bitmap.js';
import { checkIndex, typeError } from './internal/args.js';
import { spanOf, type Span } from './internal/byte-window.js';
import { VIEW_CHUNK } from './internal/host-memory.js';

/** The views of one run of guest RAM (see the module comment). */
export class Translation {
  /** Guest address of the run's first byte. */
  readonly start: number;
  /** Guest address one past the run's last byte. */
  readonly end: number;
  /** Byte index in the views of guest address `a` is `a + offset`. */
  readonly offset: number;
  /** Whether the views may be written (a write translation). */
  readonly writable: boolean;
  /** Views over the whole first 4 GiB chunk of the region: index with `(a + offset)` scaled to the element size, for `a` in [start, end). */
  readonly u8: Uint8Array;
  /** Signed bytes; see `u8`. */
  readonly i8: Int8Array;
  /** Index `(a + offset) >>> 1`. */
  readonly u16: Uint16Array;
  /** Index `(a + offset) >>> 1`. */
  readonly i16: Int16Array;
  /** Index `(a + offset) >>> 2`. */
  readonly u32: Uint32Array;
  /** Index `(a + offset) >>> 2`. */
  readonly i32: Int32Array;
  /** Index `(a + offset) / 8`. */
  readonly u64: BigUint64Array;
  /** Index `(a + offset) / 8`. */
  readonly i64: BigInt64Array;
  /** Index `(a + offset) >>> 2`. */
  readonly f32: Float32Array;
  /** Index `(a + offset) / 8`. */
  readonly f64: Float64Array;
  /** A DataView over the same bytes, for unaligned accesses (index `a + offset` too). */
  readonly dv: DataView;

  /** @internal */
  constructor(region: Span, start: number, end: number, writable: boolean) {
    this.start = start;
    this.end = end;
    this.offset = -region.startAddr;
    this.writable = writable;
    const v = region.c0;
    this.u8 = v.u8;
    this.i8 = v.i8;
    this.u16 = v.u16;
    this.i16 = v.i16;
    this.u32 = v.u32;
    this.i32 = v.i32;
    this.u64 = v.u64;
    this.i64 = v.i64;
    this.f32 = v.f32;
    this.f64 = v.f64;
    this.dv = region.hm.dv;
    Object.freeze(this);
  }
}

/** Write translations a cache keeps for handing out again (direct-mapped by run index). */
const WRITE_SLOTS = 256;

/** Options of `new TranslationCache(memory, options)`. */
export interface TranslationCacheOptions {
  /**
   * Largest run a write translation covers in a region without dirty tracking (bytes, a power
   * of two; default: the whole region's first 4 GiB). Regions that track dirty pages always
   * use their dirty page size.
   */
  readonly writeRun?: number;
}

/**
 * TranslationCache: what an interpreter asks once per page (or once per region) instead of once
 * per guest access. `lookup(addr, write)` returns a {@link Translation}: the typed-array views
 * over the RAM that holds `addr` and the run [start, end) they may be used for, so the
 * interpreter's own loop does `t.u32[(a + t.offset) >>> 2]` for every `a` in the run: a plain
 * typed-array access, exactly what hand-made views cost. The cache keeps what it handed out
 * until `flush()`: the read translation of each region, and the last 256 write runs
 * (direct-mapped), so a lookup that hits allocates nothing and returns the same object.
 *
 * Validity: translations stay valid until {@link TranslationCache.valid} turns false, which
 * happens when the GuestMemoryAtomic the cache follows publishes a new map (a region may have
 * been removed) or when a dirty bitmap whose pages the cache marked was reset. `valid()` costs
 * one atomic load, plus one per dirty-tracked region written through; check it at block
 * boundaries or checkpoints, then `flush()` and look up again.
 *
 * Protection: only read-write regions are translated; for a read-only or PROT_NONE region
 * `lookup` returns null and the interpreter uses the checked accessors (`ld*`), which refuse a
 * write with AccessDenied. (JavaScript has no read-only typed array: a view over read-only
 * memory, written once by mistake, would fault the process.) A read translation's views are
 * writable memory too, but a write through them bypasses dirty tracking: write only through a
 * write translation.
 *
 * Dirty tracking: a write translation of a region that tracks dirty pages covers one dirty page
 * and marks it when it is handed out (a locked or, once per lookup); the cache also records the
 * page. A write made through it after a collection reset that page still lands in a later
 * collection: the reset bumps the bitmap's epoch, `valid()` turns false, and `flush()` marks
 * every recorded page of a reset bitmap again (whether or not it is looked up again). A vCPU
 * that parks calls `publishDirty()` first (`ctx.onPark(() => tc.publishDirty())`), so a
 * collection taken while the vCPUs are paused (a snapshot's or a migration's last pass) has
 * every write. Cost: one lookup per dirty page written per epoch instead of one per region.
 */
export class TranslationCache {
  readonly #atomic: GuestMemoryAtomic | null;
  #memory: GuestMemoryMmap;
  #version: number;
  /** Bitmaps marked through write translations since the last flush, with their epochs. */
  #marked: AtomicBitmap[] = [];
  #epochs: number[] = [];
  /** Per bitmap in #marked: the pages handed out for writing since the last flush (its own bits). */
  #pages: Int32Array[] = [];
  /** Per bitmap in #marked: the words of #pages that have a bit set. */
  #touched: number[][] = [];
  /** Page records kept for reuse across flushes, one per bitmap this cache ever marked. */
  readonly #records = new Map<AtomicBitmap, { pages: Int32Array; touched: number[] }>();
  readonly #writeRun: number;
  /** Read translations handed out since the last flush, one per region: handed out again. */
  readonly #reads = new Map<Span, Translation>();
  /** Write translations, direct-mapped by run index (WRITE_SLOTS of them) with their region. */
  readonly #writes: (Translation | null)[] = new Array<Translation | null>(WRITE_SLOTS).fill(null);
  readonly #writeSpans: (Span | null)[] = new Array<Span | null>(WRITE_SLOTS).fill(null);
  /** Lookups answered since creation (statistics). */
  lookups = 0;

  /**
   * A cache over `memory`; with a GuestMemoryAtomic, translations are invalidated whenever it
   * publishes a new map.
   * @example const tc = new TranslationCache(ctx.atomic ?? ctx.memory);
   */
  constructor(memory: GuestMemoryMmap | GuestMemoryAtomic, options?: TranslationCacheOptions) {
    if (memory instanceof GuestMemoryAtomic) {
      this.#atomic = memory;
      this.#memory = memory.memory();
    } else if (memory instanceof GuestMemoryMmap) {
      this.#atomic = null;
      this.#memory = memory;
    } else {
      throw typeError('memory', 'a GuestMemoryMmap or GuestMemoryAtomic', memory);
    }
    this.#version = this.#atomic?.version ?? 0;
    const run = options?.writeRun;
    if (run !== undefined) {
      checkIndex('options.writeRun', run);
      if (run < 8 || (run & (run - 1)) !== 0) throw typeError('options.writeRun', 'a power of two >= 8', run);
    }
    this.#writeRun = run ?? VIEW_CHUNK;
  }

  /** The map translations come from (the GuestMemoryAtomic's snapshot as of the last flush). */
  get memory(): GuestMemoryMmap {
    return this.#memory;
  }

  /**
   * True while every translation handed out since the last `flush()` may still be used: the
   * map has not been replaced and no bitmap this cache marked has been reset since.
   */
  valid(): boolean {
    if (this.#atomic !== null && this.#atomic.version !== this.#version) return false;
    const m = this.#marked;
    for (let i = 0; i < m.length; i++) if (m[i]!.epoch() !== this.#epochs[i]) return false;
    return true;
  }

  /**
   * Forgets every translation (call it when `valid()` is false), picking up the current map.
   * The pages of the write translations it drops are marked dirty again where their bitmap was
   * reset since they were handed out: a write made through one after a collection's reset is
   * in the next collection even if that page is never looked up again.
   */
  flush(): void {
    this.#publish(false);
    if (this.#atomic !== null) {
      this.#memory = this.#atomic.memory();
      this.#version = this.#atomic.version;
    }
    for (let i = 0; i < this.#marked.length; i++) {
      const pages = this.#pages[i]!;
      for (const w of this.#touched[i]!) pages[w] = 0;
      this.#touched[i]!.length = 0;
    }
    this.#marked = [];
    this.#epochs = [];
    this.#pages = [];
    this.#touched = [];
    this.#reads.clear();
    this.#writes.fill(null);
    this.#writeSpans.fill(null);
  }

  /**
   * Marks dirty again every page a write translation was handed out for since the last flush,
   * keeping the translations: what a vCPU does before it parks, so that a collection taken while
   * it is paused has every write it made (see `VcpuContext.onPark`). Costs one atomic OR per
   * 32 pages written.
   */
  publishDirty(): void {
    this.#publish(true);
  }

  /** Re-marks the recorded pages of each bitmap (all of them, or those reset since they were marked). */
  #publish(all: boolean): void {
    for (let i = 0; i < this.#marked.length; i++) {
      const bitmap = this.#marked[i]!;
      if (!all && bitmap.epoch() === this.#epochs[i]) continue; // still marked: no reset since
      const pages = this.#pages[i]!;
      for (const w of this.#touched[i]!) Atomics.or(bitmap.words, w, pages[w]!);
      this.#epochs[i] = bitmap.epoch();
    }
  }

  /**
   * The translation of the RAM holding guest `addr`, for reading or (`write`) writing, or null
   * when `addr` is not in RAM the views may be used for: no region (a device, a hole), a
   * protected region, or past a region's first 4 GiB. Never throws for a number `addr`.
   * @example const t = tc.lookup(pc, false); const insn = t?.i32[(pc + t.offset) >>> 2];
   */
  lookup(addr: number, write: boolean): Translation | null {
    if (typeof addr !== 'number' || !(addr >= 0) || !Number.isSafeInteger(addr)) return null;
    const g = this.#memory.lookup(addr);
    if (g === undefined) return null;
    const r = spanOf(g);
    const off = addr - r.startAddr;
    if (off >= VIEW_CHUNK) return null;
    const limit = Math.min(r.len, VIEW_CHUNK);
    this.lookups++;
    // Views are only ever handed out over read-write memory: JavaScript has no read-only typed
    // array, and one write through a view of a read-only mapping would fault the process.
    if (r.wEnd === 0) return null;
    if (!write) {
      let t = this.#reads.get(r);
      if (t === undefined) {
        t = new Translation(r, r.startAddr, r.startAddr + limit, false);
        this.#reads.set(r, t);
      }
      return t;
    }
    const bitmap = g.mapping.bitmap;
    const run = bitmap === null ? this.#writeRun : bitmap.pageSize;
    const first = Math.floor(off / run) * run;
    const last = Math.min(first + run, limit);
    if (bitmap !== null) {
      let k = this.#marked.indexOf(bitmap);
      if (k < 0) {
        k = this.#marked.length;
        let rec = this.#records.get(bitmap);
        if (rec === undefined) {
          rec = { pages: new Int32Array(bitmap.words.length), touched: [] };
          this.#records.set(bitmap, rec);
        }
        this.#marked.push(bitmap);
        this.#epochs.push(bitmap.epoch());
        this.#pages.push(rec.pages);
        this.#touched.push(rec.touched);
      }
      const page = first / run;
      const pages = this.#pages[k]!;
      const w = page >>> 5;
      if (pages[w] === 0) this.#touched[k]!.push(w);
      pages[w]! |= 1 << (page & 31);
      markPageAfterPlain(bitmap.words, page);
    }
    // the same run again: the same object (marked again above all the same)
    const slot = (first / run) & (WRITE_SLOTS - 1);
    const cached = this.#writes[slot];
    if (cached != null && this.#writeSpans[slot] === r && cached.start === r.startAddr + first) return cached;
    const t = new Translation(r, r.startAddr + first, r.startAddr + last, true);
    this.#writes[slot] = t;
    this.#writeSpans[slot] = r;
    return t;
  }
}
