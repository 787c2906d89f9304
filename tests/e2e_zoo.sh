# tests/e2e_zoo.sh — classification across model families: the zoo of tiny random-init
# HuggingFace checkpoints built by tools/zoo/make_zoo.py (tests/zoo/zoo.tar.zst: 71 families with
# PyTorch's module type per tensor as ground truth, plus two ONNX exports), judged by
# tests/zoo/check_zoo.mjs. Sourced by tests/run; uses wg and assert_json from tests/e2e.sh.

zoo_unpack() {
  zstd -dcq tests/zoo/zoo.tar.zst | tar -xf - -C "$TMPDIR"
  [ -f "$TMPDIR/zoo/llama/truth.json" ]
}

# the program zoo: every tests/zoo/programs*.tar.zst (tools/zoo/make_programs.py), each a folder
# programs/NAME per tiny HF checkpoint with transformers' own outputs; also used by e2e_run.sh
unpack_program_zoo() {
  local a
  for a in tests/zoo/programs*.tar.zst; do zstd -dcq "$a" | tar -xf - -C "$TMPDIR" || return 1; done
}

# edit_config FILE JS: the JSON file as `c`, changed by the JS, written back
edit_config() {
  node -e 'const fs=require("fs"),f=process.argv[1],c=JSON.parse(fs.readFileSync(f)); eval(process.argv[2]); fs.writeFileSync(f,JSON.stringify(c))' "$1" "$2"
}

# config_edits_refused SRC FLAG FILE < lines M|EDIT|MSG: a copy of checkpoint SRC/M with EDIT
# made to its config.json is refused by `wgpack verify COPY FLAG COPY/FILE` with one line naming MSG
config_edits_refused() {
  local src=$1 flag=$2 file=$3 m edit msg d
  while IFS='|' read -r m edit msg; do
    d="$TMPDIR/e-$m"; rm -rf "$d"; cp -r "$src/$m" "$d"
    edit_config "$d/config.json" "$edit" || return 1
    refused 2 "$msg" "$d" wg verify "$d" "$flag" "$d/$file" < /dev/null || { echo "edit: $m $edit"; return 1; }
  done
}

t_zoo_roles_families_components() {
  zoo_unpack
  # role accuracy >= 99 % over all tensors and >= 95 % per model, family === model_type,
  # components plausible for the kind, parameters === float elements (checked per model)
  if ! timeout 600 node tests/zoo/check_zoo.mjs "$WGPACK" "$TMPDIR/zoo" --json "$TMPDIR/z.json" \
       > "$TMPDIR/z.txt" 2>&1; then
    grep -v '^ok' "$TMPDIR/z.txt"; false
  fi
  tail -1 "$TMPDIR/z.txt"
  assert_json "$TMPDIR/z.json" 'j.total.models>=30 && j.total.accuracy>=99 && j.models.every(m=>m.accuracy>=95 && !m.problems.length)'
  assert_json "$TMPDIR/z.json" 'new Set(j.models.map(m=>m.kind)).size>=8 && j.onnx.length===2'
  # the families the issue named: BART is not Whisper, wav2vec2/ConvNeXt/Swin have no decoder
  assert_json "$TMPDIR/z.json" 'const f=n=>j.models.find(m=>m.name===n); f("bart").family==="bart" && !f("bart").components.includes("audio_encoder") && ["wav2vec2","convnext","swin"].every(n=>!f(n).components.includes("decoder")) && f("bloom").family==="bloom" && f("falcon").family==="falcon"'
  assert_json "$TMPDIR/z.json" 'const v=j.onnx.find(o=>o.name==="onnx-vit"); v.family!=="llama" && !v.components.includes("decoder") && v.components.includes("vision_encoder")'
}

t_zoo_checker_fails_on_wrong_truth() {
  zoo_unpack
  mkdir "$TMPDIR/one" && cp -r "$TMPDIR/zoo/bert" "$TMPDIR/one/"
  node tests/zoo/check_zoo.mjs "$WGPACK" "$TMPDIR/one" > /dev/null
  # a BERT declared a decoder-only model must fail the component check
  sed -i 's/"kind": "encoder"/"kind": "decoder"/' "$TMPDIR/one/bert/truth.json"
  set +e; node tests/zoo/check_zoo.mjs "$WGPACK" "$TMPDIR/one" > "$TMPDIR/o.txt" 2>&1; rc=$?; set -e
  [ $rc -eq 1 ] && grep -q "bert: no decoder" "$TMPDIR/o.txt"
}

