// Snapshots and live migration, each beside a raw baseline in the same run:
//   migration downtime of a 128 MiB guest whose 2 vCPUs write all along (a 4 MiB working set,
//     and everywhere: the worst case, where no round converges), over loopback TCP (pause to
//     the target's confirmation), against pausing and resuming the same pool without migrating;
//     rounds, bytes sent and the total time in the case's name;
//   full snapshot save and load of 128 MiB of non-zero memory, against copying a file of the
//     same size (copyFileSync);
//   the sparse snapshot of a 1 GiB guest with 4 MiB written: save time, the file size in the name;
//   the RISC-V machine (examples/riscv) running xv6 on 3 harts in 128 MiB, migrated live to a
//     second process while usertests runs (its first test fills all of memory), against pausing
//     and resuming the same machine at the same point (--inspect-at), where ../shared is present.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestMemoryMmap, loadSnapshot, migrateFrom, migrateTo, saveSnapshot, VcpuPool } from 'guestmem';
import { printTable } from './lib/harness.js';

const MiB = 1 << 20;
const BASE = 0x8000_0000;
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const results = [];
const add = (group, name, nsPerOp, baseline = null) =>
  results.push({ file: 'migration', group, name, nsPerOp, baseline, gbps: null });
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const dir = mkdtempSync(join(tmpdir(), 'guestmem-bench-migrate-'));

