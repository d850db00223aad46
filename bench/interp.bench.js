// Interpreter speed (issue: guest memory at interpreter speed).
// 1. A toy interpreter (bench/lib/toy-interp.js: 9 instructions per pass, one load and one
//    store) in worker threads, 1 and 2 vCPUs, over four memory paths: hand-made raw views (the
//    baseline), the TranslationCache, the checked register accessors, the checked atomics.
//    Reported as ns per guest instruction (and MIPS) against raw in the same run.
// 2. Garbage: 10 M checked loads and stores per accessor, u32 values >= 2^31 among them,
//    counting garbage collections with a PerformanceObserver of 'gc' entries.
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { GuestMemoryMmap, i16, i32, i8, u16, u32, u8 } from 'guestmem';
import { install } from './lib/toy-interp.js';
import { printTable } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ITER = Number(process.env.BENCH_ITER ?? 2_000_000);
const results = [];
const add = (group, name, nsPerOp, baseline = null) =>
  results.push({ file: 'interp', group, name, nsPerOp, baseline, gbps: null });
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

// ---- 1. the toy interpreter on vCPU threads --------------------------------------------------
const RAM = 0x8000_0000;
const mem = GuestMemoryMmap.fromRanges([[RAM, 16 << 20]]);
const vcpus = [0, 1].map((id) => ({ code: RAM + 0x1000 * id, data: RAM + 0x100000 + 0x10000 * id }));
for (const v of vcpus) install(mem, v.code);
const go = new SharedArrayBuffer(8);
const goWords = new Int32Array(go);
const workers = vcpus.map(
  (v) =>
    new Worker(new URL('./lib/interp-worker.js', import.meta.url), {
      workerData: { memory: mem.share(), go, code: v.code, data: v.data },
    }),
);
let round = 0;
async function runOn(n, path) {
  round++;
  Atomics.store(goWords, 1, 0);
  const done = workers.slice(0, n).map(
    (w) =>
      new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage({ path, iterations: ITER, round });
      }),
  );
  while (Atomics.load(goWords, 1) < n) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(goWords, 0, round);
  Atomics.notify(goWords, 0);
  const rs = await Promise.all(done);
  const instructions = rs.reduce((s, r) => s + r.instructions, 0);
  return instructions / Math.max(...rs.map((r) => r.seconds)); // instructions per second, all vCPUs
}

const paths = ['raw', 'tcache', 'ld32s/st32', 'load/store(u32)'];
for (const n of [1, 2]) {
  const ips = new Map(paths.map((p) => [p, []]));
  for (let r = 0; r < ROUNDS; r++) for (const p of paths) ips.get(p).push(await runOn(n, p));
  const group = `toy interpreter, ${n} vCPU${n > 1 ? 's' : ''}`;
  for (const p of paths) {
    const v = median(ips.get(p));
    const label = p === 'raw' ? 'raw views' : p;
    add(group, `${label} (${(v / 1e6).toFixed(0)} MIPS total)`, 1e9 / v, p === 'raw' ? null : 'RAW');
  }
  const rawName = results.find((x) => x.group === group && x.name.startsWith('raw views')).name;
  for (const x of results) if (x.group === group && x.baseline === 'RAW') x.baseline = rawName;
}
await Promise.all(workers.map((w) => w.terminate()));

// ---- 2. garbage collections of the checked accessors ----------------------------------------
let gcs = 0;
const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
obs.observe({ entryTypes: ['gc'] });
const N = 10_000_000;
const m = GuestMemoryMmap.fromRanges([[0, 1 << 16]]);
for (let a = 0; a < 1 << 16; a += 4) m.store(u32, (0x80000000 + a * 977) >>> 0, a); // every u32 >= 2^31
// Each loop keeps what it loads with a compare (an accumulator such as `s += v` would box the
// double sum at the loop's back edge and allocate even over a raw typed array).
const raw32 = new Uint32Array(m.findRegion(0).mapping.buffer);
// One function per case (new Function: its own feedback, so the accessor inlines as it would in
// an interpreter's loop; a shared loop calling closures would box every value it passes).
const env = { m, raw32, u32, i32, u16, i16, u8, i8 };
const loop = (body) => {
  const f = new Function(...Object.keys(env), 'N', body);
  return () => f(...Object.values(env), N);
};
const loadCase = (name, expr) => [
  name,
  loop(
    `let s = 0; for (let i = 0; i < N; i++) { const a = (i << 2) & 0xfffc; const v = ${expr}; if (v > s) s = v; } return s;`,
  ),
];
const storeCase = (name, stmt) => [
  name,
  loop(
    `for (let i = 0; i < N; i++) { const a = (i << 2) & 0xfffc; const v = (0x80000000 + i) >>> 0; ${stmt}; } return 0;`,
  ),
];
const gcCases = [
  loadCase('raw u32[i] >= 2^31 (baseline)', 'raw32[a >>> 2]'),
  loadCase('load(u32) >= 2^31', 'm.load(u32, a)'),
  loadCase('readObj(u32) >= 2^31', 'm.readObj(u32, a)'),
  loadCase('ld32u >= 2^31', 'm.ld32u(a)'),
  loadCase('ld32s', 'm.ld32s(a)'),
  loadCase('ld16u', 'm.ld16u(a)'),
  loadCase('ld16s', 'm.ld16s(a)'),
  loadCase('ld8u', 'm.ld8u(a)'),
  loadCase('ld8s', 'm.ld8s(a)'),
  loadCase('load(i32)', 'm.load(i32, a)'),
  loadCase('load(u16)', 'm.load(u16, a)'),
  loadCase('load(i16)', 'm.load(i16, a)'),
  loadCase('load(u8)', 'm.load(u8, a)'),
  loadCase('load(i8)', 'm.load(i8, a)'),
  storeCase('store(u32) >= 2^31', 'm.store(u32, v, a)'),
  storeCase('writeObj(u32) >= 2^31', 'm.writeObj(u32, v, a)'),
  storeCase('st32 (u32 >= 2^31, wraps)', 'm.st32(a, v)'),
  storeCase('st16 (wraps)', 'm.st16(a, v)'),
  storeCase('st8 (wraps)', 'm.st8(a, v)'),
  storeCase('store(i32)', 'm.store(i32, v | 0, a)'),
  storeCase('store(u16)', 'm.store(u16, v & 0xffff, a)'),
  storeCase('store(i16)', 'm.store(i16, (v << 16) >> 16, a)'),
  storeCase('store(u8)', 'm.store(u8, v & 0xff, a)'),
  storeCase('store(i8)', 'm.store(i8, (v << 24) >> 24, a)'),
];
for (const [name, fn] of gcCases) {
  fn(); // warm up
  await new Promise((r) => setTimeout(r, 20));
  const before = gcs;
  const t = performance.now();
  fn();
  const ns = ((performance.now() - t) * 1e6) / N;
  await new Promise((r) => setTimeout(r, 20)); // let the observer see the entries
  add('garbage: 10 M checked accesses', `${name}: ${gcs - before} GCs`, ns);
}
obs.disconnect();

for (const r of results) {
  if (r.baseline) r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
