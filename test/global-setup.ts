// Builds dist/ before the suite when any source under src/ or workers/ is newer than it, so
// worker threads, fixtures and child processes (which load the built package) never run
// stale code after an edit, even under a bare `vitest run`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleBuild } from '../src/internal/stale-build.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  const stale = staleBuild(root, join(root, 'dist/src/index.js'));
  if (stale === null) return;
  console.log(`global setup: ${stale}; building (tsc -p tsconfig.build.json)`);
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
