// Atomic read-modify-writes (what guest AMOs and LR/SC emulation run on) against the raw
// Atomics call on a SharedArrayBuffer, hot 64 KiB set, u32 and u64.
import { GuestMemoryMmap, u32, u64 } from 'guestmem';
import { freshLoop, rng, runCases } from './lib/harness.js';

const OPS = 4096;
const SPAN = 64 * 1024;
const next = rng();
const addrs = Uint32Array.from({ length: OPS }, () => (next() % SPAN) & ~7);
const raw = new SharedArrayBuffer(SPAN);
const r32 = new Uint32Array(raw);
const r64 = new BigUint64Array(raw);
const mem = GuestMemoryMmap.fromRanges([[0, SPAN]]);
// the same hot set in the second region of a two-region map (as in scalar.bench.js)
const SECOND = 64 << 20;
const two = GuestMemoryMmap.fromRanges([
  [0, SECOND],
  [SECOND, SPAN],
]);
const addrsTwo = addrs.map((a) => a + SECOND);

/** Each op's raw call and guest method, with the u32 operand the loops pass. */
const OPS_U32 = [
  ['fetchAdd', 'add', 'i & 0xff'],
  ['fetchSub', 'sub', 'i & 0xff'],
  ['fetchAnd', 'and', '0xffff0000'],
  ['fetchOr', 'or', 'i & 0xff'],
  ['fetchXor', 'xor', 'i & 0xff'],
  ['exchange', 'exchange', 'i'],
];
// Every loop, baseline and guest, compiled on its own (freshLoop), each with its own feedback.
const loop = (name, bindings, expr) =>
  freshLoop(name, { ...bindings, OPS }, `let s = 0; for (let i = 0; i < OPS; i++) s += ${expr};`);

const cases = [];
for (const [name, atomic, operand] of OPS_U32) {
  const group = `rmw u32 ${name}`;
  const raw = `raw Atomics ${name}`;
  cases.push({
    group,
    name: raw,
    ops: OPS,
    fn: loop('raw', { r32, addrs }, `Atomics.${atomic}(r32, addrs[i] >>> 2, ${operand})`),
  });
  for (const [label, m, a] of [
    ['', mem, addrs],
    [', region 2 of 2', two, addrsTwo],
  ])
    cases.push({
      group,
      name: `guest ${name}(u32)${label}`,
      baseline: raw,
      ops: OPS,
      fn: loop('guest', { mem: m, u32, addrs: a }, `mem.${name}(u32, addrs[i], ${operand})`),
    });
}

const cas = 'rmw u32 compareExchange';
cases.push(
  {
    group: cas,
    name: 'raw Atomics compareExchange',
    ops: OPS,
    fn: loop('raw', { r32, addrs }, 'Atomics.compareExchange(r32, addrs[i] >>> 2, i, i + 1)'),
  },
  {
    group: cas,
    name: 'guest compareExchange(u32)',
    baseline: 'raw Atomics compareExchange',
    ops: OPS,
    fn: loop('guest', { mem, u32, addrs }, 'mem.compareExchange(u32, addrs[i], i, i + 1)'),
  },
  {
    group: cas,
    name: 'guest compareExchange(u32), region 2 of 2',
    baseline: 'raw Atomics compareExchange',
    ops: OPS,
    fn: loop('guest', { mem: two, u32, addrs: addrsTwo }, 'mem.compareExchange(u32, addrs[i], i, i + 1)'),
  },
  {
    group: 'rmw u64 fetchAdd',
    name: 'raw Atomics add(u64)',
    ops: OPS,
    fn: freshLoop(
      'raw',
      { r64, addrs, OPS },
      'let s = 0n; for (let i = 0; i < OPS; i++) s ^= Atomics.add(r64, addrs[i] >>> 3, 1n);',
    ),
  },
  {
    group: 'rmw u64 fetchAdd',
    name: 'guest fetchAdd(u64)',
    baseline: 'raw Atomics add(u64)',
    ops: OPS,
    fn: freshLoop(
      'guest',
      { mem, u64, addrs, OPS },
      'let s = 0n; for (let i = 0; i < OPS; i++) s ^= mem.fetchAdd(u64, addrs[i], 1n);',
    ),
  },
);

await runCases('atomics', cases);
