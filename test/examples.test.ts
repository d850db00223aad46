// The README's quick start is examples/quickstart.js: it must run as shown.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('examples', () => {
  it('quickstart.js runs and the worker sees and writes the same memory', () => {
    const out = execFileSync(process.execPath, [new URL('../examples/quickstart.js', import.meta.url).pathname], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toContain('addr: 2097152n');
    expect(out).toContain('len: 512');
    expect(out).toContain('and wrote c0ffee');
  });

  it('vcpus.js starts, pauses, inspects and stops two vCPUs; the shared counter is exact', () => {
    const out = execFileSync(process.execPath, [new URL('../examples/vcpus.js', import.meta.url).pathname], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toMatch(/paused; counter \d+ regs/);
    expect(out).toContain('id: 1');
    expect(out).toContain('counter exact: true');
  });

  it('devices.js: an in-vCPU timer wakes vCPU 0, an IPI wakes vCPU 1, the console exits to the main thread', () => {
    const out = execFileSync(process.execPath, [new URL('../examples/devices.js', import.meta.url).pathname], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toMatch(/vCPU 0 woke by 'timer' [\d.]+ ms after its deadline/);
    expect(out).toContain("vCPU 1 woke by 'irq' (lines 1000), timer fired 1x");
    expect(out).toContain("results: [ 'timer', 'irq' ]");
  });

  it.each(['quickstart.js', 'vcpus.js', 'vcpu.js'])('the README shows %s verbatim', (name) => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8');
    expect(readme).toContain(example.trim());
  });
});
