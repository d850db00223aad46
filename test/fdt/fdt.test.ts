// FdtWriter and parseFdt: a machine-like tree written, decompiled by dtc without warnings where
// dtc is installed, and read back the same by the reader; every kind of property; phandles;
// memory reservations; a deduplicated strings block; refused names, values and call orders;
// damaged blobs refused by the reader.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FdtError, FdtWriter, fdtCells, fdtStrings, parseFdt, type FdtTreeNode } from '../../src/index.js';

function machine(): Uint8Array {
  const fdt = new FdtWriter({ bootCpuid: 0 });
  fdt.reserveMemory(0x8000_0000, 0x20_0000);
  const root = fdt.beginNode('');
  fdt.propertyU32('#address-cells', 2);
  fdt.propertyU32('#size-cells', 2);
  fdt.propertyStringList('compatible', ['riscv-virtio', 'guestmem,test']);
  fdt.propertyString('model', 'guestmem test machine');
  const chosen = fdt.beginNode('chosen');
  fdt.propertyString('bootargs', 'console=ttyS0 earlycon');
  fdt.propertyString('stdout-path', '/soc/serial@10000000');
  fdt.endNode(chosen);
  const cpus = fdt.beginNode('cpus');
  fdt.propertyU32('#address-cells', 1);
  fdt.propertyU32('#size-cells', 0);
  fdt.propertyU32('timebase-frequency', 10_000_000);
  const intc: number[] = [];
  for (let h = 0; h < 2; h++) {
    const cpu = fdt.beginNode(`cpu@${h}`);
    fdt.propertyString('device_type', 'cpu');
    fdt.propertyU32('reg', h);
    fdt.propertyString('status', 'okay');
    fdt.propertyString('compatible', 'riscv');
    fdt.propertyString('riscv,isa', 'rv64imac');
    const ic = fdt.beginNode('interrupt-controller');
    fdt.propertyU32('#interrupt-cells', 1);
    fdt.propertyU32('#address-cells', 0);
    fdt.propertyNull('interrupt-controller');
    fdt.propertyString('compatible', 'riscv,cpu-intc');
    intc.push(fdt.phandle());
    fdt.endNode(ic);
    fdt.endNode(cpu);
  }
  fdt.endNode(cpus);
  const memory = fdt.beginNode('memory@80000000');
  fdt.propertyString('device_type', 'memory');
  fdt.propertyCells('reg', [0, 0x8000_0000, 0, 0x800_0000]);
  fdt.endNode(memory);
  const soc = fdt.beginNode('soc');
  fdt.propertyU32('#address-cells', 2);
  fdt.propertyU32('#size-cells', 2);
  fdt.propertyString('compatible', 'simple-bus');
  fdt.propertyNull('ranges');
  const plic = fdt.beginNode('plic@c000000');
  fdt.propertyString('compatible', 'riscv,plic0');
  fdt.propertyCells('reg', [0, 0x0c00_0000, 0, 0x400_0000]);
  fdt.propertyU32('#interrupt-cells', 1);
  fdt.propertyU32('#address-cells', 0);
  fdt.propertyNull('interrupt-controller');
  fdt.propertyCells(
    'interrupts-extended',
    intc.flatMap((p) => [p, 11, p, 9]),
  );
  fdt.propertyU32('riscv,ndev', 31);
  const plicHandle = fdt.phandle();
  fdt.endNode(plic);
  const uart = fdt.beginNode('serial@10000000');
  fdt.propertyString('compatible', 'ns16550a');
  fdt.propertyCells('reg', [0, 0x1000_0000, 0, 0x100]);
  fdt.propertyU32('clock-frequency', 3_686_400);
  fdt.propertyU32('interrupt-parent', plicHandle);
  fdt.propertyU32('interrupts', 10);
  fdt.endNode(uart);
  fdt.endNode(soc);
  const blob = fdt.beginNode('blob');
  fdt.propertyU64('big', 0x1234_5678_9abc_def0n);
  fdt.propertyBytes('raw', Uint8Array.of(1, 2, 3));
  fdt.endNode(blob);
  fdt.endNode(root);
  return fdt.finish();
}

const child = (n: FdtTreeNode, name: string): FdtTreeNode => n.children.find((c) => c.name === name)!;

