// The CSR file: reads and writes with each register's privilege, WARL masks and side effects
// (TLB flushes on the translation bits, counters from instret and the platform's mtime).
import {
  CSR,
  ILLEGAL,
  M,
  MEIP,
  MPP_SHIFT,
  MPRV,
  MSIP,
  MSTATUS_WRITABLE,
  MTIP,
  MXR,
  S,
  SEIP,
  SSIP,
  SSTATUS_MASK,
  STIP,
  SUM,
  S_INTS,
  TVM,
  TWO32,
  Trap,
  U,
  toDouble,
} from './constants.js';

import { fpDirty, fpOn } from './fpu.js';

const FS_DIRTY = 3 << 13;
/** The CSRs this hart has by name (see CSR). */
const NAMED = new Set(Object.values(CSR));

/** @typedef {import('./cpu.js').Cpu} Cpu */

/** fflags, frm and fcsr are views of one register: [shift, mask] of the bits each one shows. */
const fcsrView = (n) => (n === CSR.fflags ? [0, 31] : n === CSR.frm ? [5, 7] : [0, 0xff]);

/** @param {Cpu} cpu */
export function csrRead(cpu, n) {
  const priv = cpu.priv;
  if (((n >>> 8) & 3) > priv) throw new Trap(ILLEGAL, 0);
  switch (n) {
    case CSR.fflags:
    case CSR.frm:
    case CSR.fcsr: {
      if (!fpOn(cpu)) throw new Trap(ILLEGAL, 0);
      const [shift, mask] = fcsrView(n);
      cpu.tmp[1] = 0;
      return (cpu.getLo(CSR.fcsr) >>> shift) & mask;
    }
    case CSR.mstatus:
    case CSR.sstatus: {
      // SD (bit 63) summarizes FS == Dirty
      const ms = cpu.getLo(CSR.mstatus);
      const sd = (ms & FS_DIRTY) === FS_DIRTY ? 0x80000000 | 0 : 0;
      if (n === CSR.mstatus) {
        cpu.tmp[1] = cpu.getHi(CSR.mstatus) | sd;
        return ms;
      }
      cpu.tmp[1] = (cpu.getHi(CSR.mstatus) & 3) | sd; // UXL
      return ms & SSTATUS_MASK;
    }
    case CSR.sie:
      cpu.tmp[1] = 0;
      return cpu.getLo(CSR.mie) & cpu.getLo(CSR.mideleg);
    case CSR.sip:
      cpu.tmp[1] = 0;
      return cpu.mip() & cpu.getLo(CSR.mideleg);
    case CSR.mip:
      cpu.tmp[1] = 0;
      return cpu.mip();
    case CSR.satp:
      if (priv === S && cpu.getLo(CSR.mstatus) & TVM) throw new Trap(ILLEGAL, 0);
      break;
    case CSR.cycle:
    case CSR.instret:
    case CSR.time:
      counterAllowed(cpu, n);
    // fallthrough
    case CSR.mcycle:
    case CSR.minstret: {
      const v = n === CSR.time ? cpu.platform.mtime() : cpu.instret + cpu.blockN;
      cpu.tmp[1] = Math.floor(v / TWO32) | 0;
      return v | 0;
    }
    default:
      if (!csrExists(cpu, n)) throw new Trap(ILLEGAL, 0);
  }
  cpu.tmp[1] = cpu.getHi(n);
  return cpu.getLo(n);
}

/** @param {Cpu} cpu */
export function counterAllowed(cpu, n) {
  const bit = 1 << (n - 0xc00);
  if (cpu.priv < M && !(cpu.getLo(CSR.mcounteren) & bit)) throw new Trap(ILLEGAL, 0);
  if (cpu.priv === U && !(cpu.getLo(CSR.scounteren) & bit)) throw new Trap(ILLEGAL, 0);
}

/** @param {Cpu} cpu */
export function csrExists(cpu, n) {
  if (n >= 0x3a0 && n <= 0x3ef) return true; // pmpcfg/pmpaddr: accepted, no effect
  if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f) || (n >= 0xc03 && n <= 0xc1f)) return true; // hpm counters: zero
  if (NAMED.has(n)) return true;
  return n === 0x7a0 || n === 0x7a1 || n === 0x7a2 || n === 0x7a3 || n === 0x5a8; // tselect/tdata: read 0
}

