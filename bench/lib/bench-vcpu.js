// The vCPU module of bench/runtime.bench.js. ctx.arg.mode:
//   'spin': guest work with a checkpoint every 1000 accesses (what pause() waits for);
//   'wait': sleeps in waitForInterrupt; on each wake bumps the ack word (0x40 + 4*id) and
//           notifies it, so the main thread can time kick → wake round trips.
import { u32 } from 'guestmem';

export default async function vcpu(ctx) {
  const mem = ctx.memory;
  const ack = 0x40 + 4 * ctx.id;
  if (ctx.arg.mode === 'wait') {
    for (;;) {
      const why = ctx.waitForInterrupt();
      if (why === 'stop') return 0;
      if (why === 'attention') await ctx.checkpoint();
      mem.fetchAdd(u32, ack, 1);
      mem.notify(ack);
    }
  }
  let n = 0;
  while (!ctx.shouldStop()) {
    for (let i = 0; i < 1000; i++) mem.store(u32, i, 0x1000 + ((ctx.id * 4096 + i * 4) & 0xffff));
    n += 1000;
    await ctx.checkpoint();
  }
  return n;
}
