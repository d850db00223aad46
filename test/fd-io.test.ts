// File-descriptor I/O straight between files and guest memory: positional (pread/pwrite) and
// streaming, on the guest map and on slices; descriptors are C ints (no wrap-around at 2^32).
import { closeSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap } from '../src/index.js';
import { expectArgError } from './helpers/expect-error.js';
import { tempFile } from './helpers/temp-file.js';

describe('positional fd I/O', () => {
  it('readFrom/writeTo at a position leave the descriptor position alone', () => {
    const { path, fd } = tempFile();
    writeFileSync(path, Buffer.from('0123456789abcdef'));
    const mem = GuestMemoryMmap.fromRanges([
      [0, 8],
      [8, 4096],
    ]);
    // reads at file offset 10, across the region boundary at guest 8
    expect(mem.readFrom(6, fd, 6, 10)).toBe(6);
    const got = new Uint8Array(6);
    mem.readSlice(got, 6);
    expect(Buffer.from(got).toString()).toBe('abcdef');
    // the descriptor still reads from its start
    const b = Buffer.alloc(2);
    readSync(fd, b, 0, 2, null);
    expect(b.toString()).toBe('01');
    mem.writeSlice(new TextEncoder().encode('XY'), 100);
    mem.writeAllTo(100, fd, 2, 4);
    expect(readFileSync(path, 'utf8')).toBe('0123XY6789abcdef');
    // the stream position moved only by the plain read above
    readSync(fd, b, 0, 2, null);
    expect(b.toString()).toBe('23');
    mem.readExactFrom(200, fd, 3, 13);
    const tail = new Uint8Array(3);
    mem.readSlice(tail, 200);
    expect(Buffer.from(tail).toString()).toBe('def');
    expect(mem.readFrom(300, fd, 10, 1000)).toBe(0); // past the end: end of file
    closeSync(fd);
  });

  it('slices and regions take a position too', () => {
    const { path, fd } = tempFile();
    writeFileSync(path, Buffer.from('hello world'));
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    const s = mem.getSlice(16, 32);
    expect(s.readFrom(0, fd, 5, 6)).toBe(5);
    const out = new Uint8Array(5);
    s.readSlice(out, 0);
    expect(Buffer.from(out).toString()).toBe('world');
    s.writeAllTo(0, fd, 5, 0);
    expect(readFileSync(path, 'utf8')).toBe('world world');
    closeSync(fd);
  });

  it('an fd or position outside its range is an argument error, never another descriptor', () => {
    const { fd } = tempFile();
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    expectArgError(() => mem.writeTo(0, fd + 2 ** 32, 4), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.readFrom(0, fd + 2 ** 32, 4), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.readFrom(0, 2 ** 31, 4), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.getSlice(0, 8).writeTo(0, fd + 2 ** 32, 4), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.readFrom(0, fd, 4, -1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.readFrom(0, fd, 4, 1.5), 'ERR_OUT_OF_RANGE');
    expectArgError(() => mem.readFrom(0, fd, 4, '0' as never), 'ERR_INVALID_ARG_TYPE');
    closeSync(fd);
  });
});
