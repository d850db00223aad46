// The C extension as a table: every 16-bit parcel maps to the 32-bit instruction it stands for
// (RV64C, with the F/D loads and stores), or to 0 where the parcel is reserved or illegal. The
// interpreter fetches a parcel, and when its low two bits are not 11 it looks the expansion up
// and executes that with an instruction length of 2: one table load instead of a second
// decoder, and no compressed forms in the execute loop.

import { bType, iType, jType, rType, sType } from './encode.js';

/** @param {number} v @param {number} hi @param {number} lo bits hi..lo of v */
const bits = (v, hi, lo) => (v >>> lo) & ((1 << (hi - lo + 1)) - 1);
/** Sign-extends the low `n` bits of v. */
const sext = (v, n) => (v << (32 - n)) >> (32 - n);

const LOAD = 0x03,
  LOAD_FP = 0x07,
  OP_IMM = 0x13,
  OP_IMM_32 = 0x1b,
  STORE = 0x23,
  STORE_FP = 0x27,
  OP = 0x33,
  LUI = 0x37,
  OP_32 = 0x3b,
  JALR = 0x67;

/**
 * The 32-bit instruction a compressed parcel `h` (low two bits not 11) stands for, or 0 if it
 * is reserved or illegal (the all-zero parcel included).
 * @param {number} h
 */
