/**
 * The piscina worker entry of VcpuPool: runs one vCPU (a long-lived task) or one ordinary job per
 * task, over guest memory rebuilt from the task's descriptor (the same memory, no copy).
 *
 * Failures come back as results, not rejections, so the pool sees the error's code and kind
 * (structured clone drops an Error's own fields) and whether loading or running failed.
 */
import type { GuestMemoryAtomic } from '../src/guest-memory-atomic.js';
import type { GuestMemoryMmap } from '../src/guest-memory.js';
import { ControlRecord } from '../src/runtime/control.js';
import {
  checkRuntime,
  openMemory,
  toWire,
  type JobContext,
  type JobTask,
  type TaskResult,
  type VcpuTask,
  type WorkerTask,
} from '../src/runtime/protocol.js';
import { VcpuContext } from '../src/runtime/vcpu-context.js';
import { VcpuPoolError } from '../src/runtime/vcpu-error.js';

type Entry = (ctx: unknown, arg?: unknown) => unknown;

async function loadEntry(module: string): Promise<Entry> {
  const mod = (await import(module)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    const found = typeof mod.default;
    throw new VcpuPoolError('ERR_VCPU_MODULE', `${module} has no default export function (found ${found})`);
  }
  return mod.default as Entry;
}

async function runVcpu(task: VcpuTask): Promise<TaskResult> {
  const runtime = checkRuntime(task.runtime, task.id);
  const ctl = new ControlRecord(runtime.control, task.id);
  ctl.starting();
  // Opening the memory and loading the module are the 'load' phase: a bad descriptor or module
  // ends with FAILED and a coded error, never a STARTING vCPU the pool takes for a dead thread.
  let opened: { memory: GuestMemoryMmap; atomic: GuestMemoryAtomic | null } | null = null;
  let entry: Entry;
  try {
    opened = openMemory(task.memory);
    entry = await loadEntry(task.module);
  } catch (e) {
    ctl.failed();
    task.rpc.close();
    opened?.atomic?.close();
    return { ok: false, error: toWire(e), phase: 'load' };
  }
  const { memory, atomic } = opened;
  const ctx = new VcpuContext({ id: task.id, arg: task.arg, memory, atomic, runtime, rpc: task.rpc });
  ctl.running();
  try {
    const value = await entry(ctx);
    ctl.done();
    return { ok: true, value };
  } catch (e) {
    ctl.failed();
    return { ok: false, error: toWire(e), phase: 'run' };
  } finally {
    task.rpc.close();
    atomic?.close();
  }
}

async function runJob(task: JobTask): Promise<TaskResult> {
  let opened: { memory: GuestMemoryMmap; atomic: GuestMemoryAtomic | null };
  try {
    opened = openMemory(task.memory);
  } catch (e) {
    return { ok: false, error: toWire(e), phase: 'load' };
  }
  const { memory, atomic } = opened;
  try {
    let entry: Entry;
    try {
      entry = await loadEntry(task.module);
    } catch (e) {
      return { ok: false, error: toWire(e), phase: 'load' };
    }
    try {
      const ctx: JobContext = { memory, arg: task.arg, atomic };
      return { ok: true, value: await entry(ctx, task.arg) };
    } catch (e) {
      return { ok: false, error: toWire(e), phase: 'run' };
    }
  } finally {
    atomic?.close();
  }
}

export default function run(task: WorkerTask): Promise<TaskResult> {
  return task.task === 'vcpu' ? runVcpu(task) : runJob(task);
}
