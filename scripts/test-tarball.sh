#!/usr/bin/env bash
# Packs guestmem (`npm pack`, which builds the prebuilt addons first), then on each Node line
# installs the tarball into an empty folder with no C/C++ compiler or make on PATH, and runs the
# README's quick start there, comparing what it prints with the README. One line per Node line,
# then `N passed, M failed`.
#   npm run test:tarball            all lines (20 22 24 26)
#   npm run test:tarball -- 24      one line
#   GUESTMEM_TARBALL=path.tgz       test that tarball instead of packing one
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
lines="${*:-${GUESTMEM_NODE_LINES:-20 22 24 26}}"
work="$(mktemp -d /tmp/guestmem-tarball.XXXXXX)"
trap 'rm -rf "$work"' EXIT

tgz="${GUESTMEM_TARBALL:-}"
if [[ -z "$tgz" ]]; then
  GUESTMEM_NODE_LINES="$lines" npm pack --pack-destination "$work" >"$work/pack.log" 2>&1 ||
    { cat "$work/pack.log" >&2; echo "0 passed, 1 failed"; exit 1; }
  tgz="$(ls "$work"/guestmem-*.tgz)"
fi
echo "tarball: $(basename "$tgz"), $(stat -c %s "$tgz") bytes, $(tar tzf "$tgz" | wc -l) files" >&2
tar tzf "$tgz" | grep prebuilds/ >&2

# The quick start: the first ```js block under "## Quick start", and the output block after it.
node -e '
const fs = require("node:fs");
const md = fs.readFileSync("README.md", "utf8");
const at = md.indexOf("## Quick start");
const blocks = [...md.slice(at).matchAll(/```(\w*)\n([\s\S]*?)```/g)];
fs.writeFileSync(process.argv[1] + "/quickstart.mjs", blocks[0][2]);
fs.writeFileSync(process.argv[1] + "/expected.txt", blocks[1][2]);
' "$work"

# No compiler: g++, gcc, cc, c++ and make all fail, so only a prebuilt addon can work.
mkdir -p "$work/nocc"
for tool in g++ gcc cc c++ make; do printf '#!/bin/sh\necho "%s: not available in this test" >&2\nexit 127\n' "$tool" >"$work/nocc/$tool"; done
chmod +x "$work/nocc"/*

passed=0 failed=0
for major in $lines; do
  bin="$(bash scripts/node-line.sh "$major")" || { echo "node $major: not installed"; failed=$((failed + 1)); continue; }
  app="$work/app-$major"
  mkdir -p "$app" && cp "$work/quickstart.mjs" "$app/" && echo '{"name":"app","private":true,"type":"module"}' >"$app/package.json"
  ok=1 why=""
  if ! (cd "$app" && env PATH="$work/nocc:$bin:$PATH" npm_config_nodedir="$(dirname "$bin")" \
    npm install --no-audit --no-fund "$tgz" >install.log 2>&1); then
    ok=0 why="install failed (see below)"; cat "$app/install.log" >&2
  elif [[ -d "$app/node_modules/guestmem/build" ]]; then
    ok=0 why="compiled from source instead of using the prebuilt addon"
  else
    out="$(cd "$app" && "$bin/node" quickstart.mjs 2>&1)"
    if [[ "$out" != "$(cat "$work/expected.txt")" ]]; then ok=0 why="quick start printed: $out"; fi
  fi
  if [[ $ok == 1 ]]; then
    echo "node $("$bin/node" --version): tarball installed without a compiler, quick start ok"; passed=$((passed + 1))
  else
    echo "node $("$bin/node" --version): FAILED: $why"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
