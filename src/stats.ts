/**
 * Process-wide counters from the addon, for leak checks and monitoring.
 *
 * @example
 * const before = liveMappings();
 * // … create and drop regions, let GC run …
 * liveMappings() === before;
 */
import { native } from './native.js';

/** Mappings created by this process (any thread) and not yet unmapped. */
export function liveMappings(): number {
  return native.liveMappings();
}
