// Raw baseline of bench/devices.bench.js: two plain threads ping-pong with Atomics.notify/wait
// on a raw SharedArrayBuffer (word 0: pings, word 1: pongs); this one answers `n` pings.
import { workerData } from 'node:worker_threads';

const w = new Int32Array(workerData.sab);
let seen = 0;
for (let i = 0; i < workerData.n; i++) {
  while (Atomics.load(w, 0) === seen) Atomics.wait(w, 0, seen);
  seen = Atomics.load(w, 0);
  Atomics.add(w, 1, 1);
  Atomics.notify(w, 1);
}
