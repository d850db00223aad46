import { GuestMemoryError } from '../errors.js';
import type { GuestMemoryMmap } from '../guest-memory.js';
import { rangeError, typeError } from '../internal/args.js';
import type { MmioDevice } from '../devices/device-bus.js';
import { SplitQueue, type DescriptorChain, type SplitQueueState } from './split-queue.js';
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  type VirtioContext,
  type VirtioDevice,
} from './virtio-device.js';
import { VirtioError } from './virtio-error.js';

/** "virt" in little-endian ASCII: the MagicValue register. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** Bytes a virtio-mmio window takes on the bus (registers, then configuration space from 0x100). */
export const VIRTIO_MMIO_SIZE = 0x200;
/** InterruptStatus bit: the device used buffers in a queue. */
export const VIRTIO_MMIO_INT_VRING = 1;
/** InterruptStatus bit: the configuration changed (or the device needs a reset). */
export const VIRTIO_MMIO_INT_CONFIG = 2;

/** How a transport reaches the machine. */
export interface VirtioMmioOptions {
  /** Guest memory (rings and buffers). */
  readonly mem: GuestMemoryMmap;
  /** Drives the device's interrupt line: high while InterruptStatus is not 0 (level-triggered). */
  readonly interrupt: (level: boolean) => void;
  /** Runs a continuation later (default `setImmediate`): a notify never serves more than one queue size at once. */
  readonly defer?: (fn: () => void) => void;
  /** The VendorID register (default 0x554d4551, "QEMU", which Linux and xv6 accept). */
  readonly vendorId?: number;
}

/** One queue's registers and ring positions, as plain data. */
export interface VirtioMmioQueueState {
  /** QueueNum as the driver wrote it. */
  readonly size: number;
  /** QueueReady. */
  readonly ready: boolean;
  /** QueueDesc, QueueDriver, QueueDevice: [low, high] register halves. */
  readonly desc: readonly [number, number];
  /** QueueDriver (the available ring): [low, high]. */
  readonly driver: readonly [number, number];
  /** QueueDevice (the used ring): [low, high]. */
  readonly device: readonly [number, number];
  /** Where a ready queue stands in its rings (after DRIVER_OK). */
  readonly ring?: SplitQueueState;
}

/** A virtio-mmio transport's registers as plain (structured-clone) data. */
export interface VirtioMmioState {
  /** The Status register (DEVICE_NEEDS_RESET included). */
  readonly status: number;
  /** DeviceFeaturesSel. */
  readonly deviceFeaturesSel: number;
  /** DriverFeaturesSel. */
  readonly driverFeaturesSel: number;
  /** DriverFeatures, banks 0 and 1. */
  readonly driverFeatures: readonly [number, number];
  /** QueueSel. */
  readonly queueSel: number;
  /** InterruptStatus (the line is high while it is not 0). */
  readonly interruptStatus: number;
  /** ConfigGeneration. */
  readonly configGeneration: number;
  /** Every queue the device has, by index. */
  readonly queues: readonly VirtioMmioQueueState[];
}

interface QueueRegs {
  max: number;
  size: number;
  ready: boolean;
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
  ring: SplitQueue | null;
  /** A continuation of this queue's notify is scheduled. */
  deferred: boolean;
}

const u32 = (v: number): number => v >>> 0;
const addr = ([lo, hi]: readonly [number, number]): number => lo + hi * 2 ** 32;

/**
 * The virtio-mmio transport, version 2 (virtio 1.x, "Virtio Over MMIO"): the register window of
 * any VirtioDevice, as an MmioDevice for a DeviceBus (`bus.register(base, VIRTIO_MMIO_SIZE,
 * transport)` or behind an MMIO exit). It negotiates features (offered ones only; it always
 * offers VIRTIO_F_VERSION_1),
 * sets up split queues, activates the device at DRIVER_OK and resets it at status 0.
 *
 * The driver is hostile input. Registers are 32-bit (other widths read 0 and are ignored); a
 * queue's size must be a power of two no larger than its QueueNumMax and its rings valid when
 * QueueReady is written, or it stays not ready; queues are fixed once DRIVER_OK is set; writes
 * to queues the device does not have are ignored. A driver that breaks the rules afterwards
 * (a bad ring, a bad chain, a malformed request) puts the device in DEVICE_NEEDS_RESET with a
 * configuration interrupt; nothing it does throws on the bus. One notify serves at most one
 * queue size of chains, the rest in later turns of the event loop.
 */
