// Bulk readSlice/writeSlice against TypedArray.prototype.set between plain buffers, for
// 4 KiB … 16 MiB, aligned and misaligned (guest address off by 3 bytes); each also against
// TypedArray.prototype.set out of / into a raw SharedArrayBuffer at the same offset, which is
// what copying guest memory costs without the addon (V8 copies shared memory word by word).
import { GuestMemoryMmap } from 'guestmem';
import { runCases } from './lib/harness.js';

const MiB = 1 << 20;
const mem = GuestMemoryMmap.fromRanges([[0, 64 * MiB]]);
mem.writeSlice(new Uint8Array(64 * MiB).fill(1), 0);
const raw = new Uint8Array(new SharedArrayBuffer(64 * MiB)).fill(1);
const cases = [];
for (const [label, size] of [
  ['4 KiB', 4096],
  ['64 KiB', 64 * 1024],
  ['1 MiB', MiB],
  ['16 MiB', 16 * MiB],
]) {
  const ops = Math.max(1, Math.floor((256 * 1024) / size));
  const src = new Uint8Array(size).fill(2);
  const dst = new Uint8Array(size);
  const group = `copy ${label}`;
  // the baseline moves the same bytes between two plain buffers
  const plainSrc = new Uint8Array(size * 2).fill(3);
  cases.push({
    group,
    name: 'plain TypedArray.set',
    ops,
    bytes: size,
    fn: () => {
      for (let i = 0; i < ops; i++) dst.set(i & 1 ? plainSrc.subarray(0, size) : src);
    },
  });
  for (const [mis, off] of [
    ['aligned', 0x10000],
    ['misaligned', 0x10003],
  ]) {
    const rawView = raw.subarray(off, off + size);
    cases.push({
      group,
      name: `set out of a raw SAB, ${mis}`,
      ops,
      bytes: size,
      fn: () => {
        for (let i = 0; i < ops; i++) dst.set(rawView);
      },
    });
    cases.push({
      group,
      name: `set into a raw SAB, ${mis}`,
      ops,
      bytes: size,
      fn: () => {
        for (let i = 0; i < ops; i++) raw.set(src, off);
      },
    });
    cases.push({
      group,
      name: `readSlice ${mis}`,
      baseline: 'plain TypedArray.set',
      also: [`set out of a raw SAB, ${mis}`],
      ops,
      bytes: size,
      fn: () => {
        for (let i = 0; i < ops; i++) mem.readSlice(dst, off);
      },
    });
    cases.push({
      group,
      name: `writeSlice ${mis}`,
      baseline: 'plain TypedArray.set',
      also: [`set into a raw SAB, ${mis}`],
      ops,
      bytes: size,
      fn: () => {
        for (let i = 0; i < ops; i++) mem.writeSlice(src, off);
      },
    });
  }
}
await runCases('copy', cases);
