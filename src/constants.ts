/**
 * The platform's mmap protection and flag values (read from <sys/mman.h> by the addon), for
 * `MmapRegion.build` and for comparing with `region.prot` / `region.flags`.
 *
 * @example MmapRegion.build(null, 4096, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS)
 */
import { native } from './native.js';

export interface MmapConstants {
  readonly PROT_NONE: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly PROT_EXEC: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_ANONYMOUS: number;
  readonly MAP_NORESERVE: number;
  readonly MAP_FIXED: number;
  readonly MAP_POPULATE: number;
  readonly MAP_HUGETLB: number;
}

export const constants: MmapConstants = native.constants as unknown as MmapConstants;
