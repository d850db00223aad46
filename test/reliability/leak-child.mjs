// Creates and drops many mappings (anonymous and file-backed), with GC in between, and reports
// the process's mapping count (/proc/self/maps), RSS and the addon's live-mapping counter before
// and after, as one JSON line. Run with --expose-gc:
//   node --expose-gc test/reliability/leak-child.mjs --count 10000 [--workers 2 --rounds 20]
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FileOffset, GuestMemoryMmap, MmapRegion, liveMappings, u32 } from 'guestmem';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '20' },
    size: { type: 'string', default: '65536' },
  },
});
const count = Number(values.count);
const size = Number(values.size);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Start addresses of every mapping this run made (from the descriptor's hostAddress). */
const ours = new Set();
const pageRounded = Math.ceil(size / 4096) * 4096;

/** How many of our mappings /proc/self/maps still shows: a line starting at one of our addresses with our size. */
function stillMapped() {
  let n = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').trim().split('\n')) {
    const [lo, hi] = line
      .split(' ')[0]
      .split('-')
      .map((h) => BigInt('0x' + h));
    if (ours.has(lo) && hi - lo === BigInt(pageRounded)) n++;
  }
  return n;
}

function sample() {
  return {
    maps: readFileSync('/proc/self/maps', 'utf8').trim().split('\n').length,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    live: liveMappings(),
  };
}

/** GC until every dropped mapping is unmapped (V8 frees backing stores after the GC, maybe on a helper thread). */
async function settle(target) {
  for (let i = 0; i < 200 && liveMappings() > target; i++) {
    globalThis.gc();
    await sleep(10);
  }
  globalThis.gc();
}

const dir = mkdtempSync(join(tmpdir(), 'guestmem-leak-'));
const fd = openSync(join(dir, 'backing'), 'w+');
ftruncateSync(fd, size * 4);
await settle(0);
const before = sample();
let peakLive = 0;

// Each mapping lives inside a function call, so no local of this module keeps the last one alive.
function once(i) {
  const m = i % 4 === 3 ? MmapRegion.fromFile(new FileOffset(fd, (i % 4) * size), size) : MmapRegion.create(size);
  ours.add(m.hostAddress);
  // touch four pages: a leak of 10,000 mappings would show as 160 MiB of RSS
  for (let p = 0; p < 4; p++) m.asVolatileSlice().writeObj(u32, i, (p * 4096 + i * 64) % size);
}

if (Number(values.workers) === 0) {
  for (let i = 0; i < count; i++) {
    once(i);
    if (i % 500 === 499) {
      peakLive = Math.max(peakLive, liveMappings());
      globalThis.gc();
      await sleep(0);
    }
  }
} else {
  // mappings shared with worker threads that touch every one of them and exit
  const perRound = Math.ceil(count / Number(values.rounds));
  const round = async () => {
    const mems = Array.from({ length: perRound }, () => GuestMemoryMmap.fromRanges([[0x1000, size]]));
    const shared = mems.map((m) => m.share());
    for (const d of shared) ours.add(d.regions[0].mapping.hostAddress);
    await Promise.all(
      Array.from({ length: Number(values.workers) }, (_, w) => {
        const worker = new Worker(
          `const { workerData, parentPort } = require('node:worker_threads');
           import(workerData.dist).then(({ GuestMemoryMmap, u32 }) => {
             for (const d of workerData.shared) GuestMemoryMmap.fromShared(d).fetchAdd(u32, 0x1000 + 4 * workerData.w, 1);
             parentPort.postMessage('done');
           });`,
          { eval: true, workerData: { shared, w, dist: new URL('../../dist/src/index.js', import.meta.url).href } },
        );
        return new Promise((res, rej) => {
          worker.once('message', () => worker.terminate().then(res));
          worker.once('error', rej);
        });
      }),
    );
    for (const m of mems) if (m.load(u32, 0x1000) !== 1) throw new Error('a worker did not write its mapping');
    peakLive = Math.max(peakLive, liveMappings());
  };
  for (let r = 0; r < Number(values.rounds); r++) await round();
}

await settle(before.live);
const after = sample();
closeSync(fd);
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    count,
    workers: Number(values.workers),
    before,
    after,
    peakLive,
    ours: ours.size,
    stillMapped: stillMapped(),
  }),
);
