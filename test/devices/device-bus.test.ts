// DeviceBus on one thread: registration, overlap refusal, lookup, dispatch by offset, 8-byte
// accesses, and guest memory whose register accesses fall through to the bus.
import { describe, expect, it } from 'vitest';
import { DeviceBus, DeviceError, GuestMemoryMmap, type MmioDevice } from '../../src/index.js';

class Regs implements MmioDevice {
  readonly log: string[] = [];
  readonly words = new Uint32Array(16);
  read(off: number, size: number): number {
    this.log.push(`r${size}@${off}`);
    const v = this.words[off >>> 2]! >>> (8 * (off & 3));
    return size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff);
  }
  write(off: number, size: number, value: number): void {
    this.log.push(`w${size}@${off}=${value}`);
    if (size === 4) this.words[off >>> 2] = value;
    else this.words[off >>> 2] = value; // enough for the test
  }
}

const expectCode = (fn: () => unknown, code: string): void => {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DeviceError);
  expect((caught as DeviceError).code).toBe(code);
};

describe('DeviceBus', () => {
  it('dispatches by offset within the device; refuses overlaps; finds like a region lookup', () => {
    const bus = new DeviceBus();
    const a = new Regs();
    const b = new Regs();
    bus.register(0x1000_0000, 0x100, a, 'uart');
    bus.register(0x0200_0000, 0x10000, b, 'clint');
    expect(bus.devices.map((d) => d.name)).toEqual(['clint', 'uart']);
    bus.write(0x1000_0004, 4, 0xdeadbeef);
    expect(bus.read(0x1000_0004, 4)).toBe(0xdeadbeef);
    expect(a.log).toEqual(['w4@4=3735928559', 'r4@4']);
    expect(bus.find(0x0200_ffff)?.name).toBe('clint');
    expect(bus.find(0x0201_0000)).toBeUndefined();
    expectCode(() => bus.register(0x1000_00ff, 1, new Regs()), 'ERR_DEVICE_OVERLAP');
    expectCode(() => bus.register(0x0fff_ff00, 0x101, new Regs()), 'ERR_DEVICE_OVERLAP');
    expectCode(() => bus.read(0x3000_0000, 4), 'ERR_DEVICE_NO_DEVICE');
    expectCode(() => bus.read(0x1000_00fe, 4), 'ERR_DEVICE_ACCESS'); // crosses the end
    expectCode(() => bus.read(0x1000_0000, 3), 'ERR_DEVICE_ACCESS');
    expect(bus.stats.vcpu).toBe(2);
    expect(() => bus.register(-1, 1, new Regs())).toThrow(RangeError);
    expect(() => bus.register(0, 1, {} as never)).toThrow(TypeError);
  });

  it('8-byte accesses: read64/write64 when the device has them, else two 4-byte accesses', () => {
    const bus = new DeviceBus();
    const plain = new Regs();
    bus.register(0, 0x40, plain);
    bus.write64(8, 0x1122334455667788n);
    expect(plain.log).toEqual(['w4@8=1432778632', 'w4@12=287454020']);
    expect(bus.read64(8)).toBe(0x1122334455667788n);
    let wide = 0n;
    bus.register(0x100, 8, {
      read: () => 0,
      write: () => undefined,
      read64: () => 0xffff_ffff_ffff_fffen,
      write64: (_o, v) => void (wide = v),
    });
    bus.write64(0x100, -1n);
    expect(wide).toBe(0xffff_ffff_ffff_ffffn);
    expect(bus.read64(0x100)).toBe(0xffff_ffff_ffff_fffen);
  });

  it('memory withBus: register accesses that miss RAM reach the device, without an exception', () => {
    const bus = new DeviceBus();
    const regs = new Regs();
    bus.register(0x1000_0000, 0x100, regs);
    const mem = GuestMemoryMmap.fromRanges([[0x8000_0000, 0x1000]]).withBus(bus);
    mem.st8(0x1000_0000, 0x1ff);
    expect(regs.log).toEqual(['w1@0=255']);
    regs.words[1] = 0x80000000;
    expect(mem.ld32s(0x1000_0004)).toBe(-(2 ** 31));
    expect(mem.ld32u(0x1000_0004)).toBe(2 ** 31);
    mem.st32(0x8000_0000, 7); // RAM is unchanged
    expect(mem.ld32s(0x8000_0000)).toBe(7);
    expectCode(() => mem.ld8u(0x2000_0000), 'ERR_DEVICE_NO_DEVICE');
    expect(mem.withMisaligned('split').bus).toBe(bus);
    expect(() => mem.withBus({} as never)).toThrow(TypeError);
  });

  it("devices learn the accessing vCPU: the bus's own, or the one an exit names", () => {
    const seen: number[] = [];
    const dev: MmioDevice = {
      read: (_o, _s, vcpu) => (seen.push(vcpu), 0),
      write: (_o, _s, _v, vcpu) => void seen.push(vcpu),
    };
    const mine = new DeviceBus({ vcpu: 3 });
    mine.register(0x1000, 0x100, dev);
    mine.read(0x1000, 4);
    mine.write(0x1004, 4, 1);
    mine.read64(0x1008);
    const shared = new DeviceBus();
    shared.register(0x1000, 0x100, dev);
    shared.read(0x1000, 4);
    shared.write(0x1000, 2, 1, 7); // as busHandler does for an exit from vCPU 7
    shared.write64(0x1000, 1n, 5);
    expect(seen).toEqual([3, 3, 3, 3, -1, 7, 5, 5]);
    expect(() => new DeviceBus({ vcpu: 1.5 })).toThrow(RangeError);
  });

  it('unregisters a device (by entry or base); its range is then no device', () => {
    const bus = new DeviceBus();
    const a = bus.register(0x1000, 0x100, new Regs(), 'a');
    bus.register(0x2000, 0x100, new Regs(), 'b');
    bus.read(0x1000, 4); // a is the last hit
    expect(bus.unregister(a)).toBe(true);
    expect(bus.unregister(a)).toBe(false);
    expectCode(() => bus.read(0x1000, 4), 'ERR_DEVICE_NO_DEVICE');
    expect(bus.unregister(0x2000)).toBe(true);
    expect(bus.devices).toEqual([]);
    // the range is free again
    bus.register(0x1000, 0x2000, new Regs(), 'c');
    expect(bus.find(0x2fff)?.name).toBe('c');
  });

  it('refuses ranges of zero bytes or ending past 2^53', () => {
    const bus = new DeviceBus();
    expect(() => bus.register(0x1000, 0, new Regs())).toThrow(RangeError);
    expect(() => bus.register(2 ** 53 - 16, 32, new Regs())).toThrow(RangeError);
    expect(() => bus.register(2 ** 53, 1, new Regs())).toThrow(RangeError);
    expect(bus.register(2 ** 53 - 17, 16, new Regs()).size).toBe(16);
  });
});
