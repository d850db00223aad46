export { DeviceBus, type BusEntry, type MmioDevice } from './device-bus.js';
export {
  busHandler,
  createMmioExits,
  MmioExitPort,
  MmioExitServer,
  type MmioHandler,
  type MmioRequest,
  type ServeOptions,
} from './mmio-exit.js';
export { DeviceError, DEVICE_ERROR_CODES, type DeviceErrorCode } from './device-error.js';
export { DeviceThread, type SharedDeviceChannel } from './device-thread.js';
export { Serial16550, SERIAL_FIFO_SIZE, type SerialOptions, type SerialState } from './serial.js';
export { StreamInput } from './stream-input.js';
