import { checkIndex, rangeError, typeError } from './internal/args.js';

/** The default page size of dirty tracking, in bytes. */
export const DEFAULT_DIRTY_PAGE_SIZE = 4096;

/** What crosses threads for an AtomicBitmap (`toShared()`): the words' buffer and the geometry. */
export interface SharedBitmap {
  /** One bit per page, in Int32 words. */
  readonly words: SharedArrayBuffer;
  /** One Int32 word: the reset epoch. */
  readonly epoch: SharedArrayBuffer;
  /** Bytes of memory covered. */
  readonly byteSize: number;
  /** Bytes per bit. */
  readonly pageSize: number;
}

/**
 * AtomicBitmap: one bit per page of a mapping, in a SharedArrayBuffer, so every thread that
 * writes the mapping marks the same bitmap (vm-memory's `AtomicBitmap`, shared across threads).
 *
 * Writers set bits with `Atomics.or` after their write; readers collect and clear with
 * `getAndReset`, which swaps each word with zero (`Atomics.exchange`). A write that lands after
 * the swap marks its page again, so repeated `getAndReset` passes never lose a write made
 * through guestmem's API (the marking functions below explain the ordering per kind of write). Writes through raw views (`MmapRegion.buffer`, `asTypedArray` copies
 * to the raw buffer) are not seen: they bypass the API.
 */
export class AtomicBitmap {
  /** Size in bytes of the memory the bitmap covers. */
  readonly byteSize: number;
  /** Bytes per bit (a power of two, at least 8). */
  readonly pageSize: number;
  /** Number of bits (pages). */
  readonly len: number;
  /** @internal */
  readonly words: Int32Array;
  /** @internal log2(pageSize). */
  readonly shift: number;
  /** @internal Word `epoch`: bumped after every operation that clears bits (see {@link epoch}). */
  readonly epochWord: Int32Array;

  /**
   * A cleared bitmap for `byteSize` bytes at `pageSize` bytes per bit (default 4096). Throws
   * RangeError if `pageSize` is not a power of two of at least 8.
   * @example const bm = new AtomicBitmap(1 << 20); bm.setAddrRange(0x1000, 8);
   */
  constructor(
    byteSize: number,
    pageSize: number = DEFAULT_DIRTY_PAGE_SIZE,
    words?: SharedArrayBuffer,
    epoch?: SharedArrayBuffer,
  ) {
    checkIndex('byteSize', byteSize);
    checkIndex('pageSize', pageSize);
    if (pageSize < 8 || (pageSize & (pageSize - 1)) !== 0 || pageSize > 2 ** 30) {
      throw rangeError('pageSize', 'a power of two from 8 to 2^30', pageSize);
    }
    this.byteSize = byteSize;
    this.pageSize = pageSize;
    this.shift = Math.log2(pageSize);
    this.len = Math.ceil(byteSize / pageSize);
    const bytes = Math.max(4, Math.ceil(this.len / 32) * 4);
    if (words !== undefined && (!(words instanceof SharedArrayBuffer) || words.byteLength !== bytes)) {
      throw typeError('words', `a SharedArrayBuffer of ${bytes} bytes`, words);
    }
    this.words = new Int32Array(words ?? new SharedArrayBuffer(bytes));
    if (epoch !== undefined && (!(epoch instanceof SharedArrayBuffer) || epoch.byteLength !== 4)) {
      throw typeError('epoch', 'a SharedArrayBuffer of 4 bytes', epoch);
    }
    this.epochWord = new Int32Array(epoch ?? new SharedArrayBuffer(4));
  }

  /**
   * The reset epoch: a counter bumped after every call that clears bits (`reset`,
   * `resetAddrRange`, `getAndReset`, `setPages(true)`), in every thread's view of this bitmap.
   * Whoever marks pages ahead of writes (a translation cache handing out writable views)
   * compares it to know its marks may have been cleared. One atomic load.
   */
  epoch(): number {
    return Atomics.load(this.epochWord, 0);
  }

