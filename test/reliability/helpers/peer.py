#!/usr/bin/env python3
"""Another process on the same file as guestmem, for the durability tests.

  peer.py read PATH OFFSET LENGTH        prints sha256 of those bytes of the file (plain read)
  peer.py mmap-read PATH OFFSET LENGTH   the same through its own MAP_SHARED mapping
  peer.py mmap-write PATH OFFSET SEED LENGTH
                                         writes pattern(SEED, LENGTH) at OFFSET through a
                                         MAP_SHARED mapping and flushes it; prints its sha256
The pattern is byte i = (SEED + i * 131 + (i >> 8)) & 0xff, the same as the tests compute.
"""
import hashlib
import mmap
import os
import sys


def pattern(seed: int, length: int) -> bytes:
    return bytes((seed + i * 131 + (i >> 8)) & 0xFF for i in range(length))


def main() -> int:
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "read":
        offset, length = int(sys.argv[3]), int(sys.argv[4])
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            print(f"short read: {len(data)} of {length}", file=sys.stderr)
            return 2
        print(hashlib.sha256(data).hexdigest())
        return 0
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            if cmd == "mmap-read":
                offset, length = int(sys.argv[3]), int(sys.argv[4])
                print(hashlib.sha256(m[offset : offset + length]).hexdigest())
            elif cmd == "mmap-write":
                offset, seed, length = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
                data = pattern(seed, length)
                m[offset : offset + length] = data
                m.flush()
                print(hashlib.sha256(data).hexdigest())
            else:
                print(f"unknown command {cmd}", file=sys.stderr)
                return 2
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
