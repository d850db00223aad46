import { GuestMemoryMmap } from '../guest-memory.js';
import { spanOf, type Span } from '../internal/byte-window.js';
import { le16, le32, u32 } from '../types.js';
import { rangeError, typeError } from '../internal/args.js';
import { HOST_LE } from './little-endian.js';
import { VirtioError } from './virtio-error.js';

/** The longest indirect table a chain may use: `next` is 16 bits, so no table can chain more. */
export const MAX_INDIRECT = 65536;

/** Descriptor flag: the chain continues at `next`. */
export const VIRTQ_DESC_F_NEXT = 1;
/** Descriptor flag: the buffer is written by the device. */
export const VIRTQ_DESC_F_WRITE = 2;
/** Descriptor flag: the buffer is a table of descriptors. */
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Available-ring flag: the driver asks for no notifications (without EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Used-ring flag: the device asks the driver not to notify it. */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** One buffer of a chain. */
export interface Descriptor {
  /** Guest-physical address of the buffer. */
  readonly addr: number;
  /** Length of the buffer in bytes. */
  readonly len: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE). */
  readonly write: boolean;
}

/** One chain popped from the available ring. */
export interface DescriptorChain {
  /** The head descriptor index: what `addUsed` takes. */
  readonly head: number;
  /** The buffers in chain order (indirect tables expanded). */
  readonly descriptors: readonly Descriptor[];
}

/** Where a queue stands in its rings: what `SplitQueue.state` gives and its constructor resumes from. */
export interface SplitQueueState {
  /** The next available-ring entry the device will pop (0-65535). */
  readonly nextAvail: number;
  /** The next used-ring entry the device will fill (0-65535). */
  readonly nextUsed: number;
  /** used.idx as of the last notification decision (defaults to `nextUsed`). */
  readonly signalledUsed?: number;
}

/** Where a queue lives and how it was negotiated: what the driver wrote to the transport. */
export interface SplitQueueConfig {
  /** Queue size (a power of two, 1 … 32768). */
  readonly size: number;
  /** Guest-physical addresses of the descriptor table (16-aligned), available ring (2-aligned), used ring (4-aligned). */
  readonly desc: number;
  /** Guest-physical address of the available ring. */
  readonly avail: number;
  /** Guest-physical address of the used ring. */
  readonly used: number;
  /** VIRTIO_F_EVENT_IDX negotiated (used_event / avail_event fields). */
  readonly eventIdx?: boolean;
}

/**
 * A split virtqueue (virtio 1.x, "Split Virtqueues") over guest memory, device side, after
 * rust-vmm's virtio-queue: pop available descriptor chains (direct and indirect), return them
 * as used, and decide whether the driver wants a notification (flags or VIRTIO_F_EVENT_IDX).
 *
 * The driver is hostile input. Every index is checked against the queue size, every chain is
 * bounded (at most `size` descriptors, an indirect table at most its length / 16 and at most
 * MAX_INDIRECT entries, no nested indirect tables, at most 2^32-1 bytes in all), every
 * descriptor's buffer must lie in guest RAM, and the available index may not run ahead by more
 * than `size`. A chain is checked whole before it is collected, so a bad one costs bounded time
 * and no memory. Failures are VirtioErrors; nothing loops or reads outside guest memory.
 *
 * Memory ordering: the driver publishes a chain by writing the descriptors and the ring entry,
 * then the available index. The device reads `avail.idx` with an atomic (sequentially
 * consistent) load before it reads the entries it covers, and publishes used entries by writing
 * the element, then `used.idx` with an atomic store; `needsNotification` reads the driver's
 * suppression fields only after that store. The same holds for drivers on other vCPU threads,
 * since every vCPU reaches memory through the same SharedArrayBuffers.
 */
export class SplitQueue {
  /** Queue size (entries per ring). */
  readonly size: number;
  readonly #mem: GuestMemoryMmap;
  readonly #desc: number;
  readonly #avail: number;
  readonly #used: number;
  readonly #eventIdx: boolean;
  /** Next available-ring position to pop (free-running 16-bit). */
  #nextAvail = 0;
  /** Next used-ring position to fill (free-running 16-bit). */
  #nextUsed = 0;
  /** used.idx as of the last notification decision. */
  #signalledUsed = 0;
  /** The descriptor just read by #read (fields, so a walk allocates nothing per step). */
  #dAddr = 0;
  #dLen = 0;
  #dFlags = 0;
  #dNext = 0;
  /** The descriptor table as u32 words in its region's chunk-0 view (null: read through `mem`). */
  #dv: Uint32Array | null = null;
  /** Index of the table's first word in #dv. */
  #dBase = 0;
  /** The first word's index in the view #wordView returned last. */
  #vBase = 0;
  /** The region the last buffer lay in: most buffers lie in it again, checked without a lookup. */
  #ram: Span | null = null;

