// A toy vCPU: reads guest words in a loop, counting its passes in a shared guest counter.
import { u32 } from 'guestmem';

export default async function vcpu(ctx) {
  let pc = 0;
  let acc = 0;
  let passes = 0;
  ctx.expose({ regs: () => ({ id: ctx.id, pc, acc, passes }) }); // for pool.remote(id)
  while (!ctx.shouldStop()) {
    const mem = ctx.memory;
    for (let i = 0; i < 4096; i++) {
      acc = (acc + mem.readUnordered(u32, 0x1000 + pc)) >>> 0; // guest work between safe points
      pc = (pc + 4) & 0xfff;
    }
    mem.fetchAdd(u32, 0, 1); // one counter shared by every vCPU
    passes++;
    await ctx.checkpoint(); // pause, RPCs and stop are served here
  }
  return passes;
}
