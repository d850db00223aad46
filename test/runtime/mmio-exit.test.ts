// MMIO exits end to end: vCPU threads on a VcpuPool whose exit device is served by the main
// thread (serveMmio, async) or by an I/O worker (DeviceThread, blocking); handler errors reach
// the vCPU as coded errors; a vCPU blocked in an exit still stops.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceBus, GuestMemoryAtomic, GuestMemoryMmap, VcpuPool, type MmioRequest } from '../../src/index.js';

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

  it('an I/O worker serves with DeviceThread and raises interrupts', async () => {
    const p = pool(2);
    const stop = new SharedArrayBuffer(4);
    const io = new Worker(fixture('io-worker.mjs'), { workerData: { channel: p.deviceChannel(), stop } });
    try {
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