describe('FdtWriter', () => {
  it('writes a tree the reader reads back: names, every property kind, phandles, reservations', () => {
    const t = parseFdt(machine());
    expect(t.bootCpuid).toBe(0);
    expect(t.reserved).toEqual([[0x8000_0000n, 0x20_0000n]]);
    expect(t.root.name).toBe('');
    expect(fdtStrings(t.root.props.get('compatible')!)).toEqual(['riscv-virtio', 'guestmem,test']);
    expect(t.root.children.map((c) => c.name)).toEqual(['chosen', 'cpus', 'memory@80000000', 'soc', 'blob']);
    const cpus = child(t.root, 'cpus');
    expect(cpus.children.map((c) => fdtCells(c.props.get('reg')!)[0])).toEqual([0, 1]);
    const handles = cpus.children.map((c) => fdtCells(child(c, 'interrupt-controller').props.get('phandle')!)[0]);
    expect(handles).toEqual([1, 2]);
    const soc = child(t.root, 'soc');
    const plic = child(soc, 'plic@c000000');
    expect(fdtCells(plic.props.get('interrupts-extended')!)).toEqual([1, 11, 1, 9, 2, 11, 2, 9]);
    expect(plic.props.get('interrupt-controller')!.length).toBe(0);
    expect(fdtCells(child(soc, 'serial@10000000').props.get('interrupt-parent')!)).toEqual([3]);
    const b = child(t.root, 'blob');
    expect(fdtCells(b.props.get('big')!)).toEqual([0x1234_5678, 0x9abc_def0]);
    expect([...b.props.get('raw')!]).toEqual([1, 2, 3]);
  });

  it('keeps each property name once in the strings block', () => {
    const dtb = machine();
    const dv = new DataView(dtb.buffer);
    const strings = new TextDecoder().decode(dtb.subarray(dv.getUint32(12), dv.getUint32(12) + dv.getUint32(32)));
    const names = strings.split('\0').filter(Boolean);
    expect(names.length).toBe(new Set(names).size);
    expect(names).toContain('compatible');
    expect(dv.getUint32(4)).toBe(dtb.length);
    expect(dv.getUint32(20)).toBe(17);
  });

  const dtc = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
  if (dtc.status !== 0) console.log('skipped the dtc check: dtc is not installed (Debian: device-tree-compiler)');
  it.runIf(dtc.status === 0)('dtc -I dtb -O dts decompiles it without a warning', () => {
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '-', '-'], { input: machine(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    // (dtc versions print a string list as "a", "b" or as "a\0b")
    expect(r.stdout).toMatch(/compatible = "riscv-virtio(", "|\\0)guestmem,test";/);
    expect(r.stdout).toMatch(/\/memreserve\/\s+0x0000000080000000 0x0000000000200000;/);
    expect(r.stdout).toContain('serial@10000000 {');
    expect(r.stdout).toContain('interrupts-extended = <0x01 0x0b 0x01 0x09 0x02 0x0b 0x02 0x09>;');
  });

  it('refuses bad names, bad values and calls out of order (FdtError)', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(FdtError);
        return (e as FdtError).code;
      }
      return 'none';
    };
    const open = (): FdtWriter => {
      const f = new FdtWriter();
      f.beginNode('');
      return f;
    };
    expect(code(() => new FdtWriter().beginNode('root'))).toBe('ERR_FDT_NAME');
    expect(code(() => open().beginNode('has space'))).toBe('ERR_FDT_NAME');
    expect(code(() => open().beginNode('x'.repeat(32)))).toBe('ERR_FDT_NAME');
    expect(code(() => open().propertyU32('bad name', 1))).toBe('ERR_FDT_NAME');
    expect(code(() => open().propertyU32('n', -1))).toBe('ERR_FDT_VALUE');
    expect(code(() => open().propertyU32('n', 2 ** 32))).toBe('ERR_FDT_VALUE');
    expect(code(() => open().propertyU64('n', 2n ** 64n))).toBe('ERR_FDT_VALUE');
    expect(code(() => open().propertyString('s', 'a\0b'))).toBe('ERR_FDT_VALUE');
    expect(code(() => new FdtWriter().propertyU32('n', 1))).toBe('ERR_FDT_ORDER');
    const f = open();
    f.propertyU32('a', 1);
    expect(code(() => f.propertyU32('a', 2))).toBe('ERR_FDT_ORDER');
    const c = f.beginNode('c');
    expect(code(() => f.finish())).toBe('ERR_FDT_ORDER');
    f.endNode(c);
    expect(code(() => f.propertyU32('b', 1))).toBe('ERR_FDT_ORDER'); // after a child node
    expect(code(() => f.endNode(c))).toBe('ERR_FDT_ORDER');
  });
});

describe('parseFdt', () => {
  it('refuses damaged blobs with ERR_FDT_FORMAT, never a RangeError', () => {
    const good = machine();
    const damaged: Uint8Array[] = [good.subarray(0, 39), good.subarray(0, good.length - 8)];
    let x = 7;
    for (let i = 0; i < 300; i++) {
      const b = good.slice();
      for (let k = 0; k < 1 + (i % 3); k++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[x % b.length] = b[x % b.length]! ^ (1 << (x >>> 29));
      }
      damaged.push(b);
    }
    let refused = 0;
    for (const b of damaged) {
      try {
        parseFdt(b);
      } catch (e) {
        expect(e).toBeInstanceOf(FdtError);
        expect((e as FdtError).code).toBe('ERR_FDT_FORMAT');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(50);
    // deep nesting is refused, not recursed into
    const w = new FdtWriter();
    const nodes = [w.beginNode('')];
    for (let i = 0; i < 70; i++) nodes.push(w.beginNode(`n${i}`));
    for (const n of nodes.reverse()) w.endNode(n);
    expect(() => parseFdt(w.finish())).toThrow(FdtError);
  });
});
