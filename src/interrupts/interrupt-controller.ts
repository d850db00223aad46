import { checkFunction, rangeError, typeError } from '../internal/args.js';

/** Most sources one controller routes (a GIC has at most 988 shared lines, a PLIC 1023). */
export const MAX_IRQ_SOURCES = 4096;
/** Most targets one controller delivers to (hart contexts, CPU interfaces, local APICs). */
export const MAX_IRQ_TARGETS = 1024;

// A source's word: its input line and where it is in the pending/in-service cycle.
const LEVEL = 1; // the input line is high
const PENDING = 2; // waiting for a target to claim it
const ACTIVE = 4; // claimed, not completed yet

/** How a controller is sized, and how it reaches its targets in this thread. */
export interface InterruptControllerOptions {
  /** Number of sources, 1 to MAX_IRQ_SOURCES; source ids are 0 to sources - 1. */
  readonly sources: number;
  /** Number of targets, 1 to MAX_IRQ_TARGETS; target ids are 0 to targets - 1. */
  readonly targets: number;
  /** Highest priority a source can have (1 to 255; default 7). Priority 0 never delivers. */
  readonly maxPriority?: number;
}

/** What each thread that uses a controller injects. */
export interface InterruptDelivery {
  /**
   * Called (in the thread that made the change) when target `target` may have an interrupt to
   * take: wake the vCPU behind it (`ctx.kick`, `pool.kick`, `DeviceThread.kick`). It may be
   * called when nothing is deliverable any more (another target claimed first); the target
   * checks `pending()`.
   */
  readonly kick?: (target: number) => void;
}

/** A controller's memory and size, to rebuild it in another thread (`fromShared`). */
export interface SharedInterruptController {
  /** What this object is (checked by `fromShared`). */
  readonly descriptor: 'guestmem.InterruptController';
  /** As the controller's `sources`. */
  readonly sources: number;
  /** As the controller's `targets`. */
  readonly targets: number;
  /** As the controller's `maxPriority`. */
  readonly maxPriority: number;
  /** The controller's words: source states, priorities, the pending bitmap, enables, thresholds. */
  readonly buffer: SharedArrayBuffer;
}

/** A controller's state as plain (structured-clone) data. */
export interface InterruptControllerState {
  /** As the controller's `sources`. */
  readonly sources: number;
  /** As the controller's `targets`. */
  readonly targets: number;
  /** As the controller's `maxPriority`. */
  readonly maxPriority: number;
  /** Per source: its input line is high. */
  readonly level: readonly boolean[];
  /** Per source: raised and not claimed yet. */
  readonly pending: readonly boolean[];
  /** Per source: claimed and not completed yet. */
  readonly active: readonly boolean[];
  /** Per source: its priority (0 to maxPriority). */
  readonly priority: readonly number[];
  /** Per target: the source ids enabled for it, ascending. */
  readonly enabled: readonly (readonly number[])[];
  /** Per target: its threshold (a source delivers when its priority is above it). */
  readonly threshold: readonly number[];
}

const checkCount = (name: string, v: unknown, max: number): number => {
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!Number.isInteger(v) || v < 1 || v > max) throw rangeError(name, `an integer from 1 to ${max}`, v);
  return v;
};

