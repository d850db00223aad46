// A warm-up for the interpreter: before a hart runs its guest, it runs a built-in program on a
// scratch Cpu over scratch memory, one that goes through every handler of the execute loop in
// M, S and U mode (every ALU, M, A, F, D and C form; aligned, misaligned and page-crossing
// loads and stores; AMOs, LR/SC; CSRs; traps, delegation, Sv39 walks with A/D updates on 4 KiB,
// 2 MiB and 1 GiB pages, page faults).
//
// Why: V8 compiles run() from the types it has seen at each operation; an operation never yet
// run when run() is compiled becomes a deoptimization point, and the first guest instruction
// that reaches it throws the compiled code away, so run() runs unoptimized until it is compiled
// again (tens of milliseconds each time). A Linux boot used to pay that about thirty times, the
// first time it met each kind of instruction; the warm-up pays it up front in a few milliseconds.
// The scratch Cpu shares the real one's classes (Cpu, GuestMemoryMmap, DeviceBus, the platform
// object), so what V8 learns is what the guest will need.
import { GuestMemoryMmap } from 'guestmem';
import { EXPANDED } from './compressed.js';
import { bType, iType, jType, rType, sType } from './encode.js';

/** Where the scratch RAM starts (the machine's RAM base) and its size. */
const BASE = 0x8000_0000;
const SIZE = 1 << 20;
// the program's layout, as offsets in the scratch RAM
const M_ENTRY = 0x0000;
const BODY = 0x1000; // the instruction mix, called in each mode (pc-relative code only)
const M_TRAP = 0x6000;
const S_TRAP = 0x6400;
const S_ENTRY = 0x7000;
const U_ENTRY = 0x7800;
const ROOT = 0x10000; // Sv39 tables: root, one level-1 and one level-0 table
const L1 = 0x11000;
const L0 = 0x12000;
const DATA = 0x20000; // loads and stores (two pages, accesses across the boundary)
/** What the program touches: code, tables and data pages (the rest of the scratch RAM stays zero). */
const USED = 0x30000;
const DONE = DATA + 0x7f0; // the M-mode handler writes 1 here when the program is over
/** U mode runs the body through a 2 MiB alias of the first megabyte (a user page). */
const ALIAS = 0x20_0000;
/** A gigapage: VA 0xc000_0000 maps the scratch RAM too. */
const GIGA = 0xc000_0000;
/** An unmapped virtual address: page faults. */
const UNMAPPED = 0x4000_0000;
/** A physical address with neither RAM nor a device: access faults. */
const NOWHERE = 0x1000;
/** S mode runs the body at the top of the address space, where Linux runs (a gigapage). */
const HIGH = -0x8000_0000; // 0xffff_ffff_8000_0000
/** The CLINT's mtime: a device register that reading leaves alone (the MMIO load path). */
const MTIME = 0x0200_bff8;

const ra = 1,
  sp = 2,
  t0 = 5, // the trap handlers' scratch register: the body keeps nothing in it
  t1 = 6,
  t2 = 7,
  a7 = 17,
  s10 = 26, // the data pointer
  s11 = 27, // the body's return address
  tmp = 31; // li's scratch

// ---- encoders (cpu/encode.js, plus the CSR and system words) ----
const csr = (f3, rd, n, rs1) => iType(0x73, f3, rd, rs1, n);
const CSRRW = 1,
  CSRRS = 2,
  CSRRC = 3,
  CSRRWI = 5,
  CSRRSI = 6,
  CSRRCI = 7;
const ECALL = 0x73,
  MRET = 0x30200073,
  SRET = 0x10200073,
  FENCE = 0x0ff0000f,
  FENCE_I = 0x100f;

/** The parcel whose expansion is `word` (the compressed form of a 32-bit instruction). */
function compressed(word) {
  const w = word | 0;
  for (let h = 0; h < 1 << 16; h++) if (EXPANDED[h] === w && (h & 3) !== 3) return h;
  throw new Error(`warm-up: no compressed form of 0x${(word >>> 0).toString(16)}`);
}

