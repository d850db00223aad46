// Snapshots with real files: full save/load round trips, incremental chains, streaming progress,
// a 16 GiB sparse map, and every malformed-file and bad-argument case as a typed error.
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applySnapshot,
  GuestMemoryMmap,
  loadSnapshot,
  readSnapshotHeader,
  saveSnapshot,
  u32,
  u64,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmem-snap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `s${n++}.snap`);

function fill(mem: GuestMemoryMmap, seed: number): void {
  for (const r of mem.iter()) {
    for (let a = 0; a < r.len; a += 64)
      mem.writeObj(u32, (Math.imul(r.startAddr + a, 2654435761) + seed) >>> 0, r.startAddr + a);
  }
}

function contents(mem: GuestMemoryMmap): Uint8Array[] {
  return [...mem.iter()].map((r) => {
    const b = new Uint8Array(r.len);
    r.readSlice(b, 0);
    return b;
  });
}

const layout: [number, number][] = [
  [0, 0x40000],
  [0x100000, 0x21000], // not a multiple of the chunk or of 64 KiB
];

describe('full snapshots', () => {
  it('save then load gives an identical map (layout and every byte)', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout);
    fill(mem, 1);
    const path = file();
    const info = await saveSnapshot(mem, path);
    expect(info).toEqual({ mode: 'full', bytes: 0x61000, regions: 2 });
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(readSnapshotHeader(path)).toMatchObject({
      mode: 'full',
      regions: [
        { base: 0, size: 0x40000 },
        { base: 0x100000, size: 0x21000 },
      ],
    });
    const back = await loadSnapshot(path);
    expect([...back.iter()].map((r) => [r.startAddr, r.len])).toEqual(layout);
    expect(contents(back)).toEqual(contents(mem));
    // the copy is independent memory
    back.writeObj(u32, 0xdead, 0);
    expect(mem.readObj(u32, 0)).not.toBe(0xdead);
  });

  it('streams in chunks with progress up to the total', async () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 20 << 20]]);
    const seen: [number, number][] = [];
    await saveSnapshot(mem, file(), { onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBe(3); // 8 + 8 + 4 MiB
    expect(seen.at(-1)).toEqual([20 << 20, 20 << 20]);
    expect(seen.every(([d], i) => i === 0 || d > seen[i - 1]![0])).toBe(true);
  });

  it('a 16 GiB map: dirty pages beyond every 4 GiB boundary round-trip through an incremental snapshot', async () => {
    // A full 16 GiB save would write 16 GiB to disk; the incremental one streams only what changed.
    const big = 16 * 2 ** 30;
    const mem = GuestMemoryMmap.fromRanges([[0, big]], { trackDirty: true });
    const marks = [0, 2 ** 32 - 8, 2 ** 32, 3 * 2 ** 32 + 4, big - 8];
    for (const a of marks) mem.writeObj(u64, BigInt(a) + 1n, a);
    const path = file();
    expect(await saveSnapshot(mem, path, { incremental: true })).toMatchObject({ bytes: 5 * 4096 });
    const back = GuestMemoryMmap.fromRanges([[0, big]]);
    await applySnapshot(back, path);
    for (const a of marks) expect(back.readObj(u64, a)).toBe(BigInt(a) + 1n);
  }, 60_000);
});

