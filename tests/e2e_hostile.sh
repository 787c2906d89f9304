# tests/e2e_hostile.sh — hostile inputs and faults (issue 17, D1–D16 without D8): each test
# failed on the binary before its fix and passes after; under `make asan` the same tests run
# with the sanitized binary (D1, D2 and D14 were out-of-bounds accesses ASan reports).
# Inputs too big or too odd for git are made at test time by tests/hostile/gen.mjs.
# Work bounds are CPU-time budgets (ulimit -t), many times what the input needs and far below
# what the quadratic code took: a hang guard, not a timing.
GEN="node tests/hostile/gen.mjs"

# tests/run calls each t_* inside an `if`, where bash ignores `set -e` (in subshells and
# functions too), so a failing command in the middle of a test would go unnoticed. Each test
# body (h_*) therefore runs in a fresh `bash -e`, where every command counts.
strict() { bash -ec 'for f in tests/e2e*.sh; do . "$f"; done; "$0"' "$1"; }

# one line on stderr naming FILE and containing MSG, exit RC, nothing on stdout
refused() { # refused RC MSG NAME CMD...
  local want=$1 msg=$2 name=$3 rc; shift 3
  local o="$TMPDIR/refused.stdout" e="$TMPDIR/refused.stderr"
  set +e; "$@" > "$o" 2> "$e"; rc=$?; set -e
  if [ $rc -ne "$want" ] || [ "$(wc -l < "$e")" -ne 1 ] || ! grep -qF -- "$msg" "$e" ||
     ! grep -qF -- "$name" "$e" || [ -s "$o" ]; then
    echo "expected exit $want with one line naming $name and '$msg'; got rc=$rc: $(head -c 600 "$e")"; return 1
  fi
}
no_tmp_left() { ! ls -a "$1" | grep -q '\.tmp\.'; }

h_d1_shard_cap_holds_after_word_rounding() {
  $GEN st "$TMPDIR/u8.safetensors" '{"a":{"dtype":"U8","shape":[5000],"data_offsets":[0,5000]}}' 5000
  wg build "$TMPDIR/u8.safetensors" -o "$TMPDIR/b" --shard-size 4097 > /dev/null
  assert_json "$TMPDIR/b/manifest.json" 'j.shards.length>=2 && j.shards.every(s=>s.bytes<=4097 && s.bytes%4===0)'
  wg verify-bundle "$TMPDIR/b" > /dev/null
}

h_d2_empty_tensor_after_a_split_tensor() {
  $GEN st "$TMPDIR/e.safetensors" '{"a":{"dtype":"I32","shape":[24576],"data_offsets":[0,98304]},"b":{"dtype":"I32","shape":[0],"data_offsets":[98304,98304]}}' 98304
  wg build "$TMPDIR/e.safetensors" -o "$TMPDIR/b" --shard-size 4096 > /dev/null
  assert_json "$TMPDIR/b/manifest.json" 'j.tensors.length===2 && j.tensors[1].parts.length===1 && j.tensors[1].parts[0].rows===0'
  wg verify-bundle "$TMPDIR/b" > /dev/null
  no_tmp_left "$TMPDIR"
}

h_d3_onnx_nesting_bounded_before_protobuf() {
  $GEN deep-type "$TMPDIR/deep.onnx" 5000
  refused 2 "nested deeper than" "$TMPDIR/deep.onnx" wg inspect "$TMPDIR/deep.onnx"
  $GEN deep-type "$TMPDIR/ok.onnx" 20     # ordinary nesting still reads
  wg inspect "$TMPDIR/ok.onnx" > /dev/null
}

h_d4_config_head_counts_validated() {
  cp -r models/tinyllama "$TMPDIR/m"
  sed -i 's/"num_key_value_heads": 2/"num_key_value_heads": 4294967296/' "$TMPDIR/m/config.json"
  refused 2 "num_key_value_heads 4294967296 is out of range" "$TMPDIR/m/config.json" \
    wg verify "$TMPDIR/m" --text README.md
  sed -i 's/"num_key_value_heads": 4294967296/"num_key_value_heads": 8/' "$TMPDIR/m/config.json"
  # more KV heads than heads: the fact is dropped (never trusted); the reference then finds
  # the real k_proj shape and says so
  refused 2 "self_attn.k_proj.weight" "$TMPDIR/m" wg verify "$TMPDIR/m" --text README.md
}

