// IEEE 754 binary32 and binary64 arithmetic, exact: every operation computes its result as an
// exact integer significand and exponent (BigInt), then rounds once to the format in one of the
// five RISC-V rounding modes, raising the five flags as the ISA defines them (tininess after
// rounding). JavaScript's own arithmetic rounds to nearest-even only and reports no flags, and
// its a * b + c rounds twice; this does neither. Values are bit patterns (BigInt); results are
// too, NaN results always the canonical NaN.

/** Rounding modes (the rm field and frm). */
export const RNE = 0,
  RTZ = 1,
  RDN = 2,
  RUP = 3,
  RMM = 4;
/** Exception flags (fflags bits). */
export const NX = 1,
  UF = 2,
  OF = 4,
  DZ = 8,
  NV = 16;

/**
 * @typedef {{ p: number, mbits: bigint, emask: bigint, bias: number, emin: number, emax: number,
 *   width: bigint, sign: bigint, inf: bigint, qnan: bigint, maxFinite: bigint }} Format
 */
/** @param {number} ebits @param {number} mbits @returns {Format} */
function format(ebits, mbits) {
  const bias = 2 ** (ebits - 1) - 1;
  const width = BigInt(1 + ebits + mbits);
  const emask = (1n << BigInt(ebits)) - 1n;
  const m = BigInt(mbits);
  return {
    p: mbits + 1,
    mbits: m,
    emask,
    bias,
    emin: 1 - bias,
    emax: bias,
    width,
    sign: 1n << (width - 1n),
    inf: emask << m,
    qnan: (emask << m) | (1n << (m - 1n)),
    maxFinite: ((emask - 1n) << m) | ((1n << m) - 1n),
  };
}
/** binary32 and binary64 (fmt field 0 and 1). */
export const F32 = format(8, 23);
export const F64 = format(11, 52);

// unpacked kinds
export const ZERO = 0,
  FINITE = 1,
  INF = 2,
  QNAN = 3,
  SNAN = 4;

/** The flags raised since the last takeFlags(). */
let flags = 0;
/** Returns the flags raised since the last call, and clears them. */
export function takeFlags() {
  const f = flags;
  flags = 0;
  return f;
}

/**
 * @typedef {{ sign: number, kind: number, sig: bigint, exp: number, sub: boolean }} Unpacked
 * A value: kind ZERO, FINITE (= sig * 2^exp, sig > 0), INF, QNAN or SNAN; `sub` for subnormals.
 */
/** @param {bigint} bits @param {Format} f @returns {Unpacked} */
export function unpack(bits, f) {
  const sign = Number((bits >> (f.width - 1n)) & 1n);
  const e = Number((bits >> f.mbits) & f.emask);
  const m = bits & ((1n << f.mbits) - 1n);
  if (e === Number(f.emask)) {
    if (m === 0n) return { sign, kind: INF, sig: 0n, exp: 0, sub: false };
    return { sign, kind: (m >> (f.mbits - 1n)) & 1n ? QNAN : SNAN, sig: 0n, exp: 0, sub: false };
  }
  if (e === 0) {
    if (m === 0n) return { sign, kind: ZERO, sig: 0n, exp: 0, sub: false };
    return { sign, kind: FINITE, sig: m, exp: f.emin - Number(f.mbits), sub: true };
  }
  return { sign, kind: FINITE, sig: m | (1n << f.mbits), exp: e - f.bias - Number(f.mbits), sub: false };
}

/** @param {bigint} x a positive BigInt */
const bitLength = (x) => x.toString(2).length;

/**
 * sig * 2^exp rounded to a multiple of 2^q in mode rm (the sign decides the directed modes):
 * [the multiple's count, whether it was inexact].
 * @returns {[bigint, boolean]}
 */
