// Assertions for the contract's error shapes.
import { expect } from 'vitest';
import { GUEST_MEMORY_ERROR_KINDS, GuestMemoryError, type GuestMemoryErrorKind } from '../../src/index.js';

/** Runs `fn`, expects a GuestMemoryError of `kind` with the given fields; returns it. */
export function expectGuestError(fn: () => unknown, kind: GuestMemoryErrorKind, fields: Record<string, unknown> = {}) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${kind}`).toBeInstanceOf(GuestMemoryError);
  const err = caught as GuestMemoryError;
  expect(err.kind).toBe(kind);
  expect(GUEST_MEMORY_ERROR_KINDS).toContain(err.kind);
  expect(err.code).toBe(
    'ERR_GUESTMEM_' +
      kind
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .replace(/^IOE/, 'IO_E')
        .toUpperCase(),
  );
  for (const [k, v] of Object.entries(fields)) expect((err as unknown as Record<string, unknown>)[k], k).toEqual(v);
  return err;
}

/** Expects a TypeError/RangeError with Node's argument error code. */
export function expectArgError(fn: () => unknown, code?: 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_TYPE') {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an argument error').toBeInstanceOf(Error);
  const c = (caught as { code?: string }).code;
  expect(['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE']).toContain(c);
  if (code) expect(c).toBe(code);
  expect(caught instanceof TypeError || caught instanceof RangeError).toBe(true);
  if (c === 'ERR_OUT_OF_RANGE') expect(caught).toBeInstanceOf(RangeError);
  else expect(caught).toBeInstanceOf(TypeError);
}
