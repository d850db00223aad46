// The vCPU of the soak run (soak.mjs): batches of loads and stores in its own areas (checked
// against a private shadow copy), atomic increments of one shared counter, 8-byte writes in the
// high region, and a write to its slot of the hot-plugged region whenever its current snapshot
// has one. Between batches: interrupts and kicks (waitForInterrupt with timeout 0), then a
// checkpoint (pause, RPC, stop).
import { u32, u64 } from 'guestmem';

export const HOT_BASE = 0x2_0000_0000; // 8 GiB: where the soak hot-plugs a region
export const COUNTER = 0x40;
export const AREA = 0x10000;
export const lowArea = (id) => 0x100000 + id * AREA;
export const highArea = (id) => 0x1_0000_0000 + id * AREA;

export function checksum(words) {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
  return h;
}

export default async function vcpu(ctx) {
  const id = ctx.id;
  let x = (ctx.arg.seed + id * 7919) >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  const words = AREA / 4;
  const shadow = new Uint32Array(words);
  const shadowHigh = new BigUint64Array(AREA / 8);
  const s = { id, ops: 0, increments: 0, kicks: 0, irqs: 0, hotWrites: 0, mismatches: 0, batches: 0 };
  ctx.expose({ stats: () => ({ ...s }) });
  while (!ctx.shouldStop()) {
    const mem = ctx.memory; // this batch's snapshot: never changes under it
    for (let i = 0; i < 2000; i++) {
      const r = rand();
      const k = r & 7;
      const w = (r >>> 3) % words;
      if (k < 3) {
        if (mem.load(u32, lowArea(id) + w * 4) !== shadow[w]) s.mismatches++;
      } else if (k < 5) {
        const v = rand();
        mem.store(u32, v, lowArea(id) + w * 4);
        shadow[w] = v;
      } else if (k < 7) {
        mem.fetchAdd(u32, COUNTER, 1);
        s.increments++;
      } else {
        const q = w >>> 1;
        const v = BigInt(rand()) << 20n;
        mem.writeObj(u64, v, highArea(id) + q * 8);
        shadowHigh[q] = v;
        if (mem.readObj(u64, highArea(id) + q * 8) !== v) s.mismatches++;
      }
      s.ops++;
    }
    if (mem.checkAddress(HOT_BASE) !== undefined) {
      const stamp = (id << 24) | (s.batches & 0xffffff);
      mem.store(u32, stamp >>> 0, HOT_BASE + id * 4);
      if (mem.load(u32, HOT_BASE + id * 4) !== stamp >>> 0) s.mismatches++;
      s.hotWrites++;
    }
    s.batches++;
    const why = ctx.waitForInterrupt(0);
    if (why === 'kick') s.kicks++;
    else if (why === 'irq') {
      let bits = ctx.takeInterrupts();
      while (bits) {
        s.irqs++;
        bits &= bits - 1;
      }
    }
    await ctx.checkpoint();
  }
  return { ...s, low: checksum(shadow), high: checksum(new Uint32Array(shadowHigh.buffer)) };
}
