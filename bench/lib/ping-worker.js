// Raw baseline for kick → wake: a plain worker thread blocked in Atomics.wait on word 0 of a raw
// SharedArrayBuffer; each wake bumps word 1 and notifies it (the same work as bench-vcpu 'wait').
import { workerData } from 'node:worker_threads';

const w = new Int32Array(workerData);
let seen = 0;
for (;;) {
  Atomics.wait(w, 0, seen);
  seen = Atomics.load(w, 0);
  if (seen < 0) break;
  Atomics.add(w, 1, 1);
  Atomics.notify(w, 1);
}
