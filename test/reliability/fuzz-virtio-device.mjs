// Hostile drivers against the virtio devices for the fuzzer (fuzz-child.mjs): a virtio-blk
// disk (read-write or read-only) and a virtio-rng behind VirtioMmioTransport, driven through
// their registers by a driver that mixes a proper bring-up and proper requests with random
// register writes of any width, requests with random types, sectors, lengths and directions,
// garbage chains, and resets. Checked after every call:
//
// - no register access throws, and the interrupt line is high exactly while InterruptStatus
//   is not 0;
// - every request the device completes has the status (and used length) a model of the disk
//   gives, reads return the model's bytes, and the file equals the model at the end: it never
//   grows, and no refused or malformed request changes it;
// - one notify serves at most one queue size of requests; a device in DEVICE_NEEDS_RESET serves
//   nothing until a reset;
// - the transport's state survives a structured clone into a new transport unchanged.
//
// Everything is a pure function of (seed, sequence index), so a failure replays exactly.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GuestMemoryMmap,
  VirtioBlk,
  VirtioMmioTransport,
  VirtioRng,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  le16,
  le32,
  le64,
  u8,
} from 'guestmem';
import { Mismatch, rng } from './fuzz-core.mjs';

const RAM = 0x8000_0000;
const RAM_SIZE = 1 << 20;
const DISK = 64 << 10;
const SECTOR = 512;

/**
 * One sequence against a block device (or, one in four, an entropy device). Adds to `stats`
 * (calls, requests completed by status, NEEDS_RESET entries); throws Mismatch with `.log`.
 */
