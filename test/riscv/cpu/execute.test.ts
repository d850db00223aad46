// The interpreter's execute loop (examples/riscv/cpu/cpu.js run()) one instruction at a time,
// against a BigInt model: every RV64IM register-register and immediate ALU operation, the
// 32-bit (W) forms, branches, and the M extension's helpers on their own (alu.js), for random
// 64-bit operands and the edge values (0, ±1, the most negative, all ones).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// the package itself (its dist build), as the example imports it: one GuestMemoryMmap class
import { GuestMemoryMmap } from 'guestmem';
// @ts-expect-error an example's JavaScript module, without declarations
import { Cpu } from '../../../examples/riscv/cpu/cpu.js';
// @ts-expect-error an example's JavaScript module, without declarations
import { mulDiv, mulDivW } from '../../../examples/riscv/cpu/alu.js';

const RAM = 0x8000_0000;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(64, BigInt.asIntN(32, v));
const edge = [
  0n,
  1n,
  -1n,
  2n,
  -2n,
  31n,
  32n,
  63n,
  64n,
  1n << 31n,
  (1n << 31n) - 1n,
  1n << 32n,
  (1n << 32n) - 1n,
  -(1n << 63n),
  (1n << 63n) - 1n,
];
const word = fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.constantFrom(...edge));

/** A hart over 1 MiB of RAM with a platform that never interrupts. */
/** What these tests use of the example's Cpu class. */
interface Hart {
  pc: number;
  run(budget: number): number;
}

