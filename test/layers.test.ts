// The layers of DESIGN.md's table point one way: a module of src/ imports only modules of its
// own layer or of the layers below it. Parsed from the sources, so a new import that points up
// fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** The layer of a file of src/ (a path relative to src/), as DESIGN.md's table gives it. */
function layer(file: string): number {
  if (file === 'index.ts' || file.startsWith('cli/')) return 4; // the entry points
  if (/^(virtio|fdt|loader)\//.test(file) || file === 'translation-cache.ts') return 3; // emulator
  if (/^(devices|interrupts)\//.test(file)) return 2; // devices
  if (file.startsWith('runtime/')) return 1; // runtime
  return 0; // the typed API (src/*.ts, src/internal/)
}
const NAMES = ['typed API', 'runtime', 'devices', 'emulator', 'entry'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('layers', () => {
  it('every import in src/ points to its own layer or one below', () => {
    const wrong: string[] = [];
    let imports = 0;
    for (const path of sources(src)) {
      const file = relative(src, path);
      const text = readFileSync(path, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
        const target = relative(src, resolve(dirname(path), m[1]!)).replace(/\.js$/, '.ts');
        imports++;
        if (layer(target) > layer(file))
          wrong.push(`${file} (${NAMES[layer(file)]}) imports ${target} (${NAMES[layer(target)]})`);
      }
    }
    expect(imports).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });
});
