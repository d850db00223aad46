// Runs the API fuzzer (fuzz-core.mjs) and the hostile-driver fuzzers (fuzz-virtqueue.mjs for
// SplitQueue, fuzz-virtio-device.mjs for the virtio devices) in this process, which the caller runs as a child so a fatal signal would be seen rather than
// take the test runner down with it.
//
//   node test/reliability/fuzz-child.mjs --seed 7 --sequences 200 [--ops 60]
//   node test/reliability/fuzz-child.mjs --seed 7 --seconds 300        (the soak's long run)
//   node test/reliability/fuzz-child.mjs --seed 7 --replay 42          (one sequence, every call printed)
//
// Prints one JSON summary line last; on the first failure prints the failing sequence's calls
// and the command that replays it, and exits 1.
import { parseArgs } from 'node:util';
import { runSequence, snapshotDamage } from './fuzz-core.mjs';
import { deviceSequence } from './fuzz-virtio-device.mjs';
import { virtqueueSequence } from './fuzz-virtqueue.mjs';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    sequences: { type: 'string' },
    seconds: { type: 'string' },
    ops: { type: 'string', default: '60' },
    replay: { type: 'string' },
  },
});
const seed = Number(values.seed);
const ops = Number(values.ops);
const stats = { seed, sequences: 0, calls: 0, compared: 0, outcomes: {}, failure: null };
// the hostile-driver virtqueue sequences (fuzz-virtqueue.mjs), one per API sequence
const virtqueue = { sequences: 0, calls: 0, outcomes: {} };
stats.virtqueue = virtqueue;
// the hostile-driver device sequences (fuzz-virtio-device.mjs), one per API sequence
const devices = { sequences: 0, calls: 0, completed: 0, status: {}, needsReset: 0 };
stats.devices = devices;
const replay = values.replay === undefined ? null : Number(values.replay);
const deadline = values.seconds ? Date.now() + Number(values.seconds) * 1000 : Infinity;
const count = replay !== null ? 1 : values.sequences ? Number(values.sequences) : Infinity;

for (let i = 0; i < count && Date.now() < deadline; i++) {
  const index = replay ?? i;
  try {
    runSequence(seed, index, ops, stats);
    virtqueueSequence(seed, index, ops, virtqueue);
    deviceSequence(seed, index, ops, devices);
    // every 8th sequence also damages a snapshot file and applies it
    if (index % 8 === 0) {
      await snapshotDamage(seed, index);
      stats.snapshots = (stats.snapshots ?? 0) + 1;
    }
    if (replay !== null) console.log(`sequence ${index} passed`);
  } catch (e) {
    const log = e.log ?? [];
    stats.failure = { sequence: index, error: String(e.message), calls: log.length };
    console.log(`FAILED sequence ${index} of seed ${seed} at call ${log.length}: ${e.message}`);
    if (e.cause?.stack) console.log(e.cause.stack);
    console.log('calls (in order):');
    for (const line of log) console.log(`  ${line}`);
    console.log(`replay: node test/reliability/fuzz-child.mjs --seed ${seed} --ops ${ops} --replay ${index}`);
    process.exitCode = 1;
    break;
  }
}
console.log(JSON.stringify(stats));
