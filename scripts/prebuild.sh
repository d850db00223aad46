#!/usr/bin/env bash
# Builds the native addon once per supported Node line into
#   prebuilds/linux-x64/node.abi<NODE_MODULE_VERSION>.glibc.node
# which node-gyp-build loads when no local build/Release exists (an install from the packed
# tarball on a listed line needs no compiler). Runs as `npm run prebuilds` and before `npm pack`.
# Each line builds in its own scratch folder, so the project's build/ is left alone.
#   GUESTMEM_NODE_LINES   the majors to build (default: 20 22 24 26)
set -euo pipefail
cd "$(dirname "$0")/.."
lines="${GUESTMEM_NODE_LINES:-20 22 24 26}"
command -v node-gyp >/dev/null || { echo "prebuild.sh: run it as 'npm run prebuilds' (node-gyp comes with npm)" >&2; exit 2; }
out=prebuilds/linux-x64
rm -rf "$out" .prebuild-work
mkdir -p "$out"
for major in $lines; do
  bin="$(bash scripts/node-line.sh "$major")"
  work=".prebuild-work/$major"
  mkdir -p "$work"
  cp -r binding.gyp native "$work/"
  abi="$("$bin/node" -p process.versions.modules)"
  echo "prebuild.sh: Node $("$bin/node" --version) (abi $abi)" >&2
  (cd "$work" && PATH="$bin:$PATH" npm_config_nodedir="$(dirname "$bin")" node-gyp rebuild >build.log 2>&1) ||
    { cat "$work/build.log" >&2; exit 1; }
  cp "$work/build/Release/guestmem.node" "$out/node.abi$abi.glibc.node"
  strip --strip-unneeded "$out/node.abi$abi.glibc.node" 2>/dev/null || true
  # the build must load on its own line (the addon checks the Node major itself)
  "$bin/node" -e "require('./$out/node.abi$abi.glibc.node')"
done
rm -rf .prebuild-work
ls -l "$out" >&2
