# tests/e2e_onnx_target.sh — plans made for ONNX Runtime: the onnx target's formats and byte
# budget, fp16 exports, exporter metadata, the transformers.js folder (loaded by transformers.js
# itself), ONNX Runtime Web, and the .onnx + data commit under injected faults.
# Uses $VAD, $OCR, wg, ortv and assert_json from tests/e2e.sh.

# size FILE...: bytes of the files together
size_of() { cat "$@" | wc -c; }

t_onnx_target_never_larger_than_q8_and_formats_distinct() {
  # the onnx target stores 3-bit as 4-bit and 5/6-bit as 8-bit (raised: same bytes, less error),
  # so no preset or budget exceeds the q8 file; on convolution models q4 is smaller than q8
  for m in models/tinyllama-onnx/model.onnx $OCR/ch_PP-OCRv4_det_infer.onnx $VAD/silero_vad_v5.onnx; do
    wg export-onnx $m -o "$TMPDIR/q8.onnx" --preset q8 --json > "$TMPDIR/q8.json"
    q8=$(size_of "$TMPDIR/q8.onnx")
    for p in "--preset q6" "--preset q5" "--preset q4" "--preset q3" "--preset q2" "--preset mixed" "--target-size $((q8 * 7 / 10))"; do
      wg export-onnx $m -o "$TMPDIR/x.onnx" $p --json > "$TMPDIR/x.json"
      s=$(size_of "$TMPDIR/x.onnx")
      echo "$m $p: $s bytes (q8 $q8)"
      [ "$s" -le "$q8" ]
      assert_json "$TMPDIR/x.json" 'j.total_bytes==='$s' && j.kept_integer_planned===0'
    done
    wg export-onnx $m -o "$TMPDIR/q4.onnx" --preset q4 > /dev/null
    wg export-onnx $m -o "$TMPDIR/q3.onnx" --preset q3 > /dev/null
    cmp "$TMPDIR/q3.onnx" "$TMPDIR/q4.onnx"       # q3 raised to q4: the same file
    [ $(size_of "$TMPDIR/q4.onnx") -lt $((q8 * 3 / 4)) ]
  done
  # a pinned wider format is the user's choice: --set keeps it
  wg export-onnx $VAD/silero_vad_v5.onnx -o "$TMPDIR/p.onnx" --preset q4 --set 'role:conv=q5' > /dev/null
  [ $(size_of "$TMPDIR/p.onnx") -gt $(size_of "$TMPDIR/q4.onnx") ]
}

t_onnx_target_size_budget_counts_the_file() {
  m=models/tinyllama-onnx/model.onnx
  for S in 1.6MB 1.2MB 900kB; do
    wg export-onnx $m -o "$TMPDIR/b.onnx" --target-size $S --strip-metadata --json > "$TMPDIR/b.json"
    s=$(size_of "$TMPDIR/b.onnx")
    echo "budget $S: $s bytes"
    assert_json "$TMPDIR/b.json" 'j.plan.budget_binds==="onnx" && j.plan.budget_met===true && j.total_bytes==='$s' && j.total_bytes<=j.plan.budget_bytes && j.total_bytes>0.97*j.plan.budget_bytes'
  done
  # external data counts too
  wg export-onnx $m -o "$TMPDIR/e.onnx" --target-size 1.2MB --strip-metadata --external-data > /dev/null
  [ $(size_of "$TMPDIR/e.onnx" "$TMPDIR/e.onnx_data") -le 1200000 ]
  # the metadata is part of the file: the same budget without stripping cannot fit
  set +e
  wg export-onnx $m -o "$TMPDIR/n.onnx" --target-size 1.2MB 2> "$TMPDIR/err"; rc=$?
  set -e
  [ $rc -eq 3 ] && [ ! -e "$TMPDIR/n.onnx" ] && grep -q "smallest ONNX export needs" "$TMPDIR/err"
  [ $(wc -l < "$TMPDIR/err") -eq 1 ]
  # a convolution model (DequantizeLinear everywhere) at a budget between q4 and q8
  wg export-onnx $OCR/ch_PP-OCRv4_det_infer.onnx -o "$TMPDIR/d.onnx" --target-size 1.1MB --json > "$TMPDIR/d.json"
  [ $(size_of "$TMPDIR/d.onnx") -le 1100000 ]
}

