// VirtioBlk behind the virtio-mmio transport, driven by a test driver: reads and writes against
// the file, the capacity and direction checks (the file never grows, nothing is written on a
// refused request), GET_ID truncated to the buffer, read-only disks, FLUSH, malformed requests
// (DEVICE_NEEDS_RESET), and the configuration space.
import { fstatSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  VirtioBlk,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  le32,
  le64,
  u8,
} from '../../src/index.js';
import { tempFile } from '../helpers/temp-file.js';
import { VirtioTestDriver, type Buf } from '../helpers/virtio-driver.js';

const DISK = 1 << 20;

function disk(options: { readOnly?: boolean; id?: string } = {}): {
  d: VirtioTestDriver;
  blk: VirtioBlk;
  fd: number;
  request: (type: number, sector: number | bigint, data: Buf[]) => { status: number; used: number };
} {
  const content = new Uint8Array(DISK).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  const { fd } = tempFile(0, content);
  const blk = new VirtioBlk({ fd, ...options });
  const d = VirtioTestDriver.create(blk);
  expect(d.negotiate(blk.features)).toBe(true);
  d.setupQueue(0, 16);
  d.driverOk();
  const request = (type: number, sector: number | bigint, data: Buf[]) => {
    const header = d.buffer(16);
    d.mem.writeObj(le32, type, header);
    d.mem.writeObj(le32, 0, header + 4);
    d.mem.writeObj(le64, BigInt(sector), header + 8);
    const status = d.buffer(1);
    d.mem.writeObj(u8, 0xee, status);
    const head = d.add(0, [{ addr: header, len: 16 }, ...data, { addr: status, len: 1, write: true }]);
    d.notify(0);
    const used = d.takeUsed(0);
    expect(used.map(([h]) => h)).toEqual([head]);
    return { status: d.mem.readObj(u8, status), used: used[0]![1] };
  };
  return { d, blk, fd, request };
}

const fileBytes = (fd: number, pos: number, len: number): Uint8Array => {
  const b = new Uint8Array(len);
  readSync(fd, b, 0, len, pos);
  return b;
};

