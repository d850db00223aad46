// Hostile virtqueues for the fuzzer (fuzz-child.mjs): a random driver writes descriptor
// tables, indirect tables, ring entries and indices (valid chains, garbage, loops, buffers in
// holes, tables across region ends, runaway indices) into guest memory, and every SplitQueue
// call is run against a model of the split-ring rules over its own copy of that memory:
//
// - every chain pop() returns is the one the model collects, every refusal is a VirtioError
//   with the model's code, and ring positions, used entries and notification answers agree;
// - work per call is bounded: a pop makes at most 6 accesses per descriptor the chain can
//   visit (the queue size, plus one indirect table) and keeps nothing for a refused chain
//   (counted in the sequences that hand the queue a counting wrapper; the others give it the
//   map itself, whose descriptor tables it reads through views);
// - the queue writes only what the model writes (the used ring, avail_event): after each
//   sequence guest memory equals the model's image byte for byte.
//
// Everything is a pure function of (seed, sequence index), so a failure replays exactly.
import { GuestMemoryMmap, MAX_INDIRECT, SplitQueue, VirtioError } from 'guestmem';
import { Mismatch, rng } from './fuzz-core.mjs';

const MIB = 1 << 20;
const TOP = 2n ** 53n;

/** The model's guest memory: its own byte images of the regions. */
class Image {
  constructor(ranges) {
    this.ranges = ranges.map(([base, size]) => ({ base, size, bytes: new Uint8Array(size) }));
  }
  #at(addr) {
    for (const g of this.ranges) if (addr >= g.base && addr < g.base + g.size) return g;
    return null;
  }
  /** Whether [addr, addr + len) is all guest RAM (adjacent regions join). */
  covers(addr, len) {
    let cur = BigInt(addr);
    const end = cur + BigInt(len);
    if (end > TOP) return false;
    while (cur < end) {
      const g = this.ranges.find((r) => cur >= BigInt(r.base) && cur < BigInt(r.base + r.size));
      if (!g) return false;
      cur = BigInt(g.base + g.size);
    }
    return true;
  }
  byte(addr) {
    const g = this.#at(addr);
    if (!g) throw new Error(`model read outside RAM at ${addr}`);
    return g.bytes[addr - g.base];
  }
  u16(addr) {
    return this.byte(addr) | (this.byte(addr + 1) << 8);
  }
  u32(addr) {
    return (this.u16(addr) + this.u16(addr + 2) * 65536) >>> 0;
  }
  put(addr, bytes) {
    for (let i = 0; i < bytes.length; i++) {
      const g = this.#at(addr + i);
      if (g) g.bytes[addr + i - g.base] = bytes[i];
    }
  }
}

