import { native } from './native.js';

/** mmap protection and flag values of this platform. */
export interface MmapConstants {
  /** No access: every guestmem access is refused with AccessDenied. */
  readonly PROT_NONE: number;
  /** Readable. */
  readonly PROT_READ: number;
  /** Writable. */
  readonly PROT_WRITE: number;
  /** Executable (the host may run code there; guestmem never does). */
  readonly PROT_EXEC: number;
  /** Writes reach the file and other mappings of it. */
  readonly MAP_SHARED: number;
  /** Copy-on-write: writes stay in this mapping. */
  readonly MAP_PRIVATE: number;
  /** Zero-filled memory with no file. */
  readonly MAP_ANONYMOUS: number;
  /** Reserve no swap: pages are committed when first touched. */
  readonly MAP_NORESERVE: number;
  /** Refused by guestmem (MapFixed): it would replace whatever is mapped at the address. */
  readonly MAP_FIXED: number;
  /** Refused by guestmem (MapFixed), like MAP_FIXED. */
  readonly MAP_FIXED_NOREPLACE: number;
  /** Fault every page in at mmap time. */
  readonly MAP_POPULATE: number;
  /** Back the mapping with huge pages (needs them configured on the host). */
  readonly MAP_HUGETLB: number;
  /** The bits that pick a huge page size with MAP_HUGETLB (MAP_HUGE_2MB, MAP_HUGE_1GB: log2(size) << 26). */
  readonly MAP_HUGE_MASK: number;
}

/**
 * The platform's mmap protection and flag values (read from <sys/mman.h> by the addon), for
 * `MmapRegion.build` and for comparing with `region.prot` / `region.flags`.
 *
 * @example MmapRegion.build(null, 4096, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS)
 */
export const constants: MmapConstants = native.constants as unknown as MmapConstants;
