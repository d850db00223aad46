// The control-block protocol on one thread, without workers: every request sets its state
// before it rings, the doorbell moves for every request, attention only for checkpoint work,
// and VcpuContext reports each wake reason exactly as documented.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ControlRecord, createControl, resetControl, RunState } from '../../src/runtime/control.js';
import { checkRuntime, type SharedRuntime } from '../../src/runtime/protocol.js';
import { VcpuContext, WAKE_REASONS } from '../../src/runtime/vcpu-context.js';
import { createMmioExits, GuestMemoryMmap, monotonicNow } from '../../src/index.js';

function runtime(vcpus: number): SharedRuntime {
  return {
    vcpus,
    control: createControl(vcpus),
    stateBlocks: Array.from({ length: vcpus }, () => new SharedArrayBuffer(64)),
    mmio: createMmioExits(vcpus),
  };
}

function context(rt: SharedRuntime, id: number): { ctx: VcpuContext; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const ctx = new VcpuContext({
    id,
    arg: undefined,
    memory: GuestMemoryMmap.fromRanges([[0, 4096]]),
    atomic: null,
    runtime: rt,
    rpc: port2,
  });
  return {
    ctx,
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

describe('ControlRecord', () => {
  it('each request moves the doorbell; stop, pause and RPC also move attention', () => {
    const r = new ControlRecord(createControl(2), 1);
    const snap = (): [number, number] => [r.doorbell(), r.attention()];
    let [d, a] = snap();
    r.kick();
    expect(snap()).toEqual([d + 1, a]);
    expect(r.kicks()).toBe(1);
    [d, a] = snap();
    r.raiseIrq(0b101);
    expect(snap()).toEqual([d + 1, a]);
    expect(r.pendingIrqs()).toBe(0b101);
    expect(r.takeIrqs()).toBe(0b101);
    expect(r.pendingIrqs()).toBe(0);
    [d, a] = snap();
    r.requestPause(true);
    expect(snap()).toEqual([d + 1, a + 1]);
    expect(r.pauseRequested()).toBe(true);
    r.requestPause(false);
    expect(r.pauseRequested()).toBe(false);
    [d, a] = snap();
    r.countRpcSent();
    expect(snap()).toEqual([d + 1, a + 1]);
    expect(r.rpcPending()).toBe(true);
    r.countRpcDone();
    expect(r.rpcPending()).toBe(false);
    [d, a] = snap();
    r.requestStop();
    expect(snap()).toEqual([d + 1, a + 1]);
    expect(r.stopRequested()).toBe(true);
  });

  it('level lines are raised (ringing) and lowered (silently), and read back', () => {
    const r = new ControlRecord(createControl(1), 0);
    const d = r.doorbell();
    r.setLevel(1 << 31, true);
    r.setLevel(1 << 3, true);
    expect(r.levels()).toBe((2 ** 31 + 8) >>> 0);
    expect(r.doorbell()).toBe(d + 2);
    r.setLevel(1 << 31, false);
    expect(r.levels()).toBe(8);
    expect(r.doorbell()).toBe(d + 2);
  });

  it('run state: each transition method moves the state as the table in control.ts says, and the racing ones only from their source states', () => {
    const { IDLE, STARTING, RUNNING, PARKED, DONE, FAILED, RESUMING } = RunState;
    // the compare-exchange moves: [method, the states it moves from, the state it moves to]
    const moves: [string, number[], number][] = [
      ['park', [RUNNING], PARKED],
      ['unpark', [RESUMING, PARKED], RUNNING],
      ['unparkResumed', [RESUMING], RUNNING],
      ['resumeParked', [PARKED], RESUMING],
      ['reparkResuming', [RESUMING], PARKED],
    ];
    /** A fresh record brought to state `s` by the transitions themselves. */
    const reach = (s: number): ControlRecord => {
      const r = new ControlRecord(createControl(1), 0);
      expect(r.state()).toBe(IDLE);
      if (s === IDLE) return r;
      r.starting();
      if (s === STARTING) return r;
      r.running();
      if (s === DONE) r.done();
      else if (s === FAILED) r.failed();
      else if (s !== RUNNING) {
        expect(r.park()).toBe(true);
        if (s === RESUMING) expect(r.resumeParked()).toBe(true);
      }
      return r;
    };
    for (const [method, from, to] of moves)
      for (const s of [IDLE, STARTING, RUNNING, PARKED, DONE, FAILED, RESUMING]) {
        const r = reach(s);
        expect(r.state()).toBe(s);
        const moved = (r as unknown as Record<string, () => boolean>)[method]!.call(r);
        expect(moved, `${method} from ${s}`).toBe(from.includes(s));
        expect(r.state()).toBe(from.includes(s) ? to : s);
      }
    // the stores: threadDied marks a vCPU whose thread is gone, from any state
    const r = reach(PARKED);
    r.threadDied();
    expect(r.state()).toBe(FAILED);
  });

  it('records are 64 bytes apart; resetControl zeroes all of them; a missing record is refused', () => {
    const buf = createControl(3);
    expect(buf.byteLength).toBe(3 * 64);
    const a = new ControlRecord(buf, 0);
    const c = new ControlRecord(buf, 2);
    c.done();
    a.kick();
    expect(a.state()).toBe(RunState.IDLE);
    expect(c.kicks()).toBe(0);
    resetControl(buf);
    expect(c.state()).toBe(RunState.IDLE);
    expect(() => new ControlRecord(buf, 3)).toThrow(RangeError);
  });
});

describe('the shared runtime descriptor', () => {
  it('is checked in one place', () => {
    const rt = runtime(2);
    expect(checkRuntime(rt, 1)).toBe(rt);
    expect(() => checkRuntime({ ...rt, vcpus: 3 }, 0)).toThrow(/runtime.control/);
    expect(() => checkRuntime({ ...rt, stateBlocks: [] }, 0)).toThrow(/stateBlocks/);
    expect(() => checkRuntime(rt, 2)).toThrow(RangeError);
    expect(() => checkRuntime(null, 0)).toThrow(TypeError);
  });
});

describe('VcpuContext on one thread', () => {
  it('reports stop before irq before attention before kick, and a kick once', () => {
    const rt = runtime(2);
    const { ctx, close } = context(rt, 0);
    const r = new ControlRecord(rt.control, 0);
    expect(ctx.waitForInterrupt(0)).toBe('timeout');
    r.kick();
    expect(ctx.waitForInterrupt(0)).toBe('kick');
    expect(ctx.waitForInterrupt(0)).toBe('timeout');
    r.kick();
    r.raiseIrq(2);
    expect(ctx.waitForInterrupt(0)).toBe('irq');
    expect(ctx.takeInterrupts()).toBe(2);
    expect(ctx.waitForInterrupt(0)).toBe('kick');
    r.requestPause(true);
    expect(ctx.waitForInterrupt(0)).toBe('attention');
    r.requestStop();
    expect(ctx.waitForInterrupt(0)).toBe('stop');
    expect(ctx.shouldStop()).toBe(true);
    expect(WAKE_REASONS).toEqual(['stop', 'irq', 'attention', 'kick', 'timeout', 'timer']);
    close();
  });

  it('a high level line wakes it until lowered; peers are reached by id', () => {
    const rt = runtime(3);
    const a = context(rt, 0);
    const b = context(rt, 2);
    a.ctx.setIrqLevel(2, 7, true);
    expect(b.ctx.irqLevels()).toBe(1 << 7);
    expect(b.ctx.waitForInterrupt(0)).toBe('irq');
    expect(b.ctx.waitForInterrupt(0)).toBe('irq'); // level: still high
    a.ctx.setIrqLevel(2, 7, false);
    expect(b.ctx.waitForInterrupt(0)).toBe('timeout');
    a.ctx.raiseIrq(2, 31);
    expect(b.ctx.takeInterrupts()).toBe(2 ** 31);
    a.ctx.kick(2);
    expect(b.ctx.waitForInterrupt(0)).toBe('kick');
    expect(() => a.ctx.kick(3)).toThrow(RangeError);
    expect(() => a.ctx.raiseIrq(0, 32)).toThrow(RangeError);
    expect(() => a.ctx.kick('1' as never)).toThrow(TypeError);
    expect(b.ctx.stateBlock).toBe(rt.stateBlocks[2]);
    a.close();
    b.close();
  });

  it('a fractional timeout is honoured on the monotonic clock', () => {
    const { ctx, close } = context(runtime(1), 0);
    const t0 = performance.now();
    expect(ctx.waitForInterrupt(0.5)).toBe('timeout');
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(0.5);
    close();
  });

  it('waitUntil wakes at a monotonic deadline ("timer"), or earlier for a kick', () => {
    const rt = runtime(1);
    const { ctx, close } = context(rt, 0);
    const deadline = monotonicNow() + 0.3;
    expect(ctx.waitUntil(deadline)).toBe('timer');
    expect(monotonicNow()).toBeGreaterThanOrEqual(deadline);
    expect(ctx.waitUntil(-Infinity)).toBe('timer');
    new ControlRecord(rt.control, 0).kick();
    expect(ctx.waitUntil(monotonicNow() + 10_000)).toBe('kick');
    expect(() => ctx.waitUntil(Number.NaN)).toThrow(TypeError);
    close();
  });

  it('expose() twice is a coded VcpuPoolError', () => {
    const { ctx, close } = context(runtime(1), 0);
    ctx.expose({});
    expect(() => ctx.expose({})).toThrow(expect.objectContaining({ code: 'ERR_VCPU_EXPOSED' }));
    close();
  });
});
