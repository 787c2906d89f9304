# tests/e2e_run.sh — `wgpack run`: a bundle's model in WebGPU (headless Chromium through
# tools/web/run_model.mjs) against the C reference of the same stored weights, and everything
# that must be refused before a runtime starts. Sourced by tests/run; uses wg, assert_json
# (tests/e2e.sh) and refused (tests/e2e_hostile.sh). The runtime tests need node_modules
# (playwright-core, webgpu, deno: tools/npm-deps.sh) and /usr/bin/chromium; they fail without
# them.

# wgpack run starts a browser and runs the reference too: under ASan that passes wg's 120 s
wg_run() { timeout 900 "$WGPACK" run "$@"; }

# run_refused RC MSG NAME ARGS...: `wgpack run ARGS` exits RC with one line naming NAME and
# MSG, nothing on stdout, no work directory left behind and no --reference-out written
run_refused() {
  local want=$1 msg=$2 name=$3; shift 3
  refused "$want" "$msg" "$name" wg_run "$@" --reference-out "$TMPDIR/ref.f32" || return 1
  [ ! -e "$TMPDIR/ref.f32" ] && ! ls "$TMPDIR" | grep -q '^wgpack-run-' || return 1
}

t_run_refuses_bad_arguments() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null || return 1
  wg_run --help | grep -q "^usage: wgpack run BUNDLE" || return 1
  run_refused 1 "expected BUNDLE" "wgpack run" || return 1
  run_refused 1 "expected BUNDLE" "wgpack run" "$TMPDIR/b" || return 1
  run_refused 1 "--engine must be" "wgpack run" "$TMPDIR/b" --text README.md --engine firefox || return 1
  run_refused 1 "--max-tokens must be" "wgpack run" "$TMPDIR/b" --text README.md --max-tokens 1 || return 1
  run_refused 1 "--reference-only runs no runtime" "wgpack run" "$TMPDIR/b" --text README.md --reference-only --generate 4 || return 1
  run_refused 2 "cannot open token file" "$TMPDIR/none.txt" "$TMPDIR/b" --tokens "$TMPDIR/none.txt" || return 1
  echo "1 2 999" > "$TMPDIR/t.txt"
  run_refused 2 "outside the vocabulary" "$TMPDIR/t.txt" "$TMPDIR/b" --tokens "$TMPDIR/t.txt" || return 1
}

t_run_refuses_what_is_not_a_runnable_bundle() {
  run_refused 2 "cannot read manifest" "$TMPDIR/nothing/manifest.json" "$TMPDIR/nothing" --text README.md || return 1
  # a model type without a template: the manifest says why, and so does run, in one line
  cp -r models/tinyllama "$TMPDIR/x" && sed -i 's/"model_type": *"llama"/"model_type": "rwkv"/' "$TMPDIR/x/config.json"
  wg build "$TMPDIR/x" -o "$TMPDIR/g" > /dev/null || return 1
  assert_json "$TMPDIR/g/manifest.json" '!j.program && /model type .rwkv./.test(j.program_missing)' || return 1
  run_refused 2 "cannot run: no forward program for model type 'rwkv'" "$TMPDIR/g/manifest.json" "$TMPDIR/g" --text README.md || return 1
  # an encoder generates nothing
  wg build models/tinybert -o "$TMPDIR/e" > /dev/null || return 1
  run_refused 1 "--generate needs a decoder" "wgpack: run" "$TMPDIR/e" --text README.md --generate 2 || return 1
}

