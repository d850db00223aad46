// Shared harness for bench/*.bench.js: every case is measured with mitata (warm-up, many
// samples, do_not_optimize) in the same process as its raw baseline, and reported as a ratio.
//
// A case's function performs `ops` operations per call (a loop over a precomputed address
// table), so per-op times are not dominated by the harness's own call.
import { measure, do_not_optimize } from 'mitata';

export { do_not_optimize };

/**
 * @typedef {object} Case
 * @property {string} name      e.g. 'guest load(u32)'
 * @property {string} group     e.g. 'scalar hot 64 KiB'
 * @property {() => unknown} fn one call = `ops` operations
 * @property {number} ops       operations per call
 * @property {number} [bytes]   bytes moved per operation (reports GB/s instead of ns/op)
 * @property {string} [baseline] name of the case in the same group this one is compared with
 * @property {string[]} [also]  further cases of the group to give the ratio against (printed after the baseline's)
 */

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/**
 * Measures a group's cases in interleaved rounds (each round measures every case of the group
 * once, briefly) and keeps the median of the rounds' medians, so slow drift in the machine's
 * speed (shared cores, frequency changes) hits a case and its baseline alike.
 * @param {string} file
 * @param {Case[]} cases
 * @param {{ print?: boolean }} [options] print: false returns the results without printing them
 */
export async function runCases(file, cases, options = {}) {
  const samples = new Map(cases.map((c) => [c, []]));
  const groups = [...new Set(cases.map((c) => c.group))];
  for (const g of groups) {
    const members = cases.filter((c) => c.group === g);
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of members) {
        const stats = await measure(c.fn, { min_cpu_time: 40e6, warmup_samples: round === 0 ? 20 : 2 });
        samples.get(c).push(stats.p50 / c.ops);
      }
    }
  }
  const results = cases.map((c) => {
    const v = samples.get(c).sort((a, b) => a - b);
    const nsPerOp = v[v.length >> 1];
    return {
      file,
      group: c.group,
      name: c.name,
      baseline: c.baseline ?? null,
      nsPerOp,
      spread: v[v.length - 1] / v[0],
      gbps: c.bytes ? c.bytes / nsPerOp : null,
    };
  });
  for (const r of results) {
    if (!r.baseline) continue;
    const base = results.find((b) => b.group === r.group && b.name === r.baseline);
    // For time, ratio = ours / baseline (lower is better); for throughput, baseline / ours too,
    // i.e. always "how many times the baseline's time we take".
    r.ratio = base ? r.nsPerOp / base.nsPerOp : null;
  }
  for (const c of cases) {
    if (!c.also) continue;
    const r = results.find((x) => x.group === c.group && x.name === c.name);
    r.also = Object.fromEntries(
      c.also.map((name) => {
        const o = results.find((x) => x.group === c.group && x.name === name);
        return [name, o ? r.nsPerOp / o.nsPerOp : null];
      }),
    );
  }
  if (options.print === false) return results; // the caller reports them with its own
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(results) + '\n');
  } else {
    printTable(results);
  }
  return results;
}

/** A time per op in ns, µs or ms, whichever reads best. */
function formatTime(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms/op`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs/op`;
  return `${ns.toFixed(2)} ns/op`;
}

/** The results as a text table (one line per case), as printed by printTable. */
export function formatTable(results) {
  const rows = results.map((r) => [
    r.group,
    r.name,
    r.gbps ? `${r.gbps.toFixed(2)} GB/s` : formatTime(r.nsPerOp),
    (r.baseline ? `${r.ratio?.toFixed(2)}x ${r.baseline}` : 'baseline') +
      Object.entries(r.also ?? {})
        .map(([name, ratio]) => `; ${ratio?.toFixed(2)}x ${name}`)
        .join('') +
      (typeof r.speedup === 'number' && !r.name.endsWith(' 1 worker')
        ? `; ${r.speedup.toFixed(2)}x 1 worker's throughput`
        : ''),
  ]);
  const head = ['group', 'case', 'result', 'time vs baseline'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cols) =>
    cols
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function printTable(results) {
  console.log(formatTable(results));
}

/** A deterministic PRNG (xorshift32), so every run and every case uses the same addresses. */
export function rng(seed = 0x9e3779b9) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * A case's loop as a function of its own: `body` (the loop's source, with `s` as the sum it
 * hands to do_not_optimize) compiled once per call with `bindings` as its free variables. Two
 * closures of one source text share V8's type feedback and are not specialized to what they
 * capture, while a loop written out once is; compiling every case's loop this way, baseline and
 * guest alike, keeps a comparison from turning on that difference.
 * @param {string} name  the function's name (shows in profiles)
 * @param {Record<string, unknown>} bindings
 * @param {string} body
 * @returns {() => void}
 */
export function freshLoop(name, bindings, body) {
  const names = Object.keys(bindings);
  const make = new Function(...names, 'dno', `return function ${name}() { ${body}\n dno(s); };`);
  return make(...names.map((n) => bindings[n]), do_not_optimize);
}
