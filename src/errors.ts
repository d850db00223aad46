/** Every `kind` a {@link GuestMemoryError} can have (vm-memory's variant names). */
export const GUEST_MEMORY_ERROR_KINDS = [
  /** A file offset plus mapping size past 2^64-1. */
  'InvalidOffsetLength',
  /** MAP_FIXED or MAP_FIXED_NOREPLACE asked for: guestmem never maps over existing memory. */
  'MapFixed',
  /** Kept from vm-memory for completeness: guestmem never maps over existing memory, so it does not throw it. */
  'MappingOverlap',
  /** A file mapping reaches past the end of its file (the message gives both offsets). */
  'MappingPastEof',
  /** mmap(2) failed (`errno`, `syscall`). */
  'Mmap',
  /** A memory map with no regions. */
  'NoMemoryRegion',
  /** Two regions of one map overlap. */
  'MemoryRegionOverlap',
  /** Regions given out of address order. */
  'UnsortedMemoryRegions',
  /** A region that cannot be placed: size 0, ending past 2^53, or a malformed range (the message says which). */
  'InvalidGuestRegion',
  /** A guest address in no region (`addr`). */
  'InvalidGuestAddress',
  /** An all-or-error copy stopped early (`expected`, `completed`). */
  'PartialBuffer',
  /** A region offset outside the region (`addr`). */
  'InvalidBackendAddress',
  /** A file-descriptor transfer failed (`errno`, `syscall`, `completed`). */
  'IOError',
  /** An access past the end of a slice or mapping (`addr`: the end it needed). */
  'OutOfBounds',
  /** An address computation past 2^53-1 (`base`, `offset`). */
  'Overflow',
  /** An array ref whose byte length exceeds 2^53-1 (`nelements`, `size`). */
  'TooBig',
  /** An atomic access (or a register access under the fault policy) at an address not a multiple of its size (`addr`, `alignment`). */
  'Misaligned',
  /** An access the mapping protection refuses: a write to a read-only mapping, any access to PROT_NONE (`addr`, `access`). */
  'AccessDenied',
] as const;

/** The vm-memory variant a GuestMemoryError stands for; its `code` is `ERR_GUESTMEM_` + the kind in SCREAMING_SNAKE_CASE. */
export type GuestMemoryErrorKind = (typeof GUEST_MEMORY_ERROR_KINDS)[number];

/** Structured fields; which ones are set depends on `kind` (see the contract's table). */
export interface GuestMemoryErrorFields {
  /** Guest address, region offset or slice offset the failure is about. */
  addr?: number;
  /** Bytes the operation had to move (PartialBuffer). */
  expected?: number;
  /** Bytes it moved before it stopped (PartialBuffer, IOError of the all-or-error fd methods). */
  completed?: number;
  /** Base address of the offending range (Overflow, InvalidOffsetLength, TooBig). */
  base?: number;
  /** Offset added to `base` (Overflow, InvalidOffsetLength). */
  offset?: number;
  /** Element count of an array ref that is too big (TooBig). */
  nelements?: number;
  /** Element or region size (TooBig, MappingPastEof, InvalidGuestRegion). */
  size?: number;
  /** Required alignment in bytes (Misaligned). */
  alignment?: number;
  /** What was refused (AccessDenied). */
  access?: 'read' | 'write';
  /** The errno of a failed system call (Mmap, IOError). */
  errno?: number;
  /** The failed system call (Mmap, IOError), e.g. `mmap`, `pread`. */
  syscall?: string;
  /** The underlying error, when there is one. */
  cause?: unknown;
}

function screamingSnake(kind: string): string {
  return kind
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

/**
 * The error every failing memory operation throws: one class, told apart by `kind` (the
 * vm-memory variant name) and `code` (`ERR_GUESTMEM_` + the kind in SCREAMING_SNAKE_CASE).
 *
 * Argument errors (wrong type, negative, fractional, too large) are not memory errors: they are
 * `TypeError`/`RangeError` with `code` `ERR_INVALID_ARG_TYPE`/`ERR_OUT_OF_RANGE`, thrown before
 * anything is read or written.
 *
 * @example
 * try { mem.readObj(u32, 0x9000_0000); } catch (e) {
 *   if (e instanceof GuestMemoryError && e.kind === 'InvalidGuestAddress') console.log(e.addr);
 * }
 */
export class GuestMemoryError extends Error {
  /** The vm-memory variant: one of GUEST_MEMORY_ERROR_KINDS. */
  readonly kind: GuestMemoryErrorKind;
  /** `ERR_GUESTMEM_` + `kind` in SCREAMING_SNAKE_CASE, e.g. `ERR_GUESTMEM_INVALID_GUEST_ADDRESS`. */
  readonly code: string;
  /** See {@link GuestMemoryErrorFields}: the fields below are set per kind. */
  readonly addr?: number;
  /** Bytes the operation had to move (PartialBuffer). */
  readonly expected?: number;
  /** Bytes moved before the failure. */
  readonly completed?: number;
  /** Base of the offending range. */
  readonly base?: number;
  /** Offset added to `base`. */
  readonly offset?: number;
  /** Element count (TooBig). */
  readonly nelements?: number;
  /** Element or region size. */
  readonly size?: number;
  /** Required alignment (Misaligned). */
  readonly alignment?: number;
  /** What was refused (AccessDenied). */
  readonly access?: 'read' | 'write';
  /** errno of the failed system call. */
  readonly errno?: number;
  /** Name of the failed system call. */
  readonly syscall?: string;

  constructor(kind: GuestMemoryErrorKind, message: string, fields: GuestMemoryErrorFields = {}) {
    super(`${kind}: ${message}`, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'GuestMemoryError';
    this.kind = kind;
    this.code = 'ERR_GUESTMEM_' + screamingSnake(kind);
    for (const key of Object.keys(fields) as (keyof GuestMemoryErrorFields)[]) {
      if (key !== 'cause') (this as Record<string, unknown>)[key] = fields[key];
    }
  }
}