export function expandCompressed(h) {
  const op = h & 3;
  const f3 = h >>> 13;
  const rdp = 8 + bits(h, 4, 2); // rd' / rs2'
  const rs1p = 8 + bits(h, 9, 7); // rs1' / rd'
  const rd = bits(h, 11, 7);
  const rs2 = bits(h, 6, 2);
  const imm6 = sext((bits(h, 12, 12) << 5) | bits(h, 6, 2), 6);
  if (op === 0) {
    switch (f3) {
      case 0: {
        // c.addi4spn
        const imm = (bits(h, 12, 11) << 4) | (bits(h, 10, 7) << 6) | (bits(h, 6, 6) << 2) | (bits(h, 5, 5) << 3);
        return imm === 0 ? 0 : iType(OP_IMM, 0, rdp, 2, imm);
      }
      case 1: // c.fld
        return iType(LOAD_FP, 3, rdp, rs1p, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6));
      case 2: // c.lw
        return iType(LOAD, 2, rdp, rs1p, (bits(h, 12, 10) << 3) | (bits(h, 6, 6) << 2) | (bits(h, 5, 5) << 6));
      case 3: // c.ld
        return iType(LOAD, 3, rdp, rs1p, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6));
      case 5: // c.fsd
        return sType(STORE_FP, 3, rs1p, rdp, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6));
      case 6: // c.sw
        return sType(STORE, 2, rs1p, rdp, (bits(h, 12, 10) << 3) | (bits(h, 6, 6) << 2) | (bits(h, 5, 5) << 6));
      case 7: // c.sd
        return sType(STORE, 3, rs1p, rdp, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6));
      default:
        return 0;
    }
  }
  if (op === 1) {
    switch (f3) {
      case 0: // c.addi (c.nop with rd 0)
        return iType(OP_IMM, 0, rd, rd, imm6);
      case 1: // c.addiw
        return rd === 0 ? 0 : iType(OP_IMM_32, 0, rd, rd, imm6);
      case 2: // c.li
        return iType(OP_IMM, 0, rd, 0, imm6);
      case 3: {
        if (rd === 2) {
          // c.addi16sp
          const imm = sext(
            (bits(h, 12, 12) << 9) |
              (bits(h, 6, 6) << 4) |
              (bits(h, 5, 5) << 6) |
              (bits(h, 4, 3) << 7) |
              (bits(h, 2, 2) << 5),
            10,
          );
          return imm === 0 ? 0 : iType(OP_IMM, 0, 2, 2, imm);
        }
        // c.lui
        return imm6 === 0 ? 0 : ((imm6 << 12) & 0xfffff000) | (rd << 7) | LUI;
      }
      case 4: {
        const f2 = bits(h, 11, 10);
        const sh = (bits(h, 12, 12) << 5) | bits(h, 6, 2);
        if (f2 === 0) return iType(OP_IMM, 5, rs1p, rs1p, sh); // c.srli
        if (f2 === 1) return iType(OP_IMM, 5, rs1p, rs1p, sh | 0x400); // c.srai
        if (f2 === 2) return iType(OP_IMM, 7, rs1p, rs1p, imm6); // c.andi
        const f = bits(h, 6, 5);
        if (bits(h, 12, 12) === 0) {
          if (f === 0) return rType(OP, 0, 0x20, rs1p, rs1p, rdp); // c.sub
          if (f === 1) return rType(OP, 4, 0, rs1p, rs1p, rdp); // c.xor
          if (f === 2) return rType(OP, 6, 0, rs1p, rs1p, rdp); // c.or
          return rType(OP, 7, 0, rs1p, rs1p, rdp); // c.and
        }
        if (f === 0) return rType(OP_32, 0, 0x20, rs1p, rs1p, rdp); // c.subw
        if (f === 1) return rType(OP_32, 0, 0, rs1p, rs1p, rdp); // c.addw
        return 0;
      }
      case 5: {
        // c.j
        const imm = sext(
          (bits(h, 12, 12) << 11) |
            (bits(h, 11, 11) << 4) |
            (bits(h, 10, 9) << 8) |
            (bits(h, 8, 8) << 10) |
            (bits(h, 7, 7) << 6) |
            (bits(h, 6, 6) << 7) |
            (bits(h, 5, 3) << 1) |
            (bits(h, 2, 2) << 5),
          12,
        );
        return jType(0, imm);
      }
      default: {
        // c.beqz, c.bnez
        const imm = sext(
          (bits(h, 12, 12) << 8) |
            (bits(h, 11, 10) << 3) |
            (bits(h, 6, 5) << 6) |
            (bits(h, 4, 3) << 1) |
            (bits(h, 2, 2) << 5),
          9,
        );
        return bType(f3 === 6 ? 0 : 1, rs1p, 0, imm);
      }
    }
  }
  // op === 2
  switch (f3) {
    case 0: // c.slli
      return iType(OP_IMM, 1, rd, rd, (bits(h, 12, 12) << 5) | bits(h, 6, 2));
    case 1: // c.fldsp
      return iType(LOAD_FP, 3, rd, 2, (bits(h, 12, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6));
    case 2: // c.lwsp
      return rd === 0 ? 0 : iType(LOAD, 2, rd, 2, (bits(h, 12, 12) << 5) | (bits(h, 6, 4) << 2) | (bits(h, 3, 2) << 6));
    case 3: // c.ldsp
      return rd === 0 ? 0 : iType(LOAD, 3, rd, 2, (bits(h, 12, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6));
    case 4:
      if (bits(h, 12, 12) === 0) {
        if (rs2 === 0) return rd === 0 ? 0 : iType(JALR, 0, 0, rd, 0); // c.jr
        return rType(OP, 0, 0, rd, 0, rs2); // c.mv
      }
      if (rs2 === 0) return rd === 0 ? 0x00100073 : iType(JALR, 0, 1, rd, 0); // c.ebreak, c.jalr
      return rType(OP, 0, 0, rd, rd, rs2); // c.add
    case 5: // c.fsdsp
      return sType(STORE_FP, 3, 2, rs2, (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6));
    case 6: // c.swsp
      return sType(STORE, 2, 2, rs2, (bits(h, 12, 9) << 2) | (bits(h, 8, 7) << 6));
    default: // c.sdsp
      return sType(STORE, 3, 2, rs2, (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6));
  }
}

/**
 * The expansion of every parcel, indexed by its 16 bits (0 for reserved and illegal ones and
 * for the 32-bit instructions' low parcels, whose low bits are 11): 256 KiB, built once.
 */
export const EXPANDED = new Int32Array(1 << 16);
for (let h = 0; h < 1 << 16; h++) if ((h & 3) !== 3) EXPANDED[h] = expandCompressed(h);
