// VirtioConsole behind the transport, driven by the test driver: output from the transmit
// queue, input held until receive buffers come (and never handed over in an empty buffer),
// bounded input and bounded transmit requests, state as plain data; a stream fed in through
// StreamInput with backpressure.
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { StreamInput, VirtioConsole, VIRTIO_CONSOLE_MAX_WRITE } from '../../src/index.js';
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

describe('VirtioConsole with a stream (StreamInput)', () => {
  it('carries a stream much larger than its buffer into the guest, in order, pausing the stream while full', async () => {
    const stream = new PassThrough();
    const drainedAt: number[] = [];
    let input: StreamInput | null = null;
    const out: Uint8Array[] = [];
    const c = new VirtioConsole({
      output: (b) => void out.push(b),
      inputCapacity: 64,
      inputDrained: () => {
        drainedAt.push(c.pendingInput);
        input?.drained();
      },
    });
    const d = VirtioTestDriver.create(c);
    d.negotiate();
    d.setupQueue(0, 16);
    d.setupQueue(1, 16);
    d.driverOk();
    input = new StreamInput(stream, (b) => c.enqueue(b));
    const sent = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7) & 0xff));
    for (let off = 0; off < sent.length; off += 1000) stream.write(sent.subarray(off, off + 1000));
    await new Promise((r) => setImmediate(r));
    expect(c.pendingInput).toBe(64); // full: the rest waits in the stream and one held chunk
    expect(input.held).toBeGreaterThan(0);
    expect(input.held).toBeLessThanOrEqual(1000);
    expect(stream.isPaused()).toBe(true);
    // the guest reads it all, 32 bytes a buffer
    const got: number[] = [];
    const buf = d.buffer(32);
    while (got.length < sent.length) {
      const h = d.add(0, [{ addr: buf, len: 32, write: true }]);
      d.notify(0);
      const used = d.takeUsed(0);
      if (used.length === 0) {
        await new Promise((r) => setImmediate(r)); // the stream hands over its next chunk
        d.notify(0);
        used.push(...d.takeUsed(0));
      }
      expect(used.length).toBe(1);
      expect(used[0]![0]).toBe(h);
      const part = new Uint8Array(used[0]![1]);
      d.mem.readSlice(part, buf);
      got.push(...part);
    }
    expect(Buffer.from(got).equals(sent)).toBe(true);
    expect(drainedAt.length).toBeGreaterThan(0);
    input.close();
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('refuses what is not a stream or an enqueue function', () => {
    expect(() => new StreamInput({} as never, () => 0)).toThrow(TypeError);
    expect(() => new StreamInput(new PassThrough(), 5 as never)).toThrow(TypeError);
  });
});