t_zoo_dual_encoder_and_vlm_components() {
  zoo_unpack
  wg inspect --json "$TMPDIR/zoo/clip" > "$TMPDIR/c.json"
  assert_json "$TMPDIR/c.json" 'j.family==="clip" && j.architecture_class==="multimodal" && ["text_encoder","vision_encoder","projector"].every(c=>j.components.some(x=>x.component===c)) && !j.components.some(x=>x.component==="decoder")'
  wg inspect --json "$TMPDIR/zoo/llava" > "$TMPDIR/l.json"
  assert_json "$TMPDIR/l.json" 'j.family==="llava" && ["vision_encoder","projector","decoder","embeddings","head"].every(c=>j.components.some(x=>x.component===c))'
  assert_json "$TMPDIR/l.json" 'j.tensors.filter(t=>t.name.includes("multi_modal_projector")).every(t=>t.component==="projector")'
  # MoE: per-expert and fused expert matrices are feed-forward roles, routers plain matrices
  wg inspect --json "$TMPDIR/zoo/mixtral" > "$TMPDIR/x.json"
  assert_json "$TMPDIR/x.json" 'j.tensors.filter(t=>/experts\.\d+\.w[123]\./.test(t.name)).every(t=>t.role.startsWith("ffn_")) && j.tensors.filter(t=>t.name.endsWith("block_sparse_moe.gate.weight")).every(t=>t.role==="linear")'
  wg inspect --json "$TMPDIR/zoo/olmoe" > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.tensors.filter(t=>t.shape.length===3).length>0 && j.tensors.filter(t=>t.shape.length===3).every(t=>t.role.startsWith("ffn_"))'
}

t_inspect_graph_constants_apart() {
  # the ONNX export of the default Llama counts exactly the safetensors model's parameters;
  # shape/index tensors, scalars and the rotary table are listed apart, without a role
  wg inspect --json models/tinyllama-onnx/model.onnx > "$TMPDIR/o.json"
  assert_json "$TMPDIR/o.json" 'j.totals.parameters===2492672 && j.constants.tensors===j.constants.list.length && j.constants.tensors>=20'
  assert_json "$TMPDIR/o.json" 'j.tensors.filter(t=>t.constant).every(t=>t.role==="other" && !t.module) && j.tensors.filter(t=>t.dtype==="i64").every(t=>t.constant)'
  assert_json "$TMPDIR/o.json" 'j.roles.reduce((a,r)=>a+r.tensors,0)===j.totals.tensors-j.constants.tensors'
  wg inspect models/tinyllama-onnx/model.onnx > "$TMPDIR/o.txt"
  grep -q "^constants: $(node -e 'console.log(require(process.argv[1]).constants.tensors)' "$TMPDIR/o.json") graph constants" "$TMPDIR/o.txt"
  wg inspect --tensors models/tinyllama-onnx/model.onnx | grep -q "val_27 .* constant "
  # the safetensors model has none
  wg inspect --json models/tinyllama > "$TMPDIR/s.json"
  assert_json "$TMPDIR/s.json" 'j.constants.tensors===0 && j.totals.parameters===2492672'
}

# the forward programs against Hugging Face transformers' own outputs (fp32, eager attention) on
# tiny checkpoints of every family with a template, made on the device machine by
# tools/zoo/make_programs.py: logits or last hidden states within f32 rounding (measured
# 3e-8 .. 9e-5 absolute on logits of up to |4|), top-1 equal everywhere
t_program_every_family_agrees_with_transformers() {
  unpack_program_zoo
  local n=0 d m
  for d in "$TMPDIR"/programs/*/; do
    m=$(basename "$d")
    wg verify "$d" --tokens "$d/ids.txt" --ref-logits "$d/hf_out.f32" --json > "$TMPDIR/$m.json" || { echo "$m: verify failed"; return 1; }
    assert_json "$TMPDIR/$m.json" 'const x=j.metrics; x.logits_max_abs_err!==undefined ? x.logits_max_abs_err<5e-4 && x.top1_agreement===1 && x.logits_cosine>0.999999 : x.hidden_max_rel_err<1e-5 && x.hidden_cosine>0.999999' || { echo "$m disagrees: $(cat "$TMPDIR/$m.json")"; return 1; }
    n=$((n+1))
  done
  echo "$n checkpoints agree"
  [ "$n" -eq "$(ls -d "$TMPDIR"/programs/*/ | wc -l)" ] && [ "$n" -ge 50 ]
}

