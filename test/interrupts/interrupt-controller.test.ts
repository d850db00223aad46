// InterruptController on one thread (the source cycle, priorities, thresholds, enables, kicks,
// state as plain data, bad arguments), against a model under random operations, and across
// threads: targets in workers claiming what the main thread raises, none lost, none twice.
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { InterruptController, MAX_IRQ_SOURCES } from '../../src/index.js';

function controller(sources = 8, targets = 2): { irq: InterruptController; kicks: number[] } {
  const kicks: number[] = [];
  const irq = new InterruptController({ sources, targets }, { kick: (t) => kicks.push(t) });
  return { irq, kicks };
}

describe('InterruptController: one source', () => {
  it('a level source: raise, claim, complete while high (pending again), complete while low', () => {
    const { irq, kicks } = controller();
    irq.setPriority(3, 1);
    irq.setEnabled(0, 3, true);
    expect(irq.pending(0)).toBe(false);
    irq.setLevel(3, true);
    expect(kicks).toEqual([0]);
    expect([irq.pending(0), irq.pending(1), irq.isPending(3), irq.level(3)]).toEqual([true, false, true, true]);
    expect(irq.claim(1)).toBe(-1); // not enabled for target 1
    expect(irq.claim(0)).toBe(3);
    expect([irq.pending(0), irq.isPending(3), irq.isActive(3)]).toEqual([false, false, true]);
    irq.setLevel(3, true); // still high, already in service: no new request
    expect(kicks).toEqual([0]);
    expect(irq.complete(0, 3)).toBe(true);
    expect([irq.isPending(3), irq.isActive(3)]).toEqual([true, false]); // the line is still high
    expect(kicks).toEqual([0, 0]);
    expect(irq.claim(0)).toBe(3);
    irq.setLevel(3, false);
    expect(irq.complete(0, 3)).toBe(true);
    expect([irq.isPending(3), irq.isActive(3), irq.pending(0)]).toEqual([false, false, false]);
  });

  it('lowering the line withdraws a request nobody claimed', () => {
    const { irq } = controller();
    irq.setPriority(2, 1);
    irq.setEnabled(0, 2, true);
    irq.setLevel(2, true);
    irq.setLevel(2, false);
    expect(irq.pending(0)).toBe(false);
    expect(irq.claim(0)).toBe(-1);
  });

  it('an edge (trigger) stays pending until claimed, also while in service, and a low line does not withdraw it', () => {
    const { irq, kicks } = controller();
    irq.setPriority(5, 2);
    irq.setEnabled(1, 5, true);
    irq.trigger(5);
    irq.trigger(5); // already pending: one request
    expect(kicks).toEqual([1]);
    irq.setLevel(5, false);
    expect(irq.claim(1)).toBe(5);
    irq.trigger(5); // while active
    expect([irq.isPending(5), irq.isActive(5)]).toEqual([true, true]);
    expect(irq.complete(1, 5)).toBe(true);
    expect(irq.claim(1)).toBe(5);
    expect(irq.complete(1, 5)).toBe(true);
    expect(irq.pending(1)).toBe(false);
  });

  it('complete is ignored for a source not active or not enabled for the target', () => {
    const { irq } = controller();
    irq.setPriority(1, 1);
    irq.setEnabled(0, 1, true);
    expect(irq.complete(0, 1)).toBe(false);
    irq.setLevel(1, true);
    irq.claim(0);
    expect(irq.complete(1, 1)).toBe(false); // not enabled for target 1
    expect(irq.isActive(1)).toBe(true);
    expect(irq.complete(0, 1)).toBe(true);
  });
});

describe('InterruptController: priorities, thresholds and enables', () => {
  it('claims the highest priority above the threshold, the lowest id on a tie; priority 0 never', () => {
    const { irq } = controller(40, 1);
    for (const [s, p] of [
      [1, 2],
      [7, 5],
      [33, 5],
      [9, 0],
    ] as const) {
      irq.setPriority(s, p);
      irq.setEnabled(0, s, true);
      irq.setLevel(s, true);
    }
    expect(irq.claim(0)).toBe(7);
    expect(irq.claim(0)).toBe(33);
    irq.setThreshold(0, 2);
    expect(irq.pending(0)).toBe(false); // source 1 has priority 2, not above 2
    irq.setThreshold(0, 1);
    expect(irq.claim(0)).toBe(1);
    expect(irq.claim(0)).toBe(-1); // 9 has priority 0
    expect(irq.isPending(9)).toBe(true);
  });

  it('kicks every target a new request reaches, and a target when enabling, a lower threshold or a higher priority makes one reachable', () => {
    const { irq, kicks } = controller(4, 3);
    irq.setPriority(0, 1);
    irq.setEnabled(0, 0, true);
    irq.setEnabled(2, 0, true);
    irq.setThreshold(2, 1);
    irq.setLevel(0, true);
    expect(kicks).toEqual([0]); // target 2's threshold blocks it
    irq.setEnabled(1, 0, true);
    expect(kicks).toEqual([0, 1]);
    irq.setThreshold(2, 0);
    expect(kicks).toEqual([0, 1, 2]);
    irq.setThreshold(2, 3);
    irq.setPriority(0, 4);
    expect(kicks).toEqual([0, 1, 2, 0, 1, 2]);
    irq.setEnabled(0, 0, false);
    expect(irq.pending(0)).toBe(false);
    expect(irq.claim(2)).toBe(0);
    expect([irq.pending(1), irq.claim(1)]).toEqual([false, -1]); // target 2 took it
  });

  it('enable words read and write 32 sources at once; bits past the last source stay clear', () => {
    const { irq, kicks } = controller(40, 1);
    irq.setPriority(35, 1);
    irq.setLevel(35, true);
    irq.setEnabledWord(0, 1, -1);
    expect(irq.enabledWord(0, 1)).toBe(0xff);
    expect(kicks).toEqual([0]);
    expect(irq.isEnabled(0, 39)).toBe(true);
    expect(() => irq.enabledWord(0, 2)).toThrow(RangeError);
  });
});

