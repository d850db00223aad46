// DeviceThread from a pool's device channel, on one thread: the descriptor is the pool's one
// runtime descriptor (checked as a vCPU checks its own) plus its guest memory, and forged or
// stale descriptors are typed errors.
import { describe, expect, it } from 'vitest';
import { createControl, ControlRecord } from '../../src/runtime/control.js';
import type { SharedRuntime } from '../../src/runtime/protocol.js';
import { createMmioExits, DeviceThread, GuestMemoryAtomic, GuestMemoryMmap, u32 } from '../../src/index.js';

function runtime(vcpus: number): SharedRuntime {
  return {
    vcpus,
    control: createControl(vcpus),
    stateBlocks: Array.from({ length: vcpus }, () => new SharedArrayBuffer(64)),
    mmio: createMmioExits(vcpus),
  };
}

describe('DeviceThread', () => {
  it('reaches the pool memory and raises its vCPUs’ lines', () => {
    const mem = GuestMemoryMmap.fromRanges([[0x1000, 0x1000]]);
    const rt = runtime(2);
    const dev = DeviceThread.fromShared({ descriptor: 'guestmem.DeviceChannel', runtime: rt, memory: mem.share() });
    expect(dev.vcpus).toBe(2);
    mem.store(u32, 0xfeed, 0x1004);
    expect(dev.memory.load(u32, 0x1004)).toBe(0xfeed); // the same memory, not a copy
    dev.memory.store(u32, 7, 0x1008);
    expect(mem.load(u32, 0x1008)).toBe(7);
    expect(dev.atomic).toBeNull();
    dev.raiseIrq(1, 2);
    expect(new ControlRecord(rt.control, 1).pendingIrqs()).toBe(1 << 2);
    expect(dev.signals.irqLevels(0)).toBe(0);
    dev.close();
  });

  it('with a GuestMemoryAtomic, holds it until close()', () => {
    const atomic = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const dev = DeviceThread.fromShared({
      descriptor: 'guestmem.DeviceChannel',
      runtime: runtime(1),
      memory: atomic.share(),
    });
    expect(dev.atomic).not.toBeNull();
    expect(dev.memory.numRegions).toBe(1);
    dev.close();
    atomic.close();
  });

  it('refuses forged and stale descriptors with typed errors', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x1000]]);
    const rt = runtime(2);
    const ok = { descriptor: 'guestmem.DeviceChannel' as const, runtime: rt, memory: mem.share() };
    const bad: unknown[] = [
      null,
      {},
      { ...ok, descriptor: 'guestmem.GuestMemoryMmap' },
      // the descriptor before the runtime was carried whole
      { descriptor: 'guestmem.DeviceChannel', vcpus: 2, mmio: rt.mmio, control: rt.control },
      { ...ok, runtime: { ...rt, vcpus: 100_000 } },
      { ...ok, runtime: { ...rt, vcpus: 3 } },
      { ...ok, runtime: { ...rt, mmio: new SharedArrayBuffer(8) } },
      { ...ok, memory: undefined },
      { ...ok, memory: { descriptor: 'guestmem.GuestMemoryMmap', regions: 'x' } },
    ];
    for (const d of bad) {
      expect(() => DeviceThread.fromShared(d as never)).toThrow(expect.objectContaining({ code: expect.any(String) }));
    }
  });
});
