/**
 * Live migration: pre-copy of a running guest's memory over a byte stream (a TCP or Unix
 * socket), then its machine state. The source sends every page while the vCPUs run, then the
 * pages dirtied meanwhile, round after round, until few enough remain (or a round limit); then
 * it pauses the vCPUs, sends the rest and the state records, and waits for the target's
 * confirmation. The target checks every frame (CRC-32) and the totals before it confirms; the
 * source keeps the guest until then, and resumes it if the target or the connection fails.
 *
 * Frames (little-endian): u32 type, u32 payload length, u32 CRC-32 of the payload, payload.
 *   HELLO  JSON {version, pageSize, regions [{base, size}]}
 *   PAGES  u64 guest address, then bytes (one run of pages)
 *   STATE  u32 name length, the name (UTF-8), the record serialized with node:v8
 *   DONE   JSON {rounds, pages, bytes, records}: what was sent, for the target to check
 *   ACK    (target to source) JSON {ok, error?}
 */
import type { Duplex } from 'node:stream';
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { GuestMemoryMmap } from './guest-memory.js';
import { typeError } from './internal/args.js';
import type { MachineState } from './machine-snapshot.js';
import type { MappingOptions } from './mmap-region.js';
import { SnapshotError } from './snapshot-error.js';
import { runs } from './snapshot.js';

const HELLO = 1;
const PAGES = 2;
const STATE = 3;
const DONE = 4;
const ACK = 5;
const VERSION = 1;
/** Largest frame payload: a run of pages is cut at this size. */
const MAX_FRAME = 1 << 20;
/** Largest state record one frame may carry. */
const MAX_STATE_FRAME = 64 << 20;
const ZEROS = Buffer.alloc(MAX_FRAME);
/** Most state records, and most state bytes in all, a target takes from one source. */
export const MAX_MIGRATION_RECORDS = 4096;
const MAX_STATE_TOTAL = 256 << 20;

/** How the source side runs a migration. */
export interface MigrationSourceOptions {
  /** The guest's memory; every region must track dirty pages. */
  readonly memory: GuestMemoryMmap;
  /** Pauses the vCPUs (e.g. `() => pool.pause()`); their writes must be in the dirty bitmaps once it resolves. */
  readonly pause: () => Promise<unknown> | unknown;
  /** Resumes them (e.g. `() => pool.resume()`): called when the migration fails after the pause. */
  readonly resume: () => unknown;
  /** The machine's state records, asked for while paused (as for saveMachineSnapshot). */
  readonly state: () => MachineState | Promise<MachineState>;
  /** Most pre-copy rounds after the first full pass (default 8). */
  readonly maxRounds?: number;
  /** Pause once a round has at most this many dirty bytes left (default 1 MiB). */
  readonly stopBelow?: number;
  /**
   * Fail (and resume the guest) when the target neither reads nor answers for this many
   * milliseconds (default 30 000): a target that stops, or a network that loses it, does not
   * hold the source, paused or not, for ever.
   */
  readonly stallMs?: number;
}

/** What a migration did. */
export interface MigrationReport {
  /** Passes over memory while the guest ran (the full pass included). */
  readonly rounds: number;
  /** Pages sent in all (a page dirtied twice is sent twice). */
  readonly pages: number;
  /** Bytes written to the stream in all. */
  readonly bytes: number;
  /** Milliseconds from the pause to the target's confirmation (source side). */
  readonly downtimeMs: number;
  /** Milliseconds of the whole migration. */
  readonly totalMs: number;
}

/** What a source sent, as its DONE frame states (checked by the target). */
export interface MigrationTotals {
  /** Passes over memory while the guest ran. */
  readonly rounds: number;
  /** Pages sent. */
  readonly pages: number;
  /** Bytes of frames before the DONE frame. */
  readonly bytes: number;
}

/** How the target side receives a migration. */
export interface MigrationTargetOptions extends MappingOptions {
  /**
   * Called with what arrived once every frame and the totals check out, before the target
   * confirms: throw (or reject) to refuse the guest, e.g. when its state records are of another
   * machine. The source then resumes it, and migrateFrom rejects with ERR_MIGRATION.
   */
  readonly accept?: (state: Record<string, unknown>, memory: GuestMemoryMmap) => void | Promise<void>;
  /** Fail when the source sends nothing for this many milliseconds (default 30 000). */
  readonly stallMs?: number;
}

