#!/usr/bin/env bash
# tools/npm-deps.sh — bring node_modules in line with package-lock.json, only when it is not:
#  - node_modules/.wgpack-lock holds the SHA-256 of the lock file node_modules was last
#    checked or installed against; equal to the lock's: nothing to do (no node, no npm);
#  - otherwise, when every package the lock pins is installed at its pinned version (npm's
#    own record, node_modules/.package-lock.json), the stamp is renewed without installing;
#  - otherwise `npm ci` installs exactly the lock, then the stamp is written.
# `make check` calls it (after tools/deps.sh has made sure node and npm exist).
set -euo pipefail
cd "$(dirname "$0")/.."
STAMP=node_modules/.wgpack-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && exit 0
if [ -f node_modules/.package-lock.json ] && node -e '
  const lock = require("./package-lock.json").packages, have = require("./node_modules/.package-lock.json").packages;
  const stale = Object.keys(lock).filter(k => k && !lock[k].optional && (!have[k] || have[k].version !== lock[k].version));
  process.exit(stale.length ? 1 : 0);' 2>/dev/null; then
  echo "$want" > "$STAMP"
  exit 0
fi
echo "wgpack: installing the npm packages pinned in package-lock.json" >&2
npm ci --no-audit --no-fund --onnxruntime-node-install=skip
echo "$want" > "$STAMP"