t_onnx_fp16_preset_and_strip_metadata() {
  m=models/tinybert-onnx/model.onnx
  wg export-onnx $m -o "$TMPDIR/h.onnx" --preset fp16 --json > "$TMPDIR/h.json"
  orig=$(size_of $m); h=$(size_of "$TMPDIR/h.onnx")
  echo "original $orig, fp16 $h"
  assert_json "$TMPDIR/h.json" 'j.cast_fp16>=20 && !j.metadata_stripped'
  [ $h -lt $((orig * 3 / 5)) ]              # fp16 weights, not the f32 ones (graph and Casts add a little)
  ortv $m "$TMPDIR/h.onnx" --samples 2 --json > "$TMPDIR/v.json"
  # tinybert was trained and saved in fp16: its f32 export holds fp16 values, so fp16 is exact here
  assert_json "$TMPDIR/v.json" 'j.comparison.outputs[0].rel_rmse < 1e-3'
  # exporter metadata: the torch dynamo export of the default LM carries it (the TorchScript
  # export above has none); stripping removes exactly what --json says it measured
  l=models/tinyllama-onnx/model.onnx
  wg export-onnx $l -o "$TMPDIR/l.onnx" --preset q8 --json > "$TMPDIR/l.json"
  wg export-onnx $l -o "$TMPDIR/ls.onnx" --preset q8 --strip-metadata --json > "$TMPDIR/ls.json"
  assert_json "$TMPDIR/l.json" 'j.metadata_bytes>100000 && !j.metadata_stripped'
  assert_json "$TMPDIR/ls.json" 'j.metadata_bytes===0 && j.metadata_stripped'
  [ $(( $(size_of "$TMPDIR/l.onnx") - $(size_of "$TMPDIR/ls.onnx") )) -eq $(node -e 'console.log(require(process.argv[1]).metadata_bytes)' "$TMPDIR/l.json") ]
}

t_build_emit_onnx_says_which_budget_binds() {
  m=models/tinyllama-onnx/model.onnx
  wg build $m -o "$TMPDIR/b1" --emit-onnx "$TMPDIR/b1.onnx" --target-size 1.4MB --json > "$TMPDIR/1.json"
  assert_json "$TMPDIR/1.json" 'j.budget.binds==="bundle" && j.budget.onnx_bytes===j.onnx.total_bytes && j.budget.bundle_bytes===j.bundle_bytes'
  wg build $m -o "$TMPDIR/b2" --emit-onnx "$TMPDIR/b2.onnx" --strip-metadata --target onnx --target-size 1.4MB --json > "$TMPDIR/2.json"
  assert_json "$TMPDIR/2.json" 'j.budget.binds==="onnx" && j.onnx.total_bytes<=1400000 && j.bundle_bytes<j.onnx.total_bytes'
  wg build $m -o "$TMPDIR/b3" --emit-onnx "$TMPDIR/b3.onnx" --target-size 1.4MB | grep -q "^budget: .*binds the bundle"
  set +e
  wg build $m -o "$TMPDIR/b4" --target onnx --target-size 1.4MB 2> "$TMPDIR/err"; rc=$?
  set -e
  [ $rc -eq 1 ] && grep -q "give --emit-onnx" "$TMPDIR/err"
}

# tjs DIR KIND DTYPES...: transformers.js loads the folder; JSON on stdout
tjs() { timeout 600 node tools/tjs/check.mjs "$@"; }

