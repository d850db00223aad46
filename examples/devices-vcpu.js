// A vCPU of examples/devices.js. Its bus holds a timer device running in this thread (state in
// shared guest memory, so both vCPUs see one timer) and a console device that exits to the main
// thread. vCPU 0 arms the timer, sleeps until it fires, prints, then interrupts vCPU 1, which
// was asleep waiting for it.
import { DeviceBus, monotonicNow } from 'guestmem';

const TIMER = 0x0200_0000; // in-vCPU: +0 deadline (ms, u32 as an offset from start), +4 fired count
const CONSOLE = 0x1000_0000; // exit: a write prints a character on the main thread
const SHARED = 0x8000_0000; // the timer's state in guest RAM

export default async function vcpu(ctx) {
  const start = ctx.arg.start;
  const bus = new DeviceBus({ vcpu: ctx.id });
  const mem = ctx.memory.withBus(bus); // register accesses that miss RAM go to the bus
  bus.register(
    TIMER,
    0x10,
    {
      read: (off) => mem.ld32u(SHARED + off),
      write: (off, _size, value) => mem.st32(SHARED + off, value),
    },
    'timer',
  );
  bus.registerExit(CONSOLE, 0x10, ctx.mmio, 'console');
  const print = (s) => {
    for (const ch of s) mem.st8(CONSOLE, ch.charCodeAt(0));
  };

  if (ctx.id === 0) {
    mem.st32(TIMER, Math.ceil(monotonicNow() - start) + 20); // fire 20 ms from now
    const deadline = start + mem.ld32u(TIMER);
    const why = ctx.waitUntil(deadline); // sleeps; no polling
    mem.st32(TIMER + 4, mem.ld32u(TIMER + 4) + 1);
    print(`vCPU 0 woke by '${why}' ${(monotonicNow() - deadline).toFixed(2)} ms after its deadline\n`);
    ctx.raiseIrq(1, 3); // an IPI
    return why;
  }
  const why = ctx.waitForInterrupt(5000);
  print(`vCPU 1 woke by '${why}' (lines ${ctx.takeInterrupts().toString(2)}), timer fired ${mem.ld32u(TIMER + 4)}x\n`);
  return why;
}
