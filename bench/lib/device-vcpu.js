// The vCPU module of bench/devices.bench.js. ctx.arg.mode:
//   'exit':  N MMIO exit reads through the bus; returns per-exit round-trip times (ns);
//   'notify': N virtio QueueNotify writes through an exit; returns per-exit round-trip times (ns);
//   'ipi':   vCPUs 0 and 1 ping-pong with ctx.kick: 0 kicks 1 and sleeps until kicked back;
//            returns vCPU 0's round-trip times (ns);
//   'timer': sleeps with waitUntil(now + d) for d in arg.delays; returns lateness (ms) per sleep.
import { DeviceBus, monotonicNow } from 'guestmem';

export default async function vcpu(ctx) {
  const { mode, n } = ctx.arg;
  if (mode === 'exit') {
    if (ctx.id !== 0) return [];
    const bus = new DeviceBus();
    bus.registerExit(0x1000_0000, 0x100, ctx.mmio);
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = monotonicNow();
      bus.read(0x1000_0000, 4);
      times.push((monotonicNow() - t) * 1e6);
    }
    return times;
  }
  if (mode === 'notify') {
    // a virtio QueueNotify write through an exit (the transport on the main thread)
    if (ctx.id !== 0) return [];
    const bus = new DeviceBus();
    bus.registerExit(0x1000_1000, 0x200, ctx.mmio);
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = monotonicNow();
      bus.write(0x1000_1050, 4, 0);
      times.push((monotonicNow() - t) * 1e6);
    }
    return times;
  }
  if (mode === 'ipi') {
    const times = [];
    if (ctx.id === 1) {
      for (let i = 0; i < n; i++) {
        while (ctx.waitForInterrupt(5000) !== 'kick') if (ctx.shouldStop()) return times;
        ctx.kick(0);
      }
      return times;
    }
    await new Promise((r) => setTimeout(r, 50)); // let vCPU 1 fall asleep
    for (let i = 0; i < n; i++) {
      const t = monotonicNow();
      ctx.kick(1);
      while (ctx.waitForInterrupt(5000) !== 'kick') if (ctx.shouldStop()) return times;
      times.push((monotonicNow() - t) * 1e6);
    }
    return times;
  }
  const late = [];
  for (const d of ctx.arg.delays) {
    const deadline = monotonicNow() + d;
    ctx.waitUntil(deadline);
    late.push(monotonicNow() - deadline);
  }
  return late;
}