export class VirtioMmioTransport implements MmioDevice {
  /** The device behind the window. */
  readonly device: VirtioDevice;
  readonly #mem: GuestMemoryMmap;
  readonly #interrupt: (level: boolean) => void;
  readonly #defer: (fn: () => void) => void;
  readonly #vendor: number;
  readonly #offered: bigint;
  #status = 0;
  #devSel = 0;
  #drvSel = 0;
  #drvFeatures: [number, number] = [0, 0];
  #queueSel = 0;
  #isr = 0;
  #generation = 0;
  #level = false;
  /** Bumped by reset: a continuation from before a reset does nothing. */
  #epoch = 0;
  #queues: QueueRegs[];
  /** Why the device needs a reset (the last driver error), for diagnostics. */
  #error: string | null = null;

  /**
   * With `state` (what {@link VirtioMmioTransport.state} gave), the transport resumes there: a
   * device that was live is activated again over its queues at their saved ring positions.
   */
  constructor(device: VirtioDevice, options: VirtioMmioOptions, state?: VirtioMmioState) {
    if (device === null || typeof device !== 'object') throw typeError('device', 'a VirtioDevice', device);
    if (options === null || typeof options !== 'object')
      throw typeError('options', 'a VirtioMmioOptions object', options);
    if (typeof options.interrupt !== 'function') throw typeError('options.interrupt', 'a function', options.interrupt);
    this.device = device;
    this.#mem = options.mem;
    this.#interrupt = options.interrupt;
    this.#defer = options.defer ?? ((fn) => void setImmediate(fn));
    this.#vendor = u32(options.vendorId ?? 0x554d4551);
    this.#offered = BigInt.asUintN(64, device.features) | (1n << BigInt(VIRTIO_F_VERSION_1));
    this.#queues = device.queueMaxSizes.map((max) => {
      if (!Number.isInteger(max) || max < 1 || max > 32768 || (max & (max - 1)) !== 0)
        throw rangeError('device.queueMaxSizes', 'powers of two from 1 to 32768', max);
      return queueRegs(max);
    });
    if (state !== undefined) this.#restore(state);
  }

  /** The features the driver accepted (what it wrote to DriverFeatures). */
  get driverFeatures(): bigint {
    return BigInt(this.#drvFeatures[0]) | (BigInt(this.#drvFeatures[1]) << 32n);
  }

  /** The Status register. */
  get status(): number {
    return this.#status;
  }

  /** Why the device is in DEVICE_NEEDS_RESET, or null. */
  get error(): string | null {
    return this.#error;
  }

  read(offset: number, size: number): number {
    if (offset >= 0x100) return u32(this.device.readConfig(offset - 0x100, size));
    if (size !== 4) return 0;
    const q = this.#queues[this.#queueSel];
    switch (offset) {
      case 0x000:
        return VIRTIO_MMIO_MAGIC;
      case 0x004:
        return 2;
      case 0x008:
        return this.device.deviceType;
      case 0x00c:
        return this.#vendor;
      case 0x010:
        return this.#devSel > 1 ? 0 : Number(BigInt.asUintN(32, this.#offered >> BigInt(32 * this.#devSel)));
      case 0x034:
        return q?.max ?? 0;
      case 0x044:
        return q?.ready ? 1 : 0;
      case 0x060:
        return this.#isr;
      case 0x070:
        return this.#status;
      case 0x0b0:
      case 0x0b4:
        return 0xffffffff; // SHMLen: no shared memory regions
      case 0x0fc:
        return this.#generation;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= 0x100) {
      this.device.writeConfig(offset - 0x100, size, value);
      return;
    }
    if (size !== 4) return;
    const v = u32(value);
    const q = this.#queues[this.#queueSel];
    // queue registers may change only before DRIVER_OK, and a ready queue's not at all
    const setup = (this.#status & VIRTIO_STATUS_DRIVER_OK) === 0 && q !== undefined;
    switch (offset) {
      case 0x014:
        this.#devSel = v;
        break;
      case 0x020:
        if (this.#drvSel < 2 && (this.#status & VIRTIO_STATUS_FEATURES_OK) === 0) this.#drvFeatures[this.#drvSel] = v;
        break;
      case 0x024:
        this.#drvSel = v;
        break;
      case 0x030:
        this.#queueSel = v;
        break;
      case 0x038:
        if (setup && !q.ready) q.size = v;
        break;
      case 0x044:
        if (setup) this.#setReady(q, (v & 1) === 1);
        break;
      case 0x050:
        this.#notify(v & 0xffff);
        break;
      case 0x064:
        this.#isr &= ~v;
        this.#update();
        break;
      case 0x070:
        this.#writeStatus(v);
        break;
      case 0x080:
      case 0x084:
      case 0x090:
      case 0x094:
      case 0x0a0:
      case 0x0a4:
        if (setup && !q.ready) {
          const pair = offset < 0x090 ? q.desc : offset < 0x0a0 ? q.driver : q.device;
          pair[(offset >> 2) & 1] = v;
        }
        break;
      default:
        // QueueReset, SHMSel and the rest: features not offered, or read-only registers
        break;
    }
  }

  /** The transport's registers and ring positions as plain data (the device's own state is the device's). */
  get state(): VirtioMmioState {
    return {
      status: this.#status,
      deviceFeaturesSel: this.#devSel,
      driverFeaturesSel: this.#drvSel,
      driverFeatures: [this.#drvFeatures[0], this.#drvFeatures[1]],
      queueSel: this.#queueSel,
      interruptStatus: this.#isr,
      configGeneration: this.#generation,
      queues: this.#queues.map((q) => ({
        size: q.size,
        ready: q.ready,
        desc: [q.desc[0], q.desc[1]],
        driver: [q.driver[0], q.driver[1]],
        device: [q.device[0], q.device[1]],
        ...(q.ring ? { ring: q.ring.state } : {}),
      })),
    };
  }

  /** Raises a configuration-change interrupt with a new ConfigGeneration (a device's config changed). */
  configChanged(): void {
    this.#generation = (this.#generation + 1) >>> 0;
    this.#isr |= VIRTIO_MMIO_INT_CONFIG;
    this.#update();
  }

  #update(): void {
    const level = this.#isr !== 0;
    if (level !== this.#level) {
      this.#level = level;
      this.#interrupt(level);
    }
  }

  /** A driver error: DEVICE_NEEDS_RESET and a configuration interrupt; the device serves nothing until reset. */
  #fail(e: unknown): void {
    this.#error = e instanceof Error ? e.message : String(e);
    this.#status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    this.#isr |= VIRTIO_MMIO_INT_CONFIG;
    this.#update();
  }

  #setReady(q: QueueRegs, ready: boolean): void {
    if (!ready) {
      q.ready = false;
      return;
    }
    if (q.ready) return;
    const size = q.size;
    if (!Number.isInteger(size) || size < 1 || size > q.max || (size & (size - 1)) !== 0) {
      this.#fail(new VirtioError('ERR_VIRTIO_QUEUE', `queue size ${size} is not a power of two up to ${q.max}`));
      return;
    }
    try {
      // checks alignment and that all three rings lie in guest RAM
      new SplitQueue(this.#mem, { size, desc: addr(q.desc), avail: addr(q.driver), used: addr(q.device) });
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      this.#fail(e);
      return;
    }
    q.ready = true;
  }

  #writeStatus(v: number): void {
    if (v === 0) {
      this.#reset();
      return;
    }
    const old = this.#status;
    const keep = old & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    // the driver only ever adds bits; DEVICE_NEEDS_RESET is the device's
    if ((v & old & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== (old & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET)) return;
    let next = (v & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET & 0xff) | keep;
    if (next & VIRTIO_STATUS_FEATURES_OK && !(old & VIRTIO_STATUS_FEATURES_OK)) {
      // features the device did not offer: FEATURES_OK stays clear. A driver that leaves
      // VIRTIO_F_VERSION_1 out (it reads and writes bank 0 only, as xv6 does) is served as a
      // 1.x driver anyway, as QEMU does: the spec lets a device refuse it, not requires it.
      if ((this.driverFeatures & ~this.#offered) !== 0n) next &= ~VIRTIO_STATUS_FEATURES_OK;
    }
    if (next & VIRTIO_STATUS_DRIVER_OK && !(old & VIRTIO_STATUS_DRIVER_OK) && !(next & VIRTIO_STATUS_FEATURES_OK))
      next &= ~VIRTIO_STATUS_DRIVER_OK;
    this.#status = next;
    if (next & VIRTIO_STATUS_DRIVER_OK && !(old & VIRTIO_STATUS_DRIVER_OK)) this.#activate();
  }

  #activate(restored?: readonly (SplitQueueState | undefined)[]): void {
    const eventIdx = ((this.driverFeatures >> BigInt(VIRTIO_RING_F_EVENT_IDX)) & 1n) === 1n;
    try {
      this.#queues.forEach((q, i) => {
        q.ring = q.ready
          ? new SplitQueue(
              this.#mem,
              { size: q.size, desc: addr(q.desc), avail: addr(q.driver), used: addr(q.device), eventIdx },
              restored?.[i],
            )
          : null;
      });
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      this.#fail(e);
      return;
    }
    const epoch = this.#epoch;
    const ctx: VirtioContext = {
      mem: this.#mem,
      queues: this.#queues.map((q) => q.ring),
      features: this.driverFeatures & this.#offered,
      drain: (index, serve, budget) => (epoch === this.#epoch ? this.#drain(index, serve, budget) : 0),
      signalUsed: () => {
        if (epoch !== this.#epoch) return;
        this.#isr |= VIRTIO_MMIO_INT_VRING;
        this.#update();
      },
      configChanged: () => {
        if (epoch === this.#epoch) this.configChanged();
      },
    };
    try {
      this.device.activate(ctx);
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      this.#fail(e);
    }
  }

  #notify(index: number): void {
    const s = this.#status;
    if (!(s & VIRTIO_STATUS_DRIVER_OK) || s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    if (this.#queues[index]?.ring == null) return; // a queue the device does not have, or not set up
    this.device.notify(index);
  }

  #drain(index: number, serve: (chain: DescriptorChain) => number, budget?: number): number {
    const q = this.#queues[index];
    const ring = q?.ring;
    if (!ring || this.#status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return 0;
    const most = budget === undefined ? ring.size : Math.min(ring.size, Math.max(0, Math.floor(budget)));
    let served = 0;
    try {
      while (served < most) {
        const chain = ring.pop();
        if (chain === null) break;
        ring.addUsed(chain.head, serve(chain));
        served++;
      }
      if (served > 0 && ring.needsNotification()) {
        this.#isr |= VIRTIO_MMIO_INT_VRING;
        this.#update();
      }
      if (served === ring.size && ring.pending() > 0 && !q.deferred) {
        // the rest in a later turn, so timers and other exits keep running
        q.deferred = true;
        const epoch = this.#epoch;
        this.#defer(() => {
          q.deferred = false;
          if (epoch === this.#epoch && !(this.#status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) this.device.notify(index);
        });
      }
    } catch (e) {
      if (!(e instanceof VirtioError) && !(e instanceof GuestMemoryError)) throw e;
      this.#fail(e);
    }
    return served;
  }

  #reset(): void {
    this.#epoch++;
    this.#status = 0;
    this.#devSel = 0;
    this.#drvSel = 0;
    this.#drvFeatures = [0, 0];
    this.#queueSel = 0;
    this.#isr = 0;
    this.#error = null;
    this.#queues = this.#queues.map((q) => queueRegs(q.max));
    this.device.reset();
    this.#update();
  }

  #restore(state: VirtioMmioState): void {
    if (state === null || typeof state !== 'object') throw typeError('state', 'a VirtioMmioState object', state);
    const word = (name: string, v: unknown): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
        throw rangeError(`state.${name}`, 'an integer from 0 to 2^32-1', v);
      return v;
    };
    const pair = (name: string, v: unknown): [number, number] => {
      if (!Array.isArray(v) || v.length !== 2) throw typeError(`state.${name}`, 'a [low, high] pair', v);
      return [word(name, v[0]), word(name, v[1])];
    };
    if (!Array.isArray(state.queues) || state.queues.length !== this.#queues.length)
      throw rangeError('state.queues', `${this.#queues.length} queues`, state.queues);
    this.#status = word('status', state.status) & 0xff;
    this.#devSel = word('deviceFeaturesSel', state.deviceFeaturesSel);
    this.#drvSel = word('driverFeaturesSel', state.driverFeaturesSel);
    this.#drvFeatures = pair('driverFeatures', state.driverFeatures);
    this.#queueSel = word('queueSel', state.queueSel);
    this.#isr = word('interruptStatus', state.interruptStatus) & 3;
    this.#generation = word('configGeneration', state.configGeneration);
    state.queues.forEach((s, i) => {
      const q = this.#queues[i]!;
      q.size = word(`queues[${i}].size`, s.size);
      q.desc = pair(`queues[${i}].desc`, s.desc);
      q.driver = pair(`queues[${i}].driver`, s.driver);
      q.device = pair(`queues[${i}].device`, s.device);
      q.ready = false;
      if (s.ready === true) this.#setReady(q, true);
    });
    // a device that was live is live again (one that needs a reset still serves nothing)
    if (this.#status & VIRTIO_STATUS_DRIVER_OK) this.#activate(state.queues.map((s) => s.ring));
    this.#level = false;
    this.#update();
  }
}

function queueRegs(max: number): QueueRegs {
  return { max, size: max, ready: false, desc: [0, 0], driver: [0, 0], device: [0, 0], ring: null, deferred: false };
}
