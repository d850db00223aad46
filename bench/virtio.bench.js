// virtio-blk through the virtio-mmio transport, device side, against a plain positional I/O
// loop on the same file in the same run: 4 KiB requests at random sectors of a 64 MiB disk,
// 256 requests a notify (the driver side only rewrites each header's sector and the ring).
//   reads:  VIRTIO_BLK_T_IN into guest memory  vs  readSync(fd, buf, 4096 i, 4096, pos) (pread)
//   writes: VIRTIO_BLK_T_OUT from guest memory vs  writeSync(fd, buf, 4096 i, 4096, pos) (pwrite)
// (K data buffers of 4 KiB on both sides, the i-th request's in the i-th)
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestMemoryMmap, VirtioBlk, VirtioMmioTransport, le16, le32, le64 } from 'guestmem';
import { do_not_optimize, printTable, rng, runCases } from './lib/harness.js';
import { bringUp } from './lib/virtio-setup.js';

const DISK = 64 << 20;
const K = 256; // requests per notify
const RAM = 0x8000_0000;
const dir = mkdtempSync(join(tmpdir(), 'guestmem-bench-virtio-'));
const fd = openSync(join(dir, 'disk'), 'w+');
const chunk = Buffer.alloc(1 << 20);
for (let off = 0; off < DISK; off += chunk.length) writeSync(fd, chunk.fill(off >> 20), 0, chunk.length, off);

const r = rng(7);
const sectors = Float64Array.from({ length: K * 16 }, () => (r() % (DISK / 4096)) * 8);
const mem = GuestMemoryMmap.fromRanges([[RAM, 16 << 20]]);
const blk = new VirtioBlk({ fd, queueSize: 1024 });
const transport = new VirtioMmioTransport(blk, { mem, interrupt: () => {} });
const q = bringUp(transport, { size: 1024, desc: RAM, avail: RAM + 0x4000, used: RAM + 0x5000 });
const HEADERS = RAM + 0x10000;
const DATA = RAM + 0x100000;
const STATUS = RAM + 0x20000;

/** K chains of header, 4 KiB data, status in descriptors 3i … 3i+2, for requests of `type`. */
function chains(type) {
  for (let i = 0; i < K; i++) {
    const d = q.desc + 48 * i;
    const bufs = [
      [HEADERS + 16 * i, 16, 1],
      [DATA + 4096 * i, 4096, type === 0 ? 3 : 1],
      [STATUS + i, 1, 2],
    ];
    bufs.forEach(([a, len, flags], k) => {
      mem.writeObj(le64, BigInt(a), d + 16 * k);
      mem.writeObj(le32, len, d + 16 * k + 8);
      mem.writeObj(le16, flags, d + 16 * k + 12);
      mem.writeObj(le16, 3 * i + k + 1, d + 16 * k + 14);
    });
    mem.writeObj(le32, type, HEADERS + 16 * i);
  }
}
let idx = 0;
let next = 0;
/** One notify's worth: K headers get new sectors, K ring entries, the index, the notify. */
function batch() {
  // the driver's part kept small (register stores, no BigInt): the device side is measured
  for (let i = 0; i < K; i++) {
    mem.st32(HEADERS + 16 * i + 8, sectors[next++ & (sectors.length - 1)]); // the high word stays 0
    mem.st16(q.avail + 4 + 2 * ((idx + i) % q.size), 3 * i);
  }
  idx = (idx + K) & 0xffff;
  mem.store(le16, idx, q.avail + 2);
  transport.write(0x50, 4, 0);
  if (mem.load(le16, q.used + 2) !== idx) throw new Error('the device did not serve the batch');
}
// the baseline moves the same bytes between the file and K buffers of 4 KiB (as the guest's)
const buf = Buffer.alloc(4096 * K);
let p = 0;
const raw = (io) => () => {
  let s = 0;
  for (let i = 0; i < K; i++) s += io(fd, buf, 4096 * i, 4096, sectors[p++ & (sectors.length - 1)] * 512);
  do_not_optimize(s);
};

const results = [];
chains(0);
results.push(
  ...(await runCases(
    'virtio',
    [
      { group: 'virtio-blk 4 KiB random reads', name: 'pread loop (readSync)', ops: K, fn: raw(readSync) },
      {
        group: 'virtio-blk 4 KiB random reads',
        name: 'virtio-blk IN via the transport',
        baseline: 'pread loop (readSync)',
        ops: K,
        fn: batch,
      },
    ],
    { print: false },
  )),
);
chains(1);
results.push(
  ...(await runCases(
    'virtio',
    [
      { group: 'virtio-blk 4 KiB random writes', name: 'pwrite loop (writeSync)', ops: K, fn: raw(writeSync) },
      {
        group: 'virtio-blk 4 KiB random writes',
        name: 'virtio-blk OUT via the transport',
        baseline: 'pwrite loop (writeSync)',
        ops: K,
        fn: batch,
      },
    ],
    { print: false },
  )),
);
closeSync(fd);
rmSync(dir, { recursive: true, force: true });
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
