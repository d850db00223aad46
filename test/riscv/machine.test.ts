// The RISC-V example machine (examples/riscv) as a client of guestmem: the official riscv-tests,
// the default SMP guest, the concurrency guest (LR/SC, AMOs, IPIs, WFI wake-ups), the command
// line's exit statuses, and xv6 on 3 harts with a scripted
// shell session. Tests that need ../shared/riscv skip with a printed reason where it is absent.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, machine, main, startMachine } from '../helpers/riscv-machine.js';
import { buildElf } from '../helpers/elf.js';

const shared = new URL('../../../shared/riscv/', import.meta.url).pathname;
const testsDir = join(shared, 'tests-p');
const xv6 = join(shared, 'xv6');

describe('riscv machine: command line and default guest', () => {
  it('with no ELF, boots the committed SMP guest: every hart greets, they count together, exit 0', async () => {
    const r = await machine(['--harts', '3', '--stats']);
    expect(r.code).toBe(0);
    for (const h of [0, 1, 2]) expect(r.out).toContain(`hello from hart ${h}`);
    expect(r.out).toContain('all harts counted together: 300000');
    expect(r.err).toMatch(/hart 2: .* MIPS/);
  }, 60_000);

  it('concurrency guest: LR/SC and AMO counters, a spinlock, SC failing after a remote store (also of the same value), an IPI and a timer waking WFI', async () => {
    // examples/riscv/guest/concurrency.S: exit 0 = every check passed, n = check n failed
    const elf = new URL('../../examples/riscv/guest/concurrency.elf', import.meta.url).pathname;
    for (const harts of ['1', '2', '3', '4']) {
      const r = await machine(['--harts', harts, '--timeout', '60', '--stats', elf], 90_000);
      expect({ harts, code: r.code, err: r.err.slice(-300) }).toMatchObject({ harts, code: 0 });
    }
  }, 240_000);

  it.runIf(process.env.RISCV_LONG === '1')(
    'concurrency guest under CPU load: 40 runs on 2 and 4 harts, none hangs (RISCV_LONG=1)',
    async () => {
      // Two busy processes take both host cores, so the harts' threads are descheduled for
      // milliseconds at a time: the load under which a lost wake-up (a timer or IPI taken
      // before the WFI that waits for it) showed up in 3 of 450 runs.
      const busy = [0, 1].map(() =>
        spawn(process.execPath, ['-e', 'for (const end = Date.now() + 600_000; Date.now() < end; );'], {
          stdio: 'ignore',
        }),
      );
      const elf = new URL('../../examples/riscv/guest/concurrency.elf', import.meta.url).pathname;
      const failed: { harts: string; code: number; err: string }[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          for (const harts of ['2', '4']) {
            const r = await machine(['--harts', harts, '--timeout', '60', '--stats', elf], 90_000);
            if (r.code !== 0) failed.push({ harts, code: r.code, err: r.err.slice(-600) });
          }
        }
      } finally {
        for (const b of busy) b.kill('SIGKILL');
      }
      expect(failed).toEqual([]);
    },
    1_200_000,
  );
  if (process.env.RISCV_LONG !== '1') console.log('skipped the concurrency stress run: it runs with RISCV_LONG=1');

  it('an HTIF result written just before a WFI with interrupts off still ends the run (exit 0, no hang)', async () => {
    // examples/riscv/guest/halt-wfi.S: the result and the final WFI fall in one block
    const elf = new URL('../../examples/riscv/guest/halt-wfi.elf', import.meta.url).pathname;
    for (const harts of ['1', '3']) {
      const r = await machine(['--harts', harts, '--timeout', '10', elf], 30_000);
      expect({ harts, code: r.code, err: r.err.slice(-300) }).toMatchObject({ harts, code: 0 });
    }
  }, 60_000);

  it('a guest exit status past 255 (tohost = 2^63 + 1) is clamped to 255, not a crash', async () => {
    // auipc t0,0; li t1,1; slli t2,t1,63; or t1,t1,t2; sd t1,64(t0); j . -- tohost at entry + 64
    const words = [0x00000297, 0x00100313, 0x03f31393, 0x00736333, 0x0462b023, 0x0000006f];
    const code = new Uint8Array(128);
    words.forEach((w, i) => new DataView(code.buffer).setUint32(4 * i, w, true));
    const dir = mkdtempSync(join(tmpdir(), 'riscv-exit-'));
    try {
      const elf = join(dir, 'exit.elf');
      const base = 0x8000_0000;
      writeFileSync(
        elf,
        buildElf({
          cls: 64,
          machine: 243,
          entry: base,
          segments: [{ addr: base, data: code }],
          symbols: { tohost: base + 64 },
        }),
      );
      const r = await machine(['--timeout', '20', elf], 30_000);
      expect({ code: r.code, err: r.err }).toEqual({ code: 255, err: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('bad options, a missing or bad ELF exit 2 with a clear error; a timeout exits 124', async () => {
    expect((await machine(['--harts', '0'])).code).toBe(2);
    expect((await machine(['--bogus'])).code).toBe(2);
    const missing = await machine(['/no/such.elf']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no such ELF file');
    const notElf = await machine([main]);
    expect(notElf.code).toBe(2);
    expect(notElf.err).toContain('not an ELF');
    const compute = new URL('../../examples/riscv/guest/compute.elf', import.meta.url).pathname;
    const t = await machine(['--timeout', '0.3', compute]);
    expect(t.code).toBe(124);
    expect(t.err).toContain('timed out');
  }, 60_000);
});

const haveTests = existsSync(testsDir);
if (!haveTests) console.log(`skipped the riscv-tests: ${testsDir} is absent`);
/** Runs every rv64 test of `dir` (two at a time) with `args`: the ones that did not exit 0. */
async function failing(dir: string, args: string[], count: number): Promise<string[]> {
  const names = readdirSync(dir).filter((f) => f.startsWith('rv64'));
  expect(names.length).toBe(count);
  const failed: string[] = [];
  const queue = [...names];
  await Promise.all(
    [0, 1].map(async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const r = await machine([...args, '--timeout', '20', join(dir, n)], 30_000);
        if (r.code !== 0) failed.push(`${n}: exit ${r.code}`);
      }
    }),
  );
  return failed;
}

describe.runIf(haveTests)('riscv machine: official riscv-tests (rv64ui, um, ua, mi, si; -p-)', () => {
  // built for rv64ima: rv64mi-p-csr fails by design on a hart whose misa has F (as on QEMU),
  // so they run on the machine's rv64imac configuration
  it('every test passes (HTIF result 0) with --isa rv64imac, the ISA they were built for', async () => {
    expect(await failing(testsDir, ['--isa', 'rv64imac'], 103)).toEqual([]);
  }, 300_000);
});

const gcDir = join(shared, 'tests-gc');
const haveGc = existsSync(gcDir);
if (!haveGc) console.log(`skipped the riscv-tests of C, F and D: ${gcDir} is absent`);
describe.runIf(haveGc)('riscv machine: riscv-tests of the C, F and D extensions (rv64uc, uf, ud; -p-)', () => {
  it('all 24 pass on the default rv64gc hart; without F and D an F test fails (the harness sees failures)', async () => {
    expect(await failing(gcDir, [], 24)).toEqual([]);
    const r = await machine(['--isa', 'rv64imac', '--timeout', '20', join(gcDir, 'rv64uf-p-fadd')]);
    expect(r.code).not.toBe(0);
  }, 300_000);
});

const haveXv6 = existsSync(join(xv6, 'kernel'));
/** xv6 on 3 harts over a fresh copy of fs.img (the machine writes its disk): `args` go before the kernel. */
async function xv6Run(args: string[], timeout: number): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'riscv-xv6-'));
  try {
    const disk = join(dir, 'fs.img');
    copyFileSync(join(xv6, 'fs.img'), disk);
    return await machine(['--harts', '3', '--disk', disk, ...args, join(xv6, 'kernel')], timeout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * xv6 on 3 harts migrating (`args` hold --migrate-at) to a real --incoming process that is
 * SIGSTOPped once it listens (the kernel still accepts the connection, the target never reads
 * all of it) and SIGKILLed 300 ms after the source starts migrating: the result of the source.
 */
async function killedTargetRun(args: string[], timeout = 180_000): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'riscv-mig-'));
  try {
    const disk = join(dir, 'fs.img');
    copyFileSync(join(xv6, 'fs.img'), disk);
    const port = await freePort();
    const target = startMachine([
      '--harts',
      '3',
      '--disk',
      disk,
      '--incoming',
      `tcp:127.0.0.1:${port}`,
      join(xv6, 'kernel'),
    ]);
    await target.listening;
    target.child.kill('SIGSTOP');
    const source = startMachine(
      ['--harts', '3', '--disk', disk, '--migrate-to', `tcp:127.0.0.1:${port}`, ...args, join(xv6, 'kernel')],
      timeout,
    );
    const at = args[args.indexOf('--migrate-at') + 1]!;
    await source.seen(at);
    await new Promise((r) => setTimeout(r, 300));
    target.child.kill('SIGKILL');
    expect((await target.done).code).toBe(-1); // killed
    return await source.done;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!haveXv6) console.log(`skipped xv6: ${xv6} is absent`);
describe.runIf(haveXv6)('riscv machine: xv6 on 3 harts', () => {
  it('pool.pause() while xv6 boots: every hart parks in the kernel, registers are readable, nothing moves, boot resumes', async () => {
    const r = await xv6Run(
      ['--inspect-at', 'hart 2 starting', '--until', 'init: starting sh', '--timeout', '120'],
      180_000,
    );
    expect(r.code, r.err).toBe(0);
    for (const h of [0, 1, 2]) {
      const m = new RegExp(
        `inspect: hart ${h} pc=(0x[0-9a-f]+) rpc-pc=(0x[0-9a-f]+) priv=(\\d) sp=(0x[0-9a-f]+) instret=(\\d+)`,
      ).exec(r.err);
      expect(m, r.err).not.toBeNull();
      expect(m![1]).toBe(m![2]); // the state block and the RPC agree: the hart is parked
      expect(Number(m![5])).toBeGreaterThan(1000);
    }
    expect(r.err).toContain('inspect: 3 harts were paused and still; resumed');
    expect(r.out).toContain('init: starting sh');
  }, 200_000);

  it('a machine snapshot at the shell prompt, restored in another process, goes on with the session (disk and files included)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riscv-snap-'));
    try {
      const disk = join(dir, 'fs.img');
      copyFileSync(join(xv6, 'fs.img'), disk);
      const snap = join(dir, 'vm.gmm');
      const common = ['--harts', '3', '--disk', disk, '--timeout', '120'];
      // write a file first, so the restored machine has to find it on the disk and in its cache
      const a = await machine(
        [
          ...common,
          '--input',
          'echo before > f\\n',
          '--snapshot',
          snap,
          '--snapshot-at',
          '$ echo before > f\n$ ',
          join(xv6, 'kernel'),
        ],
        180_000,
      );
      expect(a.code, a.err).toBe(0);
      expect(a.err).toContain('machine snapshot');
      const b = await machine(
        [
          ...common,
          '--restore',
          snap,
          '--input',
          'cat f\\necho restored-ok\\n',
          '--until',
          'restored-ok\n$ ',
          join(xv6, 'kernel'),
        ],
        180_000,
      );
      expect(b.code, b.err).toBe(0);
      expect(b.out).not.toContain('init: starting sh'); // no second boot
      expect(b.out).toMatch(/^cat f\nbefore\n\$ echo restored-ok\n/); // the prompt came before the snapshot
      // another machine's options are refused
      const c = await machine(['--harts', '2', '--disk', disk, '--restore', snap, join(xv6, 'kernel')]);
      expect(c.code).toBe(2);
      expect(c.err).toContain('restore with the same options');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);

  it.runIf(process.env.RISCV_LONG === '1')(
    'usertests pipe1 snapshotted at "usertests starting" and restored in another process passes (RISCV_LONG=1)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'riscv-snap-'));
      try {
        const disk = join(dir, 'fs.img');
        copyFileSync(join(xv6, 'fs.img'), disk);
        const snap = join(dir, 'vm.gmm');
        const common = ['--harts', '3', '--disk', disk];
        const a = await machine(
          [
            ...common,
            '--input',
            'usertests pipe1\\n',
            '--snapshot',
            snap,
            '--snapshot-at',
            'usertests starting',
            '--timeout',
            '300',
            join(xv6, 'kernel'),
          ],
          360_000,
        );
        expect(a.code, a.err).toBe(0);
        const b = await machine(
          [...common, '--restore', snap, '--until', 'ALL TESTS PASSED', '--timeout', '900', join(xv6, 'kernel')],
          960_000,
        );
        expect(b.code, b.err).toBe(0);
        expect(b.out).not.toContain('usertests starting');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    1_400_000,
  );

  it('live migration at the shell prompt to a process started with --incoming: the target goes on with the session (disk and files included)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riscv-mig-'));
    try {
      const disk = join(dir, 'fs.img');
      copyFileSync(join(xv6, 'fs.img'), disk);
      const port = await freePort();
      const common = ['--harts', '3', '--disk', disk, '--timeout', '120'];
      const target = startMachine([
        ...common,
        '--incoming',
        `tcp:127.0.0.1:${port}`,
        '--input',
        'cat f\\necho migrated-ok\\n',
        '--until',
        'migrated-ok\n$ ',
        join(xv6, 'kernel'),
      ]);
      await target.listening;
      const a = await machine(
        [
          ...common,
          '--input',
          'echo before > f\\n',
          '--migrate-to',
          `tcp:127.0.0.1:${port}`,
          '--migrate-at',
          '$ echo before > f\n$ ',
          join(xv6, 'kernel'),
        ],
        180_000,
      );
      const b = await target.done;
      expect(a.code, a.err).toBe(0);
      expect(a.err).toMatch(/migrated to tcp:127.0.0.1:\d+: \d+ rounds, \d+ pages, [\d.]+ MiB, downtime [\d.]+ ms/);
      expect(a.out).not.toContain('cat f');
      expect(b.code, b.err).toBe(0);
      expect(b.err).toContain('riscv: migrated in:');
      expect(b.out).not.toContain('init: starting sh'); // no second boot
      expect(b.out).toMatch(/^cat f\nbefore\n\$ echo migrated-ok\n/);
      // a target with other machine options refuses the guest before it confirms: the source runs on
      const port2 = await freePort();
      const other = startMachine([
        '--harts',
        '2',
        '--disk',
        disk,
        '--incoming',
        `tcp:127.0.0.1:${port2}`,
        join(xv6, 'kernel'),
      ]);
      await other.listening;
      const c = await machine(
        [
          ...common,
          '--input',
          'echo still-here\\n',
          '--migrate-to',
          `tcp:127.0.0.1:${port2}`,
          '--migrate-at',
          'init: starting sh',
          '--until',
          'still-here\n$ ',
          join(xv6, 'kernel'),
        ],
        180_000,
      );
      const d = await other.done;
      expect(d.code).toBe(1);
      expect(d.err).toContain('start with the same options');
      expect(c.code, c.err).toBe(0);
      expect(c.err).toContain('failed (the guest runs on here)');
      expect(c.out).toContain('still-here');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);

  it('a migration target killed during the migration (stopped first, so it cannot finish): the source finishes the run itself', async () => {
    const r = await killedTargetRun([
      '--input',
      'echo still-here\\n',
      '--migrate-at',
      'init: starting sh',
      '--until',
      'still-here\n$ ',
      '--timeout',
      '120',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('failed (the guest runs on here)');
    expect(r.out).toContain('still-here');
  }, 200_000);

  it.runIf(process.env.RISCV_LONG === '1')(
    'usertests pipe1 with its migration target killed mid-way: the source runs it to ALL TESTS PASSED (RISCV_LONG=1)',
    async () => {
      const r = await killedTargetRun(
        [
          '--input',
          'usertests pipe1\\n',
          '--migrate-at',
          'usertests starting',
          '--until',
          'ALL TESTS PASSED',
          '--timeout',
          '900',
        ],
        960_000,
      );
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain('failed (the guest runs on here)');
    },
    1_000_000,
  );

  it.runIf(process.env.RISCV_LONG === '1')(
    'usertests pipe1 migrated live at "usertests starting" to another process passes there (RISCV_LONG=1)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'riscv-mig-'));
      try {
        const disk = join(dir, 'fs.img');
        copyFileSync(join(xv6, 'fs.img'), disk);
        const port = await freePort();
        const common = ['--harts', '3', '--disk', disk];
        const target = startMachine(
          [
            ...common,
            '--incoming',
            `tcp:127.0.0.1:${port}`,
            '--until',
            'ALL TESTS PASSED',
            '--timeout',
            '900',
            join(xv6, 'kernel'),
          ],
          960_000,
        );
        await target.listening;
        const a = await machine(
          [
            ...common,
            '--input',
            'usertests pipe1\\n',
            '--migrate-to',
            `tcp:127.0.0.1:${port}`,
            '--migrate-at',
            'usertests starting',
            '--timeout',
            '300',
            join(xv6, 'kernel'),
          ],
          360_000,
        );
        const b = await target.done;
        expect(a.code, a.err).toBe(0);
        expect(b.code, b.err).toBe(0);
        expect(b.out).not.toContain('usertests starting');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    1_400_000,
  );

  it('boots, then a scripted shell session gives the right output', async () => {
    const input = [
      'ls',
      'echo hello guestmem > f',
      'cat f',
      'mkdir d',
      'ln f g',
      'rm f',
      'cat g',
      'wc g',
      'cat README | grep xv6 | wc',
      'forktest',
      'stressfs',
      'echo done-marker',
    ].join('\\n');
    const r = await xv6Run(['--input', input + '\\n', '--until', 'done-marker\n', '--timeout', '240'], 300_000);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('hart 1 starting');
    expect(r.out).toContain('hart 2 starting');
    expect(r.out).toContain('init: starting sh');
    expect(r.out).toMatch(/README\s+2 2 2305/);
    expect(r.out).toMatch(/\$ cat g\nhello guestmem\n/);
    expect(r.out).toMatch(/1 2 15 g/);
    expect(r.out).toMatch(/\n5 54 319\s*\n/);
    expect(r.out).toContain('fork test OK');
    expect(r.out).toContain('stressfs starting');
    expect(r.out).not.toContain('panic');
  }, 320_000);

  it.runIf(process.env.RISCV_LONG === '1')(
    'usertests pipe1 ends with ALL TESTS PASSED (RISCV_LONG=1)',
    async () => {
      const r = await xv6Run(
        ['--input', 'usertests pipe1\\n', '--until', 'ALL TESTS PASSED', '--timeout', '900'],
        960_000,
      );
      expect(r.code, r.err).toBe(0);
    },
    1_000_000,
  );
  if (process.env.RISCV_LONG !== '1') console.log('skipped usertests pipe1: the long check runs with RISCV_LONG=1');
});
