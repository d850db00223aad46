/**
 * The vCPU control block: one SharedArrayBuffer with a 64-byte record (16 Int32 words, one cache
 * line, so vCPUs never false-share) per vCPU. `ControlRecord` is the only code that touches the
 * words: the main thread and peers call its request methods, the vCPU thread its state and
 * consume methods; all of them use Atomics only.
 *
 * Wake-up protocol: every request first sets its flag or bits, then bumps DOORBELL and notifies
 * it, so a vCPU that read DOORBELL before checking the flags can never sleep through a request
 * (`Atomics.wait` returns at once if DOORBELL moved). Requests that need the vCPU to leave its
 * fast loop (stop, pause, resume, RPC) also bump ATTENTION, which `checkpoint()` compares with
 * one load.
 */

import { rangeError } from '../internal/args.js';

/** Field indices within a vCPU's record. */
const STATE = 0; // run state, one of RunState (written by the vCPU thread)
const STOP = 1; // 1 once a stop was requested
const PAUSE = 2; // 1 while a pause is requested
const DOORBELL = 3; // bumped by every request; waitForInterrupt sleeps on it
const IRQ = 4; // pending edge interrupt lines, one bit each (0-31)
const ATTENTION = 5; // bumped by requests that need a checkpoint (stop, pause, resume, RPC)
const RPC_SENT = 6; // RPC messages posted to the vCPU
const RPC_DONE = 7; // RPC messages answered by it
const KICKS = 8; // number of kicks
const LEVEL = 9; // level-triggered interrupt lines, one bit each (0-31)

/** Words per vCPU record (64 bytes). */
export const RECORD_WORDS = 16;

/** Values of the run state. */
export const RunState = {
  IDLE: 0,
  STARTING: 1,
  RUNNING: 2,
  PARKED: 3,
  DONE: 4,
  FAILED: 5,
  /**
   * Resumed by the pool while the vCPU's thread still sleeps in its parked loop: reported as
   * 'running'. A pause() that comes before the thread woke takes it straight back to PARKED
   * (the thread has run no guest code since), so a pause right after a resume does not wait
   * for every thread to wake up first.
   */
  RESUMING: 6,
} as const;

export const STATE_NAMES: readonly VcpuState[] = ['idle', 'starting', 'running', 'parked', 'done', 'failed', 'running'];
/** A vCPU's run state as `pool.state(id)` reports it: 'idle', 'starting', 'running', 'parked' (paused at a checkpoint), 'done' or 'failed'. */
export type VcpuState = 'idle' | 'starting' | 'running' | 'parked' | 'done' | 'failed';

/** One vCPU's record. Every method is a few Atomics on the record's own words. */
export class ControlRecord {
  readonly #w: Int32Array;
  readonly #b: number;

