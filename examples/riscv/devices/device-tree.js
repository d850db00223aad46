// The machine's flattened device tree, generated from its configuration with the library's
// FdtWriter (the layout of QEMU's virt machine): cpus with their interrupt controllers, memory,
// the SiFive test device, the CLINT, the PLIC with its real source count, the 16550 UART, every
// virtio-mmio slot, and /chosen (bootargs, stdout-path, the initrd range when there is one).
import { FdtWriter } from 'guestmem';
import { CLINT_BASE, PLIC_BASE, PLIC_SOURCES, TICKS_PER_MS } from './platform.js';

/** Two cells of a 64-bit value. */
const cells64 = (v) => [Math.floor(v / 2 ** 32), v >>> 0];

/**
 * @param {object} m
 * @param {number} m.harts
 * @param {number} m.ramBase
 * @param {number} m.ramSize
 * @param {string} m.isa  riscv,isa of every hart, e.g. 'rv64ima_zicsr_zifencei'
 * @param {{ base: number, irq: number }} m.uart
 * @param {{ base: number, irq: number }[]} m.virtio
 * @param {string} [m.bootargs]
 * @param {{ start: number, end: number }} [m.initrd]
 * @param {number} [m.test]  the SiFive test device's base (poweroff and reboot), if the machine has one
 * @returns {Uint8Array} the blob
 */
export function machineDeviceTree(m) {
  const fdt = new FdtWriter({ bootCpuid: 0 });
  const root = fdt.beginNode('');
  fdt.propertyU32('#address-cells', 2);
  fdt.propertyU32('#size-cells', 2);
  fdt.propertyString('compatible', 'riscv-virtio');
  fdt.propertyString('model', 'guestmem riscv virt');

  const chosen = fdt.beginNode('chosen');
  if (m.bootargs !== undefined) fdt.propertyString('bootargs', m.bootargs);
  fdt.propertyString('stdout-path', `/soc/serial@${m.uart.base.toString(16)}`);
  if (m.initrd !== undefined) {
    fdt.propertyU64('linux,initrd-start', m.initrd.start);
    fdt.propertyU64('linux,initrd-end', m.initrd.end);
  }
  fdt.endNode(chosen);

  const cpus = fdt.beginNode('cpus');
  fdt.propertyU32('#address-cells', 1);
  fdt.propertyU32('#size-cells', 0);
  fdt.propertyU32('timebase-frequency', TICKS_PER_MS * 1000);
  const intc = [];
  for (let h = 0; h < m.harts; h++) {
    const cpu = fdt.beginNode(`cpu@${h}`);
    fdt.propertyString('device_type', 'cpu');
    fdt.propertyU32('reg', h);
    fdt.propertyString('status', 'okay');
    fdt.propertyString('compatible', 'riscv');
    fdt.propertyString('riscv,isa', m.isa);
    fdt.propertyString('mmu-type', 'riscv,sv39');
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

  const memory = fdt.beginNode(`memory@${m.ramBase.toString(16)}`);
  fdt.propertyString('device_type', 'memory');
  fdt.propertyCells('reg', [...cells64(m.ramBase), ...cells64(m.ramSize)]);
  fdt.endNode(memory);

  const soc = fdt.beginNode('soc');
  fdt.propertyU32('#address-cells', 2);
  fdt.propertyU32('#size-cells', 2);
  fdt.propertyString('compatible', 'simple-bus');
  fdt.propertyNull('ranges');

  if (m.test !== undefined) {
    const test = fdt.beginNode(`test@${m.test.toString(16)}`);
    fdt.propertyStringList('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
    fdt.propertyCells('reg', [...cells64(m.test), ...cells64(0x1000)]);
    fdt.endNode(test);
  }

  const clint = fdt.beginNode(`clint@${CLINT_BASE.toString(16)}`);
  fdt.propertyStringList('compatible', ['sifive,clint0', 'riscv,clint0']);
  fdt.propertyCells('reg', [...cells64(CLINT_BASE), ...cells64(0x10000)]);
  // per hart: machine software (3) and machine timer (7) interrupts
  fdt.propertyCells(
    'interrupts-extended',
    intc.flatMap((p) => [p, 3, p, 7]),
  );
  fdt.endNode(clint);

  const plic = fdt.beginNode(`plic@${PLIC_BASE.toString(16)}`);
  fdt.propertyStringList('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  fdt.propertyCells('reg', [...cells64(PLIC_BASE), ...cells64(0x400_0000)]);
  fdt.propertyU32('#interrupt-cells', 1);
  fdt.propertyU32('#address-cells', 0);
  fdt.propertyNull('interrupt-controller');
  // contexts 2h (M external, 11) and 2h+1 (S external, 9), as the PLIC glue numbers them
  fdt.propertyCells(
    'interrupts-extended',
    intc.flatMap((p) => [p, 11, p, 9]),
  );
  fdt.propertyU32('riscv,ndev', PLIC_SOURCES - 1);
  const plicPhandle = fdt.phandle();
  fdt.endNode(plic);

  const uart = fdt.beginNode(`serial@${m.uart.base.toString(16)}`);
  fdt.propertyString('compatible', 'ns16550a');
  fdt.propertyCells('reg', [...cells64(m.uart.base), ...cells64(0x100)]);
  fdt.propertyU32('clock-frequency', 3_686_400);
  fdt.propertyU32('interrupt-parent', plicPhandle);
  fdt.propertyU32('interrupts', m.uart.irq);
  fdt.endNode(uart);

  for (const v of m.virtio) {
    const node = fdt.beginNode(`virtio_mmio@${v.base.toString(16)}`);
    fdt.propertyString('compatible', 'virtio,mmio');
    fdt.propertyCells('reg', [...cells64(v.base), ...cells64(0x1000)]);
    fdt.propertyU32('interrupt-parent', plicPhandle);
    fdt.propertyU32('interrupts', v.irq);
    fdt.endNode(node);
  }
  fdt.endNode(soc);
  fdt.endNode(root);
  return fdt.finish();
}
