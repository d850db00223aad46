import { randomUUID } from 'node:crypto';
import { BroadcastChannel, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { GuestMemoryMmap, type SharedGuestMemory } from './guest-memory.js';
import { checkTimeout, typeError } from './internal/args.js';
import { GuestMemoryAtomicError } from './guest-memory-atomic-error.js';
import { now, POLL_MS } from './clock.js';

// Control words (Int32 indices).
const VERSION = 0;
/** The lock word: 0 when free, else the holder's worker threadId + 1 (so a waiter can name it). */
const LOCK = 1;
/** How long `lock()` waits by default before it gives up and names the holder. */
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
const MY_TOKEN = threadId + 1;
const CONTROL_WORDS = 2;

/** The structured-clone-safe form of a GuestMemoryAtomic. */
export interface SharedGuestMemoryAtomic {
  /** Tags the descriptor for `GuestMemoryAtomic.fromShared`. */
  readonly descriptor: 'guestmem.GuestMemoryAtomic';
  /** Version and lock words, shared by every thread. */
  readonly control: SharedArrayBuffer;
  /** Name of the BroadcastChannel new maps travel on. */
  readonly channel: string;
  /** Version of `memory` when the descriptor was made. */
  readonly version: number;
  /** The map current at that version. */
  readonly memory: SharedGuestMemory;
}

interface Update {
  readonly type: 'update';
  readonly version: number;
  readonly memory: SharedGuestMemory;
}
interface Request {
  readonly type: 'request';
  readonly version: number;
}

/**
 * GuestMemoryAtomic: a guest memory map that can be replaced (regions hot-plugged or removed)
 * while other threads use it, as vm-memory's `GuestMemoryAtomic` over an `ArcSwap`.
 *
 * Each thread holds its own GuestMemoryAtomic over one shared control buffer. `memory()` returns
 * the current snapshot, an immutable GuestMemoryMmap that never changes under its holder; a
 * replacement is made under `lock()` and picked up by every thread at its next `memory()` call.
 *
 * Across threads: a SharedArrayBuffer holds the version and the lock word; new maps travel as
 * `share()` descriptors on a BroadcastChannel, which a reader drains synchronously
 * (`receiveMessageOnPort`) when it sees a new version, so `memory()` never waits for the event
 * loop. The publisher posts before it bumps the version, so a reader that sees the version finds
 * the message already queued. A reader created after the post (from an older descriptor) asks
 * for the current map and keeps its older, still valid snapshot until the answer arrives.
 *
 * Messages hold the regions' buffers, so a thread that never calls `memory()` keeps removed
 * regions mapped until it does, or until its GuestMemoryAtomic is closed.
 */
export class GuestMemoryAtomic {
  readonly #control: Int32Array;
  readonly #name: string;
  #channel: BroadcastChannel | null;
  #current: GuestMemoryMmap;
  #version: number;
  /** The newest update received but not yet applied. */
  #pending: Update | null = null;
  /** The version this thread asked for, so it asks once. */
  #requested = -1;
  #held = false;

  /**
   * Wraps `mem` as the first snapshot. Throws TypeError if `mem` is not a GuestMemoryMmap.
   * @example const atomic = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 1 << 20]]));
   */
  constructor(mem: GuestMemoryMmap);
  /** @internal */
  constructor(mem: GuestMemoryMmap, shared: SharedGuestMemoryAtomic);
  constructor(mem: GuestMemoryMmap, shared?: SharedGuestMemoryAtomic) {
    if (!(mem instanceof GuestMemoryMmap)) throw typeError('mem', 'a GuestMemoryMmap', mem);
    this.#current = mem;
    this.#control = new Int32Array(shared?.control ?? new SharedArrayBuffer(CONTROL_WORDS * 4));
    this.#name = shared?.channel ?? `guestmem.atomic.${randomUUID()}`;
    this.#version = shared?.version ?? 0;
    const ch = new BroadcastChannel(this.#name);
    ch.onmessage = (ev: unknown) => this.#receive((ev as MessageEvent).data as Update | Request);
    ch.unref(); // never keeps a thread alive on its own
    this.#channel = ch;
  }

  /** Rebuilds, in any thread, a GuestMemoryAtomic over the same memory and control words. */
  static fromShared(shared: SharedGuestMemoryAtomic): GuestMemoryAtomic {
    if (
      typeof shared !== 'object' ||
      shared === null ||
      shared.descriptor !== 'guestmem.GuestMemoryAtomic' ||
      !(shared.control instanceof SharedArrayBuffer) ||
      typeof shared.channel !== 'string'
    ) {
      throw typeError('shared', 'a descriptor from GuestMemoryAtomic.share()', shared);
    }
    if (shared.control.byteLength !== CONTROL_WORDS * 4) {
      throw typeError('shared.control', `the control SharedArrayBuffer of ${CONTROL_WORDS * 4} bytes`, shared.control);
    }
    if (typeof shared.version !== 'number' || !Number.isInteger(shared.version)) {
      throw typeError('shared.version', 'the integer version of the descriptor', shared.version);
    }
    return new GuestMemoryAtomic(GuestMemoryMmap.fromShared(shared.memory), shared);
  }

  /**
   * A structured-clone-safe descriptor of the current map and the shared control words (no
   * copy of guest memory). Post it to a worker and rebuild there with `fromShared`.
   * @example worker.postMessage(atomic.share())
   */
  share(): SharedGuestMemoryAtomic {
    const mem = this.memory();
    return {
      descriptor: 'guestmem.GuestMemoryAtomic',
      control: this.#control.buffer as SharedArrayBuffer,
      channel: this.#name,
      version: this.#version,
      memory: mem.share(),
    };
  }

  /**
   * The current snapshot: an immutable map that stays valid (and mapped) while held, even after
   * a replacement. One atomic load when nothing changed.
   * @example const mem = atomic.memory(); mem.writeObj(u32, 1, 0x1000);
   */
  memory(): GuestMemoryMmap {
    if (Atomics.load(this.#control, VERSION) !== this.#version) this.#refresh();
    return this.#current;
  }

  /** The version of the newest map published by any thread (0 at creation, +1 per replace). */
  get version(): number {
    return Atomics.load(this.#control, VERSION);
  }

  /**
   * Takes the cross-thread lock that serializes replacements, blocking (Atomics.wait) while
   * another thread holds it, for at most `timeoutMs` (default 10 s; `Infinity` waits forever).
   * Returns a guard; call `guard.replace(newMem)` then `guard.unlock()` (or `using`). Throws
   * GuestMemoryAtomicError ERR_GUESTMEM_LOCK if this GuestMemoryAtomic already holds the lock,
   * or when the timeout passes, with `holder` set to the holding thread's `threadId`: a thread
   * that died holding the lock (terminated, or threw without unlocking) never releases it, and
   * `forceUnlock(holder)` recovers it once you know that thread is gone (its Worker's 'exit').
   * A guard that is garbage-collected still locked (its thread threw past it) releases the lock.
   * @example const g = atomic.lock(); try { g.replace(g.memory().insertRegion(r)); } finally { g.unlock(); }
   */
  lock(timeoutMs?: number): GuestMemoryGuard {
    const timeout = timeoutMs === undefined ? DEFAULT_LOCK_TIMEOUT_MS : checkTimeout('timeoutMs', timeoutMs);
    if (this.#held) throw lockError('this GuestMemoryAtomic already holds the lock');
    const deadline = now() + timeout;
    for (;;) {
      const holder = Atomics.compareExchange(this.#control, LOCK, 0, MY_TOKEN);
      if (holder === 0) break;
      const left = deadline - now();
      if (left <= 0) {
        throw lockError(
          `the lock is still held by thread ${holder - 1} after ${timeout} ms (if that thread died, forceUnlock(${holder - 1}) recovers it)`,
          holder - 1,
        );
      }
      Atomics.wait(this.#control, LOCK, holder, Math.min(left, POLL_MS));
    }
    this.#held = true;
    const guard = new GuestMemoryGuard(this);
    dropped.register(guard, { atomic: new WeakRef(this), control: this.#control }, guard);
    return guard;
  }

  /**
   * Releases a lock held by thread `holder` (its `threadId`) that will never release it: that
   * thread was terminated or exited while holding it. Returns false, changing nothing, if the
   * lock is free or held by another thread. Releasing the lock of a thread that is still running
   * breaks mutual exclusion: call it only for a thread known to be gone.
   */
  forceUnlock(holder: number): boolean {
    if (!Number.isSafeInteger(holder) || holder < 0) throw typeError('holder', 'a threadId', holder);
    if (Atomics.compareExchange(this.#control, LOCK, holder + 1, 0) !== holder + 1) return false;
    Atomics.notify(this.#control, LOCK, 1);
    return true;
  }

  /** @internal Publishes `mem` as the next version; the caller holds the lock. */
  publish(mem: GuestMemoryMmap): void {
    if (!(mem instanceof GuestMemoryMmap)) throw typeError('mem', 'a GuestMemoryMmap', mem);
    const version = Atomics.load(this.#control, VERSION) + 1;
    // Post first, bump second: a reader that sees the new version finds the message queued.
    this.#channel?.postMessage({ type: 'update', version, memory: mem.share() } satisfies Update);
    this.#current = mem;
    this.#version = version;
    this.#pending = null;
    Atomics.store(this.#control, VERSION, version);
  }

  /** @internal */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    // Only our own token: after a forceUnlock another thread may hold it now.
    if (Atomics.compareExchange(this.#control, LOCK, MY_TOKEN, 0) === MY_TOKEN) Atomics.notify(this.#control, LOCK, 1);
  }

  /**
   * Stops receiving replacements in this thread (releasing the queued maps); `memory()` keeps
   * returning the last snapshot. Idempotent.
   */
  close(): void {
    this.release();
    this.#channel?.close();
    this.#channel = null;
    this.#pending = null;
  }

  #receive(msg: Update | Request): void {
    if (msg.type === 'update') {
      if (msg.version > this.#version && (this.#pending === null || msg.version > this.#pending.version)) {
        this.#pending = msg;
      }
    } else if (msg.type === 'request' && msg.version === this.#version && this.#version > 0) {
      // Someone started from an older descriptor and missed the post: send ours again.
      this.#channel?.postMessage({ type: 'update', version: this.#version, memory: this.#current.share() });
    }
  }

  #refresh(): void {
    const ch = this.#channel;
    if (ch === null) return;
    for (let m = receiveMessageOnPort(ch as never); m !== undefined; m = receiveMessageOnPort(ch as never)) {
      this.#receive(m.message as Update | Request);
    }
    const latest = Atomics.load(this.#control, VERSION);
    const p = this.#pending;
    if (p !== null && p.version >= this.#version) {
      this.#current = GuestMemoryMmap.fromShared(p.memory);
      this.#version = p.version;
      this.#pending = null;
    }
    if (this.#version !== latest && this.#requested !== latest) {
      this.#requested = latest;
      ch.postMessage({ type: 'request', version: latest } satisfies Request);
    }
  }
}

/** The holder of a GuestMemoryAtomic's lock. */
export class GuestMemoryGuard {
  readonly #atomic: GuestMemoryAtomic;
  #open = true;

  /** @internal */
  constructor(atomic: GuestMemoryAtomic) {
    this.#atomic = atomic;
  }

  /** The current snapshot (the one to derive the replacement from). */
  memory(): GuestMemoryMmap {
    return this.#atomic.memory();
  }

  /**
   * Makes `mem` the current map for every thread (each sees it at its next `memory()` call).
   * Throws Error (ERR_GUESTMEM_LOCK) after unlock, TypeError if `mem` is not a GuestMemoryMmap.
   */
  replace(mem: GuestMemoryMmap): void {
    if (!this.#open) throw lockError('replace() after unlock()');
    this.#atomic.publish(mem);
  }

  /** Releases the lock. Idempotent. */
  unlock(): void {
    if (!this.#open) return;
    this.#open = false;
    dropped.unregister(this);
    this.#atomic.release();
  }

  /** `using g = atomic.lock()` unlocks at the end of the block. */
  [Symbol.dispose](): void {
    this.unlock();
  }
}

function lockError(message: string, holder?: number): GuestMemoryAtomicError {
  return new GuestMemoryAtomicError('ERR_GUESTMEM_LOCK', message, holder);
}

/**
 * Guards collected while still locked: their thread went on (an exception past the guard)
 * without unlocking. Releases the lock if this thread still holds it.
 */
const dropped = new FinalizationRegistry<{ atomic: WeakRef<GuestMemoryAtomic>; control: Int32Array }>((held) => {
  const atomic = held.atomic.deref();
  if (atomic !== undefined) atomic.release();
  else if (Atomics.compareExchange(held.control, LOCK, MY_TOKEN, 0) === MY_TOKEN) Atomics.notify(held.control, LOCK, 1);
});
