// Linux 6.1 on the RISC-V example machine (OpenSBI 1.1 fw_jump, the smoke initramfs of
// ../shared/riscv/linux): SMOKE OK and poweroff (exit 0) on 1 and 3 harts, a session typed into
// the Go shell, that shell snapshotted and restored and migrated live to another process, and
// guests that die (a kernel panic, a trap loop) ending the run with a message and a non-zero
// status, never a hang. Skipped with a reason where ../shared is absent.
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, machine, startMachine } from '../helpers/riscv-machine.js';
import { buildElf } from '../helpers/elf.js';

const linux = new URL('../../../shared/riscv/linux/', import.meta.url).pathname;

/** A fresh copy of the ext2 disk in `dir`. */
function diskIn(dir: string): string {
  const disk = join(dir, 'disk.img');
  copyFileSync(join(linux, 'guest-disk.ext2'), disk);
  chmodSync(disk, 0o644);
  return disk;
}

/** The machine's options for the kernel with the smoke initramfs and `disk`. */
const linuxArgs = (harts: number, append: string, disk: string): string[] => [
  ...['--harts', String(harts), '--mem', '256', '--bios', join(linux, 'fw_jump.bin')],
  ...['--kernel', join(linux, 'Image'), '--initrd', join(linux, 'smoke-initramfs.cpio')],
  ...['--append', append, '--disk', disk, '--timeout', '150'],
];

