/**
 * Guest memory snapshots: the region layout and contents in one file, restored into an identical
 * map; and incremental snapshots holding only the pages written since the last save (dirty
 * tracking). Contents move a piece (8 MiB) at a time through one reusable buffer, with progress
 * reports and an event-loop turn between pieces, so memory use stays flat whatever the guest size.
 *
 * File format (little-endian), version 3:
 *   "GMSNAP03"  u32 header length  u32 CRC-32 of the header  header (UTF-8 JSON: mode,
 *               pageSize, regions [{base, size}])
 *   records     [u64 guest address, u64 length, u32 CRC-32 of (address, length, bytes), u32 0,
 *               bytes], in address order: a full snapshot's records hold every 4 KiB of every
 *               region that is not all zero (what lies between them is zero: a mostly empty
 *               guest makes a small file), an incremental one's the dirty runs
 *   end         a record of length 0 whose address field holds the number of records before it
 * Version 2 ("GMSNAP02") is read too: the same, with full snapshots covering every byte.
 *
 * Integrity: every record's checksum covers its address and length as well as its bytes, so a
 * flipped bit anywhere is found, and the end record's count catches a file cut at a record
 * boundary. `applySnapshot` and `loadSnapshot` read and verify the whole file (and check every
 * record against the memory) before they write a byte: a damaged file leaves memory as it was.
 *
 * A save writes to a temporary file of its own (created with O_EXCL beside `path`), fsyncs it,
 * then renames it over `path`, so a crash never leaves a half-written file under the final name
 * and two saves to one path never write into each other's file (the last rename wins). The
 * dirty bits a save takes are put back if it fails, so the next incremental save still has them.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { GuestMemoryMmap } from './guest-memory.js';
import { typeError } from './internal/args.js';
import { accessDenied } from './internal/errs.js';
import { constants } from './constants.js';
import { SnapshotError, type SnapshotErrorCode } from './snapshot-error.js';
import type { MappingOptions } from './mmap-region.js';

const MAGIC = 'GMSNAP03';
/** Version 2 files (full snapshots cover every byte) are still read. */
const MAGIC_V2 = 'GMSNAP02';
/** A full snapshot leaves out runs of this many zero bytes (aligned to it within a region). */
const ZERO_GRAIN = 4096;
const ZERO = Buffer.alloc(ZERO_GRAIN);
const RW = constants.PROT_READ | constants.PROT_WRITE;
/** Bytes of a record header: address, length, checksum, padding. */
const RECORD = 24;
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

/**
 * @internal Coalesces sorted page addresses into [start, length] runs, never across a region
 * end and none longer than `max` bytes.
 */
export function runs(
  mem: GuestMemoryMmap,
  pages: readonly number[],
  pageSize: number,
  max = Infinity,
): [number, number][] {
  const out: [number, number][] = [];
  for (const p of pages) {
    const region = mem.findRegion(p)!;
    const len = Math.min(pageSize, region.startAddr + region.len - p);
    const last = out[out.length - 1];
    if (last !== undefined && last[0] + last[1] === p && last[1] + len <= max && mem.findRegion(last[0]) === region)
      last[1] += len;
    else out.push([p, len]);
  }
  return out;
}

/** [offset, length] of the runs of `data` that are not all zero, in ZERO_GRAIN steps. */
function nonZeroRuns(data: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < data.length; at += ZERO_GRAIN) {
    const k = Math.min(ZERO_GRAIN, data.length - at);
    if (data.compare(ZERO, 0, k, at, at + k) === 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last[0] + last[1] === at) last[1] += k;
    else out.push([at, k]);
  }
  return out;
}

/** CRC-32 of a record: its address and length, then its bytes. */
function recordCrc(head: Buffer, data: Uint8Array): number {
  return crc32(data, crc32(head.subarray(0, 16)));
}

/** Marks `pages` (guest addresses from dirtyPages) dirty again: a failed save gives back what it took. */
function giveBack(mem: GuestMemoryMmap, pages: readonly number[]): void {
  for (const p of pages) {
    const r = mem.findRegion(p);
    r?.mapping.bitmap?.setAddrRange(p - r.startAddr, 1);
  }
}