# the encoders' task heads (tools/zoo/make_heads.py: masked LM, sequence and token classification
# of six families): the head's logits and the last hidden state of the C interpreter against
# transformers'; what a head cannot be is refused by name
t_program_heads_agree_with_transformers() {
  zstd -dcq tests/zoo/heads.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  local n=0 d m
  for d in "$TMPDIR"/heads/*/; do
    m=$(basename "$d")
    wg verify "$d" --tokens "$d/ids.txt" --ref-logits "$d/hf_out.f32" --head --json > "$TMPDIR/$m.json" || { echo "$m: verify --head failed"; return 1; }
    wg verify "$d" --tokens "$d/ids.txt" --ref-logits "$d/hf_hidden.f32" --json > "$TMPDIR/$m.h.json" || { echo "$m: verify failed"; return 1; }
    assert_json "$TMPDIR/$m.json" 'j.output==="logits" && j.metrics.hidden_max_abs_err<1e-5 && j.metrics.hidden_cosine>0.999999' || { echo "$m head disagrees: $(cat "$TMPDIR/$m.json")"; return 1; }
    assert_json "$TMPDIR/$m.h.json" 'j.output==="last_hidden_state" && j.metrics.hidden_max_rel_err<1e-5' || { echo "$m hidden disagrees"; return 1; }
    n=$((n+1))
  done
  echo "$n heads agree"
  [ "$n" -ge 16 ] || return 1
  config_edits_refused "$TMPDIR/heads" --tokens ids.txt <<'EDITS' || return 1
bert-seq|c.problem_type="ranking"|problem_type "ranking" is not implemented
bert-seq|delete c.id2label["2"]|id2label has no string label for class 2
EDITS
  # a checkpoint without the weights of the head its config names is the base model
  d="$TMPDIR/e-bert-mlm"; rm -rf "$d"; cp -r "$TMPDIR/heads/bert-mlm" "$d"
  edit_config "$d/config.json" 'c.architectures=["BertForSequenceClassification"]' || return 1
  refused 2 'has no task head' "$d" wg verify "$d" --tokens "$d/ids.txt" --head || return 1
  # a base model (architectures BertModel) has no head to compare
  d="$TMPDIR/heads/bert-tok"
  cp -r models/tinybert "$TMPDIR/base"
  edit_config "$TMPDIR/base/config.json" 'c.architectures=["BertModel"]' || return 1
  refused 2 'has no task head' "$TMPDIR/base" wg verify "$TMPDIR/base" --tokens "$d/ids.txt" --head
}

# image encoders (tools/zoo/make_vision.py: ViT and DeiT, square and not, with and without qkv
# biases, base models and classifiers): the C interpreter on the processor's pixel_values against
# transformers' output and last hidden state; bad pixel inputs and unimplemented configs refused
t_program_vision_agrees_with_transformers() {
  zstd -dcq tests/zoo/vision.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  local n=0 d m head
  for d in "$TMPDIR"/vision/*/; do
    m=$(basename "$d")
    head=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).classifier ? "--head" : ""' "$d/hf.json")
    wg verify "$d" --pixels "$d/pixel.f32" --ref-logits "$d/hf_out.f32" $head --json > "$TMPDIR/$m.json" || { echo "$m: verify failed"; return 1; }
    wg verify "$d" --pixels "$d/pixel.f32" --ref-logits "$d/hf_hidden.f32" --json > "$TMPDIR/$m.h.json" || { echo "$m: verify (hidden) failed"; return 1; }
    assert_json "$TMPDIR/$m.json" 'j.metrics.hidden_max_abs_err<1e-5 && j.metrics.hidden_cosine>0.999999' || { echo "$m disagrees: $(cat "$TMPDIR/$m.json")"; return 1; }
    assert_json "$TMPDIR/$m.h.json" 'j.output==="last_hidden_state" && j.metrics.hidden_max_rel_err<1e-5' || { echo "$m hidden disagrees"; return 1; }
    n=$((n+1))
  done
  echo "$n image encoders agree"
  [ "$n" -ge 4 ] || return 1
  d="$TMPDIR/vision/vit"
  head -c 100 "$d/pixel.f32" > "$TMPDIR/short.f32"
  refused 2 'expected exactly 3072 f32 values' "$TMPDIR/short.f32" wg verify "$d" --pixels "$TMPDIR/short.f32" || return 1
  echo "1 2 3" > "$TMPDIR/ids.txt"
  refused 2 'an image encoder: give its input with --pixels' "$d" wg verify "$d" --tokens "$TMPDIR/ids.txt" || return 1
  refused 2 'the model is not an image encoder' models/tinybert wg verify models/tinybert --pixels "$d/pixel.f32" || return 1
  # a reference one value longer than the output is refused (and read into no buffer past its end)
  { cat "$d/hf_hidden.f32"; head -c 4 /dev/zero; } > "$TMPDIR/long.f32"
  refused 2 'expected exactly 1088 f32 values' "$TMPDIR/long.f32" wg verify "$d" --pixels "$d/pixel.f32" --ref-logits "$TMPDIR/long.f32" || return 1
  { head -c $((8 * 256 * 4)) /dev/zero; head -c 4 /dev/zero; } > "$TMPDIR/longl.f32"
  refused 2 'expected exactly 8 x 256 f32 logits' "$TMPDIR/longl.f32" wg verify models/tinyllama --text README.md --max-tokens 8 --ref-logits "$TMPDIR/longl.f32" || return 1
  config_edits_refused "$TMPDIR/vision" --pixels pixel.f32 <<'EDITS' || return 1