t_transformers_js_loads_q4_q8_bert_and_llama() {
  wg export-onnx models/tinybert-mlm/model.onnx --transformers-js "$TMPDIR/bert" --json > "$TMPDIR/b.json"
  assert_json "$TMPDIR/b.json" 'j.files.map(f=>f.onnx).join()==="onnx/model_q4.onnx,onnx/model_quantized.onnx"'
  test -f "$TMPDIR/bert/config.json" && cmp models/tinybert-mlm/model.onnx "$TMPDIR/bert/onnx/model.onnx"
  tjs "$TMPDIR/bert" masked-lm README.md q4 q8 > "$TMPDIR/bert.json"
  cat "$TMPDIR/bert.json"
  assert_json "$TMPDIR/bert.json" 'const [q4,q8]=j.results; q8.kl<q4.kl && q4.kl<0.1 && q8.kl<0.001 && q4.top1_agreement>=0.85 && q8.top1_agreement>=0.97 && j.tokens===98'
  # the Llama-family default model, with external data named as transformers.js asks for it
  wg export-onnx models/tinyllama-onnx/model.onnx --transformers-js "$TMPDIR/llama" --config models/tinyllama/config.json --external-data --strip-metadata > /dev/null
  test -s "$TMPDIR/llama/onnx/model_q4.onnx_data" && test -s "$TMPDIR/llama/onnx/model_quantized.onnx_data"
  assert_json "$TMPDIR/llama/config.json" 'j["transformers.js_config"].use_external_data_format["model_q4.onnx"]===1 && j.model_type==="llama"'
  tjs "$TMPDIR/llama" causal-lm tools/train_tiny_lm.py q4 q8 > "$TMPDIR/llama.json"
  cat "$TMPDIR/llama.json"
  assert_json "$TMPDIR/llama.json" 'const [q4,q8]=j.results; q8.kl<q4.kl && q4.kl<0.1 && q8.kl<0.001 && q4.top1_agreement>=0.8 && q8.top1_agreement>=0.97'
  # replaced whole on a second run; a directory that is not such a folder is refused
  wg export-onnx models/tinybert-onnx/model.onnx --transformers-js "$TMPDIR/bert" --dtypes q8 > /dev/null
  [ ! -e "$TMPDIR/bert/onnx/model_q4.onnx" ] && [ -e "$TMPDIR/bert/onnx/model_quantized.onnx" ]
  mkdir "$TMPDIR/other" && touch "$TMPDIR/other/keep"
  set +e
  wg export-onnx models/tinybert-onnx/model.onnx --transformers-js "$TMPDIR/other" 2> "$TMPDIR/err"; rc=$?
  set -e
  [ $rc -eq 1 ] && test -e "$TMPDIR/other/keep" && ! ls -a "$TMPDIR" | grep -q '\.tmp\.'
}

t_onnxruntime_web_runs_every_form() {
  # MatMulNBits, GatherBlockQuantized, uint4 DequantizeLinear, fp16 + Cast in ONNX Runtime Web
  # (wasm, in Node): the same errors as onnxruntime-node measures
  for m in "models/tinyllama-onnx/model.onnx --tokens models/tinyllama-onnx/ref_tokens.i64" "$OCR/ch_PP-OCRv4_rec_infer.onnx --samples 1" "$VAD/silero_vad_v5.onnx --dim input.1=512 --samples 1"; do
    ortv $m --preset q4 --json > "$TMPDIR/n.json"
    WGPACK_ORT_BACKEND=web ortv $m --preset q4 --json > "$TMPDIR/w.json"
    node -e 'const n=require(process.argv[1]).comparison, w=require(process.argv[2]).comparison;
      console.log(w.runtime, "rel RMSE web", w.outputs[0].rel_rmse, "node", n.outputs[0].rel_rmse);
      if (!w.runtime.startsWith("onnxruntime-web") || Math.abs(w.outputs[0].rel_rmse-n.outputs[0].rel_rmse) > 1e-4*Math.max(1,n.outputs[0].rel_rmse)) process.exit(1);' "$TMPDIR/n.json" "$TMPDIR/w.json"
  done
  assert_json "$TMPDIR/w.json" 'j.export.dequantize_linear===14'
}

# ---------------------------------------------------------------- .onnx + data under faults

# same_model A B: ONNX Runtime gives identical outputs for both files
same_model() {
  ortv models/tinybert-onnx/model.onnx "$1" --samples 1 --json > "$TMPDIR/s1.json"
  ortv models/tinybert-onnx/model.onnx "$2" --samples 1 --json > "$TMPDIR/s2.json"
  node -e 'const a=require(process.argv[1]).comparison.outputs[0], b=require(process.argv[2]).comparison.outputs[0];
    process.exit(a.rel_rmse===b.rel_rmse && a.max_abs_err===b.max_abs_err ? 0 : 1)' "$TMPDIR/s1.json" "$TMPDIR/s2.json"
}

