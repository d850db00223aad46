// Real temporary files for file-backed mappings and fd I/O; removed after each test file.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'guestmem-test-'));
const fds: number[] = [];
let n = 0;

afterAll(() => {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed by the test
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a new temp file read-write, sized to `size` bytes (zeros), optionally with `content`. */
export function tempFile(size = 0, content?: Uint8Array): { fd: number; path: string } {
  const path = join(dir, `f${n++}`);
  const fd = openSync(path, 'w+');
  fds.push(fd);
  if (content) writeSync(fd, content, 0, content.length, 0);
  if (size > 0) ftruncateSync(fd, size);
  return { fd, path };
}
