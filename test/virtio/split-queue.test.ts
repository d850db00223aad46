// SplitQueue against a driver model: random chains (direct and indirect) written as a driver
// would must come back exactly; hostile rings (loops, chains longer than the queue, indices
// out of range, buffers outside memory, misaligned rings, a runaway index) give coded errors.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  GuestMemoryMmap,
  SplitQueue,
  VirtioError,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  le16,
  le32,
  le64,
  MAX_INDIRECT,
} from '../../src/index.js';

const RAM = 0x4000_0000;
const SIZE = 16;
const DESC = RAM;
const AVAIL = RAM + 0x1000;
const USED = RAM + 0x2000;
const HEAP = RAM + 0x10000;

type Buf = { addr: number; len: number; write: boolean };

/** A minimal driver: allocates descriptors, writes chains and publishes them. */
class Driver {
  nextDesc = 0;
  availIdx = 0;
  heap = HEAP;
  constructor(readonly mem: GuestMemoryMmap) {}
  desc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const at = table + 16 * i;
    this.mem.writeObj(le64, BigInt(addr), at);
    this.mem.writeObj(le32, len, at + 8);
    this.mem.writeObj(le16, flags, at + 12);
    this.mem.writeObj(le16, next, at + 14);
  }
  publish(head: number): void {
    this.mem.store(le16, head, AVAIL + 4 + 2 * (this.availIdx % SIZE));
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.store(le16, this.availIdx, AVAIL + 2);
  }
  /** A chain of direct descriptors (or one indirect descriptor pointing to a table of them). */
  add(bufs: Buf[], indirect: boolean): number {
    const head = this.nextDesc % SIZE;
    if (indirect) {
      const table = this.heap;
      this.heap += 16 * bufs.length;
      bufs.forEach((b, i) =>
        this.desc(
          table,
          i,
          b.addr,
          b.len,
          (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0),
          i + 1,
        ),
      );
      this.desc(DESC, head, table, 16 * bufs.length, VIRTQ_DESC_F_INDIRECT, 0);
      this.nextDesc++;
    } else {
      bufs.forEach((b, i) => {
        const idx = (head + i) % SIZE;
        const flags = (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0);
        this.desc(DESC, idx, b.addr, b.len, flags, (idx + 1) % SIZE);
      });
      this.nextDesc += bufs.length;
    }
    this.publish(head);
    return head;
  }
}

const setup = (eventIdx = false) => {
  const mem = GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]);
  return {
    mem,
    q: new SplitQueue(mem, { size: SIZE, desc: DESC, avail: AVAIL, used: USED, eventIdx }),
    drv: new Driver(mem),
  };
};

function expectVirtio(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(VirtioError);
  expect((caught as VirtioError).code).toBe(code);
}

