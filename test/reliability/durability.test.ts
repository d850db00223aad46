// Durability and sharing with other processes: a Python peer (helpers/peer.py) reads and writes
// the same files through plain reads and its own MAP_SHARED mapping; a Node writer process is
// killed with SIGKILL after writing, or in the middle of saving a snapshot.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ftruncateSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FileOffset, GuestMemoryMmap, loadSnapshot } from '../../src/index.js';
import { tempFile } from '../helpers/temp-file.js';

const peer = new URL('./helpers/peer.py', import.meta.url).pathname;
const writer = new URL('./writer-child.mjs', import.meta.url).pathname;
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

function pattern(seed: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 131 + (i >> 8)) & 0xff;
  return b;
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const py = (...args: (string | number)[]): string =>
  execFileSync('python3', [peer, ...args.map(String)], { encoding: 'utf8', timeout: 30_000 }).trim();

/** Starts a writer process and resolves once it prints `line`. */
function startWriter(args: (string | number)[], line: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [writer, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(c);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`writer never printed ${line}`)), 30_000);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').includes(line)) {
        clearTimeout(t);
        resolve(c);
      }
    });
    c.once('exit', (code) => reject(new Error(`writer exited (${code}) before ${line}: ${out}`)));
  });
}

function killed(c: ChildProcess): Promise<string | null> {
  return new Promise((resolve) => {
    c.once('exit', (_code, signal) => resolve(signal));
    c.kill('SIGKILL');
  });
}

describe('file-backed regions and other processes', () => {
  it('bytes written through guestmem and flushed are read back exactly by another process', () => {
    const { fd, path } = tempFile(1 << 20);
    const mem = GuestMemoryMmap.fromRangesWithFiles([[0x10000, 1 << 20, new FileOffset(fd, 0)]]);
    const data = pattern(7, 300_000);
    mem.writeSlice(data, 0x10000 + 4099);
    for (const r of mem.iter()) r.mapping.flush();
    expect(py('read', path, 4099, data.length)).toBe(sha(data));
    expect(py('mmap-read', path, 4099, data.length)).toBe(sha(data));
  });

  it('bytes another process writes through its own mapping are seen by guestmem at once', () => {
    const { fd, path } = tempFile(1 << 20);
    const mem = GuestMemoryMmap.fromRangesWithFiles([[0, 1 << 20, new FileOffset(fd, 0)]]);
    expect(py('mmap-write', path, 8192, 9, 100_000)).toBe(sha(pattern(9, 100_000)));
    const got = new Uint8Array(100_000);
    mem.readSlice(got, 8192);
    expect(got).toEqual(pattern(9, 100_000));
  });

  it('writes of a process killed with SIGKILL (never flushed) survive in the file', async () => {
    const { path, fd } = tempFile();
    ftruncateSync(fd, 1 << 20);
    const c = await startWriter(['write', path, 12345, 11, 200_000], 'written');
    expect(await killed(c)).toBe('SIGKILL');
    expect(py('read', path, 12345, 200_000)).toBe(sha(pattern(11, 200_000)));
  }, 60_000);
});

describe('snapshots and SIGKILL', () => {
  it('save, then killed during the next save: loading gives the first save, byte-exact', async () => {
    const { path } = tempFile();
    const c = await startWriter(['snapshot', path, 21], 'progress');
    expect(await killed(c)).toBe('SIGKILL');
    const mem = await loadSnapshot(path);
    expect([...mem.iter()].map((r) => [r.startAddr, r.len])).toEqual([
      [0, 8 << 20],
      [1 << 30, 8 << 20],
    ]);
    const a = new Uint8Array(8 << 20);
    mem.readSlice(a, 0);
    expect(sha(a)).toBe(sha(pattern(21, 8 << 20)));
    mem.readSlice(a, 1 << 30);
    expect(sha(a)).toBe(sha(pattern(22, 8 << 20)));
  }, 60_000);
});
