import { describe, expect, it } from 'vitest';
import { FileOffset } from '../src/index.js';
import { expectArgError } from './helpers/expect-error.js';

describe('FileOffset', () => {
  it('keeps fd and start as given', () => {
    const a = new FileOffset(3, 4096);
    expect(a.fd).toBe(3);
    expect(a.start).toBe(4096);
    const b = new FileOffset(3, 2n ** 64n - 1n);
    expect(b.start).toBe(2n ** 64n - 1n);
  });

  it('rejects bad fds and starts', () => {
    expectArgError(() => new FileOffset(-1, 0), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(1.5, 0), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset('3' as unknown as number, 0), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => new FileOffset(3, -1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(3, 2n ** 64n), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(3, -1n), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(3, 2 ** 53), 'ERR_OUT_OF_RANGE');
    expectArgError(() => new FileOffset(3, '0' as unknown as number), 'ERR_INVALID_ARG_TYPE');
  });
});
