#!/usr/bin/env bash
# tools/deps.sh — install exactly the Debian packages wgpack needs to build and test.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
PKGS="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev libzstd-dev
      libarchive-dev libxxhash-dev libjansson-dev libssl-dev libsqlite3-dev libcriterion-dev
      nodejs npm time chromium libvulkan1 clang lld libclang-rt-14-dev strace"
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null | grep -v "install ok installed" | awk '{print $1}' || true)
# dpkg-query prints nothing for packages it has never heard of: count those as missing too
for p in $PKGS; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# node may come from elsewhere than Debian (the machines ship node 20); only install if absent
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | { grep -vx -e nodejs -e npm || true; } | sort -u | tr '\n' ' ')
fi
if [ -n "${missing// /}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