/** What the target side received. */
export interface MigratedMachine {
  /** The guest's memory, laid out as on the source. */
  readonly memory: GuestMemoryMmap;
  /** Its state records. */
  readonly state: Record<string, unknown>;
  /** What the source said it sent. */
  readonly report: MigrationTotals;
}

const stallOption = (v: number | undefined): number => {
  if (v === undefined) return 30_000;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw typeError('options.stallMs', 'a positive number of milliseconds', v);
  return v;
};

const failure = (message: string, cause?: unknown): SnapshotError =>
  new SnapshotError('ERR_MIGRATION', message, cause === undefined ? undefined : { cause });

function frame(type: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  head.writeUInt32LE(crc32(payload), 8);
  return Buffer.concat([head, payload]);
}

/** Reads whole frames off a stream, checking each one's length bound and checksum. */
class FrameReader {
  readonly #stream: Duplex;
  #chunks: Buffer[] = [];
  #have = 0;
  #ended = false;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  readonly #onData = (b: Buffer): void => {
    this.#chunks.push(b);
    this.#have += b.length;
    // hold at most a frame and a chunk: pause the socket until the reader catches up
    if (this.#have > MAX_STATE_FRAME + 12) this.#stream.pause();
    this.#poke();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#poke();
  };
  readonly #onError = (e: unknown): void => {
    this.#error = e;
    this.#poke();
  };

  readonly #stallMs: number;

  constructor(stream: Duplex, stallMs: number) {
    this.#stream = stream;
    this.#stallMs = stallMs;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
  }

  detach(): void {
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('error', this.#onError);
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async #need(n: number): Promise<Buffer> {
    while (this.#have < n) {
      if (this.#error !== null) throw failure('the connection failed', this.#error);
      if (this.#ended) throw failure('the connection closed in the middle of the migration');
      this.#stream.resume();
      let timer: NodeJS.Timeout | undefined;
      const moved = await new Promise<boolean>((r) => {
        this.#wake = () => r(true);
        timer = setTimeout(() => r(false), this.#stallMs);
      });
      clearTimeout(timer);
      if (!moved) throw stalled(this.#stallMs);
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#have = rest.length;
    return out;
  }

  /** The next frame: its type and verified payload. */
  async next(): Promise<[number, Buffer]> {
    const head = await this.#need(12);
    const type = head.readUInt32LE(0);
    const len = head.readUInt32LE(4);
    const crc = head.readUInt32LE(8);
    if (type < HELLO || type > ACK) throw failure(`a frame of unknown type ${type}`);
    if (len > (type === STATE ? MAX_STATE_FRAME : MAX_FRAME + 8))
      throw failure(`a frame of ${len} bytes (type ${type})`);
    const payload = Buffer.from(await this.#need(len));
    if (crc32(payload) !== crc) throw failure(`a frame (type ${type}) fails its checksum`);
    return [type, payload];
  }
}

/** The error of a peer that neither read nor wrote for `ms` milliseconds. */
const stalled = (ms: number): SnapshotError => failure(`the other side stalled: nothing moved for ${ms} ms`);

/** Writes with backpressure; rejects if the stream fails or does not drain within stallMs. */
function send(stream: Duplex, b: Buffer, stallMs: number): Promise<void> | undefined {
  if (stream.destroyed) return Promise.reject(failure('the connection closed in the middle of the migration'));
  if (stream.write(b)) return undefined;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(stalled(stallMs)), stallMs);
    const done = (e?: unknown): void => {
      clearTimeout(timer);
      stream.off('drain', ok);
      stream.off('close', closed);
      stream.off('error', done);
      if (e === undefined) resolve();
      else reject(e instanceof SnapshotError ? e : failure('the connection failed', e));
    };
    const ok = (): void => done();
    const closed = (): void => done(new Error('closed'));
    stream.once('drain', ok);
    stream.once('close', closed);
    stream.once('error', done);
  });
}

/**
 * Migrates the running guest of `options.memory` over `stream` to a `migrateFrom` on the other
 * end; resolves once the target confirmed it holds the guest (stop the source's vCPUs then).
 * If the connection or the target fails at any point, the vCPUs are resumed (when they were
 * paused) and it rejects with SnapshotError ERR_MIGRATION: nothing of the source is lost.
 * @example const report = await migrateTo(socket, { memory, pause: () => pool.pause(), resume: () => pool.resume(), state });
 */
export async function migrateTo(stream: Duplex, options: MigrationSourceOptions): Promise<MigrationReport> {
  if (typeof stream !== 'object' || stream === null || typeof stream.write !== 'function')
    throw typeError('stream', 'a duplex byte stream', stream);
  const { memory: mem } = options;
  if (!(mem instanceof GuestMemoryMmap)) throw typeError('options.memory', 'a GuestMemoryMmap', mem);
  for (const f of ['pause', 'resume', 'state'] as const)
    if (typeof options[f] !== 'function') throw typeError(`options.${f}`, 'a function', options[f]);
  const bitmaps = [...mem.iter()].map((r) => r.mapping.bitmap);
  if (bitmaps.some((b) => b === null))
    throw new SnapshotError('ERR_SNAPSHOT_UNTRACKED', 'a live migration needs every region created with trackDirty');
  const maxRounds = options.maxRounds ?? 8;
  const stopBelow = options.stopBelow ?? 1 << 20;
  const pageSize = bitmaps[0]!.pageSize;
  const stallMs = stallOption(options.stallMs);
  const t0 = performance.now();
  const reader = new FrameReader(stream, stallMs);
  let paused = false;
  let pauseAt = 0;
  let pages = 0;
  let bytes = 0;
  let rounds = 0;
  const put = async (b: Buffer): Promise<void> => {
    bytes += b.length;
    await send(stream, b, stallMs);
  };
  const sendPages = async (list: readonly number[], skipZero: boolean): Promise<void> => {
    for (const [addr, len] of runs(mem, list, pageSize, MAX_FRAME)) {
      const payload = Buffer.allocUnsafe(8 + len);
      payload.writeBigUInt64LE(BigInt(addr), 0);
      mem.readSlice(payload.subarray(8), addr);
      if (skipZero && payload.subarray(8).equals(ZEROS.subarray(0, len))) continue; // the target's memory is zero already
      pages += Math.ceil(len / pageSize);
      await put(frame(PAGES, payload));
    }
  };
  try {
    const regions = [...mem.iter()].map((r) => ({ base: r.startAddr, size: r.len }));
    await put(frame(HELLO, Buffer.from(JSON.stringify({ version: VERSION, pageSize, regions }))));
    // the full pass: every page, after a reset (so what is written meanwhile is in round 1)
    mem.dirtyPages({ reset: true });
    const all: number[] = [];
    for (const r of regions) for (let a = r.base; a < r.base + r.size; a += pageSize) all.push(a);
    await sendPages(all, true);
    rounds = 1;
    for (; rounds <= maxRounds; rounds++) {
      const dirty = mem.dirtyPages({ reset: true });
      if (dirty.length * pageSize <= stopBelow) {
        // small enough: these go after the pause with the last ones
        for (const p of dirty) {
          const r = mem.findRegion(p)!;
          r.mapping.bitmap!.setAddrRange(p - r.startAddr, 1);
        }
        break;
      }
      await sendPages(dirty, false);
    }
    pauseAt = performance.now();
    await options.pause();
    paused = true;
    await sendPages(mem.dirtyPages({ reset: true }), false);
    const state = await options.state();
    const names = Object.keys(state);
    for (const name of names) {
      const n = Buffer.from(name);
      let v: Buffer;
      try {
        v = serialize(state[name]);
      } catch (e) {
        throw Object.assign(typeError(`state.${name}`, 'structured-clone data', state[name]), { cause: e });
      }
      const head = Buffer.alloc(4);
      head.writeUInt32LE(n.length, 0);
      await put(frame(STATE, Buffer.concat([head, n, v])));
    }
    await put(frame(DONE, Buffer.from(JSON.stringify({ rounds, pages, bytes, records: names.length }))));
    const [type, payload] = await reader.next();
    if (type !== ACK) throw failure(`the target answered with a frame of type ${type}`);
    const ack = JSON.parse(payload.toString('utf8')) as { ok?: boolean; error?: string };
    if (ack.ok !== true) throw failure(`the target refused the migration: ${ack.error ?? 'no reason given'}`);
    const end = performance.now();
    return { rounds, pages, bytes, downtimeMs: end - pauseAt, totalMs: end - t0 };
  } catch (e) {
    // the guest stays here: whatever was sent is dropped with the target
    if (paused) options.resume();
    stream.destroy();
    throw e instanceof SnapshotError || e instanceof TypeError ? e : failure('the migration failed', e);
  } finally {
    reader.detach();
  }
}

/**
 * Receives a migration from `migrateTo` on the other end of `stream`: builds the guest's memory
 * (anonymous regions laid out as on the source; `options.trackDirty` as for fromRanges), applies
 * every frame as it comes (each checked), checks the totals, confirms, and resolves with the
 * memory and the state records: start the vCPUs on them. A bad frame, a layout it cannot map or
 * a cut connection rejects with SnapshotError ERR_MIGRATION (and tells the source, if it can);
 * so does `options.accept` throwing, the target's own last check before it confirms.
 * @example const { memory, state } = await migrateFrom(socket);
 */
export async function migrateFrom(stream: Duplex, options?: MigrationTargetOptions): Promise<MigratedMachine> {
  if (typeof stream !== 'object' || stream === null || typeof stream.write !== 'function')
    throw typeError('stream', 'a duplex byte stream', stream);
  const accept = options?.accept;
  if (accept !== undefined && typeof accept !== 'function') throw typeError('options.accept', 'a function', accept);
  const stallMs = stallOption(options?.stallMs);
  const reader = new FrameReader(stream, stallMs);
  let mem: GuestMemoryMmap | null = null;
  const state: Record<string, unknown> = {};
  let pages = 0;
  let bytes = 0;
  let pageSize = 0;
  let stateBytes = 0;
  try {
    for (;;) {
      const [type, payload] = await reader.next();
      bytes += 12 + payload.length;
      if (mem === null) {
        if (type !== HELLO) throw failure('the stream does not start with a migration header');
        const h = JSON.parse(payload.toString('utf8')) as {
          version?: number;
          pageSize?: number;
          regions?: { base: number; size: number }[];
        };
        if (h.version !== VERSION || !Number.isSafeInteger(h.pageSize) || !Array.isArray(h.regions))
          throw failure('a migration header of another version or shape');
        pageSize = h.pageSize!;
        try {
          mem = GuestMemoryMmap.fromRanges(
            h.regions.map((r) => [r.base, r.size] as const),
            options?.trackDirty === undefined ? undefined : { trackDirty: options.trackDirty },
          );
        } catch (e) {
          throw failure('the target cannot map the guest layout', e);
        }
        continue;
      }
      if (type === PAGES) {
        if (payload.length < 8) throw failure('a page frame without an address');
        const addr = Number(payload.readBigUInt64LE(0));
        const data = payload.subarray(8);
        if (!mem.checkRange(addr, data.length)) throw failure(`pages [${addr}, +${data.length}) outside the guest`);
        mem.writeSlice(data, addr);
        pages += Math.ceil(data.length / pageSize);
      } else if (type === STATE) {
        // a hostile source may not grow the target's memory without bound
        stateBytes += payload.length;
        if (Object.keys(state).length >= MAX_MIGRATION_RECORDS || stateBytes > MAX_STATE_TOTAL)
          throw failure(`more than ${MAX_MIGRATION_RECORDS} state records or ${MAX_STATE_TOTAL} state bytes`);
        const n = payload.readUInt32LE(0);
        if (4 + n > payload.length) throw failure('a damaged state frame');
        const name = payload.subarray(4, 4 + n).toString('utf8');
        try {
          state[name] = deserialize(payload.subarray(4 + n));
        } catch (e) {
          throw failure(`the state record ${name} cannot be decoded`, e);
        }
      } else if (type === DONE) {
        const d = JSON.parse(payload.toString('utf8')) as {
          rounds: number;
          pages: number;
          bytes: number;
          records: number;
        };
        if (d.pages !== pages || d.bytes !== bytes - 12 - payload.length || d.records !== Object.keys(state).length)
          throw failure(
            `the totals differ: ${d.pages} pages, ${d.bytes} bytes, ${d.records} records sent; ${pages}, ${bytes - 12 - payload.length}, ${Object.keys(state).length} received`,
          );
        if (accept !== undefined) {
          try {
            await accept(state, mem);
          } catch (e) {
            throw failure(`the target refused the guest: ${e instanceof Error ? e.message : String(e)}`, e);
          }
        }
        mem.resetDirty();
        await send(stream, frame(ACK, Buffer.from(JSON.stringify({ ok: true }))), stallMs);
        return { memory: mem, state, report: { rounds: d.rounds, pages, bytes: d.bytes } };
      } else {
        throw failure(`an unexpected frame of type ${type}`);
      }
    }
  } catch (e) {
    const err = e instanceof SnapshotError ? e : failure('the migration failed', e);
    try {
      stream.write(frame(ACK, Buffer.from(JSON.stringify({ ok: false, error: err.message }))));
    } catch {
      // the connection is gone: the source sees that instead
    }
    stream.end();
    throw err;
  } finally {
    reader.detach();
  }
}
