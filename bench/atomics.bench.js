// Atomic read-modify-writes (what guest AMOs and LR/SC emulation run on) against the raw
// Atomics call on a SharedArrayBuffer, hot 64 KiB set, u32 and u64.
import { GuestMemoryMmap, u32, u64 } from 'guestmem';
import { rng, runCases, do_not_optimize } from './lib/harness.js';

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

const cases = [];
for (const name of ['fetchAdd', 'fetchSub', 'fetchAnd', 'fetchOr', 'fetchXor', 'exchange']) {
  const group = `rmw u32 ${name}`;
  // Written out per op (not through the closures above) so each loop is monomorphic.
  cases.push({ group, name: `raw Atomics ${name}`, ops: OPS, fn: rawLoop(name) });
  cases.push({
    group,
    name: `guest ${name}(u32)`,
    baseline: `raw Atomics ${name}`,
    ops: OPS,
    fn: guestLoop(name, mem, addrs),
  });
  cases.push({
    group,
    name: `guest ${name}(u32), region 2 of 2`,
    baseline: `raw Atomics ${name}`,
    ops: OPS,
    fn: guestLoop(name, two, addrsTwo),
  });
}

function rawLoop(name) {
  switch (name) {
    case 'fetchAdd':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.add(r32, addrs[i] >>> 2, i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchSub':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.sub(r32, addrs[i] >>> 2, i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchAnd':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.and(r32, addrs[i] >>> 2, 0xffff0000);
        do_not_optimize(s);
      };
    case 'fetchOr':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.or(r32, addrs[i] >>> 2, i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchXor':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.xor(r32, addrs[i] >>> 2, i & 0xff);
        do_not_optimize(s);
      };
    default:
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += Atomics.exchange(r32, addrs[i] >>> 2, i);
        do_not_optimize(s);
      };
  }
}

function guestLoop(name, mem, addrs) {
  switch (name) {
    case 'fetchAdd':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchAdd(u32, addrs[i], i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchSub':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchSub(u32, addrs[i], i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchAnd':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchAnd(u32, addrs[i], 0xffff0000);
        do_not_optimize(s);
      };
    case 'fetchOr':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchOr(u32, addrs[i], i & 0xff);
        do_not_optimize(s);
      };
    case 'fetchXor':
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchXor(u32, addrs[i], i & 0xff);
        do_not_optimize(s);
      };
    default:
      return () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.exchange(u32, addrs[i], i);
        do_not_optimize(s);
      };
  }
}

cases.push(
  {
    group: 'rmw u32 compareExchange',
    name: 'raw Atomics compareExchange',
    ops: OPS,
    fn: () => {
      let s = 0;
      for (let i = 0; i < OPS; i++) s += Atomics.compareExchange(r32, addrs[i] >>> 2, i, i + 1);
      do_not_optimize(s);
    },
  },
  {
    group: 'rmw u32 compareExchange',
    name: 'guest compareExchange(u32)',
    baseline: 'raw Atomics compareExchange',
    ops: OPS,
    fn: () => {
      let s = 0;
      for (let i = 0; i < OPS; i++) s += mem.compareExchange(u32, addrs[i], i, i + 1);
      do_not_optimize(s);
    },
  },
  {
    group: 'rmw u64 fetchAdd',
    name: 'raw Atomics add(u64)',
    ops: OPS,
    fn: () => {
      let s = 0n;
      for (let i = 0; i < OPS; i++) s ^= Atomics.add(r64, addrs[i] >>> 3, 1n);
      do_not_optimize(s);
    },
  },
  {
    group: 'rmw u64 fetchAdd',
    name: 'guest fetchAdd(u64)',
    baseline: 'raw Atomics add(u64)',
    ops: OPS,
    fn: () => {
      let s = 0n;
      for (let i = 0; i < OPS; i++) s ^= mem.fetchAdd(u64, addrs[i], 1n);
      do_not_optimize(s);
    },
  },
);

await runCases('atomics', cases);
