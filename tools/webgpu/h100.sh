#!/usr/bin/env bash
# tools/webgpu/h100.sh STEP... — the real-GPU runs, on the `device` machine (NVIDIA H100, Dawn
# from npm `webgpu` on the NVIDIA Vulkan driver), from the project root, with the kit made by
# ../shared/gpu/make-kit.sh carried as .gpu/. Results go to $OUT (or ./h100-out).
#   tune   sweep kernel shapes, write wgsl_tuned.h (copy it to formats/ here) + tune.json
#   bench  GEMV/GEMM table of the shapes in formats/wgsl_tuned.h (bench.json)
#   check  every kernel of bundles covering all formats: compiled, executed, vs the C reference
#   llama  a 1 B-parameter Llama-shaped bundle (tools/mkbench) at q4 and mixed, run by the
#          bundle runtime with --engine node: load, prefill 512, decode (run-*.json)
set -u
source .gpu/on-device.sh
export WGPACK=$PWD/.gpu/bin/wgpack OUT=${OUT:-$PWD/h100-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
W=/tmp/h100; mkdir -p $W
for step in "$@"; do
  echo "== $step ($(date -u +%FT%TZ))"
  case $step in
  tune) node tools/webgpu/tune.mjs --out "$OUT/wgsl_tuned.h" --json "$OUT/tune.json" 2>&1 | tail -60 ;;
  bench) node tools/webgpu/bench_gpu.mjs --json "$OUT/bench.json" 2>&1 | tail -120 ;;
  check)
    models="models/tinyllama models/tinygpt2 models/tinybert models/tinyllama-onnx/model.onnx"
    i=0; for m in $models; do $WGPACK inspect --json $m > $W/i$i.json; i=$((i+1)); done
    node tools/webgpu/all_formats_sets.mjs $W/i0.json $W/i1.json $W/i2.json $W/i3.json > $W/sets
    $WGPACK build models/tinyllama -o $W/default > /dev/null
    node tools/webgpu/check_kernels.mjs $W/default --json "$OUT/check-default.json" | tail -3
    i=0; for m in $models; do
      $WGPACK build $m -o $W/b$i $(sed -n "$((i+1))p" $W/sets) > /dev/null
      node tools/webgpu/check_kernels.mjs $W/b$i --json "$OUT/check-$i.json" | tail -2; i=$((i+1))
    done ;;
  llama)
    [ -x .gpu/bin/mkbench ] || { echo "no .gpu/bin/mkbench (make build/mkbench before make-kit)"; continue; }
    for p in q4 mixed; do
      .gpu/bin/mkbench --llama1b $W/llama1b > /dev/null
      $WGPACK build $W/llama1b -o $W/b-$p --preset $p > /dev/null
      $WGPACK run $W/b-$p --engine node --prefill 512 --generate 64 --json > "$OUT/run-$p.json"; cat "$OUT/run-$p.json"
    done ;;
  *) echo "unknown step $step" ;;
  esac
done
