import { webcrypto } from 'node:crypto';
import { rangeError, typeError } from '../internal/args.js';
import type { DescriptorChain } from './split-queue.js';
import type { VirtioContext, VirtioDevice } from './virtio-device.js';

/** The most bytes one request is given: a driver asking for more gets this many (the used length says so). */
export const VIRTIO_RNG_MAX_REQUEST = 65536;

/** How an entropy device is built. */
export interface VirtioRngOptions {
  /** Fills `buf` with entropy (default: `crypto.getRandomValues`). */
  readonly source?: (buf: Uint8Array) => void;
  /** QueueNumMax of its one request queue (a power of two, default 64). */
  readonly queueSize?: number;
}

/**
 * virtio-rng (virtio 1.x, "Entropy Device"): fills the device-writable buffers of each request
 * from an injected entropy source, at most VIRTIO_RNG_MAX_REQUEST bytes a request, so one
 * request costs bounded work whatever its buffers' size. It has no state of its own.
 */
export class VirtioRng implements VirtioDevice {
  readonly deviceType = 4;
  readonly queueMaxSizes: readonly number[];
  readonly features = 0n;
  readonly #source: (buf: Uint8Array) => void;
  readonly #scratch = new Uint8Array(VIRTIO_RNG_MAX_REQUEST);
  #ctx: VirtioContext | null = null;
  /** #serve bound once, so a notify allocates no closure. */
  readonly #serveChain = (chain: DescriptorChain): number => this.#serve(chain);

  constructor(options: VirtioRngOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw typeError('options', 'a VirtioRngOptions object', options);
    if (options.source !== undefined && typeof options.source !== 'function')
      throw typeError('options.source', 'a function', options.source);
    this.#source = options.source ?? ((buf) => void webcrypto.getRandomValues(buf));
    const size = options.queueSize ?? 64;
    if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0)
      throw rangeError('options.queueSize', 'a power of two from 1 to 32768', size);
    this.queueMaxSizes = [size];
  }

  readConfig(): number {
    return 0; // no configuration space
  }

  writeConfig(): void {}

  activate(ctx: VirtioContext): void {
    this.#ctx = ctx;
  }

  notify(index: number): void {
    if (index === 0) this.#ctx?.drain(0, this.#serveChain);
  }

  reset(): void {
    this.#ctx = null;
  }

  #serve(chain: DescriptorChain): number {
    const mem = this.#ctx!.mem;
    let written = 0;
    for (const b of chain.descriptors) {
      if (!b.write || written === VIRTIO_RNG_MAX_REQUEST) continue;
      const k = Math.min(b.len, VIRTIO_RNG_MAX_REQUEST - written);
      const buf = this.#scratch.subarray(0, k);
      // getRandomValues takes at most 65536 bytes a call: the scratch buffer's size
      this.#source(buf);
      mem.writeSlice(buf, b.addr);
      written += k;
    }
    return written;
  }
}
