// The write-path cost of dirty-page tracking: the same writes on a guest memory created with
// { trackDirty: true } against one without, over a hot 64 KiB set (pages already dirty after
// the first round: the common case, one atomic load per write) and with the bitmap cleared
// before every batch (each first write of a page pays the Atomics.or).
import { GuestMemoryMmap, u32 } from 'guestmem';
import { do_not_optimize, rng, runCases } from './lib/harness.js';

const OPS = 4096;
const off = GuestMemoryMmap.fromRanges([[0, 1 << 20]]);
const on = GuestMemoryMmap.fromRanges([[0, 1 << 20]], { trackDirty: true });
const next = rng();
const addrs = Uint32Array.from({ length: OPS }, () => (next() % 65536) & ~3);
const page = new Uint8Array(4096).fill(7);

const cases = [];
for (const [label, mem] of [
  ['off', off],
  ['on', on],
]) {
  const base = label === 'off' ? undefined : 'tracking off';
  const name = `tracking ${label}`;
  cases.push(
    {
      group: 'dirty: store(u32) hot 64 KiB',
      name,
      baseline: base,
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) mem.store(u32, i, addrs[i]);
      },
    },
    {
      group: 'dirty: writeObj(u32) hot 64 KiB',
      name,
      baseline: base,
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) mem.writeObj(u32, i, addrs[i]);
      },
    },
    {
      group: 'dirty: writeUnordered(u32) hot 64 KiB',
      name,
      baseline: base,
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) mem.writeUnordered(u32, i, addrs[i]);
      },
    },
    {
      group: 'dirty: fetchAdd(u32) hot 64 KiB',
      name,
      baseline: base,
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s += mem.fetchAdd(u32, addrs[i], 1);
        do_not_optimize(s);
      },
    },
    {
      group: 'dirty: store(u32), bitmap cleared per batch',
      name,
      baseline: base,
      ops: OPS,
      fn: () => {
        mem.resetDirty();
        for (let i = 0; i < OPS; i++) mem.store(u32, i, addrs[i]);
      },
    },
    {
      group: 'dirty: writeSlice 4 KiB',
      name,
      baseline: base,
      ops: 64,
      bytes: 4096,
      fn: () => {
        for (let i = 0; i < 64; i++) mem.writeSlice(page, (i & 15) * 4096);
      },
    },
  );
}
await runCases('dirty', cases);