  /**
   * Checks the configuration (VirtioError ERR_VIRTIO_QUEUE) and reads nothing else yet. With
   * `state` (what {@link SplitQueue.state} gave), the queue resumes at those ring positions, as
   * after a snapshot restore or a migration; without it, it starts at 0 as after a reset.
   * @example const q = new SplitQueue(mem, { size: 256, desc, avail, used });
   */
  constructor(mem: GuestMemoryMmap, config: SplitQueueConfig, state?: SplitQueueState) {
    const { size, desc, avail, used } = config;
    if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0)
      throw new VirtioError('ERR_VIRTIO_QUEUE', `queue size ${size} is not a power of two from 1 to 32768`);
    const check = (what: string, addr: number, align: number, bytes: number): void => {
      if (!Number.isSafeInteger(addr) || addr < 0 || addr % align !== 0)
        throw new VirtioError('ERR_VIRTIO_QUEUE', `${what} at ${addr} is not ${align}-byte aligned`);
      if (!mem.checkRange(addr, bytes))
        throw new VirtioError('ERR_VIRTIO_QUEUE', `${what} [0x${addr.toString(16)}, +${bytes}) is not in guest RAM`);
    };
    check('descriptor table', desc, 16, 16 * size);
    check('available ring', avail, 2, 6 + 2 * size);
    check('used ring', used, 4, 6 + 8 * size);
    this.size = size;
    this.#mem = mem;
    this.#desc = desc;
    this.#avail = avail;
    this.#used = used;
    this.#eventIdx = config.eventIdx === true;
    this.#dv = this.#wordView(desc, 16 * size);
    this.#dBase = this.#vBase;
    if (state !== undefined) {
      if (state === null || typeof state !== 'object') throw typeError('state', 'a SplitQueueState object', state);
      const pos = (name: 'nextAvail' | 'nextUsed' | 'signalledUsed', fallback?: number): number => {
        const v = state[name] ?? fallback;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff)
          throw rangeError(`state.${name}`, 'an integer from 0 to 65535', v);
        return v;
      };
      this.#nextAvail = pos('nextAvail');
      this.#nextUsed = pos('nextUsed');
      this.#signalledUsed = pos('signalledUsed', this.#nextUsed);
    }
  }

  /** Chains the driver has made available and this queue has not popped yet. Throws ERR_VIRTIO_RING. */
  pending(): number {
    const idx = HOST_LE ? this.#mem.ld16u(this.#avail + 2) : this.#mem.load(le16, this.#avail + 2);
    const n = (idx - this.#nextAvail) & 0xffff;
    if (n > this.size)
      throw new VirtioError('ERR_VIRTIO_RING', `available index ${idx} is ${n} ahead of ${this.#nextAvail}`);
    return n;
  }

  /**
   * The next available chain, or null when there is none. Throws VirtioError for a bad chain
   * (it is consumed). A chain is validated whole before anything is collected: a bad chain
   * costs at most `size` descriptor reads (65536 in an indirect table) and no memory.
   */
  pop(): DescriptorChain | null {
    if (this.pending() === 0) return null;
    const slot = this.#nextAvail % this.size;
    this.#nextAvail = (this.#nextAvail + 1) & 0xffff;
    const ring = this.#avail + 4 + 2 * slot;
    const head = HOST_LE ? this.#mem.ld16u(ring) : this.#mem.load(le16, ring);
    if (this.#eventIdx) this.#mem.store(le16, this.#nextAvail, this.#used + 4 + 8 * this.size); // avail_event
    const n = this.#walk(head);
    const descriptors: Descriptor[] = new Array<Descriptor>(n);
    for (let k = 0; k < n; k++)
      descriptors[k] = { addr: scratchAddr[k]!, len: scratchLen[k]!, write: scratchWrite[k] === 1 };
    return { head, descriptors };
  }

  /**
   * Reads descriptor `i` of a table into the #d fields: from `view` (the table's words, at word
   * `base`) when there is one, else through `mem` at `table` (any alignment: indirect tables
   * need none).
   */
  #read(view: Uint32Array | null, base: number, table: number, i: number): void {
    let lo: number;
    let hi: number;
    if (view !== null) {
      // plain reads of a table the driver may be rewriting: any value is checked like any other
      const k = base + 4 * i;
      lo = view[k]!;
      hi = view[k + 1]!;
      this.#dLen = view[k + 2]!;
      const w = view[k + 3]!;
      this.#dFlags = w & 0xffff;
      this.#dNext = w >>> 16;
    } else {
      const mem = this.#mem;
      const at = table + 16 * i;
      // ld32u/ld16u (native order) on little-endian hosts, virtio's order, for an aligned entry
      const fast = HOST_LE && (at & 3) === 0;
      lo = fast ? mem.ld32u(at) : mem.readObj(le32, at);
      hi = fast ? mem.ld32u(at + 4) : mem.readObj(le32, at + 4);
      this.#dLen = fast ? mem.ld32u(at + 8) : mem.readObj(le32, at + 8);
      this.#dFlags = fast ? mem.ld16u(at + 12) : mem.readObj(le16, at + 12);
      this.#dNext = fast ? mem.ld16u(at + 14) : mem.readObj(le16, at + 14);
    }
    if (hi > 0x1fffff)
      throw new VirtioError(
        'ERR_VIRTIO_ADDRESS',
        `descriptor ${i} address 0x${(BigInt(hi) * 2n ** 32n + BigInt(lo)).toString(16)} is outside guest memory`,
      );
    this.#dAddr = hi * 2 ** 32 + lo;
  }

  /**
   * The u32 words of [addr, addr + bytes) as their region's chunk-0 view, the first word's index
   * in #vBase, when they lie word-aligned in one readable region on a little-endian host
   * (virtio's order); null otherwise (the accessors read them then).
   */
  #wordView(addr: number, bytes: number): Uint32Array | null {
    this.#vBase = 0;
    // views of the library's own maps only: anything else (a test double) is read through its methods
    if (!HOST_LE || !(this.#mem instanceof GuestMemoryMmap)) return null;
    const region = this.#mem.lookup(addr);
    if (region === undefined) return null;
    const r = spanOf(region);
    const off = addr - r.startAddr;
    if ((r.base + off) % 4 !== 0 || bytes > r.rEnd - off) return null;
    this.#vBase = (r.base + off) / 4;
    return r.u32;
  }

  /** Whether [addr, addr + len) is guest RAM (len > 0): the last buffer's region first, then the map. */
  #inRam(addr: number, len: number): boolean {
    const r = this.#ram;
    if (r !== null && addr >= r.startAddr && len <= r.startAddr + r.len - addr) return true;
    const mem = this.#mem;
    if (!mem.checkRange(addr, len)) return false;
    const region = mem instanceof GuestMemoryMmap ? mem.lookup(addr) : undefined;
    this.#ram = region === undefined ? null : spanOf(region);
    return true;
  }

  /**
   * Walks the chain at `head` once, checking every rule in bounded steps, into this thread's
   * scratch arrays; returns how many buffers it has. Each field is read once, so a driver
   * rewriting the chain meanwhile gets a chain that is checked as a whole all the same; a bad
   * chain is refused before any object is made.
   */
  #walk(head: number): number {
    if (head >= this.size) throw new VirtioError('ERR_VIRTIO_CHAIN', `head index ${head} >= queue size ${this.size}`);
    let table = this.#desc;
    let view = this.#dv;
    let base = this.#dBase;
    let count = this.size;
    let i = head;
    let indirect = false;
    let total = 0;
    let n = 0;
    for (let steps = 0; ; steps++) {
      // A chain visits each descriptor of its table at most once, so more steps than the
      // table has entries is a loop.
      if (steps >= count)
        throw new VirtioError('ERR_VIRTIO_CHAIN', `chain at ${head} is longer than ${count} descriptors (a loop?)`);
      this.#read(view, base, table, i);
      const flags = this.#dFlags;
      const addr = this.#dAddr;
      const len = this.#dLen;
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (indirect) throw new VirtioError('ERR_VIRTIO_CHAIN', 'an indirect table inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtioError('ERR_VIRTIO_CHAIN', 'an indirect descriptor with NEXT');
        if (len === 0 || len % 16 !== 0)
          throw new VirtioError('ERR_VIRTIO_CHAIN', `indirect table length ${len} is not a non-zero multiple of 16`);
        if (len / 16 > MAX_INDIRECT)
          throw new VirtioError(
            'ERR_VIRTIO_CHAIN',
            `indirect table of ${len / 16} descriptors is longer than ${MAX_INDIRECT}`,
          );
        if (!this.#inRam(addr, len))
          throw new VirtioError(
            'ERR_VIRTIO_ADDRESS',
            `indirect table [0x${addr.toString(16)}, +${len}) is not in guest RAM`,
          );
        indirect = true;
        table = addr;
        view = this.#wordView(addr, len);
        base = this.#vBase;
        count = len / 16;
        i = 0;
        steps = -1;
        continue;
      }
      if (len > 0 && !this.#inRam(addr, len))
        throw new VirtioError('ERR_VIRTIO_ADDRESS', `buffer [0x${addr.toString(16)}, +${len}) is not in guest RAM`);
      total += len;
      if (total > 0xffffffff)
        throw new VirtioError('ERR_VIRTIO_CHAIN', `chain at ${head} holds more than 2^32-1 bytes`);
      if (n === scratchLen.length) growScratch();
      scratchAddr[n] = addr;
      scratchLen[n] = len;
      scratchWrite[n] = flags & VIRTQ_DESC_F_WRITE ? 1 : 0;
      n++;
      if (!(flags & VIRTQ_DESC_F_NEXT)) return n;
      const next = this.#dNext;
      if (next >= count) throw new VirtioError('ERR_VIRTIO_CHAIN', `next index ${next} >= ${count}`);
      i = next;
    }
  }

  /**
   * Returns chain `head` to the driver with `len` bytes written into its buffers. `len` is an
   * integer from 0 to 2^32-1 (a RangeError, nothing written, otherwise).
   */
  addUsed(head: number, len: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.size)
      throw new VirtioError('ERR_VIRTIO_CHAIN', `head index ${head} >= queue size ${this.size}`);
    if (typeof len !== 'number') throw typeError('len', 'a number', len);
    if (!Number.isInteger(len) || len < 0 || len > 0xffffffff)
      throw rangeError('len', 'an integer from 0 to 2^32-1', len);
    const slot = this.#nextUsed % this.size;
    const elem = this.#used + 4 + 8 * slot;
    const mem = this.#mem;
    this.#nextUsed = (this.#nextUsed + 1) & 0xffff;
    if (HOST_LE) {
      mem.writeUnordered(u32, head, elem);
      mem.writeUnordered(u32, len, elem + 4);
      mem.st16(this.#used + 2, this.#nextUsed); // publishes the element (an atomic store)
    } else {
      mem.store(le32, head, elem);
      mem.store(le32, len, elem + 4);
      mem.store(le16, this.#nextUsed, this.#used + 2);
    }
  }

  /**
   * Whether the driver asked to be notified of the used entries added since the last call
   * (VIRTQ_AVAIL_F_NO_INTERRUPT, or with event indexes, whether used_event was crossed).
   */
  needsNotification(): boolean {
    const used = this.#nextUsed;
    const old = this.#signalledUsed;
    this.#signalledUsed = used;
    if (!this.#eventIdx) return (this.#mem.load(le16, this.#avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const event = this.#mem.load(le16, this.#avail + 4 + 2 * this.size);
    // virtio's vring_need_event: event in [old, used) modulo 2^16
    return ((used - event - 1) & 0xffff) < ((used - old) & 0xffff);
  }

  /** Tells the driver whether to notify (kick) the device when it adds buffers. */
  setNotification(enabled: boolean): void {
    if (this.#eventIdx) {
      if (enabled) this.#mem.store(le16, this.#nextAvail, this.#used + 4 + 8 * this.size);
      return;
    }
    this.#mem.store(le16, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY, this.#used);
  }

  /**
   * The ring positions (free-running 16-bit): plain data to save with the device and hand back
   * to the constructor to resume the queue where it stopped.
   */
  get state(): SplitQueueState {
    return { nextAvail: this.#nextAvail, nextUsed: this.#nextUsed, signalledUsed: this.#signalledUsed };
  }
}

// One walk's buffers, before they become Descriptor objects: shared by the queues of a thread
// (a walk runs to its end synchronously), grown by doubling up to the longest possible chain
// (a full table then a full indirect table) and never shrunk.
let scratchAddr = new Float64Array(64);
let scratchLen = new Uint32Array(64);
let scratchWrite = new Uint8Array(64);

function growScratch(): void {
  const n = scratchLen.length * 2;
  const a = new Float64Array(n);
  const l = new Uint32Array(n);
  const w = new Uint8Array(n);
  a.set(scratchAddr);
  l.set(scratchLen);
  w.set(scratchWrite);
  scratchAddr = a;
  scratchLen = l;
  scratchWrite = w;
}