  #cleared(): void {
    Atomics.add(this.epochWord, 0, 1);
  }

  /** @internal */
  toShared(): SharedBitmap {
    return {
      words: this.words.buffer as SharedArrayBuffer,
      epoch: this.epochWord.buffer as SharedArrayBuffer,
      byteSize: this.byteSize,
      pageSize: this.pageSize,
    };
  }

  /** @internal */
  static fromShared(s: SharedBitmap): AtomicBitmap {
    return new AtomicBitmap(s.byteSize, s.pageSize, s.words, s.epoch);
  }

  /** True if the page holding byte `addr` is marked (false past the end). */
  isAddrSet(addr: number): boolean {
    checkIndex('addr', addr);
    return addr < this.byteSize && this.isBitSet(Math.floor(addr / this.pageSize));
  }

  /** True if bit (page) `index` is set (false past the end). */
  isBitSet(index: number): boolean {
    checkIndex('index', index);
    if (index >= this.len) return false;
    return (Atomics.load(this.words, index >>> 5) & (1 << (index & 31))) !== 0;
  }

  /** Marks every page that [addr, addr + len) touches (clipped to the bitmap). */
  setAddrRange(addr: number, len: number): void {
    checkIndex('addr', addr);
    checkIndex('len', len);
    markRange(this.words, this.shift, addr, Math.min(len, Math.max(0, this.byteSize - addr)), false);
  }

  /** Clears every page that [addr, addr + len) touches (clipped to the bitmap). */
  resetAddrRange(addr: number, len: number): void {
    checkIndex('addr', addr);
    checkIndex('len', len);
    const n = Math.min(len, Math.max(0, this.byteSize - addr));
    if (n === 0) return;
    const first = Math.floor(addr / this.pageSize);
    const last = Math.floor((addr + n - 1) / this.pageSize);
    for (let p = first; p <= last; p++) Atomics.and(this.words, p >>> 5, ~(1 << (p & 31)));
    this.#cleared();
  }

  /** Clears every bit. */
  reset(): void {
    for (let w = 0; w < this.words.length; w++) Atomics.store(this.words, w, 0);
    this.#cleared();
  }

  /**
   * Returns the set bits' words and clears them, word by word, atomically (bit i of word w is
   * page 32*w + i). A concurrent write either lands in this result or marks its page again.
   * @example for (const page of pagesOf(bm.getAndReset())) copyOut(page)
   */
  getAndReset(): Uint32Array {
    const out = new Uint32Array(this.words.length);
    for (let w = 0; w < out.length; w++) {
      // A plain read first: most words of a large bitmap are clean, and an exchange would
      // pull each cache line exclusive for nothing.
      if (this.words[w] !== 0) out[w] = Atomics.exchange(this.words, w, 0);
    }
    this.#cleared();
    return out;
  }

  /** The indices of the set pages, ascending (no reset). Optionally clears them as it goes. */
  setPages(reset?: boolean): number[] {
    const pages: number[] = [];
    for (let w = 0; w < this.words.length; w++) {
      if (this.words[w] === 0) continue;
      let bits = reset ? Atomics.exchange(this.words, w, 0) : Atomics.load(this.words, w);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        pages.push(w * 32 + b);
        bits &= bits - 1;
      }
    }
    if (reset) this.#cleared();
    return pages;
  }

  /** Number of set bits. */
  count(): number {
    let n = 0;
    for (let w = 0; w < this.words.length; w++) {
      let v = this.words[w]!;
      while (v !== 0) {
        v &= v - 1;
        n++;
      }
    }
    return n;
  }
}

/**
 * @internal Marks the pages of [abs, abs + n) after a write, in one of two ways:
 * - after an `Atomics` write (sequentially consistent), a load first: a page already marked
 *   costs a load, not a locked read-modify-write on a line other writers share. Both are
 *   sequentially consistent, so the check is ordered after the write, and a getAndReset that
 *   clears the bit after the check also sees the write;
 * - after a plain write (`afterPlain`: bulk copies, unaligned and unordered writes, read(2) into
 *   the mapping), always an `Atomics.or`: a plain write may still sit in the store buffer when a
 *   following load runs, so a "bit already set?" check could read the bit before a concurrent
 *   getAndReset clears it while the write lands after that reset's copy: a lost page. The locked
 *   read-modify-write orders the write before the mark.
 */
export function markRange(words: Int32Array, shift: number, abs: number, n: number, afterPlain: boolean): void {
  if (n <= 0) return;
  const end = abs + n - 1;
  // Integer shifts while offsets fit 32 bits (every mapping's first 4 GiB); division beyond.
  const first = end <= 0xffffffff ? abs >>> shift : Math.floor(abs / 2 ** shift);
  const last = end <= 0xffffffff ? end >>> shift : Math.floor(end / 2 ** shift);
  for (let p = first; p <= last; p++) {
    const w = p >>> 5;
    const bit = 1 << (p & 31);
    if (afterPlain || (Atomics.load(words, w) & bit) === 0) Atomics.or(words, w, bit);
  }
}

/** @internal The hot-path mark of one page after an atomic write (see markRange). */
export function markPage(words: Int32Array, page: number): void {
  const w = page >>> 5;
  const bit = 1 << (page & 31);
  if ((Atomics.load(words, w) & bit) === 0) Atomics.or(words, w, bit);
}

/** @internal The hot-path mark of one page after a plain write (see markRange). */
export function markPageAfterPlain(words: Int32Array, page: number): void {
  Atomics.or(words, page >>> 5, 1 << (page & 31));
}
