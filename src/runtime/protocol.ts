/**
 * The messages between VcpuPool and its worker entry (workers/vcpu-worker.ts), as piscina tasks
 * and their results. Everything here is structured-clone data: guest memory travels as `share()`
 * descriptors (SharedArrayBuffers, no copy), the RPC endpoint as a transferred MessagePort.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SharedGuestMemory } from '../guest-memory.js';
import type { SharedGuestMemoryAtomic } from '../guest-memory-atomic.js';

export type SharedMemoryDescriptor = SharedGuestMemory | SharedGuestMemoryAtomic;

/** Runs a vCPU module's default export until it returns. */
export interface VcpuTask {
  readonly kind: 'vcpu';
  readonly id: number;
  readonly vcpus: number;
  /** file: URL of the user module. */
  readonly module: string;
  readonly arg: unknown;
  readonly memory: SharedMemoryDescriptor;
  readonly control: SharedArrayBuffer;
  /** The vCPU's end of its comlink channel. */
  readonly rpc: MessagePort;
}

/** Runs an ordinary task module's default export once. */
export interface JobTask {
  readonly kind: 'job';
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
