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
 *
 * Run state: every change is one of the transitions below, each a method of ControlRecord
 * (a store where only one thread can be moving the state, a compare-exchange where two can
 * race), and each wakes whoever waits on STATE. The vCPU thread makes all of them but two:
 *
 *   transition                      by            method
 *   IDLE      -> STARTING           vCPU thread   starting()
 *   STARTING  -> RUNNING            vCPU thread   running()
 *   RUNNING   -> DONE               vCPU thread   done()
 *   STARTING, RUNNING -> FAILED     vCPU thread   failed()  (its module failed to load, or it threw)
 *   any       -> FAILED             main thread   threadDied()  (only once the thread is gone:
 *                                                 killed, or it died without reporting)
 *   RUNNING   -> PARKED             vCPU thread   park()  (at a checkpoint, pause requested)
 *   PARKED, RESUMING -> RUNNING     vCPU thread   unpark()  (leaving its parked loop)
 *   PARKED    -> RESUMING           main thread   resumeParked()  (resume(): reads 'running' at once)
 *   RESUMING  -> PARKED             main thread   reparkResuming()  (a pause() before the thread woke)
 *
 * The two main-thread moves race with the vCPU thread's unpark(), so all three are compare-
 * exchanges: whichever comes first wins, and the loser sees the state it lost to.
 */

import { rangeError } from '../internal/args.js';

/** Field indices within a vCPU's record. */
const STATE = 0; // run state, one of RunState (the transitions in the header)
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

  // ---- run state (the transitions in the header) ----

  state(): number {
    return Atomics.load(this.#w, this.#b + STATE);
  }

  /** The vCPU thread took its task (IDLE -> STARTING). */
  starting(): void {
    this.#set(RunState.STARTING);
  }

  /** The vCPU's module is loaded and its function about to run (STARTING -> RUNNING). */
  running(): void {
    this.#set(RunState.RUNNING);
  }

  /** The vCPU's function returned (RUNNING -> DONE). */
  done(): void {
    this.#set(RunState.DONE);
  }

  /** The vCPU's module failed to load or its function threw (-> FAILED), by its own thread. */
  failed(): void {
    this.#set(RunState.FAILED);
  }

  /** The main thread's mark for a vCPU whose thread is gone without reporting (-> FAILED). */
  threadDied(): void {
    this.#set(RunState.FAILED);
  }

  /** At a checkpoint with a pause requested (RUNNING -> PARKED). Returns whether it moved. */
  park(): boolean {
    return this.#move(RunState.RUNNING, RunState.PARKED);
  }

  /** Leaving the parked loop (RESUMING or PARKED -> RUNNING). Returns whether it moved. */
  unpark(): boolean {
    return this.#move(RunState.RESUMING, RunState.RUNNING) || this.#move(RunState.PARKED, RunState.RUNNING);
  }

  /** Leaving the parked loop only through a resume (RESUMING -> RUNNING). Returns whether it moved. */
  unparkResumed(): boolean {
    return this.#move(RunState.RESUMING, RunState.RUNNING);
  }

  /** resume(): a parked vCPU reads 'running' at once (PARKED -> RESUMING). */
  resumeParked(): boolean {
    return this.#move(RunState.PARKED, RunState.RESUMING);
  }

  /** pause() before a resumed vCPU's thread woke: parked again at once (RESUMING -> PARKED). */
  reparkResuming(): boolean {
    return this.#move(RunState.RESUMING, RunState.PARKED);
  }

  #set(state: number): void {
    Atomics.store(this.#w, this.#b + STATE, state);
    Atomics.notify(this.#w, this.#b + STATE);
  }

  #move(from: number, to: number): boolean {
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
