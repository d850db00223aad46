/**
 * Argument validation at the public boundary, with one message format (Node's): a wrong type is
 * a TypeError `ERR_INVALID_ARG_TYPE`, a number outside its range a RangeError `ERR_OUT_OF_RANGE`.
 * Hot paths check cheaply inline and call these only on their slow path, to produce the error.
 */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `type bigint (${value}n)`;
  if (typeof value === 'string') return `type string ('${value.slice(0, 30)}')`;
  if (typeof value === 'function') return 'function';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  return `type ${typeof value} (${String(value)})`;
}

export function typeError(name: string, expected: string, value: unknown): TypeError {
  const e = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(value)}`) as TypeError & {
    code: string;
  };
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}

export function rangeError(name: string, range: string, value: unknown): RangeError {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  const e = new RangeError(
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`,
  ) as RangeError & { code: string };
  e.code = 'ERR_OUT_OF_RANGE';
  return e;
}

/** An error with a stable `code` (for failures that are not memory operations: pool, lock, files). */
export function codedError(code: string, message: string, Kind: ErrorConstructor = Error): Error & { code: string } {
  const e = new Kind(message) as Error & { code: string };
  e.code = code;
  return e;
}

/** An address, offset, size or count: a non-negative safe integer. */
export function checkIndex(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw rangeError(name, 'a non-negative safe integer', value);
  }
  return value;
}

/** An optional count (e.g. `notify`'s), `undefined` meaning "all". */
export function checkOptionalIndex(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : checkIndex(name, value);
}

/** A file descriptor: a C int >= 0 (a larger number would wrap onto another descriptor natively). */
export function checkFd(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(name, 'of type number', value);
  if ((value | 0) !== value || value < 0) throw rangeError(name, 'an integer from 0 to 2^31-1', value);
  return value;
}

/** A file position for pread/pwrite: a non-negative safe integer, or undefined (the fd's own position, -1). */
export function checkPosition(name: string, value: unknown): number {
  return value === undefined ? -1 : checkIndex(name, value);
}

/** An interrupt line number: an integer from 0 to 31 (one bit of a vCPU's IRQ or LEVEL word). */
export function checkIrqLine(line: unknown): number {
  if (typeof line !== 'number') throw typeError('line', 'a number', line);
  if (!Number.isInteger(line) || line < 0 || line > 31) throw rangeError('line', 'an integer from 0 to 31', line);
  return line;
}

/** A C `int` argument (prot, flags, fd). */
export function checkInt32(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(name, 'of type number', value);
  if ((value | 0) !== value) throw rangeError(name, 'an integer in [-2^31, 2^31-1]', value);
  return value;
}

export function checkUint8Array(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw typeError(name, 'a Uint8Array', value);
  return value;
}

export function checkFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw typeError(name, 'a function', value);
}

/** A timeout in milliseconds: a non-negative number or Infinity; undefined means Infinity. */
export function checkTimeout(name: string, value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number') throw typeError(name, 'of type number', value);
  if (!(value >= 0)) throw rangeError(name, 'a non-negative number of milliseconds', value);
  return value;
}
