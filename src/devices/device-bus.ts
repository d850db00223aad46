import { checkIndex, MAX_SAFE, rangeError, typeError } from '../internal/args.js';
import { DeviceError } from '../device-error.js';
import type { MmioExitPort } from '../runtime/mmio-exit.js';

/** A memory-mapped device. Offsets are from the device's base. */
export interface MmioDevice {
  /**
   * Reads `size` (1, 2 or 4) bytes at `offset`: the value, 0 … 2^(8 size)-1. `vcpu` is the
   * accessing vCPU's id (-1 when the bus does not know it).
   */
  read(offset: number, size: number, vcpu: number): number;
  /** Writes the low `8 * size` bits of `value` (1, 2 or 4 bytes) at `offset`, from vCPU `vcpu`. */
  write(offset: number, size: number, value: number, vcpu: number): void;
  /** An 8-byte read, if the device has 64-bit registers; else two 4-byte reads. */
  read64?(offset: number, vcpu: number): bigint;
  /** An 8-byte write, if the device has 64-bit registers; else two 4-byte writes. */
  write64?(offset: number, value: bigint, vcpu: number): void;
}

/** One registered device. */
export interface BusEntry {
  /** Guest-physical base of the device range. */
  readonly base: number;
  /** Length of the range in bytes. */
  readonly size: number;
  /** The device's name (for errors and stats). */
  readonly name: string;
  /** The handler (in-vCPU) or the exit forwarder. */
  readonly device: MmioDevice;
  /** 'vcpu' for in-vCPU handlers, 'exit' for devices served by a device thread. */
  readonly placement: 'vcpu' | 'exit';
}

const NONE: BusEntry = Object.freeze({
  base: 0,
  size: 0,
  name: '',
  placement: 'vcpu',
  device: {
    read: () => 0,
    write: () => undefined,
  },
});

/**
 * DeviceBus: devices on guest-physical ranges (after rust-vmm vm-device's Bus), looked up like
 * regions (the last device hit, then a binary search over sorted bases) and dispatched as
 * `read(offset, size)` / `write(offset, size, value)` with the offset inside the device.
 *
 * A bus is per thread, like GuestMemoryMmap: each vCPU builds one over the same layout. Where a
 * device runs is chosen per device:
 *   - in-vCPU (`register(base, size, device)`): the handler runs in the accessing vCPU's
 *     thread, over state the device keeps in shared memory, so every vCPU sees one device
 *     (interrupt controllers, timers);
 *   - exit (`registerExit(base, size, port)`): the access leaves the vCPU through its
 *     MmioExitPort, like a KVM MMIO exit, and a device thread answers it (see mmio-exit.ts).
 *
 * Values: accesses of 1, 2 and 4 bytes carry a number (the low `8 * size` bits, unsigned on
 * reads); 8-byte accesses call `read64`/`write64` with a bigint when the device has them, and
 * are otherwise split into two 4-byte accesses (low word first), as a 32-bit bus would.
 */
export class DeviceBus {
  /** The vCPU this bus dispatches for (what devices get as `vcpu` when an access names none). */
  readonly vcpu: number;
  #entries: BusEntry[] = [];
  #bases: number[] = [];
  #hot: BusEntry = NONE;
  /** Accesses dispatched, by placement (statistics). */
  readonly stats = {
    /** Accesses dispatched to in-vCPU handlers. */
    vcpu: 0,
    /** Accesses forwarded as MMIO exits. */
    exit: 0,
  };

  /**
   * A bus for vCPU `options.vcpu` (each vCPU thread builds its own; the default, -1, is a bus
   * that serves several, like the main thread's behind exits, where each access names its vCPU).
   */
  constructor(options: { readonly vcpu?: number } = {}) {
    const vcpu = options?.vcpu ?? -1;
    if (!Number.isInteger(vcpu) || vcpu < -1 || vcpu > 0xffff)
      throw rangeError('options.vcpu', 'a vCPU id or -1', vcpu);
    this.vcpu = vcpu;
  }

  /** The registered devices in address order. */
  get devices(): readonly BusEntry[] {
    return this.#entries;
  }

  /**
   * Places `device` at [base, base + size), its handler running in the calling thread.
   * Throws DeviceError ERR_DEVICE_OVERLAP if the range overlaps a registered one.
   * @example bus.register(0x0200_0000, 0x10000, clint, 'clint');
   */
  register(base: number, size: number, device: MmioDevice, name = 'device'): BusEntry {
    return this.#add(base, size, device, name, 'vcpu');
  }

  /**
   * Places an exit device at [base, base + size): accesses leave the vCPU through `port` (with
   * the absolute guest address) and block until the device thread answers.
   * @example bus.registerExit(0x1000_0000, 0x100, ctx.mmio, 'uart');
   */
  registerExit(base: number, size: number, port: MmioExitPort, name = 'exit'): BusEntry {
    if (typeof port !== 'object' || port === null || typeof port.exit !== 'function')
      throw typeError('port', 'an MmioExitPort', port);
    // the exit carries the vCPU itself: its port is that vCPU's mailbox
    const device: MmioDevice = {
      read: (off, sz) => port.exit(base + off, sz, false, 0) as number,
      write: (off, sz, v) => void port.exit(base + off, sz, true, v),
      read64: (off) => port.exit64(base + off, false, 0n),
      write64: (off, v) => void port.exit64(base + off, true, v),
    };
    return this.#add(base, size, device, name, 'exit');
  }

