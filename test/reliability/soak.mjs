// The soak run: 2 x cores vCPUs (VcpuPool over a GuestMemoryAtomic with dirty tracking) doing
// mixed guest accesses and atomics for a while, with pause/resume, hot-plug and removal of a
// region, kicks, interrupts, RPC inspection and dirty-page collection at random. At the end the
// shared counter must be exact, every vCPU's areas must hold what it wrote, no vCPU may have
// failed, and RSS must be flat over the second half of the run. Prints one JSON line; exits 1
// on any failure.
//   node --expose-gc test/reliability/soak.mjs --seconds 300 [--vcpus N] [--seed S]
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { GuestMemoryAtomic, GuestMemoryMmap, GuestRegionMmap, MmapRegion, VcpuPool, liveMappings, u32 } from 'guestmem';
import { AREA, checksum, COUNTER, highArea, HOT_BASE, lowArea } from './soak-vcpu.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    vcpus: { type: 'string', default: String(2 * availableParallelism()) },
    seed: { type: 'string', default: '12345' },
  },
});
const seconds = Number(values.seconds);
const vcpus = Number(values.vcpus);
let x = Number(values.seed) >>> 0 || 1;
const rand = (n) => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x % n;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[soak ${((performance.now() - t0) / 1000).toFixed(0)}s] ${a.join(' ')}\n`);

const mem = GuestMemoryMmap.fromRanges(
  [
    [0, 64 << 20],
    [0x1_0000_0000, 64 << 20],
  ],
  { trackDirty: true },
);
const atomic = new GuestMemoryAtomic(mem);
const pool = new VcpuPool({ memory: atomic, vcpus, module: new URL('./soak-vcpu.mjs', import.meta.url) });
const failures = [];
pool.on('error', (e, id) => failures.push(`vCPU ${id}: ${e.message}`));
const counts = { pauses: 0, hotplugs: 0, unplugs: 0, kicks: 0, irqs: 0, remotes: 0, dirtyScans: 0, dirtyPages: 0 };
const rss = [];
let maxPauseMs = 0;

// Hot-plugs the region at HOT_BASE, or removes it. In a function of its own: a map held in a
// local of the module body (a suspended async frame) would keep its regions mapped until exit.
function toggleHotRegion() {
  const g = atomic.lock();
  try {
    const cur = g.memory();
    if (cur.checkAddress(HOT_BASE) === undefined) {
      g.replace(cur.insertRegion(new GuestRegionMmap(MmapRegion.create(1 << 20), HOT_BASE)));
      counts.hotplugs++;
    } else {
      g.replace(cur.removeRegion(HOT_BASE, 1 << 20)[0]);
      counts.unplugs++;
    }
  } finally {
    g.unlock();
  }
}

const t0 = performance.now();
await pool.start({ seed: Number(values.seed) });
let lastLog = 0;
let lastRss = 0;
while (performance.now() - t0 < seconds * 1000 && failures.length === 0) {
  await sleep(10 + rand(100));
  const now = performance.now() - t0;
  if (now - lastRss >= 1000) {
    rss.push({ t: now / 1000, mib: process.memoryUsage().rss / 2 ** 20 });
    lastRss = now;
  }
  if (now - lastLog >= 10_000) {
    log(`counter ${atomic.memory().load(u32, COUNTER)}`, JSON.stringify(counts), `live mappings ${liveMappings()}`);
    lastLog = now;
  }
  switch (rand(6)) {
    case 0: {
      const p = performance.now();
      await pool.pause(30_000);
      maxPauseMs = Math.max(maxPauseMs, performance.now() - p);
      const c = atomic.memory().load(u32, COUNTER);
      await sleep(2);
      if (atomic.memory().load(u32, COUNTER) !== c) failures.push('the counter moved while every vCPU was parked');
      for (let id = 0; id < vcpus; id++) {
        const st = pool.state(id);
        if (st !== 'parked') failures.push(`vCPU ${id} is ${st} while paused`);
      }
      pool.resume();
      counts.pauses++;
      break;
    }
    case 1:
      toggleHotRegion();
      break;
    case 2:
      pool.kick(rand(vcpus));
      counts.kicks++;
      break;
    case 3:
      pool.raiseIrq(rand(vcpus), rand(32));
      counts.irqs++;
      break;
    case 4: {
      const st = await pool.remote(rand(vcpus)).stats();
      if (typeof st.ops !== 'number') failures.push('a remote stats() call returned nonsense');
      counts.remotes++;
      break;
    }
    default:
      counts.dirtyPages += mem.dirtyPages({ reset: true }).length;
      counts.dirtyScans++;
  }
}

let results = [];
try {
  results = await pool.stop();
} catch (e) {
  failures.push(`stop(): ${e.message}`);
}
await pool.close();
const elapsed = (performance.now() - t0) / 1000;
atomic.close();

// Every region but those of the final map is unreachable now: with a GC (run with --expose-gc)
// all of them are unmapped.
let liveAfter = null;
const expectLive = atomic.memory().numRegions;
if (typeof globalThis.gc === 'function') {
  for (let i = 0; i < 200 && liveMappings() > expectLive; i++) {
    globalThis.gc();
    await sleep(10);
  }
  liveAfter = liveMappings();
  if (liveAfter !== expectLive) failures.push(`${liveAfter} mappings live after the run (${expectLive} expected)`);
}

const increments = results.reduce((s, r) => s + (r?.increments ?? 0), 0);
const counter = mem.load(u32, COUNTER);
if (counter !== increments % 2 ** 32) failures.push(`counter ${counter} != ${increments} increments`);
const mismatches = results.reduce((s, r) => s + (r?.mismatches ?? 0), 0);
if (mismatches !== 0) failures.push(`${mismatches} reads did not return what the vCPU had written`);
for (const r of results) {
  const low = new Uint32Array(AREA / 4);
  mem.readSlice(new Uint8Array(low.buffer), lowArea(r.id));
  const high = new Uint32Array(AREA / 4);
  mem.readSlice(new Uint8Array(high.buffer), highArea(r.id));
  if (checksum(low) !== r.low || checksum(high) !== r.high)
    failures.push(`vCPU ${r.id}'s areas differ from its shadow`);
}
// flat memory: the second half of the run may not grow more than 64 MiB over the first half's peak
const half = rss.filter((s) => s.t > elapsed / 2).map((s) => s.mib);
const early = rss.filter((s) => s.t <= elapsed / 2).map((s) => s.mib);
const growth = half.length && early.length ? Math.max(...half) - Math.max(...early) : 0;
if (growth > 64) failures.push(`RSS grew ${growth.toFixed(0)} MiB in the second half`);

const summary = {
  seconds: Number(elapsed.toFixed(1)),
  vcpus,
  ops: results.reduce((s, r) => s + (r?.ops ?? 0), 0),
  increments,
  counter,
  hotWrites: results.reduce((s, r) => s + (r?.hotWrites ?? 0), 0),
  kicksSeen: results.reduce((s, r) => s + (r?.kicks ?? 0), 0),
  irqsSeen: results.reduce((s, r) => s + (r?.irqs ?? 0), 0),
  ...counts,
  maxPauseMs: Number(maxPauseMs.toFixed(1)),
  liveMappingsAfter: liveAfter,
  rssMiB: {
    first: Math.round(rss[0]?.mib ?? 0),
    last: Math.round(rss.at(-1)?.mib ?? 0),
    secondHalfGrowth: Math.round(growth),
  },
  failures,
};
console.log(JSON.stringify(summary));
process.exitCode = failures.length === 0 ? 0 : 1;
