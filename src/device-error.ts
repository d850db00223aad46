/** The device layer's error: bus registration and dispatch failures, and MMIO exits that cannot complete. */

/** Every `code` a DeviceError can have. */
export const DEVICE_ERROR_CODES = [
  /** A device range overlaps one already registered. */
  'ERR_DEVICE_OVERLAP',
  /** An access to a guest-physical address with no device (and no RAM). */
  'ERR_DEVICE_NO_DEVICE',
  /** An access of a size the bus does not dispatch (1, 2, 4 and 8 bytes are), or crossing the device's end. */
  'ERR_DEVICE_ACCESS',
  /** The device thread answered an MMIO exit with an error (its handler threw). */
  'ERR_DEVICE_HANDLER',
  /** An MMIO exit was abandoned: the vCPU was asked to stop while it waited for the device thread. */
  'ERR_DEVICE_STOPPED',
] as const;

/** One of DEVICE_ERROR_CODES. */
export type DeviceErrorCode = (typeof DEVICE_ERROR_CODES)[number];

/** A bus registration or device access that failed (`code` from DEVICE_ERROR_CODES; docs/errors.md lists them). */
export class DeviceError extends Error {
  /** Why it failed. */
  readonly code: DeviceErrorCode;
  /** The guest-physical address of the access, when there is one. */
  readonly addr: number | undefined;

  constructor(code: DeviceErrorCode, message: string, addr?: number) {
    super(`device: ${message}`);
    this.name = 'DeviceError';
    this.code = code;
    this.addr = addr;
  }
}