function roundAt(sign, sig, exp, q, rm) {
  const shift = q - exp;
  if (shift <= 0) return [sig << BigInt(-shift), false];
  const s = BigInt(shift);
  let n = sig >> s;
  const rem = sig & ((1n << s) - 1n);
  if (rem === 0n) return [n, false];
  const half = 1n << (s - 1n);
  let up;
  switch (rm) {
    case RNE:
      up = rem > half || (rem === half && (n & 1n) === 1n);
      break;
    case RTZ:
      up = false;
      break;
    case RDN:
      up = sign === 1;
      break;
    case RUP:
      up = sign === 0;
      break;
    default:
      up = rem >= half;
  }
  if (up) n += 1n;
  return [n, true];
}

/** @param {number} sign @param {Format} f */
const zero = (sign, f) => (sign ? f.sign : 0n);
/** @param {number} sign @param {Format} f */
const inf = (sign, f) => (sign ? f.sign : 0n) | f.inf;

/**
 * The exact value (-1)^sign * sig * 2^exp (sig >= 0; an inexact quotient or root carries a
 * sticky 1 in a bit below the rounding position) rounded to format f in mode rm.
 * @param {number} sign @param {bigint} sig @param {number} exp @param {Format} f @param {number} rm
 */
export function roundPack(sign, sig, exp, f, rm) {
  if (sig === 0n) return zero(sign, f);
  const p = f.p;
  const E = exp + bitLength(sig) - 1; // exponent of the leading bit
  let q = Math.max(E, f.emin) - (p - 1);
  let [mant, inexact] = roundAt(sign, sig, exp, q, rm);
  if (mant >= 1n << BigInt(p)) {
    mant >>= 1n;
    q += 1;
  }
  if (inexact) {
    flags |= NX;
    // tiny after rounding: below 2^emin even when rounded with an unbounded exponent
    if (E < f.emin) {
      let tiny = true;
      if (E === f.emin - 1) tiny = roundAt(sign, sig, exp, E - (p - 1), rm)[0] < 1n << BigInt(p);
      if (tiny) flags |= UF;
    }
  }
  const s = sign ? f.sign : 0n;
  if (mant === 0n) return s;
  if (mant < 1n << BigInt(p - 1)) return s | mant; // subnormal
  const e = q + p - 1;
  if (e > f.emax) {
    flags |= OF | NX;
    const toInf = rm === RNE || rm === RMM || (rm === RUP && sign === 0) || (rm === RDN && sign === 1);
    return s | (toInf ? f.inf : f.maxFinite);
  }
  return s | (BigInt(e + f.bias) << f.mbits) | (mant - (1n << BigInt(p - 1)));
}

/** A NaN result: the canonical NaN, NV when `invalid` or any operand is signalling. */
function nan(f, invalid, ...ops) {
  if (invalid || ops.some((o) => o.kind === SNAN)) flags |= NV;
  return f.qnan;
}
const isNan = (a) => a.kind >= QNAN;

/** a + b (b negated when `negB`: a - b) in format f. @param {bigint} x @param {bigint} y */
export function add(x, y, f, rm, negB = 0) {
  const a = unpack(x, f),
    b = unpack(y, f);
  if (isNan(a) || isNan(b)) return nan(f, false, a, b);
  const bs = b.sign ^ negB;
  if (a.kind === INF || b.kind === INF) {
    if (a.kind === INF && b.kind === INF && a.sign !== bs) return nan(f, true);
    return inf(a.kind === INF ? a.sign : bs, f);
  }
  return sum(
    a.kind === ZERO ? null : [a.sign, a.sig, a.exp],
    b.kind === ZERO ? null : [bs, b.sig, b.exp],
    a.sign,
    bs,
    f,
    rm,
  );
}

/** The exact sum of two terms ([sign, sig, exp], null for a zero of sign zs), rounded. */
function sum(t, u, ts, us, f, rm) {
  if (t === null && u === null) return zero(ts === us ? ts : rm === RDN ? 1 : 0, f);
  const e = Math.min(t === null ? Infinity : t[2], u === null ? Infinity : u[2]);
  let s = 0n;
  if (t !== null) s += (t[0] ? -t[1] : t[1]) << BigInt(t[2] - e);
  if (u !== null) s += (u[0] ? -u[1] : u[1]) << BigInt(u[2] - e);
  if (s === 0n) return zero(rm === RDN ? 1 : 0, f); // x - x
  return s < 0n ? roundPack(1, -s, e, f, rm) : roundPack(0, s, e, f, rm);
}

