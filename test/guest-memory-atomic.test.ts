// GuestMemoryAtomic: snapshots that never change under their holder, the cross-thread lock,
// and replacement seen by other threads (real worker threads, with timeouts and clean-up).
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemoryAtomic, GuestMemoryMmap, GuestRegionMmap, MmapRegion, u32 } from '../src/index.js';

const dist = new URL('../dist/src/index.js', import.meta.url).href;
const live = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...live].map((w) => w.terminate()));
  live.clear();
});

function withRegion(mem: GuestMemoryMmap, base: number, size = 0x1000): GuestMemoryMmap {
  return mem.insertRegion(new GuestRegionMmap(MmapRegion.create(size), base));
}

describe('GuestMemoryAtomic in one thread', () => {
  it('memory() is the current snapshot; an old snapshot is unchanged by replace()', () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const before = a.memory();
    expect(a.version).toBe(0);
    const g = a.lock();
    g.replace(withRegion(g.memory(), 0x10000));
    g.unlock();
    expect(a.version).toBe(1);
    expect(a.memory().numRegions).toBe(2);
    expect(before.numRegions).toBe(1);
    before.writeObj(u32, 7, 0); // the old snapshot still works and shares region 0
    expect(a.memory().readObj(u32, 0)).toBe(7);
    a.close();
  });

  it('lock is not re-entrant, replace after unlock throws, and using/dispose unlocks', () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const g = a.lock();
    expect(() => a.lock()).toThrow(expect.objectContaining({ code: 'ERR_GUESTMEM_LOCK' }));
    g.unlock();
    expect(() => g.replace(a.memory())).toThrow(expect.objectContaining({ code: 'ERR_GUESTMEM_LOCK' }));
    {
      using g2 = a.lock();
      g2.replace(withRegion(g2.memory(), 0x8000));
    }
    a.lock().unlock(); // free again
    expect(() => a.lock().replace({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    a.close();
  });

  it('checks its arguments', () => {
    expect(() => new GuestMemoryAtomic({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => GuestMemoryAtomic.fromShared({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    expect(() => a.lock(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    a.close();
  });
});

/** A worker that rebuilds the atomic map, then answers 'probe' messages with what it sees. */
function prober(shared: unknown): Worker {
  const w = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     import(workerData.dist).then(({ GuestMemoryAtomic, u32 }) => {
       const a = GuestMemoryAtomic.fromShared(workerData.shared);
       parentPort.on('message', (m) => {
         if (m.type === 'probe') {
           const mem = a.memory();
           let wrote = false;
           if (mem.checkAddress(m.addr) !== undefined) { mem.store(u32, 0xabcd, m.addr); wrote = true; }
           parentPort.postMessage({ regions: mem.numRegions, wrote, version: a.version });
         } else if (m.type === 'lock') {
           const g = a.lock();
           parentPort.postMessage({ locked: true });
           if (m.flag === undefined) return; // held until the thread dies
           // held until the test sets flag[0]; flag[1] = 1 just before the unlock
           const f = new Int32Array(m.flag);
           setImmediate(() => { Atomics.wait(f, 0, 0); Atomics.store(f, 1, 1); g.unlock(); });
         } else if (m.type === 'close') { a.close(); parentPort.close(); }
       });
       parentPort.postMessage({ ready: true });
     });`,
    { eval: true, workerData: { shared, dist } },
  );
  live.add(w);
  return w;
}

function ask(w: Worker, msg: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('worker did not answer')), 10_000);
    w.once('message', (m) => (clearTimeout(t), resolve(m as Record<string, unknown>)));
    w.once('error', reject);
    if (msg !== undefined) w.postMessage(msg);
  });
}

describe('GuestMemoryAtomic across threads', () => {
  it('a worker sees a replacement at its next memory() call and can write the new region', async () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const w = prober(a.share());
    await ask(w, undefined);
    expect(await ask(w, { type: 'probe', addr: 0x20000 })).toMatchObject({ regions: 1, wrote: false });
    const g = a.lock();
    g.replace(withRegion(g.memory(), 0x20000));
    g.unlock();
    expect(await ask(w, { type: 'probe', addr: 0x20000 })).toMatchObject({ regions: 2, wrote: true, version: 1 });
    expect(a.memory().load(u32, 0x20000)).toBe(0xabcd);
    // and a removal
    const g2 = a.lock();
    g2.replace(g2.memory().removeRegion(0x20000, 0x1000)[0]);
    g2.unlock();
    expect(await ask(w, { type: 'probe', addr: 0x20000 })).toMatchObject({ regions: 1, wrote: false, version: 2 });
    a.close();
  }, 20_000);

  it('a worker started from an older descriptor catches up (asks the publisher)', async () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const stale = a.share(); // version 0
    const g = a.lock();
    g.replace(withRegion(g.memory(), 0x20000));
    g.unlock();
    const w = prober(stale);
    await ask(w, undefined);
    let seen: Record<string, unknown> = {};
    for (let i = 0; i < 200 && seen.regions !== 2; i++) {
      seen = await ask(w, { type: 'probe', addr: 0x20000 }); // stale but valid until the answer
      expect(seen.regions === 1 || seen.regions === 2).toBe(true);
    }
    expect(seen).toMatchObject({ regions: 2, wrote: true });
    a.close();
  }, 20_000);

  it('the lock excludes other threads until released', async () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const w = prober(a.share());
    await ask(w, undefined);
    const flag = new Int32Array(new SharedArrayBuffer(8));
    await ask(w, { type: 'lock', flag: flag.buffer });
    // held by the worker until released below, however slow either thread is
    expect(() => a.lock(20)).toThrow(expect.objectContaining({ code: 'ERR_GUESTMEM_LOCK' }));
    expect(Atomics.load(flag, 1)).toBe(0);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    // Atomics.wait blocks this thread until the worker's unlock; it got in only after it
    a.lock(30_000).unlock();
    expect(Atomics.load(flag, 1)).toBe(1);
    a.close();
  }, 20_000);

  it('a lock held by a terminated thread: lock() times out naming it (no hang), forceUnlock(holder) recovers', async () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    const w = prober(a.share());
    await ask(w, undefined);
    expect(await ask(w, { type: 'lock' })).toMatchObject({ locked: true });
    const holder = w.threadId;
    await w.terminate(); // dies holding the lock
    live.delete(w);
    const err = (() => {
      try {
        a.lock(200);
      } catch (e) {
        return e as { code?: string; holder?: number };
      }
      return null;
    })();
    expect(err).toMatchObject({ code: 'ERR_GUESTMEM_LOCK', holder });
    expect(a.forceUnlock(holder + 1000)).toBe(false); // not the holder: nothing changes
    expect(a.forceUnlock(holder)).toBe(true);
    a.lock(1000).unlock();
    a.close();
  }, 20_000);

  it('a guard dropped while locked (its thread threw past it) releases the lock once collected', async () => {
    const a = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 0x1000]]));
    (() => {
      a.lock(); // never unlocked
    })();
    const gc = (globalThis as { gc?: () => void }).gc!; // vitest.config.ts runs with --expose-gc
    expect(gc).toBeTypeOf('function');
    for (let i = 0; i < 20; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
      try {
        a.lock(0).unlock();
        a.close();
        return;
      } catch {
        // not collected yet
      }
    }
    throw new Error('the dropped guard never released the lock');
  }, 20_000);
});
