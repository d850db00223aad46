// VirtioMmioTransport driven by a test driver on one thread: the registers and their rules,
// feature negotiation, queue setup checks, hostile drivers (bad queues, bad chains, writes
// after DRIVER_OK, unknown queues), bounded work per notify, and state as plain data.
import { describe, expect, it } from 'vitest';
import {
  VirtioRng,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  VirtioError,
  VirtioMmioTransport,
  type DescriptorChain,
  type VirtioContext,
  type VirtioDevice,
} from '../../src/index.js';
import { RAM, VirtioTestDriver } from '../helpers/virtio-driver.js';

/** A device that records what the transport does to it and serves chains with `serve`. */
class Probe implements VirtioDevice {
  readonly deviceType = 42;
  readonly features = (1n << 3n) | (1n << 40n);
  ctx: VirtioContext | null = null;
  activations = 0;
  resets = 0;
  notified: number[] = [];
  served: DescriptorChain[] = [];
  config = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  serve: (c: DescriptorChain) => number = (c) => (this.served.push(c), 0);
  constructor(readonly queueMaxSizes: readonly number[] = [8, 16]) {}
  readConfig(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[offset + i] ?? 0);
    return v;
  }
  writeConfig(offset: number, _size: number, value: number): void {
    if (offset < this.config.length) this.config[offset] = value;
  }
  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    this.activations++;
  }
  notify(index: number): void {
    this.notified.push(index);
    this.ctx!.drain(index, (c) => this.serve(c));
  }
  reset(): void {
    this.ctx = null;
    this.resets++;
  }
}

function live(device = new Probe()): { d: VirtioTestDriver; p: Probe } {
  const d = VirtioTestDriver.create(device);
  expect(d.negotiate()).toBe(true);
  d.setupQueue(0, 8);
  d.driverOk();
  return { d, p: device };
}

