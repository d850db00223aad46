// A driver-side bring-up of a VirtioMmioTransport for the benchmarks: features, one queue of
// `size` entries at fixed guest addresses, DRIVER_OK. Returns the queue's layout.
export function bringUp(transport, { size, desc, avail, used }) {
  const w = (off, v) => transport.write(off, 4, v);
  w(0x70, 0);
  w(0x70, 3);
  for (const sel of [0, 1]) {
    transport.write(0x14, 4, sel);
    const offered = transport.read(0x10, 4);
    w(0x24, sel);
    // accept what is offered but event indexes (bit 29): the bench polls the used index
    w(0x20, sel === 0 ? offered & ~(1 << 29) : offered);
  }
  w(0x70, 11);
  w(0x30, 0);
  w(0x38, size);
  for (const [off, a] of [
    [0x80, desc],
    [0x90, avail],
    [0xa0, used],
  ]) {
    w(off, a >>> 0);
    w(off + 4, Math.floor(a / 2 ** 32));
  }
  w(0x44, 1);
  w(0x70, 15);
  if ((transport.read(0x70, 4) & 0x44) !== 4)
    throw new Error(`virtio bring-up failed: status ${transport.read(0x70, 4)}`);
  return { size, desc, avail, used };
}
