// One RV64IMA hart (Zicsr, Zifencei; M, S and U modes; Sv39) as an interpreter over guestmem.
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

const TLB_BITS = 8;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
/** Debugging: RISCV_TRACE_TRAPS=n prints each hart's first n traps to stderr. */
const TRACE_TRAPS = Number(process.env.RISCV_TRACE_TRAPS ?? 0);
/** An impossible fetch page: forces a refill. */

// Privilege levels
const U = 0;
const S = 1;
const M = 3;

// Exception causes
const MISALIGNED_FETCH = 0;
const FETCH_ACCESS = 1;
const ILLEGAL = 2;
const BREAKPOINT = 3;
const MISALIGNED_LOAD = 4;
const LOAD_ACCESS = 5;
const MISALIGNED_STORE = 6;
const STORE_ACCESS = 7;
const ECALL_U = 8;
const FETCH_PAGE = 12;
const LOAD_PAGE = 13;
const STORE_PAGE = 15;

// mstatus bits (low word)
const SIE = 1 << 1;
const MIE = 1 << 3;
const SPIE = 1 << 5;
const MPIE = 1 << 7;
const SPP = 1 << 8;
const MPP_SHIFT = 11;
const MPRV = 1 << 17;
const SUM = 1 << 18;
const MXR = 1 << 19;
const TVM = 1 << 20;
const TW = 1 << 21;
const TSR = 1 << 22;
const MSTATUS_WRITABLE =
  SIE | MIE | SPIE | MPIE | SPP | (3 << MPP_SHIFT) | MPRV | SUM | MXR | TVM | TW | TSR | (3 << 13) | (3 << 9);
const SSTATUS_MASK = SIE | SPIE | SPP | SUM | MXR | (3 << 13) | (3 << 9) | (3 << 15);

// interrupt bits
const SSIP = 1 << 1;
const MSIP = 1 << 3;
const STIP = 1 << 5;
const MTIP = 1 << 7;
const SEIP = 1 << 9;
const MEIP = 1 << 11;
const S_INTS = SSIP | STIP | SEIP;

// CSR numbers
const CSR = {
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  senvcfg: 0x10a,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  satp: 0x180,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  menvcfg: 0x30a,
  mcountinhibit: 0x320,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  mcycle: 0xb00,
  minstret: 0xb02,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
};

/** Thrown inside the interpreter for a synchronous exception; caught by run(). */
class Trap {
  constructor(cause, tval) {
    this.cause = cause;
    this.tval = tval;
  }
}

const TWO32 = 4294967296;
const toDouble = (lo, hi) => hi * TWO32 + (lo >>> 0);

/**
 * Low 64 bits of a 64x64 product, on 32-bit halves: the low word by Math.imul, the high word from
 * 16-bit limbs (every partial product below 2^32 and exact; no `%` on doubles, which is a call).
 */
