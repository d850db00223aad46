export { loadElf, loadRaw, type ImageSource, type LoadedElf, type LoadedSegment } from './elf.js';
export { LoaderError, LOADER_ERROR_CODES, type LoaderErrorCode } from './loader-error.js';
