/**
 * Guest memory snapshots: the region layout and contents in one file, restored into an identical
 * map; and incremental snapshots holding only the pages written since the last save (dirty
 * tracking). Contents stream between guest memory and the file with read(2)/write(2) straight
 * from the mapping (no intermediate buffer), a chunk at a time with progress reports between
 * chunks, so memory use stays flat whatever the guest size.
 *
 * File format (little-endian):
 *   "GMSNAP01"  u32 header length  header (UTF-8 JSON: mode, pageSize, regions [{base, size}])
 *   full:        every region's bytes, in address order
 *   incremental: records [u64 guest address, u64 length, bytes], ended by a record of length 0
 *
 * A snapshot is written to `<path>.tmp`, fsynced, then renamed over `path`, so a crash never
 * leaves a half-written file under the final name.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { GuestMemoryMmap } from './guest-memory.js';
import { typeError } from './internal/args.js';
import { SnapshotError, type SnapshotErrorCode } from './snapshot-error.js';
import type { MappingOptions } from './mmap-region.js';

const MAGIC = 'GMSNAP01';
/** Bytes moved per read(2)/write(2) between a mapping and the file (progress is reported per piece). */
const IO_PIECE = 8 << 20;

/** What a snapshot file describes. */
export interface SnapshotHeader {
  /** 'full': every byte of every region; 'incremental': the pages dirtied since the previous save. */
  readonly mode: 'full' | 'incremental';
  /** Dirty page size of the records (incremental) or of the memory (full). */
  readonly pageSize: number;
  /** Guest base and size of each region, in address order. */
  readonly regions: readonly {
    /** Guest-physical base. */
    readonly base: number;
    /** Bytes. */
    readonly size: number;
  }[];
}

/** Options of loadSnapshot and applySnapshot (and, through SaveOptions, saveSnapshot). */
export interface SnapshotOptions {
  /** Called between chunks with bytes done and bytes in all. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Options of saveSnapshot. */
export interface SaveOptions extends SnapshotOptions {
  /**
   * Save only the pages written since the last save (every region must track dirty pages).
   * Default false: a full snapshot, which also clears the dirty bits so the next incremental
   * save is relative to it.
   */
  readonly incremental?: boolean;
  /** fsync the file before renaming it into place (default true). */
  readonly sync?: boolean;
}

/** What a save or load did. */
export interface SnapshotInfo {
  /** Which kind of snapshot was written or read. */
  readonly mode: 'full' | 'incremental';
  /** Guest bytes written or read. */
  readonly bytes: number;
  /** Number of regions covered. */
  readonly regions: number;
}

const snapshotError = (code: SnapshotErrorCode, message: string): SnapshotError => new SnapshotError(code, message);

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A copier that moves [addr, addr + n) in IO_PIECE pieces with `step` (one fd transfer straight
 * to or from the mapping), reporting the running total and yielding to the event loop between
 * pieces.
 */
function chunked(
  onProgress: ((done: number, total: number) => void) | undefined,
  step: (addr: number, len: number) => void,
): (addr: number, n: number, total: number) => Promise<void> {
  let done = 0;
  return async (addr, n, total) => {
    for (let off = 0; off < n; off += IO_PIECE) {
      const len = Math.min(IO_PIECE, n - off);
      step(addr + off, len);
      done += len;
      onProgress?.(done, total);
      await nextTurn();
    }
  };
}

function checkMemory(mem: unknown): GuestMemoryMmap {
  if (!(mem instanceof GuestMemoryMmap)) throw typeError('mem', 'a GuestMemoryMmap', mem);
  return mem;
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
  return path;
}

function checkProgress(o: SnapshotOptions | undefined): ((done: number, total: number) => void) | undefined {
  if (o === undefined) return undefined;
  if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw typeError('options.onProgress', 'a function', o.onProgress);
  }
  return o.onProgress;
}

/** Coalesces sorted page addresses into [start, length] runs (never across a region end). */
function runs(mem: GuestMemoryMmap, pages: number[], pageSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (const p of pages) {
    const region = mem.findRegion(p)!;
    const len = Math.min(pageSize, region.startAddr + region.len - p);
    const last = out[out.length - 1];
    if (last !== undefined && last[0] + last[1] === p && mem.findRegion(last[0]) === region) last[1] += len;
    else out.push([p, len]);
  }
  return out;
}

