/**
 * Machine snapshots: one file holding a guest memory snapshot and the machine's named state
 * records (vCPU state blocks, device and queue state, interrupt controllers, the guest clock:
 * whatever the VMM gives, as structured-clone data), versioned and checksummed, and verified
 * whole before anything is restored.
 *
 * File format (little-endian), version 1:
 *   "GMMACH01"  u32 header length  u32 CRC-32 of the header  header (UTF-8 JSON: version,
 *               records [{name, length, crc}])
 *   records     each record's value serialized with node:v8 (the structured-clone algorithm),
 *               in the header's order, its CRC-32 in the header
 *   memory      a memory snapshot (the format of saveSnapshot, full) to the end of the file
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { GuestMemoryMmap } from './guest-memory.js';
import { typeError } from './internal/args.js';
import type { MappingOptions } from './mmap-region.js';
import {
  applySnapshotAt,
  loadSnapshotAt,
  readAt,
  readHeader,
  writeFileAtomically,
  writeSnapshot,
  type SnapshotHeader,
  type SnapshotOptions,
} from './snapshot.js';
import { SnapshotError } from './snapshot-error.js';

const MAGIC = 'GMMACH01';
/** Longest record name (UTF-16 code units). */
export const MAX_STATE_NAME = 256;
/** Largest header a file may declare (the record list). */
const MAX_HEADER = 16 << 20;

/** A machine's state records: name → structured-clone data. */
export type MachineState = Readonly<Record<string, unknown>>;

/** One state record of a machine snapshot file. */
export interface MachineRecordInfo {
  /** Its name (the key of the state object). */
  readonly name: string;
  /** Its serialized size in bytes. */
  readonly bytes: number;
}

/** What loadMachineSnapshot gives. */
export interface LoadedMachine {
  /** New guest memory with the saved layout and contents. */
  readonly memory: GuestMemoryMmap;
  /** The state records by name. */
  readonly state: Record<string, unknown>;
}

/** What a machine snapshot file holds, read without restoring it. */
export interface MachineSnapshotHeader {
  /** The container's format version (1). */
  readonly version: number;
  /** The state records, in file order. */
  readonly records: readonly MachineRecordInfo[];
  /** The memory snapshot's header (layout, mode). */
  readonly memory: SnapshotHeader;
}

/** Options of saveMachineSnapshot. */
export interface SaveMachineOptions extends SnapshotOptions {
  /** fsync the file before renaming it into place (default true). */
  readonly sync?: boolean;
}

interface RecordEntry {
  readonly name: string;
  readonly length: number;
  readonly crc: number;
}

const formatError = (message: string): SnapshotError => new SnapshotError('ERR_SNAPSHOT_FORMAT', message);

function checkState(state: unknown): [string, Buffer][] {
  if (typeof state !== 'object' || state === null || Array.isArray(state))
    throw typeError('state', 'an object of named records', state);
  const out: [string, Buffer][] = [];
  for (const [name, value] of Object.entries(state)) {
    if (name.length === 0 || name.length > MAX_STATE_NAME)
      throw typeError('state', `record names of 1 to ${MAX_STATE_NAME} characters`, name);
    let bytes: Buffer;
    try {
      bytes = serialize(value);
    } catch (e) {
      throw Object.assign(typeError(`state.${name}`, 'structured-clone data', value), { cause: e });
    }
    out.push([name, bytes]);
  }
  return out;
}

/**
 * Saves `memory` (a full, sparse snapshot) and `state` (named records of structured-clone data:
 * plain objects, arrays, numbers, bigints, strings, typed arrays, Maps…) to `path`, through a
 * temporary file renamed into place. Pause the vCPUs first for an exact machine. Throws
 * TypeError for a state that cannot be cloned (functions, class instances lose their class,
 * SharedArrayBuffers cannot be written: copy them into a typed array).
 * @example await saveMachineSnapshot('vm.gmm', mem, { cpus: blocks, plic: irq.state(), clock: tb.state });
 */
export async function saveMachineSnapshot(
  path: string,
  memory: GuestMemoryMmap,
  state: MachineState,
  options?: SaveMachineOptions,
): Promise<MachineSnapshotHeader> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a file path', path);
  if (!(memory instanceof GuestMemoryMmap)) throw typeError('memory', 'a GuestMemoryMmap', memory);
  const records = checkState(state);
  const entries: RecordEntry[] = records.map(([name, b]) => ({ name, length: b.length, crc: crc32(b) }));
  const json = Buffer.from(JSON.stringify({ version: 1, records: entries }));
  return writeFileAtomically(path, options?.sync !== false, async (fd) => {
    const head = Buffer.alloc(16);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    head.writeUInt32LE(crc32(json), 12);
    writeSync(fd, head);
    writeSync(fd, json);
    for (const [, b] of records) writeSync(fd, b);
    await writeSnapshot(memory, fd, options?.onProgress ? { onProgress: options.onProgress } : undefined);
    return {
      version: 1,
      records: entries.map((e) => ({ name: e.name, bytes: e.length })),
      memory: {
        mode: 'full',
        pageSize: memory.regions[0]?.mapping.bitmap?.pageSize ?? 4096,
        regions: memory.regions.map((r) => ({ base: r.startAddr, size: r.len })),
      },
    };
  });
}

