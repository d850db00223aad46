// RV64 instruction encoders: the 32-bit word of each format from its fields (as signed int32
// words), for the C extension's expansion table and the warm-up's program.

export const iType = (op, f3, rd, rs1, imm) => ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
export const sType = (op, f3, rs1, rs2, imm) =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
export const rType = (op, f3, f7, rd, rs1, rs2) => (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
export const bType = (f3, rs1, rs2, imm) =>
  (((imm >> 12) & 1) << 31) |
  (((imm >> 5) & 0x3f) << 25) |
  (rs2 << 20) |
  (rs1 << 15) |
  (f3 << 12) |
  (((imm >> 1) & 15) << 8) |
  (((imm >> 11) & 1) << 7) |
  0x63;
export const jType = (rd, imm) =>
  (((imm >> 20) & 1) << 31) |
  (((imm >> 1) & 0x3ff) << 21) |
  (((imm >> 11) & 1) << 20) |
  (((imm >> 12) & 0xff) << 12) |
  (rd << 7) |
  0x6f;
