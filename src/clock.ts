/**
 * The runtime's clock: monotonic milliseconds (with sub-millisecond fractions), on one time base
 * shared by every thread of the process, so a deadline computed in one thread (a guest timer's
 * compare value turned into a wake-up time) means the same instant in another.
 *
 * `performance.now()` is cheap but counts from each thread's own start; CLOCK_MONOTONIC
 * (`process.hrtime`) is process-wide but allocates. Each thread measures the offset between the
 * two once, when this module loads, and `now()` is `performance.now()` plus that offset. Neither
 * clock follows the wall clock, so a clock step (NTP, a user changing the date) cannot stretch
 * or cut a wait.
 */
import { performance } from 'node:perf_hooks';

const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/** Monotonic milliseconds on the process-wide time base (fractional; the same in every thread). */
export function now(): number {
  return performance.now() + offset;
}

/**
 * The longest any blocking wait of the library sleeps before it re-checks a condition that no
 * futex wake-up announces: a stop request seen by a vCPU blocked in an MMIO exit, a blocking
 * exit server's stop callback, the pool waiting for a vCPU's state while its thread may have
 * died, the memory-map lock while its holder may have gone. One constant, so every such wait
 * notices within the same bound (and a change to it is one edit).
 */
export const POLL_MS = 50;
