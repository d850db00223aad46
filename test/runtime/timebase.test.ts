// GuestTimebase: a guest counter on the runtime clock, compare values as waitUntil deadlines,
// "never" compare values, and a state that carries the counter on across a save and restore.
import { describe, expect, it } from 'vitest';
import { GuestTimebase, monotonicNow } from '../../src/index.js';

describe('GuestTimebase', () => {
  it('counts from 0 at its epoch and turns compare values into monotonicNow() deadlines', () => {
    const epoch = monotonicNow();
    const tb = new GuestTimebase({ frequency: 10_000_000, epoch });
    expect(tb.ticks(epoch)).toBe(0);
    expect(tb.ticks(epoch - 5)).toBe(0);
    expect(tb.ticks(epoch + 1.5)).toBe(15_000);
    expect(tb.deadline(15_000)).toBeCloseTo(epoch + 1.5, 9);
    expect(tb.deadline(15_000n)).toBeCloseTo(epoch + 1.5, 9);
    expect(tb.deadline(0)).toBe(epoch);
    // a deadline and the counter agree: at the deadline the counter has reached the compare value
    for (const c of [1, 999, 123_456_789]) expect(tb.ticks(tb.deadline(c) + 1e-6)).toBeGreaterThanOrEqual(c);
    const a = tb.ticks();
    const b = tb.ticks();
    expect(b).toBeGreaterThanOrEqual(a);
  });

  it('compare values at or past 2^53 (2^64-1: never) are an Infinity deadline; bad ones are RangeErrors', () => {
    const tb = new GuestTimebase({ frequency: 1e6 });
    expect(tb.deadline(2n ** 64n - 1n)).toBe(Infinity);
    expect(tb.deadline(2 ** 53)).toBe(Infinity);
    expect(tb.deadline(2n ** 53n - 1n)).toBeLessThan(Infinity);
    for (const bad of [-1, NaN, -1n, '5']) expect(() => tb.deadline(bad as never)).toThrow(RangeError);
    for (const f of [0, -1, Infinity, NaN, 1e13]) expect(() => new GuestTimebase({ frequency: f })).toThrow(RangeError);
  });

  it('state carries the counter on: a timebase rebuilt from it reads on from there', () => {
    const tb = new GuestTimebase({ frequency: 1000, epoch: monotonicNow() - 5000 }); // 5 s in: ~5000 ticks
    const saved = structuredClone(tb.state);
    expect(saved.ticks).toBeGreaterThanOrEqual(5000);
    const again = new GuestTimebase({ frequency: 1 }, saved);
    expect(again.frequency).toBe(1000);
    expect(again.ticks()).toBeGreaterThanOrEqual(saved.ticks);
    expect(again.ticks()).toBeLessThan(saved.ticks + 60_000); // not restarted from 0, not jumped ahead
    expect(() => new GuestTimebase({ frequency: 1000 }, { frequency: 1000, ticks: -1 })).toThrow(RangeError);
  });
});
