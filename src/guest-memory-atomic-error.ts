/** The hot-plug layer's error: failures of GuestMemoryAtomic's lock and replacement protocol. */

/** Every `code` a GuestMemoryAtomicError can have. */
export const GUEST_MEMORY_ATOMIC_ERROR_CODES = [
  /** The lock is already held by this object, was not obtained in time, or the guard was unlocked. */
  'ERR_GUESTMEM_LOCK',
] as const;

/** One of GUEST_MEMORY_ATOMIC_ERROR_CODES. */
export type GuestMemoryAtomicErrorCode = (typeof GUEST_MEMORY_ATOMIC_ERROR_CODES)[number];

/** The error of GuestMemoryAtomic misuse: locking (`code` from GUEST_MEMORY_ATOMIC_ERROR_CODES; docs/errors.md lists them). */
export class GuestMemoryAtomicError extends Error {
  /** Why it failed. */
  readonly code: GuestMemoryAtomicErrorCode;

  /** For a lock wait that timed out: the `threadId` of the thread holding the lock. */
  readonly holder: number | undefined;

  constructor(code: GuestMemoryAtomicErrorCode, message: string, holder?: number) {
    super(`GuestMemoryAtomic: ${message}`);
    this.name = 'GuestMemoryAtomicError';
    this.code = code;
    this.holder = holder;
  }
}
