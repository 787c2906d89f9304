# tests/e2e_strict.sh — nothing wrong passes silently (issue 24, the CLI rows): output paths,
# builds that commit all or nothing, reads that check hashes, strict numbers and token files,
# the report's inlined JSON, usage errors before work. Each test failed on the binary before
# its fix. Bodies (s_*) run through `strict` (tests/e2e_hostile.sh): every command counts.

# every kind of thing at PATH that a rename would destroy or write through: a symlink to a
# file (the file must stay as it was), a dangling symlink, a FIFO, a directory
odd_targets() { # odd_targets DIR
  echo keep > "$1/kept"
  ln -s "$1/kept" "$1/link"
  ln -s "$1/nowhere" "$1/dangling"
  mkfifo "$1/fifo"
  mkdir "$1/dir"
}
odd_targets_intact() { # odd_targets_intact DIR
  [ -L "$1/link" ] && [ "$(cat "$1/kept")" = keep ] && [ -L "$1/dangling" ] && [ ! -e "$1/nowhere" ] &&
    [ -p "$1/fifo" ] && [ -d "$1/dir" ] && [ -z "$(ls -A "$1/dir")" ] && no_tmp_left "$1"
}

s_output_files_one_mechanism() {
  local d="$TMPDIR/o"
  mkdir "$d" && odd_targets "$d"
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  printf '1 2 3 4 5 6 7 8' > "$TMPDIR/tok.txt"
  for t in link dangling fifo dir; do
    refused 1 "not replaced" "$d/$t" wg quantize models/tinygpt2 --preset q8 -o "$d/$t"
    refused 1 "not replaced" "$d/$t" wg quantize models/tinygpt2 --preset q8 --plan-out "$d/$t" -o "$TMPDIR/q.st"
    refused 1 "not replaced" "$d/$t" wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --reference-only --reference-out "$d/$t"
    refused 1 "not replaced" "$d/$t" wg export-onnx models/tinyllama-onnx/model.onnx --preset q4 -o "$d/$t"
    refused 1 "not replaced" "$d/$t" wg verify models/tinyllama --tokens "$TMPDIR/tok.txt" --logits-out "$d/$t"
  done
  refused 1 "not replaced" "$d/link" wg build models/tinyllama-onnx/model.onnx -o "$TMPDIR/b2" --emit-onnx "$d/link"
  refused 1 "not replaced" "$d/link" wg verify models/tinyllama --tokens "$TMPDIR/tok.txt" --target-bits 4 --measure --measure-out "$d/link"
  [ ! -e "$TMPDIR/b2" ] && [ ! -e "$TMPDIR/q.st" ]
  refused 1 "cannot go to stdout" "-" wg quantize models/tinygpt2 --preset q8 -o -
  odd_targets_intact "$d"
  # a regular file is still replaced, atomically
  echo old > "$TMPDIR/r.f32"
  wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --reference-only --reference-out "$TMPDIR/r.f32" > /dev/null
  [ "$(stat -c %s "$TMPDIR/r.f32")" -eq $((8 * 4 * $(node -p 'require("./models/tinyllama/config.json").vocab_size'))) ]
}

t_strict_output_files_one_mechanism() { strict s_output_files_one_mechanism; }

# runs count of a results database
db_runs() { sqlite3 "$1" 'select count(*) from runs'; }
# the manifest inside an archive DIR.tar
tar_manifest() { tar -xOf "$1" "$2/manifest.json"; }

