// Crash-freedom and differential fuzzing (fuzz-core.mjs), in a child process so a fatal signal
// (SIGSEGV, SIGBUS, SIGABRT) is observed, not suffered. npm test runs a short fixed-seed run;
// `npm run test:soak` runs the fuzzer for minutes.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const child = new URL('./fuzz-child.mjs', import.meta.url).pathname;

function fuzz(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, [child, ...args], {
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

function summary(out: string): {
  sequences: number;
  calls: number;
  compared: number;
  outcomes: Record<string, number>;
  failure: unknown;
} {
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('API fuzzer', () => {
  it('fixed seed: every call returns or throws a typed error, the model agrees, no signal', () => {
    const r = fuzz(['--seed', '20261126', '--sequences', '400']);
    expect(r.signal, r.out.slice(-4000)).toBeNull();
    expect(r.status, r.out.slice(-4000)).toBe(0);
    const s = summary(r.out);
    expect(s.failure).toBeNull();
    expect(s.sequences).toBe(400);
    expect(s.compared).toBeGreaterThan(3000);
    // forged types, wrapped fds and forged descriptors were refused, damaged snapshots rejected
    expect((s as unknown as { snapshots: number }).snapshots).toBe(50);
    // the run reached the interesting outcomes, not just argument errors
    for (const kind of [
      'ok',
      'InvalidGuestAddress',
      'PartialBuffer',
      'Misaligned',
      'AccessDenied',
      'InvalidBackendAddress',
      'OutOfBounds',
      'IOError',
      'ERR_INVALID_ARG_TYPE',
      'ERR_OUT_OF_RANGE',
    ]) {
      expect(s.outcomes[kind] ?? 0, kind).toBeGreaterThan(0);
    }
    // hostile virtqueues: chains handed out and every kind of refusal, all as the model said
    const vq = (s as unknown as { virtqueue: { sequences: number; calls: number; outcomes: Record<string, number> } })
      .virtqueue;
    expect(vq.calls).toBeGreaterThan(5000);
    for (const kind of [
      'chain',
      'ERR_VIRTIO_CHAIN',
      'ERR_VIRTIO_ADDRESS',
      'ERR_VIRTIO_RING',
      'ERR_VIRTIO_QUEUE',
      'RangeError',
      'TypeError',
    ]) {
      expect(vq.outcomes[kind] ?? 0, kind).toBeGreaterThan(0);
    }
    // hostile drivers of virtio-blk and virtio-rng: requests completed with every status as the
    // model said, and devices driven into DEVICE_NEEDS_RESET
    const dev = (
      s as unknown as {
        devices: { sequences: number; completed: number; status: Record<string, number>; needsReset: number };
      }
    ).devices;
    expect(dev.sequences).toBe(400);
    expect(dev.completed).toBeGreaterThan(300);
    expect(dev.needsReset).toBeGreaterThan(50);
    for (const status of ['0', '1', '2']) expect(dev.status[status] ?? 0, `status ${status}`).toBeGreaterThan(0);
  }, 240_000);

  it('a failing sequence is printed with a command that replays it exactly', () => {
    const env = { GUESTMEM_FUZZ_SELFTEST: '1' };
    const r = fuzz(['--seed', '5', '--sequences', '50'], env);
    expect(r.status).toBe(1);
    const failed = /FAILED sequence (\d+) of seed 5 at call (\d+): (.*)/.exec(r.out);
    expect(failed).not.toBeNull();
    const replay = /replay: node \S+ (.*)/.exec(r.out)![1]!.split(' ');
    const again = fuzz(replay, env);
    expect(again.status).toBe(1);
    expect(again.out).toContain(`FAILED sequence ${failed![1]} of seed 5 at call ${failed![2]}: ${failed![3]}`);
    expect(again.out).toContain('calls (in order):');
  }, 240_000);
});