describe('VirtioMmioTransport', () => {
  it('identifies itself and the device: magic, version 2, ids, feature banks, queue maxima', () => {
    const d = VirtioTestDriver.create(new Probe());
    expect(d.read(0x000)).toBe(VIRTIO_MMIO_MAGIC);
    expect(d.read(0x004)).toBe(2);
    expect(d.read(0x008)).toBe(42);
    expect(d.read(0x00c)).toBe(0x554d4551);
    d.write(0x14, 0);
    expect(d.read(0x10)).toBe(1 << 3);
    d.write(0x14, 1);
    expect(d.read(0x10)).toBe((1 << 8) | 1); // bit 40, and VERSION_1 (bit 32) from the transport
    d.write(0x14, 2);
    expect(d.read(0x10)).toBe(0);
    d.write(0x30, 1);
    expect(d.read(0x34)).toBe(16);
    d.write(0x30, 2);
    expect(d.read(0x34)).toBe(0); // a queue the device does not have
    expect(d.read(0xb0)).toBe(0xffffffff); // no shared memory regions
    // configuration space from 0x100, any width
    expect(d.transport.read(0x100, 1)).toBe(1);
    expect(d.transport.read(0x102, 2)).toBe(0x0403);
    expect(d.transport.read(0x104, 4)).toBe(0x08070605);
    expect(d.transport.read(0x1f0, 4)).toBe(0);
    // registers are 32-bit: other widths read 0 and write nothing
    expect(d.transport.read(0x000, 2)).toBe(0);
    d.transport.write(0x070, 1, 1);
    expect(d.status).toBe(0);
  });

  it('negotiates: FEATURES_OK holds only for offered features, then features are fixed', () => {
    const d = VirtioTestDriver.create(new Probe());
    expect(d.negotiate(1n << 5n)).toBe(false); // not offered
    expect(d.negotiate(1n << 3n)).toBe(true);
    expect(d.transport.driverFeatures).toBe((1n << 3n) | (1n << 32n));
    d.write(0x24, 0);
    d.write(0x20, 0xffffffff); // after FEATURES_OK: ignored
    expect(d.transport.driverFeatures).toBe((1n << 3n) | (1n << 32n));
    // a driver that writes bank 0 only (xv6) leaves VERSION_1 out and is served all the same
    d.write(0x70, 0);
    d.write(0x70, 3);
    d.write(0x20, 1 << 3);
    d.write(0x70, 3 | VIRTIO_STATUS_FEATURES_OK);
    expect(d.status & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
    // DRIVER_OK without FEATURES_OK does not activate
    d.write(0x70, 0);
    d.write(0x70, 3);
    d.write(0x24, 1);
    d.write(0x20, 1 << 20); // bit 52: not offered
    d.write(0x70, 3 | VIRTIO_STATUS_FEATURES_OK);
    expect(d.status & VIRTIO_STATUS_FEATURES_OK).toBe(0);
    d.write(0x70, 3 | VIRTIO_STATUS_DRIVER_OK);
    expect(d.status & VIRTIO_STATUS_DRIVER_OK).toBe(0);
    // the driver cannot clear bits (only a reset does)
    expect(d.negotiate()).toBe(true);
    d.write(0x70, 1);
    expect(d.status & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  });

  it('refuses a bad queue at QueueReady: Ready stays 0, DEVICE_NEEDS_RESET, a configuration interrupt', () => {
    for (const bad of [
      (d: VirtioTestDriver) => d.write(0x38, 32768), // more than QueueNumMax (the hostile 32768)
      (d: VirtioTestDriver) => d.write(0x38, 6), // not a power of two
      (d: VirtioTestDriver) => d.write(0x38, 0),
      (d: VirtioTestDriver) => d.write(0x84, 7), // descriptor table far outside RAM
      (d: VirtioTestDriver) => d.write(0xa0, RAM + 2), // used ring misaligned
    ]) {
      const d = VirtioTestDriver.create(new Probe());
      d.negotiate();
      d.write(0x30, 0);
      d.write(0x38, 8);
      d.write(0x80, RAM);
      d.write(0x90, RAM + 0x1000);
      d.write(0xa0, RAM + 0x2000);
      bad(d);
      d.write(0x44, 1);
      expect(d.read(0x44)).toBe(0);
      expect(d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
      expect(d.read(0x60) & VIRTIO_MMIO_INT_CONFIG).toBe(VIRTIO_MMIO_INT_CONFIG);
      expect(d.level).toBe(true);
      expect(d.transport.error).toMatch(/virtio/);
      // a reset clears it all
      d.write(0x70, 0);
      expect([d.status, d.read(0x60), d.level]).toEqual([0, 0, false]);
    }
  });

  it('fixes the queues at DRIVER_OK and ignores unknown queues and early notifies', () => {
    const p = new Probe();
    const d = VirtioTestDriver.create(p);
    d.negotiate();
    const q = d.setupQueue(0, 8);
    d.notify(0); // before DRIVER_OK
    expect(p.notified).toEqual([]);
    d.driverOk();
    expect(p.activations).toBe(1);
    expect(p.ctx!.queues.map((x) => x?.size ?? null)).toEqual([8, null]);
    const before = d.transport.state;
    d.write(0x30, 0);
    d.write(0x44, 0);
    d.write(0x38, 4);
    d.write(0x80, RAM + 0x40000);
    d.write(0x30, 1);
    d.write(0x38, 4);
    d.write(0x44, 1);
    d.write(0x30, 9);
    d.write(0x38, 4);
    expect(d.transport.state.queues).toEqual(before.queues);
    d.notify(1); // not set up
    d.notify(9); // no such queue
    d.notify(0xffff);
    expect(p.notified).toEqual([]);
    // the queue still works where it was set up
    const buf = d.buffer(64);
    const head = d.add(0, [{ addr: buf, len: 64, write: true }]);
    d.notify(0);
    expect(p.served.map((c) => c.head)).toEqual([head]);
    expect(d.takeUsed(0)).toEqual([[head, 0]]);
    expect(d.ack()).toBe(VIRTIO_MMIO_INT_VRING);
    expect(d.level).toBe(false);
    expect(q.size).toBe(8);
  });

  it('a bad chain or a bad request after DRIVER_OK sets DEVICE_NEEDS_RESET, never throws on the bus', () => {
    const { d, p } = live();
    d.publish(0, 200); // head index past the queue
    expect(() => d.notify(0)).not.toThrow();
    expect(d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(d.read(0x60)).toBe(VIRTIO_MMIO_INT_CONFIG);
    // nothing is served until a reset, then the device works again
    const buf = d.buffer(16);
    d.add(0, [{ addr: buf, len: 16 }]);
    d.notify(0);
    expect(p.served).toEqual([]);
    const resets = p.resets;
    expect(d.negotiate()).toBe(true);
    expect(p.resets).toBe(resets + 1);
    d.setupQueue(0, 8);
    d.driverOk();
    d.add(0, [{ addr: buf, len: 16 }]);
    d.notify(0);
    expect(p.served.length).toBe(1);
    // a device refusing a request (a VirtioError from serve) is a driver error too
    p.serve = () => {
      throw new VirtioError('ERR_VIRTIO_REQUEST', 'malformed');
    };
    d.add(0, [{ addr: buf, len: 16 }]);
    expect(() => d.notify(0)).not.toThrow();
    expect(d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(d.transport.error).toMatch(/malformed/);
    // while any other error is a host bug, not the guest's doing: it surfaces
    d.negotiate();
    d.setupQueue(0, 8);
    d.driverOk();
    p.serve = () => {
      throw new Error('host bug');
    };
    d.add(0, [{ addr: buf, len: 16 }]);
    expect(() => d.notify(0)).toThrow('host bug');
  });

  it('serves at most one queue size of chains per call and defers the rest', () => {
    const { d, p } = live();
    const buf = d.buffer(8);
    // a driver that keeps adding while the device serves (as another vCPU would)
    let extra = 20;
    p.serve = (c) => {
      p.served.push(c);
      if (extra-- > 0) d.add(0, [{ addr: buf, len: 8, write: true }]);
      return 8;
    };
    d.add(0, [{ addr: buf, len: 8, write: true }]);
    d.notify(0);
    expect(p.served.length).toBe(8);
    let turns = 0;
    while (d.runDeferred() > 0) turns++;
    expect(p.served.length).toBe(21);
    expect(turns).toBe(2);
    expect(d.takeUsed(0).length).toBe(21);
  });

  it('state is plain data: a transport rebuilt from it goes on at the same ring positions', () => {
    const { d, p } = live();
    const buf = d.buffer(8);
    for (let i = 0; i < 5; i++) {
      d.add(0, [{ addr: buf, len: 8, write: true }]);
      d.notify(0);
    }
    const state = structuredClone(d.transport.state);
    expect(state.queues[0]!.ring).toEqual({ nextAvail: 5, nextUsed: 5, signalledUsed: 5 });
    const p2 = new Probe();
    const t2 = new VirtioMmioTransport(p2, { mem: d.mem, interrupt: () => {} }, state);
    expect(p2.activations).toBe(1);
    expect(t2.state).toEqual(state);
    d.add(0, [{ addr: buf, len: 8, write: true }]);
    t2.write(0x50, 4, 0);
    expect(p2.served.map((c) => c.head)).toEqual([5]);
    expect(d.takeUsed(0).map(([h]) => h)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(p.served.length).toBe(5);
    // a forged state is a typed error
    expect(
      () => new VirtioMmioTransport(new Probe(), { mem: d.mem, interrupt: () => {} }, { ...state, status: -1 }),
    ).toThrow(RangeError);
    expect(
      () => new VirtioMmioTransport(new Probe(), { mem: d.mem, interrupt: () => {} }, { ...state, queues: [] }),
    ).toThrow(RangeError);
  });

  it('virtio-rng fills writable buffers from its source, at most 64 KiB a request', () => {
    let calls = 0;
    const rng = new VirtioRng({
      source: (b) => {
        calls++;
        b.fill(0xab);
      },
    });
    const { d } = live(rng as unknown as Probe);
    const small = d.buffer(32);
    const ro = d.buffer(16);
    const huge = d.buffer(1 << 17);
    const h1 = d.add(0, [
      { addr: ro, len: 16 },
      { addr: small, len: 32, write: true },
    ]);
    const h2 = d.add(0, [{ addr: huge, len: 1 << 17, write: true }]);
    d.notify(0);
    expect(d.takeUsed(0)).toEqual([
      [h1, 32],
      [h2, 65536],
    ]);
    const got = new Uint8Array(1 << 17);
    d.mem.readSlice(got, huge);
    expect(got[65535]).toBe(0xab);
    expect(got[65536]).toBe(0);
    const r = new Uint8Array(16);
    d.mem.readSlice(r, ro);
    expect(r.every((x) => x === 0)).toBe(true);
    expect(calls).toBe(2);
  });
});
