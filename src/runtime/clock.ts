/**
 * The runtime's clock: monotonic milliseconds (with sub-millisecond fractions) since this
 * thread's time origin. Deadlines and timeouts use it, never the wall clock, so a clock step
 * (NTP, a user changing the date) cannot stretch or cut a wait.
 */
import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds, fractional. */
export function now(): number {
  return performance.now();
}
