export {
  InterruptController,
  MAX_IRQ_SOURCES,
  MAX_IRQ_TARGETS,
  type InterruptControllerOptions,
  type InterruptControllerState,
  type InterruptDelivery,
  type SharedInterruptController,
} from './interrupt-controller.js';
