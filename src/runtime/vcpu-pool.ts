import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { wrap, type Remote } from 'comlink';
import { Piscina } from 'piscina';
import { checkTimeout, typeError } from '../internal/args.js';
import { now, POLL_MS } from '../clock.js';
import { staleBuild } from '../internal/stale-build.js';
import { ControlRecord, createControl, resetControl, RunState, STATE_NAMES, type VcpuState } from './control.js';
import { countingEndpoint } from './endpoint.js';
import { fillOptions, resolveModule, type FilledOptions, type VcpuPoolOptions } from './options.js';
import { fromWire, type JobTask, type SharedRuntime, type TaskResult, type VcpuTask } from './protocol.js';
import { VcpuError, VcpuPoolError, type VcpuPoolErrorCode } from './vcpu-error.js';
import type { MmioBus } from '../mmio-bus.js';
import type { SharedDeviceChannel } from './device-thread.js';
import { VcpuSignals } from './vcpu-signals.js';
import { createMmioExits, MmioExitServer, type MmioHandler, type ServeOptions } from './mmio-exit.js';

/**
 * The compiled worker entry. From dist/ it sits beside this file's tree. When this module runs
 * from TypeScript sources (the tests), the entry comes from dist/, and a dist/ older than any
 * source file is refused loudly rather than run (test/global-setup.ts builds before the suite).
 */
function workerEntry(): string {
  if (!import.meta.url.endsWith('.ts')) return new URL('../../workers/vcpu-worker.js', import.meta.url).href;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const built = join(root, 'dist/workers/vcpu-worker.js');
  const stale = staleBuild(root, built);
  if (stale !== null) {
    throw new VcpuPoolError('ERR_VCPU_STALE_BUILD', `VcpuPool: ${stale}; run \`npm run build:ts\``);
  }
  return pathToFileURL(built).href;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: VcpuError };

interface Run {
  readonly outcomes: Promise<Outcome>[];
  /** Rejects (with ERR_VCPU_GONE) once vCPU id has finished or the run ended; for remote(). */
  readonly gone: Promise<never>[];
  readonly goneReject: ((e: Error) => void)[];
  readonly settled: boolean[];
  readonly ports: MessagePort[];
  readonly aborts: AbortController[];
  readonly remotes: (Remote<unknown> | undefined)[];
}

const poolError = (code: VcpuPoolErrorCode, message: string): VcpuPoolError =>
  new VcpuPoolError(code, `VcpuPool: ${message}`);

/** piscina rejects an aborted task with its AbortError. */
const isAbort = (e: unknown): boolean => e instanceof Error && e.name === 'AbortError';

/**
 * VcpuPool: long-running vCPU workers (one piscina task per vCPU, each on its own thread) over
 * one guest memory, controlled through a shared control block (control.ts) and inspected
 * through comlink.
 *
 * Threads: the vCPU threads are started with the pool (minThreads = maxThreads), so `start()`
 * costs a task post and a module import, not a thread spawn; memory goes to them as a `share()`
 * descriptor, so a 16 GiB map starts as fast as a 1 MiB one. Jobs (`run()`) get their own
 * piscina pool, started on first use, so they never queue behind the vCPUs.
 *
 * Faults: a vCPU's result travels back as data (workers/vcpu-worker.ts), a dead or killed thread
 * as a piscina rejection; either way the vCPU's failure is a VcpuError, emitted as 'error'
 * (when someone listens) and thrown by `stop()`. The other vCPUs and the memory are untouched:
 * the mapping lives as long as any thread still references it.
 */
export class VcpuPool extends EventEmitter {
  /** Number of vCPUs. */
  readonly vcpus: number;
  /** Kicks and interrupt lines of the pool's vCPUs, from this thread (the same object as a vCPU's `ctx.signals` and DeviceThread's). */
  readonly signals: VcpuSignals;
  readonly #opts: FilledOptions;
  readonly #piscina: Piscina;
  #jobs: Piscina | null = null;
  readonly #control: SharedArrayBuffer;
  readonly #runtime: SharedRuntime;
  readonly #mmio: MmioExitServer;
  readonly #records: ControlRecord[];
  #run: Run | null = null;
  #closed = false;

