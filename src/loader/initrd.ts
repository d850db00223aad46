import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkIndex, rangeError } from '../internal/args.js';
import type { LoadedImage } from './loaded-image.js';
import { LoaderError } from './loader-error.js';
import { openSource, type ImageSource } from './source.js';

/**
 * Places an initrd (initramfs) in guest RAM: as high as it fits below `options.below` (default:
 * the end of the RAM region holding `options.after`), aligned to `options.align` (default 4096),
 * and never below `options.after` (the kernel's end). Returns where it landed: `addr` and `end`
 * are what /chosen's linux,initrd-start and linux,initrd-end take. Throws LoaderError
 * ERR_LOADER_OUTSIDE_RAM before writing if it does not fit.
 * @example const rd = loadInitrd(mem, { fd }, { after: kernel.end });
 */
export function loadInitrd(
  mem: GuestMemoryMmap,
  source: ImageSource,
  options: { readonly after: number; readonly below?: number; readonly align?: number },
): LoadedImage {
  const src = openSource(source);
  const after = checkIndex('options.after', options?.after);
  const align = options.align ?? 4096;
  if (!Number.isSafeInteger(align) || align < 1 || (align & (align - 1)) !== 0 || align > 2 ** 30)
    throw rangeError('options.align', 'a power of two up to 2^30', align);
  let below = options.below;
  if (below === undefined) {
    const at = mem.toRegionAddr(Math.max(after - 1, 0));
    if (at === undefined)
      throw new LoaderError('ERR_LOADER_OUTSIDE_RAM', `0x${after.toString(16)} is not in guest RAM`);
    below = at[0].startAddr + at[0].len;
  } else checkIndex('options.below', below);
  const addr = Math.floor((below - src.size) / align) * align;
  if (src.size > below || addr < after || !mem.checkRange(addr, Math.max(src.size, 1)))
    throw new LoaderError(
      'ERR_LOADER_OUTSIDE_RAM',
      `an initrd of ${src.size} bytes does not fit between 0x${after.toString(16)} and 0x${below.toString(16)}`,
    );
  if (src.size > 0) src.toGuest(mem, addr, 0, src.size);
  return { addr, entry: addr, end: addr + src.size };
}