s_build_commits_all_or_nothing() {
  cd "$TMPDIR"
  local W=$OLDPWD
  # a build paused (by strace, 3 s after it took the lock) while a second one starts
  (ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:delay_exit=3000000:when=1 \
     "$WGPACK" build "$W/models/tinyllama" -o b --preset q8 --archive tar --db r.db > a.out 2>&1; echo $? > a.rc) &
  for i in $(seq 200); do [ -s .b.lock ] && break; sleep 0.02; done
  holder=$(cat .b.lock)
  [ "$(cat /proc/$holder/comm)" = wgpack ]
  refused 4 "another build into this directory is running (pid $holder" "b" \
    wg build "$W/models/tinyllama" -o b --preset q4 --archive tar --db r.db
  wait
  [ "$(cat a.rc)" -eq 0 ]
  # the loser changed nothing: one row, the archive and the bundle are the winner's
  [ "$(db_runs r.db)" -eq 1 ]
  tar_manifest b.tar b | cmp - b/manifest.json
  assert_json b/manifest.json 'j.options.preset==="q8"'
  cp b/manifest.json old.json
  # a step that fails after others were written: nothing of this build appears
  set +e
  "$WGPACK" build "$W/models/tinyllama-onnx/model.onnx" -o b --preset q4 --archive tar --emit-onnx x.onnx --db no/such/r.db 2> err; rc=$?
  set -e
  [ $rc -eq 4 ] && [ ! -e x.onnx ] && [ ! -e x.onnx_data ] && cmp b/manifest.json old.json
  tar_manifest b.tar b | cmp - old.json
  "$WGPACK" build "$W/models/tinyllama-onnx/model.onnx" -o b --preset q4 --archive tar --emit-onnx x.onnx --external-data --db no/such/r.db 2> /dev/null && exit 1
  [ ! -e x.onnx ] && [ ! -e x.onnx_data ] && cmp b/manifest.json old.json && no_tmp_left .
  # what killed builds left beside b goes with the next build into b (and nothing else)
  mkdir .b.tmp.Ab12Cd && echo x > .b.tmp.Ab12Cd/shard.bin && echo x > .b.tar.tmp.Zz99Yy
  echo mine > .bx.tmp.Ab12Cd && echo mine > .c.tmp.Ab12Cd
  for i in 1 2 3 4 5 6; do
    timeout -s KILL 0.0$i "$WGPACK" build "$W/models/tinyllama" -o b --archive tar > /dev/null 2>&1 || true
  done
  wg build "$W/models/tinyllama-onnx/model.onnx" -o b --preset q4 --archive tar --emit-onnx x.onnx --db r.db > /dev/null
  [ "$(ls -a | grep '\.tmp\.' | tr '\n' ' ')" = ".bx.tmp.Ab12Cd .c.tmp.Ab12Cd " ] || { ls -a; exit 1; }
  [ "$(cat .bx.tmp.Ab12Cd .c.tmp.Ab12Cd)" = "$(printf 'mine\nmine')" ]
  [ "$(db_runs r.db)" -eq 2 ] && [ -f x.onnx ] && tar_manifest b.tar b | cmp - b/manifest.json
  wg verify-bundle b > /dev/null
}

t_strict_build_commits_all_or_nothing() { strict s_build_commits_all_or_nothing; }

