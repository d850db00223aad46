import { fstatSync } from 'node:fs';
import { checkIndex, checkInt32, rangeError, typeError } from './internal/args.js';
import { GuestMemoryError } from './errors.js';
import { accessDenied, hex } from './internal/errs.js';
import { HostMemory, rawBuffer } from './internal/host-memory.js';
import { AtomicBitmap, type SharedBitmap } from './atomic-bitmap.js';
import { native } from './native.js';
import { constants } from './constants.js';
import { FileOffset } from './file-offset.js';
import type { ValueType } from './types.js';
import { VolatileSlice } from './volatile-slice.js';
import type { VolatileArrayRef, VolatileRef } from './volatile-ref.js';

const U64_MAX = (1n << 64n) - 1n;
const PROT_ALLOWED = constants.PROT_READ | constants.PROT_WRITE | constants.PROT_EXEC;
/** The mmap flags `build` passes on; MAP_FIXED* are refused as MapFixed, any other bit as a RangeError. */
const FLAGS_ALLOWED =
  constants.MAP_SHARED |
  constants.MAP_PRIVATE |
  constants.MAP_ANONYMOUS |
  constants.MAP_NORESERVE |
  constants.MAP_POPULATE |
  constants.MAP_HUGETLB |
  constants.MAP_HUGE_MASK;

/** The structured-clone-safe form of a mapping (see GuestMemoryMmap.share). */
export interface SharedMapping {
  /**
   * The mapping itself, shared with the receiving thread (no copy): read-write mappings only.
   * A read-only or PROT_NONE mapping is carried by `token` instead.
   */
  readonly buffer?: SharedArrayBuffer;
  /**
   * A share token (a small SharedArrayBuffer made by the addon) standing for a mapping whose
   * buffer is never handed out: `fromShared` re-creates the buffer in the receiving thread from
   * it, and it keeps the mapping mapped while any thread can reach it.
   */
  readonly token?: SharedArrayBuffer;
  /** PROT_* of the mapping. */
  readonly prot: number;
  /** MAP_* of the mapping. */
  readonly flags: number;
  /** Host virtual address of the mapping. */
  readonly hostAddress: bigint;
  /** Backing file descriptor, for file mappings. */
  readonly fd?: number;
  /** Offset of the mapping in its file. */
  readonly start?: number | bigint;
  /** The dirty-page bitmap, shared too, when the mapping tracks dirty pages. */
  readonly bitmap?: SharedBitmap;
}

/** The addon's share token for a live mapping's buffer (see SharedMapping.token). */
function shareToken(buffer: SharedArrayBuffer): SharedArrayBuffer {
  const t = native.token(buffer);
  if (t === null) throw new GuestMemoryError('InvalidBackendAddress', 'the mapping is no longer live');
  return t;
}

/** Options of the mapping constructors. */
export interface MappingOptions {
  /**
   * Track written pages in an {@link AtomicBitmap} (`bitmap`), shared by every thread: `true`
   * for 4 KiB pages, or the page size in bytes (a power of two, at least 8). Default off.
   */
  readonly trackDirty?: boolean | number;
}

function bitmapFor(size: number, options: MappingOptions | undefined): AtomicBitmap | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  const t = options.trackDirty;
  if (t === undefined || t === false) return null;
  if (t === true) return new AtomicBitmap(size);
  if (typeof t !== 'number') throw typeError('options.trackDirty', 'a boolean or a page size', t);
  return new AtomicBitmap(size, t);
}

const token = Symbol('MmapRegion');

/** The HostMemory of a mapping: a module function, so only the library's own modules reach it. */
export let hostOf: (m: MmapRegion) => HostMemory;

/**
 * MmapRegion: one mmap of host memory (anonymous or file-backed), exposed as one
 * SharedArrayBuffer. Implements VolatileMemory (getSlice, getRef, …).
 *
 * Lifetime: the mapping is unmapped by the addon when the last reference to its buffer, in any
 * thread, is gone (V8's backing-store deleter); never earlier, so no view can dangle.
 *
 * Protection: a mapping without PROT_WRITE refuses writes, one without PROT_READ every access,
 * with AccessDenied, so no call can fault the process. (A file truncated by another process
 * after mapping can still raise SIGBUS on access, as for every mmap user.)
 *
 * @example
 * const r = MmapRegion.create(1 << 20);
 * r.asVolatileSlice().writeObj(u32, 1, 0);
 */
