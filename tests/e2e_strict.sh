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