s_strict_numbers_token_files_and_help() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  local t="$TMPDIR/tok.txt" B="$TMPDIR/b"
  printf '1 2 3 4 5 6 7 8\n' > "$t"
  # one integer syntax for every numeric option: digits, in range, nothing after
  refused 1 "--max-tokens must be an integer in" "not '5abc'" wg run "$B" --tokens "$t" --reference-only --max-tokens 5abc
  refused 1 "--generate must be an integer in" "not '1e9'" wg run "$B" --tokens "$t" --generate 1e9
  refused 1 "--timeout must be an integer in" "not '0x10'" wg run "$B" --tokens "$t" --timeout 0x10
  refused 1 "--threads must be an integer in" "not '2x'" wg run "$B" --tokens "$t" --reference-only --threads 2x
  refused 1 "--max-seq must be an integer in" "not ' 64'" wg run "$B" --tokens "$t" --max-seq ' 64'
  refused 1 "--max-tokens must be an integer in" "not ''" wg verify models/tinyllama --tokens "$t" --max-tokens ''
  refused 1 "--threads must be an integer in 1..64" "not '0'" wg build models/tinyllama -o "$TMPDIR/x" --threads 0
  refused 1 "--zstd-level must be an integer in" "not '6.5'" wg build models/tinyllama -o "$TMPDIR/x" --compress zstd --zstd-level 6.5
  refused 1 "--tabs must be an integer in" "not '2tabs'" wg build models/tinyllama -o "$TMPDIR/x" --tabs 2tabs
  refused 1 "--group-size must be an integer in" "not '32k'" wg quantize models/tinygpt2 --group-size 32k -o "$TMPDIR/x.st"
  refused 1 "--critical-layers must be an integer in" "not '1.5'" wg quantize models/tinygpt2 --critical-layers 1.5 -o "$TMPDIR/x.st"
  refused 1 "--threads must be an integer in" "not '+4'" wg export-onnx models/tinyllama-onnx/model.onnx --threads +4 -o "$TMPDIR/x.onnx"
  refused 1 "--n must be an integer in" "not '1e2'" wg kernel-ref "$B" model.norm.weight --n 1e2 -o "$TMPDIR"
  refused 1 "--rows must be an integer in" "not '-1'" wg kernel-gen --kind gemv --format q4g32s --rows -1
  refused 1 "--seed must be a non-negative decimal integer" "not '-1'" wg verify models/tinyllama-onnx/model.onnx --seed -1
  [ ! -e "$TMPDIR/x" ] && [ ! -e "$TMPDIR/x.st" ] && [ ! -e "$TMPDIR/x.onnx" ]
  # token files: every token decimal, a binary file whole tokens, a regular file
  for bad in '1 2 3.5 4:token 2 (.3.5.)' '1 2 0x10 4:token 2 (.0x10.)' '1e2 3 4:token 0 (.1e2.)' \
             '1 2 -3:token 2 (.-3.)' '1 2 3 4,:token 3 (.4,.)'; do
    printf '%s\n' "${bad%%:*}" > "$TMPDIR/bad.txt"
    refused 2 "is not a decimal integer" "$TMPDIR/bad.txt" wg run "$B" --tokens "$TMPDIR/bad.txt" --reference-only
    grep -q "${bad#*:}" "$TMPDIR/refused.stderr"
  done
  printf '1 2 3\n4 5 abc\n' > "$TMPDIR/bad.txt"   # past --max-tokens still counts: the file is bad
  refused 2 "token 5 ('abc') is not a decimal integer" "$TMPDIR/bad.txt" wg verify models/tinyllama --tokens "$TMPDIR/bad.txt" --max-tokens 2
  head -c 9 /dev/zero > "$TMPDIR/t9.i32"
  refused 2 "9 bytes is not a whole number of 4-byte tokens" "$TMPDIR/t9.i32" wg run "$B" --tokens "$TMPDIR/t9.i32" --reference-only
  head -c 20 /dev/zero > "$TMPDIR/t.i64"
  refused 2 "20 bytes is not a whole number of 8-byte tokens" "$TMPDIR/t.i64" wg run "$B" --tokens "$TMPDIR/t.i64" --reference-only
  mkfifo "$TMPDIR/fifo"     # no writer: refused at once, never waited on
  refused 2 "not a regular file (a FIFO)" "$TMPDIR/fifo" timeout 20 "$WGPACK" run "$B" --tokens "$TMPDIR/fifo" --reference-only
  refused 2 "not a regular file (a directory)" "$TMPDIR" wg run "$B" --text "$TMPDIR" --reference-only
  # good files still read: text with any whitespace, .i32
  printf ' 1\t2\r\n3  4\n' > "$TMPDIR/ok.txt"
  wg run "$B" --tokens "$TMPDIR/ok.txt" --reference-only --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.tokens===4'
  # --help for every command: usage on stdout, exit 0
  for c in inspect quantize build verify-bundle verify export-onnx run serve kernel-ref kernel-gen matrix record-kernels; do
    wg $c --help > "$TMPDIR/h" && grep -q "^usage: wgpack $c" "$TMPDIR/h"
  done
}

t_strict_numbers_token_files_and_help() { strict s_strict_numbers_token_files_and_help; }

