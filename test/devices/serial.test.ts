// Serial16550 on one thread, driven as a guest driver would (and as a hostile one): output,
// the receive FIFO and its bound, IIR priorities and acknowledgement, LSR, the divisor latch,
// loopback, register strides, and state as plain data.
import { describe, expect, it } from 'vitest';
import { Serial16550, SERIAL_FIFO_SIZE, type SerialOptions } from '../../src/index.js';

function port(options: Partial<SerialOptions> = {}): {
  s: Serial16550;
  out: number[];
  line: () => boolean;
  edges: () => number;
} {
  const out: number[] = [];
  let level = false;
  let edges = 0;
  const s = new Serial16550({
    interrupt: (l) => {
      level = l;
      edges++;
    },
    output: (b) => out.push(b),
    ...options,
  });
  return { s, out, line: () => level, edges: () => edges };
}

describe('Serial16550', () => {
  it('sends THR bytes to the output and reports an empty transmitter', () => {
    const { s, out } = port();
    for (const b of Buffer.from('hi\n')) s.write(0, 1, b);
    expect(Buffer.from(out).toString()).toBe('hi\n');
    expect(s.read(5, 1) & 0x60).toBe(0x60); // THRE and TEMT
    expect(s.read(6, 1)).toBe(0xb0);
  });

  it('receives through a 64-byte FIFO: DR follows it, the rest waits with the caller', () => {
    let drained = 0;
    const { s } = port({ inputDrained: () => drained++ });
    const input = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(s.enqueue(input)).toBe(SERIAL_FIFO_SIZE);
    expect(s.inputSpace).toBe(0);
    expect(s.enqueue([1, 2])).toBe(0);
    const got: number[] = [];
    while (s.read(5, 1) & 1) got.push(s.read(0, 1));
    expect(got).toEqual([...input.subarray(0, SERIAL_FIFO_SIZE)]);
    expect(drained).toBe(1);
    expect(s.read(0, 1)).toBe(0); // empty
    // FCR can clear the receive FIFO
    s.enqueue([7, 8]);
    s.write(2, 1, 0x03);
    expect(s.read(5, 1) & 1).toBe(0);
  });

  it('IIR reports received data before THR empty; an IIR read or a THR write acknowledges THR empty', () => {
    const { s, line } = port();
    expect(s.read(2, 1)).toBe(0x01); // nothing pending
    s.write(1, 1, 0x02); // enable THRE: raised at once, THR being empty
    expect(line()).toBe(true);
    expect(s.read(5, 1) & 0x20).toBe(0x20);
    expect(line()).toBe(true); // an LSR read does not acknowledge it on a 16550A
    expect(s.read(2, 1)).toBe(0x02);
    expect(line()).toBe(false);
    expect(s.read(2, 1)).toBe(0x01);
    s.write(0, 1, 0x41);
    expect(line()).toBe(true);
    s.write(1, 1, 0x03); // both enabled; received data first
    s.enqueue([0x55]);
    expect(s.read(2, 1)).toBe(0x04);
    expect(s.read(0, 1)).toBe(0x55);
    expect(s.read(2, 1)).toBe(0x02);
    expect(line()).toBe(false);
    // FIFO-enabled bits once FCR enables them
    s.write(2, 1, 0x01);
    expect(s.read(2, 1)).toBe(0xc1);
  });

  it('lsrAcksThre makes an LSR read acknowledge THR empty (for guests that never read IIR)', () => {
    const { s, line } = port({ lsrAcksThre: true });
    s.write(1, 1, 0x02);
    expect(line()).toBe(true);
    s.read(5, 1);
    expect(line()).toBe(false);
  });

  it('lineStatus is LSR without the read: DR and THR empty as a read shows them, no acknowledgement', () => {
    const { s, line } = port({ lsrAcksThre: true });
    expect(s.lineStatus).toBe(0x60); // THRE | TEMT
    s.write(1, 1, 0x02); // IER: THR empty
    expect(line()).toBe(true);
    for (let i = 0; i < 3; i++) expect(s.lineStatus).toBe(0x60);
    expect(line()).toBe(true); // not acknowledged, as an LSR read with lsrAcksThre would
    expect(s.read(5, 1)).toBe(0x60);
    expect(line()).toBe(false);
    s.enqueue([0x41]);
    expect(s.lineStatus & 1).toBe(1);
    expect(s.lineStatus).toBe(s.read(5, 1));
    s.read(0, 1);
    expect(s.lineStatus & 1).toBe(0);
  });

  it('the divisor latch sits behind DLAB; loopback sends THR to the receiver and MCR to MSR', () => {
    const { s, out } = port();
    s.write(3, 1, 0x83);
    s.write(0, 1, 0x0c);
    s.write(1, 1, 0x00);
    expect([s.read(0, 1), s.read(1, 1)]).toEqual([0x0c, 0]);
    s.write(3, 1, 0x03);
    expect(s.read(1, 1)).toBe(0); // IER again
    s.write(4, 1, 0x1f); // loopback, all modem outputs
    expect(s.read(6, 1)).toBe(0xf0);
    for (let i = 0; i < SERIAL_FIFO_SIZE + 3; i++) s.write(0, 1, i & 0xff);
    expect(out).toEqual([]);
    expect(s.read(5, 1) & 0x03).toBe(0x03); // data ready, overrun
    expect(s.read(5, 1) & 0x02).toBe(0); // OE clears on read
    expect(s.read(0, 1)).toBe(0);
  });

  it('a 32-bit register layout (regShift 2) ignores offsets between registers', () => {
    const { s, out } = port({ regShift: 2 });
    s.write(0, 4, 0x141); // only the low byte counts
    s.write(1, 1, 0x42); // between registers: ignored
    expect(out).toEqual([0x41]);
    expect(s.read(5 << 2, 4) & 0x60).toBe(0x60);
    expect(s.read(3, 4)).toBe(0);
    expect(() => new Serial16550({ interrupt: () => {}, output: () => {}, regShift: 5 })).toThrow(RangeError);
  });

  it('hostile accesses (every offset, width and value) never throw and keep the FIFO bounded', () => {
    const { s, line } = port();
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const off = x % 16;
      if (x & 1) s.write(off, 1 << (x % 3), x >>> 8);
      else s.read(off, 1 << (x % 3));
      if (i % 7 === 0) s.enqueue([x & 0xff]);
      expect(s.state.rx.length).toBeLessThanOrEqual(SERIAL_FIFO_SIZE);
      const st = s.state;
      const pending = (st.ier & 1 && st.rx.length > 0) || (st.ier & 2 && st.threPending);
      expect(line()).toBe(Boolean(pending));
    }
  });

  it('state is plain data: a port rebuilt from it reads on where the first stopped', () => {
    const a = port();
    a.s.write(3, 1, 0x03);
    a.s.write(1, 1, 0x01);
    a.s.write(7, 1, 0x99);
    a.s.enqueue([1, 2, 3]);
    a.s.read(0, 1);
    const state = structuredClone(a.s.state);
    const b = port();
    const s2 = new Serial16550({ interrupt: () => {}, output: () => {} }, state);
    expect(s2.state).toEqual(state);
    expect([s2.read(0, 1), s2.read(0, 1), s2.read(7, 1)]).toEqual([2, 3, 0x99]);
    expect(b.edges()).toBe(0);
    expect(
      () => new Serial16550({ interrupt: () => {}, output: () => {} }, { ...state, rx: new Array(65).fill(0) }),
    ).toThrow(RangeError);
    expect(() => new Serial16550({ interrupt: () => {}, output: () => {} }, { ...state, lcr: 256 })).toThrow(
      RangeError,
    );
  });
});
