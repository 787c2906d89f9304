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
  (strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:delay_exit=3000000:when=1 \
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