/** A program being assembled at an offset of the scratch RAM. */
class Asm {
  constructor(bytes, at) {
    this.b = bytes;
    this.pos = at;
  }
  w(insn) {
    for (let i = 0; i < 4; i++) this.b[this.pos++] = (insn >>> (8 * i)) & 0xff;
  }
  c(word) {
    const h = compressed(word);
    this.b[this.pos++] = h & 0xff;
    this.b[this.pos++] = h >>> 8;
  }
  /** rd = v (a signed 32-bit value). */
  li32(rd, v) {
    const hi = ((v + 0x800) >>> 12) & 0xfffff;
    this.w(((hi << 12) | (rd << 7) | 0x37) >>> 0); // lui
    this.w(iType(0x1b, 0, rd, rd, (v << 20) >> 20)); // addiw: the low 12 bits, sign-extended
  }
  /** rd = v (a bigint, 64 bits). */
  li(rd, v) {
    const lo = Number(BigInt.asIntN(32, v));
    const hi = Number(BigInt.asIntN(32, v >> 32n));
    if (BigInt.asIntN(64, v) === BigInt(lo)) return this.li32(rd, lo);
    this.li32(rd, hi);
    this.w(iType(0x13, 1, rd, rd, 32)); // slli rd, 32
    this.li32(tmp, lo);
    this.w(iType(0x13, 1, tmp, tmp, 32)); // zero-extend: slli, srli
    this.w(iType(0x13, 5, tmp, tmp, 32));
    this.w(rType(0x33, 0, 0, rd, rd, tmp)); // add
  }
  /** Calls the body (jal ra, BODY). */
  callBody() {
    this.w(jType(ra, BODY - this.pos));
  }
}

/** The operand pairs every ALU form runs with: small, wide, and at the 32-bit sign boundary. */
const OPERANDS = [
  [5n, 3n],
  [-(1n << 40n) + 12345n, 0x7fff_ffff_0000_0001n],
  [-(1n << 31n), -7n],
];

