# tests/e2e_bert.sh — the BERT-family encoder end to end: models/tinybert (a byte-level
# BertForMaskedLM trained by tools/train_tiny_bert.py) classified by inspect, its C reference
# forward pass checked against torch through the CLI, and `wgpack verify` on quantized weights.
# Sourced by tests/run; uses wg and assert_json from tests/e2e.sh. Every check ends in
# `|| return 1`: tests/run calls each test inside `if ( ... )`, where bash ignores set -e.

t_bert_inspect_safetensors_and_onnx() {
  wg inspect --json models/tinybert > "$TMPDIR/o.json" || return 1
  assert_json "$TMPDIR/o.json" 'j.family==="bert" && j.totals.tensors===58 && j.totals.parameters===662020' || return 1
  assert_json "$TMPDIR/o.json" 'j.config.num_layers===3 && j.config.num_heads===4 && j.config.type_vocab_size===2 && j.config.hidden_act==="gelu" && j.config.layer_norm_eps===1e-12 && j.config.pad_token_id===256' || return 1
  assert_json "$TMPDIR/o.json" 'const r=n=>j.tensors.find(t=>t.name===n); r("bert.encoder.layer.2.attention.self.query.weight").role==="attn_q" && r("bert.encoder.layer.2.attention.self.query.weight").layer===2 && r("bert.encoder.layer.0.output.dense.weight").role==="ffn_down" && r("bert.embeddings.word_embeddings.weight").component==="embeddings" && r("bert.encoder.layer.1.intermediate.dense.weight").component==="text_encoder"' || return 1
  # the ONNX export (TorchScript exporter: generic onnx::MatMul_N names): roles and layers come
  # from the node names
  wg inspect --json models/tinybert-onnx/model.onnx > "$TMPDIR/x.json" || return 1
  assert_json "$TMPDIR/x.json" 'j.family==="bert" && ["attn_q","attn_k","attn_v","attn_out","ffn_up","ffn_down"].every(r=>j.tensors.filter(t=>t.role===r && t.component==="text_encoder").length===3)' || return 1
  assert_json "$TMPDIR/x.json" 'j.tensors.filter(t=>t.name.startsWith("onnx::MatMul")).every(t=>t.layer>=0 && t.layer<=2)' || return 1
}

# the first reference sequence (66 tokens, no padding) through the CLI against torch's fp32
# last_hidden_state; tolerance as in tests/unit/test_bert.c
t_bert_verify_matches_torch() {
  head -c $((66 * 4)) models/tinybert/ref_ids.i32 > "$TMPDIR/ids.i32" || return 1
  head -c $((66 * 128 * 4)) models/tinybert/ref_hidden.f32 > "$TMPDIR/ref.f32" || return 1
  wg verify models/tinybert --tokens "$TMPDIR/ids.i32" --ref-logits "$TMPDIR/ref.f32" --json > "$TMPDIR/v.json" || return 1
  assert_json "$TMPDIR/v.json" 'j.family==="bert" && j.metrics.positions===66 && j.metrics.hidden_max_abs_err<1e-4 && j.metrics.hidden_min_token_cosine>1-1e-7' || return 1
  # a reference of the wrong length is refused with one line naming it
  head -c 1000 models/tinybert/ref_hidden.f32 > "$TMPDIR/short.f32" || return 1
  set +e; wg verify models/tinybert --tokens "$TMPDIR/ids.i32" --ref-logits "$TMPDIR/short.f32" 2> "$TMPDIR/err"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q "short.f32: expected exactly 8448 f32 values" "$TMPDIR/err" && [ "$(wc -l < "$TMPDIR/err")" = 1 ] || return 1
}

# original vs quantized weights: fp16 is exact (the checkpoint is fp16), q8 is close, q4 less
t_bert_verify_quantized() {
  wg verify models/tinybert --text tools/train_tiny_lm.py --preset fp16 --json > "$TMPDIR/f.json" || return 1
  assert_json "$TMPDIR/f.json" 'j.metrics.positions===128 && j.metrics.hidden_cosine===1 && j.metrics.hidden_max_abs_err===0' || return 1
  wg verify models/tinybert --text tools/train_tiny_lm.py --preset q8 --json > "$TMPDIR/q8.json" || return 1
  wg verify models/tinybert --text tools/train_tiny_lm.py --preset q4 --json --threads 1 \
      --logits-out "$TMPDIR/h.f32" > "$TMPDIR/q4.json" || return 1
  wg verify models/tinybert --text tools/train_tiny_lm.py --preset q4 --json --threads 3 > "$TMPDIR/q4b.json" || return 1
  cmp "$TMPDIR/q4.json" "$TMPDIR/q4b.json" || return 1
  [ "$(stat -c %s "$TMPDIR/h.f32")" = $((128 * 128 * 4)) ] || return 1
  node -e 'const a=require(process.argv[1]), b=require(process.argv[2]);
    const ok=a.plan.preset==="q8" && a.metrics.hidden_cosine>0.9999 && a.metrics.hidden_max_rel_err<0.05 &&
      b.metrics.hidden_cosine<a.metrics.hidden_cosine && b.metrics.hidden_cosine>0.95 && b.plan.bits_per_weight<a.plan.bits_per_weight;
    if(!ok){console.error(JSON.stringify([a.metrics,b.metrics])); process.exit(1);}' "$TMPDIR/q8.json" "$TMPDIR/q4.json" || return 1
  wg verify models/tinybert --text tools/train_tiny_lm.py > "$TMPDIR/t.txt" || return 1
  grep -q "^hidden:    cosine 0\.99" "$TMPDIR/t.txt" || return 1
}
