import { rangeError, typeError, checkIrqLine } from '../internal/args.js';
import { ControlRecord, RECORD_WORDS } from './control.js';
import { MmioExitServer, mmioExitsBytes } from './mmio-exit.js';

/** The structured-clone-safe form of a pool's device side. */
export interface SharedDeviceChannel {
  /** Tags the descriptor for `DeviceThread.fromShared`. */
  readonly descriptor: 'guestmem.DeviceChannel';
  /** Number of the pool's vCPUs. */
  readonly vcpus: number;
  /** The MMIO exit mailboxes. */
  readonly mmio: SharedArrayBuffer;
  /** The pool's control block (interrupts, kicks). */
  readonly control: SharedArrayBuffer;
}

/**
 * DeviceThread: everything a device thread other than the pool's main thread (an I/O worker you
 * start) needs to serve a VcpuPool's MMIO exits and interrupt its vCPUs, rebuilt from the
 * descriptor `pool.deviceChannel()` returns (shared memory, no copy).
 * @example
 * // main: new Worker('./io.js', { workerData: pool.deviceChannel() })
 * // io.js:
 * const dev = DeviceThread.fromShared(workerData);
 * dev.server.serveBlocking(myBus, () => stopped);
 */
export class DeviceThread {
  /** Number of the pool's vCPUs. */
  readonly vcpus: number;
  /** Answers the vCPUs' MMIO exits. */
  readonly server: MmioExitServer;
  readonly #records: readonly ControlRecord[];

  private constructor(d: SharedDeviceChannel) {
    this.vcpus = d.vcpus;
    this.server = new MmioExitServer(d.mmio, d.vcpus);
    this.#records = Array.from({ length: d.vcpus }, (_, i) => new ControlRecord(d.control, i));
  }

  /** Rebuilds the device side from `pool.deviceChannel()`; throws TypeError for anything else. */
  static fromShared(d: SharedDeviceChannel): DeviceThread {
    const ok =
      typeof d === 'object' &&
      d !== null &&
      d.descriptor === 'guestmem.DeviceChannel' &&
      Number.isInteger(d.vcpus) &&
      d.vcpus >= 1 &&
      d.mmio instanceof SharedArrayBuffer &&
      d.mmio.byteLength === mmioExitsBytes(d.vcpus) &&
      d.control instanceof SharedArrayBuffer &&
      d.control.byteLength === d.vcpus * RECORD_WORDS * 4;
    if (!ok) throw typeError('shared', 'a descriptor from pool.deviceChannel()', d);
    return new DeviceThread(d);
  }

  #rec(id: number): ControlRecord {
    const r = this.#records[id];
    if (r === undefined || !Number.isInteger(id)) throw rangeError('vcpu', `a vCPU id below ${this.vcpus}`, id);
    return r;
  }

  /** Sets edge interrupt `line` pending on vCPU `id` and wakes it. */
  raiseIrq(id: number, line: number): void {
    this.#rec(id).raiseIrq(1 << checkIrqLine(line));
  }

  /** Drives level-triggered `line` of vCPU `id` high (waking it) or low. */
  setIrqLevel(id: number, line: number, high: boolean): void {
    this.#rec(id).setLevel(1 << checkIrqLine(line), high === true);
  }

  /** Wakes vCPU `id` from its wait ('kick'). */
  kick(id: number): void {
    this.#rec(id).kick();
  }
}
