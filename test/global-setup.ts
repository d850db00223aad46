// Builds dist/ before the suite when any source under src/ or workers/ is newer than it, so
// worker threads, fixtures and child processes (which load the built package) never run
// stale code after an edit, even under a bare `vitest run`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

export default function setup(): void {
  const marker = join(root, 'dist/src/index.js');
  const built = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  if (built >= Math.max(newest(join(root, 'src')), newest(join(root, 'workers')))) return;
  console.log('global setup: dist/ is older than the sources; building (tsc -p tsconfig.build.json)');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
