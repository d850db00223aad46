// Architectural constants of the hart: privilege levels, exception causes, mstatus and mip bits,
// CSR numbers, and the Trap a synchronous exception throws inside the interpreter.

// Privilege levels
export const U = 0;
export const S = 1;
export const M = 3;

// Exception causes
export const MISALIGNED_FETCH = 0;
export const FETCH_ACCESS = 1;
export const ILLEGAL = 2;
export const BREAKPOINT = 3;
export const MISALIGNED_LOAD = 4;
export const LOAD_ACCESS = 5;
export const MISALIGNED_STORE = 6;
export const STORE_ACCESS = 7;
export const ECALL_U = 8;
export const FETCH_PAGE = 12;
export const LOAD_PAGE = 13;
export const STORE_PAGE = 15;

// mstatus bits (low word)
export const SIE = 1 << 1;
export const MIE = 1 << 3;
export const SPIE = 1 << 5;
export const MPIE = 1 << 7;
export const SPP = 1 << 8;
export const MPP_SHIFT = 11;
export const MPRV = 1 << 17;
export const SUM = 1 << 18;
export const MXR = 1 << 19;
export const TVM = 1 << 20;
export const TW = 1 << 21;
export const TSR = 1 << 22;
export const MSTATUS_WRITABLE =
  SIE | MIE | SPIE | MPIE | SPP | (3 << MPP_SHIFT) | MPRV | SUM | MXR | TVM | TW | TSR | (3 << 13) | (3 << 9);
export const SSTATUS_MASK = SIE | SPIE | SPP | SUM | MXR | (3 << 13) | (3 << 9) | (3 << 15);

// interrupt bits
export const SSIP = 1 << 1;
export const MSIP = 1 << 3;
export const STIP = 1 << 5;
export const MTIP = 1 << 7;
export const SEIP = 1 << 9;
export const MEIP = 1 << 11;
export const S_INTS = SSIP | STIP | SEIP;

// CSR numbers
export const CSR = {
  fflags: 0x001,
  frm: 0x002,
  fcsr: 0x003,
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  senvcfg: 0x10a,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  satp: 0x180,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  menvcfg: 0x30a,
  mcountinhibit: 0x320,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  mcycle: 0xb00,
  minstret: 0xb02,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
};

/** Thrown inside the interpreter for a synchronous exception; caught by run(). */
export class Trap {
  constructor(cause, tval) {
    this.cause = cause;
    this.tval = tval;
  }
}
// tval is often an address past 2^31 (a double): the first Trap makes that the field's kind,
// so the first such trap does not change the class under optimized code (see settleShape in cpu.js)
new Trap(0, 0.5);

export const TWO32 = 4294967296;
export const toDouble = (lo, hi) => hi * TWO32 + (lo >>> 0);
