import { rangeError, typeError } from '../internal/args.js';
import { LoaderError } from './loader-error.js';

/**
 * A kernel command line builder, after linux-loader's `Cmdline`: `key=value` parameters and
 * bare flags joined by single spaces, checked as they are added (printable ASCII only; keys
 * without spaces, `=` or quotes; a value with spaces is quoted), never longer than `capacity`
 * bytes (the architecture's COMMAND_LINE_SIZE, minus the NUL). Throws LoaderError
 * ERR_LOADER_FORMAT for a bad parameter and ERR_LOADER_CMDLINE_TOO_LONG past the capacity, with
 * the line unchanged.
 * @example new KernelCmdline().insert('console', 'ttyS0').insertFlag('quiet').toString()
 */
export class KernelCmdline {
  /** The longest line this builder makes, in bytes. */
  readonly capacity: number;
  #line = '';

  /** `capacity`: the longest line in bytes, without the NUL (default 4095: a COMMAND_LINE_SIZE of 4096). */
  constructor(capacity = 4095) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20)
      throw rangeError('capacity', 'an integer from 1 to 2^20', capacity);
    this.capacity = capacity;
  }

  /** Adds `key=value` (quoted if the value has spaces). */
  insert(key: string, value: string | number): this {
    checkKey(key);
    const v = typeof value === 'number' ? String(value) : value;
    if (typeof v !== 'string') throw typeError('value', 'a string or a number', value);
    checkText(v, 'value');
    if (v.includes('"')) throw new LoaderError('ERR_LOADER_FORMAT', `kernel parameter ${key}: a value with a quote`);
    return this.#append(`${key}=${/\s/.test(v) ? `"${v}"` : v}`);
  }

  /** Adds a bare flag (`quiet`, `ro`, …). */
  insertFlag(flag: string): this {
    checkKey(flag);
    return this.#append(flag);
  }

  /** Adds parameters already written out (`"console=ttyS0 earlycon"`), as they are. */
  insertRaw(text: string): this {
    if (typeof text !== 'string') throw typeError('text', 'a string', text);
    checkText(text, 'text');
    const t = text.trim().replace(/\s+/g, ' ');
    return t === '' ? this : this.#append(t);
  }

  /** The command line. */
  toString(): string {
    return this.#line;
  }

  /** The command line as NUL-terminated bytes (what /chosen's bootargs or a boot protocol takes). */
  toBytes(): Uint8Array {
    const b = new Uint8Array(this.#line.length + 1);
    for (let i = 0; i < this.#line.length; i++) b[i] = this.#line.charCodeAt(i);
    return b;
  }

  #append(part: string): this {
    const next = this.#line === '' ? part : `${this.#line} ${part}`;
    if (next.length > this.capacity)
      throw new LoaderError(
        'ERR_LOADER_CMDLINE_TOO_LONG',
        `the command line would be ${next.length} bytes, over ${this.capacity}`,
      );
    this.#line = next;
    return this;
  }
}

function checkText(s: string, what: string): void {
  // printable ASCII and spaces: no NUL, no control characters, nothing a boot protocol mangles
  if (!/^[\x20-\x7e]*$/.test(s))
    throw new LoaderError('ERR_LOADER_FORMAT', `kernel parameter ${what} with a character outside printable ASCII`);
}

function checkKey(key: string): void {
  if (typeof key !== 'string') throw typeError('key', 'a string', key);
  if (!/^[\x21-\x7e]+$/.test(key) || /[="]/.test(key))
    throw new LoaderError('ERR_LOADER_FORMAT', `kernel parameter name "${key}"`);
}
