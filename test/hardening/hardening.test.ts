// Regression tests for hostile input found by an attacker's review: each fails on the code before
// its fix.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { constants, GuestMemoryError, GuestMemoryMmap, i32, MmapRegion, struct, u32, u8 } from '../../src/index.js';

describe('hardening', () => {
  it('mmap flags and prot outside the documented allow-lists are refused before mmap (ERR_OUT_OF_RANGE)', () => {
    const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = constants;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS;
    for (const prot of [-1, 0x7fffffff, 8, 0x10]) {
      expect(() => MmapRegion.build(null, 4096, prot, flags)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
    }
    // MAP_GROWSDOWN (0x100), MAP_LOCKED (0x2000), MAP_STACK (0x20000), MAP_SYNC (0x80000), bit 23
    for (const extra of [0x100, 0x2000, 0x20000, 0x80000, 0x800000]) {
      expect(() => MmapRegion.build(null, 4096, PROT_READ | PROT_WRITE, flags | extra)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
    }
    expect(() => MmapRegion.build(null, 4096, PROT_READ, flags | MAP_FIXED_NOREPLACE)).toThrow(
      expect.objectContaining({ kind: 'MapFixed' }),
    );
    // every allowed flag and prot still maps
    const r = MmapRegion.build(
      null,
      4096,
      PROT_READ | PROT_WRITE,
      flags | constants.MAP_NORESERVE | constants.MAP_POPULATE,
    );
    expect(r.size).toBe(4096);
    expect(MmapRegion.build(null, 4096, constants.PROT_NONE, flags).prot).toBe(0);
  });

  it('VolatileArrayRef.copyFrom reads each element once (a getter cannot pass the check and write another value)', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    const ref = mem.getSlice(0, 16).getArrayRef(u32, 0, 2);
    let reads = 0;
    const hostile = {
      length: 2,
      get 0() {
        reads++;
        return reads === 1 ? 7 : 2 ** 40 + 5;
      },
      1: 1,
    };
    ref.copyFrom(hostile as unknown as ArrayLike<number>);
    expect(reads).toBe(1);
    expect(mem.load(u32, 0)).toBe(7);
  });

  it("struct refuses a '__proto__' field (readObj would drop it)", () => {
    expect(() => struct([['__proto__', u32]])).toThrow(TypeError);
    expect(() =>
      struct([
        ['a', u8],
        ['__proto__', u32],
      ]),
    ).toThrow(/__proto__/);
  });

  it("errno names come from libuv (not 'EUNKNOWN')", () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    let caught: unknown;
    try {
      mem.readFrom(0, 2 ** 31 - 2, 4); // no such descriptor
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GuestMemoryError);
    expect((caught as Error).message).toContain('EBADF');
  });

  it('ESPIPE (absent from the old hand-made list) is named: pread on a pipe', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 2000)'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    expect(() => mem.writeTo(0, fd, 4, 0)).toThrow(/ESPIPE/);
    child.kill();
  });

  it('waitAsync beside wait: not-equal at once, timed-out, or woken by notify without blocking', async () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    mem.store(i32, 5, 0x40);
    expect(await mem.waitAsync(i32, 0x40, 4)).toBe('not-equal');
    expect(await mem.waitAsync(i32, 0x40, 5, 1)).toBe('timed-out');
    const woken = mem.waitAsync(i32, 0x40, 5, 5000);
    setTimeout(() => mem.notify(0x40), 5);
    expect(await woken).toBe('ok');
    expect(() => mem.waitAsync(u32, 0x40, 5)).toThrow(TypeError);
    expect(() => mem.waitAsync(i32, 0x42, 5)).toThrow(GuestMemoryError);
  });
});
