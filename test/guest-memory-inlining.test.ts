// GuestMemoryMmap's hot methods are only as fast as raw views when V8 inlines them into the
// caller's loop, and V8 inlines a function only while its bytecode stays under
// --max-inlined-bytecode-size (460 bytes). This runs a probe loop per method under
// --trace-turbo-inlining and fails when a method is no longer inlined, or grows past the limit,
// with the sizes V8 reports (Node 20-24 print them), so a change that bloats `load` or `store` fails here, not in a
// benchmark months later.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./fixtures/inlining-probe.mjs', import.meta.url));
const METHODS = ['load', 'store', 'readObj', 'writeObj', 'readUnordered', 'ld32s', 'st32', 'fetchAdd'];
/** V8's default --max-inlined-bytecode-size. */
const LIMIT = 460;

describe('GuestMemoryMmap inlining', () => {
  it('each hot method is inlined into its caller loop and stays under the bytecode limit', () => {
    const trace = execFileSync(process.execPath, ['--trace-turbo-inlining', probe], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      timeout: 120_000,
    });
    expect(trace).toContain(`probed ${METHODS.length} true`);
    const sizes: Record<string, number> = {};
    for (const m of METHODS) {
      const size = new RegExp(`<SharedFunctionInfo ${m}>\\}, bytecode size: (\\d+)`).exec(trace);
      if (size) sizes[m] = Number(size[1]);
    }
    const report = METHODS.map((m) => `${m}: ${sizes[m] ?? '?'} bytes`).join(', ');
    for (const m of METHODS) {
      const inlined = new RegExp(`Inlining .*<SharedFunctionInfo ${m}>.* into .*<SharedFunctionInfo probe_${m}>`);
      expect(inlined.test(trace), `${m} not inlined into its loop (${report})`).toBe(true);
      // Node 26's trace no longer prints sizes; there the inlining test above is the gate
      if (sizes[m] !== undefined) expect(sizes[m], `${m} (${report})`).toBeLessThan(LIMIT);
    }
  }, 150_000);
});