/** The instruction mix: run by each mode with s10 the data pointer and sp inside the data page. */
function body(p) {
  const x10 = 10,
    x11 = 11,
    x12 = 12,
    x13 = 13,
    x9 = 9;
  p.w(iType(0x13, 0, s11, ra, 0)); // mv s11, ra
  for (const [a, b] of OPERANDS) {
    p.li(x10, a);
    p.li(x11, b);
    // OP and OP-32: base (f7 0 and 0x20) and M (f7 1)
    for (let f3 = 0; f3 < 8; f3++) {
      for (const f7 of [0, 1]) p.w(rType(0x33, f3, f7, x12, x10, x11));
      if (f3 === 0 || f3 === 5) p.w(rType(0x33, f3, 0x20, x12, x10, x11));
      if (f3 === 0 || f3 === 1 || f3 === 5) p.w(rType(0x3b, f3, 0, x12, x10, x11));
      if (f3 === 0 || f3 === 5) p.w(rType(0x3b, f3, 0x20, x12, x10, x11));
      if (f3 === 0 || f3 >= 4) p.w(rType(0x3b, f3, 1, x12, x10, x11));
    }
    // OP-IMM and OP-IMM-32, shifts by less than and by more than 32
    for (const f3 of [0, 2, 3, 4, 6, 7]) for (const imm of [-5, 100]) p.w(iType(0x13, f3, x12, x10, imm));
    for (const sh of [3, 40]) {
      p.w(iType(0x13, 1, x12, x10, sh));
      p.w(iType(0x13, 5, x12, x10, sh));
      p.w(iType(0x13, 5, x12, x10, 0x400 | sh));
    }
    p.w(iType(0x1b, 0, x12, x10, -5));
    for (const sh of [3, 20]) {
      p.w(iType(0x1b, 1, x12, x10, sh));
      p.w(iType(0x1b, 5, x12, x10, sh));
      p.w(iType(0x1b, 5, x12, x10, 0x400 | sh));
    }
    // branches, taken and not: each skips the addi after it when taken
    for (const f3 of [0, 1, 4, 5, 6, 7])
      for (const rs2 of [x11, x10]) {
        p.w(bType(f3, x10, rs2, 8));
        p.w(iType(0x13, 0, x12, x12, 1));
      }
  }
  p.w(((0x80000 << 12) | (x12 << 7) | 0x37) >>> 0); // lui (negative)
  p.w(((1 << 12) | (x12 << 7) | 0x17) >>> 0); // auipc
  // loads and stores: every size, aligned, misaligned within a page and across the next one
  const x14 = 14;
  for (const off of [0, 8, 1, 2, 4, 0xffd, 0xffa]) {
    const near = off > 2047 ? 2047 : 0; // x14 = s10 + near, then a 12-bit offset
    p.w(iType(0x13, 0, x14, s10, near));
    for (let f3 = 0; f3 < 4; f3++) p.w(sType(0x23, f3, x14, x10, off - near));
    for (let f3 = 0; f3 < 7; f3++) p.w(iType(0x03, f3, x12, x14, off - near));
  }
  // loads and then stores that miss the TLB: each on a page not touched yet in this mode
  const x15 = 15;
  for (let k = 0; k < 11; k++) {
    p.li32(x15, 0x2000 + 0x1000 * k);
    p.w(rType(0x33, 0, 0, x15, x15, s10));
    p.w(k < 7 ? iType(0x03, k, x12, x15, 0) : sType(0x23, k - 7, x15, x10, 0));
  }
  // a short loop (a taken backward branch with no store: the spin detector's case)
  p.w(iType(0x13, 0, x15, 0, 3));
  p.w(iType(0x13, 0, x15, x15, -1));
  p.w(bType(1, x15, 0, -4));
  // AMOs (every one, word and doubleword), LR/SC that succeeds, SC that fails
  p.w(iType(0x13, 0, x13, s10, 0x100));
  p.w(iType(0x13, 0, x14, s10, 0x180));
  for (const f3 of [2, 3]) {
    for (const f5 of [0, 1, 4, 8, 12, 16, 20, 24, 28]) p.w(rType(0x2f, f3, f5 << 2, x12, x13, x11));
    p.w(rType(0x2f, f3, 2 << 2, x12, x13, 0)); // lr
    p.w(sType(0x23, f3, x13, x11, 64)); // a store and an AMO elsewhere while it is held
    p.w(rType(0x2f, f3, 0, x12, x14, x11));
    p.w(rType(0x2f, f3, 3 << 2, x12, x13, x11)); // sc: succeeds
    p.w(rType(0x2f, f3, 3 << 2, x12, x13, x11)); // sc: fails (no reservation)
  }
  // F and D: moves, conversions, arithmetic in every rounding mode, compares, classes, fused
  p.w(rType(0x53, 0, 0x79, 1, x10, 0)); // fmv.d.x f1, x10
  p.w(rType(0x53, 0, 0x78, 2, x11, 0)); // fmv.w.x f2, x11
  for (const fmt of [0, 1]) {
    for (const rs2 of [0, 1, 2, 3]) p.w(rType(0x53, 7, (26 << 2) | fmt, 3 + fmt, x10, rs2)); // fcvt.fmt.int
    const fa = 3 + fmt,
      fb = 1 + fmt;
    for (const f5 of [0, 1, 2, 3])
      for (const rm of [7, 0, 1, 2, 3, 4]) p.w(rType(0x53, rm, (f5 << 2) | fmt, 8, fa, fb));
    p.w(rType(0x53, 7, (11 << 2) | fmt, 8, fa, 0)); // fsqrt
    for (const f3 of [0, 1, 2]) p.w(rType(0x53, f3, (4 << 2) | fmt, 8, fa, fb)); // fsgnj*
    for (const f3 of [0, 1]) p.w(rType(0x53, f3, (5 << 2) | fmt, 8, fa, fb)); // fmin, fmax
    for (const f3 of [0, 1, 2]) p.w(rType(0x53, f3, (20 << 2) | fmt, x12, fa, fb)); // fle, flt, feq
    for (const rs2 of [0, 1, 2, 3]) p.w(rType(0x53, 1, (24 << 2) | fmt, x12, fa, rs2)); // fcvt.int.fmt
    p.w(rType(0x53, 0, (28 << 2) | fmt, x12, fa, 0)); // fmv.x.w / fmv.x.d
    p.w(rType(0x53, 1, (28 << 2) | fmt, x12, fa, 0)); // fclass
    p.w(rType(0x53, 7, (8 << 2) | fmt, 8, 4 - fmt, 1 - fmt)); // fcvt.s.d / fcvt.d.s
    for (const op of [0x43, 0x47, 0x4b, 0x4f])
      p.w(((fa << 27) | (fmt << 25) | (fb << 20) | (fa << 15) | (7 << 12) | (8 << 7) | op) >>> 0);
  }
  for (const f3 of [2, 3]) {
    p.w(sType(0x27, f3, s10, 8, 0x40)); // fsw, fsd
    p.w(iType(0x07, f3, 9, s10, 0x40)); // flw, fld
  }
  // the FP CSRs, and the user counters
  for (const n of [0x001, 0x002, 0x003]) {
    p.w(csr(CSRRS, x12, n, 0));
    p.w(csr(CSRRW, x12, n, 0));
    p.w(csr(CSRRWI, x12, n, 1));
    p.w(csr(CSRRSI, x12, n, 2));
    p.w(csr(CSRRCI, x12, n, 3));
    p.w(csr(CSRRC, x12, n, x11));
  }
  for (const n of [0xc00, 0xc01, 0xc02]) p.w(csr(CSRRS, x12, n, 0)); // cycle, time, instret
  p.w(FENCE);
  p.w(FENCE_I);
  // C: the ALU forms (x12, x13 are in the x8-x15 range), then loads and stores off x9 and sp,
  // then control transfers; 32-bit instructions in between land on 2-byte boundaries
  p.w(iType(0x13, 0, x13, x11, 0));
  for (const w of [
    iType(0x13, 0, x12, x12, 1), // c.addi
    iType(0x13, 0, x12, 0, -3), // c.li
    ((1 << 12) | (x12 << 7) | 0x37) >>> 0, // c.lui
    iType(0x1b, 0, x12, x12, 1), // c.addiw
    iType(0x13, 1, x12, x12, 3), // c.slli
    iType(0x13, 5, x12, x12, 3), // c.srli
    iType(0x13, 5, x12, x12, 0x400 | 3), // c.srai
    iType(0x13, 7, x12, x12, 5), // c.andi
    rType(0x33, 0, 0x20, x12, x12, x13), // c.sub
    rType(0x33, 4, 0, x12, x12, x13), // c.xor
    rType(0x33, 6, 0, x12, x12, x13), // c.or
    rType(0x33, 7, 0, x12, x12, x13), // c.and
    rType(0x3b, 0, 0x20, x12, x12, x13), // c.subw
    rType(0x3b, 0, 0, x12, x12, x13), // c.addw
    rType(0x33, 0, 0, x12, 0, x10), // c.mv
    rType(0x33, 0, 0, x12, x12, x10), // c.add
  ])
    p.c(w);
  for (const w of [
    iType(0x03, 2, x12, x9, 4), // c.lw
    sType(0x23, 2, x9, x12, 8), // c.sw
    iType(0x03, 3, x12, x9, 8), // c.ld
    sType(0x23, 3, x9, x12, 16), // c.sd
    iType(0x07, 3, x12, x9, 16), // c.fld
    sType(0x27, 3, x9, x12, 24), // c.fsd
    iType(0x03, 2, x12, sp, 4), // c.lwsp
    sType(0x23, 2, sp, x12, 8), // c.swsp
    iType(0x03, 3, x12, sp, 16), // c.ldsp
    sType(0x23, 3, sp, x12, 24), // c.sdsp
    iType(0x07, 3, 1, sp, 32), // c.fldsp
    sType(0x27, 3, sp, 1, 40), // c.fsdsp
    iType(0x13, 0, x12, sp, 16), // c.addi4spn
  ]) {
    p.w(iType(0x13, 0, x9, s10, 0)); // mv x9, s10 (a load may have replaced it)
    p.c(w);
  }
  p.c(iType(0x13, 0, sp, sp, 16)); // c.addi16sp
  p.c(iType(0x13, 0, sp, sp, -16));
  for (const f3 of [0, 1]) {
    // c.beqz / c.bnez x12 over a c.nop, taken one way or the other
    p.c(bType(f3, x12, 0, 4));
    p.c(iType(0x13, 0, 0, 0, 0));
  }
  p.c(jType(0, 4)); // c.j over a c.nop
  p.c(iType(0x13, 0, 0, 0, 0));
  // c.jr and c.jalr to the instruction after them: auipc x13; addi x13, 10; c.jr x13
  for (const link of [0, ra]) {
    p.w(((0 << 12) | (x13 << 7) | 0x17) >>> 0);
    p.w(iType(0x13, 0, x13, x13, 10));
    p.c(iType(0x67, 0, link, x13, 0));
  }
  // a 32-bit instruction across a page boundary: jump to 2 bytes before the next page
  const next = (p.pos + 8 + 4095) & ~4095;
  p.w(jType(0, next - 2 - p.pos));
  p.pos = next - 2;
  p.w(iType(0x13, 0, x12, x12, 1));
  p.w(iType(0x67, 0, 0, s11, 0)); // ret (through s11)
  if (p.pos > M_TRAP) throw new Error('warm-up: the body overruns the trap handlers');
}