vit|c.image_size=36|image_size 36x36 is not a multiple of patch_size 8
vit|c.patch_size=[8,4]|only square patches are implemented
vit|c.image_size=64|position_embeddings
EDITS
}

# what the new decoder templates do not implement is refused by name (wgpack verify exits 2 with
# one line), never run as something else: each edit of a zoo checkpoint's config.json
t_program_decoder_options_refused_by_name() {
  zstd -dcq tests/zoo/programs-dec.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  config_edits_refused "$TMPDIR/programs" --tokens ids.txt <<'EDITS' || return 1
mpt|c.attn_config.alibi_bias_max=6|alibi_bias_max 6 is not implemented
mpt|c.attn_config.clip_qkv=8|clip_qkv / qk_ln / softmax_scale / prefix_lm are not implemented
mpt|c.norm_type="rmsnorm"|norm_type "rmsnorm" is not implemented
falcon-mq|c.alibi=true|Falcon's alibi is not implemented
bloom|c.apply_residual_connection_post_layernorm=true|apply_residual_connection_post_layernorm is not implemented
gpt_neo|c.attention_types=[[["global","sparse"],1],[["local"],1]]|attention type "sparse" is not implemented
gpt_neo|c.attention_types=[[["global","local"],2]]|attention_types name 4 layers, num_layers is 3
codegen|c.n_head=2;c.n_embd=64|n_head 2 is not a multiple of the 4 groups
gemma3|c.rope_parameters.sliding_attention={rope_type:"linear",factor:2,rope_theta:10000}|sliding_attention other than a default rope is not implemented
gemma3|delete c.layer_types|without layer_types is not implemented
olmo|c.clip_qkv=8|clip_qkv
EDITS
}

# the mixture-of-experts templates likewise (tests/zoo/programs-moe.tar.zst), and a checkpoint
# whose experts are one 3-D tensor each (transformers' save_original_format=False: the role zoo's
# olmoe and qwen3_moe) is refused by the tensor's name, not read as something else
t_program_moe_options_refused_by_name() {
  zstd -dcq tests/zoo/programs-moe.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  local m
  config_edits_refused "$TMPDIR/programs" --tokens ids.txt <<'EDITS' || return 1
mixtral|c.num_experts_per_tok=5|num_experts_per_tok 5 of 4 experts: not implemented
mixtral|c.attention_bias=true|attention_bias = true is not implemented by the mixtral program
qwen2_moe|c.num_local_experts=8|num_local_experts 8 and num_experts 4 differ
qwen2_moe|c.mlp_only_layers=[3]|mlp_only_layers[0] is not a layer index below 3
qwen2_moe|c.decoder_sparse_step=0|decoder_sparse_step 0 is not positive
qwen3_moe|c.rope_scaling={rope_type:"yarn",factor:4}|rope_scaling type 'yarn' is not implemented
qwen2_moe|delete c.layer_types;c.use_sliding_window=true;c.sliding_window=4|use_sliding_window without layer_types is not implemented by the qwen2_moe program
qwen3_moe|c.layer_types=["full_attention","full_attention","full_attention"]|layer_types = ["full_attention","full_attention","full_attention"] is not implemented by the qwen3_moe program
olmoe|c.clip_qkv=8|clip_qkv = 8 is not implemented by the olmoe program
EDITS
  zoo_unpack
  for m in olmoe qwen3_moe; do
    refused 2 "model.layers.0.mlp.experts.gate_up_proj holds every expert in one 3-D tensor" "$TMPDIR/zoo/$m" \
      wg verify "$TMPDIR/zoo/$m" --tokens "$TMPDIR/programs/mixtral/ids.txt" || return 1
  done
}
