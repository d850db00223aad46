// Worker side of bench/workers.bench.js: runs one access loop for a fixed time and reports how
// many operations it did. `mode` picks guest accessors or the raw SharedArrayBuffer baseline.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemoryMmap, u32 } from 'guestmem';

const { mode, memory, raw, base, span, word, ms, start } = workerData;
const mem = memory ? GuestMemoryMmap.fromShared(memory) : null;
const view = raw ? new Uint32Array(raw) : null;
const ctl = new Int32Array(start);

Atomics.add(ctl, 0, 1);
Atomics.notify(ctl, 0);
while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0, 100);

const deadline = performance.now() + ms;
let ops = 0;
let sink = 0;
const mask = span / 4 - 1;
while (performance.now() < deadline) {
  if (mode === 'guest-disjoint') {
    for (let i = 0; i < 4096; i++) {
      const a = base + ((i * 4) & (mask * 4));
      mem.store(u32, i, a);
      sink += mem.load(u32, a);
    }
    ops += 8192;
  } else if (mode === 'raw-disjoint') {
    const b = base / 4;
    for (let i = 0; i < 4096; i++) {
      const a = b + (i & mask);
      Atomics.store(view, a, i);
      sink += Atomics.load(view, a);
    }
    ops += 8192;
  } else if (mode === 'guest-contended') {
    for (let i = 0; i < 4096; i++) mem.fetchAdd(u32, word, 1);
    ops += 4096;
  } else {
    for (let i = 0; i < 4096; i++) Atomics.add(view, word / 4, 1);
    ops += 4096;
  }
}
parentPort.postMessage({ ops, sink });
