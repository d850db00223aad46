import { checkIrqLine, rangeError, typeError } from '../internal/args.js';
import { ControlRecord } from './control.js';

/**
 * VcpuSignals: what any thread may do to a vCPU of a pool without stopping it: kick it, raise
 * an edge interrupt line, drive a level line, read its levels. The one implementation behind
 * `pool.kick`/`raiseIrq`/`setIrqLevel`/`irqLevels`, a vCPU's `ctx.kick`/`raiseIrq`/
 * `setIrqLevel` (to its peers) and DeviceThread's, over the pool's shared control block; each
 * call is one or two atomic operations and a futex wake-up, and checks the vCPU id and line.
 * @example const signals = new VcpuSignals(channel.runtime.control, channel.runtime.vcpus);
 * signals.raiseIrq(0, 5);
 */
export class VcpuSignals {
  /** Number of vCPUs. */
  readonly vcpus: number;
  readonly #records: readonly ControlRecord[];
  /** The argument name errors give for a bad vCPU id ('id', or 'peer' inside a vCPU). */
  readonly #name: string;

  /** @internal Over `control` (a pool's control block of `vcpus` records). */
  constructor(control: SharedArrayBuffer, vcpus: number, name = 'id') {
    this.vcpus = vcpus;
    this.#records = Array.from({ length: vcpus }, (_, i) => new ControlRecord(control, i));
    this.#name = name;
  }

  /** @internal vCPU `id`'s control record, or the RangeError/TypeError for a bad id. */
  record(id: unknown): ControlRecord {
    if (typeof id !== 'number') throw typeError(this.#name, 'a number', id);
    const r = this.#records[id];
    if (r === undefined || !Number.isInteger(id))
      throw rangeError(this.#name, `a vCPU id from 0 to ${this.vcpus - 1}`, id);
    return r;
  }

  /** Rings vCPU `id`'s doorbell: wakes it from `waitForInterrupt` ('kick'). */
  kick(id: number): void {
    this.record(id).kick();
  }

  /** Sets edge interrupt `line` (0-31) pending on vCPU `id` and wakes it ('irq'). */
  raiseIrq(id: number, line: number): void {
    const r = this.record(id);
    r.raiseIrq(1 << checkIrqLine(line));
  }

  /** Drives level-triggered `line` (0-31) of vCPU `id` high (waking it: 'irq') or low. */
  setIrqLevel(id: number, line: number, high: boolean): void {
    const r = this.record(id);
    r.setLevel(1 << checkIrqLine(line), high === true);
  }

  /** The level-triggered lines of vCPU `id` that are high (bit n = line n). */
  irqLevels(id: number): number {
    return this.record(id).levels();
  }
}
