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

/** Every `kind` a {@link GuestMemoryError} can have (vm-memory's variant names). */
export const GUEST_MEMORY_ERROR_KINDS = [
  'InvalidOffsetLength',
  'MapFixed',
  'MappingOverlap',
  'MappingPastEof',
  'Mmap',
  'NoMemoryRegion',
  'MemoryRegionOverlap',
  'UnsortedMemoryRegions',
  'InvalidGuestRegion',
  'InvalidGuestAddress',
  'PartialBuffer',
  'InvalidBackendAddress',
  'IOError',
  'OutOfBounds',
  'Overflow',
  'TooBig',
  'Misaligned',
  'AccessDenied',
] as const;

export type GuestMemoryErrorKind = (typeof GUEST_MEMORY_ERROR_KINDS)[number];

/** Structured fields; which ones are set depends on `kind` (see the contract's table). */
export interface GuestMemoryErrorFields {
  addr?: number;
  expected?: number;
  completed?: number;
  base?: number;
  offset?: number;
  nelements?: number;
  size?: number;
  alignment?: number;
  access?: 'read' | 'write';
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

function screamingSnake(kind: string): string {
  return kind
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

export class GuestMemoryError extends Error {
  readonly kind: GuestMemoryErrorKind;
  readonly code: string;
  readonly addr?: number;
  readonly expected?: number;
  readonly completed?: number;
  readonly base?: number;
  readonly offset?: number;
  readonly nelements?: number;
  readonly size?: number;
  readonly alignment?: number;
  readonly access?: 'read' | 'write';
  readonly errno?: number;
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
