// Traps: taking an exception or interrupt (delegation to S mode, the xepc/xcause/xtval CSRs,
// the mstatus stack), the trap vector, and choosing the pending interrupt to take.
import { CSR, M, MIE, MPIE, MPP_SHIFT, MPRV, S, SIE, SPIE, SPP, TWO32, toDouble } from './constants.js';

/** @typedef {import('./cpu.js').Cpu} Cpu */

/** Debugging: RISCV_TRACE_TRAPS=n prints each hart's first n traps to stderr. */
const TRACE_TRAPS = Number(process.env.RISCV_TRACE_TRAPS ?? 0);

/** @param {Cpu} cpu */
export function trap(cpu, cause, tval, isInterrupt) {
  cpu.stats.traps++;
  // a trap drops this hart's reservation (an sc after it may fail; none is left dangling)
  if (cpu.resv[cpu.resSlot] !== -1 && Atomics.exchange(cpu.resv, cpu.resSlot, -1) !== -1) Atomics.sub(cpu.resv, 0, 1);
  if (!isInterrupt) cpu.stats.exceptions++;
  if (TRACE_TRAPS > 0 && (isInterrupt ? cpu.stats.interrupts : cpu.stats.exceptions) < TRACE_TRAPS)
    process.stderr.write(
      `hart ${cpu.hartid}: ${isInterrupt ? 'interrupt' : 'exception'} ${cause} at pc 0x${cpu.pc.toString(16)} tval 0x${tval.toString(16)} priv ${cpu.priv}\n`,
    );
  if (isInterrupt) cpu.stats.interrupts++;
  const pc = cpu.pc;
  const deleg = isInterrupt ? cpu.getLo(CSR.mideleg) : cpu.getLo(CSR.medeleg);
  const ms = cpu.getLo(CSR.mstatus);
  const tvLo = tval | 0,
    tvHi = Math.floor(tval / TWO32) | 0;
  const pcLo = pc | 0,
    pcHi = Math.floor(pc / TWO32) | 0;
  if (cpu.priv <= S && (deleg >>> cause) & 1) {
    cpu.setCsr(CSR.sepc, pcLo, pcHi);
    cpu.setCsr(CSR.scause, cause, isInterrupt ? 0x80000000 | 0 : 0);
    cpu.setCsr(CSR.stval, tvLo, tvHi);
    let s = ms & ~(SPIE | SPP | SIE);
    if (ms & SIE) s |= SPIE;
    if (cpu.priv === S) s |= SPP;
    cpu.setCsr(CSR.mstatus, s, cpu.getHi(CSR.mstatus));
    cpu.setPriv(S);
    cpu.pc = vector(cpu, CSR.stvec, cause, isInterrupt);
  } else {
    cpu.setCsr(CSR.mepc, pcLo, pcHi);
    cpu.setCsr(CSR.mcause, cause, isInterrupt ? 0x80000000 | 0 : 0);
    cpu.setCsr(CSR.mtval, tvLo, tvHi);
    let s = ms & ~(MPIE | (3 << MPP_SHIFT) | MIE);
    if (ms & MIE) s |= MPIE;
    s |= cpu.priv << MPP_SHIFT;
    cpu.setCsr(CSR.mstatus, s, cpu.getHi(CSR.mstatus));
    if (s & MPRV && cpu.priv === M) cpu.flushTlb(); // MPP, MPRV's effective privilege, changed
    cpu.setPriv(M);
    cpu.pc = vector(cpu, CSR.mtvec, cause, isInterrupt);
  }
  cpu.fetchPage = -1;
}

/** @param {Cpu} cpu */
export function vector(cpu, csr, cause, isInterrupt) {
  const lo = cpu.getLo(csr),
    hi = cpu.getHi(csr);
  const base = toDouble(lo & ~3, hi);
  return isInterrupt && (lo & 3) === 1 ? base + 4 * cause : base;
}

/**
 * Takes the highest-priority enabled pending interrupt, if any; returns whether it did.
 * @param {Cpu} cpu
 */
export function checkInterrupts(cpu) {
  const pending = cpu.mip() & cpu.getLo(CSR.mie);
  if (pending === 0) return false;
  const ms = cpu.getLo(CSR.mstatus);
  const deleg = cpu.getLo(CSR.mideleg);
  const mEnabled = cpu.priv < M || (ms & MIE) !== 0;
  const sEnabled = cpu.priv < S || (cpu.priv === S && (ms & SIE) !== 0);
  const m = pending & ~deleg;
  const s = pending & deleg;
  let take = 0;
  if (mEnabled && m) take = m;
  else if (sEnabled && s) take = s;
  if (take === 0) return false;
  for (const cause of [11, 3, 7, 9, 1, 5]) {
    if (take & (1 << cause)) {
      trap(cpu, cause, 0, true);
      return true;
    }
  }
  return false;
}
