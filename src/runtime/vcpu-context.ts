/**
 * VcpuContext: what a vCPU module's default export receives, in its worker thread.
 *
 * The fast checks (`shouldStop`, `checkpoint` when nothing is pending) are one Atomics.load each
 * and allocate nothing, so a vCPU can call them every few hundred guest instructions. Anything
 * that needs the event loop (serving comlink RPCs, parking while paused) happens only inside
 * the promise `checkpoint()` returns when a request is pending.
 */
import { expose } from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { GuestMemoryAtomic } from '../guest-memory-atomic.js';
import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkTimeout, typeError } from '../internal/args.js';
import { ControlRecord, Field, RunState } from './control.js';
import { countingEndpoint } from './endpoint.js';

/** Why `waitForInterrupt` returned. */
export type WakeReason = 'irq' | 'kick' | 'stop' | 'attention' | 'timeout';

/** How many event-loop turns a checkpoint gives pending RPCs before it returns to the guest. */
const RPC_TURNS = 64;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VcpuContext {
  /** This vCPU's index, 0-based. */
  readonly id: number;
  /** Number of vCPUs in the pool. */
  readonly vcpus: number;
  /** The argument given to `pool.start(arg)`. */
  readonly arg: unknown;
  /** The hot-pluggable memory, when the pool was given a GuestMemoryAtomic; else null. */
  readonly atomic: GuestMemoryAtomic | null;
  readonly #fixed: GuestMemoryMmap;
  readonly #ctl: ControlRecord;
  readonly #words: Int32Array;
  readonly #attention: number;
  readonly #rpc: MessagePort;
  #seen: number;
  /** KICKS as of the last wake that reported it, so a kick is never lost, whenever it comes. */
  #kicks: number;
  #exposed = false;

  /** @internal */
  constructor(
    id: number,
    vcpus: number,
    arg: unknown,
    memory: GuestMemoryMmap,
    atomic: GuestMemoryAtomic | null,
    control: SharedArrayBuffer,
    rpc: MessagePort,
  ) {
    this.id = id;
    this.vcpus = vcpus;
    this.arg = arg;
    this.#fixed = memory;
    this.atomic = atomic;
    this.#ctl = new ControlRecord(control, id);
    this.#words = this.#ctl.words;
    this.#attention = this.#ctl.base + Field.ATTENTION;
    this.#seen = this.#ctl.load(Field.ATTENTION);
    this.#kicks = this.#ctl.load(Field.KICKS);
    this.#rpc = rpc;
  }

  /**
   * The guest memory, over the pool's shared memory (no copy). With a GuestMemoryAtomic this is
   * its current snapshot (one atomic load per read of this property); keep it in a local in a
   * hot loop and re-read it at checkpoints to pick up hot-plugged regions.
   */
  get memory(): GuestMemoryMmap {
    return this.atomic === null ? this.#fixed : this.atomic.memory();
  }

  /** True once `pool.stop()` (or `close()`) asked this vCPU to return. One atomic load. */
  shouldStop(): boolean {
    return Atomics.load(this.#words, this.#ctl.base + Field.STOP) !== 0;
  }

  /**
   * A safe point: returns undefined at once when nothing is pending (one atomic load); when a
   * request is pending, returns a promise that serves RPCs and, while the pool is paused, parks
   * (the thread sleeps, RPCs are still served) until resumed or stopped. `await` it either way.
   * @example if (ctx.shouldStop()) break; await ctx.checkpoint();
   */
  checkpoint(): Promise<void> | undefined {
    if (Atomics.load(this.#words, this.#attention) === this.#seen) return undefined;
    return this.#attend();
  }

  async #attend(): Promise<void> {
    const c = this.#ctl;
    this.#seen = c.load(Field.ATTENTION);
    await this.#serveRpc();
    if (c.load(Field.PAUSE) === 0 || c.load(Field.STOP) !== 0) return;
    c.setState(RunState.PARKED);
    // Parked: sleep on ATTENTION without blocking the event loop, so RPCs keep being served.
    while (c.load(Field.PAUSE) !== 0 && c.load(Field.STOP) === 0) {
      const seen = c.load(Field.ATTENTION);
      if (c.load(Field.PAUSE) === 0 || c.load(Field.STOP) !== 0) break;
      const w = Atomics.waitAsync(this.#words, this.#attention, seen, 1000);
      if (w.async) await w.value;
      await this.#serveRpc();
    }
    this.#seen = c.load(Field.ATTENTION);
    c.setState(RunState.RUNNING);
  }

  async #serveRpc(): Promise<void> {
    if (!this.#exposed) return;
    const c = this.#ctl;
    for (let i = 0; i < RPC_TURNS && c.load(Field.RPC_DONE) < c.load(Field.RPC_SENT); i++) await nextTurn();
  }

  /**
   * Sleeps (Atomics.wait: the thread blocks, RPCs wait) until an interrupt is raised, the vCPU is
   * kicked, a stop/pause/RPC request arrives ('attention': call checkpoint), or `timeoutMs`
   * passes (default: forever). Returns at once if any of those is already pending; a kick made
   * while the vCPU was busy is reported by its next call, once ('kick').
   * @example if (ctx.waitForInterrupt(10) === 'irq') handle(ctx.takeInterrupts());
   */
  waitForInterrupt(timeoutMs?: number): WakeReason {
    const timeout = checkTimeout('timeoutMs', timeoutMs);
    const c = this.#ctl;
    const deadline = timeout === Infinity ? Infinity : Date.now() + timeout;
    for (;;) {
      const doorbell = c.load(Field.DOORBELL); // read before the checks: see control.ts
      const pending = this.#pendingReason();
      if (pending !== null) return pending;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      // DOORBELL also moves for requests already handled (a pause that came and went): such a
      // wake finds nothing pending and sleeps again for the rest of the timeout.
      Atomics.wait(this.#words, c.base + Field.DOORBELL, doorbell, left);
    }
  }

  #pendingReason(): WakeReason | null {
    const c = this.#ctl;
    if (c.load(Field.STOP) !== 0) return 'stop';
    if (c.load(Field.IRQ) !== 0) return 'irq';
    if (c.load(Field.ATTENTION) !== this.#seen) return 'attention';
    const kicks = c.load(Field.KICKS);
    if (kicks !== this.#kicks) {
      this.#kicks = kicks;
      return 'kick';
    }
    return null;
  }

  /** The pending interrupt lines (bit n = line n), without clearing them. */
  pendingInterrupts(): number {
    return this.#ctl.load(Field.IRQ) >>> 0;
  }

  /** Takes and clears the pending interrupt lines atomically (bit n = line n). */
  takeInterrupts(): number {
    return Atomics.exchange(this.#words, this.#ctl.base + Field.IRQ, 0) >>> 0;
  }

  /**
   * Makes `api` callable from the main thread through comlink (`pool.remote(id)`). Calls are
   * served at checkpoints and while parked, never inside the guest loop. Once per vCPU.
   * @example ctx.expose({ regs: () => ({ pc }) });
   */
  expose(api: object): void {
    if (api === null || (typeof api !== 'object' && typeof api !== 'function'))
      throw typeError('api', 'an object', api);
    if (this.#exposed) throw new Error(`vCPU ${this.id}: expose() was already called`);
    this.#exposed = true;
    const words = this.#words;
    const done = this.#ctl.base + Field.RPC_DONE;
    expose(
      api,
      countingEndpoint(this.#rpc, () => Atomics.add(words, done, 1)),
    );
  }
}