h_d5_config_layers_checked_against_tensors() {
  cp -r models/tinyllama "$TMPDIR/m"
  sed -i 's/"num_hidden_layers": 4/"num_hidden_layers": 4611686018427387904/' "$TMPDIR/m/config.json"
  refused 2 "num_hidden_layers 4611686018427387904 is out of range" "$TMPDIR/m/config.json" \
    wg build "$TMPDIR/m" -o "$TMPDIR/b"
  [ ! -e "$TMPDIR/b" ]
  sed -i 's/"num_hidden_layers": 4611686018427387904/"num_hidden_layers": 40000/' "$TMPDIR/m/config.json"
  refused 2 "but the model has 39 tensors" "$TMPDIR/m/config.json" wg build "$TMPDIR/m" -o "$TMPDIR/b"
  sed -i 's/"num_hidden_layers": 40000/"num_hidden_layers": 4/; s/"hidden_size": 256/"hidden_size": 1000000/' "$TMPDIR/m/config.json"
  # a size no tensor has is dropped, not used: nothing reports or computes with it
  wg inspect --json "$TMPDIR/m" > "$TMPDIR/i.json"
  ! grep -q 1000000 "$TMPDIR/i.json"
}

h_d6_rules_component_never_reaches_a_path() {
  mkdir -p "$TMPDIR/w/out"
  echo '{"rules":[{"pattern":"*","component":"../../ESC"}]}' > "$TMPDIR/rules.json"
  refused 2 "component name must be" "$TMPDIR/rules.json" \
    wg build models/tinygpt2 -o "$TMPDIR/w/out/b" --rules "$TMPDIR/rules.json"
  [ -z "$(find "$TMPDIR" -name '*ESC*')" ] && [ ! -e "$TMPDIR/w/out/b" ]
  # a valid custom component still names its shards
  echo '{"rules":[{"pattern":"*","component":"my-part.v2"}]}' > "$TMPDIR/rules.json"
  wg build models/tinygpt2 -o "$TMPDIR/b" --rules "$TMPDIR/rules.json" > /dev/null
  ls "$TMPDIR/b" | grep -q '^my-part.v2-' && wg verify-bundle "$TMPDIR/b" > /dev/null
}

h_d7_failed_build_leaves_previous_bundle() {
  wg build models/tinygpt2 -o "$TMPDIR/b" --preset q8 > /dev/null
  cp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  set +e
  wg build models/tinygpt2 -o "$TMPDIR/b" --preset q4 --emit-onnx "$TMPDIR/x.onnx" 2>/dev/null; r1=$?
  wg build models/tinygpt2 -o "$TMPDIR/b" --preset q4 --db "$TMPDIR/no/such/dir/r.db" 2>/dev/null; r2=$?
  mkdir "$TMPDIR/b.zip"   # the archive cannot replace a directory
  wg build models/tinygpt2 -o "$TMPDIR/b" --preset q4 --archive zip 2>/dev/null; r3=$?
  wg build $VAD/silero_vad_v5.onnx -o "$TMPDIR/b" --preset q4 --emit-onnx "$TMPDIR/no/such/x.onnx" 2>/dev/null; r4=$?
  set -e
  echo "exits: $r1 $r2 $r3 $r4"
  [ $r1 -eq 1 ] && [ $r2 -eq 4 ] && [ $r3 -eq 1 ] && [ $r4 -ne 0 ]   # r3: a directory is not an output file
  cmp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  wg verify-bundle "$TMPDIR/b" > /dev/null
  no_tmp_left "$TMPDIR" && [ -z "$(ls -A "$TMPDIR/b.zip")" ]
  rmdir "$TMPDIR/b.zip"   # and with every artefact possible, all of them appear
  wg build models/tinygpt2 -o "$TMPDIR/b" --preset q4 --archive zip --db "$TMPDIR/r.db" > /dev/null
  ! cmp -s "$TMPDIR/b/manifest.json" "$TMPDIR/old.json" && [ -f "$TMPDIR/b.zip" ] && [ -f "$TMPDIR/r.db" ]
}

