/**
 * Loads the C++ addon (built by `npm install` into build/Release, or prebuilt) and hands it the
 * GuestMemoryError class, so errors thrown natively are GuestMemoryErrors too.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestMemoryError } from './errors.js';
import type { AddonErrorCode } from './addon-error.js';

export interface NativeAddon {
  setErrorClass(cls: typeof GuestMemoryError): void;
  mmap(size: number, prot: number, flags: number, fd: number, offset: bigint): [SharedArrayBuffer, bigint];
  flush(buffer: SharedArrayBuffer): void;
  /**
   * [prot, flags, hostAddress, bitmap, pageSize] of a live guestmem mapping's buffer, or null for
   * any other value; bitmap is 0 when the mapping has no dirty bitmap, 1 when `words`/`epoch` are
   * the buffers of its own, 2 when it has another one; pageSize is its bitmap's (0 without one).
   */
  describe(buffer: unknown, words?: unknown, epoch?: unknown): [number, number, bigint, number, number] | null;
  /** Makes `words`/`epoch` the mapping's own dirty bitmap (kept alive with it); false if it has one. */
  bindBitmap(buffer: SharedArrayBuffer, words: SharedArrayBuffer, epoch: SharedArrayBuffer, pageSize: number): boolean;
  /** A share token standing for the mapping of `buffer` (it keeps the mapping alive while reachable), or null if `buffer` is no live mapping. */
  token(buffer: SharedArrayBuffer): SharedArrayBuffer | null;
  /** The SharedArrayBuffer of the token's mapping, made in this thread, or null for anything but a live token. */
  openToken(token: unknown): SharedArrayBuffer | null;
  liveMappings(): number;
  externalMemoryAllowed(): boolean;
  /**
   * memmove between two buffers or views (offsets count from a view's start) at the offsets
   * and count in `copyArgs` ([dstOffset, srcOffset, count]); 0, or -1 for anything but two
   * buffers or views, -2 for a range outside one. The addon re-checks what JavaScript checked.
   */
  copyBuffers(dst: ArrayBufferLike | ArrayBufferView, src: ArrayBufferLike | ArrayBufferView): number;
  /** copyBuffers' arguments, this thread's own block. */
  copyArgs: Float64Array;
  /** One read(2), or pread(2) at `position` when it is >= 0: the bytes read, or -errno. */
  readFd(fd: number, buffer: SharedArrayBuffer, offset: number, count: number, position: number): number;
  /** One write(2), or pwrite(2) at `position` when it is >= 0. */
  writeFd(fd: number, buffer: SharedArrayBuffer, offset: number, count: number, position: number): number;
  /** The IOError for a transfer that failed with `errno` (readFd/writeFd returned -errno). */
  osError(errno: number, syscall: string, message: string): Error;
  constants: Record<string, number>;
}

const require = createRequire(import.meta.url);

/** The package root: src/ (tests, tsx) and dist/src/ (the built package) sit at different depths. */
function packageRoot(): string {
  for (const up of ['..', '../..']) {
    const dir = fileURLToPath(new URL(`${up}/`, import.meta.url));
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
  }
  throw new Error('guestmem: cannot find the package root (binding.gyp) above ' + import.meta.url);
}

/**
 * node-gyp-build picks build/Release (compiled here by `npm install`) when present, else the
 * prebuilt binary for this Node major under prebuilds/linux-x64/. The addon itself refuses to
 * load on another Node major (ERR_GUESTMEM_ADDON_NODE_MAJOR).
 */
function load(): NativeAddon {
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot()) as NativeAddon;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_GUESTMEM_ADDON_NODE_MAJOR') throw e;
    const err = new Error(
      'guestmem: no native addon for this Node line; run `npm rebuild guestmem` (needs g++ and make)',
      {
        cause: e,
      },
    );
    throw Object.assign(err, { code: 'ERR_GUESTMEM_ADDON_MISSING' satisfies AddonErrorCode });
  }
}

export const native: NativeAddon = load();
native.setErrorClass(GuestMemoryError);
