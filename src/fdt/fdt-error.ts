/** The device-tree layer's error: a tree the writer cannot emit or a blob the reader cannot parse. */

/** Every `code` an FdtError can have. */
export const FDT_ERROR_CODES = [
  /** A node or property name with characters or a length the devicetree spec does not allow. */
  'ERR_FDT_NAME',
  /** Calls out of order: a property after a child node, a node ended out of turn, a duplicate property, unclosed nodes at finish. */
  'ERR_FDT_ORDER',
  /** A property value that cannot be encoded (a string with a NUL, a cell outside 0 … 2^32-1). */
  'ERR_FDT_VALUE',
  /** A blob that is not a well-formed flattened device tree (the reader). */
  'ERR_FDT_FORMAT',
] as const;

/** One of FDT_ERROR_CODES. */
export type FdtErrorCode = (typeof FDT_ERROR_CODES)[number];

/** A device tree that cannot be written or read (`code` from FDT_ERROR_CODES; docs/errors.md lists them). */
export class FdtError extends Error {
  /** Why it failed. */
  readonly code: FdtErrorCode;

  constructor(code: FdtErrorCode, message: string) {
    super(`fdt: ${message}`);
    this.name = 'FdtError';
    this.code = code;
  }
}
