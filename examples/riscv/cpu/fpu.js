// The F and D extensions: 32 floating-point registers of 64 bits (in cpu.f, low and high
// halves), fcsr (its frm and fflags), mstatus.FS, and every F/D instruction on top of the
// exact arithmetic of softfloat.js. Single values live NaN-boxed (upper 32 bits all ones); an
// operand that is not boxed reads as the canonical NaN. An FP instruction or FP CSR access with
// FS = Off is illegal; every write of FP state sets FS to Dirty (SD follows it on reads).
import { CSR, ILLEGAL, Trap } from './constants.js';
import {
  add,
  classify,
  compare,
  convert,
  div,
  F32,
  F64,
  fma,
  fromInt,
  minMax,
  mul,
  sqrt,
  takeFlags,
  toInt,
} from './softfloat.js';

/** @typedef {import('./cpu.js').Cpu} Cpu */

const FS = 3 << 13;
const BOX = -1; // the high word of a NaN-boxed single
const CANONICAL_S = 0x7fc00000n;

/** Whether FP state is on (mstatus.FS != Off); FP instructions and CSRs are illegal otherwise. @param {Cpu} cpu */
export const fpOn = (cpu) => (cpu.csr[2 * CSR.mstatus] & FS) !== 0;

/** Marks the FP state dirty (FS = 3). @param {Cpu} cpu */
export function fpDirty(cpu) {
  cpu.csr[2 * CSR.mstatus] |= FS;
}

/** Adds exception flags to fflags (in fcsr), marking the state dirty. @param {Cpu} cpu @param {number} f */
function raise(cpu, f) {
  if (f === 0) return;
  cpu.csr[2 * CSR.fcsr] |= f;
  fpDirty(cpu);
}

/** @param {Cpu} cpu @param {number} r */
const readD = (cpu, r) => (BigInt(cpu.f[2 * r + 1] >>> 0) << 32n) | BigInt(cpu.f[2 * r] >>> 0);
/** @param {Cpu} cpu @param {number} r */
const readS = (cpu, r) => (cpu.f[2 * r + 1] === BOX ? BigInt(cpu.f[2 * r] >>> 0) : CANONICAL_S);
/** @param {Cpu} cpu @param {number} r @param {bigint} bits */
function writeD(cpu, r, bits) {
  cpu.f[2 * r] = Number(bits & 0xffffffffn) | 0;
  cpu.f[2 * r + 1] = Number(bits >> 32n) | 0;
  fpDirty(cpu);
}
/** @param {Cpu} cpu @param {number} r @param {bigint} bits */
function writeS(cpu, r, bits) {
  cpu.f[2 * r] = Number(bits) | 0;
  cpu.f[2 * r + 1] = BOX;
  fpDirty(cpu);
}
/** Writes integer register rd (not x0) from a BigInt, taken as 64 bits. @param {Cpu} cpu */
function writeX(cpu, rd, v) {
  if (rd === 0) return;
  const u = BigInt.asUintN(64, v);
  cpu.x[2 * rd] = Number(u & 0xffffffffn) | 0;
  cpu.x[2 * rd + 1] = Number(u >> 32n) | 0;
}
/** @param {Cpu} cpu */
const readX = (cpu, r) => (BigInt(cpu.x[2 * r + 1]) << 32n) | BigInt(cpu.x[2 * r] >>> 0);

/** The rounding mode of an instruction: its rm field, or frm for 7 (dynamic); 5 and 6 are illegal. */
function roundingMode(cpu, rm, insn) {
  const m = rm === 7 ? (cpu.csr[2 * CSR.fcsr] >>> 5) & 7 : rm;
  if (m > 4) throw new Trap(ILLEGAL, insn >>> 0);
  return m;
}

/**
 * flw/fld (LOAD-FP) and fsw/fsd (STORE-FP) at the virtual address (lo, hi), through the hart's
 * load and store paths (TLB, faults, devices).
 * @param {Cpu} cpu @param {number} insn
 */
