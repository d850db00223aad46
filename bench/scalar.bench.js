// Scalar guest accesses against raw Atomics and plain typed-array indexing on one
// SharedArrayBuffer, on a hot 64 KiB set and on random addresses over 128 MiB, in one region
// and split over two regions.
import { GuestMemoryMmap, u32, u64 } from 'guestmem';
import { do_not_optimize, rng, runCases } from './lib/harness.js';

const OPS = 4096;
const MiB = 1 << 20;

function addresses(span, base = 0) {
  const next = rng();
  const out = new Uint32Array(OPS);
  for (let i = 0; i < OPS; i++) out[i] = base + ((next() % span) & ~7);
  return out;
}

function scenario(group, mem, raw, addrs) {
  const u32raw = new Uint32Array(raw);
  const u64raw = new BigUint64Array(raw);
  const rawAddrs = addrs.map((a) => a % raw.byteLength);
  return [
    {
      group,
      name: 'raw Atomics.load',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.load(u32raw, rawAddrs[i] >>> 2);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'raw u32[i]',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += u32raw[rawAddrs[i] >>> 2];
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'raw Atomics.store',
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) Atomics.store(u32raw, rawAddrs[i] >>> 2, i);
      },
    },
    {
      group,
      name: 'guest load(u32)',
      baseline: 'raw Atomics.load',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.load(u32, addrs[i]);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'guest readObj(u32)',
      baseline: 'raw Atomics.load',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.readObj(u32, addrs[i]);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'guest store(u32)',
      baseline: 'raw Atomics.store',
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) mem.store(u32, i, addrs[i]);
      },
    },
    {
      group,
      name: 'guest readObj(u64)',
      baseline: 'raw Atomics.load(u64)',
      ops: OPS,
      fn: () => {
        let s = 0n;
        for (let i = 0; i < OPS; i++) s ^= mem.readObj(u64, addrs[i]);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'raw Atomics.load(u64)',
      ops: OPS,
      fn: () => {
        let s = 0n;
        for (let i = 0; i < OPS; i++) s ^= Atomics.load(u64raw, rawAddrs[i] >>> 3);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'guest readUnordered(u32)',
      baseline: 'raw u32[i]',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.readUnordered(u32, addrs[i]);
        do_not_optimize(s);
      },
    },
    {
      group,
      name: 'raw u32[i] = v',
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) u32raw[rawAddrs[i] >>> 2] = i;
        do_not_optimize(u32raw);
      },
    },
    {
      group,
      name: 'guest writeUnordered(u32)',
      baseline: 'raw u32[i] = v',
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) mem.writeUnordered(u32, i, addrs[i]);
      },
    },
  ];
}

const one = GuestMemoryMmap.fromRanges([[0, 128 * MiB]]);
const two = GuestMemoryMmap.fromRanges([
  [0, 64 * MiB],
  [64 * MiB, 64 * MiB],
]);
const rawSmall = new SharedArrayBuffer(64 * 1024);
const rawBig = new SharedArrayBuffer(128 * MiB);
// touch every page so random accesses measure memory, not page faults
one.writeSlice(new Uint8Array(128 * MiB).fill(1), 0);
two.writeSlice(new Uint8Array(128 * MiB).fill(1), 0);
new Uint8Array(rawBig).fill(1);

// The same hot set in the second region of the two-region map, beside the one-region map's: what
// choosing among regions costs a hot loop.
function secondRegion() {
  const group = 'hot 64 KiB, region 2 of 2';
  const u32raw = new Uint32Array(rawSmall);
  const hot = addresses(64 * 1024);
  const inTwo = hot.map((a) => a + 64 * MiB);
  const loop = (mem, addrs) => () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) s += mem.load(u32, addrs[i]);
    do_not_optimize(s);
  };
  return [
    {
      group,
      name: 'raw Atomics.load',
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.load(u32raw, hot[i] >>> 2);
        do_not_optimize(s);
      },
    },
    { group, name: 'guest load(u32), 1 region', baseline: 'raw Atomics.load', ops: OPS, fn: loop(one, hot) },
    {
      group,
      name: 'guest load(u32), region 2 of 2',
      baseline: 'raw Atomics.load',
      also: ['guest load(u32), 1 region'],
      ops: OPS,
      fn: loop(two, inTwo),
    },
  ];
}

await runCases('scalar', [
  ...scenario('hot 64 KiB, 1 region', one, rawSmall, addresses(64 * 1024)),
  ...scenario('random 128 MiB, 1 region', one, rawBig, addresses(128 * MiB)),
  ...scenario('random 128 MiB, 2 regions', two, rawBig, addresses(128 * MiB)),
  ...secondRegion(),
]);
