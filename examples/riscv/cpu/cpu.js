// One RV64GC hart (IMAFDC, Zicsr, Zifencei; M, S and U modes; Sv39) as an interpreter over guestmem.
//
// Registers: an Int32Array of 64 words (x[2r] low, x[2r+1] high half of register r), kept in the
// vCPU's state block so the main thread can read them while the pool is paused. The pc is a
// double holding the signed 64-bit value (exact: every address Sv39 or this platform allows
// is below 2^53 in magnitude).
//
// Memory: a software TLB (separate read, write and execute entries, direct mapped) maps a
// virtual page to a byte offset in guest RAM's typed-array views; pages that are devices are
// never cached and go through the DeviceBus. A hit costs a tag compare and a typed-array access.
// Where the views come from is the memory path under test: the library's TranslationCache
// ('tcache', the default), hand-made views over the region's buffer ('raw'), or no views at all
// with every access through the checked register accessors ('checked').
import { TranslationCache } from 'guestmem';

import {
  BREAKPOINT,
  CSR,
  ECALL_U,
  FETCH_ACCESS,
  ILLEGAL,
  M,
  MIE,
  MISALIGNED_STORE,
  MPIE,
  MPP_SHIFT,
  MPRV,
  S,
  SIE,
  SPIE,
  SPP,
  TSR,
  TVM,
  TW,
  TWO32,
  Trap,
  U,
  toDouble,
} from './constants.js';
import { csrExists, csrRead, csrWrite } from './csr.js';
import { checkInterrupts, trap } from './trap.js';
import { EXPANDED } from './compressed.js';
import { fpFused, fpLoadStore, fpOp } from './fpu.js';
import { TLB_MASK, accessFault, fill, tlbSet, translate } from './mmu.js';
import { amo, breakReservations } from './amo.js';
import { bigU, mulDiv, mulDivW } from './alu.js';
/** Blocks (run() calls) between two flushes of the dirty-tracking cache (a power of two). */
const DIRTY_SYNC_BLOCKS = 256;
/** Fields that hold doubles (addresses and counts past 2^31, values from BigInt halves). */
const DOUBLE_FIELDS = ['pc', 'instret', 'fetchPa', 'resAddr', 'resLo', 'resHi'];
/** Fields written after construction, other than the doubles and the TLB's (see settleShape). */
const MUTABLE_FIELDS = ['priv', 'fetchPage', 'resSize', 'blockN', 'spins', 'dirtyBlocks', 'wfi'];

/**
 * Gives a new Cpu's fields the kind their later values have. V8 starts a field as constant,
 * with the representation of its first value (a small integer, say); the first write of
 * another value, or of a double into an integer field, changes the object's hidden class, and
 * every optimized function that relied on the old one (run() among them) is thrown away and
 * runs unoptimized until it is compiled again (tens of milliseconds, each time). A Linux boot
 * used to pay that a dozen times; writing each field once more here pays it before run() is
 * ever compiled.
 * @param {Cpu} cpu
 */
function settleShape(cpu) {
  const c = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (cpu));
  for (const k of DOUBLE_FIELDS) {
    const v = c[k];
    c[k] = 0.5;
    c[k] = v;
  }
  for (const k of MUTABLE_FIELDS) {
    const v = c[k];
    c[k] = typeof v === 'boolean' ? !v : /** @type {number} */ (v) + 1;
    c[k] = v;
  }
  const st = /** @type {Record<string, number>} */ (cpu.stats);
  for (const k of Object.keys(st)) {
    st[k] += 1;
    st[k] -= 1;
  }
  // the TLB fields: another mode's set, then back
  const t = cpu.tlb;
  cpu.useTlb(cpu.tlbSets[t === cpu.tlbSets[U] ? S : U]);
  cpu.useTlb(t);
}

