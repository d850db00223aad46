// The interpreter's system modules on their own (examples/riscv/cpu/): the Sv39 page walker
// against a model walker over random page tables (permissions, faults, A/D bits), the CSR file's
// WARL rules and views (the FP CSRs against a model), trap entry and delegation, interrupt priorities, and the AMOs against a
// BigInt model of memory.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// the package itself (its dist build), as the example imports it: one GuestMemoryMmap class
import { GuestMemoryMmap, u64 } from 'guestmem';
// @ts-expect-error an example's JavaScript module, without declarations
import { Cpu } from '../../../examples/riscv/cpu/cpu.js';
// @ts-expect-error an example's JavaScript module, without declarations
import { translate } from '../../../examples/riscv/cpu/mmu.js';
// @ts-expect-error an example's JavaScript module, without declarations
import { csrRead, csrWrite } from '../../../examples/riscv/cpu/csr.js';
// @ts-expect-error an example's JavaScript module, without declarations
import { checkInterrupts, trap } from '../../../examples/riscv/cpu/trap.js';

const RAM = 0x8000_0000;
const SIZE = 4 << 20;
/* eslint-disable @typescript-eslint/no-explicit-any -- the example's hart is untyped JavaScript */
function hart(lines = 0): { cpu: any; mem: GuestMemoryMmap; regs: Int32Array; setLines: (l: number) => void } {
  const mem = GuestMemoryMmap.fromRanges([[RAM, SIZE]]);
  const regs = new Int32Array(64);
  let l = lines;
  const platform = { mtime: () => 0, lines: () => l, sleep: () => {} };
  const cpu = new Cpu({ hartid: 0, regs, phys: mem, platform, ram: { base: RAM, size: SIZE } });
  return { cpu, mem, regs, setLines: (v) => (l = v) };
}
const M = 3,
  S = 1,
  U = 0;

