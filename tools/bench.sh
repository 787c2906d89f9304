#!/usr/bin/env bash
# tools/bench.sh — `make bench`: speed and memory as ratios against cp in the same run.
# Input: tools/mkbench (HF-Llama-shaped fp16 safetensors, ~1.9 GB), generated once into
# $BENCH_DIR (default build/bench). All runs read from a warm page cache (the file is read
# once first), so the ratios compare CPU work against the I/O bound of copying the same bytes.
# The machine may be shared: every round measures cp and then each job once, and a job's ratio
# is taken against the cp of its own round; ROUNDS (default 3) rounds, medians reported, with
# the CPU seconds (user + system) each job used, which other load inflates far less than wall
# time. BENCH_BASE=/path/to/an/older/wgpack adds its q4 runs to every round, for before/after.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BENCH_DIR:-build/bench}
ROUNDS=${ROUNDS:-3}
W=./wgpack
mkdir -p "$B/model"
[ -f "$B/model/model.safetensors" ] || { echo "generating benchmark model in $B/model ..."; ./build/mkbench "$B/model"; }
mkdir -p "$B/out"
IN="$B/model/model.safetensors"
SIZE=$(stat -c %s "$IN")

echo "measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # run ROUND NAME CMD... -> appends "ROUND NAME seconds peak_rss_kb cpu_seconds"
  local round=$1 name=$2; shift 2
  /usr/bin/time -f "%e %M %U %S" -o "$B/out/time" "$@" > /dev/null 2> "$B/out/err" || { cat "$B/out/err"; exit 1; }
  read -r secs rss user sys < "$B/out/time"
  echo "$round $name $secs $rss $(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')" >> "$B/out/results"
}

: > "$B/out/results"
for r in $(seq 1 "$ROUNDS"); do
  cat "$IN" > /dev/null
  run "$r" cp                    cp "$IN" "$B/out/copy.bin"
  rm -f "$B/out/copy.bin"
  run "$r" q4-search             $W quantize "$B/model" --preset q4 --threads 2 -o "$B/out/q4s.safetensors"
  run "$r" q4-rtn                $W quantize "$B/model" --preset q4 --rtn --threads 2 -o "$B/out/q4.safetensors"
  run "$r" q4-rtn-1thread        $W quantize "$B/model" --preset q4 --rtn --threads 1 -o "$B/out/q4.safetensors"
  run "$r" planner-4.5bits       $W quantize "$B/model" --target-bits 4.5 --threads 2 -o "$B/out/p45.safetensors"
  run "$r" mixed-search          $W quantize "$B/model" --preset mixed --threads 2 -o "$B/out/mixed.safetensors"
  run "$r" build-q4-bundle       $W build "$B/model" --preset q4 --threads 2 -o "$B/out/bundle" --force
  run "$r" build-q4-rtn-bundle   $W build "$B/model" --preset q4 --rtn --threads 2 -o "$B/out/bundle" --force
  if [ -n "${BENCH_BASE:-}" ]; then
    run "$r" before:q4-search    "$BENCH_BASE" quantize "$B/model" --preset q4 --threads 2 -o "$B/out/q4s-before.safetensors"
    run "$r" before:q4-rtn       "$BENCH_BASE" quantize "$B/model" --preset q4 --rtn --threads 2 -o "$B/out/q4-before.safetensors"
    cmp "$B/out/q4s.safetensors" "$B/out/q4s-before.safetensors" && cmp "$B/out/q4.safetensors" "$B/out/q4-before.safetensors" \
      || { echo "bench: output differs from $BENCH_BASE's"; exit 1; }
  fi
done
rm -f "$B/out/"*.safetensors

# per job: median seconds, median of (seconds / cp of the same round), worst peak RSS
awk -v size="$SIZE" -v rounds="$ROUNDS" '
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { if ($2 == "cp") cp[$1] = $3
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
    k = $2 SUBSEP (++cnt[$2]); secs[k] = $3; rnd[k] = $1; cpu[k] = $5; if ($4 > rss[$2]) rss[$2] = $4 }
  END {
    target["q4-search"] = 3; target["q4-rtn"] = 1; target["planner-4.5bits"] = 4
    printf "| run | seconds (median of %d) | x cp (median) | x cp per round | CPU s (median) | MB/s | peak RSS (MB) | target |\n", rounds
    printf "|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; i++) {
      name = order[i]; list = ""
      for (j = 1; j <= cnt[name]; j++) {
        k = name SUBSEP j; s[j] = secs[k]; x[j] = secs[k] / cp[rnd[k]]; c[j] = cpu[k]
        list = list sprintf("%s%.2f", j > 1 ? " / " : "", x[j])
      }
      ms = median(s, cnt[name]); mx = median(x, cnt[name]); mc = median(c, cnt[name])
      t = name in target ? sprintf("<= %gx: %s", target[name], mx <= target[name] ? "met" : sprintf("missed by %.2fx", mx - target[name])) : ""
      printf "| %s | %.2f | %.2f | %s | %.2f | %.0f | %.0f | %s |\n", name, ms, mx, list, mc, size / 1e6 / ms, rss[name] / 1024, t
    }
    worst = 0; for (name in rss) if (name != "cp" && name !~ /^before:/ && rss[name] > worst) { worst = rss[name]; wn = name }
    printf "peak RSS: %.0f MB (%s) = %.1f%% of the %.0f MB input (target <= 10%%)\n", worst / 1024, wn, 100 * worst * 1024 / size, size / 1e6
  }' "$B/out/results"
awk '$2=="q4-rtn"{a[$1]=$3} $2=="q4-rtn-1thread"{b[$1]=$3} END{for (r in a) {s += b[r]/a[r]; n++} printf "speed-up 1 -> 2 threads (q4 rtn), mean of rounds: %.2fx\n", s/n}' "$B/out/results"
echo "input: $SIZE bytes"

[ "${BENCH_GEMV:-1}" = 0 ] && exit 0
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