t_export_onnx_external_data_atomic_under_faults() {
  command -v strace > /dev/null   # (LeakSanitizer cannot run under ptrace: off for the traced runs)
  m=models/tinybert-onnx/model.onnx
  mkdir "$TMPDIR/ref8" "$TMPDIR/ref4" "$TMPDIR/out"
  wg export-onnx $m -o "$TMPDIR/ref8/x.onnx" --preset q8 --external-data > /dev/null
  wg export-onnx $m -o "$TMPDIR/ref4/x.onnx" --preset q4 --external-data > /dev/null
  test -s "$TMPDIR/ref8/x.onnx_data"
  # EIO on each rename of a successful export: it fails and the previous pair is as it was
  for k in 1 2 3; do
    rm -rf "$TMPDIR/out"; mkdir "$TMPDIR/out"
    wg export-onnx $m -o "$TMPDIR/out/x.onnx" --preset q8 --external-data > /dev/null
    set +e
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" timeout 120 strace -f -qq -o /dev/null -e trace=rename -e inject=rename:error=EIO:when=$k \
      "$WGPACK" export-onnx $m -o "$TMPDIR/out/x.onnx" --preset q4 --external-data > /dev/null 2> "$TMPDIR/err"; rc=$?
    set -e
    echo "EIO at rename $k: exit $rc: $(cat "$TMPDIR/err")"
    [ $rc -eq 4 ]
    cmp "$TMPDIR/out/x.onnx" "$TMPDIR/ref8/x.onnx" && cmp "$TMPDIR/out/x.onnx_data" "$TMPDIR/ref8/x.onnx_data"
    [ "$(ls -A "$TMPDIR/out" | sort | tr '\n' ' ')" = "x.onnx x.onnx_data " ]
  done
  same_model "$TMPDIR/out/x.onnx" "$TMPDIR/ref8/x.onnx"
  # killed at each rename (and with no previous pair): what is there is a pair that loads
  for k in 1 2 3; do
    for prev in yes no; do
      rm -rf "$TMPDIR/out"; mkdir "$TMPDIR/out"
      [ $prev = no ] || wg export-onnx $m -o "$TMPDIR/out/x.onnx" --preset q8 --external-data > /dev/null
      set +e
      ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" timeout 120 strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=$k \
        "$WGPACK" export-onnx $m -o "$TMPDIR/out/x.onnx" --preset q4 --external-data > /dev/null 2>&1
      set -e
      if [ -e "$TMPDIR/out/x.onnx" ]; then
        same_model "$TMPDIR/out/x.onnx" "$TMPDIR/ref8/x.onnx" || same_model "$TMPDIR/out/x.onnx" "$TMPDIR/ref4/x.onnx"
        echo "killed at rename $k (previous: $prev): a whole pair"
      else
        [ $prev = no ]; echo "killed at rename $k (previous: $prev): nothing yet"
      fi
    done
  done
}

# ---------------------------------------------------------------- the measuring planner

