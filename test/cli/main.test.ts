// The main job as a user runs it: the built CLI in a child process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('guestmem CLI (npm start)', () => {
  it('runs the workload and verifies integrity (--json)', () => {
    const r = run('--vcpus', '3', '--seconds', '0.5', '--memory', '64M', '--json');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.vcpus).toBe(3);
    expect(result.integrity.ok).toBe(true);
    expect(result.integrity.checks).toHaveLength(4);
    expect(result.perVcpu).toHaveLength(3);
    for (const v of result.perVcpu) expect(v.opsPerSecond).toBeGreaterThan(0);
    for (const k of ['load', 'store', 'atomic', 'copy', 'struct']) expect(result.perKind[k].ops).toBeGreaterThan(0);
    expect(result.layout.high[0]).toBe(0x1_0000_0000);
  });

  it('prints a human report with progress', () => {
    const r = run('--vcpus', '2', '--seconds', '0.3', '--memory', '16M');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('per vCPU');
    expect(r.stdout).toContain('integrity verified');
    expect(r.stderr).toContain('ops');
  });

  it('--help, and clear errors with exit 2 for bad flags', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--vcpus');
    for (const bad of [
      ['--vcpus', '0'],
      ['--vcpus', 'x'],
      ['--seconds', '-1'],
      ['--memory', 'lots'],
      ['--frobnicate'],
      ['extra'],
    ]) {
      const r = run(...bad);
      expect(r.status, bad.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/guestmem: /);
    }
    const small = run('--vcpus', '64', '--memory', '1M', '--seconds', '0.1');
    expect(small.status).toBe(2);
    expect(small.stderr).toContain('too small');
  });
});
