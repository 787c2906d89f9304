#!/usr/bin/env bash
# tools/fuzz.sh SECONDS — run every libFuzzer target for SECONDS, seeded from the test fixtures;
# prints executions per target and fails if any target found a crash (kept under
# build-fuzz/crashes/<target>/ to be turned into a regression file in tests/fuzz/regressions/).
set -u
cd "$(dirname "$0")/.."
S=${1:-60}
B=build-fuzz
FIX=$B/fixtures
rm -rf "$FIX"; ./$B/mkfixtures "$FIX" > /dev/null 2>&1 || true
seed() { # seed TARGET PREFIXBYTE FILES...
  local t=$1 p=$2; shift 2
  mkdir -p "$B/corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    [ "$(stat -c %s "$f")" -le 65536 ] || continue
    if [ -n "$p" ]; then { printf "\\x$p"; cat "$f"; } > "$B/corpus/$t/$(basename "$f")-$p"; else cp "$f" "$B/corpus/$t/"; fi
  done
}
seed safetensors 00 $FIX/st-bf16/model.safetensors $FIX/st-sharded/*.safetensors tests/bad/*.safetensors $FIX/bad/*.safetensors
seed safetensors 01 $FIX/st-sharded/model.safetensors.index.json tests/bad/*index*.json
seed onnx "" $FIX/onnx-sub/model.onnx $FIX/onnx-ext/model.onnx tests/bad/*.onnx $FIX/bad/*.onnx
./wgpack build models/tinygpt2 -o $B/seed-bundle --force > /dev/null 2>&1
seed json 01 $B/seed-bundle/manifest.json
printf '{"rules":[{"pattern":"*mlp.#.w","role":"ffn_up","component":"decoder","layout":"in_out"}],"family":"llama"}' > $B/rules.json
seed json 00 $B/rules.json
printf '{"preset":"mixed","group_size":64,"sym":false,"set":["role:ffn_down=q5","layers.0-1.*=q8"],"critical_layers":1,"target_bits":4.5}' > $B/recipe.json
seed json 02 $B/recipe.json
mkdir -p $B/corpus/dequant
rm -rf $B/crashes
total=0 fails=0
for t in safetensors onnx json dequant; do
  mkdir -p $B/crashes/$t
  log=$B/fuzz-$t.log
  ./$B/fuzz_$t $B/corpus/$t -max_total_time="$S" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix=$B/crashes/$t/ -print_final_stats=1 > "$log" 2>&1
  rc=$?
  ex=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  ncr=$(ls $B/crashes/$t | wc -l)
  echo "fuzz_$t: ${ex:-0} executions in ${S}s, $ncr crash files, exit $rc"
  total=$((total + ${ex:-0}))
  # a target that ran nothing has not passed
  [ $rc -eq 0 ] && [ "$ncr" -eq 0 ] && [ "${ex:-0}" -gt 0 ] || { fails=$((fails + 1)); grep -m5 -E "ERROR|SUMMARY|Abort|runtime error" "$log"; }
done
echo "fuzz total: $total executions, $fails target(s) failed"
[ $fails -eq 0 ]
