#!/usr/bin/env bash
# tools/bench_large.sh — `make bench-large [LAYERS=N]`: `build` on a 7B-class checkpoint.
# Input: tools/mkbench --7b, Llama-2-7B's shape in fp16 (32 layers: 6.74 B parameters,
# 13.5 GB in three hub-style shards with model.safetensors.index.json), generated once into
# $BENCH_DIR/large-L<LAYERS>. LAYERS=N makes the same shape with N layers, for smaller disks.
# Measures cp of the shards (warm page cache), then build at q4 (the default error-minimising
# search) and with the planner at 4.5 bits per weight: seconds, x cp, peak RSS, shards and the
# largest shard of each bundle. Not part of `make check`.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${LAYERS:-32}
B=${BENCH_DIR:-build/bench}
M="$B/large-L$LAYERS"
O="$B/large-out"
W=./wgpack
# bytes the shape needs: embeddings + head + per layer (4 h^2 + 3 h i + 2 h), fp16
need_in=$(( 2 * (2 * 32000 * 4096 + LAYERS * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096) + 4096) ))
have_in=0
[ -f "$M/model.safetensors.index.json" ] && have_in=1
mkdir -p "$B"
free=$(( $(df -B1 --output=avail "$B" | tail -1) ))
# input (unless generated) + its copy for cp + one bundle (~0.3 of the input) + headroom
want=$(( (1 - have_in) * need_in + need_in + need_in / 3 + (1 << 30) ))
if [ "$free" -lt "$want" ]; then
  echo "bench-large: $((free >> 30)) GiB free in $B, $((want >> 30)) GiB needed for $LAYERS layers; try LAYERS=$(( LAYERS * free / want ))" >&2
  exit 1
fi
if [ "$have_in" = 0 ]; then
  echo "generating the $LAYERS-layer 7B-shaped checkpoint in $M (once) ..."
  rm -rf "$M"
  ./build/mkbench --7b "$M.tmp" "$LAYERS"
  mv "$M.tmp" "$M"
fi
SIZE=$(cat "$M"/*.safetensors | wc -c)
echo "measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GB RAM, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $M, $(ls "$M"/*.safetensors | wc -l) shards, $SIZE bytes"

run() { # run NAME CMD... -> "NAME seconds peak_rss_kb cpu_seconds"
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$O.time" "$@" > /dev/null 2> "$O.err" || { cat "$O.err"; exit 1; }
  read -r secs rss user sys < "$O.time"
  echo "$name $secs $rss $(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')"
}
bundle_facts() { # shards and largest shard of a bundle
  node -e 'const m = require(process.argv[1]); const s = m.shards.map(x => x.bytes);
    console.log(s.length, Math.max(...s), m.totals.bundle_bytes)' "$(realpath "$1")/manifest.json"
}

cat "$M"/*.safetensors > /dev/null
rm -rf "$O" "$O.cp"
{
  run cp cp -r "$M" "$O.cp"
  rm -rf "$O.cp"
  run build-q4-search $W build "$M" --preset q4 --threads 2 -o "$O" --force
  echo "facts $(bundle_facts "$O")"
  rm -rf "$O"
  run build-planner-4.5bits $W build "$M" --target-bits 4.5 --threads 2 -o "$O" --force
  echo "facts $(bundle_facts "$O")"
  rm -rf "$O"
} > "$O.results"
awk -v size="$SIZE" '
  $1 == "cp" { cp = $2; cpcpu = $4 }
  $1 == "facts" { printf " %d | %.1f MB | %.2f GB |\n", $2, $3 / 1e6, $4 / 1e9; next }
  $1 != "cp" && $1 != "facts" { printf "| %s | %.1f | %.2f | %.1f | %.0f | %.0f (%.1f%% of input) |", $1, $2, $2 / cp, $4, size / 1e6 / $2, $3 / 1024, 100 * $3 * 1024 / size }
  BEGIN { printf "| run | seconds | x cp | CPU s | MB/s | peak RSS (MB) | shards | largest shard | bundle |\n|---|---|---|---|---|---|---|---|---|\n" }
  END { printf "cp -r of the same %.0f bytes: %.1f s (%.1f CPU s)\n", size, cp, cpcpu }' "$O.results"
rm -f "$O.results" "$O.time" "$O.err"
