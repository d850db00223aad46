import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GuestMemoryMmap, struct, u16, u32, u64 } from 'guestmem';

const Desc = struct([
  ['addr', u64],
  ['len', u32],
  ['flags', u16],
  ['next', u16],
]);

if (isMainThread) {
  // 640 KiB of low RAM and 16 MiB at 1 MiB, like a small PC
  const mem = GuestMemoryMmap.fromRanges([
    [0, 0xa0000],
    [0x100000, 0x1000000],
  ]);
  mem.writeObj(Desc, { addr: 0x200000n, len: 512, flags: 1, next: 0 }, 0x100000);
  const worker = new Worker(new URL(import.meta.url), { workerData: mem.share() });
  worker.on('message', (desc) => {
    console.log('worker read', desc, 'and wrote', mem.load(u32, 0x100010).toString(16));
  });
} else {
  const mem = GuestMemoryMmap.fromShared(workerData); // the same memory, no copy
  const desc = mem.readObj(Desc, 0x100000);
  mem.store(u32, 0xc0ffee, 0x100010);
  parentPort.postMessage(desc);
}