# the program section is untrusted input like the rest of the manifest: each edit is refused
# (exit 2, one line naming the manifest) before anything runs or is written
t_run_refuses_a_corrupted_program_section() {
  wg build models/tinyllama -o "$TMPDIR/good" > /dev/null || return 1
  wg build models/tinybert -o "$TMPDIR/goode" > /dev/null || return 1
  zstd -dcq tests/zoo/programs-enc.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  wg build "$TMPDIR/programs/mpnet" -o "$TMPDIR/goodm" > /dev/null || return 1
  wg build "$TMPDIR/programs/modernbert" -o "$TMPDIR/goodb" > /dev/null || return 1
  local edit msg
  while IFS='|' read -r dir edit msg; do
    rm -rf "$TMPDIR/t"; cp -r "$TMPDIR/$dir" "$TMPDIR/t"
    node -e 'const fs=require("fs"),f=process.argv[1],m=JSON.parse(fs.readFileSync(f)),P=m.program,L=P.stages[1].ops,W=n=>P.values.find(v=>v.name===n);
      eval(process.argv[2]); fs.writeFileSync(f,JSON.stringify(m))' "$TMPDIR/t/manifest.json" "$edit" || return 1
    run_refused 2 "$msg" "$TMPDIR/t/manifest.json" "$TMPDIR/t" --text README.md || { echo "edit: $edit"; return 1; }
  done <<'EDITS'
good|L[0].op="conv9d"|op "conv9d" is not in the op table
good|L[1].args.weight="no.such"|names no value of the program
good|W("model.layers.0.self_attn.k_proj.weight").rows=64|the bundle's tensor is 128x256
good|W("model.norm.weight").name="model.nope"|names no float tensor of the bundle
good|W("x").width=100|y is not a row of the table
good|delete L[0].fields.eps|fields are not exactly 6
good|L[0].fields.n="S*x"|is not SYMBOL*POSITIVE_INTEGER
good|L.find(o=>o.op==="attention").fields.heads=3|heads, kv_heads, hd, causal or window out of range
good|L.find(o=>o.op==="attention").fields.hd=6|heads, kv_heads, hd, causal or window out of range
good|L.find(o=>o.op==="attention").fields.T="S"|n, pos0, T or stride inconsistent
good|L.find(o=>o.op==="attention").fields.alibi=65|scale, softcap or alibi out of range
good|L.find(o=>o.op==="attention").fields.alibi="S"|scale, softcap or alibi out of range
good|L[0].args.y=L[0].args.x|also bound to another operand
good|L[1].args.y="model.norm.weight"|not a value of the kind the op takes
good|P.version=2|version missing or out of range
good|P.extra=1|unknown key "extra"
good|m.program=[]|program: not an object
good|P.rope.theta=0|theta missing or out of range
good|P.stages=[]|stages not empty
good|L.find(o=>o.op==="rope_kv").fields.rot=30|rot is not the program's rotary table
good|P.outputs={logits:"nothing"}|output 'nothing' is not an activation
goode|P.position_ids.rule="alibi"|position_ids rule "alibi"
goode|L.find(o=>o.op==="add").fields.count="S*7"|count or widths inconsistent
goode|L.find(o=>o.op==="attention").fields.causal=1|n, pos0, T or stride inconsistent
goode|P.head.rows="middle"|head: rows "middle" is not all or first
goode|P.head.task="question-answering"|head: task "question-answering" is not fill-mask
goode|P.head.value="nothing"|head 'nothing' is not an activation
goode|P.head.problem_type="";P.head.labels=["a"]|the head has 1 labels for 260 outputs
goode|P.head.problem_type="ranking";P.head.labels=[]|problem_type is not
goodm|P.relative_buckets.bucket[0]=99|bucket 99 past the bias's 32 rows
goodm|P.relative_buckets.bucket.pop()|bucket is not 2 x max_distance + 1 integers
goodm|L.find(o=>o.op==="encoder_attention").fields.rel_max=64|buckets is not the program's rel_buckets of rel_max
goodm|delete L.find(o=>o.op==="encoder_attention").args.bias|window, has_bias or rel_max out of range
goodm|L.find(o=>o.op==="encoder_attention").fields.T=7|n, T or stride inconsistent
goodb|delete P.rope_local|rot is not the program's rotary table
goodb|P.rope_local={theta:1}|theta missing or out of range
EDITS
}

