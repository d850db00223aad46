/**
 * MMIO exits: an access that leaves its vCPU like a KVM MMIO exit. The vCPU posts address,
 * size, direction and data in its mailbox in shared memory and blocks (Atomics.wait) until a
 * device thread answers; one device thread serves every vCPU of a pool.
 *
 * Both reads and writes are acknowledged: the vCPU resumes only after the device thread has
 * run the handler, so a device's side effects (an interrupt raised, a register changed) are in
 * place before the guest's next instruction, as on a real bus that is not posted.
 *
 * Layout (Int32 words): a 16-word header (SERVER_BELL: bumped by every post, what the device
 * thread sleeps on), then 16 words per vCPU: SEQ (bumped by the vCPU per request), ACK (set to
 * SEQ by the device thread when answered), ADDR lo/hi, SIZE, WRITE, DATA lo/hi, STATUS.
 * The vCPU writes the fields, then SEQ, then rings SERVER_BELL; the device thread reads SEQ, then
 * the fields, writes DATA and STATUS, then ACK and notifies it: each side publishes with an
 * Atomics store after plain field writes, so the other sees complete requests and answers.
 */
import { typeError } from '../internal/args.js';
import { POLL_MS } from '../clock.js';
import { DeviceError } from '../device-error.js';
import type { MmioBus } from '../mmio-bus.js';

const HEADER = 16;
/** Header word 0: bumped by every posted request; the server sleeps on it (the control record's DOORBELL is another word). */
const SERVER_BELL = 0;
const MAILBOX = 16;
const SEQ = 0;
const ACK = 1;
const ADDR_LO = 2;
const ADDR_HI = 3;
const SIZE = 4;
const WRITE = 5;
const DATA_LO = 6;
const DATA_HI = 7;
const STATUS = 8;

/**
 * How long each side polls before it sleeps, in milliseconds: a vCPU for the answer to its
 * exit, the server for the next request after it answered one. Exits come in bursts (a
 * driver polls a status register, then writes data), and a futex wake-up of a sleeping thread
 * costs 5-80 µs on the machines measured, several times a served access: polling this long
 * catches the answer or the next request of a burst without that cost, and bounds what an idle
 * wait burns.
 */
const SPIN_MS = 0.03;

/** A zeroed mailbox buffer for `vcpus` vCPUs. */
export function createMmioExits(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER + vcpus * MAILBOX) * 4);
}

/** The bytes createMmioExits allocates for `vcpus` vCPUs. */
export function mmioExitsBytes(vcpus: number): number {
  return (HEADER + vcpus * MAILBOX) * 4;
}

/** The vCPU side: one mailbox. `ctx.mmio` in a VcpuPool vCPU. */
export class MmioExitPort {
  readonly #w: Int32Array;
  readonly #b: number;
  readonly #stopped: () => boolean;
  #seq: number;
  /** Exits made (statistics). */
  exits = 0;

  /** @internal */
  constructor(buffer: SharedArrayBuffer, id: number, stopped: () => boolean = () => false) {
    this.#w = new Int32Array(buffer);
    this.#b = HEADER + id * MAILBOX;
    this.#stopped = stopped;
    this.#seq = Atomics.load(this.#w, this.#b + SEQ);
  }

  /**
   * One exit of 1, 2 or 4 bytes: returns the value read (0 … 2^(8 size)-1), or 0 for a write
   * once the device thread has handled it. Throws DeviceError ERR_DEVICE_HANDLER if the
   * handler failed, ERR_DEVICE_STOPPED if the vCPU is asked to stop while it waits.
   * (`post`, then `complete`.)
   */
  exit(addr: number, size: number, write: boolean, value: number): number {
    this.post(addr, size, write, value);
    return this.complete();
  }

  /** One 8-byte exit: the bigint read, or 0n for a write (`post64`, then `complete64`). */
  exit64(addr: number, write: boolean, value: bigint): bigint {
    this.post64(addr, write, value);
    return this.complete64();
  }

