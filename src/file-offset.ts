import { checkIndex, rangeError, typeError } from './internal/args.js';

const U64_MAX = (1n << 64n) - 1n;

/**
 * FileOffset: a file descriptor and a start offset, the backing of a file-backed mapping.
 *
 * The descriptor stays owned by the caller; a mapping made from it stays valid after the
 * descriptor is closed (the kernel keeps the file referenced by the mapping).
 *
 * @example
 * const fd = fs.openSync('guest.img', 'r+');
 * const region = MmapRegion.fromFile(new FileOffset(fd, 0), 1 << 20);
 */
export class FileOffset {
  /** The file descriptor (not owned: the caller closes it). */
  readonly fd: number;
  /** The offset into the file, as given: a number, or a bigint up to 2^64-1. */
  readonly start: number | bigint;

  /**
   * Throws TypeError/RangeError for an fd that is not a non-negative integer, or a start that
   * is not a non-negative safe integer or a bigint in [0, 2^64-1].
   */
  constructor(fd: number, start: number | bigint) {
    checkIndex('fd', fd);
    if (fd > 0x7fffffff) throw rangeError('fd', 'a file descriptor (< 2^31)', fd);
    if (typeof start === 'bigint') {
      if (start < 0n || start > U64_MAX) throw rangeError('start', 'in [0, 2^64-1]', start);
    } else if (typeof start === 'number') {
      checkIndex('start', start);
    } else {
      throw typeError('start', 'of type number or bigint', start);
    }
    this.fd = fd;
    this.start = start;
    Object.freeze(this);
  }

  /** @internal The start as a bigint. */
  get start64(): bigint {
    return BigInt(this.start);
  }
}