  constructor(buffer: SharedArrayBuffer, id: number) {
    this.#w = new Int32Array(buffer);
    this.#b = id * RECORD_WORDS;
    if (!Number.isInteger(id) || id < 0 || this.#b + RECORD_WORDS > this.#w.length)
      throw rangeError('id', `a record of the control block (0 to ${this.#w.length / RECORD_WORDS - 1})`, id);
  }

  // ---- run state (written by the vCPU thread) ----

  state(): number {
    return Atomics.load(this.#w, this.#b + STATE);
  }

  /** Sets the run state and wakes whoever waits for it. */
  setState(state: number): void {
    Atomics.store(this.#w, this.#b + STATE, state);
    Atomics.notify(this.#w, this.#b + STATE);
  }

  /**
   * Moves the run state from `from` to `to` only if it still is `from` (one compare-exchange),
   * waking whoever waits for it. Returns whether it moved.
   */
  moveState(from: number, to: number): boolean {
    if (Atomics.compareExchange(this.#w, this.#b + STATE, from, to) !== from) return false;
    Atomics.notify(this.#w, this.#b + STATE);
    return true;
  }

  /** Waits without blocking until the state differs from `seen` or `timeoutMs` passes. */
  async waitStateChange(seen: number, timeoutMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.#w, this.#b + STATE, seen, timeoutMs);
    if (r.async) await r.value;
  }

  // ---- requests (main thread or a peer vCPU) ----

  requestStop(): void {
    Atomics.store(this.#w, this.#b + STOP, 1);
    this.#ring(true);
  }

  /** Sets or clears the pause request. */
  requestPause(on: boolean): void {
    Atomics.store(this.#w, this.#b + PAUSE, on ? 1 : 0);
    this.#ring(true);
  }

  /** Counts a kick and wakes the vCPU. */
  kick(): void {
    Atomics.add(this.#w, this.#b + KICKS, 1);
    this.#ring(false);
  }

  /** Sets edge interrupt lines (bits of `mask`) pending and wakes the vCPU. */
  raiseIrq(mask: number): void {
    Atomics.or(this.#w, this.#b + IRQ, mask);
    this.#ring(false);
  }

  /** Raises (`high`) or lowers level-triggered lines `mask`; a raise wakes the vCPU. */
  setLevel(mask: number, high: boolean): void {
    if (high) {
      Atomics.or(this.#w, this.#b + LEVEL, mask);
      this.#ring(false);
    } else {
      Atomics.and(this.#w, this.#b + LEVEL, ~mask);
    }
  }

  /** Counts an RPC message posted to the vCPU and asks for a checkpoint. */
  countRpcSent(): void {
    Atomics.add(this.#w, this.#b + RPC_SENT, 1);
    this.#ring(true);
  }

  // ---- reads and consumption (the vCPU thread) ----

  stopRequested(): boolean {
    return Atomics.load(this.#w, this.#b + STOP) !== 0;
  }

  pauseRequested(): boolean {
    return Atomics.load(this.#w, this.#b + PAUSE) !== 0;
  }

  attention(): number {
    return Atomics.load(this.#w, this.#b + ATTENTION);
  }

  doorbell(): number {
    return Atomics.load(this.#w, this.#b + DOORBELL);
  }

  kicks(): number {
    return Atomics.load(this.#w, this.#b + KICKS);
  }

  /** Pending edge lines (bit n = line n), not cleared. */
  pendingIrqs(): number {
    return Atomics.load(this.#w, this.#b + IRQ) >>> 0;
  }

  /** Takes and clears the pending edge lines atomically. */
  takeIrqs(): number {
    return Atomics.exchange(this.#w, this.#b + IRQ, 0) >>> 0;
  }

  /** The current level of the level-triggered lines (bit n = line n). */
  levels(): number {
    return Atomics.load(this.#w, this.#b + LEVEL) >>> 0;
  }

  countRpcDone(): void {
    Atomics.add(this.#w, this.#b + RPC_DONE, 1);
  }

  rpcPending(): boolean {
    return Atomics.load(this.#w, this.#b + RPC_DONE) < Atomics.load(this.#w, this.#b + RPC_SENT);
  }

  /** Blocks the thread until DOORBELL differs from `seen` (or `timeoutMs`). */
  sleepOnDoorbell(seen: number, timeoutMs: number): void {
    Atomics.wait(this.#w, this.#b + DOORBELL, seen, timeoutMs);
  }

  /** Waits without blocking the event loop until ATTENTION differs from `seen` (or `timeoutMs`). */
  async waitAttention(seen: number, timeoutMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.#w, this.#b + ATTENTION, seen, timeoutMs);
    if (r.async) await r.value;
  }

  /** Bumps DOORBELL (and ATTENTION if `attention`) and wakes the vCPU; see the protocol above. */
  #ring(attention: boolean): void {
    const w = this.#w;
    if (attention) {
      Atomics.add(w, this.#b + ATTENTION, 1);
      Atomics.notify(w, this.#b + ATTENTION);
    }
    Atomics.add(w, this.#b + DOORBELL, 1);
    Atomics.notify(w, this.#b + DOORBELL);
  }
}

/** A zeroed control buffer for `vcpus` records. */
export function createControl(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * RECORD_WORDS * 4);
}

/** Zeroes every record (before a new run). */
export function resetControl(buffer: SharedArrayBuffer): void {
  new Int32Array(buffer).fill(0);
}
