// A virtio-mmio test driver (like virtio-queue's mock): it plays the guest side of a
// VirtioMmioTransport on one thread, through the transport's registers and rings it builds in
// guest memory, so device tests need no VM. Its methods take shortcuts a hostile driver would
// take too (raw register writes, raw descriptors).
import {
  GuestMemoryMmap,
  VirtioMmioTransport,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  le16,
  le32,
  le64,
  type VirtioDevice,
} from '../../src/index.js';

export const RAM = 0x8000_0000;
export const RAM_SIZE = 4 << 20;

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

export interface QueueLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
  /** Next free descriptor, next available index, used entries read so far. */
  nextDesc: number;
  availIdx: number;
  usedSeen: number;
}

export class VirtioTestDriver {
  readonly transport: VirtioMmioTransport;
  /** The interrupt line as the transport drives it, and every change. */
  level = false;
  edges = 0;
  /** Continuations the transport deferred (run them with runDeferred). */
  deferred: (() => void)[] = [];
  readonly queues: QueueLayout[] = [];
  heap = RAM + (1 << 20);

  constructor(
    readonly mem: GuestMemoryMmap,
    readonly device: VirtioDevice,
  ) {
    this.transport = new VirtioMmioTransport(device, {
      mem,
      interrupt: (l) => {
        this.level = l;
        this.edges++;
      },
      defer: (fn) => void this.deferred.push(fn),
    });
  }

  static create(device: VirtioDevice): VirtioTestDriver {
    return new VirtioTestDriver(GuestMemoryMmap.fromRanges([[RAM, RAM_SIZE]]), device);
  }

  read(off: number): number {
    return this.transport.read(off, 4);
  }
  write(off: number, v: number): void {
    this.transport.write(off, 4, v);
  }
  get status(): number {
    return this.read(0x70);
  }

  /** ACKNOWLEDGE, DRIVER, the features (VERSION_1 and `extra`), FEATURES_OK; returns whether it held. */
  negotiate(extra = 0n): boolean {
    this.write(0x70, 0);
    this.write(0x70, VIRTIO_STATUS_ACKNOWLEDGE);
    this.write(0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    const want = (1n << BigInt(VIRTIO_F_VERSION_1)) | extra;
    for (const sel of [0, 1]) {
      this.write(0x24, sel);
      this.write(0x20, Number(BigInt.asUintN(32, want >> BigInt(32 * sel))));
    }
    this.write(0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return (this.status & VIRTIO_STATUS_FEATURES_OK) !== 0;
  }

  /** Lays out queue `index` of `size` entries in fresh guest memory and writes its registers (QueueReady last). */
  setupQueue(index: number, size: number): QueueLayout {
    const desc = this.#alloc(16 * size, 16);
    const avail = this.#alloc(6 + 2 * size, 2);
    const used = this.#alloc(6 + 8 * size, 4);
    this.write(0x30, index);
    this.write(0x38, size);
    for (const [reg, a] of [
      [0x80, desc],
      [0x90, avail],
      [0xa0, used],
    ] as const) {
      this.write(reg, a >>> 0);
      this.write(reg + 4, Math.floor(a / 2 ** 32));
    }
    this.write(0x44, 1);
    const q = { size, desc, avail, used, nextDesc: 0, availIdx: 0, usedSeen: 0 };
    this.queues[index] = q;
    return q;
  }

  driverOk(): void {
    this.write(0x70, this.status | VIRTIO_STATUS_DRIVER_OK);
  }

  /** A fresh buffer of `len` bytes in guest memory. */
  buffer(len: number, align = 8): number {
    return this.#alloc(len, align);
  }

  /** Writes a direct chain of `bufs` and makes it available (no notify); returns its head. */
  add(index: number, bufs: Buf[]): number {
    const q = this.queues[index]!;
    const ids = bufs.map(() => {
      const i = q.nextDesc % q.size;
      q.nextDesc++;
      return i;
    });
    bufs.forEach((b, k) => {
      const flags = (b.write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0);
      this.desc(q, ids[k]!, b.addr, b.len, flags, ids[k + 1] ?? 0);
    });
    this.publish(index, ids[0]!);
    return ids[0]!;
  }

  desc(q: QueueLayout, i: number, addr: number, len: number, flags: number, next: number): void {
    const at = q.desc + 16 * i;
    this.mem.writeObj(le64, BigInt(addr), at);
    this.mem.writeObj(le32, len, at + 8);
    this.mem.writeObj(le16, flags, at + 12);
    this.mem.writeObj(le16, next, at + 14);
  }

  publish(index: number, head: number): void {
    const q = this.queues[index]!;
    this.mem.writeObj(le16, head, q.avail + 4 + 2 * (q.availIdx % q.size));
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.mem.store(le16, q.availIdx, q.avail + 2);
  }

  notify(index: number): void {
    this.write(0x50, index);
  }

  /** The used entries added since the last call: [head, len] each. */
  takeUsed(index: number): [number, number][] {
    const q = this.queues[index]!;
    const idx = this.mem.load(le16, q.used + 2);
    const out: [number, number][] = [];
    for (; q.usedSeen !== idx; q.usedSeen = (q.usedSeen + 1) & 0xffff) {
      const at = q.used + 4 + 8 * (q.usedSeen % q.size);
      out.push([this.mem.readObj(le32, at), this.mem.readObj(le32, at + 4)]);
    }
    return out;
  }

  /** Acknowledges every pending interrupt cause; returns what was pending. */
  ack(): number {
    const isr = this.read(0x60);
    this.write(0x64, isr);
    return isr;
  }

  runDeferred(): number {
    const fns = this.deferred.splice(0);
    for (const fn of fns) fn();
    return fns.length;
  }

  #alloc(len: number, align: number): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const at = this.heap;
    this.heap += len;
    if (this.heap > RAM + RAM_SIZE) throw new Error('test driver out of guest memory');
    return at;
  }
}
