// MMIO exits end to end: vCPU threads on a VcpuPool whose exit device is served by the main
// thread (serveMmio, async) or by an I/O worker (DeviceThread, blocking); handler errors reach
// the vCPU as coded errors; a vCPU blocked in an exit still stops.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMmioExits,
  DeviceBus,
  GuestMemoryAtomic,
  GuestMemoryMmap,
  MmioExitPort,
  MmioExitServer,
  VcpuPool,
  type MmioRequest,
  u32,
} from '../../src/index.js';

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url);
const pools: VcpuPool[] = [];
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools.length = 0;
});
function pool(vcpus: number, module = fixture('vcpu/mmio.mjs')): VcpuPool {
  const p = new VcpuPool({ memory: GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]]), vcpus, module });
  pools.push(p);
  return p;
}

describe('MMIO exits', () => {
  it('the main thread serves every vCPU (async handler allowed); writes are acknowledged', async () => {
    const p = pool(2);
    const writes = [0, 0];
    const stop = new AbortController();
    const serving = p.serveMmio(
      async (r: MmioRequest) => {
        if (r.size === 8) return 0xabcdef0123n;
        if (r.write) {
          expect(r.value).toBe(r.vcpu);
          writes[r.vcpu]!++;
          return undefined;
        }
        await new Promise((res) => setImmediate(res));
        return r.vcpu * 100 + writes[r.vcpu]!;
      },
      { signal: stop.signal },
    );
    await p.start({ rounds: 3 });
    const results = (await p.join()) as { out: number[]; exits: number; local: number; wide: string }[];
    stop.abort();
    await serving;
    expect(results[0]!.out).toEqual([1, 2, 3]); // each read saw the write before it
    expect(results[1]!.out).toEqual([101, 102, 103]);
    expect(results[1]!.exits).toBe(7);
    expect(results[0]!.local).toBe(2); // the in-vCPU device, no exit
    expect(results[0]!.wide).toBe('abcdef0123');
  }, 30_000);

  it('works over a GuestMemoryAtomic with dirty tracking on', async () => {
    const atomic = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]], { trackDirty: true }));
    const p = new VcpuPool({ memory: atomic, vcpus: 2, module: fixture('vcpu/mmio.mjs') });
    pools.push(p);
    const stop = new AbortController();
    const serving = p.serveMmio((r: MmioRequest) => (r.write ? undefined : r.size === 8 ? 1n : r.vcpu + 40), {
      signal: stop.signal,
    });
    await p.start({ rounds: 2 });
    const results = (await p.join()) as { out: number[] }[];
    stop.abort();
    await serving;
    expect(results.map((r) => r.out)).toEqual([
      [40, 40],
      [41, 41],
    ]);
    atomic.close();
  }, 30_000);

  it('a DeviceBus of the main thread can serve directly', async () => {
    const p = pool(1);
    const devices = new DeviceBus();
    let reg0 = 0;
    devices.register(0x1000_0000, 0x100, {
      read: (off) => (off === 4 ? 7 + reg0 : 0),
      write: (off, _s, v) => void (off === 0 && (reg0 = v + 1)),
      read64: () => 5n,
    });
    const stop = new AbortController();
    const serving = p.serveMmio(devices, { signal: stop.signal });
    await p.start({ rounds: 1 });
    const [r] = (await p.join()) as { out: number[]; wide: string }[];
    stop.abort();
    await serving;
    expect(r!.out).toEqual([8]);
    expect(r!.wide).toBe('5');
  }, 30_000);

  it('an I/O worker serves with DeviceThread, reaches guest memory and raises interrupts', async () => {
    const memory = GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]]);
    memory.store(u32, 0xc0ffee, 0x8000_0100);
    const p = new VcpuPool({ memory, vcpus: 2, module: fixture('vcpu/mmio.mjs') });
    pools.push(p);
    const stop = new SharedArrayBuffer(4);
    const io = new Worker(fixture('io-worker.mjs'), { workerData: { channel: p.deviceChannel(), stop } });
    try {
      // the device thread sees the pool's memory itself (its first message), not a copy
      const seen = await new Promise((resolve) => io.once('message', resolve));
      expect(seen).toEqual({ marker: 0xc0ffee });
      await p.start({ rounds: 2 });
      const results = (await p.join()) as { out: number[]; wide: string }[];
      expect(results.map((r) => r.out)).toEqual([
        [1, 2],
        [101, 102],
      ]);
      expect(results[0]!.wide).toBe('100000002');
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      await io.terminate();
    }
  }, 30_000);

  it("a handler's error reaches the vCPU as ERR_DEVICE_HANDLER; the pool reports it", async () => {
    const p = pool(1);
    const stop = new AbortController();
    const seen: unknown[] = [];
    const serving = p.serveMmio(
      () => {
        throw new Error('broken device');
      },
      { signal: stop.signal, onError: (e) => seen.push(e) },
    );
    await p.start();
    await expect(p.join()).rejects.toMatchObject({ code: 'ERR_VCPU_FAILED', cause: { code: 'ERR_DEVICE_HANDLER' } });
    stop.abort();
    await serving;
    expect(seen.length).toBe(1);
  }, 30_000);

  it('a vCPU blocked in an exit that nobody serves still stops (ERR_DEVICE_STOPPED)', async () => {
    const p = pool(1);
    await p.start();
    await new Promise((r) => setTimeout(r, 100));
    await expect(p.stop()).rejects.toMatchObject({ cause: { code: 'ERR_DEVICE_STOPPED' } });
  }, 30_000);
});

