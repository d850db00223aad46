// The MMU: Sv39 page walks with A/D updates, the software TLB sets (read, write and fetch
// entries per privilege mode) and the fault a failed access raises.
import {
  CSR,
  FETCH_ACCESS,
  FETCH_PAGE,
  LOAD_ACCESS,
  LOAD_PAGE,
  M,
  MXR,
  S,
  STORE_ACCESS,
  STORE_PAGE,
  SUM,
  TWO32,
  Trap,
  U,
  toDouble,
} from './constants.js';

/** @typedef {import('./cpu.js').Cpu} Cpu */

export const TLB_BITS = 8;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/** An empty TLB: per entry the virtual page (low word), its high word and the RAM offset. */
export function tlbSet() {
  const a = () => new Int32Array(TLB_SIZE);
  return { R: a().fill(-1), W: a().fill(-1), X: a().fill(-1), Ro: a(), Wo: a(), Xo: a(), Rh: a(), Wh: a(), Xh: a() };
}

/**
 * Translates virtual address (lo, hi) for an access (0 read, 1 write, 2 execute); returns the
 * physical address (double). Sets A/D bits. Throws a page fault Trap.
 * @param {Cpu} cpu
 */
export function translate(cpu, lo, hi, access) {
  const priv = access === 2 ? cpu.priv : cpu.dataPriv();
  const satpHi = cpu.getHi(CSR.satp);
  const va = toDouble(lo, hi);
  if (priv === M || satpHi >>> 28 !== 8) return hi < 0 ? va + 2 ** 64 : va; // bare
  // Sv39: bits 63..39 must equal bit 38
  const top = hi >> 6; // bits 63..38 of the address as a signed value: all 0 or all 1
  if (top !== 0 && top !== -1) throw pageFault(cpu, access, lo, hi);
  const vpn = [(lo >>> 12) & 0x1ff, (lo >>> 21) & 0x1ff, ((lo >>> 30) | (hi << 2)) & 0x1ff];
  let a = ((cpu.getLo(CSR.satp) >>> 0) + (satpHi & 0xfff) * TWO32) * 4096; // root table
  const ms = cpu.getLo(CSR.mstatus);
  for (let level = 2; level >= 0; level--) {
    const pteAddr = a + vpn[level] * 8;
    const plo = cpu.physLoad(pteAddr, 4, access) >>> 0;
    const phi = cpu.physLoad(pteAddr + 4, 4, access) >>> 0;
    const v = plo & 1,
      r = plo & 2,
      w = plo & 4,
      xb = plo & 8,
      ub = plo & 16;
    if (!v || (!r && w) || phi >>> 22 !== 0) throw pageFault(cpu, access, lo, hi);
    const ppn = (plo >>> 10) + (phi & 0x3fffff) * 4194304; // PTE bits 53:10
    if (!r && !xb) {
      if (level === 0) throw pageFault(cpu, access, lo, hi);
      a = ppn * 4096;
      continue;
    }
    // a leaf: permissions
    if (priv === U && !ub) throw pageFault(cpu, access, lo, hi);
    if (priv === S && ub && (access === 2 || !(ms & SUM))) throw pageFault(cpu, access, lo, hi);
    if (access === 0 && !r && !(ms & MXR && xb)) throw pageFault(cpu, access, lo, hi);
    if (access === 1 && !w) throw pageFault(cpu, access, lo, hi);
    if (access === 2 && !xb) throw pageFault(cpu, access, lo, hi);
    // superpages must be aligned
    const ppnLo = ppn % 512,
      ppnMid = Math.floor(ppn / 512) % 512;
    if ((level >= 1 && ppnLo !== 0) || (level === 2 && ppnMid !== 0)) throw pageFault(cpu, access, lo, hi);
    // A and D, set atomically: if another hart changed the PTE since it was read (an
    // amoswap clearing it, say), walk again rather than write the old PTE back
    const need = 0x40 | (access === 1 ? 0x80 : 0);
    if ((plo & need) !== need && !cpu.casPte(pteAddr, plo, plo | need)) return translate(cpu, lo, hi, access);
    let base = ppn;
    if (level >= 1) base += vpn[0];
    if (level === 2) base += vpn[1] * 512;
    return base * 4096 + (lo & 0xfff);
  }
  throw pageFault(cpu, access, lo, hi);
}

/** @param {Cpu} cpu */
export function pageFault(cpu, access, lo, hi) {
  return new Trap(access === 0 ? LOAD_PAGE : access === 1 ? STORE_PAGE : FETCH_PAGE, toDouble(lo, hi));
}

/** @param {Cpu} cpu */
export function accessFault(cpu, access, va) {
  return new Trap(access === 0 ? LOAD_ACCESS : access === 1 ? STORE_ACCESS : FETCH_ACCESS, va);
}

/**
 * Fills the TLB for virtual (lo, hi) if the page is RAM.
 * @param {Cpu} cpu
 */
export function fill(cpu, lo, hi, access, pa) {
  if (!cpu.useViews) return;
  const ro = pa - (lo & 0xfff) - cpu.ramBase;
  if (ro < 0 || ro >= cpu.ramSize) return;
  if (access === 1 && cpu.dirty !== null) cpu.dirty.lookup(pa, true);
  const vpn = lo >>> 12;
  const e = vpn & TLB_MASK;
  if (access === 0) {
    cpu.tlbR[e] = vpn;
    cpu.tlbRh[e] = hi;
    cpu.tlbRo[e] = ro;
  } else if (access === 1) {
    cpu.tlbW[e] = vpn;
    cpu.tlbWh[e] = hi;
    cpu.tlbWo[e] = ro;
    cpu.tlbR[e] = vpn; // a writable page is readable (D set, A set)
    cpu.tlbRh[e] = hi;
    cpu.tlbRo[e] = ro;
  } else {
    cpu.tlbX[e] = vpn;
    cpu.tlbXh[e] = hi;
    cpu.tlbXo[e] = ro;
  }
}