  /**
   * The first step of an exit of 1, 2 or 4 bytes: writes the request into the mailbox,
   * publishes it and rings the server; returns at once. `done()` says when it is answered,
   * `complete()` takes the answer. One request at a time per mailbox.
   */
  post(addr: number, size: number, write: boolean, value: number): void {
    this.#fill(addr, size, write, value, 0);
  }

  /** `post` for an 8-byte access (the value as two 32-bit halves). */
  post64(addr: number, write: boolean, value: bigint): void {
    this.#fill(addr, 8, write, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
  }

  /** Whether the server has answered the request posted last. */
  done(): boolean {
    return Atomics.load(this.#w, this.#b + ACK) === this.#seq;
  }

  /**
   * The last step of an exit: waits until the request posted last is answered (re-checking the
   * vCPU's stop flag every 50 ms: ERR_DEVICE_STOPPED), then returns the value read (the low
   * `size` bytes; 0 for a write) or throws ERR_DEVICE_HANDLER if the handler failed.
   */
  complete(): number {
    this.#wait();
    const w = this.#w;
    const b = this.#b;
    const size = w[b + SIZE]!;
    return size >= 4 ? w[b + DATA_LO]! >>> 0 : w[b + DATA_LO]! & (size === 1 ? 0xff : 0xffff);
  }

  /** `complete` for an 8-byte access: the bigint read. */
  complete64(): bigint {
    this.#wait();
    const w = this.#w;
    const b = this.#b;
    return (BigInt(w[b + DATA_HI]! >>> 0) << 32n) | BigInt(w[b + DATA_LO]! >>> 0);
  }

  #fill(addr: number, size: number, write: boolean, lo: number, hi: number): void {
    const w = this.#w;
    const b = this.#b;
    w[b + ADDR_LO] = addr % 4294967296;
    w[b + ADDR_HI] = Math.floor(addr / 4294967296);
    w[b + SIZE] = size;
    w[b + WRITE] = write ? 1 : 0;
    w[b + DATA_LO] = lo;
    w[b + DATA_HI] = hi;
    const seq = (this.#seq + 1) | 0;
    this.#seq = seq;
    this.exits++;
    Atomics.store(w, b + SEQ, seq); // publishes the fields written above
    Atomics.add(w, SERVER_BELL, 1);
    Atomics.notify(w, SERVER_BELL, 1);
  }

  #wait(): void {
    const w = this.#w;
    const b = this.#b;
    const seq = this.#seq;
    if (Atomics.load(w, b + ACK) !== seq) spinUntil(w, b + ACK, seq);
    for (;;) {
      const ack = Atomics.load(w, b + ACK);
      if (ack === seq) break;
      if (Atomics.wait(w, b + ACK, ack, POLL_MS) === 'timed-out' && this.#stopped()) {
        const addr = (w[b + ADDR_HI]! >>> 0) * 4294967296 + (w[b + ADDR_LO]! >>> 0);
        throw new DeviceError(
          'ERR_DEVICE_STOPPED',
          `MMIO exit at 0x${addr.toString(16)} abandoned: stop requested`,
          addr,
        );
      }
    }
    if (w[b + STATUS] !== 0) {
      const addr = (w[b + ADDR_HI]! >>> 0) * 4294967296 + (w[b + ADDR_LO]! >>> 0);
      throw new DeviceError(
        'ERR_DEVICE_HANDLER',
        `the device thread failed the access at 0x${addr.toString(16)}`,
        addr,
      );
    }
  }
}

/** One request as the device thread's handler sees it. */
export interface MmioRequest {
  /** The vCPU that made the access. */
  readonly vcpu: number;
  /** Guest-physical address accessed. */
  readonly addr: number;
  /** 1, 2, 4 or 8. */
  readonly size: number;
  /** A write (true) or a read. */
  readonly write: boolean;
  /** The value written (1-4 bytes; 0 for reads). */
  readonly value: number;
  /** The value written as a bigint, for 8-byte writes (0n otherwise). */
  readonly value64: bigint;
}

