// Device thread of bench/devices.bench.js: alternates with the vCPU (bench/lib/device-vcpu.js)
// in blocks of `block`: answers `block` raw pings on `raw` (a 30 µs poll, then Atomics.wait), then serves `block`
// MMIO exits (DeviceThread, blocking), until `n` of each.
import { workerData } from 'node:worker_threads';
import { DeviceThread } from 'guestmem';
import { spinWhile } from './device-vcpu.js';

const { channel, raw, n, block } = workerData;
const dev = DeviceThread.fromShared(channel);
const w = new Int32Array(raw);
let seen = 0;
for (let done = 0; done < n; done += block) {
  for (let i = 0; i < block; i++) {
    spinWhile(w, 0, seen); // polls as the exit server does
    while (Atomics.load(w, 0) === seen) Atomics.wait(w, 0, seen);
    seen = Atomics.load(w, 0); // read before the answer: the next ping can only follow it
    Atomics.add(w, 1, 1);
    Atomics.notify(w, 1);
  }
  let served = 0;
  dev.server.serveBlocking(
    () => (served++, 42),
    () => served >= block,
  );
}
