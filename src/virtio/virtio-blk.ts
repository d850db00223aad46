import { fdatasyncSync, fstatSync } from 'node:fs';
import { GuestMemoryError } from '../errors.js';
import { checkFd, rangeError, typeError } from '../internal/args.js';
import { u8 } from '../types.js';
import { le32At } from './little-endian.js';
import type { DescriptorChain } from './split-queue.js';
import {
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  type VirtioContext,
  type VirtioDevice,
} from './virtio-device.js';
import { VirtioError } from './virtio-error.js';

/** Request type: read sectors into the data buffers. */
export const VIRTIO_BLK_T_IN = 0;
/** Request type: write the data buffers to sectors. */
export const VIRTIO_BLK_T_OUT = 1;
/** Request type: make written data durable. */
export const VIRTIO_BLK_T_FLUSH = 4;
/** Request type: the device's identification string. */
export const VIRTIO_BLK_T_GET_ID = 8;
/** Request status: done. */
export const VIRTIO_BLK_S_OK = 0;
/** Request status: refused or failed (out of range, not whole sectors, read-only, an I/O error). */
export const VIRTIO_BLK_S_IOERR = 1;
/** Request status: an unknown request type. */
export const VIRTIO_BLK_S_UNSUPP = 2;
/** Feature bit: seg_max in the configuration space. */
export const VIRTIO_BLK_F_SEG_MAX = 2;
/** Feature bit: the disk is read-only. */
export const VIRTIO_BLK_F_RO = 5;
/** Feature bit: blk_size in the configuration space. */
export const VIRTIO_BLK_F_BLK_SIZE = 6;
/** Feature bit: FLUSH requests. */
export const VIRTIO_BLK_F_FLUSH = 9;
/** Bytes per sector: the unit of `sector` and `capacity`, whatever the disk's block size. */
export const VIRTIO_BLK_SECTOR = 512;
/** Bytes of the identification string GET_ID returns (NUL-padded, truncated to the buffer). */
export const VIRTIO_BLK_ID_BYTES = 20;

/** How a block device is built. */
export interface VirtioBlkOptions {
  /** The disk image, opened by the caller (read-write unless `readOnly`); it never grows. */
  readonly fd: number;
  /** Refuse writes (VIRTIO_BLK_F_RO offered; OUT requests get IOERR). */
  readonly readOnly?: boolean;
  /** What GET_ID returns (at most 20 bytes of UTF-8; default "guestmem"). */
  readonly id?: string;
  /** QueueNumMax of its one request queue (a power of two, default 256). */
  readonly queueSize?: number;
}

/** A block device's own state as plain data (the disk is its file; the queue's state is the transport's). */
export interface VirtioBlkState {
  /** Requests served. */
  readonly requests: number;
  /** Requests that completed with IOERR or UNSUPP. */
  readonly failed: number;
}

/**
 * virtio-blk (virtio 1.x, "Block Device") over a disk image file, after rust-vmm's virtio-blk.
 * Each request is parsed and validated whole before any I/O, as its `Request::parse` does: a
 * device-readable header of at least 16 bytes first, a device-writable status byte last, data
 * buffers in the request's direction; a request that breaks those rules is a driver error
 * (VirtioError ERR_VIRTIO_REQUEST: the transport sets DEVICE_NEEDS_RESET). A well-formed one
 * whose sectors do not lie inside the capacity, whose length is not whole sectors, or that
 * writes a read-only disk completes with IOERR and leaves the file untouched; an unknown type
 * with UNSUPP. Data moves with positional I/O (pread/pwrite) straight between the file and
 * guest memory, on whatever thread serves the transport (a device thread, not a vCPU).
 */
export class VirtioBlk implements VirtioDevice {
  readonly deviceType = 2;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;
  /** Capacity in 512-byte sectors (the file's size, rounded down). */
  readonly capacity: number;
  /** Writes are refused (VIRTIO_BLK_F_RO). */
  readonly readOnly: boolean;
  readonly #fd: number;
  readonly #id: Uint8Array;
  readonly #config: Uint8Array;
  #ctx: VirtioContext | null = null;
  /** #serve bound once, so a notify allocates no closure. */
  readonly #serveChain = (chain: DescriptorChain): number => this.#serve(chain);
  #requests = 0;
  #failed = 0;