/** What answers exits: returns the value read (a number, or a bigint for 8 bytes); a write's result is ignored. */
export type MmioHandler = (req: MmioRequest) => number | bigint | void | Promise<number | bigint | void>;

/** Serving options. */
export interface ServeOptions {
  /** Ends serving when aborted. */
  readonly signal?: AbortSignal;
  /** Called with a handler's error (the vCPU's access then fails with ERR_DEVICE_HANDLER). */
  readonly onError?: (error: unknown, req: MmioRequest) => void;
}

/** A handler that dispatches exits to a DeviceBus of the device thread (by absolute address). */
export function busHandler(bus: MmioBus): MmioHandler {
  return (r) => {
    if (r.size === 8) {
      if (r.write) bus.write64(r.addr, r.value64, r.vcpu);
      else return bus.read64(r.addr, r.vcpu);
      return undefined;
    }
    if (r.write) bus.write(r.addr, r.size, r.value, r.vcpu);
    else return bus.read(r.addr, r.size, r.vcpu);
    return undefined;
  };
}

/** The device-thread side: answers every vCPU's exits. */
export class MmioExitServer {
  readonly #w: Int32Array;
  /** Number of vCPU mailboxes served. */
  readonly vcpus: number;
  /** Requests answered (statistics). */
  served = 0;