// ---- migration under load ----
/** Migrations of a 128 MiB guest whose 2 vCPUs write a `hot`-byte working set all along. */
async function migrations(hot) {
  const size = 128 * MiB;
  const mem = GuestMemoryMmap.fromRanges([[BASE, size]], { trackDirty: true });
  mem.writeSlice(new Uint8Array(size).fill(0x5a), BASE); // all non-zero, as after a guest's boot
  const pool = new VcpuPool({
    memory: mem,
    vcpus: 2,
    module: new URL('../test/fixtures/vcpu/page-writer.mjs', import.meta.url),
  });
  await pool.start({ base: BASE, size: hot });
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const pauses = [];
  const downtimes = [];
  let report = null;
  for (let t = 0; t < TRIALS; t++) {
    const p0 = performance.now();
    await pool.pause(10_000);
    pool.resume();
    pauses.push(performance.now() - p0);
    const arrived = new Promise((resolve) => server.once('connection', (s) => resolve(migrateFrom(s))));
    const sock = createConnection(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    report = await migrateTo(sock, {
      memory: mem,
      pause: () => pool.pause(10_000),
      resume: () => pool.resume(),
      state: () => ({ cpu: new Int32Array(64) }),
    });
    await arrived;
    sock.destroy();
    downtimes.push(report.downtimeMs);
    pool.resume(); // the bench keeps the source running for the next trial
  }
  await pool.stop();
  await pool.close();
  server.close();
  const group = `migration, 128 MiB guest, 2 vCPUs writing ${hot === size ? 'everywhere' : `a ${hot / MiB} MiB working set`}`;
  add(group, 'pause + resume, no migration', median(pauses) * 1e6);
  add(
    group,
    `migration downtime (${report.rounds} rounds, ${(report.bytes / MiB).toFixed(0)} MiB sent, total ${report.totalMs.toFixed(0)} ms)`,
    median(downtimes) * 1e6,
    'pause + resume, no migration',
  );
}
await migrations(4 * MiB);
await migrations(128 * MiB);

// ---- the RISC-V machine: xv6 migrated live while usertests runs ----
const xv6 = new URL('../../shared/riscv/xv6/', import.meta.url).pathname;
const machineMain = new URL('../examples/riscv/main.js', import.meta.url).pathname;
/** Runs the machine with `args` until `stopWhen` is in its stderr (then SIGKILL) or it exits; gives stderr. */
function machine(args, stopWhen = null) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [machineMain, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => {
      err += b;
      if (stopWhen !== null && stopWhen.test(err)) child.kill('SIGKILL');
    });
    child.on('close', () => resolve(err));
  });
}
if (!existsSync(join(xv6, 'kernel'))) {
  console.log(`skipped the xv6 migration: ${xv6} is absent`);
} else {
  const disk = join(dir, 'fs.img');
  const common = ['--harts', '3', '--mem', '128', '--disk', disk, '--input', 'usertests\\n', '--timeout', '120'];
  const pauses = [];
  const downtimes = [];
  let last = null;
  for (let t = 0; t < Math.min(TRIALS, 3); t++) {
    copyFileSync(join(xv6, 'fs.img'), disk);
    const a = await machine([...common, '--inspect-at', 'usertests starting', join(xv6, 'kernel')], /resumed \(pause/);
    const p = /pause ([\d.]+) ms, resume ([\d.]+) ms/.exec(a);
    if (p === null) throw new Error(`xv6 pause and resume: ${a}`);
    pauses.push(Number(p[1]) + Number(p[2]));
    copyFileSync(join(xv6, 'fs.img'), disk);
    const port = 47_000 + Math.floor(Math.random() * 2000);
    const target = machine([...common, '--incoming', `tcp:127.0.0.1:${port}`, join(xv6, 'kernel')], /migrated in/);
    await new Promise((r) => setTimeout(r, 500)); // the target listens long before xv6 reaches usertests
    const b = await machine([
      ...common,
      '--migrate-to',
      `tcp:127.0.0.1:${port}`,
      '--migrate-at',
      'usertests starting',
      join(xv6, 'kernel'),
    ]);
    const m = /(\d+) rounds, (\d+) pages, ([\d.]+) MiB, downtime ([\d.]+) ms, (\d+) ms in all/.exec(b);
    if (m === null) throw new Error(`xv6 migration: ${b}`);
    await target;
    downtimes.push(Number(m[4]));
    last = m;
  }
  const group = 'xv6 on 3 harts, 128 MiB, migrated live while usertests runs';
  add(group, 'pause + resume, no migration', median(pauses) * 1e6);
  add(
    group,
    `migration downtime (${last[1]} rounds, ${last[3]} MiB sent, total ${last[5]} ms)`,
    median(downtimes) * 1e6,
    'pause + resume, no migration',
  );
}

// ---- snapshot throughput ----
{
  const size = 128 * MiB;
  const mem = GuestMemoryMmap.fromRanges([[BASE, size]]);
  mem.writeSlice(new Uint8Array(size).fill(0x33), BASE);
  const raw = join(dir, 'raw');
  writeFileSync(raw, Buffer.alloc(size, 0x33));
  const snap = join(dir, 'snap');
  const copies = [];
  const saves = [];
  const loads = [];
  for (let t = 0; t < TRIALS; t++) {
    let p = performance.now();
    copyFileSync(raw, join(dir, 'copy'));
    copies.push(performance.now() - p);
    p = performance.now();
    await saveSnapshot(mem, snap, { sync: false });
    saves.push(performance.now() - p);
    p = performance.now();
    await loadSnapshot(snap);
    loads.push(performance.now() - p);
  }
  const group = 'snapshot 128 MiB';
  add(group, 'file copy (copyFileSync)', median(copies) * 1e6);
  add(group, 'saveSnapshot (full)', median(saves) * 1e6, 'file copy (copyFileSync)');
  add(group, 'loadSnapshot (verify, then copy in)', median(loads) * 1e6, 'file copy (copyFileSync)');
}

// ---- sparse snapshot ----
{
  const mem = GuestMemoryMmap.fromRanges([[BASE, 1024 * MiB]]);
  for (let i = 0; i < 4; i++) mem.writeSlice(new Uint8Array(MiB).fill(i + 1), BASE + i * 256 * MiB);
  const snap = join(dir, 'sparse');
  const times = [];
  for (let t = 0; t < TRIALS; t++) {
    const p = performance.now();
    await saveSnapshot(mem, snap, { sync: false });
    times.push(performance.now() - p);
  }
  add(
    'sparse snapshot, 1 GiB guest, 4 MiB written',
    `saveSnapshot: a ${(statSync(snap).size / MiB).toFixed(2)} MiB file`,
    median(times) * 1e6,
  );
}

rmSync(dir, { recursive: true, force: true });
for (const r of results) {
  if (r.baseline) r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
