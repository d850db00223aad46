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
import { VcpuSignals } from './vcpu-signals.js';
import { ControlRecord, RunState } from './control.js';
import { countingEndpoint } from './endpoint.js';
import { now } from '../clock.js';
import { VcpuPoolError } from './vcpu-error.js';
import { MmioExitPort } from './mmio-exit.js';
import type { SharedRuntime } from './protocol.js';

/**
 * Why `waitForInterrupt` returned. The union only grows (a later release may add reasons such
 * as 'timer' or 'mmio'); handle the ones you know and treat any other as "look again".
 */
export type WakeReason = (typeof WAKE_REASONS)[number];

/** Every WakeReason, in the order `waitForInterrupt` checks them. */
export const WAKE_REASONS = ['stop', 'irq', 'attention', 'kick', 'timeout', 'timer'] as const;

/** How many event-loop turns a checkpoint gives pending RPCs before it returns to the guest. */
const RPC_TURNS = 64;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** @internal What the worker entry hands VcpuContext: the task's pieces, already opened. */
export interface VcpuContextInit {
  readonly id: number;
  readonly arg: unknown;
  readonly memory: GuestMemoryMmap;
  readonly atomic: GuestMemoryAtomic | null;
  readonly runtime: SharedRuntime;
  readonly rpc: MessagePort;
}

/** What a vCPU function gets as `ctx`: its id, the guest memory, the pool's control words (stop, pause, interrupts, kicks), timers, its state block, its MMIO exit port and RPC exposure. Built by the worker; user code never constructs one. */
export class VcpuContext {
  /** This vCPU's index, 0-based. */
  readonly id: number;
  /** Number of vCPUs in the pool. */
  readonly vcpus: number;
  /** The argument given to `pool.start(arg)` (structured-cloned; SharedArrayBuffers in it are shared). */
  readonly arg: unknown;
  /** The hot-pluggable memory, when the pool was given a GuestMemoryAtomic; else null. */
  readonly atomic: GuestMemoryAtomic | null;
  /**
   * This vCPU's state block (shared with the main thread's `pool.stateBlock(id)`): keep
   * registers here to make them readable while paused without an RPC.
   */
  readonly stateBlock: SharedArrayBuffer;
  /**
   * This vCPU's MMIO exit port: `bus.registerExit(base, size, ctx.mmio)` sends a device's
   * accesses to the pool's device thread (`pool.serveMmio` or an I/O worker's DeviceThread).
   */
  readonly mmio: MmioExitPort;
  /** Kicks and interrupt lines of every vCPU of the pool, this one included (ids are `peer`s). */
  readonly signals: VcpuSignals;
  readonly #fixed: GuestMemoryMmap;
  readonly #ctl: ControlRecord;
  readonly #rpc: MessagePort;
  readonly #parkHooks: (() => void)[] = [];
  #seen: number;
  /** KICKS as of the last wake that reported it, so a kick is never lost, whenever it comes. */
  #kicks: number;
  #exposed = false;

  /** @internal Built by the worker entry from a checked task (protocol.ts). */
  constructor(init: VcpuContextInit) {
    this.id = init.id;
    this.vcpus = init.runtime.vcpus;
    this.arg = init.arg;
    this.#fixed = init.memory;
    this.atomic = init.atomic;
    const control = init.runtime.control;
    this.signals = new VcpuSignals(control, this.vcpus, 'peer');
    this.#ctl = this.signals.record(init.id);
    this.#seen = this.#ctl.attention();
    this.#kicks = this.#ctl.kicks();
    this.#rpc = init.rpc;
    this.stateBlock = init.runtime.stateBlocks[init.id]!;
    const ctl = this.#ctl;
    this.mmio = new MmioExitPort(init.runtime.mmio, init.id, () => ctl.stopRequested());
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
    return this.#ctl.stopRequested();
  }

