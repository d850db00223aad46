/**
 * The default workload behind `npm start`: builds a two-region guest memory around a hole,
 * runs N vCPUs on it (a VcpuPool) for a while, then verifies integrity (the shared atomic counter is
 * exact, every vCPU's areas hold exactly what it wrote, no struct or copy mismatch).
 */
import { GuestMemoryMmap, u32, VcpuPool } from '../index.js';
import {
  AREA,
  checksum,
  CTRL,
  Desc,
  DESC_COUNT,
  DESC_TABLE,
  descriptor,
  HIGH_BASE,
  highArea,
  lowArea,
  OP_KINDS,
  regionSizeFor,
  STATS_STRIDE,
  type OpKind,
  type VcpuReport,
} from './layout.js';

export interface WorkloadOptions {
  vcpus: number;
  /** Total guest RAM in bytes, split evenly between the two regions. */
  memory: number;
  seconds: number;
  /** Called about 10 times a second with the ops done so far. */
  onProgress?: (elapsed: number, opsSoFar: number) => void;
}

export interface WorkloadResult {
  vcpus: number;
  memory: number;
  seconds: number;
  layout: { low: [number, number]; high: [number, number] };
  perVcpu: { id: number; opsPerSecond: number; ops: Record<OpKind, number> }[];
  perKind: Record<OpKind, { ops: number; opsPerSecond: number }>;
  totalOpsPerSecond: number;
  copiedBytesPerSecond: number;
  integrity: { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
}

const vcpuModule = new URL('./workload-vcpu.js', import.meta.url);

export async function runWorkload(opts: WorkloadOptions): Promise<WorkloadResult> {
  const half = Math.floor(opts.memory / 2 / 4096) * 4096;
  const need = regionSizeFor(opts.vcpus);
  if (half < need) {
    throw new RangeError(
      `--memory ${opts.memory} is too small for ${opts.vcpus} vCPUs: each region needs ${need} bytes ` +
        `(use --memory ${need * 2} or more)`,
    );
  }
  const mem = GuestMemoryMmap.fromRanges([
    [0, half],
    [HIGH_BASE, half],
  ]);
  for (let i = 0; i < DESC_COUNT; i++) mem.writeObj(Desc, descriptor(i), DESC_TABLE + i * Desc.size);

  const pool = new VcpuPool({ memory: mem, vcpus: opts.vcpus, module: vcpuModule });
  try {
    await pool.start({ seed: 0x1234567 }); // resolves with every vCPU running
    const t0 = performance.now();
    const progress = setInterval(() => {
      let ops = 0;
      for (let id = 0; id < opts.vcpus; id++) {
        for (let k = 0; k < OP_KINDS.length; k++) ops += mem.load(u32, CTRL.vcpuStats + id * STATS_STRIDE + k * 4);
      }
      opts.onProgress?.((performance.now() - t0) / 1000, ops);
    }, 100);
    // a vCPU that fails ends the run early: stop() then reports its error
    const failed = new Promise<void>((resolve) => pool.once('error', () => resolve()));
    await Promise.race([new Promise((r) => setTimeout(r, opts.seconds * 1000)), failed]);
    const reports = (await pool.stop()) as VcpuReport[];
    const elapsed = (performance.now() - t0) / 1000;
    clearInterval(progress);
    return summarize(mem, opts, reports, elapsed, half);
  } finally {
    await pool.close();
  }
}

function summarize(
  mem: GuestMemoryMmap,
  opts: WorkloadOptions,
  reports: VcpuReport[],
  elapsed: number,
  half: number,
): WorkloadResult {
  const checks: WorkloadResult['integrity']['checks'] = [];
  const increments = reports.reduce((s, r) => s + r.atomicIncrements, 0);
  const counter = mem.load(u32, CTRL.counter);
  checks.push({
    name: 'shared atomic counter',
    ok: counter === increments % 2 ** 32,
    detail: `${counter} in memory, ${increments} increments reported (mod 2^32: ${increments % 2 ** 32})`,
  });
  const words = new Uint32Array(AREA / 4);
  const bytes = new Uint8Array(words.buffer);
  let mismatched = 0;
  for (const r of reports) {
    mem.readSlice(bytes, lowArea(r.id));
    const low = checksum(words);
    mem.readSlice(bytes, highArea(r.id));
    const high = checksum(words);
    if (low !== r.checksumLow || high !== r.checksumHigh) mismatched++;
  }
  checks.push({
    name: 'vCPU area checksums',
    ok: mismatched === 0,
    detail: `${reports.length - mismatched}/${reports.length} vCPUs' areas hold exactly what they wrote`,
  });
  const structErrors = reports.reduce((s, r) => s + r.structErrors, 0);
  checks.push({ name: 'struct reads', ok: structErrors === 0, detail: `${structErrors} descriptors read wrong` });
  const copyErrors = reports.reduce((s, r) => s + r.copyErrors, 0);
  checks.push({ name: 'cross-region copies', ok: copyErrors === 0, detail: `${copyErrors} copies read back wrong` });

  const perKind = Object.fromEntries(
    OP_KINDS.map((k) => {
      const ops = reports.reduce((s, r) => s + r.ops[k], 0);
      return [k, { ops, opsPerSecond: ops / elapsed }];
    }),
  ) as WorkloadResult['perKind'];
  const perVcpu = reports
    .map((r) => ({
      id: r.id,
      ops: r.ops,
      opsPerSecond: OP_KINDS.reduce((s, k) => s + r.ops[k], 0) / elapsed,
    }))
    .sort((a, b) => a.id - b.id);
  return {
    vcpus: opts.vcpus,
    memory: opts.memory,
    seconds: elapsed,
    layout: { low: [0, half], high: [HIGH_BASE, half] },
    perVcpu,
    perKind,
    totalOpsPerSecond: perVcpu.reduce((s, v) => s + v.opsPerSecond, 0),
    copiedBytesPerSecond: reports.reduce((s, r) => s + r.copiedBytes, 0) / elapsed,
    integrity: { ok: checks.every((c) => c.ok), checks },
  };
}
