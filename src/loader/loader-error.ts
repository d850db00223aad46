/** The loader layer's error: an image that cannot be loaded as asked. */

/** Every `code` a LoaderError can have. */
export const LOADER_ERROR_CODES = [
  /** Not an image of the format asked for (no ELF or Linux Image magic, big-endian, not executable, …), or a bad kernel parameter. */
  'ERR_LOADER_FORMAT',
  /** The file ends before a header, segment or table it describes. */
  'ERR_LOADER_TRUNCATED',
  /** A segment or image (or its bss) is not inside guest RAM. */
  'ERR_LOADER_OUTSIDE_RAM',
  /** Two loaded segments overlap. */
  'ERR_LOADER_OVERLAP',
  /** A kernel command line that would be longer than its capacity. */
  'ERR_LOADER_CMDLINE_TOO_LONG',
] as const;

/** One of LOADER_ERROR_CODES. */
export type LoaderErrorCode = (typeof LOADER_ERROR_CODES)[number];

/** An image that cannot be loaded (`code` from LOADER_ERROR_CODES; docs/errors.md lists them). Nothing is written to guest memory before the whole image was checked. */
export class LoaderError extends Error {
  /** Why it failed. */
  readonly code: LoaderErrorCode;

  constructor(code: LoaderErrorCode, message: string, options?: { cause?: unknown }) {
    super(`loader: ${message}`, options);
    this.name = 'LoaderError';
    this.code = code;
  }
}
