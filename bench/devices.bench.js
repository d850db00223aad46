// The emulator runtime, each beside a raw baseline measured in the same run:
//   in-vCPU dispatch: DeviceBus.read against a plain range check and method call;
//   MMIO exit round trip (I/O worker with DeviceThread, and the main thread's serveMmio) and a
//     virtio QueueNotify exit to a VirtioMmioTransport on the main thread, each against a raw
//     Atomics ping-pong between the same two threads, in alternating blocks;
//   vCPU-to-vCPU interrupt (ctx.kick, sleeper in waitForInterrupt, kicked back) against a raw
//     ping-pong between the same two vCPU threads;
//   timer lateness of waitUntil (median and 99th percentile), against Atomics.wait's own.
import { Worker } from 'node:worker_threads';
import { DeviceBus, GuestMemoryMmap, VcpuPool, VirtioMmioTransport, VirtioRng, VIRTIO_MMIO_SIZE } from 'guestmem';
import { bringUp } from './lib/virtio-setup.js';
import { spinWhile } from './lib/device-vcpu.js';
import { do_not_optimize, printTable, runCases } from './lib/harness.js';

const N = Number(process.env.BENCH_TRIALS ?? 2000);
const results = [];
const add = (group, name, nsPerOp, baseline = null) =>
  results.push({ file: 'devices', group, name, nsPerOp, baseline, gbps: null });
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const p99 = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length * 0.99)];
const module = new URL('./lib/device-vcpu.js', import.meta.url);

// ---- in-vCPU dispatch ---------------------------------------------------------------------
{
  const OPS = 4096;
  const dev = {
    r: 0,
    read(off) {
      return (this.r + off) | 0;
    },
    write(off, _s, v) {
      this.r = v + off;
    },
  };
  const bus = new DeviceBus();
  bus.register(
    0x0200_0000,
    0x10000,
    { read: (o, s) => dev.read(o, s), write: (o, s, v) => dev.write(o, s, v) },
    'clint',
  );
  bus.register(0x0c00_0000, 0x400000, { read: () => 1, write: () => undefined }, 'plic');
  bus.register(0x1000_0000, 0x100, { read: () => 2, write: () => undefined }, 'uart');
  const addrs = Uint32Array.from({ length: OPS }, (_, i) => 0x0200_0000 + ((i * 8) & 0xfff8));
  const rows = await runCases(
    'devices',
    [
      {
        group: 'in-vCPU dispatch (read)',
        name: 'raw range check + call',
        ops: OPS,
        fn: () => {
          let s = 0;
          for (let i = 0; i < OPS; i++) {
            const a = addrs[i];
            if (a - 0x0200_0000 < 0x10000 && a >= 0x0200_0000) s ^= dev.read(a - 0x0200_0000, 4);
          }
          do_not_optimize(s);
        },
      },
      {
        group: 'in-vCPU dispatch (read)',
        name: 'DeviceBus.read',
        baseline: 'raw range check + call',
        ops: OPS,
        fn: () => {
          let s = 0;
          for (let i = 0; i < OPS; i++) s ^= bus.read(addrs[i], 4);
          do_not_optimize(s);
        },
      },
    ],
    { print: false },
  );
  results.push(...rows);
}

// ---- round trips -------------------------------------------------------------------------------
// Each library round trip runs in blocks alternating with a raw Atomics ping-pong between the
// same two threads (a fresh pair per case): a wake-up costs 5 µs or 70 µs here depending on
// whether the scheduler put both threads on one core, so only a baseline on the same threads,
// in the same minute, is a baseline.
const BLOCK = 100;
/** The pong side of a raw ping-pong on the main thread's event loop (as serveMmio waits: a 30 µs poll, then waitAsync). */
async function pongAsync(w, n) {
  let seen = 0;
  for (let i = 0; i < n; i++) {
    spinWhile(w, 0, seen); // polls as serveMmio does after an answer
    while (Atomics.load(w, 0) === seen) {
      const r = Atomics.waitAsync(w, 0, seen);
      if (r.async) await r.value;
    }
    seen = Atomics.load(w, 0); // read before the answer: the next ping can only follow it
    Atomics.add(w, 1, 1);
    Atomics.notify(w, 1);
  }
}
/** Per-block medians of `v` (blocks of BLOCK, in run order), the first block dropped (warm-up). */
const blocks = (v) =>
  Array.from({ length: v.length / BLOCK - 1 }, (_, i) => median(v.slice((i + 1) * BLOCK, (i + 2) * BLOCK)));
