// vCPU runtime latencies, each the median of many trials, beside a raw baseline where one exists:
//   start: pool.start() until every vCPU runs (threads already up), for a 1 MiB and a 16 GiB map,
//          against one piscina round trip of an empty task on the same kind of pool;
//   kick → wake: pool.kick() until the vCPU, asleep in waitForInterrupt, acknowledges, against
//          the same Atomics.notify/wait ping-pong between two plain threads (trials alternate);
//   pause-all: pool.pause() until every vCPU is parked, with 2 and 8 vCPUs (against 1 vCPU).
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { GuestMemoryMmap, VcpuPool, i32, u32 } from 'guestmem';
import { printTable } from './lib/harness.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 30);
const vcpuModule = new URL('./lib/bench-vcpu.js', import.meta.url);
const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
const results = [];
const add = (group, name, nsPerOp, baseline = null) =>
  results.push({ file: 'runtime', group, name, nsPerOp, baseline, gbps: null });

// ---- start latency -------------------------------------------------------------------------
{
  const empty = new URL('./lib/empty-task.js', import.meta.url);
  const raw = new Piscina({ filename: empty.href, minThreads: 2, maxThreads: 2, atomics: 'disabled' });
  await raw.run(null);
  const rt = [];
  for (let i = 0; i < TRIALS; i++) {
    const t = performance.now();
    await Promise.all([raw.run(null), raw.run(null)]);
    rt.push((performance.now() - t) * 1e6);
  }
  await raw.destroy();
  add('vCPU start (2 vCPUs)', 'raw piscina round trip, 2 tasks', median(rt));
  // Both pools exist side by side and their trials alternate, so drift hits both sizes alike.
  // The vCPUs sleep once started ('wait'): spinning ones would compete with the main thread for
  // the cores and the figure would measure the scheduler.
  const sizes = [
    ['1 MiB', 1 << 20],
    ['16 GiB', 16 * 2 ** 30],
  ].map(([label, size]) => ({
    label,
    pool: new VcpuPool({ memory: GuestMemoryMmap.fromRanges([[0, size]]), vcpus: 2, module: vcpuModule }),
    times: [],
  }));
  for (const s of sizes) {
    await s.pool.start({ mode: 'wait' }); // the first start also imports the module: not measured
    await s.pool.stop();
  }
  for (let i = 0; i < TRIALS; i++) {
    for (const s of sizes) {
      const t = performance.now();
      await s.pool.start({ mode: 'wait' });
      s.times.push((performance.now() - t) * 1e6);
      await s.pool.stop();
    }
  }
  for (const s of sizes) {
    await s.pool.close();
    add('vCPU start (2 vCPUs)', `pool.start, ${s.label} map`, median(s.times), 'raw piscina round trip, 2 tasks');
  }
}

// ---- kick → wake ---------------------------------------------------------------------------
// The raw pair and the pool exist side by side and their trials alternate: measured one after
// the other, the pool's half came out 5-16x the raw one here, and 1.35x when run alone (the
// state the groups before leave the process in costs the later half only).
{
  const sab = new SharedArrayBuffer(8);
  const w = new Int32Array(sab);
  const worker = new Worker(new URL('./lib/ping-worker.js', import.meta.url), { workerData: sab });
  const memory = GuestMemoryMmap.fromRanges([[0, 1 << 20]]);
  const pool = new VcpuPool({ memory, vcpus: 1, module: vcpuModule });
  await pool.start({ mode: 'wait' });
  await new Promise((r) => setTimeout(r, 100));
  const ack = memory.getSlice(0x40, 4).getRef(u32, 0); // a ref: load() is one atomic access
  const raw = [];
  const v = [];
  for (let i = 0; i < TRIALS * 10; i++) {
    {
      const acked = Atomics.load(w, 1);
      const t = performance.now();
      Atomics.add(w, 0, 1);
      Atomics.notify(w, 0);
      while (Atomics.load(w, 1) === acked) Atomics.wait(w, 1, acked, 1000);
      raw.push((performance.now() - t) * 1e6);
    }
    {
      const acked = ack.load();
      const t = performance.now();
      pool.kick(0);
      while (ack.load() === acked) memory.wait(i32, 0x40, acked | 0, 1000);
      v.push((performance.now() - t) * 1e6);
    }
  }
  Atomics.store(w, 0, -1);
  Atomics.notify(w, 0);
  await worker.terminate();
  await pool.stop();
  await pool.close();
  add('kick → wake (round trip)', 'raw Atomics.notify → wait → ack', median(raw));
  add('kick → wake (round trip)', 'pool.kick → waitForInterrupt → ack', median(v), 'raw Atomics.notify → wait → ack');
}

// ---- pause-all -----------------------------------------------------------------------------
for (const n of [1, 2, 8]) {
  const memory = GuestMemoryMmap.fromRanges([[0, 1 << 20]]);
  const pool = new VcpuPool({ memory, vcpus: n, module: vcpuModule });
  await pool.start({ mode: 'spin' });
  const v = [];
  for (let i = 0; i < TRIALS; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const t = performance.now();
    await pool.pause();
    v.push((performance.now() - t) * 1e6);
    pool.resume();
  }
  await pool.stop();
  await pool.close();
  add('pause-all', `pool.pause, ${n} vCPU${n > 1 ? 's' : ''}`, median(v), n === 1 ? null : 'pool.pause, 1 vCPU');
}

for (const r of results) {
  if (r.baseline) r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