describe('VirtioBlk', () => {
  it('reads and writes sectors through the transport, as the file has them', () => {
    const { d, fd, request } = disk();
    const a = d.buffer(1024);
    const b = d.buffer(512);
    // IN: sectors 3-5 into two buffers
    expect(
      request(VIRTIO_BLK_T_IN, 3, [
        { addr: a, len: 1024, write: true },
        { addr: b, len: 512, write: true },
      ]),
    ).toEqual({ status: VIRTIO_BLK_S_OK, used: 1537 });
    const got = new Uint8Array(1536);
    d.mem.readSlice(got.subarray(0, 1024), a);
    d.mem.readSlice(got.subarray(1024), b);
    expect(got).toEqual(fileBytes(fd, 3 * 512, 1536));
    // OUT: one sector written at the disk's last sector
    const w = d.buffer(512);
    d.mem.writeSlice(new Uint8Array(512).fill(0x5a), w);
    expect(request(VIRTIO_BLK_T_OUT, DISK / 512 - 1, [{ addr: w, len: 512 }])).toEqual({ status: 0, used: 1 });
    expect(fileBytes(fd, DISK - 512, 512).every((x) => x === 0x5a)).toBe(true);
    expect(fstatSync(fd).size).toBe(DISK);
  });

  it('refuses sectors at or past the capacity with IOERR: the file neither grows nor changes', () => {
    const { d, fd, request } = disk();
    const w = d.buffer(4096);
    d.mem.writeSlice(new Uint8Array(4096).fill(1), w);
    const before = Buffer.from(fileBytes(fd, 0, DISK));
    for (const sector of [DISK / 512, DISK / 512 - 1, 2 ** 40, 2n ** 64n - 1n, 2n ** 55n]) {
      expect(request(VIRTIO_BLK_T_OUT, sector, [{ addr: w, len: 4096 }]).status).toBe(VIRTIO_BLK_S_IOERR);
      expect(request(VIRTIO_BLK_T_IN, sector, [{ addr: w, len: 4096, write: true }]).status).toBe(VIRTIO_BLK_S_IOERR);
    }
    // lengths that are not whole sectors
    expect(request(VIRTIO_BLK_T_OUT, 0, [{ addr: w, len: 100 }]).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(fstatSync(fd).size).toBe(DISK);
    expect(Buffer.from(fileBytes(fd, 0, DISK)).equals(before)).toBe(true);
  });

  it('GET_ID writes at most the buffer it is given, FLUSH succeeds, unknown types are UNSUPP', () => {
    const { d, request } = disk({ id: 'disk-0123456789abcde' });
    const id = d.buffer(8);
    d.mem.writeSlice(new Uint8Array(8).fill(0xcc), id);
    expect(request(VIRTIO_BLK_T_GET_ID, 0, [{ addr: id, len: 4, write: true }])).toEqual({ status: 0, used: 5 });
    const got = new Uint8Array(8);
    d.mem.readSlice(got, id);
    expect([...got]).toEqual([...new TextEncoder().encode('disk'), 0xcc, 0xcc, 0xcc, 0xcc]);
    const full = d.buffer(32);
    expect(request(VIRTIO_BLK_T_GET_ID, 0, [{ addr: full, len: 32, write: true }]).used).toBe(21);
    expect(request(VIRTIO_BLK_T_FLUSH, 0, []).status).toBe(VIRTIO_BLK_S_OK);
    expect(request(99, 0, []).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(() => new VirtioBlk({ fd: 0, id: 'x'.repeat(21) })).toThrow(RangeError);
  });

  it('a read-only disk offers VIRTIO_BLK_F_RO and fails writes with IOERR', () => {
    const { d, blk, fd, request } = disk({ readOnly: true });
    expect((blk.features >> BigInt(VIRTIO_BLK_F_RO)) & 1n).toBe(1n);
    const w = d.buffer(512);
    d.mem.writeSlice(new Uint8Array(512).fill(9), w);
    const before = fileBytes(fd, 0, 512);
    expect(request(VIRTIO_BLK_T_OUT, 0, [{ addr: w, len: 512 }]).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(fileBytes(fd, 0, 512)).toEqual(before);
    expect(request(VIRTIO_BLK_T_IN, 0, [{ addr: w, len: 512, write: true }]).status).toBe(VIRTIO_BLK_S_OK);
    expect(blk.state).toEqual({ requests: 2, failed: 1 });
  });

  it('malformed requests put the device in DEVICE_NEEDS_RESET and touch neither file nor status', () => {
    const malformed: ((d: VirtioTestDriver, h: number, s: number, data: number) => Buf[])[] = [
      (_d, h, s) => [
        { addr: h, len: 16, write: true },
        { addr: s, len: 1, write: true },
      ], // writable header
      (_d, h, s) => [
        { addr: h, len: 8 },
        { addr: s, len: 1, write: true },
      ], // short header
      (_d, h, s) => [
        { addr: h, len: 16 },
        { addr: s, len: 1 },
      ], // read-only status
      (_d, h, s) => [
        { addr: h, len: 16 },
        { addr: s, len: 0, write: true },
      ], // empty status
      (_d, h) => [{ addr: h, len: 16 }], // no status at all
      (_d, h, s, data) => [
        { addr: h, len: 16 },
        { addr: data, len: 512 },
        { addr: s, len: 1, write: true },
      ], // IN into read-only data
    ];
    for (const [k, shape] of malformed.entries()) {
      const { d, fd } = disk();
      const h = d.buffer(16);
      d.mem.writeObj(le32, k === 5 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, h);
      const s = d.buffer(1);
      d.mem.writeObj(u8, 0xee, s);
      const data = d.buffer(512);
      const before = fileBytes(fd, 0, 4096);
      d.add(0, shape(d, h, s, data));
      expect(() => d.notify(0), `shape ${k}`).not.toThrow();
      expect(d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, `shape ${k}`).toBeTruthy();
      expect(d.mem.readObj(u8, s)).toBe(0xee);
      expect(fileBytes(fd, 0, 4096)).toEqual(before);
    }
  });

  it('refuses a queue larger than its QueueNumMax, and reports capacity, seg_max and blk_size', () => {
    const { fd } = tempFile(DISK);
    const blk = new VirtioBlk({ fd, queueSize: 1024 });
    const d = VirtioTestDriver.create(blk);
    d.negotiate(blk.features);
    expect((d.write(0x30, 0), d.read(0x34))).toBe(1024);
    d.write(0x38, 32768);
    d.write(0x44, 1);
    expect(d.read(0x44)).toBe(0);
    expect(d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(d.read(0x100) + d.read(0x104) * 2 ** 32).toBe(DISK / 512);
    expect(d.read(0x10c)).toBe(1022);
    expect(d.read(0x114)).toBe(512);
  });
});
