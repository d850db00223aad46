import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Why `built` (a file of dist/) cannot stand for the TypeScript sources under `root`'s src/ and
 * workers/: it is missing, or a source is newer; null when it is current. Used by VcpuPool when
 * it runs from the sources (the tests) and by the test setup that builds before the suite.
 */
export function staleBuild(root: string, built: string): string | null {
  if (!existsSync(built)) return `${built} does not exist`;
  const builtAt = statSync(built).mtimeMs;
  const walk = (dir: string): string | null => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        const r = walk(p);
        if (r !== null) return r;
      } else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > builtAt) {
        return `the build in dist/ is older than ${p}`;
      }
    }
    return null;
  };
  return walk(join(root, 'src')) ?? walk(join(root, 'workers'));
}