  constructor(buffer: SharedArrayBuffer, vcpus: number) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== mmioExitsBytes(vcpus))
      throw typeError('buffer', `a mailbox SharedArrayBuffer for ${vcpus} vCPUs (createMmioExits)`, buffer);
    this.#w = new Int32Array(buffer);
    this.vcpus = vcpus;
  }

  #request(id: number): MmioRequest {
    const w = this.#w;
    const b = HEADER + id * MAILBOX;
    const size = w[b + SIZE]!;
    const write = w[b + WRITE] === 1;
    const lo = w[b + DATA_LO]! >>> 0;
    const hi = w[b + DATA_HI]! >>> 0;
    return {
      vcpu: id,
      addr: (w[b + ADDR_HI]! >>> 0) * 4294967296 + (w[b + ADDR_LO]! >>> 0),
      size,
      write,
      value: write && size <= 4 ? lo : 0,
      value64: write && size === 8 ? (BigInt(hi) << 32n) | BigInt(lo) : 0n,
    };
  }

  #answer(id: number, result: unknown, failed: boolean): void {
    const w = this.#w;
    const b = HEADER + id * MAILBOX;
    w[b + STATUS] = failed ? 1 : 0;
    if (typeof result === 'bigint') {
      w[b + DATA_LO] = Number(result & 0xffffffffn);
      w[b + DATA_HI] = Number((result >> 32n) & 0xffffffffn);
    } else if (typeof result === 'number') {
      w[b + DATA_LO] = result;
      w[b + DATA_HI] = Math.floor(result / 4294967296);
    } else {
      w[b + DATA_LO] = 0;
      w[b + DATA_HI] = 0;
    }
    Atomics.store(w, b + ACK, Atomics.load(w, b + SEQ));
    Atomics.notify(w, b + ACK);
    this.served++;
  }

  /** The vCPUs with an unanswered request. */
  #pending(id: number): boolean {
    const b = HEADER + id * MAILBOX;
    return Atomics.load(this.#w, b + SEQ) !== Atomics.load(this.#w, b + ACK);
  }

  /**
   * Answers every pending request with a synchronous `handler` (a promise is awaited by
   * {@link serve} only); returns how many it answered. For device threads with their own loop.
   */
  poll(handler: MmioHandler, onError?: ServeOptions['onError']): number {
    let n = 0;
    for (let id = 0; id < this.vcpus; id++) {
      if (!this.#pending(id)) continue;
      const req = this.#request(id);
      try {
        const r = handler(req);
        if (r instanceof Promise)
          throw typeError('handler', 'a synchronous function (use serve() for async ones)', handler);
        this.#answer(id, r, false);
      } catch (e) {
        onError?.(e, req);
        this.#answer(id, undefined, true);
      }
      n++;
    }
    return n;
  }

  /**
   * Serves exits on this thread's event loop (Atomics.waitAsync: the thread stays free for
   * other work, and handlers may be async, e.g. disk I/O) until `signal` aborts. Requests of
   * one vCPU are answered in order; an async handler delays only its own vCPU's answer.
   * @example const stop = new AbortController(); server.serve(busHandler(devices), { signal: stop.signal });
   */
  async serve(handler: MmioHandler | MmioBus, options: ServeOptions = {}): Promise<void> {
    const h = typeof handler === 'function' ? handler : busHandler(handler);
    const { signal, onError } = options;
    const w = this.#w;
    const busy = new Uint8Array(this.vcpus);
    const onAbort = (): void => {
      Atomics.add(w, SERVER_BELL, 1);
      Atomics.notify(w, SERVER_BELL);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        const bell = Atomics.load(w, SERVER_BELL);
        let served = false;
        for (let id = 0; id < this.vcpus; id++) {
          if (busy[id] === 1 || !this.#pending(id)) continue;
          served = true;
          const req = this.#request(id);
          let r: ReturnType<MmioHandler>;
          try {
            r = h(req);
          } catch (e) {
            onError?.(e, req);
            this.#answer(id, undefined, true);
            continue;
          }
          if (r instanceof Promise) {
            busy[id] = 1;
            r.then(
              (v) => this.#answer(id, v, false),
              (e: unknown) => {
                onError?.(e, req);
                this.#answer(id, undefined, true);
              },
            ).finally(() => {
              busy[id] = 0;
              onAbort(); // look again: this vCPU may have posted its next request
            });
          } else {
            this.#answer(id, r, false);
          }
        }
        // answered something: the vCPU's next request of a burst usually follows at once
        if (served && spinUntilChanged(w, SERVER_BELL, bell)) continue;
        const res = Atomics.waitAsync(w, SERVER_BELL, bell);
        if (res.async) await res.value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Serves exits by blocking this thread (Atomics.wait) between requests: the lowest latency,
   * for a dedicated I/O worker. Returns when `shouldStop()` is true (checked after every wake
   * and at least every `pollMs`). `handler` must be synchronous.
   */
  serveBlocking(
    handler: MmioHandler | MmioBus,
    shouldStop: () => boolean,
    pollMs = POLL_MS,
    onError?: ServeOptions['onError'],
  ): void {
    const h = typeof handler === 'function' ? handler : busHandler(handler);
    const w = this.#w;
    let served = false;
    while (!shouldStop()) {
      const bell = Atomics.load(w, SERVER_BELL);
      if (this.poll(h, onError) > 0) served = true;
      else if (!(served && spinUntilChanged(w, SERVER_BELL, bell))) {
        served = false;
        Atomics.wait(w, SERVER_BELL, bell, pollMs);
      }
    }
  }

  /** Wakes a thread blocked in serveBlocking or serve (e.g. after setting its stop flag). */
  wake(): void {
    Atomics.add(this.#w, SERVER_BELL, 1);
    Atomics.notify(this.#w, SERVER_BELL);
  }
}

/** Polls w[i] for up to SPIN_MS until it equals `want`; whether it did. */
function spinUntil(w: Int32Array, i: number, want: number): boolean {
  const end = performance.now() + SPIN_MS;
  for (;;) {
    for (let k = 0; k < 64; k++) if (Atomics.load(w, i) === want) return true;
    if (performance.now() > end) return false;
  }
}

/** Polls w[i] for up to SPIN_MS until it differs from `seen`; whether it did. */
function spinUntilChanged(w: Int32Array, i: number, seen: number): boolean {
  const end = performance.now() + SPIN_MS;
  for (;;) {
    for (let k = 0; k < 64; k++) if (Atomics.load(w, i) !== seen) return true;
    if (performance.now() > end) return false;
  }
}