/** A temporary file beside `path` that no other save uses: created with O_EXCL. */
function openTemp(path: string): [string, number] {
  for (;;) {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      return [tmp, openSync(tmp, 'wx')];
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Writes `mem`'s layout and contents (or, with `incremental`, its dirty pages) to `path`.
 * Writes made by other threads during the save land either in this snapshot or stay marked for
 * the next one; for an exact image, pause the vCPUs first. Throws TypeError for bad arguments,
 * SnapshotError ERR_SNAPSHOT_UNTRACKED for an incremental save of memory without dirty tracking,
 * and GuestMemoryError / Node fs errors for memory and I/O failures. A failed save (a missing
 * directory, a full disk, a throwing `onProgress`) keeps the old file at `path` and puts back
 * the dirty bits it took.
 * @example await saveSnapshot(mem, '/tmp/vm.snap', { onProgress: (d, t) => bar(d / t) });
 */
export async function saveSnapshot(mem: GuestMemoryMmap, path: string, options?: SaveOptions): Promise<SnapshotInfo> {
  checkMemory(mem);
  checkPath(path);
  checkProgress(options);
  return writeFileAtomically(path, options?.sync !== false, (fd) => writeSnapshot(mem, fd, options));
}

/**
 * @internal Writes a file as saveSnapshot does: `body` writes into a temporary file of its own
 * (O_EXCL beside `path`), which is fsynced (with `sync`) and renamed over `path` once `body`
 * resolved; on any failure the temporary file is removed and `path` keeps what it had.
 */
export async function writeFileAtomically<T>(
  path: string,
  sync: boolean,
  body: (fd: number) => Promise<T>,
): Promise<T> {
  let tmp: string | undefined;
  let fd = -1;
  try {
    [tmp, fd] = openTemp(path);
    const result = await body(fd);
    if (sync) fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
    tmp = undefined;
    return result;
  } finally {
    if (fd >= 0) closeSync(fd);
    if (tmp !== undefined) rmSync(tmp, { force: true });
  }
}

/**
 * @internal Writes `mem`'s snapshot (header, records, end record) at `fd`'s current position.
 * Takes the dirty set first and gives it back if anything fails.
 */
export async function writeSnapshot(mem: GuestMemoryMmap, fd: number, options?: SaveOptions): Promise<SnapshotInfo> {
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
  // Take the dirty set first (a full save clears it too): a write after this point is either
  // copied below or stays marked; if the save fails, the taken pages are marked again.
  const taken = mem.dirtyPages({ reset: true });
  const spans = incremental ? runs(mem, taken, pageSize) : regions.map((r) => [r.startAddr, r.len] as [number, number]);
  const total = spans.reduce((s, [, n]) => s + n, 0);
  try {
    const json = Buffer.from(JSON.stringify(header));
    const head = Buffer.alloc(16);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    head.writeUInt32LE(crc32(json), 12);
    writeSync(fd, head);
    writeSync(fd, json);
    const rec = Buffer.alloc(RECORD);
    const buf = Buffer.allocUnsafe(Math.min(IO_PIECE, Math.max(total, 1)));
    let done = 0;
    let records = 0;
    let written = 0;
    for (const [start, n] of spans) {
      for (let off = 0; off < n; off += IO_PIECE) {
        const len = Math.min(IO_PIECE, n - off);
        const data = buf.subarray(0, len);
        // One copy out of guest memory: the checksum and the file get the very same bytes,
        // even while other threads write.
        mem.readSlice(data, start + off);
        // incremental: the dirty runs whole (a page written back to zero is a change); full:
        // the runs of this piece that are not all zero
        for (const [a, k] of incremental ? [[0, len]] : nonZeroRuns(data)) {
          rec.writeBigUInt64LE(BigInt(start + off + a!), 0);
          rec.writeBigUInt64LE(BigInt(k!), 8);
          const part = data.subarray(a, a! + k!);
          rec.writeUInt32LE(recordCrc(rec, part), 16);
          writeSync(fd, rec);
          writeSync(fd, part);
          records++;
          written += k!;
        }
        done += len;
        onProgress?.(done, total);
        await nextTurn();
      }
    }
    rec.fill(0);
    rec.writeBigUInt64LE(BigInt(records), 0);
    rec.writeUInt32LE(recordCrc(rec, new Uint8Array(0)), 16);
    writeSync(fd, rec);
    if (total === 0) onProgress?.(0, 0);
    return { mode: header.mode, bytes: written, regions: regions.length };
  } catch (e) {
    giveBack(mem, taken);
    throw e;
  }
}

/** @internal Reads exactly `n` bytes of `fd` at `pos` into `into` (or a new Buffer), or throws ERR_SNAPSHOT_FORMAT. */
export function readAt(fd: number, pos: number, n: number, what: string, into?: Buffer): Buffer {
  const b = into ?? Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const k = readSync(fd, b, got, n - got, pos + got);
    if (k === 0) throw snapshotError('ERR_SNAPSHOT_FORMAT', `file ends inside the ${what}`);
    got += k;
  }
  return b;
}

/** @internal The header of the snapshot at `base` in `fd`, the file offset of its first record, and whether it is version 3. */
export function readHeader(fd: number, base = 0): [SnapshotHeader, number, boolean] {
  const head = readAt(fd, base, 16, 'header');
  const magic = head.toString('latin1', 0, 8);
  if (magic !== MAGIC && magic !== MAGIC_V2) {
    const old = head.toString('latin1', 0, 6) === 'GMSNAP';
    throw snapshotError(
      'ERR_SNAPSHOT_FORMAT',
      old ? 'a snapshot of another format version' : 'not a guestmem snapshot',
    );
  }
  const len = head.readUInt32LE(8);
  if (len > 64 << 20) throw snapshotError('ERR_SNAPSHOT_FORMAT', `header of ${len} bytes`);
  const json = readAt(fd, base + 16, len, 'header');
  if (crc32(json) !== head.readUInt32LE(12))
    throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the header checksum does not match');
  let h: SnapshotHeader;
  try {
    h = JSON.parse(json.toString('utf8')) as SnapshotHeader;
  } catch {
    throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the header is not valid JSON');
  }
  const valid =
    (h?.mode === 'full' || h?.mode === 'incremental') &&
    Number.isSafeInteger(h.pageSize) &&
    Array.isArray(h.regions) &&
    h.regions.length > 0 &&
    h.regions.every((r) => Number.isSafeInteger(r?.base) && Number.isSafeInteger(r?.size) && r.base >= 0 && r.size > 0);
  if (!valid) throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the header does not describe a guest memory');
  return [h, base + 16 + len, magic === MAGIC];
}

/** The header of the snapshot at `path` (layout and mode), without reading its contents. */
export function readSnapshotHeader(path: string): SnapshotHeader {
  const fd = openSync(checkPath(path), 'r');
  try {
    return readHeader(fd)[0];
  } finally {
    closeSync(fd);
  }
}

interface SnapshotRecord {
  readonly addr: number;
  readonly len: number;
  /** File offset of the bytes. */
  readonly at: number;
}

/**
 * Reads every record of the file and verifies it before anything is applied: each checksum,
 * the end record's count, nothing after it, and that each record lies in one region of the
 * layout `h` describes; a full snapshot's records come in address order without overlaps
 * (version 2: cover every region exactly, in order).
 */
async function verify(
  fd: number,
  h: SnapshotHeader,
  first: number,
  sparse: boolean,
  buf: Buffer,
  progress: (n: number) => void,
): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  const rec = Buffer.alloc(RECORD);
  let pos = first;
  let region = 0; // full: the region being covered, and the next address expected in it
  let next = h.regions[0]!.base;
  for (;;) {
    readAt(fd, pos, RECORD, 'record list', rec);
    const addr = Number(rec.readBigUInt64LE(0));
    const len = Number(rec.readBigUInt64LE(8));
    pos += RECORD;
    if (rec.readUInt32LE(20) !== 0) throw snapshotError('ERR_SNAPSHOT_FORMAT', 'a record header is damaged');
    if (len === 0) {
      if (recordCrc(rec, new Uint8Array(0)) !== rec.readUInt32LE(16) || addr !== out.length) {
        throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the end record is damaged');
      }
      if (readSync(fd, rec, 0, 1, pos) !== 0) throw snapshotError('ERR_SNAPSHOT_FORMAT', 'bytes after the end record');
      if (h.mode === 'full' && !sparse && region !== h.regions.length) {
        throw snapshotError('ERR_SNAPSHOT_FORMAT', 'the contents end before the last region');
      }
      return out;
    }
    const r = h.regions.find((g) => addr >= g.base && addr - g.base < g.size);
    if (len > IO_PIECE || r === undefined || addr + len > r.base + r.size) {
      throw snapshotError('ERR_SNAPSHOT_FORMAT', `record [${addr}, +${len}) does not fit the layout`);
    }
    if (h.mode === 'full' && sparse) {
      // in address order, none overlapping: what lies between them is zero
      if (addr < next) throw snapshotError('ERR_SNAPSHOT_FORMAT', `record at ${addr} overlaps or precedes ${next}`);
      next = addr + len;
    } else if (h.mode === 'full') {
      if (addr !== next) throw snapshotError('ERR_SNAPSHOT_FORMAT', `record at ${addr} where ${next} was due`);
      next += len;
      const g = h.regions[region]!;
      if (next === g.base + g.size) next = h.regions[++region]?.base ?? -1;
    }
    const data = readAt(fd, pos, len, 'contents', buf);
    if (recordCrc(rec, data.subarray(0, len)) !== rec.readUInt32LE(16)) {
      throw snapshotError('ERR_SNAPSHOT_FORMAT', `the record at guest address ${addr} fails its checksum`);
    }
    out.push({ addr, len, at: pos });
    pos += len;
    progress(len);
    await nextTurn();
  }
}

