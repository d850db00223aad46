import { typeError } from '../internal/args.js';
import type { GuestMemoryAtomic } from '../guest-memory-atomic.js';
import type { GuestMemoryMmap } from '../guest-memory.js';
import { MmioExitServer } from './mmio-exit.js';
import { checkRuntime, openMemory, type SharedMemoryDescriptor, type SharedRuntime } from './protocol.js';
import { VcpuSignals } from './vcpu-signals.js';

/** The structured-clone-safe form of a pool's device side (`pool.deviceChannel()`). */
export interface SharedDeviceChannel {
  /** Tags the descriptor for `DeviceThread.fromShared`. */
  readonly descriptor: 'guestmem.DeviceChannel';
  /** The pool's runtime: its vCPU count, control block, state blocks and MMIO exit mailboxes. */
  readonly runtime: SharedRuntime;
  /** The pool's guest memory (`share()` of its GuestMemoryMmap or GuestMemoryAtomic), for DMA. */
  readonly memory: SharedMemoryDescriptor;
}

/**
 * DeviceThread: everything a device thread other than the pool's main thread (an I/O worker you
 * start) needs to serve a VcpuPool's MMIO exits, reach guest memory (virtqueues, DMA) and
 * interrupt its vCPUs, rebuilt from the descriptor `pool.deviceChannel()` returns (shared
 * memory, no copy). The descriptor is checked as the vCPU threads check theirs.
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
  /** Kicks and interrupt lines of the pool's vCPUs (the same calls as `pool.signals`). */
  readonly signals: VcpuSignals;
  /** The pool's guest memory; with a GuestMemoryAtomic, its map as of `fromShared`. */
  readonly memory: GuestMemoryMmap;
  /** The pool's GuestMemoryAtomic when it was given one (hot-plug), else null; released by `close()`. */
  readonly atomic: GuestMemoryAtomic | null;

  private constructor(runtime: SharedRuntime, memory: SharedMemoryDescriptor) {
    this.vcpus = runtime.vcpus;
    this.server = new MmioExitServer(runtime.mmio, runtime.vcpus);
    this.signals = new VcpuSignals(runtime.control, runtime.vcpus);
    const opened = openMemory(memory);
    this.memory = opened.memory;
    this.atomic = opened.atomic;
  }

  /** Rebuilds the device side from `pool.deviceChannel()`; throws TypeError/RangeError for anything else. */
  static fromShared(d: SharedDeviceChannel): DeviceThread {
    if (typeof d !== 'object' || d === null || d.descriptor !== 'guestmem.DeviceChannel')
      throw typeError('shared', 'a descriptor from pool.deviceChannel()', d);
    return new DeviceThread(checkRuntime(d.runtime), d.memory);
  }

  /** Sets edge interrupt `line` pending on vCPU `id` and wakes it. Short for `signals.raiseIrq`. */
  raiseIrq(id: number, line: number): void {
    this.signals.raiseIrq(id, line);
  }

  /** Drives level-triggered `line` of vCPU `id` high (waking it) or low. Short for `signals.setIrqLevel`. */
  setIrqLevel(id: number, line: number, high: boolean): void {
    this.signals.setIrqLevel(id, line, high);
  }

  /** Wakes vCPU `id` from its wait ('kick'). Short for `signals.kick`. */
  kick(id: number): void {
    this.signals.kick(id);
  }

  /** Releases the GuestMemoryAtomic handle, if any (the memory stays mapped while others use it). */
  close(): void {
    this.atomic?.close();
  }
}
