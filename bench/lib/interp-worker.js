// Worker side of bench/interp.bench.js: runs the toy interpreter over shared guest memory,
// waiting on a start word so every worker of a round starts together.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemoryMmap } from 'guestmem';
import { compile, run } from './toy-interp.js';

const mem = GuestMemoryMmap.fromShared(workerData.memory);
const go = new Int32Array(workerData.go);
parentPort.on('message', ({ path, iterations, round }) => {
  // a fresh compilation per round, warmed up before the timed run
  const fn = compile(path);
  run(path, mem, workerData.code, workerData.data, 200_000, fn);
  Atomics.add(go, 1, 1);
  Atomics.notify(go, 1);
  Atomics.wait(go, 0, round - 1);
  parentPort.postMessage(run(path, mem, workerData.code, workerData.data, iterations, fn));
});
