/** The virtio layer's error: a queue configured or driven by the guest in a way the spec does not allow. */

/** Every `code` a VirtioError can have. */
export const VIRTIO_ERROR_CODES = [
  /** A queue configuration the device cannot use: size not a power of two, misaligned or unmapped rings. */
  'ERR_VIRTIO_QUEUE',
  /** A descriptor chain that loops, is longer than the queue, names a descriptor out of range, or nests indirect tables. */
  'ERR_VIRTIO_CHAIN',
  /** A descriptor (or indirect table) pointing outside guest memory. */
  'ERR_VIRTIO_ADDRESS',
  /** The available index moved by more than the queue size: the driver is broken or hostile. */
  'ERR_VIRTIO_RING',
  /** A request a device cannot parse: missing or short header, no writable status byte, data buffers of the wrong direction. */
  'ERR_VIRTIO_REQUEST',
] as const;

/** One of VIRTIO_ERROR_CODES. */
export type VirtioErrorCode = (typeof VIRTIO_ERROR_CODES)[number];

/** A virtqueue that cannot be used or a driver that broke the rules (`code` from VIRTIO_ERROR_CODES; docs/errors.md lists them). */
export class VirtioError extends Error {
  /** Why it failed. */
  readonly code: VirtioErrorCode;

  constructor(code: VirtioErrorCode, message: string) {
    super(`virtio: ${message}`);
    this.name = 'VirtioError';
    this.code = code;
  }
}
