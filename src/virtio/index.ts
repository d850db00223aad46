export {
  SplitQueue,
  MAX_INDIRECT,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  type Descriptor,
  type DescriptorChain,
  type SplitQueueConfig,
  type SplitQueueState,
} from './split-queue.js';
export { VirtioError, VIRTIO_ERROR_CODES, type VirtioErrorCode } from './virtio-error.js';
export {
  VirtioMmioTransport,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_SIZE,
  type VirtioMmioOptions,
  type VirtioMmioQueueState,
  type VirtioMmioState,
} from './mmio-transport.js';
export {
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
  type VirtioContext,
  type VirtioDevice,
} from './virtio-device.js';
export {
  VirtioBlk,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_SECTOR,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  type VirtioBlkOptions,
  type VirtioBlkState,
} from './virtio-blk.js';
export { VirtioRng, VIRTIO_RNG_MAX_REQUEST, type VirtioRngOptions } from './virtio-rng.js';
export {
  VirtioConsole,
  VIRTIO_CONSOLE_MAX_WRITE,
  type VirtioConsoleOptions,
  type VirtioConsoleState,
} from './virtio-console.js';