/** A handler's tail that returns past the trapping instruction: epc += 4, then `ret` (4 words). */
function stepOver(p, epc, ret) {
  p.w(csr(CSRRS, t0, epc, 0));
  p.w(iType(0x13, 0, t0, t0, 4));
  p.w(csr(CSRRW, 0, epc, t0));
  p.w(ret);
}

/**
 * Writes the whole program and its page tables into `bytes` (the scratch RAM, LAYOUT.size bytes
 * at LAYOUT.base); it starts at the first byte in M mode and ends writing 1 at LAYOUT.done.
 * @param {Uint8Array} bytes
 */
export function assemble(bytes) {
  bytes.fill(0);
  // M mode: CSRs, the body, the traps M takes itself, then Sv39 on and into S mode
  let p = new Asm(bytes, M_ENTRY);
  p.li(s10, BigInt(BASE + DATA));
  p.li(sp, BigInt(BASE + DATA + 0x800));
  p.li(t1, BigInt(BASE + M_TRAP));
  p.w(csr(CSRRW, 0, 0x305, t1)); // mtvec
  p.li32(t1, (3 << 13) | (1 << 18)); // mstatus.FS dirty, SUM
  p.w(csr(CSRRS, 0, 0x300, t1));
  p.li32(t1, 7);
  p.w(csr(CSRRW, 0, 0x306, t1)); // mcounteren
  p.w(csr(CSRRW, 0, 0x340, t1)); // mscratch
  for (const n of [0x300, 0x301, 0x304, 0x344, 0x340, 0xf14, 0x30a, 0x3a0, 0x3b0, 0xb00, 0xb02])
    p.w(csr(CSRRS, t2, n, 0));
  p.li32(t1, -1);
  p.w(csr(CSRRW, 0, 0x3b0, t1)); // pmpaddr0: everything
  p.li32(t1, 0x1f);
  p.w(csr(CSRRW, 0, 0x3a0, t1)); // pmpcfg0: NAPOT, RWX
  p.li32(t1, 0x222);
  p.w(csr(CSRRW, 0, 0x303, t1)); // mideleg: S's interrupts
  p.w(csr(CSRRS, t2, 0x344, 0)); // mip: set no bits (a write all the same)
  p.li32(t1, 0);
  p.w(csr(CSRRS, t2, 0x344, t1));
  p.li32(t1, MTIME);
  p.w(iType(0x03, 3, t2, t1, 0));
  p.w(iType(0x03, 2, t2, t1, 0));
  p.callBody();
  p.w(ECALL); // from M: the handler steps over it
  p.w(0); // illegal
  p.li32(t1, NOWHERE);
  p.w(iType(0x03, 2, t2, t1, 0)); // load access fault
  p.w(sType(0x23, 2, t1, t2, 0)); // store access fault
  p.li32(t1, (1 << 2) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15));
  p.w(csr(CSRRW, 0, 0x302, t1)); // medeleg: illegal, ecall from U, page faults
  p.li(t1, (8n << 60n) | BigInt((BASE + ROOT) / 4096));
  p.w(csr(CSRRW, 0, 0x180, t1)); // satp
  p.w(rType(0x73, 0, 0x09, 0, 0, 0)); // sfence.vma
  p.li32(t1, 3 << 11);
  p.w(csr(CSRRC, 0, 0x300, t1));
  p.li32(t1, 1 << 11); // mstatus.MPP = S
  p.w(csr(CSRRS, 0, 0x300, t1));
  p.li(t1, BigInt(BASE + S_ENTRY));
  p.w(csr(CSRRW, 0, 0x341, t1)); // mepc
  p.w(MRET);

  // M's handler: an ecall from S ends the program; anything else is stepped over
  p = new Asm(bytes, M_TRAP);
  p.w(csr(CSRRS, t0, 0x342, 0)); // mcause
  p.w(iType(0x13, 0, t0, t0, -9));
  p.w(bType(0, t0, 0, 20));
  stepOver(p, 0x341, MRET); // mepc += 4
  p.li(t0, BigInt(BASE + DONE));
  p.w(iType(0x13, 0, t1, 0, 1));
  p.w(sType(0x23, 2, t0, t1, 0));
  p.w(jType(0, 0)); // parks here

  // S mode (identity-mapped): CSRs, the body, page faults, the big pages, then into U mode
  p = new Asm(bytes, S_ENTRY);
  p.li(t1, BigInt(BASE + S_TRAP));
  p.w(csr(CSRRW, 0, 0x105, t1)); // stvec
  p.w(csr(CSRRW, 0, 0x140, t1)); // sscratch
  p.li32(t1, 7);
  p.w(csr(CSRRW, 0, 0x106, t1)); // scounteren
  for (const n of [0x100, 0x104, 0x144, 0x180, 0x140, 0xc01]) p.w(csr(CSRRS, t2, n, 0));
  // the body at the high alias, with its data there too
  p.li(s10, BigInt(HIGH + DATA));
  p.li(sp, BigInt(HIGH + DATA + 0x800));
  p.li(t1, BigInt(HIGH + BODY));
  p.w(iType(0x67, 0, ra, t1, 0)); // jalr ra, t1
  p.li(s10, BigInt(BASE + DATA));
  // a software interrupt, taken as sstatus.SIE turns on
  p.li32(t1, 2);
  p.w(csr(CSRRS, 0, 0x104, t1)); // sie.SSIE
  p.w(csr(CSRRS, 0, 0x144, t1)); // sip.SSIP
  p.w(csr(CSRRS, 0, 0x100, t1)); // sstatus.SIE: taken here
  p.w(csr(CSRRC, 0, 0x100, t1));
  p.li32(t1, UNMAPPED);
  p.w(iType(0x03, 3, t2, t1, 0)); // load page fault (delegated)
  p.w(sType(0x23, 3, t1, t2, 0)); // store page fault
  for (const va of [GIGA + DATA, BASE + ALIAS + DATA]) {
    p.li(t1, BigInt(va));
    p.w(iType(0x03, 3, t2, t1, 0));
    p.w(sType(0x23, 3, t1, t2, 8));
  }
  p.w(rType(0x73, 0, 0x09, 0, t1, 0)); // sfence.vma t1
  p.w(rType(0x73, 0, 0x09, 0, 0, 0));
  p.li32(t1, 1 << 8);
  p.w(csr(CSRRC, 0, 0x100, t1)); // sstatus.SPP = U
  p.li(t1, BigInt(BASE + ALIAS + U_ENTRY));
  p.w(csr(CSRRW, 0, 0x141, t1)); // sepc
  p.w(SRET);
  const sFinal = p.pos;
  p.li32(a7, 93);
  p.w(ECALL); // to M: the end

  // S's handler: an interrupt is cleared and returns; an ecall from U returns to S at sFinal;
  // anything else is stepped over
  p = new Asm(bytes, S_TRAP);
  p.w(csr(CSRRS, t0, 0x142, 0)); // scause
  p.w(bType(4, t0, 0, 28)); // blt t0, zero: an interrupt
  p.w(iType(0x13, 0, t0, t0, -8));
  p.w(bType(0, t0, 0, 28));
  stepOver(p, 0x141, SRET); // sepc += 4
  p.w(csr(CSRRCI, 0, 0x144, 2)); // the interrupt: clear sip.SSIP
  p.w(SRET);
  p.li32(t0, 1 << 8);
  p.w(csr(CSRRS, 0, 0x100, t0)); // sstatus.SPP = S
  p.li(t0, BigInt(BASE + sFinal));
  p.w(csr(CSRRW, 0, 0x141, t0));
  p.w(SRET);

  // U mode, through the user alias: the body, a CSR it may not read, the counters, ecall
  p = new Asm(bytes, U_ENTRY);
  p.li(s10, BigInt(BASE + ALIAS + DATA));
  p.li(sp, BigInt(BASE + ALIAS + DATA + 0x800));
  p.callBody();
  p.w(csr(CSRRS, t2, 0x100, 0)); // sstatus: illegal in U (delegated)
  p.w(csr(CSRRS, t2, 0xc00, 0));
  p.w(ECALL);

  body(new Asm(bytes, BODY));

  // Sv39: root[2] -> L1; root[3] and root[510] (HIGH) gigapages at BASE; L1[0] -> L0 (4 KiB pages of the scratch
  // RAM, supervisor only); L1[1] a user megapage at BASE (the alias). A and D start clear.
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pte = (off, pa, flags) => v.setBigUint64(off, (BigInt(pa / 4096) << 10n) | BigInt(flags), true);
  const V = 1,
    RWX = 2 | 4 | 8,
    U = 16;
  pte(ROOT + 2 * 8, BASE + L1, V);
  pte(ROOT + 3 * 8, BASE, V | RWX);
  pte(ROOT + 510 * 8, BASE, V | RWX | 32); // global
  pte(L1, BASE + L0, V);
  pte(L1 + 8, BASE, V | RWX | U);
  for (let i = 0; i < SIZE / 4096; i++) pte(L0 + 8 * i, BASE + 4096 * i, V | RWX);
}

