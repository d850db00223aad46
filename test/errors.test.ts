import { describe, expect, it } from 'vitest';
import { GuestMemoryError, GuestMemoryMmap, MmapRegion, u32 } from '../src/index.js';

describe('GuestMemoryError', () => {
  it('derives code from kind in SCREAMING_SNAKE_CASE', () => {
    const cases: [ConstructorParameters<typeof GuestMemoryError>[0], string][] = [
      ['MappingPastEof', 'ERR_GUESTMEM_MAPPING_PAST_EOF'],
      ['IOError', 'ERR_GUESTMEM_IO_ERROR'],
      ['InvalidOffsetLength', 'ERR_GUESTMEM_INVALID_OFFSET_LENGTH'],
      ['TooBig', 'ERR_GUESTMEM_TOO_BIG'],
      ['Mmap', 'ERR_GUESTMEM_MMAP'],
    ];
    for (const [kind, code] of cases) {
      const e = new GuestMemoryError(kind, 'x');
      expect(e.code).toBe(code);
      expect(e.kind).toBe(kind);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe('GuestMemoryError');
    }
  });

  it('names addresses in hex and carries the structured fields', () => {
    const mem = GuestMemoryMmap.fromRanges([[0x1000, 0x1000]]);
    try {
      mem.readObj(u32, 0x2001);
      expect.unreachable();
    } catch (e) {
      const err = e as GuestMemoryError;
      expect(err.kind).toBe('InvalidGuestAddress');
      expect(err.addr).toBe(0x2001);
      expect(err.message).toContain('0x2001');
    }
  });

  it('native errors are GuestMemoryError instances with errno and syscall', () => {
    try {
      MmapRegion.create(0);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GuestMemoryError);
      const err = e as GuestMemoryError;
      expect(err.kind).toBe('Mmap');
      expect(err.code).toBe('ERR_GUESTMEM_MMAP');
      expect(err.errno).toBe(22);
      expect(err.syscall).toBe('mmap');
      expect(err.message).toMatch(/EINVAL/);
    }
  });
});