export class MmapRegion {
  /** Size of the mapping in bytes. */
  readonly size: number;
  /** The file and offset backing the mapping, if any. */
  readonly fileOffset: FileOffset | undefined;
  /** The `prot` passed to mmap. */
  readonly prot: number;
  /** The `flags` passed to mmap. */
  readonly flags: number;
  /** The mapping's address in this process (for logging or ioctls; never dereferenced here). */
  readonly hostAddress: bigint;
  /** @internal */
  readonly #hm: HostMemory;

  static {
    hostOf = (m) => m.#hm;
  }

  /** @internal Use `create`, `fromFile` or `build`. */
  constructor(
    key: symbol,
    buffer: SharedArrayBuffer,
    hostAddress: bigint,
    fileOffset: FileOffset | undefined,
    prot: number,
    flags: number,
    bitmap: AtomicBitmap | null,
  ) {
    if (key !== token) throw new TypeError('MmapRegion: use MmapRegion.create, fromFile or build');
    this.size = buffer.byteLength;
    this.fileOffset = fileOffset;
    this.prot = prot;
    this.flags = flags;
    this.hostAddress = hostAddress;
    this.#hm = new HostMemory(buffer, prot, bitmap);
    Object.freeze(this); // size, prot, flags and address are facts about the mapping, not settings
  }

  /** The dirty-page bitmap, or null when the mapping was created without `trackDirty`. */
  get bitmap(): AtomicBitmap | null {
    return this.#hm.bitmap;
  }

  /**
   * An anonymous private mapping of `size` bytes (PROT_READ|PROT_WRITE,
   * MAP_ANONYMOUS|MAP_NORESERVE|MAP_PRIVATE). Throws Mmap (EINVAL) for size 0, Mmap (ENOMEM) if
   * the address space is exhausted.
   * @example MmapRegion.create(0x10000)
   */
  static create(size: number, options?: MappingOptions): MmapRegion {
    return MmapRegion.build(
      null,
      size,
      constants.PROT_READ | constants.PROT_WRITE,
      constants.MAP_ANONYMOUS | constants.MAP_NORESERVE | constants.MAP_PRIVATE,
      options,
    );
  }

  /**
   * A shared mapping of `size` bytes of a file at `fileOffset` (PROT_READ|PROT_WRITE,
   * MAP_NORESERVE|MAP_SHARED): writes reach the file. Throws as {@link build}.
   */
  static fromFile(fileOffset: FileOffset, size: number, options?: MappingOptions): MmapRegion {
    if (!(fileOffset instanceof FileOffset)) throw typeError('fileOffset', 'a FileOffset', fileOffset);
    return MmapRegion.build(
      fileOffset,
      size,
      constants.PROT_READ | constants.PROT_WRITE,
      constants.MAP_NORESERVE | constants.MAP_SHARED,
      options,
    );
  }

