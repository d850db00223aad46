// The addon's bulk copy (src/native.ts: copyBuffers over the copyArgs block) against a byte-loop
// model: every mix of buffer and view, overlap, and arguments that must be refused with nothing
// written.
import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';

/** copyBuffers with its arguments, as the library calls it. */
function copy(
  dst: ArrayBufferLike | ArrayBufferView,
  dOff: number,
  src: ArrayBufferLike | ArrayBufferView,
  sOff: number,
  n: number,
) {
  native.copyArgs[0] = dOff;
  native.copyArgs[1] = sOff;
  native.copyArgs[2] = n;
  return native.copyBuffers(dst, src);
}

/** The bytes a buffer or view stands for. */
const bytesOf = (b: ArrayBufferLike | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);

function filled(size: number, shared: boolean, seed: number): ArrayBufferLike {
  const b = shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
  const u = new Uint8Array(b);
  for (let i = 0; i < size; i++) u[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('native copyBuffers', () => {
  it('copies like memmove between buffers and views of either kind, offsets counted from a view start', () => {
    let seed = 7;
    const next = (m: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;
    for (let round = 0; round < 300; round++) {
      const make = (s: number): ArrayBufferLike | ArrayBufferView => {
        const b = filled(256 + next(5000), next(2) === 1, s);
        const kind = next(3);
        if (kind === 0) return b;
        const off = next(64);
        return kind === 1 ? new Uint8Array(b, off) : new DataView(b, off);
      };
      const dst = make(1);
      const src = next(4) === 0 ? dst : make(2); // sometimes the same bytes: overlap
      const d = bytesOf(dst);
      const s = bytesOf(src);
      const n = next(Math.min(d.length, s.length) + 1);
      const dOff = next(d.length - n + 1);
      const sOff = next(s.length - n + 1);
      const expected = d.slice();
      const from = s.slice(sOff, sOff + n); // memmove: as if through a temporary
      expected.set(from, dOff);
      expect(copy(dst, dOff, src, sOff, n)).toBe(0);
      expect(Buffer.from(d).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('refuses anything but buffers and views (-1) and ranges outside either (-2), writing nothing', () => {
    const dst = new Uint8Array(64);
    const src = new Uint8Array(filled(64, true, 3));
    for (const bad of [null, undefined, 5, 'x', {}, [1, 2, 3]]) {
      expect(copy(bad as never, 0, src, 0, 1)).toBe(-1);
      expect(copy(dst, 0, bad as never, 0, 1)).toBe(-1);
    }
    expect((native.copyBuffers as (...a: unknown[]) => number)(dst)).toBe(-1);
    for (const [dOff, sOff, n] of [
      [0, 0, 65],
      [1, 0, 64],
      [0, 1, 64],
      [-1, 0, 1],
      [0, -1, 1],
      [0, 0, -1],
      [0.5, 0, 1],
      [0, 0, 1.5],
      [NaN, 0, 1],
      [0, 0, Infinity],
      [2 ** 53, 0, 1],
      [2 ** 64, 0, 1],
    ] as const) {
      expect(copy(dst, dOff, src, sOff, n), `${dOff} ${sOff} ${n}`).toBe(-2);
    }
    expect(dst.every((b) => b === 0)).toBe(true);
    // a view's range is its own, not its buffer's
    const window = new Uint8Array(dst.buffer, 16, 16);
    expect(copy(window, 0, src, 0, 17)).toBe(-2);
    expect(copy(window, 1, src, 0, 16)).toBe(-2);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(copy(window, 0, src, 0, 16)).toBe(0);
    expect([...dst.subarray(16, 32)]).toEqual([...src.subarray(0, 16)]);
    expect(dst[15]).toBe(0);
    expect(dst[32]).toBe(0);
  });

  it('a detached buffer is an empty one: nothing to copy into, no crash', () => {
    const ab = new ArrayBuffer(32);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    expect(copy(view, 0, filled(32, false, 1), 0, 1)).toBe(-2);
    expect(copy(ab, 0, filled(32, false, 1), 0, 1)).toBe(-2);
    expect(copy(view, 0, filled(32, false, 1), 0, 0)).toBe(0);
  });
});