# the reference is the verify reference of the same quantized weights: equal to the last bit
t_run_reference_is_verify_of_the_same_plan() {
  wg build models/tinyllama -o "$TMPDIR/m" --preset mixed > /dev/null || return 1
  wg build models/tinyllama -o "$TMPDIR/p" --target-bits 4.5 > /dev/null || return 1
  local b p
  for b in "m:--preset mixed" "p:--target-bits 4.5"; do
    p=${b#*:}; b=${b%%:*}
    wg_run "$TMPDIR/$b" --text tools/train_tiny_lm.py --max-tokens 200 --reference-only --json > "$TMPDIR/r.json" || return 1
    wg verify models/tinyllama --text tools/train_tiny_lm.py --max-tokens 200 $p --json > "$TMPDIR/v.json" || return 1
    node -e 'const r=require(process.argv[1]), v=require(process.argv[2]);
      if (r.reference_nll !== v.metrics.nll_quantized || r.tokens !== 200 || r.nll !== null || r.engine !== null) {
        console.error(r.reference_nll, v.metrics.nll_quantized); process.exit(1); }' "$TMPDIR/r.json" "$TMPDIR/v.json" || return 1
  done
  # the encoder: an fp16 bundle of the fp16 checkpoint holds the original weights exactly
  wg build models/tinybert -o "$TMPDIR/e" --preset fp16 > /dev/null || return 1
  wg_run "$TMPDIR/e" --text tools/train_tiny_lm.py --reference-only --reference-out "$TMPDIR/e.f32" > /dev/null || return 1
  wg verify models/tinybert --text tools/train_tiny_lm.py --preset fp16 --logits-out "$TMPDIR/v.f32" > /dev/null || return 1
  cmp "$TMPDIR/e.f32" "$TMPDIR/v.f32" || return 1
}

t_run_reference_deterministic() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null || return 1
  wg_run "$TMPDIR/b" --text tools/train_tiny_lm.py --max-tokens 192 --reference-only --json --threads 1 --reference-out "$TMPDIR/1.f32" > "$TMPDIR/1.json" || return 1
  wg_run "$TMPDIR/b" --text tools/train_tiny_lm.py --max-tokens 192 --reference-only --json --threads 2 --reference-out "$TMPDIR/2.f32" > "$TMPDIR/2.json" || return 1
  wg_run "$TMPDIR/b" --text tools/train_tiny_lm.py --max-tokens 192 --reference-only --json --threads 2 > "$TMPDIR/3.json" || return 1
  cmp "$TMPDIR/1.json" "$TMPDIR/2.json" && cmp "$TMPDIR/2.json" "$TMPDIR/3.json" && cmp "$TMPDIR/1.f32" "$TMPDIR/2.f32" || return 1
  [ "$(stat -c %s "$TMPDIR/1.f32")" = $((192 * 256 * 4)) ] || return 1
  assert_json "$TMPDIR/1.json" 'j.reference_nll>0 && j.reference_nll<5 && j.tokens===192 && j.agrees===null' || return 1
}

# ---- in WebGPU: headless Chromium on whatever adapter it finds (SwiftShader here) ----

# run_agrees BUNDLE ARGS...: wgpack run --json agrees with the reference, into $TMPDIR/run.json
run_agrees() {
  local b=$1; shift
  wg_run "$b" --json "$@" > "$TMPDIR/run.json" || { cat "$TMPDIR/run.json"; return 1; }
  assert_json "$TMPDIR/run.json" 'j.agrees===true && j.engine==="chromium" && typeof j.adapter==="string" && j.load_ms>0 && j.prefill_tokens_per_s>0' || return 1
  ! ls "$TMPDIR" | grep -q '^wgpack-run-' || return 1
}

