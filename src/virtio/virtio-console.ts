import { rangeError, typeError } from '../internal/args.js';
import type { DescriptorChain } from './split-queue.js';
import type { VirtioContext, VirtioDevice } from './virtio-device.js';

/** The most bytes one transmit request hands to `output`: the rest of a larger chain is dropped (and counted). */
export const VIRTIO_CONSOLE_MAX_WRITE = 1 << 20;

/** How a console is built. */
export interface VirtioConsoleOptions {
  /** Where the guest's output goes (a log, a socket); default the main thread's stdout. */
  readonly output?: (bytes: Uint8Array) => void;
  /** Called when the guest has taken input and `enqueue` has room again (e.g. `StreamInput.drained`). */
  readonly inputDrained?: () => void;
  /** QueueNumMax of its receive and transmit queues (a power of two, default 64). */
  readonly queueSize?: number;
  /** Input bytes held until the guest posts receive buffers (default 65536): `enqueue` takes no more. */
  readonly inputCapacity?: number;
}

/** A console's own state as plain data. */
export interface VirtioConsoleState {
  /** Input received from the host and not yet given to the guest, oldest first. */
  readonly input: readonly number[];
  /** Output bytes dropped from transmit requests longer than VIRTIO_CONSOLE_MAX_WRITE. */
  readonly dropped: number;
}

/**
 * virtio-console (virtio 1.x, "Console Device"), one port and no multiport, after vm-virtio's
 * console: the guest's transmit queue (1) goes to the injected `output` (stdout by default), and
 * host input given to `enqueue` waits in a bounded buffer until the guest posts buffers on its
 * receive queue (0); `inputDrained` says when there is room again. `StreamInput` feeds a stream
 * (stdin) into it with backpressure.
 * Each transmit request hands at most VIRTIO_CONSOLE_MAX_WRITE bytes on, so one request costs
 * bounded work and memory whatever its buffers' size.
 */
export class VirtioConsole implements VirtioDevice {
  readonly deviceType = 3;
  readonly queueMaxSizes: readonly number[];
  readonly features = 0n;
  /** Input bytes `enqueue` holds at most. */
  readonly inputCapacity: number;
  readonly #output: (bytes: Uint8Array) => void;
  readonly #inputDrained: (() => void) | undefined;
  readonly #in: Uint8Array;
  #inHead = 0;
  #inLen = 0;
  #dropped = 0;
  #ctx: VirtioContext | null = null;

  constructor(options: VirtioConsoleOptions, state?: VirtioConsoleState) {
    if (options === null || typeof options !== 'object')
      throw typeError('options', 'a VirtioConsoleOptions object', options);
    if (options.output !== undefined && typeof options.output !== 'function')
      throw typeError('options.output', 'a function', options.output);
    if (options.inputDrained !== undefined && typeof options.inputDrained !== 'function')
      throw typeError('options.inputDrained', 'a function', options.inputDrained);
    const size = options.queueSize ?? 64;
    if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0)
      throw rangeError('options.queueSize', 'a power of two from 1 to 32768', size);
    const cap = options.inputCapacity ?? 65536;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 26)
      throw rangeError('options.inputCapacity', 'from 1 to 2^26', cap);
    this.queueMaxSizes = [size, size];
    this.inputCapacity = cap;
    this.#output = options.output ?? ((bytes) => void process.stdout.write(bytes));
    this.#inputDrained = options.inputDrained;
    this.#in = new Uint8Array(cap);
    if (state !== undefined) {
      if (state === null || typeof state !== 'object') throw typeError('state', 'a VirtioConsoleState object', state);
      if (!Array.isArray(state.input) || state.input.length > cap)
        throw rangeError('state.input', `at most ${cap} bytes`, state.input);
      if (!Number.isSafeInteger(state.dropped) || state.dropped < 0)
        throw rangeError('state.dropped', 'a count', state.dropped);
      state.input.forEach((b, i) => {
        if (!Number.isInteger(b) || b < 0 || b > 255) throw rangeError(`state.input[${i}]`, 'a byte', b);
        this.#in[i] = b;
      });
      this.#inLen = state.input.length;
      this.#dropped = state.dropped;
    }
  }

  /** Input bytes waiting for the guest. */
  get pendingInput(): number {
    return this.#inLen;
  }

  /** Gives the guest input: as many bytes as the buffer has room for (returns how many). */
  enqueue(bytes: Uint8Array | readonly number[]): number {
    let n = 0;
    for (; n < bytes.length && this.#inLen < this.inputCapacity; n++) {
      this.#in[(this.#inHead + this.#inLen) % this.inputCapacity] = bytes[n]! & 0xff;
      this.#inLen++;
    }
    this.#deliver();
    return n;
  }

  /** Pending input and the dropped count as plain data (the constructor's `state`). */
  get state(): VirtioConsoleState {
    const input: number[] = [];
    for (let i = 0; i < this.#inLen; i++) input.push(this.#in[(this.#inHead + i) % this.inputCapacity]!);
    return { input, dropped: this.#dropped };
  }

  readConfig(): number {
    return 0; // cols, rows, max_nr_ports, emerg_wr: none offered
  }

  writeConfig(): void {}

  activate(ctx: VirtioContext): void {
    this.#ctx = ctx;
    this.#deliver();
  }

  notify(index: number): void {
    if (index === 0) this.#deliver();
    else if (index === 1) this.#ctx?.drain(1, (chain) => this.#transmit(chain));
  }

  reset(): void {
    this.#ctx = null;
  }

  /** Fills posted receive buffers while there is input (one chain at a time, so none is taken empty). */
  #deliver(): void {
    const ctx = this.#ctx;
    if (ctx === null) return;
    const had = this.#inLen;
    while (this.#inLen > 0 && ctx.drain(0, (chain) => this.#receive(chain), 1) === 1);
    if (this.#inLen < had) this.#inputDrained?.();
  }

  #receive(chain: DescriptorChain): number {
    const mem = this.#ctx!.mem;
    const cap = this.inputCapacity;
    let written = 0;
    for (const b of chain.descriptors) {
      if (!b.write) continue;
      let off = 0;
      // at most two runs a buffer: the input ring may wrap
      while (off < b.len && this.#inLen > 0) {
        const run = Math.min(this.#inLen, cap - this.#inHead, b.len - off);
        mem.writeSlice(this.#in.subarray(this.#inHead, this.#inHead + run), b.addr + off);
        this.#inHead = (this.#inHead + run) % cap;
        this.#inLen -= run;
        off += run;
      }
      written += off;
      if (this.#inLen === 0) break;
    }
    return written;
  }

  #transmit(chain: DescriptorChain): number {
    const mem = this.#ctx!.mem;
    let sent = 0;
    for (const b of chain.descriptors) {
      if (b.write || b.len === 0) continue;
      const n = Math.min(b.len, VIRTIO_CONSOLE_MAX_WRITE - sent);
      if (n < b.len) this.#dropped += b.len - n;
      if (n <= 0) continue;
      const bytes = new Uint8Array(n);
      mem.readSlice(bytes, b.addr);
      this.#output(bytes);
      sent += n;
    }
    return 0; // the device writes nothing into a transmit buffer
  }
}
