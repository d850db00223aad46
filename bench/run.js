// npm run bench: runs every bench/*.bench.js in its own process (so JIT state and heap from one
// file never leak into another), prints one table and writes
// results.json, table.txt and a ratio chart ratios.svg to bench/results/<date>/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from './lib/harness.js';
import { ratioChart } from './lib/chart.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const all = [];
for (const f of files) {
  process.stderr.write(`running ${f} …\n`);
  const out = execFileSync(process.execPath, ['--expose-gc', join(here, f), '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  all.push(...JSON.parse(out.trim().split('\n').pop()));
}
const table = formatTable(all);
console.log(table);

const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
const dir = join(here, 'results', stamp);
mkdirSync(dir, { recursive: true });
const machine = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length };
writeFileSync(join(dir, 'results.json'), JSON.stringify({ machine, results: all }, null, 2));
writeFileSync(join(dir, 'table.txt'), table + '\n');
const title = `guestmem ${stamp} (Node ${machine.node}, ${machine.cores} cores)`;
writeFileSync(join(dir, 'ratios.svg'), await ratioChart(all, title));
console.log(`\nwritten to ${dir}/ (results.json, table.txt, ratios.svg)`);
