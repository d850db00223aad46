/**
 * Loads the C++ addon (built by `npm install` into build/Release) and hands it the
 * GuestMemoryError class, so errors thrown natively are GuestMemoryErrors too.
 */
import { createRequire } from 'node:module';
import { GuestMemoryError } from './errors.js';

export interface NativeAddon {
  setErrorClass(cls: typeof GuestMemoryError): void;
  mmap(size: number, prot: number, flags: number, fd: number, offset: bigint): [SharedArrayBuffer, bigint];
  flush(buffer: SharedArrayBuffer): void;
  liveMappings(): number;
  externalMemoryAllowed(): boolean;
  /** memmove between two buffers at absolute byte offsets (views: pass view.buffer + offset). */
  copy(dst: ArrayBufferLike, dstOffset: number, src: ArrayBufferLike, srcOffset: number, count: number): void;
  /** One read(2), or pread(2) at `position` when it is >= 0. */
  readFd(fd: number, buffer: SharedArrayBuffer, offset: number, count: number, position: number): number;
  /** One write(2), or pwrite(2) at `position` when it is >= 0. */
  writeFd(fd: number, buffer: SharedArrayBuffer, offset: number, count: number, position: number): number;
  constants: Record<string, number>;
}

const require = createRequire(import.meta.url);

function load(): NativeAddon {
  // src/ (tests, tsx) and dist/src/ (the built package) sit at different depths.
  const candidates = ['../build/Release/guestmem.node', '../../build/Release/guestmem.node'];
  let lastError: unknown;
  for (const path of candidates) {
    try {
      return require(path) as NativeAddon;
    } catch (e) {
      lastError = e;
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error('guestmem: the native addon is not built; run `npm install` (or `npm run build`)', {
    cause: lastError,
  });
}

export const native: NativeAddon = load();
native.setErrorClass(GuestMemoryError);
