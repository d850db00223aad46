// VcpuSignals, on one thread: the one implementation of kicks and interrupt lines behind the
// pool, a vCPU's context and DeviceThread. Each call is checked against what the vCPU's control
// record then shows, and bad ids and lines are typed errors that change nothing.
import { describe, expect, it } from 'vitest';
import { ControlRecord, createControl } from '../../src/runtime/control.js';
import { VcpuSignals } from '../../src/index.js';

describe('VcpuSignals', () => {
  it('kicks, raises edge lines and drives level lines of the vCPU named, and only that one', () => {
    const control = createControl(3);
    const s = new VcpuSignals(control, 3);
    const recs = [0, 1, 2].map((i) => new ControlRecord(control, i));
    const bells = recs.map((r) => r.doorbell());
    s.kick(1);
    expect(recs.map((r) => r.kicks())).toEqual([0, 1, 0]);
    s.raiseIrq(2, 5);
    s.raiseIrq(2, 31);
    expect(recs[2]!.pendingIrqs() >>> 0).toBe(((1 << 5) | (1 << 31)) >>> 0);
    expect(recs[0]!.pendingIrqs()).toBe(0);
    s.setIrqLevel(0, 3, true);
    expect(s.irqLevels(0)).toBe(1 << 3);
    s.setIrqLevel(0, 3, false);
    expect(s.irqLevels(0)).toBe(0);
    // every signal rang its target's doorbell (what a sleeping vCPU waits on)
    expect(recs.map((r, i) => r.doorbell() !== bells[i])).toEqual([true, true, true]);
  });

  it('refuses bad ids and lines with typed errors, naming the argument, and changes nothing', () => {
    const control = createControl(2);
    const s = new VcpuSignals(control, 2);
    const peer = new VcpuSignals(control, 2, 'peer');
    for (const id of [2, -1, 0.5, NaN]) {
      expect(() => s.kick(id)).toThrow(RangeError);
      expect(() => peer.raiseIrq(id, 0)).toThrow(/peer/);
    }
    expect(() => s.kick('0' as never)).toThrow(TypeError);
    for (const line of [32, -1, 1.5]) expect(() => s.raiseIrq(0, line)).toThrow(RangeError);
    expect(() => s.setIrqLevel(1, 40, true)).toThrow(RangeError);
    const recs = [0, 1].map((i) => new ControlRecord(control, i));
    expect(recs.map((r) => [r.kicks(), r.pendingIrqs(), r.levels()])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });
});
