// A separate Node process for the durability tests: maps a file (or saves a snapshot), writes,
// says so on stdout, then waits to be killed with SIGKILL (it never exits on its own).
//   writer-child.mjs write PATH OFFSET SEED LENGTH      writes pattern(SEED) through a file-backed
//                                                       region (no flush), prints "written"
//   writer-child.mjs snapshot PATH SEED                 saves a 16 MiB snapshot with pattern(SEED),
//                                                       prints "saved", then starts a second save
//                                                       of other contents and prints "progress"
//                                                       during it
import { openSync } from 'node:fs';
import { FileOffset, GuestMemoryMmap, saveSnapshot } from 'guestmem';

export function pattern(seed, length) {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 131 + (i >> 8)) & 0xff;
  return b;
}

const [cmd, path, ...rest] = process.argv.slice(2);
if (cmd === 'write') {
  const [offset, seed, length] = rest.map(Number);
  const fd = openSync(path, 'r+');
  const mem = GuestMemoryMmap.fromRangesWithFiles([[0x100000, 1 << 20, new FileOffset(fd, 0)]]);
  mem.writeSlice(pattern(seed, length), 0x100000 + offset);
  console.log('written');
} else if (cmd === 'snapshot') {
  const [seed] = rest.map(Number);
  const mem = GuestMemoryMmap.fromRanges([
    [0, 8 << 20],
    [1 << 30, 8 << 20],
  ]);
  mem.writeSlice(pattern(seed, 8 << 20), 0);
  mem.writeSlice(pattern(seed + 1, 8 << 20), 1 << 30);
  await saveSnapshot(mem, path);
  console.log('saved');
  mem.writeSlice(pattern(seed + 2, 8 << 20), 0);
  await saveSnapshot(mem, path, {
    sync: false,
    onProgress: () => {
      console.log('progress');
      // stall so the parent's SIGKILL lands in the middle of this save
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    },
  });
  console.log('saved again (should have been killed)');
}
setInterval(() => {}, 1 << 30); // stay alive until killed
