#!/usr/bin/env bash
# tools/deps.sh [build|all] — install the Debian packages wgpack needs that are missing:
# `build` those the build needs, `run` those `make demo` needs to run the bundle it builds (node,
# Chromium with SwiftShader's Vulkan), `all` (default) those of the tests too.
# Prints nothing and installs nothing when every package is present. Installs through
# apt-get as root, or through sudo; with neither, prints one line naming the command to run
# and exits 1. `make demo`, `make check` and `make deps` call it.
set -euo pipefail
BUILD_PKGS="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev
            libzstd-dev libarchive-dev libxxhash-dev libjansson-dev libssl-dev libsqlite3-dev
            clang lld"
TEST_PKGS="libcriterion-dev nodejs npm time chromium libvulkan1 libclang-rt-14-dev strace"
case "${1:-all}" in
  build) PKGS=$BUILD_PKGS ;;
  run) PKGS="nodejs npm chromium libvulkan1" ;;
  all) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
  *) echo "usage: tools/deps.sh [build|run|all]" >&2; exit 2 ;;
esac
missing=""
# dpkg-query prints nothing for packages it has never heard of: those count as missing too
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing="$missing $p"
done
# node may come from elsewhere than Debian (the machines ship node 20): only needed if absent
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | { grep -vx -e nodejs -e npm || true; } | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null; then
  SUDO=sudo
else
  echo "wgpack: missing Debian packages; as root run: apt-get update && apt-get install -y --no-install-recommends $missing" >&2
  exit 1
fi
echo "wgpack: installing Debian packages: $missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