const le = (v, n) => {
  const b = new Uint8Array(n);
  let x = BigInt(v);
  for (let i = 0; i < n; i++, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
};

class Refusal {
  constructor(code) {
    this.code = code;
  }
}

/** The split-ring rules, written from the spec and the queue's documented bounds. */
class QueueModel {
  constructor(img, cfg, state) {
    this.img = img;
    this.cfg = cfg;
    this.nextAvail = state?.nextAvail ?? 0;
    this.nextUsed = state?.nextUsed ?? 0;
    this.signalled = state?.signalledUsed ?? this.nextUsed;
  }
  /** The configuration check: null when the queue may be built, else the refusal. */
  static refuse(img, { size, desc, avail, used }) {
    if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0) return 'ERR_VIRTIO_QUEUE';
    const ok = (a, align, bytes) => Number.isSafeInteger(a) && a >= 0 && a % align === 0 && img.covers(a, bytes);
    if (!ok(desc, 16, 16 * size) || !ok(avail, 2, 6 + 2 * size) || !ok(used, 4, 6 + 8 * size))
      return 'ERR_VIRTIO_QUEUE';
    return null;
  }
  pending() {
    const n = (this.img.u16(this.cfg.avail + 2) - this.nextAvail) & 0xffff;
    if (n > this.cfg.size) throw new Refusal('ERR_VIRTIO_RING');
    return n;
  }
  /** null, or { head, descriptors, work } (work: descriptors the walk may visit). Throws Refusal. */
  pop() {
    const { size, avail, used } = this.cfg;
    if (this.pending() === 0) return null;
    const head = this.img.u16(avail + 4 + 2 * (this.nextAvail % size));
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.cfg.eventIdx) this.img.put(used + 4 + 8 * size, le(this.nextAvail, 2));
    this.work = size;
    this.visited = 0;
    if (head >= size) throw new Refusal('ERR_VIRTIO_CHAIN');
    let table = this.cfg.desc;
    let count = size;
    let i = head;
    let indirect = false;
    let total = 0;
    let seen = new Set();
    const descriptors = [];
    for (;;) {
      if (seen.has(i)) throw new Refusal('ERR_VIRTIO_CHAIN'); // a loop
      seen.add(i);
      this.visited++;
      const at = table + 16 * i;
      const addr = BigInt(this.img.u32(at)) + (BigInt(this.img.u32(at + 4)) << 32n);
      if (addr >= TOP) throw new Refusal('ERR_VIRTIO_ADDRESS');
      const len = this.img.u32(at + 8);
      const flags = this.img.u16(at + 12);
      const next = this.img.u16(at + 14);
      if (flags & 4) {
        if (indirect || flags & 1 || len === 0 || len % 16 !== 0 || len / 16 > MAX_INDIRECT)
          throw new Refusal('ERR_VIRTIO_CHAIN');
        if (!this.img.covers(Number(addr), len)) throw new Refusal('ERR_VIRTIO_ADDRESS');
        indirect = true;
        table = Number(addr);
        count = len / 16;
        this.work += count;
        i = 0;
        seen = new Set();
        continue;
      }
      if (len > 0 && !this.img.covers(Number(addr), len)) throw new Refusal('ERR_VIRTIO_ADDRESS');
      total += len;
      if (total > 0xffffffff) throw new Refusal('ERR_VIRTIO_CHAIN');
      descriptors.push({ addr: Number(addr), len, write: (flags & 2) !== 0 });
      if (!(flags & 1)) return { head, descriptors };
      if (next >= count) throw new Refusal('ERR_VIRTIO_CHAIN');
      i = next;
    }
  }
  addUsed(head, len) {
    const { size, used } = this.cfg;
    if (!Number.isInteger(head) || head < 0 || head >= size) throw new Refusal('ERR_VIRTIO_CHAIN');
    if (typeof len !== 'number') throw new Refusal('TypeError');
    if (!Number.isInteger(len) || len < 0 || len > 0xffffffff) throw new Refusal('RangeError');
    const elem = used + 4 + 8 * (this.nextUsed % size);
    this.img.put(elem, le(head, 4));
    this.img.put(elem + 4, le(len, 4));
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    this.img.put(used + 2, le(this.nextUsed, 2));
  }
  needsNotification() {
    const old = this.signalled;
    this.signalled = this.nextUsed;
    if (!this.cfg.eventIdx) return (this.img.u16(this.cfg.avail) & 1) === 0;
    const event = this.img.u16(this.cfg.avail + 4 + 2 * this.cfg.size);
    // notify when used_event lies in [old, new) of the used index, modulo 2^16
    for (let k = old; k !== this.nextUsed; k = (k + 1) & 0xffff) if (k === event) return true;
    return false;
  }
  setNotification(enabled) {
    const { size, used } = this.cfg;
    if (this.cfg.eventIdx) {
      if (enabled) this.img.put(used + 4 + 8 * size, le(this.nextAvail, 2));
    } else this.img.put(used, le(enabled ? 0 : 1, 2));
  }
}

/** Guest memory with every access the queue makes counted (its work per call). */
function counted(mem) {
  const c = { calls: 0 };
  c.mem = {
    load: (t, a) => (c.calls++, mem.load(t, a)),
    store: (t, v, a) => (c.calls++, mem.store(t, v, a)),
    readObj: (t, a) => (c.calls++, mem.readObj(t, a)),
    ld16u: (a) => (c.calls++, mem.ld16u(a)),
    ld32u: (a) => (c.calls++, mem.ld32u(a)),
    st16: (a, v) => (c.calls++, mem.st16(a, v)),
    st32: (a, v) => (c.calls++, mem.st32(a, v)),
    readUnordered: (t, a) => (c.calls++, mem.readUnordered(t, a)),
    writeUnordered: (t, v, a) => (c.calls++, mem.writeUnordered(t, v, a)),
    checkRange: (a, n) => (c.calls++, mem.checkRange(a, n)),
  };
  return c;
}

