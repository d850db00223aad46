// Raw baseline, pinging side: times `n` round trips against pong-worker.js; posts the times (ns).
import { parentPort, workerData } from 'node:worker_threads';

const w = new Int32Array(workerData.sab);
const times = [];
for (let i = 0; i < workerData.n; i++) {
  const acked = Atomics.load(w, 1);
  const t = performance.now();
  Atomics.add(w, 0, 1);
  Atomics.notify(w, 0);
  while (Atomics.load(w, 1) === acked) Atomics.wait(w, 1, acked);
  times.push((performance.now() - t) * 1e6);
}
parentPort.postMessage(times);