/** The assembled program (the first USED bytes of the scratch RAM), made once per thread. */
let image = null;

/** Where the program lives and what it does, for tests: offsets are from `base`. */
export const LAYOUT = { base: BASE, size: SIZE, body: BODY, done: DONE, high: HIGH, alias: ALIAS, mtime: MTIME };

/**
 * Runs the warm-up program `rounds` times, each on a new Cpu (of class `CpuClass`, built with
 * `options` but scratch registers, memory and reservations) over a scratch copy of `phys`'s
 * kind of memory: the same device bus and misaligned-access mode, dirty tracking if the real
 * RAM has it. Returns the instructions run. Throws if the program does not finish, which would
 * mean the interpreter went wrong on it.
 * @param {any} CpuClass
 * @param {object} options  the Cpu's options (platform, path, fpu, atomic64, hartid)
 * @param {import('guestmem').GuestMemoryMmap} phys  the real guest memory (with its bus)
 * @param {number} [rounds]
 */
export function warmUp(CpuClass, options, phys, rounds = 8) {
  const tracked = phys.findRegion(BASE)?.mapping.bitmap != null;
  let scratch = GuestMemoryMmap.fromRanges([[BASE, SIZE]], { trackDirty: tracked });
  if (phys.bus !== undefined) scratch = scratch.withBus(phys.bus);
  scratch = scratch.withMisaligned('split');
  const region = scratch.findRegion(BASE);
  if (region === undefined) throw new Error('warm-up: no scratch RAM');
  const bytes = new Uint8Array(region.mapping.buffer, 0, SIZE);
  if (image === null) {
    image = new Uint8Array(SIZE);
    assemble(image);
    image = image.slice(0, USED);
  }
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    bytes.set(image); // the program and its tables afresh (A/D clear again), the data zeroed
    const cpu = new CpuClass({
      ...options,
      regs: new Int32Array(new SharedArrayBuffer(256)),
      phys: scratch,
      ram: { base: BASE, size: SIZE },
      reservations: new Int32Array(new SharedArrayBuffer(4 * (2 + options.hartid))).fill(-1, 1),
    });
    cpu.pc = BASE + M_ENTRY;
    let blocks = 0;
    while (bytes[DONE] === 0) {
      if (++blocks > 64) throw new Error(`warm-up: the program did not finish (pc 0x${cpu.pc.toString(16)})`);
      cpu.run(1024);
    }
    total += cpu.instret;
  }
  return total;
}