  /**
   * A safe point: returns undefined at once when nothing is pending (one atomic load); when a
   * request is pending, returns a promise that serves RPCs and, while the pool is paused, parks
   * (the thread sleeps, RPCs are still served) until resumed or stopped. `await` it either way.
   * @example if (ctx.shouldStop()) break; await ctx.checkpoint();
   */
  checkpoint(): Promise<void> | undefined {
    if (this.#ctl.attention() === this.#seen) return undefined;
    return this.#attend();
  }

  async #attend(): Promise<void> {
    const c = this.#ctl;
    // ATTENTION is always read before the requests it stands for: a request made after the
    // read rings again, so the next checkpoint (or the wait below) sees it.
    let seen = c.attention();
    await this.#serveRpc();
    // Parked: sleep on ATTENTION without blocking the event loop, so RPCs keep being served.
    // Compare-exchanges, not stores: resume() moves PARKED to RESUMING itself (state() reads
    // 'running' as soon as resume() returns), and a pause() that comes before this thread left
    // the loop moves RESUMING back to PARKED (the pause request is set first). This thread
    // moves only RESUMING or PARKED to RUNNING (leaving) and RUNNING to PARKED (arriving).
    for (;;) {
      seen = c.attention();
      const stop = c.stopRequested();
      if (stop) {
        c.unpark();
        break;
      }
      if (!c.pauseRequested()) {
        // Leave only through resume()'s RESUMING (or if this thread never parked): PARKED with
        // no request means resume() cleared the request and is about to move the state, or a
        // pause() took RESUMING back after the check above (its request is then set again).
        if (c.unparkResumed()) break;
        const s = c.state();
        if (s !== RunState.PARKED) break; // RUNNING: reached with nothing to park for
        await c.waitStateChange(RunState.PARKED, 1);
        continue;
      }
      // RUNNING only: RESUMING → PARKED is pause()'s move, never this thread's (a resume() that
      // came after the check above would otherwise be undone). The park hooks run first, so
      // what they publish (dirty pages) is there once pause() sees every vCPU parked.
      if (c.state() === RunState.RUNNING) for (const fn of this.#parkHooks) fn();
      c.park();
      await c.waitAttention(seen, 1000);
      await this.#serveRpc();
    }
    // An RPC still on its way after RPC_TURNS turns (a loaded machine delivers slowly) must not
    // be taken as served: leave `seen` one behind, so the next checkpoint gives it more turns.
    this.#seen = c.rpcPending() ? (seen - 1) | 0 : seen;
  }

  /**
   * Runs `fn` in this thread each time the vCPU is about to park for a pause, before the pool
   * sees it parked: where a vCPU publishes what only it knows, e.g. the dirty pages of its write
   * translations (`ctx.onPark(() => tc.publishDirty())`) before a snapshot's final collection.
   * Returns a function that removes it.
   */
  onPark(fn: () => void): () => void {
    if (typeof fn !== 'function') throw typeError('fn', 'a function', fn);
    this.#parkHooks.push(fn);
    return () => {
      const i = this.#parkHooks.indexOf(fn);
      if (i >= 0) this.#parkHooks.splice(i, 1);
    };
  }

  async #serveRpc(): Promise<void> {
    if (!this.#exposed) return;
    const c = this.#ctl;
    for (let i = 0; i < RPC_TURNS && c.rpcPending(); i++) await nextTurn();
  }

  /**
   * Sleeps (Atomics.wait: the thread blocks, RPCs wait) until an interrupt is pending (an edge
   * line raised or a level line high), the vCPU is kicked, a stop/pause/RPC request arrives
   * ('attention': call checkpoint), or `timeoutMs` passes (default: forever; fractions of a
   * millisecond count). Returns at once if any of those is already pending; a kick made while
   * the vCPU was busy is reported by its next call, once ('kick').
   * @example if (ctx.waitForInterrupt(10) === 'irq') handle(ctx.takeInterrupts());
   */
  waitForInterrupt(timeoutMs?: number): WakeReason {
    const timeout = checkTimeout('timeoutMs', timeoutMs);
    return this.#sleep(timeout === Infinity ? Infinity : now() + timeout, 'timeout');
  }

  /**
   * Sleeps like {@link waitForInterrupt} until the process-wide monotonic time `deadline`
   * (milliseconds of `monotonicNow()`, fractions count) and returns 'timer' once it has passed:
   * the wake-up for a guest timer's compare value, with no polling. An interrupt, kick, stop or
   * attention that comes first ends the sleep early with its own reason. A deadline already
   * past returns 'timer' at once (unless something else is pending). Infinity sleeps until one
   * of those comes.
   * @example const why = ctx.waitUntil(monotonicNow() + 0.25); // a 250 µs guest timer
   */
  waitUntil(deadline: number): WakeReason {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) throw typeError('deadline', 'a number', deadline);
    return this.#sleep(deadline, 'timer');
  }