h_d9_nan_anywhere_is_an_input_error() {
  for at in 0 8000; do
    node -e 'const n=64*128,d=Buffer.alloc(n*4);d.writeFloatLE(NaN,4*+process.argv[2]);
      const h=Buffer.from(JSON.stringify({w:{dtype:"F32",shape:[64,128],data_offsets:[0,n*4]}})),l=Buffer.alloc(8);
      l.writeBigUInt64LE(BigInt(h.length));require("fs").writeFileSync(process.argv[1],Buffer.concat([l,h,d]))' "$TMPDIR/n.safetensors" $at
    for th in 1 4; do
      refused 2 "tensor 'w' holds NaN or Inf values" "tensor 'w'" \
        wg quantize "$TMPDIR/n.safetensors" --preset q4 --threads $th -o "$TMPDIR/q.safetensors"
    done
  done
  [ ! -e "$TMPDIR/q.safetensors" ]
}

# tamper NAME JS: a copy of the good bundle with manifest edited by JS (m = manifest, d = dir)
tamper() {
  rm -rf "$TMPDIR/t"; cp -r "$TMPDIR/good" "$TMPDIR/t"
  node -e 'const fs=require("fs"),d=process.argv[1],f=d+"/manifest.json",m=JSON.parse(fs.readFileSync(f));
    eval(process.argv[2]); fs.writeFileSync(f,JSON.stringify(m,null,1))' "$TMPDIR/t" "$2"
  set +e; wg verify-bundle "$TMPDIR/t" > /dev/null 2> "$TMPDIR/err"; local rc=$?; set -e
  if [ $rc -ne 5 ] || grep -q '(null)' "$TMPDIR/err"; then echo "tampering '$1' not caught: rc=$rc $(cat "$TMPDIR/err")"; return 1; fi
  echo "caught $1: $(head -1 "$TMPDIR/err")"
}

h_d10_verify_bundle_catches_tampering() {
  wg build models/tinyllama -o "$TMPDIR/good" --compress zstd --shard-size 64KiB > /dev/null
  wg verify-bundle "$TMPDIR/good" > /dev/null
  cp -r "$TMPDIR/good" "$TMPDIR/other"
  tamper "wasm changed" 'fs.appendFileSync(d+"/"+m.wasm.file,"x")'
  tamper "wasm deleted" 'fs.unlinkSync(d+"/"+m.wasm.file)'
  tamper "zst reads another bundle" 'm.shards[0].zst.file="../other/"+m.shards[0].zst.file'
  tamper "zst file null" 'm.shards[0].zst.file=null'
  tamper "shape edited" 'm.tensors[3].shape[0]+=1'
  tamper "rows edited" 'm.tensors[3].rows+=1'
  tamper "K edited" 'm.tensors[3].K*=2'
  tamper "format edited" 'const t=m.tensors.find(t=>t.format==="q4g32s"); t.format="q8g32s"'
  tamper "part moved to another shard" 'const t=m.tensors.find(t=>t.parts.length>1); t.parts[1].shard=t.parts[0].shard'
  tamper "part moved to another unit" 'const t=m.tensors.find(t=>t.layer===1); t.parts[0].shard=m.shards.findIndex(s=>s.layer===2)'
  tamper "part dropped" 'const t=m.tensors.find(t=>t.parts.length>1); t.parts.pop()'
  tamper "tensor duplicated" 'm.tensors.push(m.tensors[5])'
  tamper "format_version 2" 'm.format_version=2'
  tamper "kernel index 9999" 'const p=Object.values(m.kernels.by_profile)[0]; const f=Object.values(p)[0]; Object.values(f)[0].f32=9999'
  tamper "shard with a scheme" 'const o=m.shards[0].file; m.shards[0].file="https:evil.example#x"; for (const g of m.plans.progressive) g.shards=g.shards.map(s=>s===o?m.shards[0].file:s); for (const c of m.components) c.shards=c.shards.map(s=>s===o?m.shards[0].file:s)'
  tamper "negative offset" 'm.tensors[3].parts[0].data.offset=-256'
  tamper "tensor in no component" 'm.components[0].tensors.pop()'
}

h_d11_loader_refuses_names_outside_the_bundle() {
  wg build models/tinygpt2 -o "$TMPDIR/b" > /dev/null
  node tests/hostile/loader_names.mjs "$TMPDIR/b"
}