describe('InterruptController: state, sharing and bad input', () => {
  it('gives its state as plain data and is rebuilt from it', () => {
    const { irq } = controller(6, 2);
    irq.setPriority(1, 3);
    irq.setPriority(4, 7);
    irq.setEnabled(0, 1, true);
    irq.setEnabled(1, 4, true);
    irq.setThreshold(1, 2);
    irq.setLevel(1, true);
    irq.setLevel(4, true);
    irq.claim(1);
    const st = structuredClone(irq.state());
    const again = InterruptController.fromState(st);
    expect(again.state()).toEqual(st);
    expect([again.isActive(4), again.pending(0), again.claim(0)]).toEqual([true, true, 1]);
    expect(again.complete(1, 4)).toBe(true);
    expect(again.isPending(4)).toBe(true);
  });

  it('share() gives the same controller in fromShared, over the same memory', () => {
    const { irq } = controller(3, 1);
    const kicks: number[] = [];
    const other = InterruptController.fromShared(structuredClone(irq.share()), { kick: (t) => kicks.push(t) });
    irq.setPriority(2, 1);
    other.setEnabled(0, 2, true);
    other.setLevel(2, true);
    expect(kicks).toEqual([0]);
    expect(irq.claim(0)).toBe(2);
    expect(other.isActive(2)).toBe(true);
  });

  it('refuses bad sizes, ids, priorities, descriptors and states with typed errors', () => {
    const { irq } = controller(4, 2);
    expect(() => new InterruptController({ sources: 0, targets: 1 })).toThrow(RangeError);
    expect(() => new InterruptController({ sources: MAX_IRQ_SOURCES + 1, targets: 1 })).toThrow(RangeError);
    expect(() => new InterruptController({ sources: 1, targets: 1.5 })).toThrow(RangeError);
    expect(() => new InterruptController({ sources: '4', targets: 1 } as never)).toThrow(TypeError);
    expect(() => new InterruptController({ sources: 4, targets: 1 }, { kick: 5 } as never)).toThrow(TypeError);
    expect(() => irq.setLevel(4, true)).toThrow(RangeError);
    expect(() => irq.setLevel(-1, true)).toThrow(RangeError);
    expect(() => irq.claim(2)).toThrow(RangeError);
    expect(() => irq.setPriority(0, 8)).toThrow(RangeError);
    expect(() => irq.setThreshold(0, -1)).toThrow(RangeError);
    expect(() => irq.complete(0, 9)).toThrow(RangeError);
    expect(() => InterruptController.fromShared({ ...irq.share(), buffer: new SharedArrayBuffer(8) })).toThrow(
      TypeError,
    );
    expect(() => InterruptController.fromShared({ ...irq.share(), buffer: null } as never)).toThrow(TypeError);
    expect(() => InterruptController.fromShared({ descriptor: 'x' } as never)).toThrow(TypeError);
    const st = irq.state();
    expect(() => InterruptController.fromState({ ...st, level: [true] })).toThrow(TypeError);
    expect(() => InterruptController.fromState({ ...st, priority: [9, 0, 0, 0] })).toThrow(RangeError);
    expect(() => InterruptController.fromState({ ...st, enabled: [[7], []] })).toThrow(RangeError);
  });
});

// The model: per source its line, pending, active, priority; per target its enables and threshold.
interface Model {
  level: boolean[];
  pending: boolean[];
  active: boolean[];
  prio: number[];
  en: boolean[][];
  th: number[];
}
function modelBest(m: Model, t: number): number {
  let best = -1;
  let bp = m.th[t]!;
  for (let s = 0; s < m.level.length; s++) {
    if (m.pending[s] && m.en[t]![s] && m.prio[s]! > bp) {
      best = s;
      bp = m.prio[s]!;
    }
  }
  return best;
}

