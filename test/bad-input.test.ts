// Every public function given wrong types, negative, fractional, huge and out-of-range
// arguments throws the contract's error, and guest memory is unchanged afterwards.
import { describe, expect, it } from 'vitest';
import {
  FileOffset,
  GuestMemoryMmap,
  GuestRegionMmap,
  MmapRegion,
  constants,
  u8,
  u32,
  struct,
  array,
  packed,
} from '../src/index.js';
import { expectArgError, expectGuestError } from './helpers/expect-error.js';

const BAD_INDICES: unknown[] = [
  -1,
  -0.5,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  2 ** 64,
  '1',
  1n,
  null,
  undefined,
  {},
  [],
  true,
];

function snapshot(mem: GuestMemoryMmap): Uint8Array[] {
  return [...mem].map((r) => {
    const b = new Uint8Array(r.len);
    r.readSlice(b, 0);
    return b;
  });
}

describe('bad input', () => {
  const mem = GuestMemoryMmap.fromRanges([
    [0, 0x1000],
    [0x1000, 0x1000],
    [0x4000, 0x1000],
  ]);
  mem.writeSlice(
    Uint8Array.from({ length: 0x2000 }, (_, i) => i & 0xff),
    0,
  );
  const before = snapshot(mem);
  const region = mem.findRegion(0)!;
  const slice = region.getSlice(0, 0x100);
  const ref = slice.getArrayRef(u32, 0, 4);

  const indexTakers: [string, (x: never) => unknown][] = [
    ['mem.findRegion', (x) => mem.findRegion(x)],
    ['mem.addressInRange', (x) => mem.addressInRange(x)],
    ['mem.checkAddress', (x) => mem.checkAddress(x)],
    ['mem.checkedOffset base', (x) => mem.checkedOffset(x, 0)],
    ['mem.checkedOffset offset', (x) => mem.checkedOffset(0, x)],
    ['mem.checkRange addr', (x) => mem.checkRange(x, 1)],
    ['mem.checkRange count', (x) => mem.checkRange(0, x)],
    ['mem.toRegionAddr', (x) => mem.toRegionAddr(x)],
    ['mem.tryAccess count', (x) => mem.tryAccess(x, 0, () => 0)],
    ['mem.tryAccess addr', (x) => mem.tryAccess(1, x, () => 0)],
    ['mem.getSlice addr', (x) => mem.getSlice(x, 1)],
    ['mem.getSlice count', (x) => mem.getSlice(0, x)],
    ['mem.getSlices', (x) => mem.getSlices(0, x)],
    ['mem.removeRegion', (x) => mem.removeRegion(x, 0x1000)],
    ['mem.readFrom count', (x) => mem.readFrom(0, 0, x)],
    ['mem.writeTo fd', (x) => mem.writeTo(0, x, 1)],
    ['region.checkAddress', (x) => region.checkAddress(x)],
    ['region.checkedOffset', (x) => region.checkedOffset(x, 0)],
    ['region.toRegionAddr', (x) => region.toRegionAddr(x)],
    ['region.getSlice', (x) => region.getSlice(x, 1)],
    ['slice.getSlice', (x) => slice.getSlice(0, x)],
    ['slice.offset', (x) => slice.offset(x)],
    ['slice.splitAt', (x) => slice.splitAt(x)],
    ['slice.getRef', (x) => slice.getRef(u8, x)],
    ['slice.getArrayRef n', (x) => slice.getArrayRef(u8, 0, x)],
    ['arrayRef.load', (x) => ref.load(x)],
    ['arrayRef.store', (x) => ref.store(x, 1)],
    ['arrayRef.ref', (x) => ref.ref(x)],
    ['MmapRegion.create', (x) => MmapRegion.create(x)],
    ['new GuestRegionMmap base', (x) => new GuestRegionMmap(MmapRegion.create(4096), x)],
    ['array n', (x) => array(u8, x)],
  ];

  it.each(indexTakers)('%s: every bad index is an argument error', (_name, f) => {
    for (const x of BAD_INDICES) {
      // 2^53 - 1 + ... huge but safe values are valid indices for queries; everything listed is not
      expectArgError(() => f(x as never));
    }
    expect(snapshot(mem)).toEqual(before);
  });

  it('construction inputs', () => {
    const bad: unknown[] = [null, 5, 'x', [[0]], [[0, 1, 2, 3]], [[-1, 0x1000]], [[0, 1.5]], [['0', 0x1000]], [null]];
    for (const b of bad) {
      expectArgError(() => GuestMemoryMmap.fromRanges(b as never));
      expectArgError(() => GuestMemoryMmap.fromRangesWithFiles(b as never));
    }
    expectArgError(() => GuestMemoryMmap.fromRangesWithFiles([[0, 0x1000, 3 as never]]), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => GuestMemoryMmap.fromRegions([{} as never]), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => GuestMemoryMmap.fromRegions('x' as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.insertRegion({} as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => new GuestRegionMmap({} as never, 0), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => new (GuestMemoryMmap as unknown as new (x: unknown) => unknown)(5), 'ERR_INVALID_ARG_TYPE');
    expectGuestError(() => GuestMemoryMmap.fromRanges([[2 ** 53 - 0x800, 0x1000]]), 'InvalidGuestRegion');
    expectArgError(() => MmapRegion.build(null, 4096, '3' as never, constants.MAP_PRIVATE), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => MmapRegion.build(null, 4096, 3, 2 ** 40), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(0, 1.5), 'ERR_OUT_OF_RANGE');
    expectArgError(() => struct([['a', u8, u8] as never]), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => packed(null as never), 'ERR_INVALID_ARG_TYPE');
  });

  it('optional counts and timeouts', () => {
    for (const x of [-1, 1.5, NaN, '1', 1n, null, {}]) expectArgError(() => mem.notify(0, x as never));
    for (const x of [-1, NaN, '1', 1n, null, {}]) expectArgError(() => mem.wait(u32 as never, 0, 0, x as never));
    expect(snapshot(mem)).toEqual(before);
  });

  it('callbacks and buffers', () => {
    expectArgError(() => mem.tryAccess(1, 0, null as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.tryAccess(4, 0, () => 5), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.tryAccess(4, 0, () => -1), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.tryAccess(4, 0, () => 'x' as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => slice.copyToVolatileSlice({} as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => ref.copyTo(null as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => ref.copyFrom(5 as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => region.mapping.fdsOverlap({} as never), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mem.writeSlice(new Uint16Array(4) as never, 0), 'ERR_INVALID_ARG_TYPE');
    expect(snapshot(mem)).toEqual(before);
  });

  it('huge but valid addresses are simply not in any region', () => {
    expect(mem.findRegion(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expectGuestError(() => mem.readObj(u32, Number.MAX_SAFE_INTEGER), 'InvalidGuestAddress');
    expectGuestError(() => mem.write(new Uint8Array(1), 2 ** 52), 'InvalidGuestAddress');
    expectGuestError(() => slice.getSlice(Number.MAX_SAFE_INTEGER, 1), 'Overflow');
    expect(snapshot(mem)).toEqual(before);
  });
});
