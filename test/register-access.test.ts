// The register-file accessors (ld*/st*): wrapping stores, signed/unsigned loads, one
// misalignment policy, compared with a DataView model over random operations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap, MmapRegion, GuestRegionMmap, constants } from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';

const loads = ['ld8u', 'ld8s', 'ld16u', 'ld16s', 'ld32u', 'ld32s'] as const;
const stores = ['st8', 'st16', 'st32'] as const;

function model(dv: DataView, op: string, addr: number, value: number): number | undefined {
  switch (op) {
    case 'ld8u':
      return dv.getUint8(addr);
    case 'ld8s':
      return dv.getInt8(addr);
    case 'ld16u':
      return dv.getUint16(addr, true);
    case 'ld16s':
      return dv.getInt16(addr, true);
    case 'ld32u':
      return dv.getUint32(addr, true);
    case 'ld32s':
      return dv.getInt32(addr, true);
    case 'st8':
      dv.setUint8(addr, value & 0xff);
      return undefined;
    case 'st16':
      dv.setUint16(addr, value & 0xffff, true);
      return undefined;
    default:
      dv.setUint32(addr, value >>> 0, true);
      return undefined;
  }
}

describe('register accessors', () => {
  it('match a DataView model (split policy, across two adjacent regions)', () => {
    const mem = GuestMemoryMmap.fromRanges([
      [0x1000, 0x100],
      [0x1100, 0x100],
    ]).withMisaligned('split');
    const ref = new DataView(new ArrayBuffer(0x200));
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(...loads, ...stores),
            fc.integer({ min: 0, max: 0x1fc }),
            fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          for (const [op, a, v] of ops) {
            const want = model(ref, op, a, v);
            const got = (mem as unknown as Record<string, (a: number, v: number) => number | undefined>)[op]!(
              0x1000 + a,
              v,
            );
            expect(got, `${op} ${a}`).toBe(want);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keep the low bits of any int32 or u32 register value', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 64]]);
    mem.st8(0, 0x141);
    mem.st8(1, -1);
    mem.st16(2, -2);
    mem.st32(4, -1);
    mem.st32(8, 0x80000000);
    expect([mem.ld8u(0), mem.ld8u(1), mem.ld8s(1), mem.ld16u(2), mem.ld16s(2)]).toEqual([0x41, 255, -1, 0xfffe, -2]);
    expect([mem.ld32u(4), mem.ld32s(4), mem.ld32s(8), mem.ld32u(8)]).toEqual([0xffffffff, -1, -(2 ** 31), 2 ** 31]);
    expectArgError(() => mem.st32(0, 2 ** 32), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.st8(0, 1.5), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.st8(0, '1' as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.ld8u('1' as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.ld8u(-1), 'ERR_OUT_OF_RANGE');
  });

  it('fault policy (the default): misaligned is Misaligned in every mode, as load() is', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 64]]);
    expect(mem.misaligned).toBe('fault');
    expectGuestError(() => mem.ld32s(2), 'Misaligned', { addr: 2, alignment: 4 });
    expectGuestError(() => mem.st16(1, 0), 'Misaligned');
    const split = mem.withMisaligned('split');
    split.st32(1, 0x11223344);
    expect(split.ld32u(1)).toBe(0x11223344);
    // the policy travels with share() and insertRegion
    expect(GuestMemoryMmap.fromShared(split.share()).misaligned).toBe('split');
    expect(split.insertRegion(new GuestRegionMmap(MmapRegion.create(4096), 0x1000)).misaligned).toBe('split');
    expectArgError(() => mem.withMisaligned('x' as never), 'ERR_INVALID_ARG_TYPE');
  });

  it('holes, protection and regions past 4 GiB', () => {
    const ro = MmapRegion.build(undefined, 4096, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS);
    const mem = GuestMemoryMmap.fromRegions([
      new GuestRegionMmap(MmapRegion.create(4096), 0),
      new GuestRegionMmap(ro, 0x2000),
      new GuestRegionMmap(MmapRegion.create(4096), 2 ** 33),
    ]);
    expectGuestError(() => mem.ld32s(0x1000), 'InvalidGuestAddress');
    expect(mem.ld32s(0x2000)).toBe(0);
    expectGuestError(() => mem.st32(0x2000, 1), 'AccessDenied');
    mem.st32(2 ** 33 + 8, -5);
    expect(mem.ld32s(2 ** 33 + 8)).toBe(-5);
  });

  it('stores mark dirty pages', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 0x4000]], { trackDirty: true });
    mem.st8(0x1001, 1);
    mem.st32(0x3000, 1);
    expect(mem.dirtyPages()).toEqual([0x1000, 0x3000]);
  });
});