/** @param {Cpu} cpu */
export function csrWrite(cpu, n, lo, hi) {
  if (n >>> 10 === 3) throw new Trap(ILLEGAL, 0); // read-only
  if (((n >>> 8) & 3) > cpu.priv) throw new Trap(ILLEGAL, 0);
  switch (n) {
    case CSR.fflags:
    case CSR.frm:
    case CSR.fcsr: {
      if (!fpOn(cpu)) throw new Trap(ILLEGAL, 0);
      const [shift, mask] = fcsrView(n);
      cpu.setCsr(CSR.fcsr, (cpu.getLo(CSR.fcsr) & ~(mask << shift)) | ((lo & mask) << shift), 0);
      fpDirty(cpu);
      return;
    }
    case CSR.sstatus: {
      const ms = cpu.getLo(CSR.mstatus);
      const v = ((ms & ~SSTATUS_MASK) | (lo & SSTATUS_MASK)) & (cpu.fpu ? -1 : ~FS_DIRTY);
      cpu.setCsr(CSR.mstatus, v, cpu.getHi(CSR.mstatus));
      // Only SUM and MXR change what a cached translation allows (SIE, toggled by every
      // spinlock's push_off/pop_off, does not): keep the TLB otherwise.
      if ((ms ^ v) & (SUM | MXR)) cpu.flushTlb();
      return;
    }
    case CSR.mstatus: {
      const ms = cpu.getLo(CSR.mstatus);
      let v = (lo & MSTATUS_WRITABLE) | (ms & ~MSTATUS_WRITABLE);
      if (((v >>> MPP_SHIFT) & 3) === 2) v &= ~(3 << MPP_SHIFT); // MPP is WARL: no H mode
      if (!cpu.fpu) v &= ~FS_DIRTY; // FS is read-only zero without F and D
      cpu.setCsr(CSR.mstatus, v, 0xa);
      // SUM, MXR, MPRV and (for MPRV's effective privilege) MPP decide data translations
      if ((ms ^ v) & (SUM | MXR | MPRV | (3 << MPP_SHIFT))) cpu.flushTlb();
      return;
    }
    case CSR.sie: {
      const d = cpu.getLo(CSR.mideleg);
      cpu.setCsr(CSR.mie, (cpu.getLo(CSR.mie) & ~d) | (lo & d), 0);
      return;
    }
    case CSR.mie:
      cpu.setCsr(CSR.mie, lo & (S_INTS | MSIP | MTIP | MEIP), 0);
      return;
    case CSR.sip: {
      const d = cpu.getLo(CSR.mideleg) & SSIP;
      cpu.setCsr(CSR.mip, (cpu.getLo(CSR.mip) & ~d) | (lo & d), 0);
      return;
    }
    case CSR.mip: {
      const w = SSIP | STIP | SEIP;
      cpu.setCsr(CSR.mip, (cpu.getLo(CSR.mip) & ~w) | (lo & w), 0);
      return;
    }
    case CSR.mideleg:
      cpu.setCsr(n, lo & S_INTS, 0);
      return;
    case CSR.medeleg:
      cpu.setCsr(n, lo & 0xb3ff, 0); // not ecall-from-M (11)
      return;
    case CSR.satp: {
      if (cpu.priv === S && cpu.getLo(CSR.mstatus) & TVM) throw new Trap(ILLEGAL, 0);
      const mode = hi >>> 28;
      if (mode !== 0 && mode !== 8) return; // unsupported modes: no change
      cpu.setCsr(n, lo, hi & 0xf0000fff); // ASID: 0 bits
      cpu.flushTlb();
      cpu.fetchPage = -1;
      return;
    }
    case CSR.mtvec:
    case CSR.stvec:
      cpu.setCsr(n, lo & ~2, hi);
      return;
    case CSR.mepc:
    case CSR.sepc:
      cpu.setCsr(n, lo & ~1, hi); // IALIGN 16 (C): bit 0 only
      return;
    case CSR.misa:
    case CSR.mhartid:
      return; // WARL, fixed
    case CSR.mcycle:
    case CSR.minstret:
      // the next instruction reads the written value: the writing one does not count
      cpu.instret = toDouble(lo, hi) - cpu.blockN - 1;
      return;
    case CSR.mcounteren:
    case CSR.scounteren:
      cpu.setCsr(n, lo & 7, 0);
      return;
    default:
      if (!csrExists(cpu, n)) throw new Trap(ILLEGAL, 0);
      if (n >= 0x3a0 && n <= 0x3ef) {
        // PMP: stored and read back (RV64: even pmpcfg only; pmpaddr holds bits 55:2), not enforced
        if (n < 0x3b0 && n & 1) throw new Trap(ILLEGAL, 0);
        cpu.setCsr(n, lo, n >= 0x3b0 ? hi & 0x3fffff : hi);
        return;
      }
      // triggers are accepted and ignored; mhpmcounter3-31 and mhpmevent3-31 are hardwired
      // zero (OpenSBI probes them by writing and reading back, and finds none)
      if (n >= 0x7a0 || (n >= 0x323 && n <= 0x33f)) return;
      cpu.setCsr(n, lo, hi);
  }
}