  /**
   * Starts `vcpus` worker threads (idle until `start()`). Throws TypeError/RangeError for bad
   * options (vcpus < 1, more vCPUs than maxThreads, …) and Error ERR_MODULE_NOT_FOUND if the
   * module file does not exist.
   * @example const pool = new VcpuPool({ memory, vcpus: 4, module: new URL('./vcpu.js', import.meta.url) });
   */
  constructor(options: VcpuPoolOptions) {
    super();
    const o = fillOptions(options);
    this.#opts = o;
    this.vcpus = o.vcpus;
    this.#control = createControl(o.vcpus);
    this.#runtime = {
      vcpus: o.vcpus,
      control: this.#control,
      stateBlocks: Array.from({ length: o.vcpus }, () => new SharedArrayBuffer(o.stateBytes)),
      mmio: createMmioExits(o.vcpus),
    };
    this.#mmio = new MmioExitServer(this.#runtime.mmio, o.vcpus);
    this.signals = new VcpuSignals(this.#control, o.vcpus);
    this.#records = Array.from({ length: o.vcpus }, (_, id) => this.signals.record(id));
    this.#piscina = new Piscina({
      filename: workerEntry(),
      minThreads: o.maxThreads,
      maxThreads: o.maxThreads,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1,
      // The vCPU threads need their event loops between and during tasks (comlink, waitAsync);
      // piscina's 'sync' atomics mode would block them on Atomics.wait between tasks.
      atomics: 'disabled',
      execArgv: o.execArgv,
    });
    o.signal?.addEventListener('abort', () => this.#run?.aborts.forEach((a) => a.abort()), { once: true });
  }

  /** True between `start()` and the end of `stop()`. */
  get running(): boolean {
    return this.#run !== null;
  }

  /** The run state of vCPU `id`: 'idle', 'starting', 'running', 'parked', 'done' or 'failed'. */
  state(id: number): VcpuState {
    return STATE_NAMES[this.#record(id).state()] ?? 'idle';
  }

  /**
   * Starts every vCPU (`ctx.arg` is `arg`) and resolves once each has entered its function.
   * Rejects with a VcpuError (ERR_VCPU_MODULE, …) if a vCPU cannot start; the others are then
   * stopped. Throws Error ERR_VCPU_POOL_RUNNING / ERR_VCPU_POOL_CLOSED.
   * @example await pool.start({ entry: 0x1000 });
   */
  async start(arg?: unknown): Promise<void> {
    if (this.#closed) throw poolError('ERR_VCPU_POOL_CLOSED', 'start() after close()');
    if (this.#run !== null) throw poolError('ERR_VCPU_POOL_RUNNING', 'start() while running; stop() first');
    if (this.#opts.signal?.aborted) throw poolError('ERR_VCPU_ABORTED', 'the pool signal is aborted');
    resetControl(this.#control);
    const memory = this.#opts.memory.share();
    const run: Run = { outcomes: [], gone: [], goneReject: [], settled: [], ports: [], aborts: [], remotes: [] };
    for (let id = 0; id < this.vcpus; id++) {
      const { port1, port2 } = new MessageChannel();
      const abort = new AbortController();
      const task: VcpuTask = {
        task: 'vcpu',
        id,
        module: this.#opts.module,
        arg,
        memory,
        runtime: this.#runtime,
        rpc: port2,
      };
      let goneReject!: (e: Error) => void;
      const gone = new Promise<never>((_, reject) => (goneReject = reject));
      gone.catch(() => undefined);
      run.gone.push(gone);
      run.goneReject.push(goneReject);
      run.ports.push(port1);
      run.aborts.push(abort);
      run.remotes.push(undefined);
      run.settled.push(false);
      run.outcomes.push(
        this.#piscina
          .run(task, { transferList: [port2], signal: abort.signal })
          .then(
            (r: TaskResult): Outcome => {
              if (r.ok) return r;
              const cause = fromWire(r.error);
              const code = r.phase === 'load' ? 'ERR_VCPU_MODULE' : 'ERR_VCPU_FAILED';
              return { ok: false, error: new VcpuError(id, code, cause.message, cause) };
            },
            (e: unknown): Outcome => {
              const aborted = isAbort(e);
              const msg = aborted ? 'its thread was killed' : `its thread died: ${String((e as Error)?.message ?? e)}`;
              this.#records[id]!.threadDied();
              return {
                ok: false,
                error: new VcpuError(id, aborted ? 'ERR_VCPU_ABORTED' : 'ERR_VCPU_TERMINATED', msg, e),
              };
            },
          )
          .then((o) => {
            run.settled[id] = true;
            run.goneReject[id]!(poolError('ERR_VCPU_GONE', `vCPU ${id} has ${o.ok ? 'returned' : 'failed'}`));
            if (o.ok) this.emit('exit', id, o.value);
            else if (this.listenerCount('error') > 0) this.emit('error', o.error, id);
            return o;
          }),
      );
    }
    this.#run = run;
    if (this.#opts.signal?.aborted) run.aborts.forEach((a) => a.abort());
    // Started = every vCPU past STARTING (running, or already parked/done/failed).
    for (let id = 0; id < this.vcpus; id++) {
      await this.#waitFor(id, (s) => s >= RunState.RUNNING, Infinity);
    }
    if (this.#closed || this.#run !== run) throw poolError('ERR_VCPU_POOL_CLOSED', 'close() interrupted start()');
    const failed = await this.#firstLoadFailure(run);
    if (failed !== null) {
      await this.stop().catch(() => undefined);
      throw failed;
    }
  }

  async #firstLoadFailure(run: Run): Promise<VcpuError | null> {
    for (let id = 0; id < this.vcpus; id++) {
      if (this.#records[id]!.state() !== RunState.FAILED) continue;
      const o = await run.outcomes[id]!;
      if (!o.ok && o.error.code === 'ERR_VCPU_MODULE') return o.error;
    }
    return null;
  }

  /**
   * Asks every vCPU to park at its next checkpoint and resolves when all are parked (or have
   * returned). Rejects with Error ERR_VCPU_PAUSE_TIMEOUT after `timeoutMs` (default 10 s) if a
   * vCPU never reaches a checkpoint; the pause request stays set until `resume()`.
   * @example await pool.pause(); inspect(memory); pool.resume();
   */
  async pause(timeoutMs?: number): Promise<void> {
    const timeout = timeoutMs === undefined ? 10_000 : checkTimeout('timeoutMs', timeoutMs);
    this.#requireRun('pause');
    for (const r of this.#records) {
      r.requestPause(true);
      // resumed but not yet awake: still in its parked loop, so parked again at once
      r.reparkResuming();
    }
    const deadline = now() + timeout;
    const stopped = (s: number): boolean => s === RunState.PARKED || s === RunState.DONE || s === RunState.FAILED;
    for (let id = 0; id < this.vcpus; id++) {
      const ok = await this.#waitFor(id, stopped, deadline);
      if (!ok) throw poolError('ERR_VCPU_PAUSE_TIMEOUT', `vCPU ${id} did not reach a checkpoint in ${timeout} ms`);
    }
  }

  /**
   * Lets parked vCPUs run again. Every vCPU that was parked reads 'running' in `state()` as soon
   * as this returns (the pool moves the state; the vCPU's thread wakes a moment later).
   */
  resume(): void {
    this.#requireRun('resume');
    for (const r of this.#records) {
      r.requestPause(false);
      r.resumeParked();
    }
  }

  /** Rings vCPU `id`'s doorbell: wakes it from `waitForInterrupt` ('kick'). Short for `signals.kick`. */
  kick(id: number): void {
    this.signals.kick(id);
  }

  /** Sets edge interrupt `line` (0-31) pending on vCPU `id` and wakes it ('irq'). Short for `signals.raiseIrq`. */
  raiseIrq(id: number, line: number): void {
    this.signals.raiseIrq(id, line);
  }

  /** Drives level-triggered `line` (0-31) of vCPU `id` high (waking it: 'irq') or low. Short for `signals.setIrqLevel`. */
  setIrqLevel(id: number, line: number, high: boolean): void {
    this.signals.setIrqLevel(id, line, high);
  }

  /** The level-triggered lines of vCPU `id` that are high (bit n = line n). Short for `signals.irqLevels`. */
  irqLevels(id: number): number {
    return this.signals.irqLevels(id);
  }

  /**
   * Serves the vCPUs' MMIO exits on this (the main) thread until `options.signal` aborts: each
   * exit calls `handler` (or dispatches to the DeviceBus given) with the absolute guest
   * address; async handlers (disk I/O) hold only their own vCPU. The vCPU resumes once the
   * handler returns: reads and writes are both acknowledged.
   * @example const stop = new AbortController(); void pool.serveMmio(devices, { signal: stop.signal });
   */
  serveMmio(handler: MmioHandler | MmioBus, options?: ServeOptions): Promise<void> {
    return this.#mmio.serve(handler, options);
  }

  /**
   * The pool's device side for another thread (an I/O worker): post it and rebuild it there
   * with `DeviceThread.fromShared`, to serve exits with the lowest latency and raise
   * interrupts from the device thread.
   */
  deviceChannel(): SharedDeviceChannel {
    return { descriptor: 'guestmem.DeviceChannel', runtime: this.#runtime, memory: this.#opts.memory.share() };
  }

  /**
   * vCPU `id`'s state block: `stateBytes` bytes (option, default 4096) of shared memory that
   * its module reaches as `ctx.stateBlock`, for registers and other state the main thread reads
   * while the vCPU is paused (no RPC). The same buffer for every run of the pool.
   */
  stateBlock(id: number): SharedArrayBuffer {
    this.#record(id);
    return this.#runtime.stateBlocks[id]!;
  }

  /**
   * The comlink proxy of what vCPU `id` passed to `ctx.expose()`. Calls are answered at the
   * vCPU's checkpoints or while it is parked; a call made before `expose()` waits for it.
   * Without a type argument it is a record of functions (each returning a promise of unknown).
   * @typeParam T - the type of the object the vCPU exposed
   * @example const regs = await pool.remote<{ regs(): Regs }>(0).regs();
   */
  remote<T = Record<string, (...args: unknown[]) => unknown>>(id: number): Remote<T> {
    const r = this.#record(id);
    const run = this.#requireRun('remote');
    let proxy = run.remotes[id];
    if (proxy === undefined) {
      const inner = wrap<unknown>(countingEndpoint(run.ports[id]!, () => r.countRpcSent()));
      proxy = guarded(inner, run.gone[id]!, true) as Remote<unknown>;
      run.remotes[id] = proxy;
    }
    return proxy as Remote<T>;
  }

  /**
   * Waits for vCPU `id` (or, without an id, every vCPU) to return on its own, without asking it
   * to stop: resolves to its result (or the results in id order), rejects with its VcpuError.
   * `join()` of every vCPU ends the run, as `stop()` does; `join(id)` leaves it open. Each vCPU
   * that returns also emits `'exit'` (id, result).
   * @example const [result] = await pool.join();
   */
  async join(id?: number): Promise<unknown> {
    const run = this.#requireRun('join');
    if (id !== undefined) {
      this.#record(id);
      const o = await run.outcomes[id]!;
      if (!o.ok) throw o.error;
      return o.value;
    }
    const outcomes = await Promise.all(run.outcomes);
    this.#endRun(run);
    const failed = outcomes.find((o) => !o.ok);
    if (failed !== undefined && !failed.ok) throw failed.error;
    return outcomes.map((o) => (o.ok ? o.value : undefined));
  }

  /** Kills vCPU `id`'s thread (for a vCPU stuck outside its checkpoints); stop() reports ERR_VCPU_ABORTED. */
  kill(id: number): void {
    this.#record(id);
    this.#requireRun('kill').aborts[id]!.abort();
  }

  /**
   * Asks every vCPU to stop (`ctx.shouldStop()` becomes true, parked and waiting vCPUs wake) and
   * resolves to their results in id order. Rejects with the first failed vCPU's VcpuError once
   * all have finished. Resolves to [] if the pool is not running.
   */
  async stop(): Promise<unknown[]> {
    const run = this.#run;
    if (run === null) return [];
    for (const r of this.#records) r.requestStop();
    const outcomes = await Promise.all(run.outcomes);
    this.#endRun(run);
    const failed = outcomes.find((o) => !o.ok);
    if (failed !== undefined && !failed.ok) throw failed.error;
    return outcomes.map((o) => (o.ok ? o.value : undefined));
  }

  /**
   * Runs `module`'s default export `(ctx, arg)` once on a job thread, where `ctx.memory` is the
   * pool's memory (shared, no copy): for parallel checksums, page scans, image loading. Resolves
   * to its result; rejects with its error (code and kind kept).
   * @example const sum = await pool.run(new URL('./checksum.js', import.meta.url), { from: 0, len: 1 << 20 });
   */
  async run(module: string | URL, arg?: unknown, options?: { signal?: AbortSignal }): Promise<unknown> {
    if (this.#closed) throw poolError('ERR_VCPU_POOL_CLOSED', 'run() after close()');
    const url = resolveModule('module', module);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw typeError('options.signal', 'an AbortSignal', signal);
    this.#jobs ??= new Piscina({
      filename: workerEntry(),
      minThreads: 0,
      maxThreads: this.#opts.jobThreads,
      idleTimeout: 5000,
      atomics: 'disabled',
      execArgv: this.#opts.execArgv,
    });
    const task: JobTask = { task: 'job', module: url, arg, memory: this.#opts.memory.share() };
    const r = (await this.#jobs.run(task, signal ? { signal } : {})) as TaskResult;
    if (r.ok) return r.value;
    throw fromWire(r.error);
  }

  /**
   * Stops the vCPUs (killing those that do not return within closeTimeoutMs), then ends every
   * thread of the pool. Always releases the threads; idempotent. Does not throw for failed vCPUs.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const run = this.#run;
    if (run !== null) {
      for (const r of this.#records) r.requestStop();
      const all = Promise.all(run.outcomes);
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((res) => (timer = setTimeout(() => res(true), this.#opts.closeTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (late) run.aborts.forEach((a) => a.abort());
      await all;
      this.#endRun(run);
    }
    await Promise.all([this.#piscina.destroy(), this.#jobs?.destroy()]);
  }

  /** `await using pool = new VcpuPool(…)`: closes the pool (as `close()`) when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #endRun(run: Run): void {
    for (const reject of run.goneReject) reject(poolError('ERR_VCPU_GONE', 'the run has ended'));
    for (const p of run.ports) p.close();
    if (this.#run === run) this.#run = null;
  }

  #record(id: number): ControlRecord {
    return this.signals.record(id);
  }

  #requireRun(what: string): Run {
    if (this.#run === null) throw poolError('ERR_VCPU_POOL_NOT_RUNNING', `${what}() while not running`);
    return this.#run;
  }

  /** Waits (without blocking the event loop) until `pred(state)` or the vCPU's task settled. */
  async #waitFor(id: number, pred: (s: number) => boolean, deadline: number): Promise<boolean> {
    const r = this.#records[id]!;
    for (;;) {
      const s = r.state();
      if (pred(s) || this.#run?.settled[id] === true || this.#closed) return true;
      const left = deadline - now();
      if (left <= 0) return false;
      await r.waitStateChange(s, Math.min(left, POLL_MS));
    }
  }
}

/**
 * A comlink proxy whose calls (and awaited property reads) also reject once `gone` rejects, so
 * a call to a vCPU that returned, failed or was stopped settles with ERR_VCPU_GONE instead of
 * waiting forever.
 */
function guarded(target: unknown, gone: Promise<never>, root: boolean): unknown {
  const t = target as Record<PropertyKey, unknown> & ((...a: unknown[]) => unknown);
  return new Proxy(function () {}, {
    get(_, prop) {
      if (prop === 'then') {
        if (root) return undefined;
        return (res: (v: unknown) => void, rej: (e: unknown) => void) =>
          Promise.race([Promise.resolve(t), gone]).then(res, rej);
      }
      return guarded(t[prop], gone, false);
    },
    apply(_, thisArg, args: unknown[]) {
      return Promise.race([Reflect.apply(t, thisArg, args) as Promise<unknown>, gone]);
    },
  });
}