/** Boots the kernel with the smoke initramfs and a fresh copy of the ext2 disk, then `args`. */
async function boot(harts: number, args: string[], append = 'console=ttyS0 earlycon=sbi') {
  const dir = mkdtempSync(join(tmpdir(), 'riscv-linux-'));
  try {
    return await machine([...linuxArgs(harts, append, diskIn(dir)), ...args], 200_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The console output without the kernel's own log lines ("[    3.129818] hrtimer: …"): printk
 * writes to the same console at any moment, so on a loaded host such a line can land between a
 * typed command and its answer.
 */
const shellOf = (out: string): string => out.replace(/^\[\s*\d+\.\d+\] [^\n]*\n/gm, '');

const haveLinux = existsSync(join(linux, 'Image'));
if (!haveLinux) console.log(`skipped Linux: ${linux} is absent`);
describe.runIf(haveLinux)('riscv machine: Linux 6.1 with OpenSBI', () => {
  for (const harts of [1, 3]) {
    it(`boots on ${harts} hart${harts > 1 ? 's' : ''}: every smoke check passes (threads on every CPU, fork/exec, virtio-rng, the ext2 disk), SMOKE OK, poweroff exits 0`, async () => {
      const r = await boot(harts, ['--mark', 'Run /init as init process']);
      expect(r.code, r.err.slice(-2000)).toBe(0);
      expect(r.out).toContain('OpenSBI v1.1');
      expect(r.out).toContain(`smoke: ${harts} CPUs online`);
      for (let c = 0; c < harts; c++)
        expect(r.out).toMatch(new RegExp(`smoke: cpu ${c}: hart \\d, isa rv64imafdc, mmu sv39`));
      expect(r.out).toContain('smoke: floating point in threads: same as main');
      expect(r.out).toMatch(/smoke: \/dev\/hwrng: read 32\+32 bytes: [0-9a-f]+/);
      expect(r.out).toContain("label 'GUESTDISK'");
      expect(r.out).toContain('smoke: ext2 on /dev/vda: hello.txt ok, data/pattern.bin 262144 bytes ok');
      expect(r.out).toContain('\nSMOKE OK');
      expect(r.out).toContain('reboot: Power down');
      expect(r.err).toMatch(/riscv: mark "Run \/init as init process" at [\d.]+ s, [\d.]+ M instructions/);
    }, 240_000);
  }

  it('the Go shell (smoke=shell) on 3 harts: typed commands give their answers, poweroff ends the run with 0', async () => {
    const r = await boot(
      3,
      [
        '--input',
        'echo hello $((6*7))\\nnproc\\nfor i in 1 2 3; do printf "<$i>"; done; echo\\ncat /proc/version\\npoweroff\\n',
      ],
      'console=ttyS0 earlycon=sbi smoke=shell',
    );
    expect(r.code, r.err.slice(-2000)).toBe(0);
    expect(r.out).toContain('SMOKE OK');
    expect(shellOf(r.out)).toMatch(/\$ echo hello \$\(\(6\*7\)\)\r?\nhello 42\r?\n/);
    expect(shellOf(r.out)).toMatch(/\$ nproc\r?\n3\r?\n/);
    expect(r.out).toContain('<1><2><3>');
    expect(shellOf(r.out)).toMatch(/\$ cat \/proc\/version\r?\nLinux version 6\.1\.\d+ /);
    expect(r.out).toContain('reboot: Power down');
  }, 240_000);

  it('snapshotted at the Go shell prompt on 3 harts and restored in another process, the session goes on; migrated live, the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riscv-linux-snap-'));
    try {
      const common = linuxArgs(3, 'console=ttyS0 smoke=shell', diskIn(dir));
      const prompt = 'SMOKE OK\r\n$ ';
      const snap = join(dir, 'vm.gmm');
      const a = await machine([...common, '--snapshot', snap, '--snapshot-at', prompt], 200_000);
      expect(a.code, a.err.slice(-1000)).toBe(0);
      expect(a.err).toContain('machine snapshot');
      const b = await machine(
        [...common, '--restore', snap, '--input', 'echo restored $((6*7))\\npoweroff\\n'],
        200_000,
      );
      expect(b.code, b.err.slice(-1000)).toBe(0);
      expect(b.out).not.toContain('OpenSBI'); // no second boot
      expect(shellOf(b.out)).toMatch(/echo restored \$\(\(6\*7\)\)\r?\nrestored 42\r?\n/);
      expect(b.out).toContain('reboot: Power down');
      // live: a target process waits with --incoming, the source migrates at the prompt
      const port = await freePort();
      const target = startMachine([
        ...common,
        '--incoming',
        `tcp:127.0.0.1:${port}`,
        '--input',
        'echo migrated $((6*7))\\npoweroff\\n',
      ]);
      await target.listening;
      const c = await machine([...common, '--migrate-to', `tcp:127.0.0.1:${port}`, '--migrate-at', prompt], 200_000);
      const d = await target.done;
      expect(c.code, c.err.slice(-1000)).toBe(0);
      expect(c.err).toMatch(/migrated to tcp:127.0.0.1:\d+: \d+ rounds, \d+ pages/);
      expect(d.code, d.err.slice(-1000)).toBe(0);
      expect(shellOf(d.out)).toMatch(/migrated 42\r?\n/);
      expect(d.out).toContain('reboot: Power down');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);

  it('a kernel that panics (no init it can run) ends the run with exit 1 and a message, not a hang until --timeout', async () => {
    const t0 = Date.now();
    const r = await boot(1, [], 'console=ttyS0 rdinit=/nonexistent');
    expect(r.code).toBe(1);
    expect(r.out).toContain('Kernel panic - not syncing');
    expect(r.err).toContain('riscv: the guest kernel panicked');
    expect(Date.now() - t0).toBeLessThan(140_000); // long before the 150 s timeout
  }, 240_000);
});

describe('riscv machine: a guest in a trap loop', () => {
  it('(mtvec 0 and an illegal instruction: every handler fetch faults) ends with exit 1 and where it loops', async () => {
    // csrw mtvec, zero; .word 0 (illegal)
    const code = new Uint8Array(64);
    new DataView(code.buffer).setUint32(0, 0x30501073, true);
    const dir = mkdtempSync(join(tmpdir(), 'riscv-loop-'));
    try {
      const elf = join(dir, 'loop.elf');
      const base = 0x8000_0000;
      writeFileSync(elf, buildElf({ cls: 64, machine: 243, entry: base, segments: [{ addr: base, data: code }] }));
      const r = await machine(['--timeout', '60', elf], 90_000);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        /riscv: hart 0 stopped: a trap loop: \d+ exceptions in the last \d+ instructions, pc 0x0, mcause 1, mtvec 0x0/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
