import { rangeError, typeError } from '../internal/args.js';
import { now } from '../clock.js';

/** A guest timebase as plain data: its frequency and the counter's value when it was taken. */
export interface GuestTimebaseState {
  /** Counter ticks per second. */
  readonly frequency: number;
  /** The counter's value when the state was taken. */
  readonly ticks: number;
}

/**
 * A guest's free-running counter (RISC-V mtime, the Arm generic timer, an HPET main counter) on
 * the runtime clock: `ticks()` is its value now, and `deadline(compare)` turns a compare value in
 * guest ticks into the `monotonicNow()` time for `ctx.waitUntil`, the same in every thread. The
 * counter starts at 0 (or where a saved state left it) and never runs backwards; compare values
 * at or past 2^53 ticks (2^64-1 and friends: "never") are an Infinity deadline.
 * @example const tb = new GuestTimebase({ frequency: 10_000_000 }); ctx.waitUntil(tb.deadline(mtimecmp));
 */
export class GuestTimebase {
  /** Counter ticks per second. */
  readonly frequency: number;
  /** monotonicNow() at which the counter read 0. */
  readonly epoch: number;
  readonly #perMs: number;

  /**
   * A counter at `options.frequency` ticks a second, reading 0 now; or, with `state` (what
   * {@link GuestTimebase.state} gave, in this or another thread or process), reading on from
   * where that state was taken. Pass `epoch` to share one counter between threads.
   */
  constructor(options: { readonly frequency: number; readonly epoch?: number }, state?: GuestTimebaseState) {
    if (options === null || typeof options !== 'object') throw typeError('options', '{ frequency }', options);
    const f = state?.frequency ?? options.frequency;
    if (typeof f !== 'number' || !Number.isFinite(f) || f <= 0 || f > 1e12)
      throw rangeError('frequency', 'a positive number of ticks per second, at most 10^12', f);
    this.frequency = f;
    this.#perMs = f / 1000;
    if (state !== undefined) {
      if (!Number.isSafeInteger(state.ticks) || state.ticks < 0)
        throw rangeError('state.ticks', 'a tick count', state.ticks);
      this.epoch = now() - state.ticks / this.#perMs;
    } else {
      const e = options.epoch ?? now();
      if (typeof e !== 'number' || !Number.isFinite(e)) throw rangeError('options.epoch', 'a monotonicNow() time', e);
      this.epoch = e;
    }
  }

  /** The counter's value at monotonicNow() time `at` (default: now); 0 before the epoch. */
  ticks(at = now()): number {
    const t = Math.floor((at - this.epoch) * this.#perMs);
    return t > 0 ? t : 0;
  }

  /**
   * The monotonicNow() time at which the counter reaches `compare` (a number or a u64 bigint):
   * in the past if it already has, Infinity if it never will (at or past 2^53 ticks).
   */
  deadline(compare: number | bigint): number {
    const c = typeof compare === 'bigint' ? (compare >= 2n ** 53n ? Infinity : Number(compare)) : compare;
    if (typeof c !== 'number' || Number.isNaN(c) || c < 0)
      throw rangeError('compare', 'a tick count (0 to 2^64-1)', compare);
    if (c >= 2 ** 53) return Infinity;
    return this.epoch + c / this.#perMs;
  }

  /** The frequency and the counter's value now, as plain data to save with the machine. */
  get state(): GuestTimebaseState {
    return { frequency: this.frequency, ticks: this.ticks() };
  }
}
