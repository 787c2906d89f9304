#!/usr/bin/env bash
# tools/webgpu/h100.sh STEP... — the real-GPU runs, on the `device` machine (NVIDIA H100, Dawn
# from npm `webgpu` on the NVIDIA Vulkan driver), from the project root, with the kit made by
# ../shared/gpu/make-kit.sh carried as .gpu/. Results go to $OUT (or ./h100-out).
#   tune   sweep kernel shapes, write wgsl_tuned.h (copy it to formats/ here) + tune.json
#   bench  GEMV/GEMM table of the shapes in formats/wgsl_tuned.h (bench.json)
#   check  every kernel of bundles covering all formats: compiled, executed, vs the C reference
#   zoo    the C reference vs HF transformers on the zoo's llama/mistral/qwen2/bert/roberta/
#          xlm-roberta/distilbert models
#   rope   the C reference vs HF transformers' logits: no rope scaling, linear, llama3
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
    # tools/mkbench's default checkpoint: 0.95 B parameters (hidden 2048, 16 layers, intermediate
    # 5632, 16 heads, vocab 32000, untied head), fp16 pseudo-random weights
    [ -x .gpu/bin/mkbench ] || { echo "no .gpu/bin/mkbench (make build/mkbench before make-kit)"; continue; }
    [ -d $W/llama1b ] || .gpu/bin/mkbench $W/llama1b > /dev/null
    node -e 'const b=Buffer.alloc(4*512); for(let i=0;i<512;i++) b.writeInt32LE((i*7919+13)%32000,4*i); require("fs").writeFileSync(process.argv[1],b)' $W/tok512.i32
    head -c 256 $W/tok512.i32 > $W/tok64.i32
    for p in ${PRESETS:-q4 mixed}; do
      s=$(date +%s%N); $WGPACK build $W/llama1b -o $W/b-$p --preset $p --force > /dev/null
      echo "build $p: $(( ($(date +%s%N) - s) / 1000000 )) ms"
      # speed: load, prefill of 512 tokens (one pass), greedy decode of 128, read ceiling
      mkdir -p $W/r-$p
      node tools/web/run_model.mjs --engine node --bundle $W/b-$p --tokens $W/tok512.i32 --out $W/r-$p \
        --generate 128 --max-seq 640 --chunk 512 --bench; cp $W/r-$p/result.json "$OUT/speed-$p.json"
      node -e 'const r=require(process.argv[1]); console.log(JSON.stringify(r, (k,v)=>k==="generated"?undefined:v))' "$OUT/speed-$p.json"
      # agreement with the C reference of the same quantized weights (64 tokens)
      $WGPACK run $W/b-$p --tokens $W/tok64.i32 --engine node --json > "$OUT/run-$p.json"; echo "wgpack run: exit $?"
      head -c 1500 "$OUT/run-$p.json"; echo
    done ;;
  rope)
    # the C reference (so the runtime, held to it by wgpack run) against HF transformers' own
    # logits, with no rope scaling, linear and llama3 scaling on the default model's weights
    for v in none linear llama3; do
      rm -rf $W/rope-$v; cp -r models/tinyllama $W/rope-$v
      python3 - $W/rope-$v/config.json $v <<'PY'
import json, sys
p, v = sys.argv[1], sys.argv[2]
c = json.load(open(p))
if v == 'linear': c['rope_parameters'] = {"rope_theta": 10000.0, "rope_type": "linear", "factor": 4.0}
if v == 'llama3': c['rope_parameters'] = {"rope_theta": 10000.0, "rope_type": "llama3", "factor": 8.0,
                  "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
json.dump(c, open(p, 'w'))
PY
      python3 tools/hf_logits.py $W/rope-$v tools/train_tiny_lm.py 200 $W/rope-$v.f32 2>&1 | tail -1
      $WGPACK verify $W/rope-$v --text tools/train_tiny_lm.py --max-tokens 200 --ref-logits $W/rope-$v.f32 --json > "$OUT/rope-$v.json"
      echo "verify: exit $?"; head -c 700 "$OUT/rope-$v.json"; echo
    done ;;
  zoo)
    # the C reference against HF transformers on the zoo's models of the families the runtime
    # runs (tests/zoo: tiny configs, random weights); the models travel unpacked in zoo-run/
    # (make them with: mkdir zoo-run && tar -C zoo-run --zstd -xf tests/zoo/zoo.tar.zst)
    python3 -c "print(' '.join(str((i*7+3)%64) for i in range(40)))" > $W/ztok.txt
    for m in llama mistral qwen2 bert roberta xlm-roberta distilbert; do
      n=40; case $m in *bert*) n=24 ;; esac   # the encoders' position tables hold 32 (RoBERTa's from 2)
      python3 tools/hf_logits.py zoo-run/zoo/$m $W/ztok.txt $n $W/zoo-$m.f32 2>&1 | tail -1
      $WGPACK verify zoo-run/zoo/$m --tokens $W/ztok.txt --max-tokens $n --ref-logits $W/zoo-$m.f32 --json > "$OUT/zoo-$m.json"
      echo "verify $m: exit $?"
    done ;;
  *) echo "unknown step $step" ;;
  esac
done