/** a * b. */
export function mul(x, y, f, rm) {
  const a = unpack(x, f),
    b = unpack(y, f);
  if (isNan(a) || isNan(b)) return nan(f, false, a, b);
  const sign = a.sign ^ b.sign;
  if (a.kind === INF || b.kind === INF) {
    if (a.kind === ZERO || b.kind === ZERO) return nan(f, true);
    return inf(sign, f);
  }
  if (a.kind === ZERO || b.kind === ZERO) return zero(sign, f);
  return roundPack(sign, a.sig * b.sig, a.exp + b.exp, f, rm);
}

/**
 * a * b + c with one rounding; negProd negates the product (fnmadd, fnmsub), negC the addend
 * (fmsub, fnmadd). Infinity times zero is invalid even with a quiet NaN addend.
 */
export function fma(x, y, z, f, rm, negProd, negC) {
  const a = unpack(x, f),
    b = unpack(y, f),
    c = unpack(z, f);
  const infZero = (a.kind === INF && b.kind === ZERO) || (a.kind === ZERO && b.kind === INF);
  if (isNan(a) || isNan(b) || isNan(c) || infZero) return nan(f, infZero, a, b, c);
  const ps = a.sign ^ b.sign ^ negProd,
    cs = c.sign ^ negC;
  const pInf = a.kind === INF || b.kind === INF;
  if (pInf || c.kind === INF) {
    if (pInf && c.kind === INF && ps !== cs) return nan(f, true);
    return inf(pInf ? ps : cs, f);
  }
  const pZero = a.kind === ZERO || b.kind === ZERO;
  return sum(
    pZero ? null : [ps, a.sig * b.sig, a.exp + b.exp],
    c.kind === ZERO ? null : [cs, c.sig, c.exp],
    ps,
    cs,
    f,
    rm,
  );
}

/** a / b. */
export function div(x, y, f, rm) {
  const a = unpack(x, f),
    b = unpack(y, f);
  if (isNan(a) || isNan(b)) return nan(f, false, a, b);
  const sign = a.sign ^ b.sign;
  if (a.kind === INF) return b.kind === INF ? nan(f, true) : inf(sign, f);
  if (b.kind === INF) return zero(sign, f);
  if (b.kind === ZERO) {
    if (a.kind === ZERO) return nan(f, true);
    flags |= DZ;
    return inf(sign, f);
  }
  if (a.kind === ZERO) return zero(sign, f);
  // a quotient of at least p + 2 bits, the remainder as a sticky bit below them
  const k = Math.max(0, f.p + 3 + bitLength(b.sig) - bitLength(a.sig));
  const num = a.sig << BigInt(k);
  const q = num / b.sig;
  return roundPack(sign, q | (num % b.sig !== 0n ? 1n : 0n), a.exp - b.exp - k, f, rm);
}

