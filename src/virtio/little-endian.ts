import type { GuestMemoryMmap } from '../guest-memory.js';
import { le32, u32 } from '../types.js';

/** Virtio is little-endian: on such a host the native-order accessors (ld32u, ld16u) read it as it is. */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A little-endian u32 of guest memory at any alignment, read without ordering (a plain load
 * on a little-endian host): for fields the driver published before the index the device read.
 */
export function le32At(mem: GuestMemoryMmap, addr: number): number {
  return HOST_LE ? mem.readUnordered(u32, addr) : mem.readObj(le32, addr);
}