s_report_inlined_json_escaped() {
  local d="$TMPDIR/m<!--<script>&"$'\u2028'"x"
  mkdir "$d" && cp models/tinyllama-onnx/model.onnx models/tinyllama-onnx/model.onnx.data "$d/"
  timeout 600 "$WGPACK" verify "$d/model.onnx" --tokens models/tinyllama-onnx/ref_tokens.i64 --report "$TMPDIR/rep" > /dev/null
  # the data block holds no character that can end or re-mode a <script>, and reads back as
  # the same JSON (the path intact)
  node -e 'const fs=require("fs"),h=fs.readFileSync(process.argv[1],"utf8"),o="<script id=\"data\" type=\"application/json\">";
    const a=h.indexOf(o)+o.length,b=h.indexOf("</script>",a),t=h.slice(a,b);
    if (/[<>&\u2028\u2029]/.test(t)) { console.error("unescaped:", t.match(/.{0,20}[<>&\u2028\u2029].{0,20}/)[0]); process.exit(1); }
    const j=JSON.parse(t), r=JSON.parse(fs.readFileSync(process.argv[2],"utf8"));
    if (JSON.stringify(j)!==JSON.stringify(r) || !JSON.stringify(j).includes(process.argv[3])) process.exit(1)' \
    "$TMPDIR/rep/report.html" "$TMPDIR/rep/report.json" "$d"
  # and the page renders with it (headless Chromium)
  timeout 300 node tools/report/check_report.mjs "$TMPDIR/rep/report.html" "$TMPDIR/shot.png" components roles > /dev/null
}

t_strict_report_inlined_json_escaped() { strict s_report_inlined_json_escaped; }

# flip2 FILE OFFSET: invert two bytes at OFFSET
flip2() { node -e 'const fs=require("fs"),f=process.argv[1],o=+process.argv[2],b=fs.readFileSync(f);b[o]^=0xff;b[o+1]^=0xff;fs.writeFileSync(f,b)' "$1" "$2"; }

s_reference_reads_check_shard_hashes() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  printf '1 2 3 4 5 6 7 8' > "$TMPDIR/tok.txt"
  t=model.layers.0.mlp.down_proj.weight
  mkdir "$TMPDIR/o"
  # the shard holding t, and an offset inside t's data
  read -r shard off < <(node -e 'const m=require(process.argv[1]),t=m.tensors.find(t=>t.name===process.argv[2]),p=t.parts[0];
    console.log(m.shards[p.shard].file, p.data.offset + (p.data.bytes >> 1))' "$TMPDIR/b/manifest.json" $t)
  wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --reference-only > /dev/null
  flip2 "$TMPDIR/b/$shard" "$off"
  refused 2 "the shard's xxh3 is" "$TMPDIR/b/$shard" wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --reference-only
  refused 2 "the shard's xxh3 is" "$TMPDIR/b/$shard" wg kernel-ref "$TMPDIR/b" $t -o "$TMPDIR/o"
  [ -z "$(ls -A "$TMPDIR/o")" ]
  flip2 "$TMPDIR/b/$shard" "$off"   # restored: read again
  wg kernel-ref "$TMPDIR/b" $t -o "$TMPDIR/o" && [ -s "$TMPDIR/o/dequant.f32" ]
}

t_strict_reference_reads_check_shard_hashes() { strict s_reference_reads_check_shard_hashes; }