describe('InterruptController against a model', () => {
  it('random operations give the model’s pending, claims and completions', () => {
    const S = 37;
    const T = 3;
    const op = fc.oneof(
      fc.record({ k: fc.constant('level' as const), s: fc.nat(S - 1), on: fc.boolean() }),
      fc.record({ k: fc.constant('trigger' as const), s: fc.nat(S - 1) }),
      fc.record({ k: fc.constant('claim' as const), t: fc.nat(T - 1) }),
      fc.record({ k: fc.constant('complete' as const), t: fc.nat(T - 1), s: fc.nat(S - 1) }),
      fc.record({ k: fc.constant('enable' as const), t: fc.nat(T - 1), s: fc.nat(S - 1), on: fc.boolean() }),
      fc.record({ k: fc.constant('prio' as const), s: fc.nat(S - 1), p: fc.nat(7) }),
      fc.record({ k: fc.constant('th' as const), t: fc.nat(T - 1), p: fc.nat(7) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const irq = new InterruptController({ sources: S, targets: T });
        const m: Model = {
          level: Array(S).fill(false),
          pending: Array(S).fill(false),
          active: Array(S).fill(false),
          prio: Array(S).fill(0),
          en: Array.from({ length: T }, () => Array(S).fill(false)),
          th: Array(T).fill(0),
        };
        for (const o of ops) {
          switch (o.k) {
            case 'level':
              irq.setLevel(o.s, o.on);
              if (o.on && !m.active[o.s]) m.pending[o.s] = true;
              if (!o.on && m.level[o.s]) m.pending[o.s] = false;
              m.level[o.s] = o.on;
              break;
            case 'trigger':
              irq.trigger(o.s);
              m.pending[o.s] = true;
              break;
            case 'claim': {
              const want = modelBest(m, o.t);
              expect(irq.claim(o.t)).toBe(want);
              if (want >= 0) {
                m.pending[want] = false;
                m.active[want] = true;
              }
              break;
            }
            case 'complete': {
              const ok = m.en[o.t]![o.s]! && m.active[o.s]!;
              expect(irq.complete(o.t, o.s)).toBe(ok);
              if (ok) {
                m.active[o.s] = false;
                if (m.level[o.s]) m.pending[o.s] = true;
              }
              break;
            }
            case 'enable':
              irq.setEnabled(o.t, o.s, o.on);
              m.en[o.t]![o.s] = o.on;
              break;
            case 'prio':
              irq.setPriority(o.s, o.p);
              m.prio[o.s] = o.p;
              break;
            case 'th':
              irq.setThreshold(o.t, o.p);
              m.th[o.t] = o.p;
              break;
          }
          for (let t = 0; t < T; t++) expect(irq.pending(t)).toBe(modelBest(m, t) >= 0);
        }
        const st = irq.state();
        expect(st.pending).toEqual(m.pending);
        expect(st.active).toEqual(m.active);
        expect(st.level).toEqual(m.level);
      }),
      { numRuns: 300 },
    );
  });
});

describe('InterruptController across threads', () => {
  const live = new Set<Worker>();
  afterEach(async () => {
    await Promise.all([...live].map((w) => w.terminate()));
    live.clear();
  });

  it('two targets in workers claim every request the main thread raises, each exactly once, none lost', async () => {
    const S = 64;
    const ROUNDS = 200;
    const doorbells = new SharedArrayBuffer(8);
    const bell = new Int32Array(doorbells);
    const ring = (t: number): void => {
      Atomics.add(bell, t, 1);
      Atomics.notify(bell, t);
    };
    const irq = new InterruptController({ sources: S, targets: 2 }, { kick: ring });
    for (let s = 0; s < S; s++) {
      irq.setPriority(s, 1 + (s % 7));
      irq.setEnabled(0, s, true);
      irq.setEnabled(1, s, true);
    }
    const counts = new SharedArrayBuffer(4 * S);
    const seen = new Int32Array(counts);
    const stop = new SharedArrayBuffer(4);
    const url = new URL('../fixtures/irq-worker.mjs', import.meta.url);
    const done = [0, 1].map((target) => {
      const w = new Worker(url, { workerData: { shared: irq.share(), target, counts, doorbells, stop } });
      live.add(w);
      return new Promise<{ claims: number }>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
      });
    });
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    for (let r = 1; r <= ROUNDS; r++) {
      for (let s = 0; s < S; s++) irq.setLevel(s, true);
      // every source claimed once, lowered and completed (each round within 20 s even when loaded)
      const until = performance.now() + 20_000;
      for (;;) {
        let all = true;
        for (let s = 0; s < S && all; s++) all = Atomics.load(seen, s) >= r && !irq.isActive(s) && !irq.level(s);
        if (all) break;
        if (performance.now() > until) throw new Error(`round ${r} did not finish: ${Array.from(seen).join(',')}`);
        await sleep(0);
      }
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    ring(0);
    ring(1);
    const [a, b] = await Promise.all(done);
    expect(Array.from(seen)).toEqual(Array(S).fill(ROUNDS)); // exactly once per round
    expect(a!.claims + b!.claims).toBe(S * ROUNDS);
    expect(irq.pending(0) || irq.pending(1)).toBe(false);
  }, 60_000);
});
