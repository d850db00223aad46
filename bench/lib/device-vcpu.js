// The vCPU module of bench/devices.bench.js. Each round-trip mode alternates, in blocks of
// ctx.arg.block, a raw Atomics ping-pong with the thread on the other side (on ctx.arg.raw:
// word 0 pings, word 1 pongs) and the library's round trip with that same thread, so both see
// the same threads on the same cores (for exits, both raw sides poll 30 µs before they sleep, as
// the exits' two sides do). Returns { raw, lib }: per-round-trip times (ns).
//   'exit':   MMIO exit reads through the bus (the other side: an I/O worker or the main thread);
//   'notify': virtio QueueNotify writes through an exit (the transport on the main thread);
//   'ipi':    vCPUs 0 and 1: 0 kicks 1 and sleeps until kicked back (raw: the same two threads);
//   'timer':  sleeps with waitUntil(now + d) for d in arg.delays; returns lateness (ms) per sleep.
import { DeviceBus, monotonicNow } from 'guestmem';

/** The MMIO exit's poll before it sleeps (src/runtime/mmio-exit.ts SPIN_MS): the raw baseline of exits polls as long. */
export const SPIN_MS = 0.03;

/** Polls w[i] while it equals `seen`, for up to SPIN_MS. */
export function spinWhile(w, i, seen) {
  const end = performance.now() + SPIN_MS;
  while (Atomics.load(w, i) === seen && performance.now() < end);
}

/** One raw round trip from the pinging side (polling first when `spin`, as an exit does). */
function ping(w, spin) {
  const acked = Atomics.load(w, 1);
  Atomics.add(w, 0, 1);
  Atomics.notify(w, 0);
  if (spin) spinWhile(w, 1, acked);
  while (Atomics.load(w, 1) === acked) Atomics.wait(w, 1, acked);
}

/** Answers one raw ping (the side that pongs); `seen` is the ping count answered so far. */
function pong(w, seen) {
  while (Atomics.load(w, 0) === seen) Atomics.wait(w, 0, seen);
  const now = Atomics.load(w, 0); // read before the answer: the next ping can only follow it
  Atomics.add(w, 1, 1);
  Atomics.notify(w, 1);
  return now;
}

/** n round trips as blocks of raw pings and library calls, alternating. */
function interleaved(n, block, w, call, spin = false) {
  const raw = [];
  const lib = [];
  for (let done = 0; done < n; done += block) {
    for (let i = 0; i < block; i++) {
      const t = monotonicNow();
      ping(w, spin);
      raw.push((monotonicNow() - t) * 1e6);
    }
    for (let i = 0; i < block; i++) {
      const t = monotonicNow();
      call();
      lib.push((monotonicNow() - t) * 1e6);
    }
  }
  return { raw, lib };
}

export default async function vcpu(ctx) {
  const { mode, n, block } = ctx.arg;
  const w = ctx.arg.raw ? new Int32Array(ctx.arg.raw) : null;
  if (mode === 'exit' || mode === 'notify') {
    if (ctx.id !== 0) return null;
    const bus = new DeviceBus();
    bus.registerExit(0x1000_0000, 0x2000, ctx.mmio);
    const call = mode === 'exit' ? () => bus.read(0x1000_0000, 4) : () => bus.write(0x1000_1050, 4, 0);
    return interleaved(n, block, w, call, true);
  }
  if (mode === 'ipi') {
    const wake = () => {
      while (ctx.waitForInterrupt(5000) !== 'kick') if (ctx.shouldStop()) throw new Error('stopped');
    };
    if (ctx.id === 1) {
      let seen = 0;
      for (let done = 0; done < n; done += block) {
        for (let i = 0; i < block; i++) seen = pong(w, seen);
        for (let i = 0; i < block; i++) {
          wake();
          ctx.kick(0);
        }
      }
      return null;
    }
    return interleaved(n, block, w, () => {
      ctx.kick(1);
      wake();
    });
  }
  const late = [];
  for (const d of ctx.arg.delays) {
    const deadline = monotonicNow() + d;
    ctx.waitUntil(deadline);
    late.push(monotonicNow() - deadline);
  }
  return late;
}