function mulLo(alo, ahi, blo, bhi, out) {
  const a0 = alo & 0xffff,
    a1 = alo >>> 16,
    b0 = blo & 0xffff,
    b1 = blo >>> 16;
  const p01 = a0 * b1,
    p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff); // < 3 * 2^16
  const hiU = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16); // high word of alo * blo
  out[0] = Math.imul(alo, blo);
  out[1] = (hiU + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** An empty TLB: per entry the virtual page (low word), its high word and the RAM offset. */
function tlbSet() {
  const a = () => new Int32Array(TLB_SIZE);
  return { R: a().fill(-1), W: a().fill(-1), X: a().fill(-1), Ro: a(), Wo: a(), Xo: a(), Rh: a(), Wh: a(), Xh: a() };
}

/** Blocks (run() calls) between two flushes of the dirty-tracking cache (a power of two). */
const DIRTY_SYNC_BLOCKS = 256;

const big = (lo, hi) => (BigInt(hi) << 32n) | BigInt(lo >>> 0);
const bigU = (lo, hi) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

export class Cpu {
  /**
   * @param {object} o
   * @param {number} o.hartid
   * @param {Int32Array} o.regs  64 words of registers (the state block)
   * @param {import('guestmem').GuestMemoryMmap} o.phys  guest memory with the device bus behind it
   * @param {{ base: number, size: number }} o.ram
   * @param {'tcache'|'raw'|'checked'} [o.path]
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
    this.wfi = false;
    this.blockN = 0; // instructions of the current run() not yet added to instret
    this.spins = 0; // pure load-spin iterations in the last run() (see run)
    this.pmp = new Int32Array(2 * 64); // pmpcfg0..15 / pmpaddr0..63 (lo/hi), WARL storage
    this.stats = { traps: 0, interrupts: 0, wfi: 0, mmio: 0, tlbMiss: 0 };
    // misa: RV64 (MXL=2 in bits 63:62), extensions I, M, A, S, U
    this.setCsr(CSR.misa, (1 << 0) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20), 0x80000000 | 0);
    this.setCsr(CSR.mstatus, 0, 0xa); // UXL = SXL = 2
    this.setCsr(CSR.mhartid, this.hartid, 0);
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

  /**
   * Translates virtual address (lo, hi) for an access (0 read, 1 write, 2 execute); returns the
   * physical address (double). Sets A/D bits. Throws a page fault Trap.
   */
  translate(lo, hi, access) {
    const priv = access === 2 ? this.priv : this.dataPriv();
    const satpHi = this.getHi(CSR.satp);
    const va = toDouble(lo, hi);
    if (priv === M || satpHi >>> 28 !== 8) return hi < 0 ? va + 2 ** 64 : va; // bare
    // Sv39: bits 63..39 must equal bit 38
    const top = hi >> 6; // bits 63..38 of the address as a signed value: all 0 or all 1
    if (top !== 0 && top !== -1) throw this.pageFault(access, lo, hi);
    const vpn = [(lo >>> 12) & 0x1ff, (lo >>> 21) & 0x1ff, ((lo >>> 30) | (hi << 2)) & 0x1ff];
    let a = ((this.getLo(CSR.satp) >>> 0) + (satpHi & 0xfff) * TWO32) * 4096; // root table
    const ms = this.getLo(CSR.mstatus);
    for (let level = 2; level >= 0; level--) {
      const pteAddr = a + vpn[level] * 8;
      const plo = this.physLoad(pteAddr, 4, access) >>> 0;
      const phi = this.physLoad(pteAddr + 4, 4, access) >>> 0;
      const v = plo & 1,
        r = plo & 2,
        w = plo & 4,
        xb = plo & 8,
        ub = plo & 16;
      if (!v || (!r && w) || phi >>> 22 !== 0) throw this.pageFault(access, lo, hi);
      const ppn = (plo >>> 10) + (phi & 0x3fffff) * 4194304; // PTE bits 53:10
      if (!r && !xb) {
        if (level === 0) throw this.pageFault(access, lo, hi);
        a = ppn * 4096;
        continue;
      }
      // a leaf: permissions
      if (priv === U && !ub) throw this.pageFault(access, lo, hi);
      if (priv === S && ub && (access === 2 || !(ms & SUM))) throw this.pageFault(access, lo, hi);
      if (access === 0 && !r && !(ms & MXR && xb)) throw this.pageFault(access, lo, hi);
      if (access === 1 && !w) throw this.pageFault(access, lo, hi);
      if (access === 2 && !xb) throw this.pageFault(access, lo, hi);
      // superpages must be aligned
      const ppnLo = ppn % 512,
        ppnMid = Math.floor(ppn / 512) % 512;
      if ((level >= 1 && ppnLo !== 0) || (level === 2 && ppnMid !== 0)) throw this.pageFault(access, lo, hi);
      // A and D
      const need = 0x40 | (access === 1 ? 0x80 : 0);
      if ((plo & need) !== need) this.physStore(pteAddr, 4, plo | need, 0);
      let base = ppn;
      if (level >= 1) base += vpn[0];
      if (level === 2) base += vpn[1] * 512;
      return base * 4096 + (lo & 0xfff);
    }
    throw this.pageFault(access, lo, hi);
  }

  pageFault(access, lo, hi) {
    return new Trap(access === 0 ? LOAD_PAGE : access === 1 ? STORE_PAGE : FETCH_PAGE, toDouble(lo, hi));
  }

  accessFault(access, va) {
    return new Trap(access === 0 ? LOAD_ACCESS : access === 1 ? STORE_ACCESS : FETCH_ACCESS, va);
  }

  /** Fills the TLB for virtual (lo, hi) if the page is RAM. */
  fill(lo, hi, access, pa) {
    if (!this.useViews) return;
    const ro = pa - (lo & 0xfff) - this.ramBase;
    if (ro < 0 || ro >= this.ramSize) return;
    if (access === 1 && this.dirty !== null) this.dirty.lookup(pa, true);
    const vpn = lo >>> 12;
    const e = vpn & TLB_MASK;
    if (access === 0) {
      this.tlbR[e] = vpn;
      this.tlbRh[e] = hi;
      this.tlbRo[e] = ro;
    } else if (access === 1) {
      this.tlbW[e] = vpn;
      this.tlbWh[e] = hi;
      this.tlbWo[e] = ro;
      this.tlbR[e] = vpn; // a writable page is readable (D set, A set)
      this.tlbRh[e] = hi;
      this.tlbRo[e] = ro;
    } else {
      this.tlbX[e] = vpn;
      this.tlbXh[e] = hi;
      this.tlbXo[e] = ro;
    }
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
    if (o >= 0 && o < this.ramSize) throw this.accessFault(access, pa);
    this.stats.mmio++;
    try {
      return this.phys.bus.read(pa, size);
    } catch {
      throw this.accessFault(access, pa);
    }
  }

  checkedLoad(pa, size) {
    return size === 4 ? this.phys.ld32s(pa) : size === 2 ? this.phys.ld16u(pa) : this.phys.ld8u(pa);
  }

  physStore(pa, size, lo, hi) {
    const o = pa - this.ramBase;
    if (o >= 0 && o + size <= this.ramSize) {
      if (size === 8) {
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
      if (this.resv[0] !== 0) this.breakReservations(o);
      if (this.dirty !== null && this.useViews) this.dirty.lookup(pa, true);
      return;
    }
    if (o >= 0 && o < this.ramSize) throw this.accessFault(1, pa);
    this.stats.mmio++;
    try {
      if (size === 8) this.phys.bus.write64(pa, bigU(lo, hi));
      else this.phys.bus.write(pa, size, size === 4 ? lo >>> 0 : lo & (size === 2 ? 0xffff : 0xff));
    } catch {
      throw this.accessFault(1, pa);
    }
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
    const pa = this.translate(lo, hi, 0);
    this.fill(lo, hi, 0, pa);
    if (size === 8) {
      const o = pa - this.ramBase;
      if (o >= 0 && o + 8 <= this.ramSize) {
        this.tmp[0] = this.physLoad(pa, 4, 0);
        this.tmp[1] = this.physLoad(pa + 4, 4, 0);
        return this.tmp[0];
      }
      if (o >= 0 && o < this.ramSize) throw this.accessFault(0, pa);
      this.stats.mmio++;
      let v;
      try {
        v = this.phys.bus.read64(pa);
      } catch {
        throw this.accessFault(0, pa);
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
    const pa = this.translate(lo, hi, 1);
    this.fill(lo, hi, 1, pa);
    this.physStore(pa, size, vlo, vhi);
  }

  /** The RAM byte offset of an aligned atomic access at virtual (lo, hi) (a store: page must be writable). */
  amoTarget(lo, hi, size) {
    if ((lo & (size - 1)) !== 0) throw new Trap(MISALIGNED_STORE, toDouble(lo, hi));
    const vpn = lo >>> 12;
    const e = vpn & TLB_MASK;
    if (this.tlbW[e] === vpn && this.tlbWh[e] === hi) return this.tlbWo[e] + (lo & 0xfff);
    const pa = this.translate(lo, hi, 1);
    this.fill(lo, hi, 1, pa);
    const o = pa - this.ramBase;
    if (!(o >= 0 && o + size <= this.ramSize)) throw this.accessFault(1, pa);
    return o;
  }

  // ---- traps ----

  trap(cause, tval, isInterrupt) {
    this.stats.traps++;
    // a trap drops this hart's reservation (an sc after it may fail; none is left dangling)
    if (this.resv[this.resSlot] !== -1 && Atomics.exchange(this.resv, this.resSlot, -1) !== -1)
      Atomics.sub(this.resv, 0, 1);
    if (!isInterrupt) this.stats.exceptions = (this.stats.exceptions ?? 0) + 1;
    if (TRACE_TRAPS > 0 && (isInterrupt ? this.stats.interrupts : this.stats.exceptions) < TRACE_TRAPS)
      process.stderr.write(
        `hart ${this.hartid}: ${isInterrupt ? 'interrupt' : 'exception'} ${cause} at pc 0x${this.pc.toString(16)} tval 0x${tval.toString(16)} priv ${this.priv}\n`,
      );
    if (isInterrupt) this.stats.interrupts++;
    const pc = this.pc;
    const deleg = isInterrupt ? this.getLo(CSR.mideleg) : this.getLo(CSR.medeleg);
    const ms = this.getLo(CSR.mstatus);
    const tvLo = tval | 0,
      tvHi = Math.floor(tval / TWO32) | 0;
    const pcLo = pc | 0,
      pcHi = Math.floor(pc / TWO32) | 0;
    if (this.priv <= S && (deleg >>> cause) & 1) {
      this.setCsr(CSR.sepc, pcLo, pcHi);
      this.setCsr(CSR.scause, cause, isInterrupt ? 0x80000000 | 0 : 0);
      this.setCsr(CSR.stval, tvLo, tvHi);
      let s = ms & ~(SPIE | SPP | SIE);
      if (ms & SIE) s |= SPIE;
      if (this.priv === S) s |= SPP;
      this.setCsr(CSR.mstatus, s, this.getHi(CSR.mstatus));
      this.setPriv(S);
      this.pc = this.vector(CSR.stvec, cause, isInterrupt);
    } else {
      this.setCsr(CSR.mepc, pcLo, pcHi);
      this.setCsr(CSR.mcause, cause, isInterrupt ? 0x80000000 | 0 : 0);
      this.setCsr(CSR.mtval, tvLo, tvHi);
      let s = ms & ~(MPIE | (3 << MPP_SHIFT) | MIE);
      if (ms & MIE) s |= MPIE;
      s |= this.priv << MPP_SHIFT;
      this.setCsr(CSR.mstatus, s, this.getHi(CSR.mstatus));
      if (s & MPRV && this.priv === M) this.flushTlb(); // MPP, MPRV's effective privilege, changed
      this.setPriv(M);
      this.pc = this.vector(CSR.mtvec, cause, isInterrupt);
    }
    this.fetchPage = -1;
  }

  vector(csr, cause, isInterrupt) {
    const lo = this.getLo(csr),
      hi = this.getHi(csr);
    const base = toDouble(lo & ~3, hi);
    return isInterrupt && (lo & 3) === 1 ? base + 4 * cause : base;
  }

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

  /** Takes the highest-priority enabled pending interrupt, if any; returns whether it did. */
  checkInterrupts() {
    const pending = this.mip() & this.getLo(CSR.mie);
    if (pending === 0) return false;
    const ms = this.getLo(CSR.mstatus);
    const deleg = this.getLo(CSR.mideleg);
    const mEnabled = this.priv < M || (ms & MIE) !== 0;
    const sEnabled = this.priv < S || (this.priv === S && (ms & SIE) !== 0);
    const m = pending & ~deleg;
    const s = pending & deleg;
    let take = 0;
    if (mEnabled && m) take = m;
    else if (sEnabled && s) take = s;
    if (take === 0) return false;
    for (const cause of [11, 3, 7, 9, 1, 5]) {
      if (take & (1 << cause)) {
        this.trap(cause, 0, true);
        return true;
      }
    }
    return false;
  }

  // ---- CSR access ----

  csrRead(n) {
    const priv = this.priv;
    if (((n >>> 8) & 3) > priv) throw new Trap(ILLEGAL, 0);
    switch (n) {
      case CSR.sstatus: {
        const lo = this.getLo(CSR.mstatus) & SSTATUS_MASK;
        this.tmp[1] = this.getHi(CSR.mstatus) & 3; // UXL
        return lo;
      }
      case CSR.sie:
        this.tmp[1] = 0;
        return this.getLo(CSR.mie) & this.getLo(CSR.mideleg);
      case CSR.sip:
        this.tmp[1] = 0;
        return this.mip() & this.getLo(CSR.mideleg);
      case CSR.mip:
        this.tmp[1] = 0;
        return this.mip();
      case CSR.satp:
        if (priv === S && this.getLo(CSR.mstatus) & TVM) throw new Trap(ILLEGAL, 0);
        break;
      case CSR.cycle:
      case CSR.instret:
      case CSR.time:
        this.counterAllowed(n);
      // fallthrough
      case CSR.mcycle:
      case CSR.minstret: {
        const v = n === CSR.time ? this.platform.mtime() : this.instret + this.blockN;
        this.tmp[1] = Math.floor(v / TWO32) | 0;
        return v | 0;
      }
      default:
        if (!this.csrExists(n)) throw new Trap(ILLEGAL, 0);
    }
    this.tmp[1] = this.getHi(n);
    return this.getLo(n);
  }

  counterAllowed(n) {
    const bit = 1 << (n - 0xc00);
    if (this.priv < M && !(this.getLo(CSR.mcounteren) & bit)) throw new Trap(ILLEGAL, 0);
    if (this.priv === U && !(this.getLo(CSR.scounteren) & bit)) throw new Trap(ILLEGAL, 0);
  }

  csrExists(n) {
    if (n >= 0x3a0 && n <= 0x3ef) return true; // pmpcfg/pmpaddr: accepted, no effect
    if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f) || (n >= 0xc03 && n <= 0xc1f)) return true; // hpm counters: zero
    for (const k in CSR) if (CSR[k] === n) return true;
    return n === 0x7a0 || n === 0x7a1 || n === 0x7a2 || n === 0x7a3 || n === 0x5a8; // tselect/tdata: read 0
  }

  csrWrite(n, lo, hi) {
    if (n >>> 10 === 3) throw new Trap(ILLEGAL, 0); // read-only
    if (((n >>> 8) & 3) > this.priv) throw new Trap(ILLEGAL, 0);
    switch (n) {
      case CSR.sstatus: {
        const ms = this.getLo(CSR.mstatus);
        const v = (ms & ~SSTATUS_MASK) | (lo & SSTATUS_MASK);
        this.setCsr(CSR.mstatus, v, this.getHi(CSR.mstatus));
        // Only SUM and MXR change what a cached translation allows (SIE, toggled by every
        // spinlock's push_off/pop_off, does not): keep the TLB otherwise.
        if ((ms ^ v) & (SUM | MXR)) this.flushTlb();
        return;
      }
      case CSR.mstatus: {
        const ms = this.getLo(CSR.mstatus);
        let v = (lo & MSTATUS_WRITABLE) | (ms & ~MSTATUS_WRITABLE);
        if (((v >>> MPP_SHIFT) & 3) === 2) v &= ~(3 << MPP_SHIFT); // MPP is WARL: no H mode
        this.setCsr(CSR.mstatus, v, 0xa);
        // SUM, MXR, MPRV and (for MPRV's effective privilege) MPP decide data translations
        if ((ms ^ v) & (SUM | MXR | MPRV | (3 << MPP_SHIFT))) this.flushTlb();
        return;
      }
      case CSR.sie: {
        const d = this.getLo(CSR.mideleg);
        this.setCsr(CSR.mie, (this.getLo(CSR.mie) & ~d) | (lo & d), 0);
        return;
      }
      case CSR.mie:
        this.setCsr(CSR.mie, lo & (S_INTS | MSIP | MTIP | MEIP), 0);
        return;
      case CSR.sip: {
        const d = this.getLo(CSR.mideleg) & SSIP;
        this.setCsr(CSR.mip, (this.getLo(CSR.mip) & ~d) | (lo & d), 0);
        return;
      }
      case CSR.mip: {
        const w = SSIP | STIP | SEIP;
        this.setCsr(CSR.mip, (this.getLo(CSR.mip) & ~w) | (lo & w), 0);
        return;
      }
      case CSR.mideleg:
        this.setCsr(n, lo & S_INTS, 0);
        return;
      case CSR.medeleg:
        this.setCsr(n, lo & 0xb3ff, 0); // not ecall-from-M (11)
        return;
      case CSR.satp: {
        if (this.priv === S && this.getLo(CSR.mstatus) & TVM) throw new Trap(ILLEGAL, 0);
        const mode = hi >>> 28;
        if (mode !== 0 && mode !== 8) return; // unsupported modes: no change
        this.setCsr(n, lo, hi & 0xf0000fff); // ASID: 0 bits
        this.flushTlb();
        this.fetchPage = -1;
        return;
      }
      case CSR.mtvec:
      case CSR.stvec:
        this.setCsr(n, lo & ~2, hi);
        return;
      case CSR.mepc:
      case CSR.sepc:
        this.setCsr(n, lo & ~3, hi);
        return;
      case CSR.misa:
      case CSR.mhartid:
        return; // WARL, fixed
      case CSR.mcycle:
      case CSR.minstret:
        // the next instruction reads the written value: the writing one does not count
        this.instret = toDouble(lo, hi) - this.blockN - 1;
        return;
      case CSR.mcounteren:
      case CSR.scounteren:
        this.setCsr(n, lo & 7, 0);
        return;
      default:
        if (!this.csrExists(n)) throw new Trap(ILLEGAL, 0);
        if (n >= 0x3a0 && n <= 0x3ef) {
          // PMP: stored and read back (RV64: even pmpcfg only; pmpaddr holds bits 55:2), not enforced
          if (n < 0x3b0 && n & 1) throw new Trap(ILLEGAL, 0);
          this.setCsr(n, lo, n >= 0x3b0 ? hi & 0x3fffff : hi);
          return;
        }
        if (n >= 0x7a0) return; // triggers: accepted
        this.setCsr(n, lo, hi);
    }
  }

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
    this.checkInterrupts();
    const x = this.x;
    const ram32 = this.ram32,
      ram16 = this.ram16,
      rami16 = this.rami16,
      ram8 = this.ram8,
      rami8 = this.rami8;
    const resv = this.resv;
    // the current privilege's TLB, reloaded after anything that may change the privilege
    let { R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb;
    // The pc is fpage + d: fpage the virtual page (a double) and d the byte offset in it (an
    // int), so sequential execution and branches inside the page are integer arithmetic. dlim
    // is 4096 while fbase (the page's RAM byte offset) is valid, 0 to make the next fetch
    // refill (after an absolute jump, fpage holds the whole target and d is 0).
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
    while (n < end) {
      try {
        for (; n < end; n++) {
          // ---- fetch ----
          if (!(d >= 0 && d < dlim)) {
            const pc = fpage + d;
            this.pc = fpage + d;
            const r = this.fetchRefill(pc);
            if (r === -1) {
              // an instruction from a device region: fetch it through the slow path
              fpage = this.exec(this.fetchSlow(pc), pc);
              d = 0;
              dlim = 0;
              ({ R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb);
              continue;
            }
            fpage = Math.floor(pc / 4096) * 4096;
            fbase = r;
            d = (pc - fpage) | 0;
            dlim = 4096;
          }
          const insn = useViews ? ram32[(fbase + d) >>> 2] : this.phys.ld32s(this.fetchPa + d);
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
              d += 4;
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
                this.mulDiv(f3, alo, ahi, blo, bhi);
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
              d += 4;
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
              d += 4;
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
                else {
                  ram32[o >>> 2] = vlo;
                  ram32[(o >>> 2) + 1] = vhi;
                }
                if (resv[0] !== 0) this.breakReservations(o);
              } else {
                this.pc = fpage + d;
                this.stats.tlbMiss++;
                this.storeSlow(lo, hi, size, vlo, vhi);
              }
              d += 4;
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
                // pc is 4-aligned, so the target is iff the offset is
                if ((imm & 3) !== 0) throw new Trap(MISALIGNED_FETCH, fpage + d + imm);
                if (imm < 0 && imm >= -32 && !stored) spins++;
                stored = false;
                d += imm; // may leave the page: the next fetch refills
              } else d += 4;
              break;
            }
            case 0x6f: {
              // JAL
              const imm = ((insn >> 31) << 20) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
              if ((imm & 3) !== 0) throw new Trap(MISALIGNED_FETCH, fpage + d + imm);
              if (rd !== 0) {
                const link = fpage + d + 4;
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
              if (lo & 3) throw new Trap(MISALIGNED_FETCH, target);
              if (rd !== 0) {
                const link = fpage + d + 4;
                x[2 * rd] = link | 0;
                x[2 * rd + 1] = Math.floor(link / TWO32) | 0;
              }
              fpage = target;
              d = 0;
              dlim = 0;
              break;
            }
            case 0x37: // LUI
              if (rd !== 0) {
                x[2 * rd] = insn & 0xfffff000;
                x[2 * rd + 1] = insn >> 31;
              }
              d += 4;
              break;
            case 0x17: {
              // AUIPC
              if (rd !== 0) {
                const v = fpage + d + (insn & 0xfffff000);
                x[2 * rd] = v | 0;
                x[2 * rd + 1] = Math.floor(v / TWO32) | 0;
              }
              d += 4;
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
              d += 4;
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
                v = this.mulDivW(f3, a, b);
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
              d += 4;
              break;
            }
            case 0x0f: // FENCE, FENCE.I
              if ((insn >>> 12) & 7) {
                if (((insn >>> 12) & 7) !== 1) throw new Trap(ILLEGAL, insn >>> 0);
                dlim = 0; // fence.i: refetch
              } else Atomics.load(this.tmp, 0); // a fence: one seq-cst access
              d += 4;
              break;
            default: {
              this.pc = fpage + d;
              this.fetchPage = 0;
              this.blockN = n;
              stored = true; // AMOs, LR/SC, CSRs, fences, WFI: not a pure load spin
              const pc = fpage + d;
              const next = this.exec(insn, pc);
              // the privilege (and with it the TLB) may have changed
              ({ R: tlbR, W: tlbW, Ro: tlbRo, Wo: tlbWo, Rh: tlbRh, Wh: tlbWh } = this.tlb);
              if (next === pc + 4 && this.fetchPage !== -1) d += 4;
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
        this.trap(e.cause, e.tval, false);
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
    const pa = this.translate(lo, hi, 2);
    const o = pa - this.ramBase;
    if (!(o >= 0 && o < this.ramSize)) {
      if (/** @type {import('guestmem').DeviceBus} */ (this.phys.bus).find(pa) === undefined)
        throw new Trap(FETCH_ACCESS, pc);
      return -1;
    }
    this.fill(lo, hi, 2, pa);
    this.fetchPa = Math.floor(pa / 4096) * 4096;
    return Math.floor(o / 4096) * 4096;
  }

  fetchSlow(pc) {
    const lo = pc | 0,
      hi = Math.floor(pc / TWO32) | 0;
    const pa = this.translate(lo, hi, 2);
    return this.physLoad(pa, 4, 2);
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

  /** The M extension's 64-bit operations: result in tmp. */
  mulDiv(f3, alo, ahi, blo, bhi) {
    const t = this.tmp;
    if (f3 === 0) {
      mulLo(alo, ahi, blo, bhi, t);
      return;
    }
    let r;
    const a = big(alo, ahi),
      b = big(blo, bhi),
      au = bigU(alo, ahi),
      bu = bigU(blo, bhi);
    switch (f3) {
      case 1:
        r = (a * b) >> 64n;
        break;
      case 2:
        r = (a * bu) >> 64n;
        break;
      case 3:
        r = (au * bu) >> 64n;
        break;
      case 4:
        r = b === 0n ? -1n : a === -(1n << 63n) && b === -1n ? a : a / b;
        break;
      case 5:
        r = bu === 0n ? (1n << 64n) - 1n : au / bu;
        break;
      case 6:
        r = b === 0n ? a : a === -(1n << 63n) && b === -1n ? 0n : a % b;
        break;
      default:
        r = bu === 0n ? au : au % bu;
    }
    t[0] = Number(BigInt.asUintN(32, r));
    t[1] = Number(BigInt.asIntN(32, r >> 32n));
  }

  mulDivW(f3, a, b) {
    switch (f3) {
      case 0:
        return Math.imul(a, b);
      case 4:
        return b === 0 ? -1 : a === -0x80000000 && b === -1 ? a : (a / b) | 0;
      case 5:
        return b === 0 ? -1 : ((a >>> 0) / (b >>> 0)) | 0;
      case 6:
        return b === 0 ? a : a === -0x80000000 && b === -1 ? 0 : (a % b) | 0;
      case 7:
        return b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0;
      default:
        throw new Trap(ILLEGAL, 0);
    }
  }

  /** The rarer instructions (AMO, SYSTEM, …): returns the next pc. */
  exec(insn, pc) {
    const x = this.x;
    const rd = (insn >>> 7) & 31,
      rs1 = (insn >>> 15) & 31,
      rs2 = (insn >>> 20) & 31;
    const f3 = (insn >>> 12) & 7;
    switch (insn & 0x7f) {
      case 0x2f:
        this.amo(insn, rd, rs1, rs2, f3);
        return pc + 4;
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
          oldLo = this.csrRead(n);
          oldHi = this.tmp[1];
        } else if (((n >>> 8) & 3) > this.priv || !this.csrExists(n)) throw new Trap(ILLEGAL, insn >>> 0);
        if (writes) {
          let lo = srcLo,
            hi = srcHi;
          if (op === 2) {
            lo = oldLo | srcLo;
            hi = oldHi | srcHi;
          } else if (op === 3) {
            lo = oldLo & ~srcLo;
            hi = oldHi & ~srcHi;
          }
          this.csrWrite(n, lo, hi);
        }
        if (rd !== 0) {
          x[2 * rd] = oldLo;
          x[2 * rd + 1] = oldHi;
        }
        this.fetchPage = -1; // satp/mstatus may have changed the fetch translation
        return this.afterSystem(pc + 4);
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
    if ((this.mip() & this.getLo(CSR.mie)) !== 0 && this.checkInterrupts()) return this.pc;
    return next;
  }

  /**
   * A store to RAM offset `o` clears every reservation on its 8-byte granule (this hart's own
   * too). Called only while some hart holds one (`resv[0]`, one load on every store).
   */
  breakReservations(o) {
    const resv = this.resv;
    const g = o >>> 3;
    for (let k = 1; k < resv.length; k++) {
      if (resv[k] === g && Atomics.compareExchange(resv, k, g, -1) === g) Atomics.sub(resv, 0, 1);
    }
  }

  /** LR/SC and the AMOs, as atomic operations on shared memory. */
  amo(insn, rd, rs1, rs2, f3) {
    const x = this.x;
    const f5 = insn >>> 27;
    const alo = x[2 * rs1],
      ahi = x[2 * rs1 + 1];
    if (f3 !== 2 && f3 !== 3) throw new Trap(ILLEGAL, insn >>> 0);
    const size = f3 === 2 ? 4 : 8;
    const vlo = x[2 * rs2],
      vhi = x[2 * rs2 + 1];
    const mem = this.ram32;
    let oldLo, oldHi;
    if (f5 === 2) {
      // lr
      if (rs2 !== 0) throw new Trap(ILLEGAL, insn >>> 0);
      if ((alo & (size - 1)) !== 0) throw new Trap(MISALIGNED_LOAD, toDouble(alo, ahi));
      const pa = this.translate(alo, ahi, 0);
      const o = pa - this.ramBase;
      if (!(o >= 0 && o + size <= this.ramSize)) throw this.accessFault(0, pa);
      // publish the reservation before reading, so a store after the read sees it
      if (Atomics.exchange(this.resv, this.resSlot, o >>> 3) === -1) Atomics.add(this.resv, 0, 1);
      oldLo = Atomics.load(mem, o >>> 2);
      oldHi = size === 8 ? Atomics.load(mem, (o >>> 2) + 1) : oldLo >> 31;
      this.resAddr = o;
      this.resLo = oldLo;
      this.resHi = size === 8 ? oldHi : 0;
      this.resSize = size;
    } else if (f5 === 3) {
      // sc: succeeds if the reservation still holds (no hart stored to the granule since: their
      // stores clear it in `resv`) and memory still has the value lr read (a compare-and-swap,
      // which also catches a store racing with this sc)
      const o = this.amoTarget(alo, ahi, size);
      const held = Atomics.exchange(this.resv, this.resSlot, -1); // take it: a breaker now misses
      if (held !== -1) Atomics.sub(this.resv, 0, 1);
      let ok = false;
      if (held === o >>> 3 && this.resAddr === o && this.resSize === size) {
        if (size === 4) ok = Atomics.compareExchange(mem, o >>> 2, this.resLo, vlo) === this.resLo;
        else ok = this.cas64(o, this.resLo, this.resHi, vlo, vhi);
      }
      if (ok && this.resv[0] !== 0) this.breakReservations(o);
      oldLo = ok ? 0 : 1;
      oldHi = 0;
    } else {
      const o = this.amoTarget(alo, ahi, size);
      if (this.resv[0] !== 0) this.breakReservations(o);
      if (size === 4) {
        oldLo = this.amo32(f5, o >>> 2, vlo, insn);
        oldHi = oldLo >> 31;
      } else {
        oldLo = this.amo64(f5, o, vlo, vhi, insn);
        oldHi = this.tmp[1];
      }
    }
    if (rd !== 0) {
      x[2 * rd] = oldLo;
      x[2 * rd + 1] = oldHi;
    }
  }

  amo32(f5, i, v, insn) {
    const m = this.ram32;
    switch (f5) {
      case 0:
        return Atomics.add(m, i, v);
      case 1:
        return Atomics.exchange(m, i, v);
      case 4:
        return Atomics.xor(m, i, v);
      case 8:
        return Atomics.or(m, i, v);
      case 12:
        return Atomics.and(m, i, v);
      case 16:
      case 20:
      case 24:
      case 28:
        for (;;) {
          const old = Atomics.load(m, i);
          let nv;
          if (f5 === 16) nv = old < v ? old : v;
          else if (f5 === 20) nv = old > v ? old : v;
          else if (f5 === 24) nv = old >>> 0 < v >>> 0 ? old : v;
          else nv = old >>> 0 > v >>> 0 ? old : v;
          if (Atomics.compareExchange(m, i, old, nv) === old) return old;
        }
      default:
        throw new Trap(ILLEGAL, insn >>> 0);
    }
  }

  /**
   * 64-bit AMOs as a compare-and-swap loop on the two halves, made atomic by a per-word lock
   * would be ideal; here the high half is updated with compareExchange after the low half, and
   * the pair is retried if either moved (other harts' 64-bit AMOs use the same protocol).
   */
  amo64(f5, o, vlo, vhi, insn) {
    const t = this.tmp;
    for (;;) {
      const lo = Atomics.load(this.ram32, o >>> 2),
        hi = Atomics.load(this.ram32, (o >>> 2) + 1);
      let nlo, nhi;
      switch (f5) {
        case 0:
          nlo = (lo + vlo) | 0;
          nhi = (hi + vhi + (nlo >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
          break;
        case 1:
          nlo = vlo;
          nhi = vhi;
          break;
        case 4:
          nlo = lo ^ vlo;
          nhi = hi ^ vhi;
          break;
        case 8:
          nlo = lo | vlo;
          nhi = hi | vhi;
          break;
        case 12:
          nlo = lo & vlo;
          nhi = hi & vhi;
          break;
        case 16:
        case 20:
        case 24:
        case 28: {
          const signed = f5 < 24;
          const less = signed
            ? hi < vhi || (hi === vhi && lo >>> 0 < vlo >>> 0)
            : hi >>> 0 < vhi >>> 0 || (hi === vhi && lo >>> 0 < vlo >>> 0);
          const keepOld = f5 === 16 || f5 === 24 ? less : !less && !(hi === vhi && lo === vlo) ? true : !less;
          nlo = keepOld ? lo : vlo;
          nhi = keepOld ? hi : vhi;
          break;
        }
        default:
          throw new Trap(ILLEGAL, insn >>> 0);
      }
      if (this.cas64(o, lo, hi, nlo, nhi)) {
        t[1] = hi;
        return lo;
      }
    }
  }

  /**
   * A 64-bit compare-and-swap on two 32-bit words, serialized by a global lock word shared by
   * every hart (the last word of the state buffer's lock area): 64-bit AMOs are rare.
   */
  cas64(o, elo, ehi, nlo, nhi) {
    const lock = this.platform.lock;
    while (Atomics.compareExchange(lock, 0, 0, 1) !== 0);
    const i = o >>> 2;
    const ok = Atomics.load(this.ram32, i) === elo && Atomics.load(this.ram32, i + 1) === ehi;
    if (ok) {
      Atomics.store(this.ram32, i, nlo);
      Atomics.store(this.ram32, i + 1, nhi);
    }
    Atomics.store(lock, 0, 0);
    return ok;
  }
}

export { CSR, Trap, M, S, U };