  #add(base: number, size: number, device: MmioDevice, name: string, placement: 'vcpu' | 'exit'): BusEntry {
    checkIndex('base', base);
    checkIndex('size', size);
    if (size === 0) throw rangeError('size', 'at least 1', size);
    if (base + size > MAX_SAFE)
      throw rangeError('size', `a range ending at most at 2^53-1 (base 0x${base.toString(16)})`, size);
    if (
      typeof device !== 'object' ||
      device === null ||
      typeof device.read !== 'function' ||
      typeof device.write !== 'function'
    )
      throw typeError('device', 'an object with read(offset, size) and write(offset, size, value)', device);
    if (typeof name !== 'string') throw typeError('name', 'a string', name);
    for (const e of this.#entries) {
      if (base < e.base + e.size && e.base < base + size)
        throw new DeviceError(
          'ERR_DEVICE_OVERLAP',
          `${name} [0x${base.toString(16)}, +0x${size.toString(16)}) overlaps ${e.name} at 0x${e.base.toString(16)}`,
          base,
        );
    }
    const entry: BusEntry = Object.freeze({ base, size, name, device, placement });
    this.#entries = [...this.#entries, entry].sort((a, b) => a.base - b.base);
    this.#bases = this.#entries.map((e) => e.base);
    return entry;
  }

  /**
   * Removes a registered device (its entry, as `register` returned it, or its base address).
   * Returns whether there was one; later accesses to its range are ERR_DEVICE_NO_DEVICE.
   * @example bus.unregister(entry); // hot-unplug
   */
  unregister(which: BusEntry | number): boolean {
    const i = this.#entries.findIndex((e) => (typeof which === 'number' ? e.base === which : e === which));
    if (i < 0) return false;
    const gone = this.#entries[i]!;
    this.#entries = this.#entries.filter((_, k) => k !== i);
    this.#bases = this.#entries.map((e) => e.base);
    if (this.#hot === gone) this.#hot = NONE;
    return true;
  }

  /** The device entry holding `addr`, or undefined. The last hit first, then a binary search. */
  find(addr: number): BusEntry | undefined {
    const h = this.#hot;
    if (addr - h.base < h.size && addr >= h.base) return h;
    const bases = this.#bases;
    let lo = 0;
    let hi = bases.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (bases[mid]! <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0) return undefined;
    const e = this.#entries[hi]!;
    if (!(addr - e.base < e.size)) return undefined;
    this.#hot = e;
    return e;
  }

  #entry(addr: number, size: number): BusEntry {
    const e = this.find(addr);
    if (e === undefined) {
      if (typeof addr !== 'number' || !Number.isSafeInteger(addr) || addr < 0) checkIndex('addr', addr);
      throw new DeviceError('ERR_DEVICE_NO_DEVICE', `no device at 0x${addr.toString(16)}`, addr);
    }
    if (!(size === 1 || size === 2 || size === 4 || size === 8) || addr + size > e.base + e.size)
      throw new DeviceError('ERR_DEVICE_ACCESS', `a ${size}-byte access at 0x${addr.toString(16)} (${e.name})`, addr);
    if (e.placement === 'vcpu') this.stats.vcpu++;
    else this.stats.exit++;
    return e;
  }

  /**
   * Reads `size` (1, 2 or 4) bytes at guest-physical `addr` from the device there: 0 … 2^(8 size)-1.
   * Throws DeviceError ERR_DEVICE_NO_DEVICE / ERR_DEVICE_ACCESS.
   */
  read(addr: number, size: number, vcpu = this.vcpu): number {
    const e = this.#entry(addr, size);
    if (size === 8) return Number(this.read64(addr, vcpu));
    return e.device.read(addr - e.base, size, vcpu);
  }

  /** Writes the low `8 * size` bits of `value` (1, 2 or 4 bytes) at guest-physical `addr`, for vCPU `vcpu`. */
  write(addr: number, size: number, value: number, vcpu = this.vcpu): void {
    const e = this.#entry(addr, size);
    if (size === 8) {
      this.write64(addr, BigInt.asUintN(64, BigInt(Math.trunc(value))), vcpu);
      return;
    }
    e.device.write(addr - e.base, size, value, vcpu);
  }

  /** An 8-byte read (the device's read64, or two 4-byte reads, low word first). */
  read64(addr: number, vcpu = this.vcpu): bigint {
    const e = this.#entry(addr, 8);
    const off = addr - e.base;
    if (e.device.read64 !== undefined) return e.device.read64(off, vcpu);
    const lo = e.device.read(off, 4, vcpu) >>> 0;
    const hi = e.device.read(off + 4, 4, vcpu) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** An 8-byte write (the device's write64, or two 4-byte writes, low word first). */
  write64(addr: number, value: bigint, vcpu = this.vcpu): void {
    const e = this.#entry(addr, 8);
    const off = addr - e.base;
    if (e.device.write64 !== undefined) {
      e.device.write64(off, BigInt.asUintN(64, value), vcpu);
      return;
    }
    e.device.write(off, 4, Number(value & 0xffffffffn), vcpu);
    e.device.write(off + 4, 4, Number((value >> 32n) & 0xffffffffn), vcpu);
  }
}