describe('incremental snapshots', () => {
  it('save full, write, save dirty pages, restore the chain exactly', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout, { trackDirty: true });
    fill(mem, 1);
    const base = file();
    await saveSnapshot(mem, base); // clears the dirty bits
    expect(mem.dirtyPages()).toEqual([]);
    mem.writeObj(u32, 0x11111111, 0x1004);
    mem.writeObj(u32, 0x22222222, 0x2000); // adjacent page: one run
    mem.writeObj(u64, 0x3333n, 0x120ff8); // last page of region 2
    const d1 = file();
    const info = await saveSnapshot(mem, d1, { incremental: true });
    expect(info).toMatchObject({ mode: 'incremental', bytes: 3 * 4096 });
    mem.write(new Uint8Array(100).fill(9), 0x3ffc0); // partial: region 1 ends at 0x40000, then a hole
    const d2 = file();
    await saveSnapshot(mem, d2, { incremental: true });
    const back = await loadSnapshot(base);
    await applySnapshot(back, d1);
    await applySnapshot(back, d2);
    expect(contents(back)).toEqual(contents(mem));
  });

  it('an incremental save with nothing dirty is a valid empty delta', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout, { trackDirty: true });
    const p = file();
    expect(await saveSnapshot(mem, p, { incremental: true })).toMatchObject({ bytes: 0 });
    expect(await applySnapshot(mem, p)).toMatchObject({ bytes: 0 });
  });

  it('needs dirty tracking', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout);
    await expect(saveSnapshot(mem, file(), { incremental: true })).rejects.toMatchObject({
      code: 'ERR_SNAPSHOT_UNTRACKED',
    });
  });

  it('loadSnapshot refuses an incremental file; applySnapshot refuses another layout', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout, { trackDirty: true });
    const p = file();
    await saveSnapshot(mem, p, { incremental: true });
    await expect(loadSnapshot(p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    const other = GuestMemoryMmap.fromRanges([[0, 0x1000]]);
    await expect(applySnapshot(other, p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_LAYOUT' });
  });
});