h_d12_index_shard_symlink_out_refused() {
  mkdir "$TMPDIR/m"
  cp models/tinyllama/*.json models/tinyllama/model-00001-of-00002.safetensors "$TMPDIR/m/"
  cp models/tinyllama/model-00002-of-00002.safetensors "$TMPDIR/outside.safetensors"
  ln -s ../outside.safetensors "$TMPDIR/m/model-00002-of-00002.safetensors"
  refused 2 "outside the model directory" "$TMPDIR/m/model-00002-of-00002.safetensors" wg inspect "$TMPDIR/m"
  ln -sf /etc/passwd "$TMPDIR/m/model-00002-of-00002.safetensors"
  refused 2 "outside the model directory" "$TMPDIR/m/model-00002-of-00002.safetensors" wg inspect "$TMPDIR/m"
  rm "$TMPDIR/m/model-00002-of-00002.safetensors"   # a link inside the directory is fine
  mv "$TMPDIR/outside.safetensors" "$TMPDIR/m/real.bin" && ln -s real.bin "$TMPDIR/m/model-00002-of-00002.safetensors"
  wg inspect "$TMPDIR/m" > /dev/null
}

h_d13_work_follows_the_input() {
  # a 33-byte tensor at "layer 9999999": not a layer; inspect prints a few lines, tabs refused fast
  $GEN st "$TMPDIR/l.safetensors" '{"model.layers.9999999.mlp.up_proj.weight":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}' 1
  wg inspect "$TMPDIR/l.safetensors" --json > "$TMPDIR/l.json"
  [ "$(stat -c %s "$TMPDIR/l.json")" -lt 65536 ]
  set +e; (ulimit -t 20; "$WGPACK" build "$TMPDIR/l.safetensors" -o "$TMPDIR/lb" --tab-memory 100 2>/dev/null); rc=$?; set -e
  [ $rc -eq 1 ]
  # 200,000 index entries (the lookup was linear per entry), 150,000 Identity nodes on one
  # initializer (each followed by a scan of every node)
  $GEN index "$TMPDIR/idx" 200000
  (ulimit -t 40; "$WGPACK" inspect "$TMPDIR/idx" > /dev/null)
  $GEN identities "$TMPDIR/ids.onnx" 150000
  (ulimit -t 20; "$WGPACK" inspect "$TMPDIR/ids.onnx" > /dev/null)
  # 3000 one-layer shards: durability by one syncfs, not an fsync per file
  $GEN layered "$TMPDIR/lay.safetensors" 3000
  ASAN_OPTIONS=detect_leaks=0 strace -f -qq -c -e trace=fsync,fdatasync,syncfs -o "$TMPDIR/trace" "$WGPACK" build "$TMPDIR/lay.safetensors" -o "$TMPDIR/lay" > /dev/null
  n=$(awk '$NF=="fsync"||$NF=="fdatasync"{s+=$4} END{print s+0}' "$TMPDIR/trace")
  echo "fsync calls for a 3000-shard bundle: $n"
  [ "$n" -le 4 ] && [ "$(ls "$TMPDIR/lay" | grep -c '\.bin$')" -eq 3000 ]
}

h_d14_kernel_ref_reads_the_manifest_as_untrusted() {
  wg build models/tinyllama -o "$TMPDIR/good" > /dev/null
  mkdir "$TMPDIR/o"
  t=model.layers.0.mlp.down_proj.weight
  wg kernel-ref "$TMPDIR/good" $t -o "$TMPDIR/o" && [ -s "$TMPDIR/o/dequant.f32" ]
  for edit in 'm.tensors.find(t=>t.name===N).parts[0].data.offset=-256' \
              'm.tensors[0].name=5' \
              'm.tensors.find(t=>t.name===N).rows=2**62' \
              'm.tensors.find(t=>t.name===N).parts[0].data.bytes=1e15' \
              'm.shards[m.tensors.find(t=>t.name===N).parts[0].shard].file="../good/manifest.json"'; do
    rm -rf "$TMPDIR/t"; cp -r "$TMPDIR/good" "$TMPDIR/t"
    node -e 'const fs=require("fs"),f=process.argv[1],m=JSON.parse(fs.readFileSync(f)),N=process.argv[3];
      eval(process.argv[2]); fs.writeFileSync(f,JSON.stringify(m))' "$TMPDIR/t/manifest.json" "$edit" $t
    refused 2 "manifest.json" "$TMPDIR/t/manifest.json" wg kernel-ref "$TMPDIR/t" $t -o "$TMPDIR/o"
  done
}

h_d15_output_and_input_spelling() {
  wg build models/tinygpt2 -o "$TMPDIR/out/" > /dev/null          # trailing slash
  wg verify-bundle "$TMPDIR/out" > /dev/null
  ln -s "$PWD/models/tinygpt2" "$TMPDIR/link"
  for spelling in models/tinygpt2 models/tinygpt2/ ./models//tinygpt2/. models/tinygpt2/model.safetensors "$TMPDIR/link"; do
    rm -rf "$TMPDIR/n"; wg build "$spelling" -o "$TMPDIR/n" > /dev/null
    assert_json "$TMPDIR/n/manifest.json" 'j.model.name==="tinygpt2"'
  done
  cp -r models/tinygpt2 "$TMPDIR/model"                          # -o the input: refused
  refused 1 "holds the input model" "$TMPDIR/model" wg build "$TMPDIR/model" -o "$TMPDIR/model" --force
  refused 1 "holds the input model" "$TMPDIR" wg build "$TMPDIR/model" -o "$TMPDIR" --force
  cmp "$TMPDIR/model/model.safetensors" models/tinygpt2/model.safetensors
  mkdir "$TMPDIR/forged" && echo precious > "$TMPDIR/forged/notes.txt"   # a forged manifest
  echo '{"format_version":1,"generator":{"name":"wgpack"}}' > "$TMPDIR/forged/manifest.json"
  refused 1 "use --force" "$TMPDIR/forged" wg build models/tinygpt2 -o "$TMPDIR/forged"
  rm "$TMPDIR/forged/manifest.json" && ln -s "$TMPDIR/out/manifest.json" "$TMPDIR/forged/manifest.json"
  refused 1 "use --force" "$TMPDIR/forged" wg build models/tinygpt2 -o "$TMPDIR/forged"
  cp -r "$TMPDIR/out" "$TMPDIR/plus" && echo precious > "$TMPDIR/plus/notes.txt"  # bundle + more
  refused 1 "use --force" "$TMPDIR/plus" wg build models/tinygpt2 -o "$TMPDIR/plus"
  [ "$(cat "$TMPDIR/forged/notes.txt" "$TMPDIR/plus/notes.txt")" = "$(printf 'precious\nprecious')" ]
  wg build models/tinygpt2 -o "$TMPDIR/out" --preset q4 > /dev/null  # a bundle is still replaced
  assert_json "$TMPDIR/out/manifest.json" 'j.options.preset==="q4"'
}

t_hostile_d1_shard_cap_holds_after_word_rounding() { strict h_d1_shard_cap_holds_after_word_rounding; }
t_hostile_d2_empty_tensor_after_a_split_tensor() { strict h_d2_empty_tensor_after_a_split_tensor; }
t_hostile_d3_onnx_nesting_bounded_before_protobuf() { strict h_d3_onnx_nesting_bounded_before_protobuf; }
t_hostile_d4_config_head_counts_validated() { strict h_d4_config_head_counts_validated; }
t_hostile_d5_config_layers_checked_against_tensors() { strict h_d5_config_layers_checked_against_tensors; }
t_hostile_d6_rules_component_never_reaches_a_path() { strict h_d6_rules_component_never_reaches_a_path; }
t_hostile_d7_failed_build_leaves_previous_bundle() { strict h_d7_failed_build_leaves_previous_bundle; }
t_hostile_d9_nan_anywhere_is_an_input_error() { strict h_d9_nan_anywhere_is_an_input_error; }
t_hostile_d10_verify_bundle_catches_tampering() { strict h_d10_verify_bundle_catches_tampering; }
t_hostile_d11_loader_refuses_names_outside_the_bundle() { strict h_d11_loader_refuses_names_outside_the_bundle; }
t_hostile_d12_index_shard_symlink_out_refused() { strict h_d12_index_shard_symlink_out_refused; }
t_hostile_d13_work_follows_the_input() { strict h_d13_work_follows_the_input; }
t_hostile_d14_kernel_ref_reads_the_manifest_as_untrusted() { strict h_d14_kernel_ref_reads_the_manifest_as_untrusted; }
t_hostile_d15_output_and_input_spelling() { strict h_d15_output_and_input_spelling; }
