// Multi-worker throughput: 1, 2 and N workers doing guest load+store on disjoint pages, and
// contended fetchAdd on one guest word, each beside the same loop on a raw SharedArrayBuffer.
// Reported as aggregate ns/op (lower is better); the ratio of N workers to 1 worker shows scaling.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { GuestMemoryMmap } from 'guestmem';
import { printTable } from './lib/harness.js';

const MS = Number(process.env.BENCH_WORKER_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PAGE_SPAN = 64 * 1024; // each worker's private span
const mem = GuestMemoryMmap.fromRanges([[0, 64 << 20]]);
const raw = new SharedArrayBuffer(64 << 20);
const worker = new URL('./lib/bench-worker.js', import.meta.url);

async function trial(mode, n) {
  const start = new SharedArrayBuffer(8);
  const ctl = new Int32Array(start);
  const guest = mode.startsWith('guest');
  const ws = Array.from(
    { length: n },
    (_, i) =>
      new Worker(worker, {
        workerData: {
          mode,
          memory: guest ? mem.share() : null,
          raw: guest ? null : raw,
          base: (i + 1) * 1024 * 1024, // disjoint, 1 MiB apart (different pages and cache lines)
          span: PAGE_SPAN,
          word: 64,
          ms: MS,
          start,
        },
      }),
  );
  const results = ws.map((w) => new Promise((res, rej) => (w.once('message', res), w.once('error', rej))));
  while (Atomics.load(ctl, 0) < n) Atomics.wait(ctl, 0, Atomics.load(ctl, 0), 100);
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  const done = await Promise.all(results);
  await Promise.all(ws.map((w) => w.terminate()));
  const ops = done.reduce((s, r) => s + r.ops, 0);
  return (MS * 1e6) / ops; // aggregate ns per op
}

const counts = [...new Set([1, 2, Math.max(2, availableParallelism())])];
const results = [];
for (const [group, guestMode, rawMode] of [
  ['workers, disjoint pages (load+store)', 'guest-disjoint', 'raw-disjoint'],
  ['workers, contended fetchAdd(u32)', 'guest-contended', 'raw-contended'],
]) {
  for (const n of counts) {
    const g = [];
    const r = [];
    for (let k = 0; k < ROUNDS; k++) {
      r.push(await trial(rawMode, n));
      g.push(await trial(guestMode, n));
    }
    const med = (v) => v.sort((a, b) => a - b)[v.length >> 1];
    results.push({
      file: 'workers',
      group,
      name: `raw Atomics, ${n} worker${n > 1 ? 's' : ''}`,
      baseline: null,
      nsPerOp: med(r),
    });
    results.push({
      file: 'workers',
      group,
      name: `guest, ${n} worker${n > 1 ? 's' : ''}`,
      baseline: `raw Atomics, ${n} worker${n > 1 ? 's' : ''}`,
      nsPerOp: med(g),
    });
  }
}
for (const r of results) {
  if (r.baseline) r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
  r.gbps = null;
  const one = results.find((b) => b.group === r.group && b.name === r.name.replace(/\d+ workers?$/, '1 worker'));
  r.speedup = one ? one.nsPerOp / r.nsPerOp : null; // throughput relative to 1 worker of the same kind
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