t_measured_planner_beats_q4_at_its_bytes_and_is_reused() {
  m=models/tinyllama-onnx/model.onnx; tok=models/tinyllama-onnx/ref_tokens.i64
  ortv $m --tokens $tok --preset q4 --json > "$TMPDIR/q4.json"
  S=$(node -e 'console.log(require(process.argv[1]).export.total_bytes)' "$TMPDIR/q4.json")
  # measured on other text than the evaluation's (README vs held-out Python)
  ortv $m --tokens $tok --target-size $S --measure-text README.md --measure-out "$TMPDIR/costs.json" --db "$TMPDIR/db.sqlite" --json > "$TMPDIR/v.json"
  node -e 'const q4=require(process.argv[1]).comparison.lm, j=require(process.argv[2]), v=j.measured_vs_proxy, S=+process.argv[3];
    console.log("at", S, "bytes: q4 KL", q4.kl, "proxy planner", v.proxy.kl, "measured planner", v.measured.kl, "rank agreement", j.measured.rank_agreement_spearman);
    const ok = j.measured.pairs===90 && j.measured.metric==="kl" && j.measured.costs.every(c=>c.cost>=0 && c.proxy>0)
      && j.export.plan.planner==="measured" && v.measured.onnx_bytes<=S && v.proxy.onnx_bytes<=S
      && v.measured.kl < q4.kl && v.measured.kl < v.proxy.kl && j.measured.rank_agreement_spearman > 0.5;
    process.exit(ok ? 0 : 1)' "$TMPDIR/q4.json" "$TMPDIR/v.json" $S
  # later exports reuse the costs: from the JSON and from the results database, the same file
  wg export-onnx $m -o "$TMPDIR/a.onnx" --strip-metadata --target-size $S --costs "$TMPDIR/costs.json" --json > "$TMPDIR/a.json"
  wg export-onnx $m -o "$TMPDIR/b.onnx" --strip-metadata --target-size $S --costs "$TMPDIR/db.sqlite" > /dev/null
  cmp "$TMPDIR/a.onnx" "$TMPDIR/b.onnx"
  assert_json "$TMPDIR/a.json" 'j.plan.planner==="measured" && j.plan.measured.costs===90 && j.total_bytes<='$S
  # a threshold: no tensor takes a format whose measured cost exceeds it
  X=$(node -e 'const c=require(process.argv[1]).costs.filter(c=>c.format==="q2g32s").map(c=>c.cost).sort((a,b)=>a-b); console.log(c[c.length>>1])' "$TMPDIR/costs.json")
  wg export-onnx $m -o "$TMPDIR/t.onnx" --strip-metadata --target-size 1.1MB --costs "$TMPDIR/costs.json" --max-damage $X --json > "$TMPDIR/t.json"
  node -e 'const t=require(process.argv[1]), c=require(process.argv[2]).costs, X=+process.argv[3];
    const bad = c.filter(k => t.tensors[k.tensor] && t.tensors[k.tensor].format===k.format && k.cost > X);
    console.log("threshold", X, "excluded", t.plan.measured.excluded, "violations", bad.length);
    process.exit(t.plan.measured.excluded > 0 && !bad.length ? 0 : 1)' "$TMPDIR/t.json" "$TMPDIR/costs.json" $X
}

t_measured_planner_c_reference_llama() {
  wg verify models/tinyllama --text tools/train_tiny_lm.py --max-tokens 48 --target-size 1405440 --measure --json > "$TMPDIR/v.json"
  assert_json "$TMPDIR/v.json" 'j.plan.planner==="measured" && j.proxy.plan.planner==="proxy" && j.measured.pairs===180 && j.measured.costs.every(c=>c.cost>=0) && j.plan.output_bytes<=1405440 && j.metrics.kl>0 && j.proxy.metrics.kl>0'
}

t_onnx_plan_beats_presets_on_the_ocr_detector() {
  det=$OCR/ch_PP-OCRv4_det_infer.onnx
  node tools/ocr_page.mjs "$TMPDIR/page1" 160 320 1
  node tools/ocr_page.mjs "$TMPDIR/page2" 160 320 2
  for p in q8 q4; do ortv $det --inputs "$TMPDIR/page2" --preset $p --json > "$TMPDIR/$p.json"; done
  S=$(node -e 'console.log(require(process.argv[1]).export.total_bytes)' "$TMPDIR/q4.json")
  ortv $det --inputs "$TMPDIR/page2" --target-size $S --measure-on "$TMPDIR/page1" --json > "$TMPDIR/v.json"
  node -e 'const q8=require(process.argv[1]), q4=require(process.argv[2]), j=require(process.argv[3]), v=j.measured_vs_proxy, S=+process.argv[4];
    const e = x => x.comparison.outputs[0].rel_rmse;
    console.log("q8", q8.export.total_bytes, e(q8), "q4", S, e(q4), "proxy", v.proxy.onnx_bytes, v.proxy.rel_rmse, "measured", v.measured.onnx_bytes, v.measured.rel_rmse);
    process.exit(j.measured.metric==="rel_mse" && v.measured.onnx_bytes<=S && v.measured.rel_rmse < e(q4) && v.proxy.rel_rmse < e(q4) && e(q8) < e(q4) ? 0 : 1)' \
    "$TMPDIR/q8.json" "$TMPDIR/q4.json" "$TMPDIR/v.json" $S
}
