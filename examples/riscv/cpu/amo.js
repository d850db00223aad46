// The A extension: LR/SC reservations shared by every hart, and the AMOs as Atomics operations
// on the shared RAM.
import { ILLEGAL, MISALIGNED_LOAD, Trap, toDouble } from './constants.js';

/** @typedef {import('./cpu.js').Cpu} Cpu */

/**
 * A store to RAM offset `o` clears every reservation on its 8-byte granule (this hart's own
 * too). Called only while some hart holds one (`resv[0]`, one load on every store).
 * @param {Cpu} cpu
 */
export function breakReservations(cpu, o) {
  const resv = cpu.resv;
  const g = o >>> 3;
  for (let k = 1; k < resv.length; k++) {
    if (resv[k] === g && Atomics.compareExchange(resv, k, g, -1) === g) Atomics.sub(resv, 0, 1);
  }
}

/**
 * LR/SC and the AMOs, as atomic operations on shared memory.
 * @param {Cpu} cpu
 */
export function amo(cpu, insn, rd, rs1, rs2, f3) {
  const x = cpu.x;
  const f5 = insn >>> 27;
  const alo = x[2 * rs1],
    ahi = x[2 * rs1 + 1];
  if (f3 !== 2 && f3 !== 3) throw new Trap(ILLEGAL, insn >>> 0);
  const size = f3 === 2 ? 4 : 8;
  const vlo = x[2 * rs2],
    vhi = x[2 * rs2 + 1];
  const mem = cpu.ram32;
  let oldLo, oldHi;
  if (f5 === 2) {
    // lr
    if (rs2 !== 0) throw new Trap(ILLEGAL, insn >>> 0);
    if ((alo & (size - 1)) !== 0) throw new Trap(MISALIGNED_LOAD, toDouble(alo, ahi));
    const o = cpu.lrTarget(alo, ahi, size);
    // publish the reservation before reading, so a store after the read sees it
    if (Atomics.exchange(cpu.resv, cpu.resSlot, o >>> 3) === -1) Atomics.add(cpu.resv, 0, 1);
    if (size === 8) {
      const v = Atomics.load(cpu.ram64, o >>> 3);
      oldLo = Number(BigInt.asIntN(32, v));
      oldHi = Number(v >> 32n);
    } else {
      oldLo = Atomics.load(mem, o >>> 2);
      oldHi = oldLo >> 31;
    }
    cpu.resAddr = o;
    cpu.resLo = oldLo;
    cpu.resHi = size === 8 ? oldHi : 0;
    cpu.resSize = size;
  } else if (f5 === 3) {
    // sc: succeeds if the reservation still holds (no hart stored to the granule since: their
    // stores clear it in `resv`) and memory still has the value lr read (a compare-and-swap,
    // which also catches a store racing with this sc)
    const o = cpu.amoTarget(alo, ahi, size);
    const held = Atomics.exchange(cpu.resv, cpu.resSlot, -1); // take it: a breaker now misses
    if (held !== -1) Atomics.sub(cpu.resv, 0, 1);
    let ok = false;
    if (held === o >>> 3 && cpu.resAddr === o && cpu.resSize === size) {
      if (size === 4) ok = Atomics.compareExchange(mem, o >>> 2, cpu.resLo, vlo) === cpu.resLo;
      else ok = cas64(cpu, o, cpu.resLo, cpu.resHi, vlo, vhi);
    }
    if (ok && cpu.resv[0] !== 0) breakReservations(cpu, o);
    oldLo = ok ? 0 : 1;
    oldHi = 0;
  } else {
    const o = cpu.amoTarget(alo, ahi, size);
    if (cpu.resv[0] !== 0) breakReservations(cpu, o);
    if (size === 4) {
      oldLo = amo32(cpu, f5, o >>> 2, vlo, insn);
      oldHi = oldLo >> 31;
    } else {
      oldLo = amo64(cpu, f5, o, vlo, vhi, insn);
      oldHi = cpu.tmp[1];
    }
  }
  if (rd !== 0) {
    x[2 * rd] = oldLo;
    x[2 * rd + 1] = oldHi;
  }
}

/** @param {Cpu} cpu */
export function amo32(cpu, f5, i, v, insn) {
  const m = cpu.ram32;
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

/** (lo, hi) as a signed 64-bit BigInt. */
const big = (lo, hi) => (BigInt(hi) << 32n) | BigInt(lo >>> 0);

/**
 * The 64-bit AMOs as single 8-byte atomic operations on the shared RAM (BigInt64Array
 * Atomics): lock-free, and of a piece with every hart's aligned 8-byte loads and stores, which
 * are single accesses too. Returns the old value's low word, its high word in cpu.tmp[1].
 * @param {Cpu} cpu
 */
export function amo64(cpu, f5, o, vlo, vhi, insn) {
  const m = cpu.ram64;
  const i = o >>> 3;
  const v = big(vlo, vhi);
  let old;
  switch (f5) {
    case 0:
      old = Atomics.add(m, i, v);
      break;
    case 1:
      old = Atomics.exchange(m, i, v);
      break;
    case 4:
      old = Atomics.xor(m, i, v);
      break;
    case 8:
      old = Atomics.or(m, i, v);
      break;
    case 12:
      old = Atomics.and(m, i, v);
      break;
    case 16: // amomin, amomax, amominu, amomaxu: compare-and-swap until it holds
    case 20:
    case 24:
    case 28: {
      const vu = BigInt.asUintN(64, v);
      for (;;) {
        old = Atomics.load(m, i);
        const ou = BigInt.asUintN(64, old);
        const keepOld = f5 === 16 ? old < v : f5 === 20 ? old > v : f5 === 24 ? ou < vu : ou > vu;
        if (keepOld || Atomics.compareExchange(m, i, old, v) === old) break;
      }
      break;
    }
    default:
      throw new Trap(ILLEGAL, insn >>> 0);
  }
  cpu.tmp[1] = Number(old >> 32n);
  return Number(BigInt.asIntN(32, old));
}

/**
 * A 64-bit compare-and-swap at RAM offset `o` (8-byte aligned): one atomic operation.
 * @param {Cpu} cpu
 */
export function cas64(cpu, o, elo, ehi, nlo, nhi) {
  const e = big(elo, ehi);
  return Atomics.compareExchange(cpu.ram64, o >>> 3, e, big(nlo, nhi)) === e;
}
