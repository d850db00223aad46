// The short soak (soak.mjs) for npm test: a few seconds of 2 x cores vCPUs with pause/resume,
// hot-plug, kicks, interrupts, RPCs and dirty scans at random. `npm run test:soak` runs it for
// minutes.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const soak = new URL('./soak.mjs', import.meta.url).pathname;

describe('soak (short)', () => {
  it('counters exact, areas intact, no vCPU failed, every kind of event happened', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', soak, '--seconds', '8', '--seed', '99'], {
      encoding: 'utf8',
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(s.failures).toEqual([]);
    expect(s.counter).toBe(s.increments % 2 ** 32);
    expect(s.increments).toBeGreaterThan(0);
    expect(s.liveMappingsAfter).toBeLessThanOrEqual(3); // every removed region was unmapped
    for (const k of ['pauses', 'hotplugs', 'kicks', 'irqs', 'remotes', 'dirtyScans', 'hotWrites']) {
      expect(s[k], k).toBeGreaterThan(0);
    }
  }, 120_000);
});