export function testHart(): { cpu: Hart; mem: GuestMemoryMmap; regs: Int32Array } {
  const mem = GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]);
  const regs = new Int32Array(64);
  const platform = { lock: new Int32Array(new SharedArrayBuffer(4)), mtime: () => 0, lines: () => 0, sleep: () => {} };
  const cpu: Hart = new Cpu({ hartid: 0, regs, phys: mem, platform, ram: { base: RAM, size: 1 << 20 } });
  return { cpu, mem, regs };
}
const { cpu, mem, regs } = testHart();
const setX = (r: number, v: bigint): void => {
  if (r === 0) return;
  regs[2 * r] = Number(BigInt.asIntN(32, v));
  regs[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
};
const getX = (r: number): bigint => (BigInt(regs[2 * r + 1]!) << 32n) | BigInt(regs[2 * r]! >>> 0);
/** Runs the one instruction `insn` at RAM with the given registers; returns the pc after it. */
function step(insn: number, x: Record<number, bigint>): number {
  for (const [r, v] of Object.entries(x)) setX(Number(r), v);
  mem.writeSlice(new Uint8Array(new Uint32Array([insn]).buffer), RAM);
  cpu.pc = RAM;
  cpu.run(1);
  return cpu.pc - RAM;
}
const R = (f7: number, f3: number, op: number, rd = 3, rs1 = 1, rs2 = 2): number =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const I = (imm: number, f3: number, op: number, rd = 3, rs1 = 1): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;

const div = (a: bigint, b: bigint): bigint => (b === 0n ? -1n : a === -(1n << 63n) && b === -1n ? a : a / b);
const rem = (a: bigint, b: bigint): bigint => (b === 0n ? a : a === -(1n << 63n) && b === -1n ? 0n : a % b);
const divW = (a: bigint, b: bigint): bigint => {
  const x = BigInt.asIntN(32, a),
    y = BigInt.asIntN(32, b);
  return s32(y === 0n ? -1n : x === -(1n << 31n) && y === -1n ? x : x / y);
};
const remW = (a: bigint, b: bigint): bigint => {
  const x = BigInt.asIntN(32, a),
    y = BigInt.asIntN(32, b);
  return s32(y === 0n ? x : x === -(1n << 31n) && y === -1n ? 0n : x % y);
};
const uw = (v: bigint): bigint => BigInt.asUintN(32, v);

/** [name, f7, f3, opcode, model(a, b)] of every register-register operation. */
const OPS: [string, number, number, number, (a: bigint, b: bigint) => bigint][] = [
  ['add', 0, 0, 0x33, (a, b) => s64(a + b)],
  ['sub', 0x20, 0, 0x33, (a, b) => s64(a - b)],
  ['sll', 0, 1, 0x33, (a, b) => s64(a << (u64(b) & 63n))],
  ['slt', 0, 2, 0x33, (a, b) => (a < b ? 1n : 0n)],
  ['sltu', 0, 3, 0x33, (a, b) => (u64(a) < u64(b) ? 1n : 0n)],
  ['xor', 0, 4, 0x33, (a, b) => a ^ b],
  ['srl', 0, 5, 0x33, (a, b) => s64(u64(a) >> (u64(b) & 63n))],
  ['sra', 0x20, 5, 0x33, (a, b) => a >> (u64(b) & 63n)],
  ['or', 0, 6, 0x33, (a, b) => a | b],
  ['and', 0, 7, 0x33, (a, b) => a & b],
  ['mul', 1, 0, 0x33, (a, b) => s64(a * b)],
  ['mulh', 1, 1, 0x33, (a, b) => s64((a * b) >> 64n)],
  ['mulhsu', 1, 2, 0x33, (a, b) => s64((a * u64(b)) >> 64n)],
  ['mulhu', 1, 3, 0x33, (a, b) => s64((u64(a) * u64(b)) >> 64n)],
  ['div', 1, 4, 0x33, div],
  ['divu', 1, 5, 0x33, (a, b) => (u64(b) === 0n ? -1n : s64(u64(a) / u64(b)))],
  ['rem', 1, 6, 0x33, rem],
  ['remu', 1, 7, 0x33, (a, b) => (u64(b) === 0n ? a : s64(u64(a) % u64(b)))],
  ['addw', 0, 0, 0x3b, (a, b) => s32(a + b)],
  ['subw', 0x20, 0, 0x3b, (a, b) => s32(a - b)],
  ['sllw', 0, 1, 0x3b, (a, b) => s32(a << (b & 31n))],
  ['srlw', 0, 5, 0x3b, (a, b) => s32(uw(a) >> (b & 31n))],
  ['sraw', 0x20, 5, 0x3b, (a, b) => s32(BigInt.asIntN(32, a) >> (b & 31n))],
  ['mulw', 1, 0, 0x3b, (a, b) => s32(a * b)],
  ['divw', 1, 4, 0x3b, divW],
  ['divuw', 1, 5, 0x3b, (a, b) => s32(uw(b) === 0n ? -1n : uw(a) / uw(b))],
  ['remw', 1, 6, 0x3b, remW],
  ['remuw', 1, 7, 0x3b, (a, b) => s32(uw(b) === 0n ? a : uw(a) % uw(b))],
];

describe('riscv execute loop: one instruction against a BigInt model', () => {
  it('every register-register operation (RV64I, M, the W forms), random and edge operands', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), word, word, ([, f7, f3, op, model], a, b) => {
        expect(step(R(f7, f3, op), { 1: a, 2: b })).toBe(4);
        expect(getX(3)).toBe(model(a, b));
      }),
      { numRuns: 4000 },
    );
  });

  it('immediate operations and shifts by immediate, including the W forms', () => {
    const imm12 = fc.integer({ min: -2048, max: 2047 });
    const cases: [string, (a: bigint, i: number) => [number, bigint]][] = [
      ['addi', (a, i) => [I(i, 0, 0x13), s64(a + BigInt(i))]],
      ['slti', (a, i) => [I(i, 2, 0x13), a < BigInt(i) ? 1n : 0n]],
      ['sltiu', (a, i) => [I(i, 3, 0x13), u64(a) < u64(BigInt(i)) ? 1n : 0n]],
      ['xori', (a, i) => [I(i, 4, 0x13), a ^ BigInt(i)]],
      ['ori', (a, i) => [I(i, 6, 0x13), a | BigInt(i)]],
      ['andi', (a, i) => [I(i, 7, 0x13), a & BigInt(i)]],
      ['slli', (a, i) => [I(i & 63, 1, 0x13), s64(a << BigInt(i & 63))]],
      ['srli', (a, i) => [I(i & 63, 5, 0x13), s64(u64(a) >> BigInt(i & 63))]],
      ['srai', (a, i) => [I((i & 63) | 0x400, 5, 0x13), a >> BigInt(i & 63)]],
      ['addiw', (a, i) => [I(i, 0, 0x1b), s32(a + BigInt(i))]],
      ['slliw', (a, i) => [I(i & 31, 1, 0x1b), s32(a << BigInt(i & 31))]],
      ['srliw', (a, i) => [I(i & 31, 5, 0x1b), s32(uw(a) >> BigInt(i & 31))]],
      ['sraiw', (a, i) => [I((i & 31) | 0x400, 5, 0x1b), s32(BigInt.asIntN(32, a) >> BigInt(i & 31))]],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...cases), word, imm12, ([, make], a, i) => {
        const [insn, want] = make(a, i);
        step(insn, { 1: a });
        expect(getX(3)).toBe(want);
      }),
      { numRuns: 3000 },
    );
  });

  it('branches go where the model says (signed and unsigned compares of 64-bit values)', () => {
    const conds: [number, (a: bigint, b: bigint) => boolean][] = [
      [0, (a, b) => a === b],
      [1, (a, b) => a !== b],
      [4, (a, b) => a < b],
      [5, (a, b) => a >= b],
      [6, (a, b) => u64(a) < u64(b)],
      [7, (a, b) => u64(a) >= u64(b)],
    ];
    const B = (f3: number, off: number): number =>
      ((((off >> 12) & 1) << 31) |
        (((off >> 5) & 0x3f) << 25) |
        (2 << 20) |
        (1 << 15) |
        (f3 << 12) |
        (((off >> 1) & 15) << 8) |
        (((off >> 11) & 1) << 7) |
        0x63) >>>
      0;
    fc.assert(
      fc.property(fc.constantFrom(...conds), word, fc.oneof(word, fc.constant(0n)), ([f3, model], a, b) => {
        const bb = b === 0n ? a : b; // equal operands often enough
        expect(step(B(f3, 64), { 1: a, 2: bb })).toBe(model(a, bb) ? 64 : 4);
      }),
      { numRuns: 2000 },
    );
  });

  it('the M helpers on their own: mulDiv and mulDivW against the model', () => {
    const out = new Int32Array(2);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), word, word, (f3, a, b) => {
        mulDiv(
          f3,
          Number(BigInt.asIntN(32, a)),
          Number(BigInt.asIntN(32, a >> 32n)),
          Number(BigInt.asIntN(32, b)),
          Number(BigInt.asIntN(32, b >> 32n)),
          out,
        );
        const got = (BigInt(out[1]!) << 32n) | BigInt(out[0]! >>> 0);
        expect(got).toBe(OPS.find(([, f7, g, op]) => f7 === 1 && g === f3 && op === 0x33)![4](a, b));
        if (f3 === 0 || f3 >= 4) {
          const w = mulDivW(f3, Number(BigInt.asIntN(32, a)), Number(BigInt.asIntN(32, b)));
          expect(BigInt(w)).toBe(OPS.find(([, f7, g, op]) => f7 === 1 && g === f3 && op === 0x3b)![4](a, b));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
