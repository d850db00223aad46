export { DeviceBus, type BusEntry, type MmioDevice } from './device-bus.js';
export { Serial16550, SERIAL_FIFO_SIZE, type SerialOptions, type SerialState } from './serial.js';
export { StreamInput } from './stream-input.js';