t_run_default_model_in_chromium_mixed_and_budget() {
  wg build models/tinyllama -o "$TMPDIR/m" --preset mixed > /dev/null || return 1
  wg build models/tinyllama -o "$TMPDIR/p" --target-bits 4.5 > /dev/null || return 1
  for b in m p; do
    run_agrees "$TMPDIR/$b" --text tools/train_tiny_lm.py --max-tokens 96 --generate 8 || return 1
    assert_json "$TMPDIR/run.json" 'j.task==="causal-lm" && j.model_type==="llama" && j.tokens===96 && j.top1_agreement===1 && Math.abs(j.nll-j.reference_nll)<1e-3 && j.generated.length===8 && j.greedy_first_token_matches===true && j.decode_tokens_per_s>0' || return 1
  done
  # the text report says the same
  wg_run "$TMPDIR/m" --text tools/train_tiny_lm.py --max-tokens 32 > "$TMPDIR/r.txt" || return 1
  grep -q "^verdict:   agrees with the C reference" "$TMPDIR/r.txt" || return 1
}

# the same bundle through Firefox's stack (Deno's WebGPU: wgpu + naga), on whatever adapter
# Deno finds here
t_run_default_model_in_deno() {
  wg build models/tinyllama -o "$TMPDIR/m" > /dev/null || return 1
  wg_run "$TMPDIR/m" --text tools/train_tiny_lm.py --max-tokens 64 --generate 4 --engine deno --json > "$TMPDIR/run.json" || { cat "$TMPDIR/run.json"; return 1; }
  assert_json "$TMPDIR/run.json" 'j.agrees===true && j.engine==="deno" && j.top1_agreement===1 && j.greedy_matches===4' || return 1
}

t_run_encoder_in_chromium() {
  wg build models/tinybert -o "$TMPDIR/e" > /dev/null || return 1
  run_agrees "$TMPDIR/e" --text tools/train_tiny_lm.py || return 1
  assert_json "$TMPDIR/run.json" 'j.task==="encoder" && j.tokens===128 && j.cosine>1-1e-6 && j.nll===null && j.decode_tokens_per_s===null' || return 1
}

# a shard whose bytes changed (same size) is refused by the runtime's integrity check: exit 2,
# one line naming the shard, nothing on stdout
t_run_corrupted_shard_fails_cleanly() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null || return 1
  local s
  s=$(cd "$TMPDIR/b" && ls decoder-001-*.bin)
  printf '\x5a' | dd of="$TMPDIR/b/$s" bs=1 seek=300 conv=notrunc 2> /dev/null || return 1
  refused 2 "integrity check failed" "$s" wg_run "$TMPDIR/b" --text tools/train_tiny_lm.py --max-tokens 16 || return 1
  ! ls "$TMPDIR" | grep -q '^wgpack-run-' || return 1
}

