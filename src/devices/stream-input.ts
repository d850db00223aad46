import { checkFunction, typeError } from '../internal/args.js';

/**
 * Feeds a readable byte stream (the main thread's stdin, a socket) into a device's bounded input
 * (`Serial16550.enqueue`, `VirtioConsole.enqueue`) with backpressure: what the device has no
 * room for is held back and the stream paused, until `drained()` (wire it to the device's
 * `inputDrained`) hands the rest on and resumes it. At most one chunk is ever held, so a fast
 * producer cannot grow host memory.
 *
 * @example
 * let input;
 * const con = new VirtioConsole({ output, inputDrained: () => input.drained() });
 * input = new StreamInput(process.stdin, (bytes) => con.enqueue(bytes));
 */
export class StreamInput {
  readonly #stream: NodeJS.ReadableStream;
  readonly #enqueue: (bytes: Uint8Array) => number;
  #held: Uint8Array | null = null;
  #closed = false;
  readonly #onData = (chunk: string | Uint8Array): void => {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    this.#offer(bytes);
  };

  constructor(stream: NodeJS.ReadableStream, enqueue: (bytes: Uint8Array) => number) {
    if (stream === null || typeof stream !== 'object' || typeof stream.on !== 'function')
      throw typeError('stream', 'a readable stream', stream);
    checkFunction('enqueue', enqueue);
    this.#stream = stream;
    this.#enqueue = enqueue;
    stream.on('data', this.#onData);
    stream.resume();
  }

  /** Bytes read from the stream and not yet taken by the device. */
  get held(): number {
    return this.#held?.length ?? 0;
  }

  /** The device has room again: hands it what was held back, then resumes the stream. */
  drained(): void {
    const held = this.#held;
    if (held === null || this.#closed) return;
    this.#held = null;
    this.#offer(held);
  }

  /** Stops reading: the stream is paused and released; what was held is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = null;
    this.#stream.off('data', this.#onData);
    this.#stream.pause();
  }

  #offer(bytes: Uint8Array): void {
    if (this.#closed) return;
    const n = this.#enqueue(bytes);
    if (n >= bytes.length) {
      this.#stream.resume();
      return;
    }
    this.#held = bytes.subarray(Math.max(0, n));
    this.#stream.pause();
  }
}
