// The interpreter's warm-up (examples/riscv/cpu/warmup.js): its program runs to its end through
// M, S and U mode, taking each trap it means to take, with the body run at the physical, the
// high (Linux's) and the user addresses; and warming up leaves the real memory alone.
import { describe, expect, it } from 'vitest';
import { DeviceBus, GuestMemoryMmap } from 'guestmem';
// @ts-expect-error an example's JavaScript module, without declarations
import { Cpu } from '../../../examples/riscv/cpu/cpu.js';
// @ts-expect-error an example's JavaScript module, without declarations
import { LAYOUT, assemble, warmUp } from '../../../examples/riscv/cpu/warmup.js';

interface Hart {
  pc: number;
  priv: number;
  instret: number;
  stats: { traps: number; interrupts: number; exceptions: number; mmio: number };
  run(budget: number): number;
  saveState(): { csr: Int32Array };
}

const platform = { lock: new Int32Array(new SharedArrayBuffer(4)), mtime: () => 0, lines: () => 0, sleep: () => {} };

/** Scratch-sized memory with a device at the CLINT's mtime, as the machine has. */
function memory(): { phys: GuestMemoryMmap; reads: number[] } {
  const reads: number[] = [];
  const bus = new DeviceBus({ vcpu: 0 });
  bus.register(LAYOUT.mtime & ~0xfff, 0x1000, {
    read: (off: number) => {
      reads.push(off);
      return 0;
    },
    write: () => {},
  });
  const phys = GuestMemoryMmap.fromRanges([[LAYOUT.base, LAYOUT.size]]).withBus(bus);
  return { phys, reads };
}

describe('the warm-up program', () => {
  it('runs through M, S and U to its end, taking the traps it means to', () => {
    const { phys, reads } = memory();
    const bytes = new Uint8Array(phys.findRegion(LAYOUT.base)!.mapping.buffer, 0, LAYOUT.size);
    assemble(bytes);
    const cpu: Hart = new Cpu({
      hartid: 0,
      regs: new Int32Array(64),
      phys,
      platform,
      ram: { base: LAYOUT.base, size: LAYOUT.size },
    });
    cpu.pc = LAYOUT.base;
    const traps: string[] = [];
    const bodyAt = new Set<string>();
    const inBody = (pc: number, base: number): boolean => pc >= base + LAYOUT.body && pc < base + LAYOUT.body + 0x5000;
    for (let i = 0; i < 20_000 && bytes[LAYOUT.done] === 0; i++) {
      const pc = cpu.pc;
      const priv = cpu.priv;
      const before = cpu.stats.traps;
      cpu.run(1);
      if (inBody(pc, LAYOUT.base)) bodyAt.add(`phys ${priv}`);
      if (inBody(pc, LAYOUT.high)) bodyAt.add(`high ${priv}`);
      if (inBody(pc, LAYOUT.base + LAYOUT.alias)) bodyAt.add(`alias ${priv}`);
      if (cpu.stats.traps !== before) {
        const csr = cpu.saveState().csr;
        const n = cpu.priv === 3 ? 0x342 : 0x142; // mcause or scause: the interrupt bit is bit 63
        traps.push(`${priv}->${cpu.priv}:${csr[2 * n + 1]! < 0 ? 'irq' : ''}${csr[2 * n]!}`);
      }
    }
    expect(bytes[LAYOUT.done]).toBe(1);
    // M: ecall, illegal, load and store access faults; S: a software interrupt, load and store
    // page faults (delegated); U: an illegal CSR read and its ecall (delegated); S's ecall ends it
    expect(traps).toEqual([
      '3->3:11',
      '3->3:2',
      '3->3:5',
      '3->3:7',
      '1->1:irq1',
      '1->1:13',
      '1->1:15',
      '0->1:2',
      '0->1:8',
      '1->3:9',
    ]);
    expect([...bodyAt].sort()).toEqual(['alias 0', 'high 1', 'phys 3']);
    // the mtime loads (ld, lw) went to the device: 8 bytes at 0xff8 (a device without read64
    // sees an 8-byte load as two 4-byte ones)
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads.every((o) => o === (LAYOUT.mtime & 0xfff) || o === (LAYOUT.mtime & 0xfff) + 4)).toBe(true);
    expect(cpu.instret).toBeGreaterThan(1500);
  });

  it('leaves the real memory alone (the program runs in scratch memory)', () => {
    const { phys } = memory();
    const pattern = new Uint8Array(LAYOUT.size).map((_, i) => (i * 7) & 0xff);
    phys.writeSlice(pattern, LAYOUT.base);
    const n = warmUp(Cpu, { hartid: 1, platform, path: 'tcache', atomic64: true }, phys, 3);
    expect(n).toBeGreaterThan(3 * 1500);
    const after = new Uint8Array(LAYOUT.size);
    phys.readSlice(after, LAYOUT.base);
    expect(Buffer.compare(after, pattern)).toBe(0);
  });

  it('warms up on each memory path', () => {
    for (const path of ['tcache', 'raw', 'checked']) {
      const { phys } = memory();
      expect(warmUp(Cpu, { hartid: 0, platform, path }, phys, 1)).toBeGreaterThan(1500);
    }
  });
});
