import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkIndex } from '../internal/args.js';
import type { LoadedImage } from './loaded-image.js';
import { LoaderError } from './loader-error.js';
import { openSource, type ImageSource } from './source.js';

/**
 * Loads a raw image (a kernel `Image`, firmware, a flat binary) at guest `addr`: all of it, from
 * an fd (pread from offset 0) or bytes. Throws LoaderError ERR_LOADER_OUTSIDE_RAM before writing.
 * @example loadRaw(mem, { fd }, 0x8020_0000)
 */
export function loadRaw(
  mem: GuestMemoryMmap,
  source: ImageSource,
  addr: number,
): LoadedImage & {
  /** Its length in bytes. */
  readonly size: number;
} {
  const src = openSource(source);
  checkIndex('addr', addr);
  if (src.size > 0 && !mem.checkRange(addr, src.size))
    throw new LoaderError(
      'ERR_LOADER_OUTSIDE_RAM',
      `image of ${src.size} bytes at 0x${addr.toString(16)} is not inside guest RAM`,
    );
  if (src.size > 0) src.toGuest(mem, addr, 0, src.size);
  return { addr, entry: addr, end: addr + src.size, size: src.size };
}
