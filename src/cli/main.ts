#!/usr/bin/env node
/**
 * `npm start` / `guestmem`: runs the default multi-vCPU workload and prints a report.
 * Exits 1 if the integrity checks fail, 2 for bad arguments.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runWorkload, type WorkloadResult } from './workload.js';

const HELP = `Usage: guestmem [options]   (npm start -- [options])

Runs N vCPU worker threads over one guest memory (low RAM at 0 and high RAM at 4 GiB, around a
hole) doing guest loads and stores, atomic increments of a shared counter, cross-region copies
and struct reads, then verifies integrity and reports operations per second.

Options:
  --vcpus N      vCPU worker threads (default: the number of cores, at least 2)
  --memory SIZE  total guest RAM, e.g. 256M, 1G, 1048576 (default 256M)
  --seconds S    how long to run (default 3)
  --json         print the result as JSON on stdout (no progress bar)
  -h, --help     show this help
`;

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new RangeError(`--memory: cannot read "${text}" as a size (try 256M or 1G)`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * scale);
}

function positiveInt(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new RangeError(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

function bar(fraction: number, width = 30): string {
  const full = Math.round(Math.min(1, fraction) * width);
  return '[' + '#'.repeat(full) + '-'.repeat(width - full) + ']';
}

const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);

function printReport(r: WorkloadResult): void {
  const out = process.stdout;
  out.write(`\nguestmem workload: ${r.vcpus} vCPUs, ${r.memory / 2 ** 20} MiB guest RAM, ${r.seconds.toFixed(2)} s\n`);
  out.write(`  low RAM  [0x${r.layout.low[0].toString(16)}, +0x${r.layout.low[1].toString(16)})\n`);
  out.write(`  high RAM [0x${r.layout.high[0].toString(16)}, +0x${r.layout.high[1].toString(16)})\n\n`);
  out.write('per vCPU          ops/s\n');
  for (const v of r.perVcpu) out.write(`  vCPU ${String(v.id).padEnd(10)} ${fmt(v.opsPerSecond).padStart(10)}\n`);
  out.write(`  ${'total'.padEnd(15)} ${fmt(r.totalOpsPerSecond).padStart(10)}\n\n`);
  out.write('per kind          ops/s\n');
  for (const [k, v] of Object.entries(r.perKind)) out.write(`  ${k.padEnd(15)} ${fmt(v.opsPerSecond).padStart(10)}\n`);
  out.write(`  (cross-region copies move ${(r.copiedBytesPerSecond / 2 ** 20).toFixed(0)} MiB/s)\n\n`);
  out.write('integrity\n');
  for (const c of r.integrity.checks) out.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  out.write(`\n${r.integrity.ok ? 'integrity verified' : 'INTEGRITY FAILED'}\n`);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        vcpus: { type: 'string' },
        memory: { type: 'string', default: '256M' },
        seconds: { type: 'string', default: '3' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`guestmem: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let vcpus: number, memory: number, seconds: number;
  try {
    vcpus = values.vcpus === undefined ? Math.max(2, availableParallelism()) : positiveInt('vcpus', values.vcpus, 256);
    memory = parseSize(values.memory);
    seconds = Number(values.seconds);
    if (!(seconds > 0 && seconds <= 3600)) throw new RangeError('--seconds must be a number in (0, 3600]');
  } catch (e) {
    process.stderr.write(`guestmem: ${(e as Error).message}\n`);
    return 2;
  }
  const tty = process.stderr.isTTY && !values.json;
  let lastLine = -1;
  let result: WorkloadResult;
  try {
    result = await runWorkload({
      vcpus,
      memory,
      seconds,
      onProgress: (elapsed, ops) => {
        if (values.json) return;
        const line = `${bar(elapsed / seconds)} ${elapsed.toFixed(1)}/${seconds} s  ${fmt(ops)} ops`;
        if (tty) process.stderr.write(`\r${line}`);
        else if (Math.floor(elapsed) !== lastLine) {
          lastLine = Math.floor(elapsed);
          process.stderr.write(line + '\n');
        }
      },
    });
  } catch (e) {
    process.stderr.write(`\nguestmem: ${(e as Error).message}\n`);
    return e instanceof RangeError ? 2 : 1;
  }
  if (tty) process.stderr.write('\n');
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else printReport(result);
  return result.integrity.ok ? 0 : 1;
}

process.exitCode = await main();