s_usage_errors_before_work_and_full_disk() {
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  printf '1 2 3 4 5 6 7 8' > "$TMPDIR/tok.txt"
  # a runner that says when it was started: it must not be
  printf '#!/bin/sh\ntouch "%s/runner-started"\nexit 1\n' "$TMPDIR" > "$TMPDIR/node" && chmod +x "$TMPDIR/node"
  for e in chromium node deno; do
    WGPACK_NODE="$TMPDIR/node" WGPACK_DENO="$TMPDIR/node" refused 1 "--max-seq 4 is below the 8 tokens" "$TMPDIR/tok.txt" \
      wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --max-seq 4 --engine $e
    WGPACK_NODE="$TMPDIR/node" WGPACK_DENO="$TMPDIR/node" refused 1 "--max-seq 9 is below the 10 tokens" "$TMPDIR/tok.txt" \
      wg run "$TMPDIR/b" --tokens "$TMPDIR/tok.txt" --max-seq 9 --generate 2 --engine $e
  done
  [ ! -e "$TMPDIR/runner-started" ]
  # a full disk under --db: said as such, no file left, the bundle not replaced
  mkdir "$TMPDIR/full"
  if ! mount -t tmpfs -o size=64k tmpfs "$TMPDIR/full" 2> /dev/null; then
    echo "SKIP the full-disk half: cannot mount a tmpfs here"; return 0
  fi
  trap 'umount "$TMPDIR/full"' EXIT
  head -c 1M /dev/zero > "$TMPDIR/full/fill" 2> /dev/null || true
  cp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  refused 4 "the disk is full" "$TMPDIR/full/r.db" wg build models/tinyllama -o "$TMPDIR/b" --preset q4 --db "$TMPDIR/full/r.db"
  [ ! -e "$TMPDIR/full/r.db" ] && [ ! -e "$TMPDIR/full/r.db-journal" ] && cmp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  # an existing database on a disk that fills: the row is not recorded, the file is kept
  rm "$TMPDIR/full/fill"
  wg build models/tinyllama -o "$TMPDIR/b" --preset q8 --db "$TMPDIR/full/r.db" > /dev/null
  cp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"; cp "$TMPDIR/full/r.db" "$TMPDIR/r.db"
  head -c 1M /dev/zero > "$TMPDIR/full/fill" 2> /dev/null || true
  refused 4 "the disk is full" "$TMPDIR/full/r.db" wg build models/tinyllama -o "$TMPDIR/b" --preset q4 --db "$TMPDIR/full/r.db"
  cmp "$TMPDIR/full/r.db" "$TMPDIR/r.db" && cmp "$TMPDIR/b/manifest.json" "$TMPDIR/old.json"
  [ "$(sqlite3 "$TMPDIR/full/r.db" 'select count(*) from runs')" -eq 1 ]
}

t_strict_usage_errors_before_work_and_full_disk() { strict s_usage_errors_before_work_and_full_disk; }

s_inputs_never_wait_on_a_fifo() {
  local f="$TMPDIR/fifo"
  mkfifo "$f"
  printf '1 2 3 4 5 6 7 8' > "$TMPDIR/tok.txt"
  # each read of a small input: refused at once (a FIFO with no writer used to block forever)
  refused 2 "not a regular file (a FIFO)" "$f" timeout 20 "$WGPACK" build models/tinygpt2 -o "$TMPDIR/b" --rules "$f"
  refused 2 "not a regular file (a FIFO)" "$f" timeout 20 "$WGPACK" quantize models/tinygpt2 --recipe "$f" -o "$TMPDIR/q.st"
  refused 2 "not a regular file (a FIFO)" "$f" timeout 20 "$WGPACK" quantize models/tinygpt2 --costs "$f" --target-bits 4 -o "$TMPDIR/q.st"
  refused 2 "not a regular file (a FIFO)" "$f" timeout 20 "$WGPACK" verify models/tinyllama --tokens "$TMPDIR/tok.txt" --ref-logits "$f"
  mkdir "$TMPDIR/m" && cp models/tinygpt2/model.safetensors "$TMPDIR/m/" && mkfifo "$TMPDIR/m/config.json"
  refused 2 "not a regular file (a FIFO)" "$TMPDIR/m/config.json" timeout 20 "$WGPACK" inspect "$TMPDIR/m"
  [ ! -e "$TMPDIR/b" ] && [ ! -e "$TMPDIR/q.st" ]
}

t_strict_inputs_never_wait_on_a_fifo() { strict s_inputs_never_wait_on_a_fifo; }