export function fpLoadStore(cpu, insn) {
  if (!fpOn(cpu)) throw new Trap(ILLEGAL, insn >>> 0);
  const f3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const store = (insn & 0x7f) === 0x27;
  const imm = store ? ((insn >> 25) << 5) | ((insn >>> 7) & 31) : insn >> 20;
  if (f3 !== 2 && f3 !== 3) throw new Trap(ILLEGAL, insn >>> 0);
  const blo = cpu.x[2 * rs1];
  const lo = (blo + imm) | 0;
  const hi = (cpu.x[2 * rs1 + 1] + (imm >> 31) + (lo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
  if (store) {
    const r = (insn >>> 20) & 31;
    if (f3 === 2) cpu.storeSlow(lo, hi, 4, cpu.f[2 * r], 0);
    else cpu.store64(lo, hi, cpu.f[2 * r], cpu.f[2 * r + 1]);
    return;
  }
  const rd = (insn >>> 7) & 31;
  if (f3 === 2) {
    cpu.f[2 * rd] = cpu.loadSlow(lo, hi, 4, false);
    cpu.f[2 * rd + 1] = BOX;
  } else {
    cpu.f[2 * rd] = cpu.load64(lo, hi);
    cpu.f[2 * rd + 1] = cpu.tmp[1];
  }
  fpDirty(cpu);
}

/** The fused multiply-adds (opcodes 0x43 fmadd, 0x47 fmsub, 0x4b fnmsub, 0x4f fnmadd). @param {Cpu} cpu */
export function fpFused(cpu, insn) {
  if (!fpOn(cpu)) throw new Trap(ILLEGAL, insn >>> 0);
  const fmt = (insn >>> 25) & 3;
  if (fmt > 1) throw new Trap(ILLEGAL, insn >>> 0);
  const rm = roundingMode(cpu, (insn >>> 12) & 7, insn);
  const rd = (insn >>> 7) & 31,
    rs1 = (insn >>> 15) & 31,
    rs2 = (insn >>> 20) & 31,
    rs3 = insn >>> 27;
  const op = (insn >>> 2) & 3; // 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd
  const negProd = op >= 2 ? 1 : 0,
    negC = op === 1 || op === 3 ? 1 : 0;
  if (fmt === 0) writeS(cpu, rd, fma(readS(cpu, rs1), readS(cpu, rs2), readS(cpu, rs3), F32, rm, negProd, negC));
  else writeD(cpu, rd, fma(readD(cpu, rs1), readD(cpu, rs2), readD(cpu, rs3), F64, rm, negProd, negC));
  raise(cpu, takeFlags());
}

/** OP-FP (opcode 0x53): arithmetic, sign injection, min/max, compares, conversions, moves, fclass. @param {Cpu} cpu */
export function fpOp(cpu, insn) {
  if (!fpOn(cpu)) throw new Trap(ILLEGAL, insn >>> 0);
  const f7 = insn >>> 25;
  const fmt = f7 & 3;
  if (fmt > 1) throw new Trap(ILLEGAL, insn >>> 0);
  const d = fmt === 1;
  const F = d ? F64 : F32;
  const rd = (insn >>> 7) & 31,
    rs1 = (insn >>> 15) & 31,
    rs2 = (insn >>> 20) & 31,
    f3 = (insn >>> 12) & 7;
  const read = d ? readD : readS;
  const write = d ? writeD : writeS;
  const illegal = () => new Trap(ILLEGAL, insn >>> 0);
  switch (f7 >>> 2) {
    case 0x00: // fadd
    case 0x01: // fsub
    case 0x02: // fmul
    case 0x03: {
      // fdiv
      const rm = roundingMode(cpu, f3, insn);
      const a = read(cpu, rs1),
        b = read(cpu, rs2);
      const k = f7 >>> 2;
      write(
        cpu,
        rd,
        k === 0 ? add(a, b, F, rm) : k === 1 ? add(a, b, F, rm, 1) : k === 2 ? mul(a, b, F, rm) : div(a, b, F, rm),
      );
      break;
    }
    case 0x0b: // fsqrt
      if (rs2 !== 0) throw illegal();
      write(cpu, rd, sqrt(read(cpu, rs1), F, roundingMode(cpu, f3, insn)));
      break;
    case 0x04: {
      // fsgnj, fsgnjn, fsgnjx: sign bit from rs2, its inverse, or the xor; the rest from rs1
      if (f3 > 2) throw illegal();
      const a = read(cpu, rs1),
        b = read(cpu, rs2);
      const sa = a & F.sign,
        sb = b & F.sign;
      const s = f3 === 0 ? sb : f3 === 1 ? sb ^ F.sign : sa ^ sb;
      write(cpu, rd, (a & ~F.sign) | s);
      break;
    }
    case 0x05: // fmin, fmax
      if (f3 > 1) throw illegal();
      write(cpu, rd, minMax(read(cpu, rs1), read(cpu, rs2), F, f3 === 1));
      break;
    case 0x08: {
      // fcvt.s.d (fmt S, rs2 1), fcvt.d.s (fmt D, rs2 0)
      if (rs2 !== (d ? 0 : 1)) throw illegal();
      const rm = roundingMode(cpu, f3, insn);
      if (d) writeD(cpu, rd, convert(readS(cpu, rs1), F32, F64, rm));
      else writeS(cpu, rd, convert(readD(cpu, rs1), F64, F32, rm));
      break;
    }
    case 0x14: {
      // fle, flt, feq
      if (f3 > 2) throw illegal();
      writeX(cpu, rd, BigInt(compare(read(cpu, rs1), read(cpu, rs2), F, f3 === 0 ? 'le' : f3 === 1 ? 'lt' : 'eq')));
      break;
    }
    case 0x18: {
      // fcvt.w, fcvt.wu, fcvt.l, fcvt.lu (float to integer)
      if (rs2 > 3) throw illegal();
      const rm = roundingMode(cpu, f3, insn);
      const width = rs2 < 2 ? 32 : 64;
      const v = toInt(read(cpu, rs1), F, rm, width, (rs2 & 1) === 0);
      writeX(cpu, rd, width === 32 ? BigInt.asIntN(32, v) : v); // the 32-bit results sign-extended
      break;
    }
    case 0x1a: {
      // fcvt.s/d.w, .wu, .l, .lu (integer to float)
      if (rs2 > 3) throw illegal();
      const rm = roundingMode(cpu, f3, insn);
      const x = readX(cpu, rs1);
      const v =
        rs2 === 0 ? BigInt.asIntN(32, x) : rs2 === 1 ? BigInt.asUintN(32, x) : rs2 === 2 ? x : BigInt.asUintN(64, x);
      write(cpu, rd, fromInt(v, F, rm));
      break;
    }
    case 0x1c: {
      // fmv.x.w / fmv.x.d (f3 0), fclass (f3 1)
      if (rs2 !== 0 || f3 > 1) throw illegal();
      if (f3 === 1) writeX(cpu, rd, BigInt(classify(read(cpu, rs1), F)));
      else if (d) writeX(cpu, rd, readD(cpu, rs1));
      else writeX(cpu, rd, BigInt.asIntN(32, BigInt(cpu.f[2 * rs1] >>> 0))); // raw low word, sign-extended
      break;
    }
    case 0x1e: // fmv.w.x / fmv.d.x
      if (rs2 !== 0 || f3 !== 0) throw illegal();
      if (d) writeD(cpu, rd, readX(cpu, rs1));
      else writeS(cpu, rd, BigInt(cpu.x[2 * rs1] >>> 0));
      break;
    default:
      throw illegal();
  }
  raise(cpu, takeFlags());
}
