// Scalar guest accesses against raw Atomics and plain typed-array indexing on one
// SharedArrayBuffer, on a hot 64 KiB set and on random addresses over 128 MiB, in one region
// and split over two regions.
import { GuestMemoryMmap, u32, u64 } from 'guestmem';
import { freshLoop, rng, runCases } from './lib/harness.js';

const OPS = 4096;
const MiB = 1 << 20;

function addresses(span, base = 0) {
  const next = rng();
  const out = new Uint32Array(OPS);
  for (let i = 0; i < OPS; i++) out[i] = base + ((next() % span) & ~7);
  return out;
}

// Every loop, raw and guest, compiled on its own (freshLoop): see bench/README.md.
const sum = (expr) => `let s = 0; for (let i = 0; i < OPS; i++) s += ${expr};`;
const sum64 = (expr) => `let s = 0n; for (let i = 0; i < OPS; i++) s ^= ${expr};`;
const each = (stmt) => `let s = 0; for (let i = 0; i < OPS; i++) ${stmt};`;

function scenario(group, mem, raw, addrs) {
  const r = {
    u32raw: new Uint32Array(raw),
    u64raw: new BigUint64Array(raw),
    a: addrs.map((x) => x % raw.byteLength),
    OPS,
  };
  const g = { mem, u32, u64, a: addrs, OPS };
  const c = (name, baseline, bindings, body) => ({
    group,
    name,
    ...(baseline ? { baseline } : {}),
    ops: OPS,
    fn: freshLoop(baseline ? 'guest' : 'raw', bindings, body),
  });
  return [
    c('raw Atomics.load', null, r, sum('Atomics.load(u32raw, a[i] >>> 2)')),
    c('raw u32[i]', null, r, sum('u32raw[a[i] >>> 2]')),
    c('raw Atomics.store', null, r, each('Atomics.store(u32raw, a[i] >>> 2, i)')),
    c('guest load(u32)', 'raw Atomics.load', g, sum('mem.load(u32, a[i])')),
    c('guest readObj(u32)', 'raw Atomics.load', g, sum('mem.readObj(u32, a[i])')),
    c('guest store(u32)', 'raw Atomics.store', g, each('mem.store(u32, i, a[i])')),
    c('guest readObj(u64)', 'raw Atomics.load(u64)', g, sum64('mem.readObj(u64, a[i])')),
    c('raw Atomics.load(u64)', null, r, sum64('Atomics.load(u64raw, a[i] >>> 3)')),
    c('guest readUnordered(u32)', 'raw u32[i]', g, sum('mem.readUnordered(u32, a[i])')),
    c('raw u32[i] = v', null, r, each('u32raw[a[i] >>> 2] = i') + ' s = u32raw[0];'),
    c('guest writeUnordered(u32)', 'raw u32[i] = v', g, each('mem.writeUnordered(u32, i, a[i])')),
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
  const hot = addresses(64 * 1024);
  const load = (bindings) => freshLoop('guest', { ...bindings, u32, OPS }, sum('mem.load(u32, a[i])'));
  return [
    {
      group,
      name: 'raw Atomics.load',
      ops: OPS,
      fn: freshLoop('raw', { u32raw: new Uint32Array(rawSmall), a: hot, OPS }, sum('Atomics.load(u32raw, a[i] >>> 2)')),
    },
    {
      group,
      name: 'guest load(u32), 1 region',
      baseline: 'raw Atomics.load',
      ops: OPS,
      fn: load({ mem: one, a: hot }),
    },
    {
      group,
      name: 'guest load(u32), region 2 of 2',
      baseline: 'raw Atomics.load',
      also: ['guest load(u32), 1 region'],
      ops: OPS,
      fn: load({ mem: two, a: hot.map((x) => x + 64 * MiB) }),
    },
  ];
}

await runCases('scalar', [
  ...scenario('hot 64 KiB, 1 region', one, rawSmall, addresses(64 * 1024)),
  ...scenario('random 128 MiB, 1 region', one, rawBig, addresses(128 * MiB)),
  ...scenario('random 128 MiB, 2 regions', two, rawBig, addresses(128 * MiB)),
  ...secondRegion(),
]);
