// Snapshot integrity and failure atomicity: checksums find every flipped bit, a damaged or
// mismatched file changes no memory, a failed save gives its dirty bits back, and concurrent
// saves to one path never mix. Each case failed on the format-1 code (see issue 9).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applySnapshot,
  constants,
  GuestMemoryMmap,
  GuestRegionMmap,
  loadSnapshot,
  MmapRegion,
  saveSnapshot,
  u32,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmem-snapint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `s${n++}.snap`);

/** One CRC-32 per region: compares whole images without a deep equality over megabytes. */
function image(mem: GuestMemoryMmap): number[] {
  return [...mem.iter()].map((r) => {
    const b = new Uint8Array(r.len);
    r.readSlice(b, 0);
    return crc32(b);
  });
}

function fill(mem: GuestMemoryMmap, seed: number): void {
  for (const r of mem.iter())
    for (let a = 0; a < r.len; a += 4)
      mem.store(u32, (Math.imul(r.startAddr + a, 2654435761) ^ seed) >>> 0, r.startAddr + a);
}

/** A deterministic generator, so a failing flip can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

describe('snapshot integrity', () => {
  it('every one of 200 single-bit flips (header, record headers, addresses, bytes, end) is refused; memory unchanged', async () => {
    const mem = GuestMemoryMmap.fromRanges(
      [
        [0, 0x10000],
        [0x100000, 0x8000],
      ],
      { trackDirty: true },
    );
    fill(mem, 1);
    const base = file();
    await saveSnapshot(mem, base);
    for (const a of [0x40, 0x5000, 0x100010, 0x107ff0]) mem.store(u32, 0xdead0000 + a, a);
    const delta = file();
    await saveSnapshot(mem, delta, { incremental: true });
    const target = await loadSnapshot(base);
    const before = image(target);
    const random = rng(7);
    for (const path of [delta, base]) {
      const good = readFileSync(path);
      for (let i = 0; i < 100; i++) {
        const bad = Buffer.from(good);
        // half the flips in the first 200 bytes (header, record headers, addresses), half anywhere
        const byte = i % 2 === 0 ? Math.floor(random() * Math.min(200, bad.length)) : Math.floor(random() * bad.length);
        const bit = Math.floor(random() * 8);
        bad[byte]! ^= 1 << bit;
        const p = join(dir, 'flipped.snap');
        writeFileSync(p, bad);
        await expect(applySnapshot(target, p), `flip of bit ${bit} of byte ${byte} in ${path}`).rejects.toMatchObject({
          code: 'ERR_SNAPSHOT_FORMAT',
        });
      }
    }
    expect(image(target)).toEqual(before);
    // the undamaged chain still restores exactly
    await applySnapshot(target, delta);
    expect(image(target)).toEqual(image(mem));
  }, 60_000);

  it('a truncated full snapshot writes nothing (it overwrote 8191 of 8192 pages before)', async () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 8192 * 4096]]);
    fill(mem, 2);
    const p = file();
    await saveSnapshot(mem, p);
    const size = readFileSync(p).length;
    const target = GuestMemoryMmap.fromRanges([[0, 8192 * 4096]]);
    target.store(u32, 0x1234, 0);
    const before = image(target);
    for (const cut of [size - 1, size - 24, size - 4096, 100, 20]) {
      truncateSync(p, cut);
      await expect(applySnapshot(target, p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
      await expect(loadSnapshot(p)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    }
    expect(image(target)).toEqual(before);
  }, 60_000);

  it('a layout with a read-only region is refused before any region is written', async () => {
    const mem = GuestMemoryMmap.fromRanges([
      [0, 0x4000],
      [0x10000, 0x4000],
    ]);
    fill(mem, 3);
    const p = file();
    await saveSnapshot(mem, p);
    const ro = MmapRegion.build(null, 0x4000, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS);
    const target = GuestMemoryMmap.fromRegions([
      new GuestRegionMmap(MmapRegion.create(0x4000), 0),
      new GuestRegionMmap(ro, 0x10000),
    ]);
    await expect(applySnapshot(target, p)).rejects.toMatchObject({ kind: 'AccessDenied' });
    expect(target.load(u32, 0)).toBe(0);
  });

  it('a failed save puts back the dirty bits it took: the next incremental save has those pages', async () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x10000]], { trackDirty: true });
    await saveSnapshot(mem, file()); // baseline: nothing dirty
    mem.store(u32, 7, 0x3000);
    mem.store(u32, 9, 0x9000);
    // a missing directory, then a throwing onProgress, in both modes
    await expect(saveSnapshot(mem, join(dir, 'no/such/dir/x.snap'), { incremental: true })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(saveSnapshot(mem, join(dir, 'no/such/dir/x.snap'))).rejects.toMatchObject({ code: 'ENOENT' });
    const boom = (): void => {
      throw new Error('progress callback failed');
    };
    await expect(saveSnapshot(mem, file(), { incremental: true, onProgress: boom })).rejects.toThrow(
      'progress callback failed',
    );
    await expect(saveSnapshot(mem, file(), { onProgress: boom })).rejects.toThrow('progress callback failed');
    expect(mem.dirtyPages()).toEqual([0x3000, 0x9000]);
    const p = file();
    const info = await saveSnapshot(mem, p, { incremental: true });
    expect(info.bytes).toBe(2 * 4096);
    const target = GuestMemoryMmap.fromRanges([[0, 0x10000]]);
    await applySnapshot(target, p);
    expect([target.load(u32, 0x3000), target.load(u32, 0x9000)]).toEqual([7, 9]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('concurrent saves to one path each write a whole file of their own; the last rename wins', async () => {
    const a = GuestMemoryMmap.fromRanges([[0, 1 << 22]]);
    const b = GuestMemoryMmap.fromRanges([[0, 1 << 22]]);
    fill(a, 11);
    fill(b, 22);
    const p = file();
    for (let round = 0; round < 5; round++) {
      const order: string[] = [];
      await Promise.all([
        saveSnapshot(a, p).then(() => order.push('a')),
        saveSnapshot(b, p).then(() => order.push('b')),
      ]);
      const got = image(await loadSnapshot(p));
      const last = order[1] === 'a' ? a : b;
      expect(got).toEqual(image(last));
      expect(readFileSync(p).length).toBe(readFileSync(p).length);
    }
    expect(existsSync(p)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
