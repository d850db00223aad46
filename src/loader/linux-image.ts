import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkIndex } from '../internal/args.js';
import type { LoadedImage } from './loaded-image.js';
import { LoaderError } from './loader-error.js';
import { openSource, type ImageSource } from './source.js';

/** The header's magic at byte 56 of a RISC-V `Image` ("RSC\x05"). */
const MAGIC_RISCV = 0x05435352;
/** The header's magic at byte 56 of an arm64 `Image` ("ARM\x64"). */
const MAGIC_ARM64 = 0x644d5241;
const HEADER_BYTES = 64;

/** What {@link loadLinuxImage} loaded, with the header's fields. */
export interface LoadedLinuxImage extends LoadedImage {
  /** Which kernel the header says it is. */
  readonly arch: 'riscv' | 'arm64';
  /** text_offset: where in RAM, from `ramBase`, the kernel wants to sit. */
  readonly textOffset: number;
  /** image_size: the memory the kernel takes from its load address (file, bss and more). */
  readonly imageSize: number;
  /** The header's flags (bit 0 on arm64: big-endian kernel). */
  readonly flags: bigint;
}

/**
 * Loads a Linux kernel `Image` (the flat format RISC-V and arm64 kernels share: a 64-byte
 * header with text_offset, image_size, flags and a magic at byte 56) at `ramBase +
 * text_offset`, or at `options.addr` if given (it must then be 2 MiB aligned, as both
 * architectures require). The whole image_size must fit in guest RAM, not only the file: the
 * kernel uses the rest for its bss. Throws LoaderError before writing anything:
 * ERR_LOADER_FORMAT (no magic, a big-endian arm64 kernel, an image_size smaller than the
 * file), ERR_LOADER_TRUNCATED, ERR_LOADER_OUTSIDE_RAM.
 * @example const k = loadLinuxImage(mem, { fd }, { ramBase: 0x8000_0000 }); // k.entry, k.end
 */
export function loadLinuxImage(
  mem: GuestMemoryMmap,
  source: ImageSource,
  options: { readonly ramBase: number; readonly addr?: number },
): LoadedLinuxImage {
  const src = openSource(source);
  const ramBase = checkIndex('options.ramBase', options?.ramBase);
  if (src.size < HEADER_BYTES) throw new LoaderError('ERR_LOADER_TRUNCATED', 'the file ends inside the Image header');
  const h = src.read(0, HEADER_BYTES);
  const dv = new DataView(h.buffer, h.byteOffset, h.length);
  const magic = dv.getUint32(56, true);
  const arch = magic === MAGIC_RISCV ? 'riscv' : magic === MAGIC_ARM64 ? 'arm64' : null;
  if (arch === null)
    throw new LoaderError('ERR_LOADER_FORMAT', `no Linux Image magic (0x${magic.toString(16)} at byte 56)`);
  const textOffset = dv.getBigUint64(8, true);
  const imageSize = dv.getBigUint64(16, true);
  const flags = dv.getBigUint64(24, true);
  if (arch === 'arm64' && flags & 1n) throw new LoaderError('ERR_LOADER_FORMAT', 'a big-endian arm64 kernel');
  if (textOffset >= 2n ** 40n || imageSize >= 2n ** 40n)
    throw new LoaderError(
      'ERR_LOADER_FORMAT',
      `text_offset 0x${textOffset.toString(16)} / image_size 0x${imageSize.toString(16)}`,
    );
  // an old arm64 header may leave image_size 0: the file is all there is
  const size = imageSize === 0n ? src.size : Number(imageSize);
  if (size < src.size)
    throw new LoaderError('ERR_LOADER_FORMAT', `image_size ${size} is smaller than the file (${src.size})`);
  let addr = ramBase + Number(textOffset);
  if (options.addr !== undefined) {
    addr = checkIndex('options.addr', options.addr);
    if (addr % 0x20_0000 !== 0)
      throw new LoaderError('ERR_LOADER_FORMAT', `load address 0x${addr.toString(16)} is not 2 MiB aligned`);
  }
  if (!mem.checkRange(addr, size))
    throw new LoaderError(
      'ERR_LOADER_OUTSIDE_RAM',
      `the kernel [0x${addr.toString(16)}, +0x${size.toString(16)}) is not inside guest RAM`,
    );
  src.toGuest(mem, addr, 0, src.size);
  return { addr, entry: addr, end: addr + size, arch, textOffset: Number(textOffset), imageSize: size, flags };
}