/**
 * A shared interrupt controller: N level-triggered (or edge) sources routed to M targets, its
 * whole state in one SharedArrayBuffer so that any thread (a vCPU, a device thread, the main
 * thread) raises, lowers, claims and completes. A platform's controller is glue over it: a
 * RISC-V PLIC (contexts as targets, claim/complete registers), a GIC distributor (SPIs as
 * sources, CPU interfaces as targets, priorities inverted), an IOAPIC (pins as sources, one
 * enabled target per pin from its redirection entry).
 *
 * A source has an input line and a cycle: raised (the line goes high, or `trigger` for an edge)
 * it becomes pending; a target's `claim` takes the best pending source enabled for it (highest
 * priority above the target's threshold, lowest id on a tie) and makes it active; `complete`
 * ends the service, and a line still high makes it pending again. While active, a level source
 * is not pending again; lowering the line withdraws a pending level request. Delivery kicks
 * every target the new request can reach (the injected `kick`); each target's vCPU polls
 * `pending(target)`, a few atomic loads, at its interrupt checks.
 *
 * Every transition is one compare-and-swap on the source's own word, so the controller takes
 * no lock: a thread stopped at any point leaves it consistent for the others.
 *
 * @example
 * const irq = new InterruptController({ sources: 33, targets: 2 * harts });
 * irq.setPriority(10, 1); irq.setEnabled(0, 10, true);
 * irq.setLevel(10, true);           // a device thread raises source 10
 * irq.pending(0);                   // true: target 0 has something to claim
 * const s = irq.claim(0);           // 10; complete(0, 10) when handled
 */
export class InterruptController {
  /** Number of sources (ids 0 to sources - 1). */
  readonly sources: number;
  /** Number of targets (ids 0 to targets - 1). */
  readonly targets: number;
  /** Highest priority a source or threshold can have. */
  readonly maxPriority: number;
  readonly #buffer: SharedArrayBuffer;
  readonly #w: Int32Array;
  readonly #words: number; // 32-bit words of a per-source bitmap
  readonly #prio: number; // start of the priorities
  readonly #summary: number; // start of the pending bitmap (a hint kept in step with the words)
  readonly #enable: number; // start of the per-target enable bitmaps
  readonly #threshold: number; // start of the per-target thresholds
  #kick: ((target: number) => void) | undefined;
  /** The buffer `fromShared` hands to the constructor it calls. */
  static #adopting: unknown = null;

  constructor(options: InterruptControllerOptions, delivery: InterruptDelivery = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
    const sources = checkCount('sources', options.sources, MAX_IRQ_SOURCES);
    const targets = checkCount('targets', options.targets, MAX_IRQ_TARGETS);
    const maxPriority = options.maxPriority === undefined ? 7 : checkCount('maxPriority', options.maxPriority, 255);
    const words = Math.ceil(sources / 32);
    const bytes = 4 * (2 * sources + words + targets * words + targets);
    const adopt = InterruptController.#adopting;
    if (adopt !== null && (!(adopt instanceof SharedArrayBuffer) || adopt.byteLength !== bytes)) {
      throw typeError('shared.buffer', `a SharedArrayBuffer of ${bytes} bytes`, adopt);
    }
    const buffer = adopt ?? new SharedArrayBuffer(bytes);
    this.sources = sources;
    this.targets = targets;
    this.maxPriority = maxPriority;
    this.#buffer = buffer;
    this.#w = new Int32Array(buffer);
    this.#words = words;
    this.#prio = sources;
    this.#summary = 2 * sources;
    this.#enable = this.#summary + words;
    this.#threshold = this.#enable + targets * words;
    this.#kick = checkDelivery(delivery);
  }

  /** The same controller in this thread, from another thread's `share()`. */
  static fromShared(shared: SharedInterruptController, delivery: InterruptDelivery = {}): InterruptController {
    if (typeof shared !== 'object' || shared === null || shared.descriptor !== 'guestmem.InterruptController') {
      throw typeError('shared', "an InterruptController's share()", shared);
    }
    if (!(shared.buffer instanceof SharedArrayBuffer))
      throw typeError('shared.buffer', 'a SharedArrayBuffer', shared.buffer);
    InterruptController.#adopting = shared.buffer;
    try {
      return new InterruptController(shared, delivery);
    } finally {
      InterruptController.#adopting = null;
    }
  }