/**
 * A library case and its raw baseline from one interleaved run: times are the medians of the
 * block medians, the ratio the median of each library block over the raw block just before it
 * (both in the same placement of the two threads).
 */
function addPair(group, rawName, libName, t) {
  const raw = blocks(t.raw);
  const lib = blocks(t.lib);
  add(group, rawName, median(raw));
  add(group, libName, median(lib), rawName);
  results.at(-1).ratio = median(lib.map((x, i) => x / raw[i]));
}
{
  const memory = GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]]);
  const pool = new VcpuPool({ memory, vcpus: 2, module });

  let raw = new SharedArrayBuffer(8);
  const io = new Worker(new URL('./lib/io-worker.js', import.meta.url), {
    workerData: { channel: pool.deviceChannel(), raw, n: N, block: BLOCK },
  });
  await pool.start({ mode: 'exit', n: N, block: BLOCK, raw });
  addPair(
    'round trip, vCPU and an I/O worker',
    'raw ping-pong, 30 µs poll then Atomics.notify/wait',
    'MMIO exit (DeviceThread)',
    await pool.join(0),
  );
  await pool.stop();
  await io.terminate();

  raw = new SharedArrayBuffer(8);
  const ctl = new AbortController();
  const serving = pool.serveMmio(() => 42, { signal: ctl.signal });
  const ponging = pongAsync(new Int32Array(raw), N);
  await pool.start({ mode: 'exit', n: N, block: BLOCK, raw });
  const exits = await pool.join(0);
  await pool.stop();
  await ponging;
  ctl.abort();
  await serving;

  // a virtio notify: the exit, the transport's checks and an empty queue's drain
  raw = new SharedArrayBuffer(8);
  const virtioBus = new DeviceBus();
  const transport = new VirtioMmioTransport(new VirtioRng(), { mem: memory, interrupt: () => {} });
  bringUp(transport, { size: 64, desc: 0x8000_0000, avail: 0x8000_1000, used: 0x8000_2000 });
  virtioBus.register(0x1000_1000, VIRTIO_MMIO_SIZE, transport, 'virtio-rng');
  const ctl2 = new AbortController();
  const serving2 = pool.serveMmio(virtioBus, { signal: ctl2.signal });
  const ponging2 = pongAsync(new Int32Array(raw), N);
  await pool.start({ mode: 'notify', n: N, block: BLOCK, raw });
  const notifies = await pool.join(0);
  await pool.stop();
  await ponging2;
  ctl2.abort();
  await serving2;
  const mainRaw = 'raw ping-pong, 30 µs poll then Atomics.notify/waitAsync';
  addPair('round trip, vCPU and the main thread', mainRaw, 'MMIO exit (serveMmio)', exits);
  addPair(
    'virtio notify, vCPU and the main thread',
    mainRaw,
    'QueueNotify exit to the transport (serveMmio)',
    notifies,
  );

  raw = new SharedArrayBuffer(8);
  await pool.start({ mode: 'ipi', n: N, block: BLOCK, raw });
  addPair('round trip, two vCPUs', 'raw Atomics.notify/wait ping-pong', 'ctx.kick and back', await pool.join(0));
  await pool.stop();

  const delays = Array.from({ length: 400 }, (_, i) => [0.1, 0.25, 0.5, 1][i % 4]);
  await pool.start({ mode: 'timer', delays });
  const late = await pool.join(0);
  await pool.close();
  add('timer lateness (waitUntil)', `median of ${delays.length} sleeps of 0.1-1 ms`, median(late) * 1e6);
  add('timer lateness (waitUntil)', '99th percentile', p99(late) * 1e6);
}

for (const r of results) {
  if (r.baseline && r.ratio === undefined)
    r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
