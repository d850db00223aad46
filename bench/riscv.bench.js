// The RISC-V example machine (examples/riscv): instructions per second per hart on the compute
// loop (Sv39 paging on) with 1 and 3 harts, over three memory paths measured in the same run:
// the library's TranslationCache (the machine's default), hand-made raw views (the baseline),
// and the checked register accessors. Plus seconds from start to xv6's shell, and Linux 6.1's
// boot (seconds and guest instructions to the first /init line and to poweroff, beside QEMU
// 7.2's reference figures), when ../shared/riscv is present.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable } from './lib/harness.js';

const main = fileURLToPath(new URL('../examples/riscv/main.js', import.meta.url));
const compute = fileURLToPath(new URL('../examples/riscv/guest/compute.elf', import.meta.url));
const results = [];
const add = (group, name, nsPerOp, baseline = null) =>
  results.push({ file: 'riscv', group, name, nsPerOp, baseline, gbps: null });

/** Runs the machine with --stats: per-hart MIPS and the total seconds. */
function stats(args) {
  const r = spawnSync(process.execPath, [main, '--stats', ...args], { encoding: 'utf8', timeout: 1_000_000 });
  const out = r.stderr ?? '';
  const mips = [...out.matchAll(/([\d.]+) MIPS/g)].map((m) => Number(m[1]));
  const secs = Number(/hart\(s\), ([\d.]+) s/.exec(out)?.[1] ?? NaN);
  return { mips, secs };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
for (const harts of [1, 3]) {
  const group = `riscv compute loop (Sv39), ${harts} hart${harts > 1 ? 's' : ''}`;
  const per = { raw: [], tcache: [], checked: [] };
  for (let r = 0; r < ROUNDS; r++)
    for (const p of Object.keys(per)) {
      const { mips } = stats(['--harts', String(harts), '--path', p, compute]);
      per[p].push(mips.reduce((a, b) => a + b, 0) / mips.length);
    }
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const name = (p, m) => `${p === 'raw' ? 'raw views' : p} (${m.toFixed(0)} MIPS per hart)`;
  const rawName = name('raw', median(per.raw));
  add(group, rawName, 1e3 / median(per.raw));
  for (const p of ['tcache', 'checked']) add(group, name(p, median(per[p])), 1e3 / median(per[p]), rawName);
}

const xv6 = fileURLToPath(new URL('../../shared/riscv/xv6/', import.meta.url));
if (existsSync(join(xv6, 'kernel'))) {
  const dir = mkdtempSync(join(tmpdir(), 'riscv-bench-'));
  const disk = join(dir, 'fs.img');
  for (const harts of [1, 3]) {
    copyFileSync(join(xv6, 'fs.img'), disk);
    const { secs, mips } = stats([
      '--harts',
      String(harts),
      '--disk',
      disk,
      '--until',
      'init: starting sh',
      join(xv6, 'kernel'),
    ]);
    add(
      'xv6 boot to "init: starting sh"',
      `${harts} hart(s): ${secs.toFixed(1)} s, hart 0 ${mips[0]?.toFixed(0)} MIPS`,
      secs * 1e9,
    );
  }
  if (process.env.RISCV_LONG === '1') {
    // usertests counts all free memory before and after its test: minutes, so only on request
    copyFileSync(join(xv6, 'fs.img'), disk);
    const { secs, mips } = stats([
      '--harts',
      '3',
      '--disk',
      disk,
      '--input',
      'usertests pipe1\\n',
      '--until',
      'ALL TESTS PASSED',
      '--timeout',
      '900',
      join(xv6, 'kernel'),
    ]);
    add(
      'xv6 usertests pipe1 (boot included)',
      `3 harts: ${secs.toFixed(1)} s, ${mips.map((m) => m.toFixed(0)).join('/')} MIPS`,
      secs * 1e9,
    );
  } else console.error('riscv bench: usertests pipe1 not measured (RISCV_LONG=1 measures it)');
  rmSync(dir, { recursive: true, force: true });
} else console.error('riscv bench: ../shared/riscv/xv6 is absent; xv6 boot not measured');

// ---- Linux 6.1 with OpenSBI and the smoke initramfs (uncompressed), to /init and to poweroff ----
const linux = fileURLToPath(new URL('../../shared/riscv/linux/', import.meta.url));
/** QEMU 7.2's reference runs (../shared/riscv/linux/README.md): seconds and guest instructions. */
const QEMU = {
  1: { init: [0.38, 76.7], off: [0.49, 85.6] },
  3: { init: [1.09, 252.8], off: [1.38, 335.8] },
};
if (existsSync(join(linux, 'Image'))) {
  const dir = mkdtempSync(join(tmpdir(), 'riscv-bench-linux-'));
  const disk = join(dir, 'disk.img');
  const INIT = 'Run /init as init process';
  const OFF = 'reboot: Power down';
  for (const harts of [1, 3]) {
    const runs = [];
    for (let r = 0; r < ROUNDS; r++) {
      copyFileSync(join(linux, 'guest-disk.ext2'), disk);
      chmodSync(disk, 0o644);
      const out = spawnSync(
        process.execPath,
        [
          main,
          ...['--harts', String(harts), '--mem', '256', '--bios', join(linux, 'fw_jump.bin')],
          ...['--kernel', join(linux, 'Image'), '--initrd', join(linux, 'smoke-initramfs.cpio')],
          ...['--append', 'console=ttyS0 earlycon=sbi', '--disk', disk, '--timeout', '120'],
          ...['--mark', INIT, '--mark', OFF],
        ],
        { encoding: 'utf8', timeout: 200_000 },
      );
      const mark = (text) => {
        const m = new RegExp(`mark ${JSON.stringify(text).replace(/[/.]/g, '\\$&')} at ([\\d.]+) s, ([\\d.]+) M`).exec(
          out.stderr,
        );
        return m === null ? null : [Number(m[1]), Number(m[2])];
      };
      const init = mark(INIT),
        off = mark(OFF);
      if (out.status !== 0 || init === null || off === null || !out.stdout.includes('SMOKE OK'))
        throw new Error(`Linux on ${harts} hart(s) did not boot to SMOKE OK: ${out.stderr.slice(-500)}`);
      runs.push({ init, off });
    }
    const med = (f) => [...runs].sort((a, b) => f(a) - f(b))[runs.length >> 1];
    const group = `Linux 6.1 boot (OpenSBI, smoke initramfs), ${harts} hart${harts > 1 ? 's' : ''}`;
    const q = QEMU[harts];
    const i = med((r) => r.init[0]).init,
      o = med((r) => r.off[0]).off;
    add(
      group,
      `to the first /init line: ${i[1].toFixed(1)} M instructions (QEMU 7.2: ${q.init[0]} s, ${q.init[1]} M)`,
      i[0] * 1e9,
    );
    add(group, `to poweroff: ${o[1].toFixed(1)} M instructions (QEMU 7.2: ${q.off[0]} s, ${q.off[1]} M)`, o[0] * 1e9);
  }
  rmSync(dir, { recursive: true, force: true });
} else console.error('riscv bench: ../shared/riscv/linux is absent; the Linux boot not measured');

for (const r of results) {
  if (r.baseline) r.ratio = r.nsPerOp / results.find((b) => b.group === r.group && b.name === r.baseline).nsPerOp;
}
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
else printTable(results);
