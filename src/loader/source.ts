import { fstatSync, readSync } from 'node:fs';
import type { GuestMemoryMmap } from '../guest-memory.js';
import { checkFd, typeError } from '../internal/args.js';

/** Where the image comes from: an open file descriptor, or its bytes. */
export type ImageSource =
  | {
      /** An open file descriptor, read with pread(2) from offset 0 (its file position is not used). */
      readonly fd: number;
    }
  | {
      /** The image's bytes. */
      readonly bytes: Uint8Array;
    };

/** @internal An opened image: its size, reads, and copies into guest memory. */
export interface Source {
  size: number;
  read(pos: number, n: number): Uint8Array;
  toGuest(mem: GuestMemoryMmap, addr: number, pos: number, n: number): void;
}

/** @internal */
export function openSource(src: ImageSource): Source {
  if (typeof src !== 'object' || src === null) throw typeError('source', '{ fd } or { bytes }', src);
  if ('bytes' in src) {
    const b = src.bytes;
    if (!(b instanceof Uint8Array)) throw typeError('source.bytes', 'a Uint8Array', b);
    return {
      size: b.length,
      read: (pos, n) => b.subarray(pos, pos + n),
      toGuest: (mem, addr, pos, n) => mem.writeSlice(b.subarray(pos, pos + n), addr),
    };
  }
  const fd = checkFd('source.fd', (src as { fd: unknown }).fd);
  const size = fstatSync(fd).size;
  return {
    size,
    read(pos, n) {
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const k = readSync(fd, out, done, n - done, pos + done);
        if (k === 0) break;
        done += k;
      }
      return out.subarray(0, done);
    },
    toGuest: (mem, addr, pos, n) => mem.readExactFrom(addr, fd, n, pos),
  };
}