/** The integer square root of n >= 0. @param {bigint} n */
function isqrt(n) {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** The square root of a. */
export function sqrt(x, f, rm) {
  const a = unpack(x, f);
  if (isNan(a)) return nan(f, false, a);
  if (a.kind === ZERO) return x; // ±0
  if (a.sign === 1) return nan(f, true);
  if (a.kind === INF) return x;
  let k = Math.max(0, 2 * f.p + 4 - bitLength(a.sig));
  if ((a.exp - k) & 1) k++;
  const n = a.sig << BigInt(k);
  const r = isqrt(n);
  return roundPack(0, r | (r * r !== n ? 1n : 0n), (a.exp - k) / 2, f, rm);
}

/** A value of format `from` converted to format `to` (NaNs canonical, NV for a signalling one). */
export function convert(x, from, to, rm) {
  const a = unpack(x, from);
  if (isNan(a)) return nan(to, false, a);
  if (a.kind === INF) return inf(a.sign, to);
  if (a.kind === ZERO) return zero(a.sign, to);
  return roundPack(a.sign, a.sig, a.exp, to, rm);
}

/**
 * A value rounded to an integer of `width` bits (signed or not) in mode rm, as a BigInt:
 * out-of-range values, infinities and NaNs saturate with NV (a NaN to the largest value),
 * inexact ones raise NX.
 */
export function toInt(x, f, rm, width, signed) {
  const a = unpack(x, f);
  const max = signed ? (1n << BigInt(width - 1)) - 1n : (1n << BigInt(width)) - 1n;
  const min = signed ? -(1n << BigInt(width - 1)) : 0n;
  if (isNan(a)) {
    flags |= NV;
    return max;
  }
  if (a.kind === INF) {
    flags |= NV;
    return a.sign ? min : max;
  }
  if (a.kind === ZERO) return 0n;
  const [n, inexact] = roundAt(a.sign, a.sig, a.exp, 0, rm);
  const v = a.sign ? -n : n;
  if (v < min || v > max) {
    flags |= NV;
    return v < min ? min : max;
  }
  if (inexact) flags |= NX;
  return v;
}

/**
 * An integer converted to format f in mode rm.
 * @param {bigint} v @param {Format} f @param {number} rm
 */
export function fromInt(v, f, rm) {
  if (v === 0n) return 0n;
  return v < 0n ? roundPack(1, -v, 0, f, rm) : roundPack(0, v, 0, f, rm);
}

/**
 * a < b (lt), a <= b (le) or a == b (eq) on the values (-0 == +0). eq is quiet (NV only for a
 * signalling NaN), lt and le signal on any NaN. Returns 0 or 1.
 */
export function compare(x, y, f, op) {
  const a = unpack(x, f),
    b = unpack(y, f);
  if (isNan(a) || isNan(b)) {
    if (op !== 'eq' || a.kind === SNAN || b.kind === SNAN) flags |= NV;
    return 0;
  }
  const c = order(a, b);
  return (op === 'eq' ? c === 0 : op === 'lt' ? c < 0 : c <= 0) ? 1 : 0;
}

/** -1, 0 or 1: a against b, both not NaN, with -0 == +0. */
function order(a, b) {
  const va = value(a),
    vb = value(b);
  if (va.n === 0n && vb.n === 0n) return 0;
  // compare a.n * 2^a.e with b.n * 2^b.e
  const e = Math.min(va.e, vb.e);
  const l = va.n << BigInt(va.e - e),
    r = vb.n << BigInt(vb.e - e);
  return l < r ? -1 : l > r ? 1 : 0;
}
/** A non-NaN value as a signed integer times a power of two (infinities as ±2^20000). */
function value(a) {
  if (a.kind === ZERO) return { n: 0n, e: 0 };
  if (a.kind === INF) return { n: a.sign ? -1n : 1n, e: 20000 };
  return { n: a.sign ? -a.sig : a.sig, e: a.exp };
}

/**
 * fmin (max = false) or fmax: the smaller or larger operand (-0 below +0); one NaN gives the
 * other operand, two the canonical NaN; NV for a signalling one.
 */
export function minMax(x, y, f, max) {
  const a = unpack(x, f),
    b = unpack(y, f);
  if (a.kind === SNAN || b.kind === SNAN) flags |= NV;
  if (isNan(a) && isNan(b)) return f.qnan;
  if (isNan(a)) return y;
  if (isNan(b)) return x;
  let c = order(a, b);
  if (c === 0) c = a.sign === b.sign ? 0 : a.sign ? -1 : 1; // -0 < +0
  return (max ? c >= 0 : c <= 0) ? x : y;
}

/** fclass: one bit of ten (-inf, -normal, -subnormal, -0, +0, +subnormal, +normal, +inf, sNaN, qNaN). */
export function classify(x, f) {
  const a = unpack(x, f);
  switch (a.kind) {
    case SNAN:
      return 1 << 8;
    case QNAN:
      return 1 << 9;
    case INF:
      return a.sign ? 1 : 1 << 7;
    case ZERO:
      return a.sign ? 1 << 3 : 1 << 4;
    default:
      return a.sub ? (a.sign ? 1 << 2 : 1 << 5) : a.sign ? 1 << 1 : 1 << 6;
  }
}
