// Device thread of bench/devices.bench.js: answers every exit at once (DeviceThread, blocking).
import { workerData } from 'node:worker_threads';
import { DeviceThread } from 'guestmem';

const dev = DeviceThread.fromShared(workerData.channel);
const stop = new Int32Array(workerData.stop);
dev.server.serveBlocking(
  () => 42,
  () => Atomics.load(stop, 0) !== 0,
);
