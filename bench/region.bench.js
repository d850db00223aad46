// Region handling: an 8-byte write that crosses a region boundary against the same write
// inside one region, and region lookup (findRegion) with 1, 8 and 256 regions.
import { GuestMemoryMmap, u64 } from 'guestmem';
import { do_not_optimize, rng, runCases } from './lib/harness.js';

const OPS = 1024;
const two = GuestMemoryMmap.fromRanges([
  [0, 0x10000],
  [0x10000, 0x10000],
]);
const cases = [
  {
    group: 'cross-region u64 write',
    name: 'inside one region (unaligned)',
    ops: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) two.writeObj(u64, 0x0102030405060708n, 0x8ffc);
    },
  },
  {
    group: 'cross-region u64 write',
    name: 'across the boundary',
    baseline: 'inside one region (unaligned)',
    ops: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) two.writeObj(u64, 0x0102030405060708n, 0xfffc);
    },
  },
  {
    group: 'cross-region u64 write',
    name: 'aligned inside one region',
    baseline: 'inside one region (unaligned)',
    ops: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) two.writeObj(u64, 0x0102030405060708n, 0x8ff8);
    },
  },
];

for (const n of [1, 8, 256]) {
  const ranges = Array.from({ length: n }, (_, i) => [i * 0x20000, 0x10000]);
  const mem = GuestMemoryMmap.fromRanges(ranges);
  const next = rng(n);
  // random addresses in random regions, so the last-region cache rarely helps
  const addrs = Float64Array.from({ length: OPS }, () => (next() % n) * 0x20000 + (next() % 0x10000));
  cases.push({
    group: 'findRegion',
    name: `${n} region${n > 1 ? 's' : ''}`,
    baseline: n === 1 ? undefined : '1 region',
    ops: OPS,
    fn: () => {
      let s = 0;
      for (let i = 0; i < OPS; i++) s += mem.findRegion(addrs[i]).startAddr;
      do_not_optimize(s);
    },
  });
}
await runCases('region', cases);
