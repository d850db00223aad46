// The M extension's 64-bit multiply, divide and remainder on 32-bit halves (BigInt where a
// product or quotient needs more than 53 bits), and the low 64 bits of a product without it.
import { ILLEGAL, Trap } from './constants.js';

export const big = (lo, hi) => (BigInt(hi) << 32n) | BigInt(lo >>> 0);
export const bigU = (lo, hi) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * Low 64 bits of a 64x64 product, on 32-bit halves: the low word by Math.imul, the high word from
 * 16-bit limbs (every partial product below 2^32 and exact; no `%` on doubles, which is a call).
 */
export function mulLo(alo, ahi, blo, bhi, out) {
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

/**
 * The M extension's 64-bit operations (funct3 `f3`: mul, mulh, mulhsu, mulhu, div, divu, rem,
 * remu) on a = (alo, ahi) and b = (blo, bhi): the result's halves in out[0] and out[1].
 * @param {number} f3 @param {number} alo @param {number} ahi @param {number} blo @param {number} bhi
 * @param {Int32Array} out
 */
export function mulDiv(f3, alo, ahi, blo, bhi, out) {
  const t = out;
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

/**
 * The M extension's 32-bit operations (mulw, divw, divuw, remw, remuw by funct3) on the low
 * words: the result, sign-extended by the caller. Throws an illegal-instruction Trap for the
 * funct3 values that are not one.
 * @param {number} f3 @param {number} a @param {number} b
 */
export function mulDivW(f3, a, b) {
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
