// The emulator runtime, each beside a raw baseline measured in the same run:
//   in-vCPU dispatch: DeviceBus.read against a plain range check and method call;
//   MMIO exit round trip (I/O worker with DeviceThread, and the main thread's serveMmio) and a
//     virtio QueueNotify exit to a VirtioMmioTransport on the main thread, against a raw Atomics.notify/wait ping-pong between two plain threads;
//   vCPU-to-vCPU interrupt (ctx.kick, sleeper in waitForInterrupt, kicked back) against the same
//     ping-pong;
//   timer lateness of waitUntil (median and 99th percentile), against Atomics.wait's own.
import { Worker } from 'node:worker_threads';
import { DeviceBus, GuestMemoryMmap, VcpuPool, VirtioMmioTransport, VirtioRng, VIRTIO_MMIO_SIZE } from 'guestmem';
import { bringUp } from './lib/virtio-setup.js';
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

// ---- raw ping-pong ---------------------------------------------------------------------------
async function rawPingPong() {
  const sab = new SharedArrayBuffer(8);
  const pong = new Worker(new URL('./lib/pong-worker.js', import.meta.url), { workerData: { sab, n: N } });
  const ping = new Worker(new URL('./lib/ping-pong-worker.js', import.meta.url), { workerData: { sab, n: N } });
  const times = await new Promise((r) => ping.once('message', r));
  await Promise.all([ping.terminate(), pong.terminate()]);
  return times.slice(N / 10);
}
const raw = await rawPingPong();
add('round trip between threads', 'raw Atomics.notify/wait ping-pong', median(raw));

// ---- exits ------------------------------------------------------------------------------------
{
  const memory = GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]]);
  const pool = new VcpuPool({ memory, vcpus: 2, module });
  const stop = new SharedArrayBuffer(4);
  const io = new Worker(new URL('./lib/io-worker.js', import.meta.url), {
    workerData: { channel: pool.deviceChannel(), stop },
  });
  await pool.start({ mode: 'exit', n: N });
  const t = await pool.join(0);
  await pool.stop();
  Atomics.store(new Int32Array(stop), 0, 1);
  await io.terminate();
  add(
    'round trip between threads',
    'MMIO exit, I/O worker (DeviceThread)',
    median(t.slice(N / 10)),
    'raw Atomics.notify/wait ping-pong',
  );

  const ctl = new AbortController();
  const serving = pool.serveMmio(() => 42, { signal: ctl.signal });
  await pool.start({ mode: 'exit', n: N });
  const m = await pool.join(0);
  await pool.stop();
  ctl.abort();
  await serving;
  add(
    'round trip between threads',
    'MMIO exit, main thread (serveMmio)',
    median(m.slice(N / 10)),
    'raw Atomics.notify/wait ping-pong',
  );

  // a virtio notify: the exit, the transport's checks and an empty queue's drain
  const virtioBus = new DeviceBus();
  const transport = new VirtioMmioTransport(new VirtioRng(), { mem: memory, interrupt: () => {} });
  bringUp(transport, { size: 64, desc: 0x8000_0000, avail: 0x8000_1000, used: 0x8000_2000 });
  virtioBus.register(0x1000_1000, VIRTIO_MMIO_SIZE, transport, 'virtio-rng');
  const ctl2 = new AbortController();
  const serving2 = pool.serveMmio(virtioBus, { signal: ctl2.signal });
  await pool.start({ mode: 'notify', n: N });
  const nt = await pool.join(0);
  await pool.stop();
  ctl2.abort();
  await serving2;
  add(
    'round trip between threads',
    'virtio QueueNotify exit, main thread (serveMmio)',
    median(nt.slice(N / 10)),
    'raw Atomics.notify/wait ping-pong',
  );

  await pool.start({ mode: 'ipi', n: N });
  const [ipi] = await pool.join();
  add(
    'round trip between threads',
    'vCPU→vCPU kick and back',
    median(ipi.slice(N / 10)),
    'raw Atomics.notify/wait ping-pong',
  );

  const delays = Array.from({ length: 400 }, (_, i) => [0.1, 0.25, 0.5, 1][i % 4]);
  await pool.start({ mode: 'timer', delays });
  const [late] = await pool.join();
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
