// VirtioConsole behind the transport, driven by the test driver: output from the transmit
// queue, input held until receive buffers come (and never handed over in an empty buffer),
// bounded input and bounded transmit requests, state as plain data.
import { describe, expect, it } from 'vitest';
import { VirtioConsole, VIRTIO_CONSOLE_MAX_WRITE } from '../../src/index.js';
import { VirtioTestDriver } from '../helpers/virtio-driver.js';

function consoleDevice(options: { inputCapacity?: number } = {}): {
  d: VirtioTestDriver;
  c: VirtioConsole;
  out: Uint8Array[];
} {
  const out: Uint8Array[] = [];
  const c = new VirtioConsole({ output: (b) => void out.push(b), ...options });
  const d = VirtioTestDriver.create(c);
  expect(d.negotiate()).toBe(true);
  d.setupQueue(0, 16);
  d.setupQueue(1, 16);
  d.driverOk();
  return { d, c, out };
}

describe('VirtioConsole', () => {
  it('sends transmit buffers to the output, in order', () => {
    const { d, out } = consoleDevice();
    const a = d.buffer(5);
    const b = d.buffer(3);
    d.mem.writeSlice(Buffer.from('hello'), a);
    d.mem.writeSlice(Buffer.from(' yo'), b);
    const h = d.add(1, [
      { addr: a, len: 5 },
      { addr: b, len: 3 },
    ]);
    d.notify(1);
    expect(Buffer.concat(out).toString()).toBe('hello yo');
    expect(d.takeUsed(1)).toEqual([[h, 0]]);
  });

  it('holds input until the guest posts receive buffers, and fills them in order across wraps', () => {
    const { d, c } = consoleDevice({ inputCapacity: 8 });
    expect(c.enqueue(Buffer.from('abcdef'))).toBe(6);
    const r1 = d.buffer(4);
    const r2 = d.buffer(4);
    const r3 = d.buffer(4);
    const h1 = d.add(0, [{ addr: r1, len: 4, write: true }]);
    d.notify(0);
    expect(d.takeUsed(0)).toEqual([[h1, 4]]);
    // 2 left ("ef"); 6 more fit in a capacity of 8 (the ring wraps)
    expect(c.enqueue(Buffer.from('ghijklmn'))).toBe(6);
    expect(c.pendingInput).toBe(8);
    const h2 = d.add(0, [{ addr: r2, len: 4, write: true }]);
    const h3 = d.add(0, [{ addr: r3, len: 4, write: true }]);
    d.notify(0);
    expect(d.takeUsed(0)).toEqual([
      [h2, 4],
      [h3, 4],
    ]);
    const got = new Uint8Array(12);
    d.mem.readSlice(got.subarray(0, 4), r1);
    d.mem.readSlice(got.subarray(4, 8), r2);
    d.mem.readSlice(got.subarray(8), r3);
    expect(Buffer.from(got).toString()).toBe('abcdefghijkl');
    // no input: a posted buffer waits rather than coming back empty
    const h4 = d.add(0, [{ addr: r1, len: 4, write: true }]);
    d.notify(0);
    expect(d.takeUsed(0)).toEqual([]);
    c.enqueue(Buffer.from('z'));
    expect(d.takeUsed(0)).toEqual([[h4, 1]]);
  });

  it(`hands at most ${VIRTIO_CONSOLE_MAX_WRITE} bytes of one transmit request to the output`, () => {
    const { d, c, out } = consoleDevice();
    const big = d.buffer(VIRTIO_CONSOLE_MAX_WRITE + 100);
    d.add(1, [{ addr: big, len: VIRTIO_CONSOLE_MAX_WRITE + 100 }]);
    d.notify(1);
    expect(Buffer.concat(out).length).toBe(VIRTIO_CONSOLE_MAX_WRITE);
    expect(c.state.dropped).toBe(100);
  });

  it('state is plain data: pending input survives a rebuild', () => {
    const { c } = consoleDevice();
    c.enqueue(Buffer.from('xyz'));
    const s = structuredClone(c.state);
    const c2 = new VirtioConsole({ output: () => {} }, s);
    expect(c2.state).toEqual({ input: [...Buffer.from('xyz')], dropped: 0 });
    expect(() => new VirtioConsole({ output: () => {} }, { input: [256], dropped: 0 })).toThrow(RangeError);
  });
});
