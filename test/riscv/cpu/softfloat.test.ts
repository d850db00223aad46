// The hart's exact IEEE arithmetic (examples/riscv/cpu/softfloat.js) against JavaScript's own,
// which rounds to nearest-even correctly: binary64 add, sub, mul, div, sqrt and integer
// conversion bit for bit, binary32 through Math.fround (exact for these operations), the
// inexact flag of additions against a TwoSum error term, and the directed rounding modes
// bracketing the exact result.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  add,
  compare,
  div,
  F32,
  F64,
  fromInt,
  mul,
  NX,
  RDN,
  RNE,
  RTZ,
  RUP,
  sqrt,
  takeFlags,
  toInt,
  // @ts-expect-error an example's JavaScript module, without declarations
} from '../../../examples/riscv/cpu/softfloat.js';

const dv = new DataView(new ArrayBuffer(8));
const toF64 = (b: bigint): number => (dv.setBigUint64(0, b), dv.getFloat64(0));
const bitsF64 = (v: number): bigint => (dv.setFloat64(0, v), dv.getBigUint64(0));
const toF32 = (b: bigint): number => (dv.setUint32(0, Number(b)), dv.getFloat32(0));
const bitsF32 = (v: number): bigint => (dv.setFloat32(0, v), BigInt(dv.getUint32(0)));
const QNAN64 = 0x7ff8000000000000n;
const QNAN32 = 0x7fc00000n;

const special64 = [
  0n,
  1n << 63n,
  1n,
  0x000fffffffffffffn,
  0x0010000000000000n,
  0x7fefffffffffffffn,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x7ff0000000000001n,
  QNAN64,
];
const d64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(...special64),
  fc.double().map(bitsF64),
);
const special32 = [
  0n,
  0x80000000n,
  1n,
  0x007fffffn,
  0x00800000n,
  0x7f7fffffn,
  0x7f800000n,
  0xff800000n,
  0x3f800000n,
  0x7f800001n,
  QNAN32,
];
const d32 = fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.constantFrom(...special32), fc.float().map(bitsF32));

/** The expected result bits of a JS result: NaN is the canonical NaN. */
const want64 = (v: number): bigint => (Number.isNaN(v) ? QNAN64 : bitsF64(v));
const want32 = (v: number): bigint => (Number.isNaN(v) ? QNAN32 : bitsF32(v));

describe('riscv soft float: exact IEEE arithmetic against JavaScript', () => {
  it('binary64 add, sub, mul, div, sqrt in round-to-nearest-even, bit for bit', () => {
    fc.assert(
      fc.property(d64, d64, (x, y) => {
        const a = toF64(x),
          b = toF64(y);
        expect(add(x, y, F64, RNE)).toBe(want64(a + b));
        expect(add(x, y, F64, RNE, 1)).toBe(want64(a - b));
        expect(mul(x, y, F64, RNE)).toBe(want64(a * b));
        expect(div(x, y, F64, RNE)).toBe(want64(a / b));
        expect(sqrt(x, F64, RNE)).toBe(want64(Math.sqrt(a)));
        takeFlags();
      }),
      { numRuns: 5000 },
    );
  });

  it('binary32 the same, against Math.fround of the double result', () => {
    fc.assert(
      fc.property(d32, d32, (x, y) => {
        const a = toF32(x),
          b = toF32(y);
        expect(add(x, y, F32, RNE)).toBe(want32(Math.fround(a + b)));
        expect(mul(x, y, F32, RNE)).toBe(want32(Math.fround(a * b)));
        expect(div(x, y, F32, RNE)).toBe(want32(Math.fround(a / b)));
        expect(sqrt(x, F32, RNE)).toBe(want32(Math.fround(Math.sqrt(a))));
        takeFlags();
      }),
      { numRuns: 5000 },
    );
  });

  it('the inexact flag of an addition is set exactly when its TwoSum error is not zero', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 });
    fc.assert(
      fc.property(finite, finite, (a, b) => {
        takeFlags();
        add(bitsF64(a), bitsF64(b), F64, RNE);
        const s = a + b,
          bb = s - a,
          err = a - (s - bb) + (b - bb);
        expect((takeFlags() & NX) !== 0).toBe(err !== 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('directed modes bracket the exact result: RDN <= RNE <= RUP, RTZ toward zero, one ulp apart when inexact', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 });
    fc.assert(
      fc.property(finite, finite, (a, b) => {
        const x = bitsF64(a),
          y = bitsF64(b);
        const dn = toF64(div(x, y, F64, RDN)),
          up = toF64(div(x, y, F64, RUP)),
          ne = toF64(div(x, y, F64, RNE)),
          tz = toF64(div(x, y, F64, RTZ));
        takeFlags();
        if (b === 0) return;
        expect(dn <= ne && ne <= up).toBe(true);
        const negative = (a < 0 || Object.is(a, -0)) !== (b < 0 || Object.is(b, -0));
        expect(tz).toBe(negative ? up : dn);
        if (dn !== up)
          expect(bitsF64(up) - bitsF64(dn) === 1n || bitsF64(dn) - bitsF64(up) === 1n || (dn === 0 && up === 0)).toBe(
            true,
          );
      }),
      { numRuns: 3000 },
    );
  });

  it('integer conversions: to int64 with RTZ is Math.trunc (saturating, NaN to the maximum); from int64 is Number()', () => {
    fc.assert(
      fc.property(d64, fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (x, n) => {
        const a = toF64(x);
        const got = toInt(x, F64, RTZ, 64, true);
        if (Number.isNaN(a)) expect(got).toBe((1n << 63n) - 1n);
        else if (a >= 2 ** 63) expect(got).toBe((1n << 63n) - 1n);
        else if (a < -(2 ** 63)) expect(got).toBe(-(1n << 63n));
        else expect(got).toBe(BigInt(Math.trunc(a)));
        expect(fromInt(n, F64, RNE)).toBe(bitsF64(Number(n)));
        takeFlags();
      }),
      { numRuns: 3000 },
    );
  });

  it('compares as JavaScript does (-0 == +0, NaN unordered)', () => {
    fc.assert(
      fc.property(d64, d64, (x, y) => {
        const a = toF64(x),
          b = toF64(y);
        expect(compare(x, y, F64, 'lt')).toBe(a < b ? 1 : 0);
        expect(compare(x, y, F64, 'le')).toBe(a <= b ? 1 : 0);
        expect(compare(x, y, F64, 'eq')).toBe(a === b ? 1 : 0);
        takeFlags();
      }),
      { numRuns: 3000 },
    );
  });
});