/**
 * Verifies the whole file, then copies its records into the memory `target()` gives (one with
 * the file's layout, made or fetched only once the file has passed).
 */
async function restore(
  fd: number,
  h: SnapshotHeader,
  first: number,
  sparse: boolean,
  target: () => GuestMemoryMmap,
  zeroGaps: boolean,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<[GuestMemoryMmap, number]> {
  const buf = Buffer.allocUnsafe(IO_PIECE);
  let done = 0;
  // Progress covers both passes: verifying reads every byte once, copying once more.
  let total = h.mode === 'full' ? 2 * h.regions.reduce((s, r) => s + r.size, 0) : 0;
  const records = await verify(fd, h, first, sparse, buf, (n) => {
    done += n;
    if (total > 0) onProgress?.(done, total);
  });
  const bytes = records.reduce((s, r) => s + r.len, 0);
  total = 2 * bytes;
  const mem = target();
  // a sparse full snapshot into memory that may hold data: what no record covers becomes zero
  if (h.mode === 'full' && sparse && zeroGaps) await zeroGapsOf(mem, h, records, buf);
  for (const r of records) {
    const data = readAt(fd, r.at, r.len, 'contents', buf).subarray(0, r.len);
    mem.writeSlice(data, r.addr);
    done += r.len;
    onProgress?.(done, total);
    await nextTurn();
  }
  if (total === 0) onProgress?.(0, 0);
  return [mem, bytes];
}

/**
 * Zeroes the bytes of every region that no record covers, writing only the 4 KiB pieces that
 * are not zero already (an untouched page is only read).
 */
async function zeroGapsOf(
  mem: GuestMemoryMmap,
  h: SnapshotHeader,
  records: readonly SnapshotRecord[],
  buf: Buffer,
): Promise<void> {
  let k = 0;
  for (const g of h.regions) {
    let at = g.base;
    const end = g.base + g.size;
    while (at < end) {
      while (k < records.length && records[k]!.addr + records[k]!.len <= at) k++;
      const r = records[k];
      const gapEnd = r !== undefined && r.addr < end ? Math.max(at, r.addr) : end;
      for (let p = at; p < gapEnd; p += IO_PIECE) {
        const n = Math.min(IO_PIECE, gapEnd - p);
        const data = buf.subarray(0, n);
        mem.readSlice(data, p);
        for (const [a, len] of nonZeroRuns(data)) {
          for (let z = 0; z < len; z += ZERO_GRAIN)
            mem.writeSlice(ZERO.subarray(0, Math.min(ZERO_GRAIN, len - z)), p + a + z);
        }
        await nextTurn();
      }
      at = r !== undefined && r.addr < end ? Math.max(gapEnd, r.addr + r.len) : end;
    }
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
 * `options.trackDirty` turns on dirty tracking for the new regions. The whole file is verified
 * first. Throws SnapshotError ERR_SNAPSHOT_FORMAT for a file that is not a full snapshot, is
 * truncated or fails a checksum, and the mapping errors of GuestMemoryMmap.fromRanges.
 * @example const mem = await loadSnapshot('/tmp/vm.snap');
 */
export async function loadSnapshot(path: string, options?: SnapshotOptions & MappingOptions): Promise<GuestMemoryMmap> {
  checkProgress(options);
  const fd = openSync(checkPath(path), 'r');
  try {
    return await loadSnapshotAt(fd, 0, options);
  } finally {
    closeSync(fd);
  }
}

/** @internal loadSnapshot of the snapshot that starts at offset `base` of `fd` and runs to its end. */
export async function loadSnapshotAt(
  fd: number,
  base: number,
  options?: SnapshotOptions & MappingOptions,
): Promise<GuestMemoryMmap> {
  const onProgress = checkProgress(options);
  const [h, first, sparse] = readHeader(fd, base);
  if (h.mode !== 'full') {
    throw snapshotError('ERR_SNAPSHOT_FORMAT', 'an incremental snapshot: apply it to a memory with applySnapshot');
  }
  const make = (): GuestMemoryMmap =>
    GuestMemoryMmap.fromRanges(
      h.regions.map((r) => [r.base, r.size] as const),
      options?.trackDirty === undefined ? undefined : { trackDirty: options.trackDirty },
    );
  // fresh anonymous memory is zero already: only the records are written
  const [mem] = await restore(fd, h, first, sparse, make, false, onProgress);
  mem.resetDirty(); // restored contents are the baseline, not guest writes
  return mem;
}

/**
 * Writes a full or incremental snapshot's contents into `mem`, which must have the saved layout
 * (SnapshotError ERR_SNAPSHOT_LAYOUT otherwise) with every region writable (AccessDenied). The
 * layout, the whole file and every checksum are checked before the first byte is written, so
 * a failed apply leaves memory as it was. Restores a chain: load the full one, then apply each
 * incremental one in order. Progress covers the verification pass and the copy (`total` is
 * twice the bytes applied).
 * @example const mem = await loadSnapshot(base); await applySnapshot(mem, delta1);
 */
export async function applySnapshot(
  mem: GuestMemoryMmap,
  path: string,
  options?: SnapshotOptions,
): Promise<SnapshotInfo> {
  checkMemory(mem);
  checkProgress(options);
  const fd = openSync(checkPath(path), 'r');
  try {
    return await applySnapshotAt(mem, fd, 0, options);
  } finally {
    closeSync(fd);
  }
}

/** @internal applySnapshot of the snapshot that starts at offset `base` of `fd` and runs to its end. */
export async function applySnapshotAt(
  mem: GuestMemoryMmap,
  fd: number,
  base: number,
  options?: SnapshotOptions,
): Promise<SnapshotInfo> {
  const onProgress = checkProgress(options);
  const [h, first, sparse] = readHeader(fd, base);
  if (!sameLayout(mem, h)) throw snapshotError('ERR_SNAPSHOT_LAYOUT', 'the memory layout differs from the snapshot');
  for (const r of mem.iter()) {
    if ((r.mapping.prot & RW) !== RW) throw accessDenied(r.startAddr, 'write');
  }
  const [, bytes] = await restore(fd, h, first, sparse, () => mem, true, onProgress);
  return { mode: h.mode, bytes, regions: h.regions.length };
}
