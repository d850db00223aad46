// Live migration over real sockets (loopback TCP and a Unix socket): a guest written to by vCPU
// threads all along arrives whole; a target that fails mid-way leaves the source running with
// nothing lost; damaged frames are refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import {
  GuestMemoryMmap,
  MAX_MIGRATION_RECORDS,
  migrateFrom,
  migrateTo,
  u32,
  VcpuPool,
  type MigratedMachine,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmem-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const BASE = 0x8000_0000;
const SIZE = 16 << 20;

/** A server on `where` (a port 0 on 127.0.0.1, or a socket path) that hands its first connection to `serve`. */
async function listen(
  where: string | 0,
  serve: (s: Socket) => void,
): Promise<{ server: Server; address: string | number }> {
  const server = createServer((s) => serve(s));
  cleanup.push(() => new Promise((r) => server.close(r)));
  await new Promise<void>((r) => (where === 0 ? server.listen(0, '127.0.0.1', r) : server.listen(where, r)));
  const a = server.address();
  return { server, address: typeof a === 'string' ? a : a!.port };
}

function connect(address: string | number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = typeof address === 'string' ? createConnection(address) : createConnection(address, '127.0.0.1');
    cleanup.push(() => s.destroy());
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function runningGuest(): Promise<{ mem: GuestMemoryMmap; pool: VcpuPool }> {
  const mem = GuestMemoryMmap.fromRanges([[BASE, SIZE]], { trackDirty: true });
  mem.writeSlice(new Uint8Array(1 << 20).fill(7), BASE + (4 << 20));
  const pool = new VcpuPool({
    memory: mem,
    vcpus: 2,
    module: new URL('./fixtures/vcpu/page-writer.mjs', import.meta.url),
  });
  cleanup.push(() => pool.close());
  await pool.start({ base: BASE, size: SIZE });
  await new Promise((r) => setTimeout(r, 50));
  return { mem, pool };
}

function equal(a: GuestMemoryMmap, b: GuestMemoryMmap): boolean {
  const x = new Uint8Array(SIZE);
  const y = new Uint8Array(SIZE);
  a.readSlice(x, BASE);
  b.readSlice(y, BASE);
  return Buffer.compare(x, y) === 0;
}

describe('live migration', () => {
  for (const transport of ['tcp', 'unix'] as const) {
    it(`moves a guest that runs all along, over ${transport === 'tcp' ? 'loopback TCP' : 'a Unix socket'}: memory and state arrive exactly`, async () => {
      const { mem, pool } = await runningGuest();
      let arrived: Promise<MigratedMachine> | null = null;
      const { address } = await listen(transport === 'tcp' ? 0 : join(dir, 'm.sock'), (s) => {
        arrived = migrateFrom(s);
      });
      const sock = await connect(address);
      const report = await migrateTo(sock, {
        memory: mem,
        pause: () => pool.pause(10_000),
        resume: () => pool.resume(),
        state: () => ({ cpu: { pc: 0x8000_0000, regs: new Int32Array([1, 2, 3]) }, clock: { ticks: 99n } }),
        stopBelow: 64 << 10,
      });
      const target = await arrived!;
      // the source is paused: what the target has must be its memory, byte for byte
      expect(pool.state(0)).toBe('parked');
      expect(equal(mem, target.memory)).toBe(true);
      expect(target.state).toEqual({
        cpu: { pc: 0x8000_0000, regs: new Int32Array([1, 2, 3]) },
        clock: { ticks: 99n },
      });
      expect(report.rounds).toBeGreaterThanOrEqual(1);
      expect(report.pages).toBeGreaterThan(256); // the 1 MiB written before, and what the vCPUs wrote
      expect(report.downtimeMs).toBeLessThan(report.totalMs);
      expect(target.report.pages).toBe(report.pages);
      await pool.stop();
    }, 60_000);
  }

  it('a target that drops the connection mid-way: the source resumes and keeps its guest', async () => {
    const { mem, pool } = await runningGuest();
    let got = 0;
    const { address } = await listen(0, (s) => {
      s.on('data', (b: Buffer) => {
        got += b.length;
        if (got > 3 << 20) s.destroy(); // after 3 MiB of the full pass
      });
    });
    const sock = await connect(address);
    let pausedOnce = false;
    await expect(
      migrateTo(sock, {
        memory: mem,
        pause: async () => {
          pausedOnce = true;
          await pool.pause(10_000);
        },
        resume: () => pool.resume(),
        state: () => ({}),
      }),
    ).rejects.toMatchObject({ code: 'ERR_MIGRATION' });
    expect(pausedOnce).toBe(false); // it failed during the pre-copy, the guest never stopped
    expect(pool.state(0)).toBe('running');
    // and one that dies after the pause (it never answers): resumed too
    let pausedNow = false;
    const { address: a2 } = await listen(0, (s) => {
      s.on('data', () => {
        if (pausedNow) s.destroy();
      });
    });
    const sock2 = await connect(a2);
    await expect(
      migrateTo(sock2, {
        memory: mem,
        pause: async () => {
          await pool.pause(10_000);
          pausedNow = true;
        },
        resume: () => pool.resume(),
        state: () => ({ big: new Uint8Array(4 << 20) }),
      }),
    ).rejects.toMatchObject({ code: 'ERR_MIGRATION' });
    expect(pool.state(0)).toBe('running');
    const before = mem.load(u32, BASE + 0x100);
    await new Promise((r) => setTimeout(r, 30));
    await pool.stop();
    expect(typeof before).toBe('number');
  }, 60_000);

  it("a target whose accept() refuses the guest (another machine's state): the source resumes, both sides say why", async () => {
    const { mem, pool } = await runningGuest();
    let arrived: Promise<MigratedMachine> | null = null;
    let seen: unknown = null;
    const { address } = await listen(0, (s) => {
      arrived = migrateFrom(s, {
        accept: (state, memory) => {
          seen = state.machine;
          expect(memory.checkRange(BASE, SIZE)).toBe(true);
          throw new Error('taken with 2 harts, this machine has 3');
        },
      });
      arrived.catch(() => {});
    });
    const sock = await connect(address);
    await expect(
      migrateTo(sock, {
        memory: mem,
        pause: () => pool.pause(10_000),
        resume: () => pool.resume(),
        state: () => ({ machine: { harts: 2 } }),
      }),
    ).rejects.toThrow(/refused the guest: taken with 2 harts/);
    await expect(arrived!).rejects.toMatchObject({ code: 'ERR_MIGRATION' });
    expect(seen).toEqual({ harts: 2 });
    expect(pool.state(0)).toBe('running');
    await pool.stop();
  }, 60_000);

  it('a peer that stops (a target that never reads, a source that sends nothing more) fails the migration after stallMs, never a hang', async () => {
    const { mem, pool } = await runningGuest();
    const { address } = await listen(0, (s) => {
      s.pause(); // accepts, then reads nothing
      s.on('error', () => {});
      cleanup.push(() => s.destroy());
    });
    const sock = await connect(address);
    const t0 = Date.now();
    await expect(
      migrateTo(sock, {
        memory: mem,
        pause: () => pool.pause(10_000),
        resume: () => pool.resume(),
        state: () => ({}),
        stallMs: 300,
      }),
    ).rejects.toThrow(/stalled: nothing moved for 300 ms/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(pool.state(0)).toBe('running');
    await pool.stop();
    // the target side: a HELLO, then silence
    let arrived: Promise<MigratedMachine> | null = null;
    const { address: a2 } = await listen(0, (s) => {
      arrived = migrateFrom(s, { stallMs: 300 });
      arrived.catch(() => {});
      s.on('error', () => {});
      cleanup.push(() => s.destroy());
    });
    const src = await connect(a2);
    src.on('error', () => {});
    const hello = Buffer.from(JSON.stringify({ version: 1, pageSize: 4096, regions: [{ base: BASE, size: 1 << 20 }] }));
    const head = Buffer.alloc(12);
    head.writeUInt32LE(1, 0);
    head.writeUInt32LE(hello.length, 4);
    head.writeUInt32LE(crc32(hello), 8);
    src.write(Buffer.concat([head, hello]));
    await new Promise((r) => setTimeout(r, 50));
    await expect(arrived!).rejects.toThrow(/stalled/);
    await expect(migrateFrom(src, { stallMs: -1 })).rejects.toThrow(TypeError);
  }, 60_000);

  it('the target refuses a damaged frame, a foreign stream, a wrong total, pages outside the guest and too many state records, and says so', async () => {
    const frame = (type: number, payload: Buffer, crc = crc32(payload)): Buffer => {
      const h = Buffer.alloc(12);
      h.writeUInt32LE(type, 0);
      h.writeUInt32LE(payload.length, 4);
      h.writeUInt32LE(crc, 8);
      return Buffer.concat([h, payload]);
    };
    const hello = frame(
      1,
      Buffer.from(JSON.stringify({ version: 1, pageSize: 4096, regions: [{ base: 0, size: 65536 }] })),
    );
    const page = Buffer.alloc(8 + 4096, 5);
    page.writeBigUInt64LE(0n, 0);
    for (const bytes of [
      Buffer.concat([hello, frame(2, page, 1234)]), // bad checksum
      Buffer.from('GET / HTTP/1.1\r\n\r\n'), // not a migration
      Buffer.concat([
        hello,
        frame(2, page),
        frame(4, Buffer.from(JSON.stringify({ rounds: 1, pages: 7, bytes: 0, records: 0 }))),
      ]),
      // more state records than a target takes (each a tiny one)
      Buffer.concat([
        hello,
        ...Array.from({ length: MAX_MIGRATION_RECORDS + 1 }, (_, i) => {
          const name = Buffer.from(`r${i}`);
          const head = Buffer.alloc(4);
          head.writeUInt32LE(name.length, 0);
          return frame(3, Buffer.concat([head, name, serialize(i)]));
        }),
      ]),
      Buffer.concat([
        hello,
        (() => {
          const p = Buffer.from(page);
          p.writeBigUInt64LE(1n << 40n, 0);
          return frame(2, p);
        })(),
      ]),
    ]) {
      let result: Promise<MigratedMachine> | null = null;
      const { address } = await listen(0, (s) => {
        result = migrateFrom(s);
        result.catch(() => {});
      });
      const sock = await connect(address);
      const answer = new Promise<Buffer>((r) => {
        const parts: Buffer[] = [];
        sock.on('data', (b: Buffer) => parts.push(b));
        sock.on('close', () => r(Buffer.concat(parts)));
      });
      sock.write(bytes);
      await expect(new Promise((r) => setTimeout(r, 20)).then(() => result!)).rejects.toMatchObject({
        code: 'ERR_MIGRATION',
      });
      const reply = await answer;
      expect(reply.readUInt32LE(0)).toBe(5); // an ACK frame
      expect(JSON.parse(reply.subarray(12).toString()).ok).toBe(false);
    }
  }, 30_000);
});
