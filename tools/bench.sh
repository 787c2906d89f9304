#!/usr/bin/env bash
# tools/bench.sh — `make bench`: speed and memory as ratios against cp in the same run.
# Input: tools/mkbench (HF-Llama-shaped fp16 safetensors, ~1.9 GB), generated once into
# $BENCH_DIR (default build/bench). All runs read from a warm page cache (the file is read
# once first), so the ratios compare CPU work against the I/O bound of copying the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BENCH_DIR:-build/bench}
W=./wgpack
mkdir -p "$B/model"
[ -f "$B/model/model.safetensors" ] || { echo "generating benchmark model in $B/model ..."; ./build/mkbench "$B/model"; }
mkdir -p "$B/out"
cat "$B/model/model.safetensors" > /dev/null
SIZE=$(stat -c %s "$B/model/model.safetensors")

run() { # run NAME CMD... -> prints "NAME seconds peak_rss_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$B/out/time" "$@" > /dev/null 2> "$B/out/err" || { cat "$B/out/err"; exit 1; }
  read -r secs rss < "$B/out/time"
  echo "$name $secs $rss"
}

{
run cp                   cp "$B/model/model.safetensors" "$B/out/copy.bin"
rm -f "$B/out/copy.bin"
run "q4-rtn-2threads"    $W quantize "$B/model" --preset q4 --rtn --threads 2 -o "$B/out/q4.safetensors"
run "q4-rtn-1thread"     $W quantize "$B/model" --preset q4 --rtn --threads 1 -o "$B/out/q4.safetensors"
run "mixed-search"       $W quantize "$B/model" --preset mixed --threads 2 -o "$B/out/mixed.safetensors"
run "planner-4.5bits"    $W quantize "$B/model" --target-bits 4.5 --threads 2 --dry-run
run "build-mixed-bundle" $W build "$B/model" --preset mixed --threads 2 -o "$B/out/bundle" --force
run "build-q4-rtn-bundle" $W build "$B/model" --preset q4 --rtn --threads 2 -o "$B/out/bundle" --force
} > "$B/out/results"

awk -v size="$SIZE" '
  $1=="cp" {cp=$2}
  {name[NR]=$1; t[NR]=$2; rss[NR]=$3}
  END {
    printf "| run | seconds | x cp | MB/s | peak RSS (MB) |\n|---|---|---|---|---|\n";
    for (i=1;i<=NR;i++) printf "| %s | %.2f | %.2f | %.0f | %.0f |\n", name[i], t[i], t[i]/cp, size/1e6/t[i], rss[i]/1024;
  }' "$B/out/results"
t1=$(awk '$1=="q4-rtn-1thread"{print $2}' "$B/out/results"); t2=$(awk '$1=="q4-rtn-2threads"{print $2}' "$B/out/results")
awk -v a="$t1" -v b="$t2" 'BEGIN{printf "speed-up 1 -> 2 threads (q4 rtn): %.2fx\n", a/b}'
echo "input: $SIZE bytes ($(nproc) cores)"

# ---- WGSL GEMV on real WebGPU (Dawn on SwiftShader, a CPU implementation: ratios only)
echo
echo "WGSL GEMV, one 4096x4096 weight, every profile's f32 variant:"
[ -f "$B/g4096.safetensors" ] || ./build/mkbench --gemv "$B/g4096.safetensors"
$W build "$B/g4096.safetensors" -o "$B/out/g-q4" --preset q4 --rtn --shard-size 64MiB --force > /dev/null
$W build "$B/g4096.safetensors" -o "$B/out/g-fp16" --preset fp16 --shard-size 64MiB --force > /dev/null
$W build "$B/g4096.safetensors" -o "$B/out/g-f32" --set '*=f32' --shard-size 64MiB --force > /dev/null
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$B/xdg}; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
node tools/webgpu/bench_kernels.mjs "$B/out/g-f32" "$B/out/g-fp16" "$B/out/g-q4"