  /**
   * A mapping with explicit `prot` and `flags`. `prot` is PROT_NONE or any of PROT_READ,
   * PROT_WRITE, PROT_EXEC; `flags` may hold only MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS,
   * MAP_NORESERVE, MAP_POPULATE, MAP_HUGETLB and the huge-page size bits (MAP_HUGE_MASK); other
   * bits are a RangeError (ERR_OUT_OF_RANGE). Checks, in order: MapFixed (MAP_FIXED and
   * MAP_FIXED_NOREPLACE are refused), then with a file InvalidOffsetLength (start + size > 2^64-1) and MappingPastEof
   * (start + size > file length), then mmap itself (Mmap with `errno`, e.g. EINVAL for an
   * offset that is not page aligned).
   */
  static build(
    fileOffset: FileOffset | null | undefined,
    size: number,
    prot: number,
    flags: number,
    options?: MappingOptions,
  ): MmapRegion {
    if (fileOffset != null && !(fileOffset instanceof FileOffset)) {
      throw typeError('fileOffset', 'a FileOffset, null or undefined', fileOffset);
    }
    checkIndex('size', size);
    checkInt32('prot', prot);
    checkInt32('flags', flags);
    if ((flags & (constants.MAP_FIXED | constants.MAP_FIXED_NOREPLACE)) !== 0) {
      throw new GuestMemoryError('MapFixed', 'the forbidden MAP_FIXED (or MAP_FIXED_NOREPLACE) flag was specified');
    }
    if ((prot & ~PROT_ALLOWED) !== 0) {
      throw rangeError('prot', 'PROT_NONE or a combination of PROT_READ, PROT_WRITE and PROT_EXEC', prot);
    }
    if ((flags & ~FLAGS_ALLOWED) !== 0) {
      throw rangeError(
        'flags',
        'a combination of MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_POPULATE, MAP_HUGETLB and MAP_HUGE_* sizes',
        flags,
      );
    }
    let fd = -1;
    let start = 0n;
    if (fileOffset != null) {
      fd = fileOffset.fd;
      start = fileOffset.start64;
      const end = start + BigInt(size);
      if (end > U64_MAX) {
        throw new GuestMemoryError(
          'InvalidOffsetLength',
          `file offset ${hex(start)} + size ${hex(size)} overflows u64`,
        );
      }
      let fileSize: bigint | undefined;
      try {
        fileSize = fstatSync(fd, { bigint: true }).size;
      } catch {
        fileSize = undefined; // as vm-memory: no metadata, let mmap report the fd's error
      }
      if (fileSize !== undefined && fileSize < end) {
        throw new GuestMemoryError(
          'MappingPastEof',
          `mapping ends at file offset ${hex(end)}, past the end of the file (${hex(fileSize)})`,
        );
      }
    }
    const bitmap = bitmapFor(size, options);
    const [buffer, hostAddress] = native.mmap(size, prot, flags, fd, start);
    if (bitmap !== null) {
      const b = bitmap.toShared();
      native.bindBitmap(buffer, b.words, b.epoch, b.pageSize); // a new mapping: always taken
    }
    return new MmapRegion(token, buffer, hostAddress, fileOffset ?? undefined, prot, flags, bitmap);
  }

  /**
   * @internal Rebuilds a region over a mapping shared from another thread (no new mmap). The
   * descriptor is untrusted data: the buffer must be a live guestmem mapping, and its protection,
   * flags and host address come from the addon's record of that mapping, never from the
   * descriptor (which could otherwise widen a read-only or PROT_NONE mapping to read-write).
   */
  static fromShared(shared: SharedMapping, name = 'shared.mapping'): MmapRegion {
    if (typeof shared !== 'object' || shared === null) throw typeError(name, 'a shared mapping', shared);
    const b = shared.bitmap;
    const named = typeof b === 'object' && b !== null;
    // A protected mapping comes as a token, a read-write one as its buffer: never the other way.
    let buffer: SharedArrayBuffer | null;
    if (shared.token !== undefined) {
      buffer = native.openToken(shared.token);
      if (buffer === null) throw typeError(`${name}.token`, 'the share token of a live guestmem mapping', shared.token);
    } else buffer = shared.buffer ?? null;
    const info = native.describe(buffer, named ? b.words : undefined, named ? b.epoch : undefined);
    if (info === null) {
      throw typeError(`${name}.buffer`, 'the SharedArrayBuffer of a live guestmem mapping', shared.buffer);
    }
    const [prot, flags, hostAddress, ownBitmap, pageSize] = info;
    const rw = (prot & constants.PROT_READ) !== 0 && (prot & constants.PROT_WRITE) !== 0; // HostMemory's `writable`
    if (shared.token === undefined && !rw) {
      throw typeError(
        `${name}.token`,
        'a share token (a read-only or PROT_NONE mapping never travels as its buffer)',
        undefined,
      );
    }
    buffer = buffer!;
    if (shared.hostAddress !== hostAddress) {
      throw typeError(`${name}.hostAddress`, `the mapping's own address (${hex(hostAddress)})`, shared.hostAddress);
    }
    if (shared.prot !== prot || shared.flags !== flags) {
      throw typeError(`${name}.prot`, `the mapping's own protection and flags (${prot}, ${flags})`, shared.prot);
    }
    // The dirty bitmap must be the mapping's own (bound natively when it was created), or absent
    // for a mapping without one: a foreign bitmap, or none, would hide this thread's writes from
    // every snapshot.
    if (
      ownBitmap === 0
        ? b !== undefined
        : ownBitmap !== 1 || b!.pageSize !== pageSize || b!.byteSize !== buffer.byteLength
    ) {
      const want =
        ownBitmap === 0 ? 'no bitmap (the mapping does not track dirty pages)' : "the mapping's own dirty bitmap";
      throw typeError(`${name}.bitmap`, want, b);
    }
    let fo: FileOffset | undefined;
    if (shared.fd !== undefined) fo = new FileOffset(shared.fd, shared.start ?? 0);
    const bitmap = b === undefined ? null : AtomicBitmap.fromShared(b);
    return new MmapRegion(token, buffer, hostAddress, fo, prot, flags, bitmap);
  }