describe('riscv Sv39 page walker against a model', () => {
  it('random 4 KiB mappings with random permissions: the physical address or the right page fault, and A/D set as the access needs', () => {
    const { cpu, mem } = hart();
    const ROOT = RAM + 0x10_0000; // page tables from 1 MiB, data pages from 2 MiB
    let next = ROOT + 0x1000;
    const table = (): number => {
      const t = next;
      next += 0x1000;
      return t;
    };
    /** The model: vpn -> { ppn, flags } for the leaves. */
    const leaves = new Map<number, { pa: number; flags: number }>();
    const perms = [0x01 | 0x02, 0x01 | 0x02 | 0x04, 0x01 | 0x08, 0x01 | 0x02 | 0x08, 0x01 | 0x02 | 0x04 | 0x08];
    const rnd = fc.sample(
      fc.tuple(
        fc.integer({ min: 0, max: 2 ** 27 - 1 }),
        fc.constantFrom(...perms),
        fc.boolean(),
        fc.integer({ min: 0, max: 255 }),
      ),
      { numRuns: 300, seed: 7 },
    );
    const l1 = new Map<number, number>();
    const l0 = new Map<number, number>();
    for (const [vpn, p, user, page] of rnd) {
      if (leaves.has(vpn)) continue;
      const v2 = (vpn >>> 18) & 0x1ff,
        v1 = (vpn >>> 9) & 0x1ff,
        v0 = vpn & 0x1ff;
      if (!l1.has(v2)) {
        const t = table();
        l1.set(v2, t);
        mem.writeObj(u64, (BigInt(t / 4096) << 10n) | 1n, ROOT + v2 * 8);
      }
      const key = (v2 << 9) | v1;
      if (!l0.has(key)) {
        const t = table();
        l0.set(key, t);
        mem.writeObj(u64, (BigInt(t / 4096) << 10n) | 1n, l1.get(v2)! + v1 * 8);
      }
      const pa = RAM + 0x20_0000 + page * 0x1000;
      const flags = p | (user ? 0x10 : 0);
      leaves.set(vpn, { pa, flags });
      mem.writeObj(u64, (BigInt(pa / 4096) << 10n) | BigInt(flags), l0.get(key)! + v0 * 8);
    }
    cpu.setCsr(0x180, ROOT / 4096, 8 << 28); // satp: Sv39
    const faults = [13, 15, 12]; // load, store, fetch page faults
    let checked = 0;
    for (const [vpn, { pa, flags }] of leaves) {
      for (const priv of [S, U]) {
        for (const access of [0, 1, 2]) {
          cpu.priv = priv;
          cpu.setCsr(0x300, 0, 0xa);
          // canonical: the upper half of the Sv39 space (bit 38 set) sign-extends to bit 63
          const va = vpn * 4096 + 0x123 - (vpn >= 2 ** 26 ? 2 ** 39 : 0);
          const lo = va | 0,
            hi = Math.floor(va / 2 ** 32);
          const need = access === 0 ? 0x02 : access === 1 ? 0x04 : 0x08;
          // U mode needs the U bit; S mode (SUM off) may not touch a U page at all
          const userOk = priv === U ? (flags & 0x10) !== 0 : (flags & 0x10) === 0;
          const ok = (flags & need) !== 0 && userOk;
          let got: number | string;
          try {
            got = translate(cpu, lo, hi, access);
          } catch (e) {
            got = `fault ${(e as { cause: number }).cause}`;
          }
          expect(got, `vpn ${vpn} flags ${flags} priv ${priv} access ${access}`).toBe(
            ok ? pa + 0x123 : `fault ${faults[access]}`,
          );
          if (ok) {
            const pte = Number(
              mem.readObj(u64, l0.get((((vpn >>> 18) & 0x1ff) << 9) | ((vpn >>> 9) & 0x1ff))! + (vpn & 0x1ff) * 8) &
                0xffn,
            );
            expect(pte & 0x40).toBe(0x40); // A
            if (access === 1) expect(pte & 0x80).toBe(0x80); // D
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1500);
    // an address that is not canonical (bits 63..39 not all equal to bit 38) faults
    cpu.priv = S;
    expect(() => translate(cpu, 0, 0x100, 0)).toThrow();
  });
});

describe('riscv CSR file', () => {
  it('WARL rules and views: MPP, FS read-only zero without F, sstatus a mask of mstatus, SD from FS, mepc bit 0, unsupported satp modes ignored', () => {
    const { cpu } = hart();
    const read = (n: number): bigint => {
      const lo = csrRead(cpu, n);
      return BigInt.asUintN(64, (BigInt(cpu.tmp[1]) << 32n) | BigInt(lo >>> 0));
    };
    csrWrite(cpu, 0x300, 2 << 11, 0); // MPP = 2 (H): not a mode here
    expect((read(0x300) >> 11n) & 3n).toBe(0n);
    csrWrite(cpu, 0x300, (1 << 11) | (3 << 13), 0); // MPP = S, FS = dirty
    expect((read(0x300) >> 11n) & 3n).toBe(1n);
    expect(read(0x300) >> 63n).toBe(1n); // SD
    expect(read(0x100) & (3n << 11n)).toBe(0n); // sstatus hides MPP
    expect((read(0x100) >> 13n) & 3n).toBe(3n); // and shows FS
    csrWrite(cpu, 0x341, 0x1235, 0);
    expect(read(0x341)).toBe(0x1234n);
    const satp = read(0x180);
    csrWrite(cpu, 0x180, 5, 9 << 28); // Sv48: not supported, ignored
    expect(read(0x180)).toBe(satp);
    const nofp = new Cpu({
      hartid: 0,
      regs: new Int32Array(64),
      phys: GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]),
      platform: { mtime: () => 0, lines: () => 0, sleep: () => {} },
      ram: { base: RAM, size: 1 << 20 },
      fpu: false,
    });
    csrWrite(nofp, 0x300, 3 << 13, 0);
    expect(csrRead(nofp, 0x300) & (3 << 13)).toBe(0);
    expect(() => csrRead(nofp, 0x001)).toThrow(); // fflags: illegal with FS off
  });

  it('fflags, frm and fcsr are views of one register; writing any of them marks FS dirty', () => {
    const { cpu } = hart();
    csrWrite(cpu, 0x300, 1 << 13, 0); // FS = initial
    for (const [n, v] of fc.sample(fc.tuple(fc.constantFrom(1, 2, 3), fc.integer({ min: 0, max: 0x1ff })), {
      numRuns: 200,
      seed: 3,
    })) {
      const before = csrRead(cpu, 3);
      csrWrite(cpu, n, v, 0);
      // the model: fcsr = frm << 5 | fflags, 8 bits
      const want = n === 1 ? (before & ~31) | (v & 31) : n === 2 ? (before & 31) | ((v & 7) << 5) : v & 0xff;
      expect(csrRead(cpu, 3)).toBe(want);
      expect(csrRead(cpu, 1)).toBe(want & 31);
      expect(csrRead(cpu, 2)).toBe(want >>> 5);
      expect((csrRead(cpu, 0x300) >>> 13) & 3).toBe(3);
    }
  });

  it('a counter CSR is gated by mcounteren and scounteren; an M-mode CSR is illegal from S', () => {
    const { cpu } = hart();
    cpu.priv = S;
    expect(() => csrRead(cpu, 0xc01)).toThrow(); // time, mcounteren clear
    cpu.priv = M;
    csrWrite(cpu, 0x306, 2, 0);
    cpu.priv = S;
    expect(csrRead(cpu, 0xc01)).toBe(0);
    cpu.priv = U;
    expect(() => csrRead(cpu, 0xc01)).toThrow(); // scounteren clear
    cpu.priv = S;
    expect(() => csrRead(cpu, 0x300)).toThrow();
  });
});

describe('riscv traps and interrupts', () => {
  it('an exception delegated by medeleg from S goes to S (sepc, scause, stval, SPP, SPIE); from M it stays in M', () => {
    const { cpu } = hart();
    cpu.setCsr(0x302, 1 << 13, 0); // medeleg: load page faults
    cpu.setCsr(0x105, 0x4000, 0); // stvec
    cpu.setCsr(0x305, 0x8000, 0); // mtvec
    cpu.setCsr(0x300, 1 << 1, 0xa); // SIE on
    cpu.setPriv(S);
    cpu.pc = 0x1000;
    trap(cpu, 13, 0xdead, false);
    expect([cpu.priv, cpu.pc, cpu.getLo(0x141), cpu.getLo(0x142), cpu.getLo(0x143)]).toEqual([
      S,
      0x4000,
      0x1000,
      13,
      0xdead,
    ]);
    const ms = cpu.getLo(0x300);
    expect([ms & (1 << 8), ms & (1 << 5), ms & (1 << 1)]).toEqual([1 << 8, 1 << 5, 0]); // SPP = S, SPIE, SIE off
    cpu.setPriv(M);
    cpu.pc = 0x2000;
    trap(cpu, 13, 0, false);
    expect([cpu.priv, cpu.pc, cpu.getLo(0x341), cpu.getLo(0x342)]).toEqual([M, 0x8000, 0x2000, 13]);
    expect((cpu.getLo(0x300) >>> 11) & 3).toBe(M); // MPP
  });

  it('pending interrupts are taken in priority order (MEI, MSI, MTI, SEI, SSI, STI), only where enabled, with the interrupt bit in mcause', () => {
    const { cpu, setLines } = hart();
    cpu.setCsr(0x305, 0x8000, 0);
    cpu.setCsr(0x304, 0xaaa, 0); // mie: everything
    cpu.setCsr(0x300, 1 << 3, 0xa); // MIE
    cpu.setPriv(M);
    const order = [11, 3, 7, 9, 1, 5];
    let lines = order.reduce((a, c) => a | (1 << c), 0);
    for (const cause of order) {
      setLines(lines);
      cpu.setCsr(0x300, 1 << 3, 0xa);
      cpu.setPriv(M);
      expect(checkInterrupts(cpu)).toBe(true);
      expect([cpu.getLo(0x342), cpu.getHi(0x342)]).toEqual([cause, 0x80000000 | 0]);
      lines &= ~(1 << cause);
    }
    setLines(1 << 11);
    cpu.setCsr(0x300, 0, 0xa); // MIE off in M mode: nothing is taken
    cpu.setPriv(M);
    expect(checkInterrupts(cpu)).toBe(false);
  });
});

describe('riscv AMOs against a BigInt model', () => {
  it('amoadd/swap/xor/or/and/min/max/minu/maxu, .w and .d: the old value in rd, the model value in memory', () => {
    const { cpu, mem, regs } = hart();
    const ADDR = RAM + 0x8000;
    const ops: [number, (a: bigint, b: bigint, w: number) => bigint][] = [
      [0, (a, b) => a + b],
      [1, (_a, b) => b],
      [4, (a, b) => a ^ b],
      [8, (a, b) => a | b],
      [12, (a, b) => a & b],
      [16, (a, b) => (a < b ? a : b)],
      [20, (a, b) => (a > b ? a : b)],
      [24, (a, b, w) => (BigInt.asUintN(w, a) < BigInt.asUintN(w, b) ? a : b)],
      [28, (a, b, w) => (BigInt.asUintN(w, a) > BigInt.asUintN(w, b) ? a : b)],
    ];
    const word = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.constantFrom(32, 64), word, word, ([f5, model], w, m0, v0) => {
        const m = BigInt.asIntN(w, m0),
          v = BigInt.asIntN(w, v0);
        mem.writeObj(u64, BigInt.asUintN(64, m), ADDR);
        const set = (r: number, x: bigint): void => {
          regs[2 * r] = Number(BigInt.asIntN(32, x));
          regs[2 * r + 1] = Number(BigInt.asIntN(32, x >> 32n));
        };
        set(1, BigInt(ADDR));
        set(2, v);
        const insn = ((f5 << 27) | (2 << 20) | (1 << 15) | ((w === 32 ? 2 : 3) << 12) | (3 << 7) | 0x2f) >>> 0;
        mem.writeSlice(new Uint8Array(new Uint32Array([insn]).buffer), RAM);
        cpu.pc = RAM;
        cpu.run(1);
        const rd = (BigInt(regs[7]!) << 32n) | BigInt(regs[6]! >>> 0);
        expect(rd).toBe(m); // old value, sign-extended for .w
        const now = mem.readObj(u64, ADDR);
        const want = BigInt.asIntN(w, model(m, v, w));
        if (w === 64) expect(BigInt.asIntN(64, now)).toBe(want);
        else expect(BigInt.asIntN(32, now)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});
