import type { GuestMemoryMmap } from '../guest-memory.js';
import type { DescriptorChain, SplitQueue } from './split-queue.js';

/** Device status bits (virtio 1.x, "Device Status Field"). */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
/** The driver knows how to drive the device. */
export const VIRTIO_STATUS_DRIVER = 2;
/** The driver is set up and the device is live. */
export const VIRTIO_STATUS_DRIVER_OK = 4;
/** The driver accepted the features it wrote (the device clears it again if it refuses them). */
export const VIRTIO_STATUS_FEATURES_OK = 8;
/** The device met a driver error it cannot recover from: the driver must reset it. */
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
/** The driver gave up on the device. */
export const VIRTIO_STATUS_FAILED = 128;

/** Feature bit: virtio 1.x (the transport always offers it and a driver must accept it). */
export const VIRTIO_F_VERSION_1 = 32;
/** Feature bit: used_event / avail_event notification suppression. */
export const VIRTIO_RING_F_EVENT_IDX = 29;
/** Feature bit: indirect descriptor tables. */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;

/**
 * What a device gets at activation (the driver wrote DRIVER_OK): the memory, its queues, the
 * negotiated features, and the transport's services. Devices keep it until `reset`.
 */
export interface VirtioContext {
  /** Guest memory, where the rings and buffers live. */
  readonly mem: GuestMemoryMmap;
  /** The device's queues by index; null for one the driver did not set up. */
  readonly queues: readonly (SplitQueue | null)[];
  /** The features both sides agreed on. */
  readonly features: bigint;
  /**
   * Serves the available chains of queue `index` with `serve` (which returns the bytes it wrote
   * into the chain's device-writable buffers), adds them as used and interrupts the driver if it
   * asked to be. At most one queue size of chains are served per call; if more remain, the rest
   * is served in a later turn of the event loop, so one notify cannot hold the thread. A driver
   * error (a bad ring or chain, or `serve` throwing a VirtioError) puts the device in
   * DEVICE_NEEDS_RESET with a configuration interrupt. Returns the chains served now. With
   * `budget`, at most that many chains (a receive queue takes buffers only while it has data).
   */
  drain(index: number, serve: (chain: DescriptorChain) => number, budget?: number): number;
  /** Interrupts the driver for used buffers on a queue (what `drain` does when asked to). */
  signalUsed(): void;
  /** Marks the device's configuration changed (new generation, configuration interrupt). */
  configChanged(): void;
}

/**
 * A virtio device behind a transport (after rust-vmm's VirtioDevice): its type, queues,
 * features and configuration space, activated when the driver is ready and reset when it
 * resets. A device keeps no transport state; its own state is plain data.
 */
export interface VirtioDevice {
  /** The virtio device ID (1 net, 2 block, 3 console, 4 entropy, …). */
  readonly deviceType: number;
  /** The largest size of each queue: also how many queues there are. */
  readonly queueMaxSizes: readonly number[];
  /** The device's feature bits (the transport adds VIRTIO_F_VERSION_1). */
  readonly features: bigint;
  /** Reads `size` bytes (1, 2 or 4) of the configuration space at `offset`; 0 past its end. */
  readConfig(offset: number, size: number): number;
  /** Writes the configuration space (most devices ignore it). */
  writeConfig(offset: number, size: number, value: number): void;
  /** The driver set DRIVER_OK: the queues are ready. */
  activate(ctx: VirtioContext): void;
  /** The driver wrote queue `index` to QueueNotify (only after activation). */
  notify(index: number): void;
  /** The driver reset the device (status 0): forget the context, back to the state at creation. */
  reset(): void;
}