  /** @internal */
  toShared(): SharedMapping {
    // Only a read-write mapping's buffer may travel (it is public as `.buffer` anyway); any other
    // goes as a token, so no descriptor leads to a view that faults when written.
    const raw = rawBuffer(this.#hm);
    const carried = this.#hm.writable ? { buffer: raw } : { token: shareToken(raw) };
    const base: SharedMapping = {
      ...carried,
      prot: this.prot,
      flags: this.flags,
      hostAddress: this.hostAddress,
      ...(this.#hm.bitmap ? { bitmap: this.#hm.bitmap.toShared() } : {}),
    };
    return this.fileOffset ? { ...base, fd: this.fileOffset.fd, start: this.fileOffset.start } : base;
  }

  /** Same as {@link size}. */
  get len(): number {
    return this.size;
  }

  /**
   * The SharedArrayBuffer over the whole mapping (no copy). Raw access bypasses every check, so
   * it is only handed out for mappings that are readable and writable: otherwise AccessDenied.
   */
  get buffer(): SharedArrayBuffer {
    if (!this.#hm.writable) throw accessDenied(0, this.#hm.readable ? 'write' : 'read');
    return rawBuffer(this.#hm);
  }

  /**
   * True only if both regions are file-backed with the same fd number and their
   * [start, start + size) file ranges intersect. (Different fds can alias one file.)
   */
  fdsOverlap(other: MmapRegion): boolean {
    if (!(other instanceof MmapRegion)) throw typeError('other', 'an MmapRegion', other);
    const a = this.fileOffset;
    const b = other.fileOffset;
    if (!a || !b || a.fd !== b.fd) return false;
    const s1 = a.start64;
    const s2 = b.start64;
    return s1 < s2 ? s1 + BigInt(this.size) > s2 : s2 + BigInt(other.size) > s1;
  }

  /** The slice [offset, offset + count). Throws OutOfBounds or Overflow. */
  getSlice(offset: number, count: number): VolatileSlice {
    return this.asVolatileSlice().getSlice(offset, count);
  }

  /** The whole mapping as a slice. */
  asVolatileSlice(): VolatileSlice {
    return new VolatileSlice(this.#hm, 0, this.size);
  }

  /** A reference to a `type` value at `offset`. Throws OutOfBounds. */
  getRef<T>(type: ValueType<T>, offset: number): VolatileRef<T> {
    return this.asVolatileSlice().getRef(type, offset);
  }

  /** A reference to `n` values of `type` at `offset`. Throws TooBig or OutOfBounds. */
  getArrayRef<T>(type: ValueType<T>, offset: number, n: number): VolatileArrayRef<T> {
    return this.asVolatileSlice().getArrayRef(type, offset, n);
  }

  /**
   * Writes dirty pages of a file-backed mapping to the file (msync MS_SYNC); a no-op for
   * anonymous mappings. Throws IOError.
   */
  flush(): void {
    if (this.fileOffset !== undefined) native.flush(rawBuffer(this.#hm));
  }
}

/** @internal A PROT_NONE mapping of 0 bytes over a heap buffer: the region no address hits. */
export function emptyMapping(): MmapRegion {
  return new MmapRegion(token, new SharedArrayBuffer(0), 0n, undefined, 0, 0, null);
}
