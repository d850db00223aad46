// The C extension's expansion table (examples/riscv/cpu/compressed.js) against GNU as: 2,101
// instructions assembled with and without compression (test/fixtures/riscv/rvc-pairs.json,
// made by make-rvc-pairs.py there), and the reserved encodings of the spec.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error an example's JavaScript module, without declarations
import { EXPANDED, expandCompressed } from '../../../examples/riscv/cpu/compressed.js';

const pairs = JSON.parse(readFileSync(new URL('../../fixtures/riscv/rvc-pairs.json', import.meta.url), 'utf8')) as [
  string,
  number,
  number,
][];

describe('riscv C extension: compressed parcels expand to the instructions they stand for', () => {
  it('every pair the assembler made: the 16-bit form expands to the 32-bit one', () => {
    const wrong = pairs
      .filter(([, c, w]) => expandCompressed(c) >>> 0 !== w >>> 0)
      .map(
        ([text, c, w]) =>
          `${text}: 0x${c.toString(16)} -> 0x${(expandCompressed(c) >>> 0).toString(16)}, want 0x${w.toString(16)}`,
      );
    expect(wrong).toEqual([]);
    expect(pairs.length).toBeGreaterThan(2000);
    // every form of the spec is among them
    const forms = new Set(pairs.map(([t]) => t.split(' ')[0]));
    for (const op of [
      'addi',
      'addiw',
      'lui',
      'srli',
      'srai',
      'andi',
      'sub',
      'xor',
      'or',
      'and',
      'subw',
      'addw',
      'j',
      'beqz',
      'bnez',
      'slli',
      'fld',
      'lw',
      'ld',
      'fsd',
      'sw',
      'sd',
      'jr',
      'jalr',
      'add',
      'ebreak',
    ])
      expect(forms.has(op), op).toBe(true);
  });

  it('reserved and illegal parcels expand to 0: all zeros, c.addi4spn 0, c.lwsp/c.ldsp x0, c.jr x0, c.lui/c.addi16sp 0, c.addiw x0, quadrant 0 funct3 4, c.subw-row reserved', () => {
    const reserved = [
      0x0000, // the all-zero parcel
      0x0004, // c.addi4spn a1, 0 (nzuimm 0)
      0x4002, // c.lwsp x0
      0x6002, // c.ldsp x0
      0x8002, // c.jr x0
      0x6081 & ~0x107c, // c.lui x1, 0
      0x6101 & ~0x107c, // c.addi16sp 0
      0x2001, // c.addiw x0
      0x8000, // quadrant 0, funct3 100
      0x9c41, // c.subw row, funct2 10 (reserved)
      0x9c61, // funct2 11 (reserved)
    ];
    for (const h of reserved) expect(expandCompressed(h), `0x${h.toString(16)}`).toBe(0);
  });

  it('the table is the function for every parcel; an expansion is always a 32-bit instruction', () => {
    for (let h = 0; h < 1 << 16; h++) {
      if ((h & 3) === 3) {
        expect(EXPANDED[h]).toBe(0);
        continue;
      }
      const e = EXPANDED[h];
      if (e !== expandCompressed(h))
        throw new Error(`0x${h.toString(16)}: table ${e}, function ${expandCompressed(h)}`);
      if (e !== 0 && (e & 3) !== 3) throw new Error(`0x${h.toString(16)} expands to a compressed encoding`);
    }
  });
});