export function deviceSequence(seed, index, ops, stats) {
  const r = rng(seed * 7727 + index * 13 + 5);
  const log = [];
  const fail = (msg) => Object.assign(new Mismatch(msg), { log });
  const dir = mkdtempSync(join(tmpdir(), 'guestmem-fuzzdev-'));
  const path = join(dir, 'disk');
  const fd = openSync(path, 'w+');
  try {
    const model = new Uint8Array(DISK).map((_, i) => (i * 131 + index) & 0xff);
    writeSync(fd, model, 0, DISK, 0);
    const isRng = r.int(4) === 0;
    const readOnly = r.int(3) === 0;
    const qmax = r.pick([4, 8, 16]);
    const device = isRng
      ? new VirtioRng({ queueSize: qmax, source: (b) => b.fill(0x3c) })
      : new VirtioBlk({ fd, readOnly, queueSize: qmax });
    const mem = GuestMemoryMmap.fromRanges([[RAM, RAM_SIZE]]);
    let level = false;
    const deferred = [];
    const options = { mem, interrupt: (l) => (level = l), defer: (fn) => deferred.push(fn) };
    let t = new VirtioMmioTransport(device, options);
    log.push(`${isRng ? 'rng' : readOnly ? 'read-only blk' : 'blk'}, QueueNumMax ${qmax}`);
    let heap = RAM + 0x10000;
    const alloc = (n, align = 16) => {
      heap = Math.ceil(heap / align) * align;
      if (heap + n > RAM + RAM_SIZE) heap = RAM + 0x10000; // reuse: buffers of old requests are done
      const at = heap;
      heap += n;
      return at;
    };
    let q = null; // the queue layout the driver set up: { size, desc, avail, used, next, idx, seen }
    const pendingReq = new Map(); // head -> what the driver asked for
    const owned = new Set(); // descriptor slots of requests not completed yet
    const freeSlots = (n) => {
      const sz = Math.max(1, Math.min(q.size, 32768));
      const out = [];
      for (let i = 0; i < sz && out.length < n; i++) {
        const at = (q.next + i) % sz;
        if (!owned.has(at)) out.push(at);
      }
      return out.length === n ? out : null;
    };
    const reg = (off) => t.read(off, 4);
    const set = (off, v) => t.write(off, 4, v);
    const served = () => (isRng ? 0 : device.state.requests);

    const bringUp = () => {
      if (q) collect();
      set(0x70, 0);
      set(0x70, 3);
      for (const sel of [0, 1]) {
        set(0x14, sel);
        const offered = reg(0x10);
        set(0x24, sel);
        set(0x20, r.int(6) === 0 ? r.int(2 ** 32) : offered); // sometimes features not offered
      }
      set(0x70, 11);
      const size = r.int(6) === 0 ? r.pick([qmax * 2, 3, 0, 32768]) : 2 ** r.int(Math.log2(qmax) + 1);
      const sz = Math.max(1, Math.min(size, 32768));
      q = {
        size,
        desc: alloc(16 * sz),
        avail: alloc(6 + 2 * sz, 2),
        used: alloc(6 + 8 * sz, 4),
        next: 0,
        idx: 0,
        seen: 0,
      };
      // fresh rings start zeroed, as a driver's allocations do (memory is reused)
      mem.writeSlice(new Uint8Array(16 * sz), q.desc);
      mem.writeSlice(new Uint8Array(6 + 2 * sz), q.avail);
      mem.writeSlice(new Uint8Array(6 + 8 * sz), q.used);
      set(0x30, 0);
      set(0x38, size);
      for (const [o, a] of [
        [0x80, q.desc],
        [0x90, q.avail],
        [0xa0, q.used],
      ]) {
        set(o, a >>> 0);
        set(o + 4, 0);
      }
      set(0x44, 1);
      set(0x70, reg(0x70) | 4);
      pendingReq.clear();
      owned.clear();
      log.push(`bring-up: queue ${size}, status ${reg(0x70)}`);
    };

    const desc = (i, addr, len, flags, next) => {
      const at = q.desc + 16 * (i % Math.max(1, q.size));
      mem.writeObj(le64, BigInt(addr), at);
      mem.writeObj(le32, len >>> 0, at + 8);
      mem.writeObj(le16, flags, at + 12);
      mem.writeObj(le16, next, at + 14);
    };
    const publish = (head) => {
      const sz = Math.max(1, q.size);
      mem.writeObj(le16, head, q.avail + 4 + 2 * (q.idx % sz));
      q.idx = (q.idx + 1) & 0xffff;
      mem.store(le16, q.idx, q.avail + 2);
    };

    /** A request: a header, data buffers, a status byte; mostly well-formed, sometimes not. */
    const request = () => {
      const sz = Math.max(1, Math.min(q.size, 32768));
      const type = r.pick([0, 0, 1, 1, 4, 8, 99]);
      const sector =
        r.int(8) === 0 ? r.pick([DISK / SECTOR, DISK / SECTOR - 1, 2 ** 32, 2 ** 52]) : r.int(DISK / SECTOR);
      const nData = type === 4 || type === 99 ? r.int(2) : 1 + r.int(2);
      const bufs = [];
      const header = alloc(16);
      mem.writeObj(le32, type, header);
      mem.writeObj(le64, BigInt(sector), header + 8);
      bufs.push({ addr: header, len: r.int(12) === 0 ? 8 : 16, write: r.int(16) === 0 });
      for (let k = 0; k < nData; k++) {
        const len = r.int(6) === 0 ? r.pick([0, 100, 513, 4]) : SECTOR * (1 + r.int(4));
        const at = alloc(Math.max(len, 1));
        const wantWrite = type !== 1;
        const write = r.int(12) === 0 ? !wantWrite : wantWrite;
        if (!write) mem.writeSlice(new Uint8Array(len).fill((sector + k * 7 + index) & 0xff), at);
        bufs.push({ addr: at, len, write });
      }
      const status = alloc(1);
      mem.writeObj(u8, 0xee, status);
      bufs.push({ addr: status, len: r.int(16) === 0 ? 0 : 1, write: r.int(16) !== 0 });
      const ids = freeSlots(bufs.length);
      if (ids === null) return null;
      q.next = (ids.at(-1) + 1) % sz;
      for (const i of ids) owned.add(i);
      bufs.forEach((b, k) =>
        desc(ids[k], b.addr, b.len, (b.write ? 2 : 0) | (k + 1 < bufs.length ? 1 : 0), ids[k + 1] ?? 0),
      );
      publish(ids[0]);
      pendingReq.set(ids[0], { type, sector, bufs: bufs.map((b) => ({ ...b })), status, ids });
      return `request type ${type} sector ${sector}, ${bufs.map((b) => `${b.len}${b.write ? 'w' : 'r'}`).join(' ')}`;
    };

    /** What the model says a completed request gives (blk): [status, used length], or null if malformed. */
    const expectBlk = (req) => {
      const { type, sector, bufs } = req;
      const n = bufs.length;
      if (n < 2 || bufs[0].write || bufs[0].len < 16 || !bufs[n - 1].write || bufs[n - 1].len < 1) return null;
      const data = bufs.slice(1, -1);
      for (const b of data) if (type === 1 ? b.write : (type === 0 || type === 8) && !b.write) return null;
      const bytes = data.reduce((s, b) => s + b.len, 0);
      if (type === 0 || type === 1) {
        if (bytes % SECTOR !== 0 || sector * SECTOR + bytes > DISK || (type === 1 && readOnly)) return [1, 1];
        return [0, type === 0 ? bytes + 1 : 1];
      }
      if (type === 4) return [0, 1];
      if (type === 8) return [0, Math.min(20, bytes) + 1];
      return [2, 1];
    };

    /** Reads what the device used, checks each against the model, applies OUTs to the model disk. */
    const collect = () => {
      if (!q || q.size < 1 || q.size > 32768) return;
      const idx = mem.load(le16, q.used + 2);
      const sz = q.size;
      let guard = 0;
      for (; q.seen !== idx && guard++ < 65536; q.seen = (q.seen + 1) & 0xffff) {
        const at = q.used + 4 + 8 * (q.seen % sz);
        const head = mem.readObj(le32, at);
        const len = mem.readObj(le32, at + 4);
        const req = pendingReq.get(head);
        pendingReq.delete(head);
        if (!req) continue; // a garbage chain the device took
        for (const i of req.ids) owned.delete(i);
        stats.completed++;
        if (isRng) {
          const want = Math.min(
            65536,
            req.bufs.filter((b) => b.write).reduce((s, b) => s + b.len, 0),
          );
          if (len !== want) throw fail(`rng used ${len} bytes, model ${want}`);
          continue;
        }
        const want = expectBlk(req);
        if (want === null) throw fail(`a malformed request (head ${head}) completed with length ${len}`);
        const status = mem.readObj(u8, req.status);
        if (status !== want[0] || len !== want[1])
          throw fail(`request ${head}: status ${status} used ${len}, model ${want}`);
        stats.status[status] = (stats.status[status] ?? 0) + 1;
        if (status !== 0) continue;
        let pos = req.sector * SECTOR;
        for (const b of req.bufs.slice(1, -1)) {
          const got = new Uint8Array(b.len);
          mem.readSlice(got, b.addr);
          if (req.type === 1) model.set(got, pos);
          else if (req.type === 0 && !Buffer.from(got).equals(Buffer.from(model.subarray(pos, pos + b.len))))
            throw fail(`request ${head}: read bytes differ from the model disk at ${pos}`);
          pos += b.len;
        }
      }
    };

    const check = (what) => {
      if (level !== (reg(0x60) !== 0)) throw fail(`${what}: line ${level}, InterruptStatus ${reg(0x60)}`);
    };

    bringUp();
    for (let k = 0; k < ops; k++) {
      const op = r.int(20);
      let what;
      const before = served();
      const broken = (reg(0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;
      if (broken && op < 5) {
        what = 'bring-up after DEVICE_NEEDS_RESET';
        bringUp();
      } else if (op < 7) {
        what = request() ?? 'request (too long for the queue)';
      } else if (op < 11) {
        what = 'notify 0';
        set(0x50, 0);
      } else if (op === 11) {
        // a garbage chain in a free slot (the requests in flight stay as they were): any
        // address, length, flags and next; or a head past the queue
        const slot = q.size >= 1 && q.size <= 32768 ? freeSlots(1) : null;
        what = 'garbage chain';
        if (slot) {
          const [i] = slot;
          desc(i, RAM + r.int(2 * RAM_SIZE), r.pick([0, 16, 2 ** 31, 2 ** 32 - 1]), r.int(8), r.int(65536));
          publish(r.int(4) === 0 ? q.size + r.int(65536 - q.size) : i);
        }
      } else if (op === 12) {
        // any register, any width, any value
        const off = r.int(4) === 0 ? 0x100 + r.int(0x100) : 4 * r.int(64);
        const width = r.pick([1, 2, 4, 4, 4]);
        const v = r.pick([0, 1, 0xffffffff, r.int(2 ** 32)]);
        what = `write ${off.toString(16)}/${width} = ${v}`;
        if (off !== 0x70 || v !== 0) t.write(off, width, v);
        if (r.int(2)) t.read(r.int(0x200) & ~3, r.pick([1, 2, 4]));
      } else if (op === 13) {
        what = `ack ${reg(0x60)}`;
        set(0x64, reg(0x60));
      } else if (op === 14) {
        what = `run ${deferred.length} deferred`;
        for (const fn of deferred.splice(0)) fn();
      } else if (op === 15) {
        // the state through a structured clone into a new transport over the same device
        const s = structuredClone(t.state);
        what = 'resume from state';
        t = new VirtioMmioTransport(device, options, s);
        if (JSON.stringify(t.state) !== JSON.stringify(s))
          throw fail(`state changed across a rebuild: ${JSON.stringify(s)} -> ${JSON.stringify(t.state)}`);
      } else if (op === 16) {
        what = 'bring-up again';
        bringUp();
      } else {
        what = 'collect';
      }
      log.push(what);
      stats.calls++;
      const done = served() - before;
      if (done > Math.max(1, Math.min(q.size, 32768))) throw fail(`${what} served ${done} requests at once`);
      if (broken && done > 0 && !what.startsWith('bring-up'))
        throw fail(`${what}: a device in DEVICE_NEEDS_RESET served ${done} requests`);
      if (!broken && reg(0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) stats.needsReset++;
      check(what);
      collect();
    }
    if (fstatSync(fd).size !== DISK) throw fail(`the disk grew to ${fstatSync(fd).size} bytes`);
    const file = new Uint8Array(DISK);
    readSync(fd, file, 0, DISK, 0);
    if (!Buffer.from(file).equals(Buffer.from(model))) {
      const at = file.findIndex((v, i) => v !== model[i]);
      throw fail(`disk byte ${at}: file ${file[at]}, model ${model[at]}`);
    }
    stats.sequences++;
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}
