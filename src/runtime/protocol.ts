/**
 * The messages between VcpuPool and its worker entry (workers/vcpu-worker.ts), as piscina tasks
 * and their results. Everything here is structured-clone data: guest memory travels as `share()`
 * descriptors (SharedArrayBuffers, no copy), the RPC endpoint as a transferred MessagePort.
 */
import type { MessagePort } from 'node:worker_threads';
import { GuestMemoryMmap, type SharedGuestMemory } from '../guest-memory.js';
import { GuestMemoryAtomic, type SharedGuestMemoryAtomic } from '../guest-memory-atomic.js';
import { rangeError, typeError } from '../internal/args.js';
import { RECORD_WORDS } from './control.js';
import { mmioExitsBytes } from './mmio-exit.js';
import { MAX_VCPUS } from './options.js';

/** The shared form of a pool's guest memory: `share()` of a GuestMemoryMmap or a GuestMemoryAtomic. */
export type SharedMemoryDescriptor = SharedGuestMemory | SharedGuestMemoryAtomic;

/**
 * What every vCPU of a run shares besides guest memory: the control block (and, as the runtime
 * grows, interrupt lines, MMIO mailboxes and the clock). One object, checked in one place
 * (`checkRuntime`), so a new shared piece is added here and nowhere else. Part of the
 * descriptors a pool hands out (vCPU jobs, `pool.deviceChannel()`); build it only through them.
 */
export interface SharedRuntime {
  /** The number of vCPUs (every id below it is one). */
  readonly vcpus: number;
  /** RECORD_WORDS Int32 words per vCPU (control.ts). */
  readonly control: SharedArrayBuffer;
  /** One state block per vCPU (`ctx.stateBlock`, `pool.stateBlock(id)`). */
  readonly stateBlocks: readonly SharedArrayBuffer[];
  /** The MMIO exit mailboxes (runtime/mmio-exit.ts). */
  readonly mmio: SharedArrayBuffer;
}

/**
 * Checks a SharedRuntime received from another thread (and, when given, that vCPU `id` is one of
 * its vCPUs); throws TypeError/RangeError.
 */
export function checkRuntime(r: unknown, id?: number): SharedRuntime {
  const rt = r as Partial<SharedRuntime> | null;
  if (typeof rt !== 'object' || rt === null) throw typeError('runtime', 'a shared runtime descriptor', r);
  const vcpus = rt.vcpus;
  if (typeof vcpus !== 'number' || !Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS)
    throw rangeError('runtime.vcpus', `an integer from 1 to ${MAX_VCPUS}`, vcpus);
  if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= vcpus))
    throw rangeError('id', `a vCPU id below ${vcpus}`, id);
  if (!(rt.control instanceof SharedArrayBuffer) || rt.control.byteLength !== vcpus * RECORD_WORDS * 4)
    throw typeError('runtime.control', `a SharedArrayBuffer of ${vcpus * RECORD_WORDS * 4} bytes`, rt.control);
  if (
    !Array.isArray(rt.stateBlocks) ||
    rt.stateBlocks.length !== vcpus ||
    !rt.stateBlocks.every((b) => b instanceof SharedArrayBuffer)
  )
    throw typeError('runtime.stateBlocks', `${vcpus} SharedArrayBuffers`, rt.stateBlocks);
  if (!(rt.mmio instanceof SharedArrayBuffer) || rt.mmio.byteLength !== mmioExitsBytes(vcpus))
    throw typeError('runtime.mmio', `a SharedArrayBuffer of ${mmioExitsBytes(vcpus)} bytes`, rt.mmio);
  return rt as SharedRuntime;
}

/** Guest memory rebuilt from its descriptor (the same memory, no copy); `atomic` must be closed after use. */
export function openMemory(d: SharedMemoryDescriptor): { memory: GuestMemoryMmap; atomic: GuestMemoryAtomic | null } {
  if (typeof d === 'object' && d !== null && d.descriptor === 'guestmem.GuestMemoryAtomic') {
    const atomic = GuestMemoryAtomic.fromShared(d);
    return { memory: atomic.memory(), atomic };
  }
  return { memory: GuestMemoryMmap.fromShared(d as SharedGuestMemory), atomic: null };
}

/** Runs a vCPU module's default export until it returns. */
export interface VcpuTask {
  readonly task: 'vcpu';
  readonly id: number;
  /** file: URL of the user module. */
  readonly module: string;
  readonly arg: unknown;
  readonly memory: SharedMemoryDescriptor;
  readonly runtime: SharedRuntime;
  /** The vCPU's end of its comlink channel. */
  readonly rpc: MessagePort;
}

/** What a job module's default export receives (as `ctx`, with `arg` also as its second argument). */
export interface JobContext {
  /** The pool's guest memory (shared, no copy); with a GuestMemoryAtomic, its snapshot at job start. */
  readonly memory: GuestMemoryMmap;
  /** The argument given to `pool.run(module, arg)`. */
  readonly arg: unknown;
  /** The hot-pluggable memory, when the pool was given a GuestMemoryAtomic; else null. */
  readonly atomic: GuestMemoryAtomic | null;
}

/** Runs an ordinary task module's default export once. */
export interface JobTask {
  readonly task: 'job';
  readonly module: string;
  readonly arg: unknown;
  readonly memory: SharedMemoryDescriptor;
}

export type WorkerTask = VcpuTask | JobTask;

/** An error as it crosses threads (structured clone drops an Error's own fields). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
  readonly kind: string | undefined;
}

export type TaskResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: WireError; readonly phase: 'load' | 'run' };

export function toWire(e: unknown): WireError {
  if (e instanceof Error) {
    const x = e as Error & { code?: unknown; kind?: unknown };
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      code: typeof x.code === 'string' ? x.code : undefined,
      kind: typeof x.kind === 'string' ? x.kind : undefined,
    };
  }
  return {
    name: 'Error',
    message: `non-Error thrown: ${String(e)}`,
    stack: undefined,
    code: undefined,
    kind: undefined,
  };
}

export function fromWire(w: WireError): Error {
  const e = new Error(w.message) as Error & { code?: string; kind?: string };
  e.name = w.name;
  if (w.stack !== undefined) e.stack = w.stack;
  if (w.code !== undefined) e.code = w.code;
  if (w.kind !== undefined) e.kind = w.kind;
  return e;
}