  /** The one sleep: until something is pending (its reason) or `deadline` passes (`expired`). */
  #sleep(deadline: number, expired: WakeReason): WakeReason {
    const c = this.#ctl;
    for (;;) {
      const doorbell = c.doorbell(); // read before the checks: see control.ts
      const pending = this.#pendingReason();
      if (pending !== null) return pending;
      const left = deadline - now();
      if (left <= 0) return expired;
      // DOORBELL also moves for requests already handled (a pause that came and went): such a
      // wake finds nothing pending and sleeps again for the rest of the time.
      c.sleepOnDoorbell(doorbell, left);
    }
  }

  #pendingReason(): WakeReason | null {
    const c = this.#ctl;
    if (c.stopRequested()) return 'stop';
    if (c.pendingIrqs() !== 0 || c.levels() !== 0) return 'irq';
    if (c.attention() !== this.#seen) return 'attention';
    const kicks = c.kicks();
    if (kicks !== this.#kicks) {
      this.#kicks = kicks;
      return 'kick';
    }
    return null;
  }

  /** The pending edge interrupt lines (bit n = line n), without clearing them. */
  pendingInterrupts(): number {
    return this.#ctl.pendingIrqs();
  }

  /** Takes and clears the pending edge interrupt lines atomically (bit n = line n). */
  takeInterrupts(): number {
    return this.#ctl.takeIrqs();
  }

  /** The level of this vCPU's level-triggered lines (bit n = line n high). One atomic load. */
  irqLevels(): number {
    return this.#ctl.levels();
  }

  /** Wakes vCPU `peer` from `waitForInterrupt` ('kick'); `peer` may be this vCPU. Short for `signals.kick`. */
  kick(peer: number): void {
    this.signals.kick(peer);
  }

  /** Sets edge interrupt `line` (0-31) pending on vCPU `peer` and wakes it ('irq'). Short for `signals.raiseIrq`. */
  raiseIrq(peer: number, line: number): void {
    this.signals.raiseIrq(peer, line);
  }

  /** Drives level-triggered `line` (0-31) of vCPU `peer` high (waking it) or low. Short for `signals.setIrqLevel`. */
  setIrqLevel(peer: number, line: number, high: boolean): void {
    this.signals.setIrqLevel(peer, line, high);
  }

  /**
   * Makes `api` callable from the main thread through comlink (`pool.remote(id)`). Calls are
   * served at checkpoints and while parked, never inside the guest loop. Once per vCPU.
   * @example ctx.expose({ regs: () => ({ pc }) });
   */
  expose(api: object): void {
    if (api === null || (typeof api !== 'object' && typeof api !== 'function'))
      throw typeError('api', 'an object', api);
    if (this.#exposed) throw new VcpuPoolError('ERR_VCPU_EXPOSED', `vCPU ${this.id}: expose() was already called`);
    this.#exposed = true;
    const c = this.#ctl;
    expose(
      api,
      countingEndpoint(this.#rpc, () => c.countRpcDone()),
    );
  }
}
