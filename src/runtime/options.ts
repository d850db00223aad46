/**
 * VcpuPool options, checked in one place into a filled-in object (piscina's habit), so the pool
 * itself never re-validates and every bad option fails in the constructor with one message format.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuestMemoryAtomic } from '../guest-memory-atomic.js';
import { GuestMemoryMmap } from '../guest-memory.js';
import { rangeError, typeError } from '../internal/args.js';
import { VcpuPoolError } from './vcpu-error.js';

/** The most vCPUs one pool runs (each is a thread; the control block has a record per vCPU). */
export const MAX_VCPUS = 1024;

/** Options of `new VcpuPool(options)`. */
export interface VcpuPoolOptions {
  /** The guest memory every vCPU sees (a GuestMemoryAtomic makes hot-plug visible to them). */
  readonly memory: GuestMemoryMmap | GuestMemoryAtomic;
  /** Number of vCPU threads (1 … maxThreads). */
  readonly vcpus: number;
  /** The vCPU module: a path or URL of an ES module whose default export is `async (ctx) => result`. */
  readonly module: string | URL;
  /** Threads the vCPU pool may use (default: vcpus); fewer than vcpus is an error. */
  readonly maxThreads?: number;
  /** Threads for `pool.run()` jobs, started on first use (default: available parallelism). */
  readonly jobThreads?: number;
  /** Kills every vCPU thread when aborted (their stop() result rejects with ERR_VCPU_ABORTED). */
  readonly signal?: AbortSignal;
  /** How long close() lets vCPUs return after asking them to stop, before killing them (ms, default 2000). */
  readonly closeTimeoutMs?: number;
  /** Extra Node flags for the worker threads (e.g. ['--expose-gc']). */
  readonly execArgv?: readonly string[];
  /** Bytes of each vCPU's state block (`ctx.stateBlock`, `pool.stateBlock(id)`); default 4096. */
  readonly stateBytes?: number;
}

export interface FilledOptions {
  readonly memory: GuestMemoryMmap | GuestMemoryAtomic;
  readonly vcpus: number;
  readonly module: string;
  readonly maxThreads: number;
  readonly jobThreads: number;
  readonly signal: AbortSignal | null;
  readonly closeTimeoutMs: number;
  readonly execArgv: string[];
  readonly stateBytes: number;
}

function positiveInt(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!Number.isInteger(v) || v < 1 || v > max) throw rangeError(name, `an integer from 1 to ${max}`, v);
  return v;
}

/**
 * Resolves a module option to a file: URL and checks the file exists (the default export is
 * checked where it is imported, in the worker). Throws Error code ERR_MODULE_NOT_FOUND.
 */
export function resolveModule(name: string, m: unknown): string {
  let url: URL;
  if (m instanceof URL) url = m;
  else if (typeof m === 'string' && m.length > 0) url = m.startsWith('file:') ? new URL(m) : pathToFileURL(resolve(m));
  else throw typeError(name, 'a path or file: URL of an ES module', m);
  if (url.protocol !== 'file:') throw typeError(name, 'a path or file: URL of an ES module', m);
  const path = fileURLToPath(url);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new VcpuPoolError('ERR_MODULE_NOT_FOUND', `${name}: cannot find module ${path}`);
  }
  return url.href;
}

export function fillOptions(o: unknown): FilledOptions {
  if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
  const opts = o as Partial<VcpuPoolOptions>;
  if (!(opts.memory instanceof GuestMemoryMmap) && !(opts.memory instanceof GuestMemoryAtomic)) {
    throw typeError('options.memory', 'a GuestMemoryMmap or GuestMemoryAtomic', opts.memory);
  }
  const vcpus = positiveInt('options.vcpus', opts.vcpus, MAX_VCPUS);
  const maxThreads =
    opts.maxThreads === undefined ? vcpus : positiveInt('options.maxThreads', opts.maxThreads, MAX_VCPUS);
  if (vcpus > maxThreads) {
    throw rangeError('options.vcpus', `at most options.maxThreads (${maxThreads})`, vcpus);
  }
  const jobThreads =
    opts.jobThreads === undefined
      ? Math.max(1, availableParallelism())
      : positiveInt('options.jobThreads', opts.jobThreads, MAX_VCPUS);
  const signal = opts.signal ?? null;
  if (signal !== null && !(signal instanceof AbortSignal)) throw typeError('options.signal', 'an AbortSignal', signal);
  let closeTimeoutMs = 2000;
  if (opts.closeTimeoutMs !== undefined) {
    if (
      typeof opts.closeTimeoutMs !== 'number' ||
      !(opts.closeTimeoutMs >= 0) ||
      !Number.isFinite(opts.closeTimeoutMs)
    ) {
      throw rangeError('options.closeTimeoutMs', 'a finite number >= 0', opts.closeTimeoutMs);
    }
    closeTimeoutMs = opts.closeTimeoutMs;
  }
  const execArgv = opts.execArgv ?? [];
  if (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string')) {
    throw typeError('options.execArgv', 'an array of strings', execArgv);
  }
  return {
    memory: opts.memory,
    vcpus,
    module: resolveModule('options.module', opts.module),
    maxThreads,
    jobThreads,
    signal,
    closeTimeoutMs,
    execArgv: [...execArgv],
    stateBytes: opts.stateBytes === undefined ? 4096 : positiveInt('options.stateBytes', opts.stateBytes, 2 ** 30),
  };
}