describe('MMIO exit mailbox on one thread (post, serve, complete as separate steps)', () => {
  const setup = (stopped = () => false): { port: MmioExitPort; server: MmioExitServer; buf: SharedArrayBuffer } => {
    const buf = createMmioExits(2);
    return { port: new MmioExitPort(buf, 1, stopped), server: new MmioExitServer(buf, 2), buf };
  };

  it('a read: posted, not done until served, then completed with the value cut to its size', () => {
    const { port, server } = setup();
    const seen: unknown[] = [];
    port.post(0x1000_0004, 2, false, 0);
    expect(port.done()).toBe(false);
    expect(server.poll((r) => (seen.push({ ...r }), 0x12345))).toBe(1);
    expect(server.poll(() => 0)).toBe(0); // nothing more pending
    expect(port.done()).toBe(true);
    expect(port.complete()).toBe(0x2345);
    expect(seen).toEqual([{ vcpu: 1, addr: 0x1000_0004, size: 2, write: false, value: 0, value64: 0n }]);
  });

  it('8-byte accesses travel as two halves both ways', () => {
    const { port, server } = setup();
    let got = 0n;
    port.post64(2 ** 40 + 8, true, 0xfedc_ba98_7654_3210n);
    server.poll((r) => void (got = r.value64));
    expect(port.complete64()).toBe(0n);
    expect(got).toBe(0xfedc_ba98_7654_3210n);
    port.post64(8, false, 0n);
    server.poll(() => 0x8000_0000_0000_0001n);
    expect(port.complete64()).toBe(0x8000_0000_0000_0001n);
  });

  it('the sequence number wraps past 2^31 without losing or repeating a request', () => {
    const buf = createMmioExits(1);
    const w = new Int32Array(buf);
    w[16] = 0x7fff_fffe; // SEQ and ACK of mailbox 0, two requests before the wrap
    w[17] = 0x7fff_fffe;
    const port = new MmioExitPort(buf, 0);
    const server = new MmioExitServer(buf, 1);
    const values: number[] = [];
    for (let i = 0; i < 5; i++) {
      port.post(0x100, 4, true, i);
      expect(server.poll((r) => void values.push(r.value))).toBe(1);
      expect(port.complete()).toBe(0);
    }
    expect(values).toEqual([0, 1, 2, 3, 4]);
    expect(w[16]).toBe(-0x7fff_fffd); // wrapped
  });

  it('a failed handler is ERR_DEVICE_HANDLER for that access only; the next one works', () => {
    const { port, server } = setup();
    const errors: unknown[] = [];
    port.post(0x200, 4, false, 0);
    server.poll(
      () => {
        throw new Error('device broke');
      },
      (e) => errors.push(e),
    );
    expect(() => port.complete()).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_HANDLER', addr: 0x200 }));
    expect(errors).toHaveLength(1);
    port.post(0x200, 4, false, 0);
    server.poll(() => 7);
    expect(port.complete()).toBe(7);
  });

  it('a completion nobody answers ends with ERR_DEVICE_STOPPED once the vCPU is asked to stop', () => {
    let stop = false;
    const { port, server } = setup(() => stop);
    port.post(0x300, 1, false, 0);
    stop = true; // checked when the 50 ms wait times out
    expect(() => port.complete()).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_STOPPED' }));
    // a late answer to the abandoned request does not confuse the next one
    server.poll(() => 1);
    stop = false;
    port.post(0x300, 1, false, 0);
    server.poll(() => 9);
    expect(port.complete()).toBe(9);
  });
});