  /** A controller rebuilt from `state()` (new shared memory; share it again). */
  static fromState(state: InterruptControllerState, delivery: InterruptDelivery = {}): InterruptController {
    if (typeof state !== 'object' || state === null) throw typeError('state', 'an object', state);
    const c = new InterruptController(state, delivery);
    const n = c.sources;
    const list = (name: string, v: unknown, len: number): unknown[] => {
      if (!Array.isArray(v) || v.length !== len) throw typeError(`state.${name}`, `an array of ${len}`, v);
      return v;
    };
    const level = list('level', state.level, n);
    const pending = list('pending', state.pending, n);
    const active = list('active', state.active, n);
    const priority = list('priority', state.priority, n);
    for (let s = 0; s < n; s++) {
      const flags = [level[s], pending[s], active[s]];
      if (!flags.every((f) => typeof f === 'boolean')) throw typeError(`state source ${s}`, 'booleans', flags);
      c.setPriority(s, priority[s] as number);
      const word = (level[s] ? LEVEL : 0) | (pending[s] ? PENDING : 0) | (active[s] ? ACTIVE : 0);
      Atomics.store(c.#w, s, word);
      c.#syncSummary(s);
    }
    const enabled = list('enabled', state.enabled, c.targets);
    const threshold = list('threshold', state.threshold, c.targets);
    for (let t = 0; t < c.targets; t++) {
      const ids = list(`enabled[${t}]`, enabled[t], (enabled[t] as unknown[] | undefined)?.length ?? -1);
      for (const s of ids) c.setEnabled(t, s as number, true);
      c.setThreshold(t, threshold[t] as number);
    }
    return c;
  }

  /** This controller's memory, for `fromShared` in another thread. */
  share(): SharedInterruptController {
    return {
      descriptor: 'guestmem.InterruptController',
      sources: this.sources,
      targets: this.targets,
      maxPriority: this.maxPriority,
      buffer: this.#buffer,
    };
  }

  /** Replaces this thread's kick (e.g. once the pool that runs the targets exists). */
  setDelivery(delivery: InterruptDelivery): void {
    this.#kick = checkDelivery(delivery);
  }

  // ---- sources ----

  /** Drives source `source`'s input line (level-triggered). */
  setLevel(source: number, high: boolean): void {
    const s = this.#source(source);
    const w = this.#w;
    for (;;) {
      const old = Atomics.load(w, s);
      let next: number;
      if (high) next = old & ACTIVE ? old | LEVEL : old | LEVEL | PENDING;
      else next = old & LEVEL ? old & ~(LEVEL | PENDING) : old;
      if (next === old) return;
      if (Atomics.compareExchange(w, s, old, next) !== old) continue;
      this.#syncSummary(s);
      if (next & ~old & PENDING) this.#deliver(s);
      return;
    }
  }

  /** An edge on source `source` (or a message-signalled interrupt): pending until claimed. */
  trigger(source: number): void {
    const s = this.#source(source);
    if (Atomics.or(this.#w, s, PENDING) & PENDING) return;
    this.#syncSummary(s);
    this.#deliver(s);
  }

  /** Whether source `source`'s input line is high. */
  level(source: number): boolean {
    return (Atomics.load(this.#w, this.#source(source)) & LEVEL) !== 0;
  }

  /** Whether source `source` waits for a claim. */
  isPending(source: number): boolean {
    return (Atomics.load(this.#w, this.#source(source)) & PENDING) !== 0;
  }

  /** Whether source `source` is claimed and not completed. */
  isActive(source: number): boolean {
    return (Atomics.load(this.#w, this.#source(source)) & ACTIVE) !== 0;
  }

  /** Source `source`'s priority (0 to maxPriority; 0 never delivers). */
  priority(source: number): number {
    return Atomics.load(this.#w, this.#prio + this.#source(source));
  }

  /** Sets source `source`'s priority; raising it may make a pending source deliverable (a kick). */
  setPriority(source: number, priority: number): void {
    const s = this.#source(source);
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > this.maxPriority) {
      throw rangeError('priority', `an integer from 0 to ${this.maxPriority}`, priority);
    }
    if (Atomics.exchange(this.#w, this.#prio + s, priority) < priority && Atomics.load(this.#w, s) & PENDING) {
      this.#deliver(s);
    }
  }

  // ---- targets ----

  /** Whether source `source` is enabled for target `target`. */
  isEnabled(target: number, source: number): boolean {
    const t = this.#target(target);
    const s = this.#source(source);
    return (Atomics.load(this.#w, this.#enable + t * this.#words + (s >>> 5)) & (1 << (s & 31))) !== 0;
  }

  /** Enables or disables source `source` for target `target` (enabling a deliverable pending source kicks). */
  setEnabled(target: number, source: number, on: boolean): void {
    const t = this.#target(target);
    const s = this.#source(source);
    const i = this.#enable + t * this.#words + (s >>> 5);
    const bit = 1 << (s & 31);
    if (!on) {
      Atomics.and(this.#w, i, ~bit);
      return;
    }
    if (Atomics.or(this.#w, i, bit) & bit) return;
    if (Atomics.load(this.#w, s) & PENDING && this.#deliverable(t, s)) this.#kick?.(t);
  }

  /** The enabled bits of sources 32*word to 32*word+31 for `target` (a PLIC enable register). */
  enabledWord(target: number, word: number): number {
    const t = this.#target(target);
    if (!Number.isInteger(word) || word < 0 || word >= this.#words)
      throw rangeError('word', `0 to ${this.#words - 1}`, word);
    return Atomics.load(this.#w, this.#enable + t * this.#words + word) >>> 0;
  }

  /** Sets the enabled bits of sources 32*word to 32*word+31 for `target` at once. */
  setEnabledWord(target: number, word: number, bits: number): void {
    const t = this.#target(target);
    if (!Number.isInteger(word) || word < 0 || word >= this.#words)
      throw rangeError('word', `0 to ${this.#words - 1}`, word);
    // sources past the last one stay disabled
    const last = this.sources - word * 32;
    const mask = last >= 32 ? -1 : (1 << last) - 1;
    const was = Atomics.exchange(this.#w, this.#enable + t * this.#words + word, bits & mask);
    if ((bits & mask & ~was) !== 0 && this.pending(t)) this.#kick?.(t);
  }

  /** Target `target`'s threshold. */
  threshold(target: number): number {
    return Atomics.load(this.#w, this.#threshold + this.#target(target));
  }

  /** A target takes sources whose priority is above its threshold (0 to maxPriority). */
  setThreshold(target: number, threshold: number): void {
    const t = this.#target(target);
    if (
      typeof threshold !== 'number' ||
      !Number.isInteger(threshold) ||
      threshold < 0 ||
      threshold > this.maxPriority
    ) {
      throw rangeError('threshold', `an integer from 0 to ${this.maxPriority}`, threshold);
    }
    if (Atomics.exchange(this.#w, this.#threshold + t, threshold) > threshold && this.pending(t)) this.#kick?.(t);
  }

  /**
   * Whether target `target` has a source to claim: pending, enabled for it, priority above its
   * threshold. The vCPU's interrupt check; two atomic loads per 32 sources when nothing is
   * pending.
   */
  pending(target: number): boolean {
    const t = this.#target(target);
    return this.#best(t) >= 0;
  }

  /**
   * Takes target `target`'s best source (as `pending`): it stops being pending and becomes
   * active. Returns the source id, or -1 if there is none (another target claimed it first).
   */
  claim(target: number): number {
    const t = this.#target(target);
    const w = this.#w;
    for (;;) {
      const s = this.#best(t);
      if (s < 0) return -1;
      const old = Atomics.load(w, s);
      if (!(old & PENDING)) continue;
      if (Atomics.compareExchange(w, s, old, (old & ~PENDING) | ACTIVE) !== old) continue;
      this.#syncSummary(s);
      return s;
    }
  }

  /**
   * Ends the service of `source` by `target`; a line still high makes it pending again. Ignored
   * (returns false) when the source is not active or not enabled for the target, as a PLIC does.
   */
  complete(target: number, source: number): boolean {
    if (!this.isEnabled(target, source)) return false;
    const s = source;
    const w = this.#w;
    for (;;) {
      const old = Atomics.load(w, s);
      if (!(old & ACTIVE)) return false;
      const next = old & LEVEL ? (old & ~ACTIVE) | PENDING : old & ~ACTIVE;
      if (Atomics.compareExchange(w, s, old, next) !== old) continue;
      this.#syncSummary(s);
      if (next & ~old & PENDING) this.#deliver(s);
      return true;
    }
  }

  /** The controller's state as plain data (take it while the targets are paused). */
  state(): InterruptControllerState {
    const n = this.sources;
    const w = this.#w;
    const word = (s: number): number => Atomics.load(w, s);
    const enabled: number[][] = [];
    const threshold: number[] = [];
    for (let t = 0; t < this.targets; t++) {
      const ids: number[] = [];
      for (let s = 0; s < n; s++) if (this.isEnabled(t, s)) ids.push(s);
      enabled.push(ids);
      threshold.push(this.threshold(t));
    }
    return {
      sources: n,
      targets: this.targets,
      maxPriority: this.maxPriority,
      level: Array.from({ length: n }, (_, s) => (word(s) & LEVEL) !== 0),
      pending: Array.from({ length: n }, (_, s) => (word(s) & PENDING) !== 0),
      active: Array.from({ length: n }, (_, s) => (word(s) & ACTIVE) !== 0),
      priority: Array.from({ length: n }, (_, s) => Atomics.load(w, this.#prio + s)),
      enabled,
      threshold,
    };
  }

  // ---- internals ----

  /** The best source for target t (highest priority above threshold, lowest id), or -1. */
  #best(t: number): number {
    const w = this.#w;
    const en = this.#enable + t * this.#words;
    let best = -1;
    let bestPrio = Atomics.load(w, this.#threshold + t);
    for (let i = 0; i < this.#words; i++) {
      let bits = Atomics.load(w, this.#summary + i) & Atomics.load(w, en + i);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const s = i * 32 + b;
        const p = Atomics.load(w, this.#prio + s);
        if (p > bestPrio && Atomics.load(w, s) & PENDING) {
          best = s;
          bestPrio = p;
        }
      }
    }
    return best;
  }

  #deliverable(t: number, s: number): boolean {
    return Atomics.load(this.#w, this.#prio + s) > Atomics.load(this.#w, this.#threshold + t);
  }

  /** Kicks every target that source s (just made pending) can reach. */
  #deliver(s: number): void {
    const kick = this.#kick;
    if (kick === undefined) return;
    const w = this.#w;
    const bit = 1 << (s & 31);
    for (let t = 0, i = this.#enable + (s >>> 5); t < this.targets; t++, i += this.#words) {
      if (Atomics.load(w, i) & bit && this.#deliverable(t, s)) kick(t);
    }
  }

  /**
   * Brings source s's bit of the pending bitmap in step with its word. The last thread to write
   * the bit re-reads the word afterwards, so once every caller has returned the bit is exact.
   */
  #syncSummary(s: number): void {
    const w = this.#w;
    const i = this.#summary + (s >>> 5);
    const bit = 1 << (s & 31);
    for (;;) {
      const p = Atomics.load(w, s) & PENDING;
      if (p) Atomics.or(w, i, bit);
      else Atomics.and(w, i, ~bit);
      if ((Atomics.load(w, s) & PENDING) === p) return;
    }
  }

  #source(v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.sources) {
      throw rangeError('source', `a source id from 0 to ${this.sources - 1}`, v);
    }
    return v;
  }

  #target(v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.targets) {
      throw rangeError('target', `a target id from 0 to ${this.targets - 1}`, v);
    }
    return v;
  }
}

function checkDelivery(delivery: InterruptDelivery): ((target: number) => void) | undefined {
  if (typeof delivery !== 'object' || delivery === null) throw typeError('delivery', 'an object', delivery);
  if (delivery.kick !== undefined) checkFunction('delivery.kick', delivery.kick);
  return delivery.kick;
}