/**
 * Writes `mem`'s layout and contents (or, with `incremental`, its dirty pages) to `path`.
 * Writes made by other threads during the save land either in this snapshot or stay marked for
 * the next one; for an exact image, pause the vCPUs first. Throws TypeError for bad arguments,
 * Error ERR_SNAPSHOT_UNTRACKED for an incremental save of memory without dirty tracking, and
 * GuestMemoryError IOError / Node fs errors for I/O failures (the old file at `path` is kept).
 * @example await saveSnapshot(mem, '/tmp/vm.snap', { onProgress: (d, t) => bar(d / t) });
 */
export async function saveSnapshot(mem: GuestMemoryMmap, path: string, options?: SaveOptions): Promise<SnapshotInfo> {
  checkMemory(mem);
  checkPath(path);
  const onProgress = checkProgress(options);
  const incremental = options?.incremental === true;
  const regions = [...mem.iter()];
  const bitmaps = regions.map((r) => r.mapping.bitmap);
  if (incremental && bitmaps.some((b) => b === null)) {
    throw snapshotError('ERR_SNAPSHOT_UNTRACKED', 'an incremental save needs every region created with trackDirty');
  }
  const pageSize = bitmaps[0]?.pageSize ?? 4096;
  const header: SnapshotHeader = {
    mode: incremental ? 'incremental' : 'full',
    pageSize,
    regions: regions.map((r) => ({ base: r.startAddr, size: r.len })),
  };
  // Taking the dirty set first: a write after this point is either copied below or stays marked.
  const dirty = incremental ? runs(mem, mem.dirtyPages({ reset: true }), pageSize) : null;
  if (!incremental) mem.resetDirty();
  const total = dirty ? dirty.reduce((s, [, n]) => s + n, 0) : regions.reduce((s, r) => s + r.len, 0);

  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    const json = Buffer.from(JSON.stringify(header));
    const head = Buffer.alloc(12);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    writeSync(fd, head);
    writeSync(fd, json);
    const copy = chunked(onProgress, (addr, len) => mem.writeAllTo(addr, fd, len));
    if (dirty === null) {
      for (const r of regions) await copy(r.startAddr, r.len, total);
    } else {
      const rec = Buffer.alloc(16);
      for (const [addr, n] of dirty) {
        rec.writeBigUInt64LE(BigInt(addr), 0);
        rec.writeBigUInt64LE(BigInt(n), 8);
        writeSync(fd, rec);
        await copy(addr, n, total);
      }
      rec.fill(0);
      writeSync(fd, rec);
    }
    if (total === 0) onProgress?.(0, 0);
    if (options?.sync !== false) fsyncSync(fd);
    ok = true;
    return { mode: header.mode, bytes: total, regions: regions.length };
  } finally {
    closeSync(fd);
    if (ok) renameSync(tmp, path);
    else rmSync(tmp, { force: true });
  }
}

/** Reads exactly `n` bytes of `fd` at its current position into a new Buffer, or throws ERR_SNAPSHOT_FORMAT. */
function readBytes(fd: number, n: number, what: string): Buffer {
  const b = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const k = readSync(fd, b, got, n - got, null);
    if (k === 0) throw snapshotError('ERR_SNAPSHOT_FORMAT', `file ends inside the ${what}`);
    got += k;
  }
  return b;
}

function readHeader(fd: number): SnapshotHeader {
  const head = readBytes(fd, 12, 'header');
  if (head.toString('latin1', 0, 8) !== MAGIC) throw snapshotError('ERR_SNAPSHOT_FORMAT', 'not a guestmem snapshot');
  const len = head.readUInt32LE(8);
  if (len > 64 << 20) throw snapshotError('ERR_SNAPSHOT_FORMAT', `header of ${len} bytes`);
  let h: SnapshotHeader;
  try {
    h = JSON.parse(readBytes(fd, len, 'header').toString('utf8')) as SnapshotHeader;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SNAPSHOT_FORMAT') throw e;
    throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the header is not valid JSON');
  }
  const valid =
    (h?.mode === 'full' || h?.mode === 'incremental') &&
    Number.isSafeInteger(h.pageSize) &&
    Array.isArray(h.regions) &&
    h.regions.length > 0 &&
    h.regions.every((r) => Number.isSafeInteger(r?.base) && Number.isSafeInteger(r?.size) && r.base >= 0 && r.size > 0);
  if (!valid) throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the header does not describe a guest memory');
  return h;
}