/** What a call did: its value, or the code of its refusal; anything untyped is a failure. */
function outcome(fn) {
  try {
    return { value: fn() };
  } catch (e) {
    if (e instanceof Refusal) return { err: e.code };
    if (e instanceof VirtioError) return { err: e.code };
    if (e instanceof RangeError || e instanceof TypeError) {
      if (e.code === 'ERR_OUT_OF_RANGE' || e.code === 'ERR_INVALID_ARG_TYPE') return { err: e.constructor.name };
    }
    throw new Mismatch(`untyped error: ${e?.stack ?? e}`);
  }
}

const json = (v) => JSON.stringify(v ?? null);

/**
 * One hostile-driver sequence: a random memory map and queue, then `ops` random driver writes
 * and device calls, each checked against the model. Adds to `stats` (calls, per-outcome
 * counts, the largest per-descriptor work seen); throws Mismatch with `.log` on a failure.
 */
export function virtqueueSequence(seed, index, ops, stats) {
  const r = rng(seed * 104729 + index * 31 + 17);
  const base = r.pick([0, 0x8000_0000, 2 ** 40]);
  const gap = r.pick([0, 0, 0x10000]);
  const ranges = [
    [base, MIB],
    [base + MIB + gap, MIB],
  ];
  const mem = GuestMemoryMmap.fromRanges(ranges);
  const img = new Image(ranges);
  const log = [];
  const fail = (msg) => {
    const e = new Mismatch(msg);
    e.log = log;
    return e;
  };
  const end = base + 2 * MIB + gap;
  const write = (addr, bytes) => {
    if (!img.covers(addr, bytes.length)) return; // the driver writes only RAM
    mem.writeSlice(bytes, addr);
    img.put(addr, bytes);
  };
  const anyAddr = () =>
    r.pick([
      base + r.int(2 * MIB),
      base + MIB - r.int(64), // across the end of the first region (a hole or the next region)
      base + MIB + r.int(gap + 8),
      end - r.int(64),
      end + r.int(4096),
      2 ** 53 - r.int(4096),
      -1, // all ones: 2^64-1
      r.int(2 ** 32) * 2 ** 20,
    ]);
  const ramAddr = () => base + r.int(2 * MIB);
  const anyLen = () => r.pick([0, 1, 16, 4096, r.int(65536), 2 ** 31, 2 ** 32 - 1, 16 * (MAX_INDIRECT + 1)]);
  const desc = (table, i, addr, len, flags, next) => {
    const b = new Uint8Array(16);
    b.set(le(BigInt.asUintN(64, BigInt(addr)), 8), 0);
    b.set(le(len >>> 0, 4), 8);
    b.set(le(flags & 0xffff, 2), 12);
    b.set(le(next & 0xffff, 2), 14);
    write(table + 16 * i, b);
  };

  // the queue: mostly where a driver would put it, sometimes misplaced
  const size = r.int(10) === 0 ? r.pick([0, 3, 65536, 32768, 1.5]) : 2 ** (r.int(8) === 0 ? 9 + r.int(7) : r.int(9));
  const sz = Number.isInteger(size) && size > 0 && size <= 32768 ? size : 1;
  const align = (a, n) => a - (((a % n) + n) % n);
  const place = (n, bytes) =>
    r.int(12) === 0
      ? r.pick([end - r.int(bytes), base + 1 + r.int(64), -16, 2 ** 60])
      : align(base + r.int(2 * MIB - bytes - 64), n);
  const cfg = {
    size,
    desc: place(16, 16 * sz),
    avail: place(2, 6 + 2 * sz),
    used: place(4, 6 + 8 * sz),
    eventIdx: r.int(2) === 0,
  };
  log.push(`new SplitQueue(${json(ranges)}, ${json(cfg)})`);
  // half the sequences count the queue's accesses through a wrapper (read through its methods),
  // half hand it the map itself (the descriptor table read through its views)
  const counter = counted(mem);
  const direct = r.int(2) === 0;
  const qmem = direct ? mem : counter.mem;
  const refused = QueueModel.refuse(img, cfg);
  const built = outcome(() => new SplitQueue(qmem, cfg));
  stats.calls++;
  if ((built.err ?? null) !== refused)
    throw fail(`constructor: queue ${json(built.err ?? 'ok')}, model ${json(refused ?? 'ok')}`);
  count(stats, built.err ?? 'ok');
  if (refused) return;
  let q = built.value;
  let model = new QueueModel(img, cfg);
  const heads = [];
  const tables = []; // the indirect tables made: [address, entries]
  let availIdx = 0;

  for (let k = 0; k < ops; k++) {
    const op = r.int(16);
    if (op < 3) {
      // a valid chain of up to 8 buffers, direct or through an indirect table anywhere in RAM
      const n = 1 + r.int(Math.min(8, sz));
      const bufs = Array.from({ length: n }, () => [ramAddr(), r.int(8192), r.int(2)]);
      const head = r.int(sz);
      // now and then the last one goes on (NEXT) to an index just past its table
      const more = r.int(8) === 0 ? 1 : 0;
      if (r.int(3) === 0) {
        const table = ramAddr() - r.int(16);
        bufs.forEach(([a, l, w], i) => desc(table, i, a, l, (w ? 2 : 0) | (i + 1 < n ? 1 : more), i + 1));
        desc(cfg.desc, head, table, 16 * n, 4, 0);
        tables.push([table, n]);
        log.push(`driver: indirect chain of ${n} at ${head}, table 0x${table.toString(16)}`);
      } else {
        const idx = [head];
        for (let i = 1; i < n; i++) idx.push(r.int(sz));
        bufs.forEach(([a, l, w], i) =>
          desc(cfg.desc, idx[i], a, l, (w ? 2 : 0) | (i + 1 < n ? 1 : more), idx[i + 1] ?? sz + r.int(4)),
        );
        log.push(`driver: chain ${json(idx)}`);
      }
      heads.push(head);
    } else if (op < 5) {
      // garbage descriptors: any address, length, flags and next
      // (in the descriptor table, or in an indirect table made before, next past its end too)
      const [t, n] = tables.length && r.int(3) === 0 ? r.pick(tables) : [cfg.desc, sz];
      const m = r.int(4) + 1;
      for (let j = 0; j < m; j++) {
        const next = r.int(4) === 0 ? r.int(65536) : r.int(n + 2);
        desc(t, r.int(n), anyAddr(), anyLen(), r.int(8) | (r.int(8) === 0 ? 0xfff8 : 0), next);
      }
      log.push(`driver: ${m} garbage descriptors in table 0x${t.toString(16)}`);
    } else if (op === 5) {
      // a loop, a ring of every descriptor, or a chain of every one, each buffer all of RAM
      // (2^32 bytes in all from 4096 of them)
      const i = r.int(sz);
      const pick = r.int(3);
      if (pick === 0) {
        desc(cfg.desc, i, ramAddr(), r.int(64), 1, i);
        log.push(`driver: descriptor ${i} loops to itself`);
      } else {
        const len = r.pick([0, 1, gap ? MIB : 2 * MIB]);
        for (let j = 0; j < sz; j++) desc(cfg.desc, j, base, len, j + 1 < sz || pick === 1 ? 1 : 0, (j + 1) % sz);
        log.push(`driver: ${pick === 1 ? 'a ring' : 'a chain'} of every descriptor, ${len} bytes each`);
      }
      heads.push(i);
    } else if (op < 9) {
      // publish: ring entries for the chains made, then the index (sometimes a runaway one)
      const m = r.int(3) + (r.int(8) === 0 ? sz : 0);
      for (let j = 0; j < m; j++) {
        const h = heads.length && r.int(4) ? heads.shift() : r.int(4) === 0 ? r.int(65536) : r.int(sz);
        write(cfg.avail + 4 + 2 * ((availIdx + j) % sz), le(h, 2));
      }
      availIdx = r.int(32) === 0 ? r.int(65536) : (availIdx + m) & 0xffff;
      // a driver that ran away comes back now and then (the device has refused its ring meanwhile)
      if (((availIdx - model.nextAvail) & 0xffff) > sz && r.int(2)) availIdx = (model.nextAvail + r.int(3)) & 0xffff;
      write(cfg.avail + 2, le(availIdx, 2));
      log.push(`driver: ${m} ring entries, avail.idx ${availIdx}`);
    } else if (op === 9) {
      // the driver's suppression fields: avail.flags, used_event
      write(cfg.avail, le(r.int(4), 2));
      write(cfg.avail + 4 + 2 * sz, le(r.int(65536), 2));
      log.push('driver: avail.flags and used_event');
    } else {
      const call = r.pick([
        'pop',
        'pop',
        'pop',
        'pending',
        'addUsed',
        'addUsed',
        'needsNotification',
        'setNotification',
        'resume',
      ]);
      let args = [];
      if (call === 'addUsed')
        args = [
          r.int(4) ? r.int(sz) : r.pick([sz, -1, 0.5]),
          r.int(4) ? r.int(2 ** 32) : r.pick([2 ** 32, -1, 1.5, NaN, '4', 2 ** 53]),
        ];
      if (call === 'setNotification') args = [r.int(2) === 0];
      log.push(`${call}(${args.map(json).join(', ')})`);
      if (call === 'resume') {
        // the state as plain data, through a structured clone, into a new queue
        const state = structuredClone(q.state);
        q = new SplitQueue(qmem, cfg, state);
        model = new QueueModel(img, cfg, state);
        stats.calls++;
        continue;
      }
      const pushes = { n: 0 };
      const push = Array.prototype.push;
      counter.calls = 0;
      model.work = 0;
      let got;
      // pop() may keep memory only for the chain it returns: count every push while it runs
      Array.prototype.push = function (...items) {
        pushes.n += items.length;
        return push.apply(this, items);
      };
      try {
        got = outcome(() => q[call](...args));
      } finally {
        Array.prototype.push = push;
      }
      const want = outcome(() => model[call](...args));
      stats.calls++;
      if (json(got) !== json(want)) throw fail(`${call}: queue ${json(got)}, model ${json(want)}`);
      count(stats, got.err ?? (call === 'pop' && got.value ? 'chain' : 'ok'));
      if (call === 'pop') {
        const kept = got.value ? got.value.descriptors.length : 0;
        if (pushes.n > kept) throw fail(`pop kept ${pushes.n} objects for a chain of ${kept}`);
        // 6 accesses per descriptor read, 3 for the ring: a chain is walked once over the
        // descriptors it has, a refused one over at most what its tables hold
        const limit = got.value ? 6 * model.visited + 3 : 6 * model.work + 3;
        if (!direct && counter.calls > limit)
          throw fail(
            `pop made ${counter.calls} memory accesses, more than ${limit} (${model.visited} read, ${model.work} reachable)`,
          );
        if (!direct && model.work > 0)
          stats.worstPerDescriptor = Math.max(stats.worstPerDescriptor ?? 0, counter.calls / model.work);
      }
      const state = { nextAvail: model.nextAvail, nextUsed: model.nextUsed, signalledUsed: model.signalled };
      if (json(q.state) !== json(state)) throw fail(`state: queue ${json(q.state)}, model ${json(state)}`);
    }
  }
  // the queue wrote nothing the model did not
  for (const g of img.ranges) {
    const got = new Uint8Array(g.size);
    mem.readSlice(got, g.base);
    if (Buffer.from(got.buffer).equals(Buffer.from(g.bytes.buffer))) continue;
    const at = got.findIndex((v, j) => v !== g.bytes[j]);
    throw fail(`guest byte 0x${(g.base + at).toString(16)}: memory ${got[at]}, model ${g.bytes[at]}`);
  }
  stats.sequences++;
}

function count(stats, key) {
  stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
}