/** The container's record list and the offset of the memory snapshot; every record verified and decoded. */
function readContainer(fd: number): { entries: RecordEntry[]; state: Record<string, unknown>; memoryAt: number } {
  const head = readAt(fd, 0, 16, 'header');
  if (head.toString('latin1', 0, 8) !== MAGIC) {
    const other = head.toString('latin1', 0, 6) === 'GMMACH';
    throw formatError(other ? 'a machine snapshot of another format version' : 'not a guestmem machine snapshot');
  }
  const len = head.readUInt32LE(8);
  if (len > MAX_HEADER) throw formatError(`machine snapshot header of ${len} bytes`);
  const json = readAt(fd, 16, len, 'header');
  if (crc32(json) !== head.readUInt32LE(12)) throw formatError('the machine snapshot header checksum does not match');
  let h: { version?: unknown; records?: unknown };
  try {
    h = JSON.parse(json.toString('utf8')) as typeof h;
  } catch {
    throw formatError('the machine snapshot header is not valid JSON');
  }
  const entries = h?.records;
  const valid =
    h?.version === 1 &&
    Array.isArray(entries) &&
    entries.every(
      (e: RecordEntry) =>
        typeof e?.name === 'string' &&
        e.name.length > 0 &&
        e.name.length <= MAX_STATE_NAME &&
        Number.isSafeInteger(e.length) &&
        e.length > 0 &&
        Number.isInteger(e.crc) &&
        e.crc >= 0 &&
        e.crc <= 0xffffffff,
    ) &&
    new Set(entries.map((e: RecordEntry) => e.name)).size === entries.length;
  if (!valid) throw formatError('the machine snapshot header does not describe a record list');
  const state: Record<string, unknown> = {};
  let pos = 16 + len;
  for (const e of entries as RecordEntry[]) {
    const b = readAt(fd, pos, e.length, `state record ${e.name}`);
    if (crc32(b) !== e.crc) throw formatError(`the state record ${e.name} fails its checksum`);
    try {
      state[e.name] = deserialize(b);
    } catch {
      throw formatError(`the state record ${e.name} cannot be decoded`);
    }
    pos += e.length;
  }
  return { entries: entries as RecordEntry[], state, memoryAt: pos };
}

/** What the machine snapshot at `path` holds (records and memory layout), checking the header and records. */
export function readMachineSnapshotHeader(path: string): MachineSnapshotHeader {
  const fd = openSync(path, 'r');
  try {
    const { entries, memoryAt } = readContainer(fd);
    return {
      version: 1,
      records: entries.map((e) => ({ name: e.name, bytes: e.length })),
      memory: readHeader(fd, memoryAt)[0],
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * A machine snapshot's memory (new anonymous regions, laid out as saved; `options.trackDirty`
 * as for loadSnapshot) and its state records. The whole file (every record and every memory
 * record) is verified before the memory is made. Throws SnapshotError ERR_SNAPSHOT_FORMAT for a
 * file that is not a machine snapshot, is truncated, or fails a checksum.
 * @example const { memory, state } = await loadMachineSnapshot('vm.gmm');
 */
export async function loadMachineSnapshot(
  path: string,
  options?: SnapshotOptions & MappingOptions,
): Promise<LoadedMachine> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a file path', path);
  const fd = openSync(path, 'r');
  try {
    const { state, memoryAt } = readContainer(fd);
    const memory = await loadSnapshotAt(fd, memoryAt, options);
    return { memory, state };
  } finally {
    closeSync(fd);
  }
}

/**
 * Restores a machine snapshot's memory into `memory` (same layout, every region writable, as
 * applySnapshot) and returns its state records; nothing is written unless the whole file passed.
 * @example const state = await applyMachineSnapshot(mem, 'vm.gmm');
 */
export async function applyMachineSnapshot(
  memory: GuestMemoryMmap,
  path: string,
  options?: SnapshotOptions,
): Promise<Record<string, unknown>> {
  if (!(memory instanceof GuestMemoryMmap)) throw typeError('memory', 'a GuestMemoryMmap', memory);
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a file path', path);
  const fd = openSync(path, 'r');
  try {
    const { state, memoryAt } = readContainer(fd);
    await applySnapshotAt(memory, fd, memoryAt, options);
    return state;
  } finally {
    closeSync(fd);
  }
}
