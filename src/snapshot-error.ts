/** The snapshot layer's error: every failure of a save, load or apply that is not a memory operation. */

/** Every `code` a SnapshotError can have. */
export const SNAPSHOT_ERROR_CODES = [
  /** The file is not a guestmem snapshot, or is damaged or truncated. */
  'ERR_SNAPSHOT_FORMAT',
  /** The snapshot's region layout differs from the memory it is applied to. */
  'ERR_SNAPSHOT_LAYOUT',
  /** An incremental save (or a live migration) of a memory whose regions do not all track dirty pages. */
  'ERR_SNAPSHOT_UNTRACKED',
  /** A live migration failed: the connection broke, the target refused, or a frame was damaged (the source has resumed its guest). */
  'ERR_MIGRATION',
] as const;

/** One of SNAPSHOT_ERROR_CODES. */
export type SnapshotErrorCode = (typeof SNAPSHOT_ERROR_CODES)[number];

/** A snapshot that cannot be saved, read or applied (`code` from SNAPSHOT_ERROR_CODES; docs/errors.md lists them). I/O and memory failures underneath stay GuestMemoryErrors. */
export class SnapshotError extends Error {
  /** Why it failed. */
  readonly code: SnapshotErrorCode;

  constructor(code: SnapshotErrorCode, message: string, options?: { cause?: unknown }) {
    super(`snapshot: ${message}`, options);
    this.name = 'SnapshotError';
    this.code = code;
  }
}