/** The header of the snapshot at `path` (layout and mode), without reading its contents. */
export function readSnapshotHeader(path: string): SnapshotHeader {
  const fd = openSync(checkPath(path), 'r');
  try {
    return readHeader(fd);
  } finally {
    closeSync(fd);
  }
}

async function applyFrom(
  fd: number,
  mem: GuestMemoryMmap,
  h: SnapshotHeader,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<number> {
  const size = fstatSync(fd).size;
  let done = 0;
  const copy = chunked(
    (d, total) => {
      done = d;
      onProgress?.(d, total);
    },
    (addr, len) => {
      try {
        mem.readExactFrom(addr, fd, len);
      } catch (e) {
        if ((e as { kind?: string }).kind === 'PartialBuffer') {
          throw snapshotError('ERR_SNAPSHOT_FORMAT', `file ends inside the contents at ${addr}`);
        }
        throw e;
      }
    },
  );
  if (h.mode === 'full') {
    const total = h.regions.reduce((s, r) => s + r.size, 0);
    for (const r of h.regions) await copy(r.base, r.size, total);
    if (total === 0) onProgress?.(0, 0);
    return total;
  }
  for (;;) {
    const rec = readBytes(fd, 16, 'record list');
    const addr = Number(rec.readBigUInt64LE(0));
    const n = Number(rec.readBigUInt64LE(8));
    if (n === 0) return done;
    if (!Number.isSafeInteger(addr + n) || mem.checkRange(addr, n) !== true) {
      throw snapshotError('ERR_SNAPSHOT_FORMAT', `record [${addr}, +${n}) is outside the memory`);
    }
    await copy(addr, n, size); // total unknown up front: the file size bounds it
  }
}

function sameLayout(mem: GuestMemoryMmap, h: SnapshotHeader): boolean {
  const regions = [...mem.iter()];
  return (
    regions.length === h.regions.length &&
    regions.every((r, i) => r.startAddr === h.regions[i]!.base && r.len === h.regions[i]!.size)
  );
}

/**
 * A new guest memory (anonymous regions, laid out as saved) holding a full snapshot's contents.
 * `options.trackDirty` turns on dirty tracking for the new regions. Throws Error
 * ERR_SNAPSHOT_FORMAT for a file that is not a full snapshot or is truncated, and the mapping
 * errors of GuestMemoryMmap.fromRanges.
 * @example const mem = await loadSnapshot('/tmp/vm.snap');
 */
export async function loadSnapshot(path: string, options?: SnapshotOptions & MappingOptions): Promise<GuestMemoryMmap> {
  const onProgress = checkProgress(options);
  const fd = openSync(checkPath(path), 'r');
  try {
    const h = readHeader(fd);
    if (h.mode !== 'full') {
      throw snapshotError('ERR_SNAPSHOT_FORMAT', 'an incremental snapshot: apply it to a memory with applySnapshot');
    }
    const mem = GuestMemoryMmap.fromRanges(
      h.regions.map((r) => [r.base, r.size] as const),
      options?.trackDirty === undefined ? undefined : { trackDirty: options.trackDirty },
    );
    await applyFrom(fd, mem, h, onProgress);
    return mem;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a full or incremental snapshot's contents into `mem`, which must have the saved layout
 * (Error ERR_SNAPSHOT_LAYOUT otherwise). Restores a chain: load the full one, then apply each
 * incremental one in order.
 * @example const mem = await loadSnapshot(base); await applySnapshot(mem, delta1);
 */
export async function applySnapshot(
  mem: GuestMemoryMmap,
  path: string,
  options?: SnapshotOptions,
): Promise<SnapshotInfo> {
  checkMemory(mem);
  const onProgress = checkProgress(options);
  const fd = openSync(checkPath(path), 'r');
  try {
    const h = readHeader(fd);
    if (!sameLayout(mem, h)) throw snapshotError('ERR_SNAPSHOT_LAYOUT', 'the memory layout differs from the snapshot');
    const bytes = await applyFrom(fd, mem, h, onProgress);
    return { mode: h.mode, bytes, regions: h.regions.length };
  } finally {
    closeSync(fd);
  }
}