# a bundle of an ONNX source (HF export of the BERT fixture: weight matrices renamed
# onnx::MatMul_*, stored transposed; the program's template finds them by role and layer), fp16 so
# that the runtime's output can be held to ONNX Runtime's own on the original model too
t_run_onnx_source_in_chromium_matches_onnxruntime() {
  wg build models/tinybert-onnx -o "$TMPDIR/o" --preset fp16 > /dev/null || return 1
  assert_json "$TMPDIR/o/manifest.json" 'j.program.task==="encoder" && /^onnx::MatMul_/.test(j.program.stages[1].ops[0].args.weight)' || return 1
  head -c 264 models/tinybert-onnx/ref_ids.i32 > "$TMPDIR/ids.i32"   # the first sequence: 66 ids, mask all 1
  run_agrees "$TMPDIR/o" --tokens "$TMPDIR/ids.i32" --runtime-out "$TMPDIR/h.f32" || return 1
  node -e '
    const fs = require("fs"), rd = f => { const b = fs.readFileSync(f); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
    const a = rd(process.argv[1]), r = rd(process.argv[2]).subarray(0, a.length);
    let mx = 0; for (let i = 0; i < a.length; i++) mx = Math.max(mx, Math.abs(a[i] - r[i]));
    console.log("max |runtime - onnxruntime|", mx);
    process.exit(a.length === 66 * 128 && mx < 1e-4 ? 0 : 1);' "$TMPDIR/h.f32" models/tinybert-onnx/ref_hidden.f32 || return 1
}

# rope scaling: llama3 (Llama 3.x) runs and agrees; a type the reference does not implement
# leaves the bundle without a program (the reason in the manifest, exit 2 from run)
t_run_rope_scaling_llama3_and_refused_types() {
  cp -r models/tinyllama "$TMPDIR/l3"
  node -e 'const f=process.argv[1], c=require(f); c.rope_parameters={rope_theta:10000, rope_type:"llama3", factor:8, low_freq_factor:1, high_freq_factor:4, original_max_position_embeddings:64}; require("fs").writeFileSync(f, JSON.stringify(c))' "$TMPDIR/l3/config.json"
  wg build "$TMPDIR/l3" -o "$TMPDIR/b3" > /dev/null || return 1
  assert_json "$TMPDIR/b3/manifest.json" 'j.program.rope.scaling==="llama3" && j.program.rope.original_max_positions===64' || return 1
  run_agrees "$TMPDIR/b3" --text tools/train_tiny_lm.py --max-tokens 96 || return 1
  # the scaling changes the function: the reference NLL is not the unscaled model's
  wg build models/tinyllama -o "$TMPDIR/b0" > /dev/null || return 1
  wg_run "$TMPDIR/b0" --text tools/train_tiny_lm.py --max-tokens 96 --reference-only --json > "$TMPDIR/r0.json" || return 1
  node -e 'const a=require(process.argv[1]), b=require(process.argv[2]); process.exit(Math.abs(a.reference_nll-b.nll)>1e-3 ? 0 : 1)' "$TMPDIR/r0.json" "$TMPDIR/run.json" || return 1
  cp -r models/tinyllama "$TMPDIR/y"
  node -e 'const f=process.argv[1], c=require(f); c.rope_parameters={rope_theta:10000, rope_type:"yarn", factor:4}; require("fs").writeFileSync(f, JSON.stringify(c))' "$TMPDIR/y/config.json"
  wg build "$TMPDIR/y" -o "$TMPDIR/by" > /dev/null || return 1
  assert_json "$TMPDIR/by/manifest.json" '!j.program && /rope_scaling type .yarn. is not implemented/.test(j.program_missing)' || return 1
  refused 2 "rope_scaling" "$TMPDIR/by" wg_run "$TMPDIR/by" --text tools/train_tiny_lm.py --max-tokens 16 || return 1
}

# every family with a template, on the program zoo's tiny HF checkpoints (tests/zoo/programs.tar.zst,
# the same ones the C interpreter is held to transformers' outputs with in e2e_zoo.sh): built at
# the default plan, run by the runtime's program interpreter, held to the C interpreter on the
# same stored weights (greedy steps included for causal LMs). Node's Dawn (Tint) for most,
# Deno's wgpu (naga) for every fourth, so both compilers see every op kernel.
t_run_every_family_of_the_program_zoo() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  unpack_program_zoo
  local d m i=0 n=0 engine
  for d in "$TMPDIR"/programs/*/; do
    m=$(basename "$d"); engine=node; [ $((i % 4)) -eq 3 ] && engine=deno; i=$((i+1))
    wg build "$d" -o "$TMPDIR/b-$m" > /dev/null || return 1
    g=(--generate 3); grep -q '"output": "last_hidden_state"' "$d/hf.json" && g=()
    wg_run "$TMPDIR/b-$m" --tokens "$d/ids.txt" --engine $engine "${g[@]}" --json > "$TMPDIR/$m.json" || { echo "$m ($engine):"; cat "$TMPDIR/$m.json"; return 1; }
    assert_json "$TMPDIR/$m.json" "j.agrees===true && j.tokens===$(wc -w < "$d/ids.txt")"' && (j.task==="encoder" ? j.max_rel_err<1e-5 : j.top1_agreement===1 && j.greedy_matches===3)' || return 1
    echo "$m ($engine): agrees"; n=$((n+1))
  done
  [ "$n" -eq "$(ls -d "$TMPDIR"/programs/*/ | wc -l)" ] && [ "$n" -ge 50 ]
}
