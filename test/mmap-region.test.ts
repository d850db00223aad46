import { readFileSync, ftruncateSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { constants, FileOffset, MmapRegion, u32, u64, u8, liveMappings, GuestMemoryError } from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';
import { tempFile } from './helpers/temp-file.js';

const { PROT_READ, PROT_WRITE, PROT_NONE, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MAP_ANONYMOUS, MAP_FIXED } =
  constants;
const RW = PROT_READ | PROT_WRITE;

describe('MmapRegion (vm-memory reference tests)', () => {
  it('create: size, no file, prot and flags; size 0 is Mmap EINVAL', () => {
    expectGuestError(() => MmapRegion.create(0), 'Mmap', { errno: 22, syscall: 'mmap' });
    const r = MmapRegion.create(4096);
    expect(r.size).toBe(4096);
    expect(r.len).toBe(4096);
    expect(r.fileOffset).toBeUndefined();
    expect(r.prot).toBe(RW);
    expect(r.flags).toBe(MAP_ANONYMOUS | MAP_NORESERVE | MAP_PRIVATE);
    expect(typeof r.hostAddress).toBe('bigint');
    expect(r.hostAddress % 4096n).toBe(0n);
  });

  it('fromFile: maps the file contents, shared', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const { fd } = tempFile(0, bytes);
    const r = MmapRegion.fromFile(new FileOffset(fd, 0), bytes.length);
    expect(r.size).toBe(5);
    expect(r.fileOffset?.start).toBe(0);
    expect(r.fileOffset?.fd).toBe(fd);
    expect(r.prot).toBe(RW);
    expect(r.flags).toBe(MAP_NORESERVE | MAP_SHARED);
    expect([...new Uint8Array(r.buffer)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('build: each error, in order, then success', () => {
    const { fd } = tempFile();
    const prot = RW;
    const flags = MAP_NORESERVE | MAP_PRIVATE;
    // start + size overflows u64
    expectGuestError(
      () => MmapRegion.build(new FileOffset(fd, 2n ** 64n - 1n), 1000, prot, flags),
      'InvalidOffsetLength',
    );
    // past the end of the (empty) file
    expectGuestError(() => MmapRegion.build(new FileOffset(fd, 4096), 1000, prot, flags), 'MappingPastEof');
    // MAP_FIXED is checked before anything else, even with a bad offset
    expectGuestError(() => MmapRegion.build(new FileOffset(fd, 4096), 1000, prot, flags | MAP_FIXED), 'MapFixed');
    // MAP_FIXED_NOREPLACE places the mapping too (with no hint: page 0): refused the same way
    expectGuestError(() => MmapRegion.build(undefined, 4096, prot, MAP_PRIVATE | 0x20 | 0x100000), 'MapFixed');
    expectGuestError(
      () => MmapRegion.build(new FileOffset(fd, 2n ** 64n - 1n), 1000, prot, flags | MAP_FIXED),
      'MapFixed',
    );
    ftruncateSync(fd, 1024 * 10);
    // offset not page aligned: the OS says EINVAL
    expectGuestError(() => MmapRegion.build(new FileOffset(fd, 4095), 1000, prot, flags), 'Mmap', { errno: 22 });
    const r = MmapRegion.build(new FileOffset(fd, 4096), 1000, prot, flags);
    expect(r.size).toBe(1000);
    expect(r.fileOffset?.start).toBe(4096);
    expect(r.prot).toBe(RW);
    expect(r.flags).toBe(MAP_NORESERVE | MAP_PRIVATE);
  });

  it('fdsOverlap: same fd and intersecting file ranges only', () => {
    const a = tempFile(1024 * 10).fd;
    const r1 = MmapRegion.fromFile(new FileOffset(a, 0), 4096);
    let r2 = MmapRegion.fromFile(new FileOffset(a, 4096), 4096);
    expect(r1.fdsOverlap(r2)).toBe(false);
    const r3 = MmapRegion.fromFile(new FileOffset(a, 0), 5000);
    expect(r3.fdsOverlap(r2)).toBe(true);
    expect(r2.fdsOverlap(r3)).toBe(true);
    r2 = MmapRegion.fromFile(new FileOffset(a, 0), 1000);
    expect(r3.fdsOverlap(r2)).toBe(true);
    const b = tempFile(1024 * 10).fd;
    expect(r3.fdsOverlap(MmapRegion.fromFile(new FileOffset(b, 0), 5000))).toBe(false);
    expect(r3.fdsOverlap(MmapRegion.create(5000))).toBe(false);
  });
});

describe('MmapRegion', () => {
  it('bad fd: Mmap with EBADF', () => {
    expectGuestError(() => MmapRegion.fromFile(new FileOffset(99999, 0), 4096), 'Mmap', { errno: 9 });
  });

  it('argument checks come first', () => {
    expectArgError(() => MmapRegion.create(-1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => MmapRegion.create(1.5), 'ERR_OUT_OF_RANGE');
    expectArgError(() => MmapRegion.create(2 ** 53), 'ERR_OUT_OF_RANGE');
    expectArgError(() => MmapRegion.create('4096' as unknown as number), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => MmapRegion.build(null, 4096, 1.5, 0), 'ERR_OUT_OF_RANGE');
    expectArgError(() => MmapRegion.build({} as FileOffset, 4096, RW, MAP_SHARED), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => MmapRegion.fromFile(null as unknown as FileOffset, 4096), 'ERR_INVALID_ARG_TYPE');
  });

  it('buffer is the mapping itself: writes through it are seen by accessors', () => {
    const r = MmapRegion.create(8192);
    const view = new Uint32Array(r.buffer);
    view[3] = 0xcafe;
    expect(r.asVolatileSlice().readObj(u32, 12)).toBe(0xcafe);
    expect(r.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(r.buffer.byteLength).toBe(8192);
  });

  it('read-only mapping: reads work, writes are AccessDenied, memory unchanged', () => {
    const { fd } = tempFile(4096, new Uint8Array([7, 8, 9]));
    const r = MmapRegion.build(new FileOffset(fd, 0), 4096, PROT_READ, MAP_SHARED);
    const s = r.asVolatileSlice();
    expect(s.readObj(u8, 1)).toBe(8);
    expect(s.load(u8, 2)).toBe(9);
    expectGuestError(() => s.writeObj(u8, 1, 0), 'AccessDenied', { addr: 0, access: 'write' });
    expectGuestError(() => s.store(u32, 1, 0), 'AccessDenied', { access: 'write' });
    expectGuestError(() => s.fetchAdd(u32, 0, 1), 'AccessDenied', { access: 'write' });
    expectGuestError(() => s.write(new Uint8Array(4), 0), 'AccessDenied');
    expectGuestError(() => s.copyFrom(new Uint8Array(4)), 'AccessDenied');
    expectGuestError(() => r.buffer, 'AccessDenied');
    expect(s.readObj(u8, 0)).toBe(7);
  });

  it('PROT_NONE mapping: every access is AccessDenied, never a fault', () => {
    const r = MmapRegion.build(null, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    const s = r.asVolatileSlice();
    expectGuestError(() => s.readObj(u32, 0), 'AccessDenied', { access: 'read' });
    expectGuestError(() => s.load(u64, 8), 'AccessDenied', { access: 'read', addr: 8 });
    expectGuestError(() => s.read(new Uint8Array(4), 0), 'AccessDenied');
    expectGuestError(() => s.copyTo(new Uint8Array(4)), 'AccessDenied');
    expectGuestError(() => s.getRef(u32, 0).load(), 'AccessDenied');
    expectGuestError(() => r.buffer, 'AccessDenied');
  });

  it('flush writes file-backed pages to the file', () => {
    const { fd, path } = tempFile(8192);
    const r = MmapRegion.fromFile(new FileOffset(fd, 0), 8192);
    r.asVolatileSlice().writeSlice(new TextEncoder().encode('hello'), 4096);
    r.flush();
    expect(readFileSync(path).subarray(4096, 4101).toString()).toBe('hello');
    MmapRegion.create(4096).flush(); // anonymous: a no-op
  });

  it('file offsets as bigint are kept as given', () => {
    const { fd } = tempFile(8192);
    const r = MmapRegion.fromFile(new FileOffset(fd, 4096n), 4096);
    expect(r.fileOffset?.start).toBe(4096n);
  });

  it('counts live mappings and unmaps when unreachable', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest.config.ts runs tests with --expose-gc').toBeTypeOf('function');
    const settle = async () => {
      for (let i = 0; i < 5; i++) {
        gc!();
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await settle(); // earlier tests' mappings go first
    const before = liveMappings();
    let r: MmapRegion | undefined = MmapRegion.create(4096);
    const keep = r.asVolatileSlice(); // a view keeps the mapping alive
    r = undefined;
    await settle();
    expect(liveMappings()).toBe(before + 1);
    expect(keep.readObj(u32, 0)).toBe(0);
    keep.writeObj(u32, 5, 0);
    await settle();
    expect(liveMappings()).toBe(before + 1);
    void keep;
  });

  it('unmaps once the last view is gone', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const settle = async () => {
      for (let i = 0; i < 5; i++) {
        gc();
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await settle();
    const before = liveMappings();
    (() => {
      const r = MmapRegion.create(4096);
      r.asVolatileSlice().writeObj(u32, 1, 0);
    })();
    expect(liveMappings()).toBe(before + 1);
    await settle();
    expect(liveMappings()).toBe(before);
  });

  it('the error class survives native throws', () => {
    try {
      MmapRegion.build(null, 0, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    } catch (e) {
      expect(e).toBeInstanceOf(GuestMemoryError);
    }
  });
});
