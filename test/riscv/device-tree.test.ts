// The RISC-V machine's generated device tree: what Linux and OpenSBI read from it (cpus with
// riscv,isa and their interrupt controllers, memory, CLINT, the PLIC with its source count,
// the UART, the virtio slots, /chosen), read back with parseFdt and checked by dtc where present.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fdtCells, fdtStrings, parseFdt, type FdtTreeNode } from '../../src/index.js';
// @ts-expect-error: the example is JavaScript without declarations
import { machineDeviceTree } from '../../examples/riscv/devices/device-tree.js';

const child = (n: FdtTreeNode, name: string): FdtTreeNode => {
  const c = n.children.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no ${name} under ${n.name || '/'}`);
  return c;
};
const str = (n: FdtTreeNode, p: string): string => fdtStrings(n.props.get(p)!)[0]!;

const blob = (): Uint8Array =>
  machineDeviceTree({
    harts: 3,
    ramBase: 0x8000_0000,
    ramSize: 256 << 20,
    isa: 'rv64imafdc_zicsr_zifencei',
    uart: { base: 0x1000_0000, irq: 10 },
    virtio: [
      { base: 0x1000_1000, irq: 1 },
      { base: 0x1000_2000, irq: 2 },
    ],
    bootargs: 'console=ttyS0 earlycon=sbi',
    initrd: { start: 0x8800_0000, end: 0x8810_0000 },
  });

describe('riscv machine device tree', () => {
  it('describes the machine from its configuration', () => {
    const t = parseFdt(blob());
    const chosen = child(t.root, 'chosen');
    expect(str(chosen, 'bootargs')).toBe('console=ttyS0 earlycon=sbi');
    expect(str(chosen, 'stdout-path')).toBe('/soc/serial@10000000');
    expect(fdtCells(chosen.props.get('linux,initrd-start')!)).toEqual([0, 0x8800_0000]);
    const cpus = child(t.root, 'cpus');
    expect(fdtCells(cpus.props.get('timebase-frequency')!)).toEqual([10_000_000]);
    const harts = cpus.children.filter((c) => c.name.startsWith('cpu@'));
    expect(harts.map((c) => fdtCells(c.props.get('reg')!)[0])).toEqual([0, 1, 2]);
    for (const c of harts) {
      expect(str(c, 'riscv,isa')).toBe('rv64imafdc_zicsr_zifencei');
      expect(str(child(c, 'interrupt-controller'), 'compatible')).toBe('riscv,cpu-intc');
    }
    expect(fdtCells(child(t.root, 'memory@80000000').props.get('reg')!)).toEqual([0, 0x8000_0000, 0, 256 << 20]);
    const soc = child(t.root, 'soc');
    const plic = child(soc, 'plic@c000000');
    expect(fdtCells(plic.props.get('riscv,ndev')!)).toEqual([95]);
    // the hart interrupt controllers' phandles, M (11) and S (9) external per hart
    expect(fdtCells(plic.props.get('interrupts-extended')!)).toEqual([1, 11, 1, 9, 2, 11, 2, 9, 3, 11, 3, 9]);
    expect(fdtCells(child(soc, 'clint@2000000').props.get('interrupts-extended')!)).toEqual([
      1, 3, 1, 7, 2, 3, 2, 7, 3, 3, 3, 7,
    ]);
    const p = fdtCells(plic.props.get('phandle')!)[0];
    const uart = child(soc, 'serial@10000000');
    expect([fdtCells(uart.props.get('interrupt-parent')!)[0], fdtCells(uart.props.get('interrupts')!)[0]]).toEqual([
      p,
      10,
    ]);
    expect(fdtCells(child(soc, 'virtio_mmio@10002000').props.get('interrupts')!)).toEqual([2]);
  });

  const dtc = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
  if (dtc.status !== 0) console.log('skipped the dtc check of the machine tree: dtc is not installed');
  it.runIf(dtc.status === 0)('dtc decompiles it without a warning', () => {
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '-', '-'], { input: blob(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('riscv,ndev = <0x5f>;');
  });
});
