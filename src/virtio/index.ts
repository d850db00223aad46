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
