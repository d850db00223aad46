/**
 * The codes of the errors thrown when `guestmem` is imported and its native addon cannot be
 * used (plain `Error`s with a `code`: nothing else of the package can run without it).
 */
export const ADDON_ERROR_CODES = [
  /** The addon was built for another Node major than the one running (it uses V8's ABI for one call): rebuild it (`npm rebuild guestmem`) or use that Node line. */
  'ERR_GUESTMEM_ADDON_NODE_MAJOR',
  /** No addon for this Node line: neither `build/Release` (built by `npm install`) nor a prebuilt binary; `cause` has node-gyp-build's error. */
  'ERR_GUESTMEM_ADDON_MISSING',
] as const;

/** One of ADDON_ERROR_CODES. */
export type AddonErrorCode = (typeof ADDON_ERROR_CODES)[number];
