export { loadElf, MAX_SYMBOL_NAME, type LoadedElf, type LoadedSegment } from './elf.js';
export { loadRaw } from './raw.js';
export { loadLinuxImage, type LoadedLinuxImage } from './linux-image.js';
export { loadInitrd } from './initrd.js';
export { KernelCmdline } from './cmdline.js';
export type { LoadedImage } from './loaded-image.js';
export type { ImageSource } from './source.js';
export { LoaderError, LOADER_ERROR_CODES, type LoaderErrorCode } from './loader-error.js';