describe('bad files and arguments', () => {
  it('not a snapshot, truncated header, truncated contents, bad JSON: ERR_SNAPSHOT_FORMAT', async () => {
    const junk = file();
    writeFileSync(junk, 'hello world, not a snapshot');
    await expect(loadSnapshot(junk)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    writeFileSync(junk, 'GMSN');
    await expect(loadSnapshot(junk)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    const head = Buffer.alloc(12);
    head.write('GMSNAP01', 0, 'latin1');
    head.writeUInt32LE(5, 8);
    writeFileSync(junk, Buffer.concat([head, Buffer.from('{bad}')]));
    await expect(loadSnapshot(junk)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    const hdr = Buffer.from(JSON.stringify({ mode: 'full', pageSize: 4096, regions: [{ base: 0, size: -1 }] }));
    head.writeUInt32LE(hdr.length, 8);
    writeFileSync(junk, Buffer.concat([head, hdr]));
    await expect(loadSnapshot(junk)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });

    const mem = GuestMemoryMmap.fromRanges(layout);
    const p = file();
    await saveSnapshot(mem, p);
    truncateSync(p, readFileSync(p).length - 100);
    await expect(loadSnapshot(p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
  });

  it('an incremental record outside the memory is refused', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout, { trackDirty: true });
    mem.writeObj(u32, 1, 0);
    const p = file();
    await saveSnapshot(mem, p, { incremental: true });
    const bytes = readFileSync(p);
    const at = bytes.length - 16 - 4096 - 16; // the first record header
    bytes.writeBigUInt64LE(0x900000n, at);
    writeFileSync(p, bytes);
    await expect(applySnapshot(mem, p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
  });

  it('a failed save keeps the previous file and leaves no temp file', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout);
    const p = file();
    await saveSnapshot(mem, p);
    const before = readFileSync(p);
    await expect(
      saveSnapshot(mem, p, {
        onProgress: () => {
          throw new Error('disk full (simulated)');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(readFileSync(p).equals(before)).toBe(true);
    expect(existsSync(`${p}.tmp`)).toBe(false);
  });

  it('wrong argument types throw ERR_INVALID_ARG_TYPE', async () => {
    const mem = GuestMemoryMmap.fromRanges(layout);
    await expect(saveSnapshot({} as never, file())).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(saveSnapshot(mem, '' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(saveSnapshot(mem, file(), { onProgress: 5 as never })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(loadSnapshot(7 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(loadSnapshot(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** A snapshot file written by hand: `magic`, a header, and `records` of [address, bytes] (checksummed). */
function handMade(magic: string, header: object, records: [number, Uint8Array][]): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(16);
  head.write(magic, 0, 'latin1');
  head.writeUInt32LE(json.length, 8);
  head.writeUInt32LE(crc32(json), 12);
  const parts: Buffer[] = [head, json];
  const record = (addr: number, data: Uint8Array): void => {
    const rec = Buffer.alloc(24);
    rec.writeBigUInt64LE(BigInt(addr), 0);
    rec.writeBigUInt64LE(BigInt(data.length), 8);
    rec.writeUInt32LE(crc32(data, crc32(rec.subarray(0, 16))), 16);
    parts.push(rec, Buffer.from(data));
  };
  for (const [a, d] of records) record(a, d);
  const end = Buffer.alloc(24);
  end.writeBigUInt64LE(BigInt(records.length), 0);
  end.writeUInt32LE(crc32(new Uint8Array(0), crc32(end.subarray(0, 16))), 16);
  parts.push(end);
  return Buffer.concat(parts);
}

describe('sparse full snapshots', () => {
  it('a 1 GiB guest with 4 MiB written makes a file of about 4 MiB, loaded and applied exactly', async () => {
    const mem = GuestMemoryMmap.fromRanges([
      [0, 512 << 20],
      [0x1_0000_0000, 512 << 20],
    ]);
    const written: [number, Uint8Array][] = [];
    for (const [addr, size] of [
      [0x10_0000, 1 << 20],
      [0x1ff0_0000 - 4096, 1 << 20], // up to the end of the first region
      [0x1_0000_0000, 2 << 20],
    ] as const) {
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 31 + addr) & 0xff || 1);
      mem.writeSlice(data, addr);
      written.push([addr, data]);
    }
    mem.writeObj(u32, 0, 0x2000); // zero written over zero: nothing to keep
    const p = file();
    const info = await saveSnapshot(mem, p, { sync: false });
    expect(info.bytes).toBe(4 << 20);
    const size = readFileSync(p).length;
    expect(size).toBeGreaterThan(4 << 20);
    expect(size).toBeLessThan((4 << 20) + 4096);

    const back = await loadSnapshot(p);
    for (const [addr, data] of written) {
      const got = new Uint8Array(data.length);
      back.readSlice(got, addr);
      expect(Buffer.compare(got, data)).toBe(0);
    }
    // applied over a memory holding other data, every byte no record covers becomes zero
    const other = GuestMemoryMmap.fromRanges([
      [0, 512 << 20],
      [0x1_0000_0000, 512 << 20],
    ]);
    for (const a of [0, 0x5000, 0x20_0000, 0x1fff_fff0, 0x1_1000_0000, 0x1_1fff_fffc])
      other.writeObj(u32, 0xdeadbeef, a);
    other.writeSlice(new Uint8Array(8192).fill(9), 0x1_0000_0000 + (2 << 20) - 4096);
    await applySnapshot(other, p);
    for (const r of other.iter()) {
      const a = new Uint8Array(r.len);
      const b = new Uint8Array(r.len);
      other.readSlice(a, r.startAddr);
      mem.readSlice(b, r.startAddr);
      expect(Buffer.compare(a, b)).toBe(0);
    }
  }, 60_000);

  it('version 2 files (full snapshots covering every byte) are still read; overlapping sparse records are refused', async () => {
    const layoutV = { mode: 'full', pageSize: 4096, regions: [{ base: 0x1000, size: 8192 }] };
    const data = Uint8Array.from({ length: 8192 }, (_, i) => i & 0xff);
    const v2 = file();
    writeFileSync(v2, handMade('GMSNAP02', layoutV, [[0x1000, data]]));
    const mem = await loadSnapshot(v2);
    expect(mem.readObj(u32, 0x1004)).toBe(0x07060504);
    // version 2 must cover everything
    writeFileSync(v2, handMade('GMSNAP02', layoutV, [[0x1000, data.subarray(0, 4096)]]));
    await expect(loadSnapshot(v2)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    // version 3 may leave gaps, but records go in address order without overlaps
    const v3 = file();
    writeFileSync(v3, handMade('GMSNAP03', layoutV, [[0x2000, data.subarray(0, 4096)]]));
    expect((await loadSnapshot(v3)).readObj(u32, 0x2004)).toBe(0x07060504);
    writeFileSync(
      v3,
      handMade('GMSNAP03', layoutV, [
        [0x1000, data.subarray(0, 4096)],
        [0x1800, data.subarray(0, 16)],
      ]),
    );
    await expect(loadSnapshot(v3)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    writeFileSync(
      v3,
      handMade('GMSNAP03', layoutV, [
        [0x2000, data.subarray(0, 16)],
        [0x1000, data.subarray(0, 16)],
      ]),
    );
    await expect(loadSnapshot(v3)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
  });
});
