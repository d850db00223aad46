/**
 * One vCPU of the default workload (`npm start`): a mix of guest loads and stores in its own
 * areas, atomic increments of a shared counter, cross-region copies and struct reads, until
 * the pool stops it. It mirrors every write in a private shadow copy, so the main
 * thread can check afterwards that guest memory holds exactly what this vCPU wrote.
 */
import { u32, type VcpuContext } from '../index.js';
import {
  AREA,
  checksum,
  CTRL,
  Desc,
  DESC_COUNT,
  DESC_TABLE,
  descriptor,
  highArea,
  lowArea,
  OP_KINDS,
  PAGE,
  STATS_STRIDE,
  type VcpuReport,
} from './layout.js';

/**
 * The vCPU entry VcpuPool runs (default export): `ctx.arg.seed` seeds this vCPU's choices; it
 * works in batches until the pool stops it and returns its report.
 */
export default async function workloadVcpu(ctx: VcpuContext): Promise<VcpuReport> {
  const id = ctx.id;
  const seed = (ctx.arg as { seed: number }).seed + id * 7919;
  const mem = ctx.memory;
  const low = lowArea(id);
  const high = highArea(id);
  const WORDS = AREA / 4;
  const shadowLow = new Uint32Array(WORDS);
  const shadowHigh = new Uint32Array(WORDS);
  const page = new Uint8Array(PAGE);
  const ops = [0, 0, 0, 0, 0];
  let atomicIncrements = 0;
  let copiedBytes = 0;
  let structErrors = 0;
  let copyErrors = 0;
  let sink = 0;

  let x = seed >>> 0 || 1;
  function rand(): number {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  }

  const expected = Array.from({ length: DESC_COUNT }, (_, i) => descriptor(i));
  const statsAddr = CTRL.vcpuStats + id * STATS_STRIDE;

  function batch(): void {
    for (let n = 0; n < 1024; n++) {
      const r = rand();
      const kind = r & 15;
      const word = (r >>> 4) % WORDS;
      const inHigh = (r & 0x80000000) !== 0;
      const addr = (inHigh ? high : low) + word * 4;
      if (kind < 6) {
        sink ^= (kind & 1) === 0 ? mem.readObj(u32, addr) : mem.load(u32, addr);
        ops[0]!++;
      } else if (kind < 10) {
        const v = rand();
        mem.writeObj(u32, v, addr);
        (inHigh ? shadowHigh : shadowLow)[word] = v;
        ops[1]!++;
      } else if (kind < 12) {
        mem.fetchAdd(u32, CTRL.counter, 1);
        atomicIncrements++;
        ops[2]!++;
      } else if (kind === 12) {
        // a page from this vCPU's low area to the same place in its high area, across regions
        const off = ((r >>> 4) % (AREA / PAGE)) * PAGE;
        mem.readSlice(page, low + off);
        mem.writeSlice(page, high + off);
        shadowHigh.set(shadowLow.subarray(off / 4, (off + PAGE) / 4), off / 4);
        if (mem.readObj(u32, high + off + PAGE - 4) !== shadowLow[(off + PAGE) / 4 - 1]) copyErrors++;
        copiedBytes += PAGE;
        ops[3]!++;
      } else {
        const i = (r >>> 4) % DESC_COUNT;
        const d = mem.readObj(Desc, DESC_TABLE + i * Desc.size);
        const e = expected[i]!;
        if (d.addr !== e.addr || d.len !== e.len || d.flags !== e.flags || d.next !== e.next) structErrors++;
        ops[4]!++;
      }
    }
    // progress for the main thread's display: plain atomic stores of this vCPU's own counters
    for (let k = 0; k < ops.length; k++) mem.store(u32, ops[k]! >>> 0, statsAddr + k * 4);
  }

  while (!ctx.shouldStop()) {
    batch();
    await ctx.checkpoint();
  }

  return {
    id,
    ops: Object.fromEntries(OP_KINDS.map((k, i) => [k, ops[i]!])) as VcpuReport['ops'],
    atomicIncrements,
    copiedBytes,
    structErrors,
    copyErrors,
    checksumLow: checksum(shadowLow),
    checksumHigh: checksum(shadowHigh),
    sink,
  };
}
