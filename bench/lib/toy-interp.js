// A toy register-machine interpreter for the interpreter-speed benchmarks: a loop of 9
// instructions (one guest load, one store, seven ALU/branch) fetched from guest memory, run
// over four memory paths that differ only in how a guest address becomes a typed-array access:
//   raw:    hand-made Int32Array views over the region's SharedArrayBuffer (no checks but JS's)
//   tcache: TranslationCache views, refreshed when an address leaves the cached run
//   ld/st:  the checked register accessors mem.ld32s / mem.st32
//   load/store: the checked atomic accessors mem.load(u32) / mem.store(u32)
// Instruction word: op | rd << 8 | rs1 << 12 | rs2 << 16 | imm << 20 (imm signed 12 bits).
import { TranslationCache, u32 } from 'guestmem';

export const OP = { ADDI: 1, ADD: 2, LW: 3, SW: 4, ANDI: 5, XOR: 6, BNE: 7 };
const enc = (op, rd, rs1, rs2, imm) => op | (rd << 8) | (rs1 << 12) | (rs2 << 16) | ((imm & 0xfff) << 20);

/** The loop (at `code`), iterating r5 times over a 4 KiB data area at r7. */
export const PROGRAM = [
  enc(OP.LW, 3, 1, 7, 0), // r3 = mem[r1 + r7]
  enc(OP.ADD, 4, 4, 3, 0), // r4 += r3
  enc(OP.ADDI, 3, 3, 0, 1), // r3 += 1
  enc(OP.SW, 0, 1, 7, 3), // mem[r1 + r7] = r3   (rs2 field = base, imm field = value register)
  enc(OP.ADDI, 1, 1, 0, 4), // r1 += 4
  enc(OP.ANDI, 1, 1, 0, 0x7fc), // r1 &= 0x7fc
  enc(OP.ADDI, 5, 5, 0, -1), // r5 -= 1
  enc(OP.XOR, 6, 6, 4, 0), // r6 ^= r4
  enc(OP.BNE, 0, 5, 0, -8 * 4), // if r5 != 0: pc -= 32
];

// The interpreter body, with FETCH(pc), LOAD(addr) and STORE(addr, v) filled in per path.
const BODY = `
  const x = new Int32Array(8);
  x[5] = iterations; x[7] = data;
  let pc = code; let n = 0;
  PROLOGUE
  for (;;) {
    const insn = FETCH;
    n++;
    const rd = (insn >>> 8) & 15, rs1 = (insn >>> 12) & 15, rs2 = (insn >>> 16) & 15, imm = insn >> 20;
    switch (insn & 255) {
      case 1: x[rd] = x[rs1] + imm; pc += 4; break;
      case 2: x[rd] = x[rs1] + x[rs2]; pc += 4; break;
      case 3: { const a = (x[rs1] + x[rs2]) >>> 0; x[rd] = LOAD; pc += 4; break; }
      case 4: { const a = (x[rs1] + x[rs2]) >>> 0; const v = x[imm & 15]; STORE; pc += 4; break; }
      case 5: x[rd] = x[rs1] & imm; pc += 4; break;
      case 6: x[rd] = x[rs1] ^ x[rs2]; pc += 4; break;
      case 7: if (x[rs1] !== x[rs2]) pc += imm; else pc += 4; break;
      default: return { n, sum: x[6] };
    }
    if (x[5] === 0) return { n, sum: x[6] };
  }
`;

function make(prologue, fetch, load, store) {
  const src = BODY.replace('PROLOGUE', prologue).replace('FETCH', fetch).replace('LOAD', load).replace('STORE', store);
  return new Function('mem', 'code', 'data', 'iterations', 'TranslationCache', 'u32', src);
}

// raw and tcache run the same loop: a range check against the run, then a plain typed-array
// access; they differ only in where the views come from and what a miss does.
const RUN_FETCH =
  '(pc >= fLo && pc < fHi ? fv[(pc + fOff) >>> 2] : (f = MISS(pc, false), fLo = f.start, fHi = f.end, fOff = f.offset, fv = f.i32)[(pc + fOff) >>> 2])';
const RUN_LOAD =
  '(a >= dLo && a < dHi ? dv[(a + dOff) >>> 2] : (d = MISS(a, true), dLo = d.start, dHi = d.end, dOff = d.offset, dv = d.i32)[(a + dOff) >>> 2])';
const RUN_STORE =
  'if (a >= dLo && a < dHi) dv[(a + dOff) >>> 2] = v; else { d = MISS(a, true); dLo = d.start; dHi = d.end; dOff = d.offset; dv = d.i32; dv[(a + dOff) >>> 2] = v; }';
const RUN_VARS = `let f = MISS(code, false), fLo = f.start, fHi = f.end, fOff = f.offset, fv = f.i32;
     let d = MISS(data, true), dLo = d.start, dHi = d.end, dOff = d.offset, dv = d.i32;`;
const viaRuns = (prologue, miss) =>
  make(
    prologue + RUN_VARS.replaceAll('MISS', miss),
    RUN_FETCH.replace('MISS', miss),
    RUN_LOAD.replace('MISS', miss),
    RUN_STORE.replace('MISS', miss),
  );

// Each entry builds a fresh function (its own compilation: machine-code layout differs between
// compilations by up to 20% on this loop, so each round of the bench compiles anew and the median
// of the rounds is reported).
export const PATHS = {
  // hand-made views over the region's buffer; a miss is an error (no device in this loop)
  raw: () =>
    viaRuns(
      `const r = mem.findRegion(code);
     const hand = { start: r.startAddr, end: r.startAddr + r.len, offset: -r.startAddr, i32: new Int32Array(r.mapping.buffer) };
     const rawRun = (a) => { if (a >= hand.start && a < hand.end) return hand; throw new Error('miss'); };`,
      'rawRun',
    ),
  // the same loop with views from the TranslationCache (whole-region runs here)
  tcache: () => viaRuns('const tc = new TranslationCache(mem); const tcRun = (a, w) => tc.lookup(a, w);', 'tcRun'),
  'ld32s/st32': () => make('', 'mem.ld32s(pc)', 'mem.ld32s(a)', 'mem.st32(a, v)'),
  'load/store(u32)': () => make('', 'mem.load(u32, pc) | 0', 'mem.load(u32, a) | 0', 'mem.store(u32, v >>> 0, a)'),
};

/** Writes the program at `code`; returns nothing. */
export function install(mem, code) {
  PROGRAM.forEach((w, i) => mem.st32(code + 4 * i, w));
}

/** A freshly compiled interpreter loop for `path` (see PATHS). */
export function compile(path) {
  return PATHS[path]();
}

/**
 * Runs `path` (or the function `fn` compiled for it) for `iterations` loop passes; returns guest
 * instructions executed and seconds.
 */
export function run(path, mem, code, data, iterations, fn = compile(path)) {
  const t = performance.now();
  const r = fn(mem, code, data, iterations, TranslationCache, u32);
  return { instructions: r.n, seconds: (performance.now() - t) / 1e3, sum: r.sum };
}
