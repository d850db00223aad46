export { loadElf, loadRaw, MAX_SYMBOL_NAME, type ImageSource, type LoadedElf, type LoadedSegment } from './elf.js';
export { LoaderError, LOADER_ERROR_CODES, type LoaderErrorCode } from './loader-error.js';