  constructor(options: VirtioBlkOptions, state?: VirtioBlkState) {
    if (options === null || typeof options !== 'object')
      throw typeError('options', 'a VirtioBlkOptions object', options);
    this.#fd = checkFd('options.fd', options.fd);
    this.readOnly = options.readOnly === true;
    const size = options.queueSize ?? 256;
    if (!Number.isInteger(size) || size < 2 || size > 32768 || (size & (size - 1)) !== 0)
      throw rangeError('options.queueSize', 'a power of two from 2 to 32768', size);
    this.queueMaxSizes = [size];
    const id = new TextEncoder().encode(options.id ?? 'guestmem');
    if (id.length > VIRTIO_BLK_ID_BYTES) throw rangeError('options.id', 'at most 20 bytes of UTF-8', options.id);
    this.#id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    this.#id.set(id);
    this.capacity = Math.floor(fstatSync(this.#fd).size / VIRTIO_BLK_SECTOR);
    let f =
      (1n << BigInt(VIRTIO_BLK_F_SEG_MAX)) |
      (1n << BigInt(VIRTIO_BLK_F_BLK_SIZE)) |
      (1n << BigInt(VIRTIO_BLK_F_FLUSH)) |
      (1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC)) |
      (1n << BigInt(VIRTIO_RING_F_EVENT_IDX));
    if (this.readOnly) f |= 1n << BigInt(VIRTIO_BLK_F_RO);
    this.features = f;
    // struct virtio_blk_config up to blk_size: capacity, size_max, seg_max, geometry, blk_size
    this.#config = new Uint8Array(24);
    const cv = new DataView(this.#config.buffer);
    cv.setBigUint64(0, BigInt(this.capacity), true);
    cv.setUint32(12, size - 2, true);
    cv.setUint32(20, VIRTIO_BLK_SECTOR, true);
    if (state !== undefined) {
      if (state === null || typeof state !== 'object') throw typeError('state', 'a VirtioBlkState object', state);
      for (const k of ['requests', 'failed'] as const)
        if (!Number.isSafeInteger(state[k]) || state[k] < 0) throw rangeError(`state.${k}`, 'a count', state[k]);
      this.#requests = state.requests;
      this.#failed = state.failed;
    }
  }

  /** The device's counters as plain data (the constructor's `state`). */
  get state(): VirtioBlkState {
    return { requests: this.#requests, failed: this.#failed };
  }

  readConfig(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.#config[offset + i] ?? 0);
    return v;
  }

  writeConfig(): void {
    // the configuration fields this device offers are all read-only
  }

  activate(ctx: VirtioContext): void {
    this.#ctx = ctx;
  }

  notify(index: number): void {
    if (index === 0) this.#ctx?.drain(0, this.#serveChain);
  }

  reset(): void {
    this.#ctx = null;
  }

  /** Parses, checks and executes one request; returns the bytes written into its writable buffers. */
  #serve(chain: DescriptorChain): number {
    const mem = this.#ctx!.mem;
    const d = chain.descriptors;
    const n = d.length;
    const header = d[0]!;
    const status = d[n - 1]!;
    const bad = (why: string): VirtioError =>
      new VirtioError('ERR_VIRTIO_REQUEST', `block request at ${chain.head}: ${why}`);
    if (n < 2) throw bad('fewer than two descriptors (header and status)');
    if (header.write || header.len < 16) throw bad('the header is not 16 device-readable bytes');
    if (!status.write || status.len < 1) throw bad('the last descriptor is not a device-writable status byte');
    const type = le32At(mem, header.addr);
    // the sector as a number: its high word past 2^21 is past any capacity (2^53 bytes)
    const sectorHi = le32At(mem, header.addr + 12);
    const sector = sectorHi > 0x1fffff ? Infinity : sectorHi * 2 ** 32 + le32At(mem, header.addr + 8);
    let bytes = 0;
    for (let i = 1; i < n - 1; i++) {
      const b = d[i]!;
      if (type === VIRTIO_BLK_T_OUT ? b.write : (type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_GET_ID) && !b.write)
        throw bad(`data buffer ${i} has the wrong direction`);
      bytes += b.len;
    }
    let result = VIRTIO_BLK_S_OK;
    let written = 0;
    switch (type) {
      case VIRTIO_BLK_T_IN:
      case VIRTIO_BLK_T_OUT: {
        // inside the capacity, in exact arithmetic (capacity * 512 < 2^53)
        if (
          bytes % VIRTIO_BLK_SECTOR !== 0 ||
          sector > this.capacity ||
          bytes / VIRTIO_BLK_SECTOR > this.capacity - sector
        ) {
          result = VIRTIO_BLK_S_IOERR;
          break;
        }
        if (type === VIRTIO_BLK_T_OUT && this.readOnly) {
          result = VIRTIO_BLK_S_IOERR;
          break;
        }
        let pos = sector * VIRTIO_BLK_SECTOR;
        try {
          for (let i = 1; i < n - 1; i++) {
            const b = d[i]!;
            if (b.len === 0) continue;
            if (type === VIRTIO_BLK_T_IN) {
              mem.readExactFrom(b.addr, this.#fd, b.len, pos);
              written += b.len;
            } else mem.writeAllTo(b.addr, this.#fd, b.len, pos);
            pos += b.len;
          }
        } catch (e) {
          if (!(e instanceof GuestMemoryError)) throw e;
          result = VIRTIO_BLK_S_IOERR;
        }
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        try {
          if (!this.readOnly) fdatasyncSync(this.#fd);
        } catch {
          result = VIRTIO_BLK_S_IOERR;
        }
        break;
      case VIRTIO_BLK_T_GET_ID: {
        // the id, truncated to the buffers the driver gave
        for (let i = 1; i < n - 1 && written < VIRTIO_BLK_ID_BYTES; i++) {
          const b = d[i]!;
          const k = Math.min(b.len, VIRTIO_BLK_ID_BYTES - written);
          mem.writeSlice(this.#id.subarray(written, written + k), b.addr);
          written += k;
        }
        break;
      }
      default:
        result = VIRTIO_BLK_S_UNSUPP;
    }
    mem.writeUnordered(u8, result, status.addr); // published by the used index after it
    this.#requests++;
    if (result !== VIRTIO_BLK_S_OK) this.#failed++;
    return written + 1;
  }
}