describe('SplitQueue', () => {
  it('pops what the driver model published, in order, direct and indirect; used ring follows', () => {
    const buf = fc.record({
      addr: fc.integer({ min: RAM + 0x20000, max: RAM + 0xf0000 }),
      len: fc.integer({ min: 0, max: 4096 }),
      write: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(buf, { minLength: 1, maxLength: 4 }), fc.boolean()), { maxLength: 40 }),
        (chains) => {
          const { mem, q, drv } = setup();
          let pending: { head: number; bufs: Buf[] }[] = [];
          for (const [bufs, indirect] of chains) {
            if (q.pending() + 1 > SIZE / 4) {
              // drain before the driver model would reuse descriptors
              for (const want of pending) {
                const got = q.pop()!;
                expect(got.head).toBe(want.head);
                expect(got.descriptors).toEqual(want.bufs);
                q.addUsed(got.head, 1);
              }
              pending = [];
            }
            pending.push({ head: drv.add(bufs, indirect), bufs });
          }
          for (const want of pending) {
            const got = q.pop()!;
            expect(got.descriptors).toEqual(want.bufs);
            q.addUsed(got.head, 7);
          }
          expect(q.pop()).toBeNull();
          expect(mem.load(le16, USED + 2)).toBe(chains.length & 0xffff);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('hostile chains give coded errors and never loop', () => {
    const { mem, q, drv } = setup();
    // a loop: 0 -> 1 -> 0
    drv.desc(DESC, 0, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv.desc(DESC, 1, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 0);
    drv.publish(0);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // next out of range
    drv.desc(DESC, 2, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, SIZE);
    drv.publish(2);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // head out of range
    drv.publish(SIZE + 3);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // buffer outside guest memory, and an address past 2^53
    drv.desc(DESC, 3, 0x1000, 8, 0, 0);
    drv.publish(3);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_ADDRESS');
    mem.writeObj(le64, 0xffff_ffff_ffff_0000n, DESC + 16 * 3);
    drv.publish(3);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_ADDRESS');
    // nested indirect, indirect with NEXT, bad indirect length
    drv.desc(HEAP, 0, HEAP + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
    drv.desc(DESC, 4, HEAP, 16, VIRTQ_DESC_F_INDIRECT, 0);
    drv.publish(4);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    drv.desc(DESC, 5, HEAP, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 0);
    drv.publish(5);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    drv.desc(DESC, 6, HEAP, 24, VIRTQ_DESC_F_INDIRECT, 0);
    drv.publish(6);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // an indirect table that loops inside itself
    drv.desc(HEAP + 0x200, 0, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv.desc(HEAP + 0x200, 1, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 0);
    drv.desc(DESC, 7, HEAP + 0x200, 32, VIRTQ_DESC_F_INDIRECT, 0);
    drv.publish(7);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // the available index runs ahead by more than the queue size
    mem.store(le16, (drv.availIdx + SIZE + 1) & 0xffff, AVAIL + 2);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_RING');
  });

  it('an indirect table as long as RAM that loops to itself costs bounded time and no memory', () => {
    // 64 MiB of RAM: a table of 2^22 descriptors whose first entry chains to itself
    const BIG = 1 << 26;
    const mem = GuestMemoryMmap.fromRanges([[RAM, BIG]]);
    const q = new SplitQueue(mem, { size: SIZE, desc: DESC, avail: AVAIL, used: USED });
    const drv = new Driver(mem);
    const table = RAM + 0x100000;
    drv.desc(table, 0, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 0);
    drv.desc(DESC, 0, table, 16 * 2 ** 20, VIRTQ_DESC_F_INDIRECT, 0); // 2^20 entries > MAX_INDIRECT
    drv.publish(0);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
    // at the limit: 65536 entries, the loop is found after at most 65536 steps, with no
    // descriptor object kept (the old walk kept one per step before its check fired)
    drv.desc(DESC, 1, table, 16 * MAX_INDIRECT, VIRTQ_DESC_F_INDIRECT, 0);
    drv.publish(1);
    const pushes = vi.spyOn(Array.prototype, 'push');
    try {
      expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
      expect(pushes).not.toHaveBeenCalled();
    } finally {
      pushes.mockRestore();
    }
    // a direct chain that loops through the whole queue: refused after `size` steps
    for (let i = 0; i < SIZE; i++) drv.desc(DESC, i, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, (i + 1) % SIZE);
    drv.publish(2);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
  });

  it('accepts an indirect table at any alignment, as the spec does', () => {
    const { q, drv } = setup();
    const table = HEAP + 0x103; // not 16-aligned
    drv.desc(table, 0, RAM + 0x20000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv.desc(table, 1, RAM + 0x30000, 16, VIRTQ_DESC_F_WRITE, 0);
    drv.desc(DESC, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    drv.publish(0);
    expect(q.pop()!.descriptors).toEqual([
      { addr: RAM + 0x20000, len: 8, write: false },
      { addr: RAM + 0x30000, len: 16, write: true },
    ]);
  });

  it('refuses a chain of more than 2^32-1 bytes', () => {
    const mem = GuestMemoryMmap.fromRanges([
      [RAM, 1 << 20],
      [2 ** 33, 2 ** 32], // a sparse 4 GiB region to point the buffers at
    ]);
    const q = new SplitQueue(mem, { size: SIZE, desc: DESC, avail: AVAIL, used: USED });
    const drv = new Driver(mem);
    drv.desc(DESC, 0, 2 ** 33, 0xffff_fff0, VIRTQ_DESC_F_NEXT, 1);
    drv.desc(DESC, 1, 2 ** 33, 0xf, VIRTQ_DESC_F_NEXT, 2); // 2^32 - 1 bytes so far: allowed
    drv.desc(DESC, 2, 2 ** 33, 0, 0, 0);
    drv.publish(0);
    expect(q.pop()!.descriptors.length).toBe(3);
    drv.desc(DESC, 2, 2 ** 33, 1, 0, 0); // one byte more: 2^32
    drv.publish(0);
    expectVirtio(() => q.pop(), 'ERR_VIRTIO_CHAIN');
  });

  it('addUsed refuses a length that is not a u32, writing nothing', () => {
    const { mem, q, drv } = setup();
    drv.add([{ addr: RAM + 0x20000, len: 4, write: true }], false);
    const head = q.pop()!.head;
    for (const bad of [2 ** 32, -1, 1.5, NaN]) {
      expect(() => q.addUsed(head, bad)).toThrow(RangeError);
      expect(mem.load(le16, USED + 2)).toBe(0);
    }
    q.addUsed(head, 0xffff_ffff);
    expect(mem.readObj(le32, USED + 8)).toBe(0xffff_ffff);
  });

  it('resumes at saved ring positions', () => {
    const { mem, q, drv } = setup(true);
    for (let i = 0; i < 5; i++) drv.add([{ addr: RAM + 0x20000 + i * 64, len: 8, write: false }], false);
    for (let i = 0; i < 3; i++) q.addUsed(q.pop()!.head, 1);
    q.needsNotification();
    const saved = structuredClone(q.state);
    expect(saved).toEqual({ nextAvail: 3, nextUsed: 3, signalledUsed: 3 });
    const r = new SplitQueue(mem, { size: SIZE, desc: DESC, avail: AVAIL, used: USED, eventIdx: true }, saved);
    expect(r.pop()!.descriptors[0]!.addr).toBe(RAM + 0x20000 + 3 * 64);
    r.addUsed(3, 1);
    expect(mem.load(le16, USED + 2)).toBe(4);
    expect(r.pending()).toBe(1);
    expect(
      () =>
        new SplitQueue(mem, { size: SIZE, desc: DESC, avail: AVAIL, used: USED }, { nextAvail: 70000, nextUsed: 0 }),
    ).toThrow(RangeError);
  });

  it('refuses unusable configurations', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]);
    expectVirtio(() => new SplitQueue(mem, { size: 3, desc: DESC, avail: AVAIL, used: USED }), 'ERR_VIRTIO_QUEUE');
    expectVirtio(() => new SplitQueue(mem, { size: 16, desc: DESC + 8, avail: AVAIL, used: USED }), 'ERR_VIRTIO_QUEUE');
    expectVirtio(() => new SplitQueue(mem, { size: 16, desc: DESC, avail: AVAIL + 1, used: USED }), 'ERR_VIRTIO_QUEUE');
    expectVirtio(() => new SplitQueue(mem, { size: 16, desc: DESC, avail: AVAIL, used: USED + 2 }), 'ERR_VIRTIO_QUEUE');
    expectVirtio(() => new SplitQueue(mem, { size: 16, desc: 0x1000, avail: AVAIL, used: USED }), 'ERR_VIRTIO_QUEUE');
    expectVirtio(() => new SplitQueue(mem, { size: 65536, desc: DESC, avail: AVAIL, used: USED }), 'ERR_VIRTIO_QUEUE');
  });

  it('notification suppression: flags, and event indexes', () => {
    const a = setup();
    a.drv.add([{ addr: RAM + 0x20000, len: 4, write: false }], false);
    a.q.addUsed(a.q.pop()!.head, 0);
    expect(a.q.needsNotification()).toBe(true);
    a.mem.store(le16, 1, AVAIL); // VIRTQ_AVAIL_F_NO_INTERRUPT
    a.q.addUsed(0, 0);
    expect(a.q.needsNotification()).toBe(false);
    a.q.setNotification(false);
    expect(a.mem.load(le16, USED)).toBe(1);

    const b = setup(true);
    b.mem.store(le16, 1, AVAIL + 4 + 2 * SIZE); // used_event = 1: notify when used passes 1
    b.q.addUsed(0, 0); // used 1
    expect(b.q.needsNotification()).toBe(false);
    b.q.addUsed(1, 0); // used 2: crossed 1
    expect(b.q.needsNotification()).toBe(true);
    b.drv.add([{ addr: RAM + 0x20000, len: 4, write: true }], false);
    b.q.pop();
    expect(b.mem.load(le16, USED + 4 + 8 * SIZE)).toBe(1); // avail_event follows
  });
});