export class Cpu {
  /**
   * @param {object} o
   * @param {number} o.hartid
   * @param {Int32Array} o.regs  64 words of registers (the state block)
   * @param {import('guestmem').GuestMemoryMmap} o.phys  guest memory with the device bus behind it
   * @param {{ base: number, size: number }} o.ram
   * @param {'tcache'|'raw'|'checked'} [o.path]
   * @param {boolean} [o.fpu]  whether the hart has F and D (default true)
   * @param {boolean} [o.atomic64]  aligned ld/sd as single 8-byte accesses (default true; false
   *   is enough when no other hart runs)
   * @param {object} o.platform  interrupt sources: { mip(cpu): number, sleep(cpu), now() }
   * @param {Int32Array} [o.reservations]  LR/SC reservations shared by every hart: [count of
   *   harts holding one, then per hart its 8-byte granule (RAM offset / 8) or -1]
   */
  constructor(o) {
    this.hartid = o.hartid;
    this.x = o.regs;
    this.phys = o.phys;
    this.platform = o.platform;
    this.ramBase = o.ram.base;
    this.ramSize = o.ram.size;
    this.path = o.path ?? 'tcache';
    if (this.path === 'tcache') {
      const t = new TranslationCache(o.phys).lookup(o.ram.base, true);
      if (t === null || t.start !== o.ram.base) throw new Error('RAM is not one writable run');
      this.ram8 = t.u8.subarray(o.ram.base + t.offset, o.ram.base + t.offset + o.ram.size);
    } else {
      const buf = o.phys.findRegion(o.ram.base).mapping.buffer; // 'raw' (and unused by 'checked')
      this.ram8 = new Uint8Array(buf, 0, o.ram.size);
    }
    const b = this.ram8.buffer,
      off = this.ram8.byteOffset;
    this.rami8 = new Int8Array(b, off, o.ram.size);
    this.ram16 = new Uint16Array(b, off, o.ram.size >>> 1);
    this.rami16 = new Int16Array(b, off, o.ram.size >>> 1);
    this.ram32 = new Int32Array(b, off, o.ram.size >>> 2);
    // 8-byte views: an aligned ld/sd is one 8-byte access (a Float64Array element, whose bits
    // V8 moves unchanged, NaNs included), so no hart ever sees half of another's 64-bit store;
    // the 64-bit AMOs are BigInt64Array Atomics on the same words
    this.ramf64 = new Float64Array(b, off, o.ram.size >>> 3);
    this.ram64 = new BigInt64Array(b, off, o.ram.size >>> 3);
    // Only another hart can see the difference (a device thread touches RAM while this hart
    // waits for it in an exit): a machine of one hart (o.atomic64 false) keeps two word
    // accesses in the hot path, which are cheaper
    this.atomic64 = o.atomic64 ?? true;
    /** A scratch double and its two words: an 8-byte access in and out of (lo, hi). */
    this.s64 = new Float64Array(new SharedArrayBuffer(8)); // (shared: never detached, cheaper checks)
    this.s32 = new Int32Array(this.s64.buffer);
    this.useViews = this.path !== 'checked';
    // RAM that tracks dirty pages (a machine that may migrate live): the views bypass the
    // tracking, so each page is marked through a TranslationCache when a write TLB entry for
    // it is filled or a slow-path store lands; syncDirty() at block ends and publishDirty()
    // before the hart parks keep every write in the collections (the cache's protocol).
    this.dirty = o.phys.findRegion(o.ram.base)?.mapping.bitmap ? new TranslationCache(o.phys) : null;
    this.dirtyBlocks = 0;
    this.pc = 0;
    this.priv = M;
    this.csr = new Int32Array(4096 * 2); // lo/hi per CSR
    // One TLB per privilege mode (U, S, M), so a trap or a return between modes keeps both
    // sides' translations; satp, sfence.vma and the translation bits of mstatus flush all three.
    this.tlbSets = [tlbSet(), tlbSet(), null, tlbSet()];
    this.useTlb(this.tlbSets[M]);
    this.tmp = new Int32Array(2);
    this.instret = 0; // instructions retired (double)
    // LR/SC: the reserved granule is published in `resv` (so other harts' stores can break it);
    // the value lr read is kept for sc's compare-and-swap.
    this.resv = o.reservations ?? new Int32Array(2 + o.hartid).fill(-1, 1);
    if (o.reservations) Atomics.store(this.resv, 1 + this.hartid, -1);
    this.resSlot = 1 + this.hartid;
    this.resAddr = 0;
    this.resLo = 0;
    this.resHi = 0;
    this.resSize = 0;
    this.wfi = false;
    this.blockN = 0; // instructions of the current run() not yet added to instret
    this.spins = 0; // pure load-spin iterations in the last run() (see run)
    this.pmp = new Int32Array(2 * 64); // pmpcfg0..15 / pmpaddr0..63 (lo/hi), WARL storage
    this.stats = { traps: 0, interrupts: 0, exceptions: 0, wfi: 0, mmio: 0, tlbMiss: 0 };
    this.fetchPage = -1; // the virtual page run() fetches from (-1: refill at the next fetch)
    this.fetchPa = 0; // its guest-physical address
    // F and D, unless the machine leaves them out (o.fpu false: misa without them, FS read-only 0)
    this.fpu = o.fpu ?? true;
    // misa: RV64 (MXL=2 in bits 63:62), extensions A, C, (D, F,) I, M, S, U
    this.setCsr(
      CSR.misa,
      (1 << 0) | (1 << 2) | (this.fpu ? (1 << 3) | (1 << 5) : 0) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20),
      0x80000000 | 0,
    );
    /** f0-f31, 64 bits each (low and high halves); single values NaN-boxed. */
    this.f = new Int32Array(64);
    this.setCsr(CSR.mstatus, 0, 0xa); // UXL = SXL = 2
    this.setCsr(CSR.mhartid, this.hartid, 0);
    settleShape(this);
  }

  // ---- CSR storage ----
  getLo(n) {
    return this.csr[2 * n];
  }
  getHi(n) {
    return this.csr[2 * n + 1];
  }
  setCsr(n, lo, hi) {
    this.csr[2 * n] = lo;
    this.csr[2 * n + 1] = hi;
  }

  /**
   * The hart's architectural state as plain data (a machine snapshot's record): pc, privilege,
   * the registers, every CSR, PMP, instructions retired and whether it sits in WFI. TLBs and
   * LR/SC reservations are not state: a restored hart refills the one and has lost the other.
   */
  saveState() {
    return {
      pc: this.pc,
      priv: this.priv,
      instret: this.instret,
      wfi: this.wfi,
      x: Int32Array.from(this.x),
      f: Int32Array.from(this.f),
      csr: Int32Array.from(this.csr),
      pmp: Int32Array.from(this.pmp),
    };
  }

  /** Takes the state saveState gave (of this hart, in this or another process). */
  loadState(s) {
    if (s.x.length !== this.x.length || s.csr.length !== this.csr.length || s.pmp.length !== this.pmp.length)
      throw new Error(`hart ${this.hartid}: a saved state of another shape`);
    this.pc = s.pc;
    this.priv = s.priv;
    this.instret = s.instret;
    this.wfi = s.wfi;
    this.x.set(s.x);
    if (s.f !== undefined) this.f.set(s.f);
    this.csr.set(s.csr);
    this.pmp.set(s.pmp);
    this.resAddr = 0;
    Atomics.store(this.resv, this.resSlot, -1);
    this.useTlb(this.tlbSets[this.priv]);
    this.flushTlb();
    this.fetchPage = -1;
  }

  flushTlb() {
    for (const t of this.tlbSets) {
      if (t === null) continue;
      t.R.fill(-1);
      t.W.fill(-1);
      t.X.fill(-1);
    }
  }

  /** Makes `t` the TLB the accessors use (run() reloads its locals after exec and traps). */
  useTlb(t) {
    this.tlb = t;
    this.tlbR = t.R;
    this.tlbW = t.W;
    this.tlbX = t.X;
    this.tlbRo = t.Ro;
    this.tlbWo = t.Wo;
    this.tlbXo = t.Xo;
    // the high word of each entry's virtual address (kernel stacks sit at the top of Sv39)
    this.tlbRh = t.Rh;
    this.tlbWh = t.Wh;
    this.tlbXh = t.Xh;
  }

  // ---- address translation ----

  /** Effective privilege for data accesses (MPRV). */
  dataPriv() {
    const ms = this.getLo(CSR.mstatus);
    return this.priv === M && ms & MPRV ? (ms >>> MPP_SHIFT) & 3 : this.priv;
  }

  // ---- physical accesses (slow path) ----

  physLoad(pa, size, access) {
    const o = pa - this.ramBase;
    if (o >= 0 && o + size <= this.ramSize) {
      if (!this.useViews) return this.checkedLoad(pa, size);
      if ((o & (size - 1)) === 0) {
        if (size === 4) return this.ram32[o >>> 2];
        if (size === 2) return this.ram16[o >>> 1];
        return this.ram8[o];
      }
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.ram8[o + i];
      return v;
    }
    if (o >= 0 && o < this.ramSize) throw accessFault(this, access, pa);
    this.stats.mmio++;
    try {
      return this.phys.bus.read(pa, size);
    } catch {
      throw accessFault(this, access, pa);
    }
  }

  checkedLoad(pa, size) {
    return size === 4 ? this.phys.ld32s(pa) : size === 2 ? this.phys.ld16u(pa) : this.phys.ld8u(pa);
  }

  physStore(pa, size, lo, hi) {
    const o = pa - this.ramBase;
    if (o >= 0 && o + size <= this.ramSize) {
      if (size === 8) {
        if (this.useViews && (o & 7) === 0) {
          this.s32[0] = lo;
          this.s32[1] = hi;
          this.ramf64[o >>> 3] = this.s64[0];
          if (this.resv[0] !== 0) breakReservations(this, o);
          if (this.dirty !== null) this.dirty.lookup(pa, true);
          return;
        }
        this.physStore(pa, 4, lo, 0);
        this.physStore(pa + 4, 4, hi, 0);
        return;
      }
      if (!this.useViews) {
        if (size === 4) this.phys.st32(pa, lo);
        else if (size === 2) this.phys.st16(pa, lo);
        else this.phys.st8(pa, lo);
      } else if ((o & (size - 1)) === 0) {
        if (size === 4) this.ram32[o >>> 2] = lo;
        else if (size === 2) this.ram16[o >>> 1] = lo;
        else this.ram8[o] = lo;
      } else {
        for (let i = 0; i < size; i++) this.ram8[o + i] = lo >>> (8 * i);
      }
      if (this.resv[0] !== 0) breakReservations(this, o);
      if (this.dirty !== null && this.useViews) this.dirty.lookup(pa, true);
      return;
    }
    if (o >= 0 && o < this.ramSize) throw accessFault(this, 1, pa);
    this.stats.mmio++;
    try {
      if (size === 8) this.phys.bus.write64(pa, bigU(lo, hi));
      else this.phys.bus.write(pa, size, size === 4 ? lo >>> 0 : lo & (size === 2 ? 0xffff : 0xff));
    } catch {
      throw accessFault(this, 1, pa);
    }
  }

  /**
   * The page walker's A/D update of the PTE's low word at physical `pa`: a compare-and-swap
   * from `expected` to `value` in RAM (false if the PTE changed meanwhile); a PTE outside RAM,
   * or on the checked path, is a plain store.
   */
  casPte(pa, expected, value) {
    const o = pa - this.ramBase;
    if (!this.useViews || !(o >= 0 && o + 4 <= this.ramSize)) {
      this.physStore(pa, 4, value, 0);
      return true;
    }
    if (Atomics.compareExchange(this.ram32, o >>> 2, expected | 0, value | 0) !== (expected | 0)) return false;
    if (this.resv[0] !== 0) breakReservations(this, o);
    if (this.dirty !== null) this.dirty.lookup(pa, true);
    return true;
  }

  /**
   * At a block end, with dirty tracking: when a collection has reset pages since the last call,
   * marks the pages written through the write TLBs again and empties them, so the next store
   * to each page marks it anew. Every DIRTY_SYNC_BLOCKS blocks it empties them anyway: what a
   * reset has to mark again is then only what was written since, not every page since boot.
   */
  syncDirty() {
    if (this.dirty === null) return;
    if (this.dirty.valid() && (++this.dirtyBlocks & (DIRTY_SYNC_BLOCKS - 1)) !== 0) return;
    this.dirty.flush();
    for (const t of this.tlbSets) if (t !== null) t.W.fill(-1);
  }

  /** Before the hart parks: every page written so far is in the dirty bitmaps. */
  publishDirty() {
    if (this.dirty !== null) this.dirty.publishDirty();
  }

  /** A load of `size` bytes at virtual (lo, hi), slow path: returns lo; 8-byte loads set tmp[1]. */
  loadSlow(lo, hi, size, signed) {
    const pa = translate(this, lo, hi, 0);
    fill(this, lo, hi, 0, pa);
    if (size === 8) {
      const o = pa - this.ramBase;
      if (o >= 0 && o + 8 <= this.ramSize) {
        if (this.useViews && (o & 7) === 0) {
          this.s64[0] = this.ramf64[o >>> 3];
          this.tmp[0] = this.s32[0];
          this.tmp[1] = this.s32[1];
          return this.tmp[0];
        }
        this.tmp[0] = this.physLoad(pa, 4, 0);
        this.tmp[1] = this.physLoad(pa + 4, 4, 0);
        return this.tmp[0];
      }
      if (o >= 0 && o < this.ramSize) throw accessFault(this, 0, pa);
      this.stats.mmio++;
      let v;
      try {
        v = this.phys.bus.read64(pa);
      } catch {
        throw accessFault(this, 0, pa);
      }
      this.tmp[0] = Number(v & 0xffffffffn) | 0;
      this.tmp[1] = Number(v >> 32n) | 0;
      return this.tmp[0];
    }
    // a page-crossing misaligned access: bytes one by one
    if ((lo & 0xfff) + size > 4096) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.loadSlow((lo + i) | 0, hi, 1, false);
      return signed ? (size === 2 ? (v << 16) >> 16 : v) : size === 2 ? v & 0xffff : v;
    }
    const v = this.physLoad(pa, size, 0);
    if (size === 4) return v | 0;
    if (size === 2) return signed ? (v << 16) >> 16 : v & 0xffff;
    return signed ? (v << 24) >> 24 : v & 0xff;
  }

  storeSlow(lo, hi, size, vlo, vhi) {
    if ((lo & 0xfff) + size > 4096) {
      for (let i = 0; i < size; i++) {
        const byte = i < 4 ? vlo >>> (8 * i) : vhi >>> (8 * (i - 4));
        this.storeSlow((lo + i) | 0, hi + ((lo >>> 0) + i >= TWO32 ? 1 : 0), 1, byte & 0xff, 0);
      }
      return;
    }
    const pa = translate(this, lo, hi, 1);
    fill(this, lo, hi, 1, pa);
    this.physStore(pa, size, vlo, vhi);
  }

  /** The RAM byte offset of an lr at virtual (lo, hi) (aligned; a read: through the read TLB). */
  lrTarget(lo, hi, size) {
    const vpn = lo >>> 12;
    const e = vpn & TLB_MASK;
    if (this.tlbR[e] === vpn && this.tlbRh[e] === hi) return this.tlbRo[e] + (lo & 0xfff);
    const pa = translate(this, lo, hi, 0);
    fill(this, lo, hi, 0, pa);
    const o = pa - this.ramBase;
    if (!(o >= 0 && o + size <= this.ramSize)) throw accessFault(this, 0, pa);
    return o;
  }

  /** The RAM byte offset of an aligned atomic access at virtual (lo, hi) (a store: page must be writable). */
  amoTarget(lo, hi, size) {
    if ((lo & (size - 1)) !== 0) throw new Trap(MISALIGNED_STORE, toDouble(lo, hi));
    const vpn = lo >>> 12;
    const e = vpn & TLB_MASK;
    if (this.tlbW[e] === vpn && this.tlbWh[e] === hi) return this.tlbWo[e] + (lo & 0xfff);
    const pa = translate(this, lo, hi, 1);
    fill(this, lo, hi, 1, pa);
    const o = pa - this.ramBase;
    if (!(o >= 0 && o + size <= this.ramSize)) throw accessFault(this, 1, pa);
    return o;
  }

  // ---- traps ----

  setPriv(p) {
    if (p !== this.priv) {
      this.priv = p;
      this.useTlb(this.tlbSets[p]);
    }
    this.fetchPage = -1;
  }

  /** mip as seen now: software bits plus the platform's lines. */
  mip() {
    return this.getLo(CSR.mip) | this.platform.lines(this);
  }

  // ---- CSR access ----

  /** Sleeps in WFI until an interrupt is pending (or the platform wakes it for another reason). */
  waitForInterrupt() {
    this.stats.wfi++;
    this.platform.sleep(this);
  }

  /**
   * Runs up to `budget` instructions; returns early after a WFI sleep. Interrupts are checked
   * on entry. All hot state lives in locals; the pc is written back on every exit.
   *
   * Afterwards `spins` counts the iterations of pure load-spin loops the block ran: taken
   * backward branches of at most 32 bytes with no store, AMO, LR/SC, CSR access or other
   * system instruction since the previous taken branch (`while (flag == 0) ;`). The hart loop
   * uses it as hardware uses pause-loop exiting: a hart that only spins gives its host core
   * to the others for a moment (see hart.js).
   */
  run(budget) {
    checkInterrupts(this);
    const x = this.x;
    const atomic64 = this.atomic64;
    const ram32 = this.ram32,
      ramf64 = this.ramf64,
      s64 = this.s64,
      s32 = this.s32,
      ram16 = this.ram16,
      rami16 = this.rami16,
      ram8 = this.ram8,
      rami8 = this.rami8;
    const resv = this.resv;
    // the current privilege's TLB, reloaded after anything that may change the privilege
    let { R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb;
    // The pc is fpage + d: fpage the virtual page (a double) and d the byte offset in it (an
    // int), so sequential execution and branches inside the page are integer arithmetic. dlim
    // is 4096 while fbase (the page's RAM byte offset) is valid (-4096 on the checked path,
    // which fetches through the accessors), 0 to make the next fetch refill (after an absolute
    // jump, fpage holds the whole target and d is 0).
    let fpage = this.pc;
    let d = 0;
    let dlim = 0;
    let n = 0;
    let fbase = 0;
    // Spin detection (see `spins`): taken short backward branches with no store, AMO or
    // system instruction since the previous taken branch.
    let spins = 0;
    let stored = false;
    const useViews = this.useViews;
    this.fetchPage = -1;
    const tmp = this.tmp;
    const end = budget;
    const expanded = EXPANDED;
    while (n < end) {
      try {
        for (; n < end; n++) {
          // ---- fetch: a 32-bit instruction or a 16-bit parcel (C), at any 2-byte offset ----
          let insn;
          fetch: {
            if (!(d >= 0 && d < dlim)) {
              // the 'checked' path keeps its page valid as a negative dlim, so the hot fetch
              // below never tests which path it is on
              if (d >= 0 && d < -dlim) {
                insn = this.fetchChecked(fpage, d);
                break fetch;
              }
              const pc = fpage + d;
              this.pc = fpage + d;
              const r = this.fetchRefill(pc);
              if (r === -1) {
                // an instruction from a device region: fetch it through the slow path
                const word = this.fetchSlow(pc);
                fpage = (word & 3) === 3 ? this.exec(word, pc, 4) : this.exec(EXPANDED[word], pc, 2);
                d = 0;
                dlim = 0;
                ({ R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb);
                continue;
              }
              fpage = Math.floor(pc / 4096) * 4096;
              fbase = r;
              d = (pc - fpage) | 0;
              if (!useViews) {
                dlim = -4096;
                insn = this.fetchChecked(fpage, d);
                break fetch;
              }
              dlim = 4096;
            }
            const a = fbase + d;
            if ((d & 2) === 0) insn = ram32[a >>> 2];
            else if (d !== 4094) insn = ram16[a >>> 1] | (ram16[(a >>> 1) + 1] << 16);
            else {
              insn = ram16[a >>> 1];
              if ((insn & 3) === 3) insn = this.fetchCross(fpage + d, insn);
            }
          }
          let ilen = 4;
          if ((insn & 3) !== 3) {
            const h = insn & 0xffff;
            insn = expanded[h];
            ilen = 2;
            if (insn === 0) throw new Trap(ILLEGAL, h);
          }
          const rd = (insn >>> 7) & 31,
            rs1 = (insn >>> 15) & 31,
            rs2 = (insn >>> 20) & 31;
          switch (insn & 0x7f) {
            case 0x13: {
              // OP-IMM
              const imm = insn >> 20;
              const alo = x[2 * rs1],
                ahi = x[2 * rs1 + 1];
              let lo, hi;
              switch ((insn >>> 12) & 7) {
                case 0: // addi
                  lo = (alo + imm) | 0;
                  hi = (ahi + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
                  break;
                case 1: {
                  // slli
                  if (insn >>> 26 !== 0) throw new Trap(ILLEGAL, insn >>> 0);
                  const sh = (insn >>> 20) & 63;
                  if (sh === 0) {
                    lo = alo;
                    hi = ahi;
                  } else if (sh < 32) {
                    hi = (ahi << sh) | (alo >>> (32 - sh));
                    lo = alo << sh;
                  } else {
                    hi = alo << (sh - 32);
                    lo = 0;
                  }
                  break;
                }
                case 2: // slti
                  lo = ahi < imm >> 31 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
                  hi = 0;
                  break;
                case 3: // sltiu
                  lo = ahi >>> 0 < (imm >> 31) >>> 0 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
                  hi = 0;
                  break;
                case 4:
                  lo = alo ^ imm;
                  hi = ahi ^ (imm >> 31);
                  break;
                case 5: {
                  const f = insn >>> 26;
                  if (f !== 0 && f !== 0x10) throw new Trap(ILLEGAL, insn >>> 0);
                  const sh = (insn >>> 20) & 63;
                  if (sh === 0) {
                    lo = alo;
                    hi = ahi;
                  } else if (f === 0) {
                    // srli
                    if (sh < 32) {
                      lo = (alo >>> sh) | (ahi << (32 - sh));
                      hi = ahi >>> sh;
                    } else {
                      lo = ahi >>> (sh - 32);
                      hi = 0;
                    }
                  } else if (sh < 32) {
                    // srai
                    lo = (alo >>> sh) | (ahi << (32 - sh));
                    hi = ahi >> sh;
                  } else {
                    lo = ahi >> (sh - 32);
                    hi = ahi >> 31;
                  }
                  break;
                }
                case 6:
                  lo = alo | imm;
                  hi = ahi | (imm >> 31);
                  break;
                default:
                  lo = alo & imm;
                  hi = ahi & (imm >> 31);
              }
              if (rd !== 0) {
                x[2 * rd] = lo;
                x[2 * rd + 1] = hi;
              }
              d += ilen;
              break;
            }
            case 0x33: {
              // OP
              const alo = x[2 * rs1],
                ahi = x[2 * rs1 + 1],
                blo = x[2 * rs2],
                bhi = x[2 * rs2 + 1];
              const f7 = insn >>> 25,
                f3 = (insn >>> 12) & 7;
              let lo, hi;
              if (f7 === 1) {
                this.pc = fpage + d;
                mulDiv(f3, alo, ahi, blo, bhi, tmp);
                lo = tmp[0];
                hi = tmp[1];
              } else if (f7 === 0) {
                switch (f3) {
                  case 0:
                    lo = (alo + blo) | 0;
                    hi = (ahi + bhi + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
                    break;
                  case 1: {
                    const sh = blo & 63;
                    if (sh === 0) {
                      lo = alo;
                      hi = ahi;
                    } else if (sh < 32) {
                      hi = (ahi << sh) | (alo >>> (32 - sh));
                      lo = alo << sh;
                    } else {
                      hi = alo << (sh - 32);
                      lo = 0;
                    }
                    break;
                  }
                  case 2:
                    lo = ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
                    hi = 0;
                    break;
                  case 3:
                    lo = ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
                    hi = 0;
                    break;
                  case 4:
                    lo = alo ^ blo;
                    hi = ahi ^ bhi;
                    break;
                  case 5: {
                    const sh = blo & 63;
                    if (sh === 0) {
                      lo = alo;
                      hi = ahi;
                    } else if (sh < 32) {
                      lo = (alo >>> sh) | (ahi << (32 - sh));
                      hi = ahi >>> sh;
                    } else {
                      lo = ahi >>> (sh - 32);
                      hi = 0;
                    }
                    break;
                  }
                  case 6:
                    lo = alo | blo;
                    hi = ahi | bhi;
                    break;
                  default:
                    lo = alo & blo;
                    hi = ahi & bhi;
                }
              } else if (f7 === 0x20 && f3 === 0) {
                lo = (alo - blo) | 0;
                hi = (ahi - bhi - (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              } else if (f7 === 0x20 && f3 === 5) {
                const sh = blo & 63;
                if (sh === 0) {
                  lo = alo;
                  hi = ahi;
                } else if (sh < 32) {
                  lo = (alo >>> sh) | (ahi << (32 - sh));
                  hi = ahi >> sh;
                } else {
                  lo = ahi >> (sh - 32);
                  hi = ahi >> 31;
                }
              } else throw new Trap(ILLEGAL, insn >>> 0);
              if (rd !== 0) {
                x[2 * rd] = lo;
                x[2 * rd + 1] = hi;
              }
              d += ilen;
              break;
            }
            case 0x03: {
              // LOAD
              const imm = insn >> 20;
              const blo = x[2 * rs1];
              const lo = (blo + imm) | 0;
              const hi = (x[2 * rs1 + 1] + (imm >> 31) + (lo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              const f3 = (insn >>> 12) & 7;
              let vlo, vhi;
              const vpn = lo >>> 12;
              const e = vpn & TLB_MASK;
              if (tlbR[e] === vpn && tlbRh[e] === hi) {
                const o = tlbRo[e] + (lo & 0xfff);
                switch (f3) {
                  case 0:
                    vlo = rami8[o];
                    vhi = vlo >> 31;
                    break;
                  case 4:
                    vlo = ram8[o];
                    vhi = 0;
                    break;
                  case 1:
                    if (o & 1) vlo = this.loadSlow(lo, hi, 2, true);
                    else vlo = rami16[o >>> 1];
                    vhi = vlo >> 31;
                    break;
                  case 5:
                    if (o & 1) vlo = this.loadSlow(lo, hi, 2, false);
                    else vlo = ram16[o >>> 1];
                    vhi = 0;
                    break;
                  case 2:
                    vlo = o & 3 ? this.loadSlow(lo, hi, 4, true) : ram32[o >>> 2];
                    vhi = vlo >> 31;
                    break;
                  case 6:
                    vlo = o & 3 ? this.loadSlow(lo, hi, 4, false) : ram32[o >>> 2];
                    vhi = 0;
                    break;
                  case 3:
                    if (o & 7) {
                      this.pc = fpage + d;
                      vlo = this.loadMisaligned64(lo, hi);
                      vhi = tmp[1];
                    } else if (atomic64) {
                      s64[0] = ramf64[o >>> 3]; // one 8-byte load
                      vlo = s32[0];
                      vhi = s32[1];
                    } else {
                      vlo = ram32[o >>> 2];
                      vhi = ram32[(o >>> 2) + 1];
                    }
                    break;
                  default:
                    throw new Trap(ILLEGAL, insn >>> 0);
                }
              } else {
                this.pc = fpage + d;
                this.stats.tlbMiss++;
                switch (f3) {
                  case 0:
                    vlo = this.loadSlow(lo, hi, 1, true);
                    vhi = vlo >> 31;
                    break;
                  case 4:
                    vlo = this.loadSlow(lo, hi, 1, false);
                    vhi = 0;
                    break;
                  case 1:
                    vlo = this.loadSlow(lo, hi, 2, true);
                    vhi = vlo >> 31;
                    break;
                  case 5:
                    vlo = this.loadSlow(lo, hi, 2, false);
                    vhi = 0;
                    break;
                  case 2:
                    vlo = this.loadSlow(lo, hi, 4, true);
                    vhi = vlo >> 31;
                    break;
                  case 6:
                    vlo = this.loadSlow(lo, hi, 4, false);
                    vhi = 0;
                    break;
                  case 3:
                    vlo = (lo & 7) !== 0 ? this.loadMisaligned64(lo, hi) : this.loadSlow(lo, hi, 8, false);
                    vhi = tmp[1];
                    break;
                  default:
                    throw new Trap(ILLEGAL, insn >>> 0);
                }
              }
              if (rd !== 0) {
                x[2 * rd] = vlo;
                x[2 * rd + 1] = vhi;
              }
              d += ilen;
              break;
            }
            case 0x23: {
              // STORE
              const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
              const blo = x[2 * rs1];
              const lo = (blo + imm) | 0;
              const hi = (x[2 * rs1 + 1] + (imm >> 31) + (lo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              const f3 = (insn >>> 12) & 7;
              const vlo = x[2 * rs2],
                vhi = x[2 * rs2 + 1];
              if (f3 > 3) throw new Trap(ILLEGAL, insn >>> 0);
              const size = 1 << f3;
              const vpn = lo >>> 12;
              const e = vpn & TLB_MASK;
              const o = tlbWo[e] + (lo & 0xfff);
              stored = true;
              if (tlbW[e] === vpn && tlbWh[e] === hi && (o & (size - 1)) === 0) {
                if (f3 === 0) ram8[o] = vlo;
                else if (f3 === 1) ram16[o >>> 1] = vlo;
                else if (f3 === 2) ram32[o >>> 2] = vlo;
                else if (atomic64) {
                  s32[0] = vlo;
                  s32[1] = vhi;
                  ramf64[o >>> 3] = s64[0]; // one 8-byte store
                } else {
                  ram32[o >>> 2] = vlo;
                  ram32[(o >>> 2) + 1] = vhi;
                }
                if (resv[0] !== 0) breakReservations(this, o);
              } else {
                this.pc = fpage + d;
                this.stats.tlbMiss++;
                this.storeSlow(lo, hi, size, vlo, vhi);
              }
              d += ilen;
              break;
            }
            case 0x63: {
              // BRANCH
              const alo = x[2 * rs1],
                ahi = x[2 * rs1 + 1],
                blo = x[2 * rs2],
                bhi = x[2 * rs2 + 1];
              let take;
              switch ((insn >>> 12) & 7) {
                case 0:
                  take = alo === blo && ahi === bhi;
                  break;
                case 1:
                  take = alo !== blo || ahi !== bhi;
                  break;
                case 4:
                  take = ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0);
                  break;
                case 5:
                  take = !(ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0));
                  break;
                case 6:
                  take = ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
                  break;
                case 7:
                  take = !(ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0));
                  break;
                default:
                  throw new Trap(ILLEGAL, insn >>> 0);
              }
              if (take) {
                const imm =
                  ((insn >> 31) << 12) | ((insn & 0x80) << 4) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
                // with C, every target (pc + an even offset) is aligned enough
                if (imm < 0 && imm >= -32 && !stored) spins++;
                stored = false;
                d += imm; // may leave the page: the next fetch refills
              } else d += ilen;
              break;
            }
            case 0x6f: {
              // JAL
              const imm = ((insn >> 31) << 20) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
              if (rd !== 0) {
                const link = fpage + d + ilen;
                x[2 * rd] = link | 0;
                x[2 * rd + 1] = Math.floor(link / TWO32) | 0;
              }
              d += imm;
              break;
            }
            case 0x67: {
              // JALR
              const imm = insn >> 20;
              const blo = x[2 * rs1];
              const lo = (blo + imm) & ~1;
              const hi = (x[2 * rs1 + 1] + (imm >> 31) + (((blo + imm) | 0) >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              const target = toDouble(lo, hi);
              if (rd !== 0) {
                const link = fpage + d + ilen;
                x[2 * rd] = link | 0;
                x[2 * rd + 1] = Math.floor(link / TWO32) | 0;
              }
              // a target in the same page (a return to the caller, often) keeps the fetch page
              const off = target - fpage;
              if (off >= 0 && off < 4096) d = off | 0;
              else {
                fpage = target;
                d = 0;
                dlim = 0;
              }
              break;
            }
            case 0x37: // LUI
              if (rd !== 0) {
                x[2 * rd] = insn & 0xfffff000;
                x[2 * rd + 1] = insn >> 31;
              }
              d += ilen;
              break;
            case 0x17: {
              // AUIPC
              if (rd !== 0) {
                const v = fpage + d + (insn & 0xfffff000);
                x[2 * rd] = v | 0;
                x[2 * rd + 1] = Math.floor(v / TWO32) | 0;
              }
              d += ilen;
              break;
            }
            case 0x1b: {
              // OP-IMM-32
              const a = x[2 * rs1];
              const imm = insn >> 20;
              let v;
              switch ((insn >>> 12) & 7) {
                case 0:
                  v = (a + imm) | 0;
                  break;
                case 1:
                  if (insn >>> 25 !== 0) throw new Trap(ILLEGAL, insn >>> 0);
                  v = a << rs2;
                  break;
                case 5:
                  if (insn >>> 25 === 0) v = a >>> rs2;
                  else if (insn >>> 25 === 0x20) v = a >> rs2;
                  else throw new Trap(ILLEGAL, insn >>> 0);
                  v |= 0;
                  break;
                default:
                  throw new Trap(ILLEGAL, insn >>> 0);
              }
              if (rd !== 0) {
                x[2 * rd] = v;
                x[2 * rd + 1] = v >> 31;
              }
              d += ilen;
              break;
            }
            case 0x3b: {
              // OP-32
              const a = x[2 * rs1],
                b = x[2 * rs2];
              const f7 = insn >>> 25,
                f3 = (insn >>> 12) & 7;
              let v;
              if (f7 === 1) {
                v = mulDivW(f3, a, b);
              } else if (f7 === 0 && f3 === 0) v = (a + b) | 0;
              else if (f7 === 0x20 && f3 === 0) v = (a - b) | 0;
              else if (f7 === 0 && f3 === 1) v = a << (b & 31);
              else if (f7 === 0 && f3 === 5) v = (a >>> (b & 31)) | 0;
              else if (f7 === 0x20 && f3 === 5) v = a >> (b & 31);
              else throw new Trap(ILLEGAL, insn >>> 0);
              if (rd !== 0) {
                x[2 * rd] = v;
                x[2 * rd + 1] = v >> 31;
              }
              d += ilen;
              break;
            }
            case 0x0f: // FENCE, FENCE.I
              if ((insn >>> 12) & 7) {
                if (((insn >>> 12) & 7) !== 1) throw new Trap(ILLEGAL, insn >>> 0);
                dlim = 0; // fence.i: refetch
              } else Atomics.load(this.tmp, 0); // a fence: one seq-cst access
              d += ilen;
              break;
            default: {
              this.pc = fpage + d;
              this.fetchPage = 0;
              this.blockN = n;
              stored = true; // AMOs, LR/SC, CSRs, fences, WFI: not a pure load spin
              const pc = fpage + d;
              const next = this.exec(insn, pc, ilen);
              // the privilege (and with it the TLB) may have changed
              ({ R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb);
              if (next === pc + 4 && this.fetchPage !== -1) d += ilen;
              else {
                fpage = next; // a jump, or the fetch translation may have changed
                d = 0;
                dlim = 0;
              }
              if (this.wfi) {
                this.wfi = false;
                n++;
                this.pc = fpage + d;
                this.instret += n;
                this.blockN = 0;
                this.spins = 0;
                return n;
              }
            }
          }
        }
      } catch (e) {
        if (!(e instanceof Trap)) throw e;
        this.pc = fpage + d;
        trap(this, e.cause, e.cause === ILLEGAL && e.tval !== 0 ? this.illegalBits(e.tval) : e.tval, false);
        ({ R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb);
        fpage = this.pc;
        d = 0;
        dlim = 0;
        n++;
      }
    }
    this.pc = fpage + d;
    this.instret += n;
    this.blockN = 0;
    this.spins = spins;
    return n;
  }

  /** Refills the fetch page for pc: returns its RAM byte offset (page start) or -1 for non-RAM. */
  fetchRefill(pc) {
    const lo = pc | 0,
      hi = Math.floor(pc / TWO32) | 0;
    {
      // the fetch TLB (filled below, flushed with the others)
      const vpn = lo >>> 12;
      const e = vpn & TLB_MASK;
      if (this.tlbX[e] === vpn && this.tlbXh[e] === hi) {
        const page = this.tlbXo[e];
        this.fetchPa = this.ramBase + page;
        return page;
      }
    }
    const pa = translate(this, lo, hi, 2);
    const o = pa - this.ramBase;
    if (!(o >= 0 && o < this.ramSize)) {
      if (/** @type {import('guestmem').DeviceBus} */ (this.phys.bus).find(pa) === undefined)
        throw new Trap(FETCH_ACCESS, pc);
      return -1;
    }
    fill(this, lo, hi, 2, pa);
    this.fetchPa = Math.floor(pa / 4096) * 4096;
    return Math.floor(o / 4096) * 4096;
  }

  /** An instruction from a device region (a parcel at a time): the word, a compressed one as its parcel. */
  fetchSlow(pc) {
    const lo = pc | 0,
      hi = Math.floor(pc / TWO32) | 0;
    const pa = translate(this, lo, hi, 2);
    const low = this.physLoad(pa, 2, 2) & 0xffff;
    if ((low & 3) !== 3) {
      if (EXPANDED[low] === 0) throw new Trap(ILLEGAL, low);
      return low;
    }
    return this.fetchCross(pc, low);
  }

  /**
   * The 32-bit instruction at pc whose low parcel `low` has been read, fetching the high
   * parcel through its own translation: at the end of a page it is on the next one, and a fault
   * there reports that page's address.
   */
  fetchCross(pc, low) {
    const next = pc + 2;
    const pa = translate(this, next | 0, Math.floor(next / TWO32) | 0, 2);
    return low | (this.physLoad(pa, 2, 2) << 16);
  }

  /**
   * The tval of an illegal instruction at this.pc: its bits as fetched, so a compressed one
   * reports its 16 bits rather than those of its expansion (given as `bits`).
   */
  illegalBits(bits) {
    try {
      const pc = this.pc;
      const pa = translate(this, pc | 0, Math.floor(pc / TWO32) | 0, 2);
      const low = this.physLoad(pa, 2, 2) & 0xffff;
      return (low & 3) !== 3 ? low : bits;
    } catch {
      return bits;
    }
  }

  /** The 'checked' path's fetch at offset d of the fetch page: a parcel, or a whole instruction. */
  fetchChecked(fpage, d) {
    // an aligned word holds the whole instruction (or a parcel in its low half)
    if ((d & 2) === 0) return this.phys.ld32s(this.fetchPa + d);
    const low = this.phys.ld16u(this.fetchPa + d);
    if ((low & 3) !== 3) return low;
    if (d !== 4094) return low | (this.phys.ld16u(this.fetchPa + d + 2) << 16);
    return this.fetchCross(fpage + d, low);
  }

  /** An 8-byte load at virtual (lo, hi) (any alignment): returns the low word, the high one in tmp[1]. */
  load64(lo, hi) {
    return (lo & 7) !== 0 ? this.loadMisaligned64(lo, hi) : this.loadSlow(lo, hi, 8, false);
  }

  /** An 8-byte store of (vlo, vhi) at virtual (lo, hi), any alignment. */
  store64(lo, hi, vlo, vhi) {
    this.storeSlow(lo, hi, 8, vlo, vhi);
  }

  loadMisaligned64(lo, hi) {
    const a = this.loadSlow(lo, hi, 4, false);
    const l2 = (lo + 4) | 0;
    const h2 = hi + (l2 >>> 0 < lo >>> 0 ? 1 : 0);
    const b = this.loadSlow(l2, h2, 4, false);
    this.tmp[0] = a;
    this.tmp[1] = b;
    return a;
  }

  /** The rarer instructions (AMO, SYSTEM, …): returns the next pc. */
  exec(insn, pc, ilen) {
    const x = this.x;
    const rd = (insn >>> 7) & 31,
      rs1 = (insn >>> 15) & 31,
      rs2 = (insn >>> 20) & 31;
    const f3 = (insn >>> 12) & 7;
    switch (insn & 0x7f) {
      case 0x2f:
        amo(this, insn, rd, rs1, rs2, f3);
        return pc + ilen;
      case 0x07: // LOAD-FP
      case 0x27: // STORE-FP
        fpLoadStore(this, insn);
        return pc + ilen;
      case 0x43: // FMADD, FMSUB, FNMSUB, FNMADD
      case 0x47:
      case 0x4b:
      case 0x4f:
        fpFused(this, insn);
        return pc + ilen;
      case 0x53: // OP-FP
        fpOp(this, insn);
        return pc + ilen;
      case 0x73: {
        if (f3 === 0) return this.system(insn, pc);
        if (f3 === 4) throw new Trap(ILLEGAL, insn >>> 0);
        const n = insn >>> 20;
        const imm = f3 >= 5;
        const srcLo = imm ? rs1 : x[2 * rs1],
          srcHi = imm ? 0 : x[2 * rs1 + 1];
        const op = f3 & 3; // 1 write, 2 set, 3 clear
        const writes = op === 1 || rs1 !== 0;
        if (writes && n >>> 10 === 3) throw new Trap(ILLEGAL, insn >>> 0);
        let oldLo = 0,
          oldHi = 0;
        if (op !== 1 || rd !== 0) {
          oldLo = csrRead(this, n);
          oldHi = this.tmp[1];
        } else if (((n >>> 8) & 3) > this.priv || !csrExists(this, n)) throw new Trap(ILLEGAL, insn >>> 0);
        if (writes) {
          let lo = srcLo,
            hi = srcHi;
          // csrrs/csrrc of mip (sip) modify its software bits only: the external-interrupt
          // line ORed into SEIP on reads must not be latched into the writable bit
          const baseLo = n === CSR.mip || n === CSR.sip ? this.getLo(CSR.mip) : oldLo;
          if (op === 2) {
            lo = baseLo | srcLo;
            hi = oldHi | srcHi;
          } else if (op === 3) {
            lo = baseLo & ~srcLo;
            hi = oldHi & ~srcHi;
          }
          csrWrite(this, n, lo, hi);
        }
        if (rd !== 0) {
          x[2 * rd] = oldLo;
          x[2 * rd + 1] = oldHi;
        }
        this.fetchPage = -1; // satp/mstatus may have changed the fetch translation
        return this.afterSystem(pc + ilen);
      }
      default:
        throw new Trap(ILLEGAL, insn >>> 0);
    }
  }

  system(insn, pc) {
    const f7 = insn >>> 25;
    const rs2 = (insn >>> 20) & 31;
    if (insn === 0x00000073) throw new Trap(ECALL_U + this.priv, 0); // ecall
    if (insn === 0x00100073) throw new Trap(BREAKPOINT, pc); // ebreak
    if (insn === 0x30200073) {
      // mret
      if (this.priv !== M) throw new Trap(ILLEGAL, insn >>> 0);
      const ms = this.getLo(CSR.mstatus);
      const mpp = (ms >>> MPP_SHIFT) & 3;
      let s = ms & ~(MIE | (3 << MPP_SHIFT));
      if (ms & MPIE) s |= MIE;
      s |= MPIE;
      if (mpp !== M) s &= ~MPRV;
      this.setCsr(CSR.mstatus, s, this.getHi(CSR.mstatus));
      this.setPriv(mpp);
      return this.afterSystem(toDouble(this.getLo(CSR.mepc), this.getHi(CSR.mepc)));
    }
    if (insn === 0x10200073) {
      // sret
      if (this.priv < S || (this.priv === S && this.getLo(CSR.mstatus) & TSR)) throw new Trap(ILLEGAL, insn >>> 0);
      const ms = this.getLo(CSR.mstatus);
      const spp = ms & SPP ? S : U;
      let s = ms & ~(SIE | SPP);
      if (ms & SPIE) s |= SIE;
      s |= SPIE;
      s &= ~MPRV;
      this.setCsr(CSR.mstatus, s, this.getHi(CSR.mstatus));
      this.setPriv(spp);
      return this.afterSystem(toDouble(this.getLo(CSR.sepc), this.getHi(CSR.sepc)));
    }
    if (insn === 0x10500073) {
      // wfi
      if (this.priv < M && this.getLo(CSR.mstatus) & TW) throw new Trap(ILLEGAL, insn >>> 0);
      if (this.priv === U) throw new Trap(ILLEGAL, insn >>> 0);
      if ((this.mip() & this.getLo(CSR.mie)) === 0) this.waitForInterrupt();
      this.wfi = true;
      return pc + 4;
    }
    if (f7 === 0x09 && ((insn >>> 7) & 31) === 0) {
      // sfence.vma
      if (this.priv === U || (this.priv === S && this.getLo(CSR.mstatus) & TVM)) throw new Trap(ILLEGAL, insn >>> 0);
      this.flushTlb();
      this.fetchPage = -1;
      void rs2;
      return pc + 4;
    }
    throw new Trap(ILLEGAL, insn >>> 0);
  }

  /** After an instruction that may enable an interrupt: takes it at once (at `next`). */
  afterSystem(next) {
    this.pc = next;
    if ((this.mip() & this.getLo(CSR.mie)) !== 0 && checkInterrupts(this)) return this.pc;
    return next;
  }
}

export { CSR, Trap, M, S, U };
