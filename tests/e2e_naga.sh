# tests/e2e_naga.sh — every generated kernel through Firefox's WebGPU stack: Deno's WebGPU is
# wgpu with the naga WGSL compiler (npm `deno`, pinned in package.json), on SwiftShader. The
# same checker as for Dawn: every kernel the adapter can compile compiles, and each executes
# against the C reference (dequantize/gather bit-exact, GEMV/GEMM <= 1e-5 relative).
DENO=node_modules/.bin/deno

naga_check() {  # BUNDLE JSON
  VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json DENO_NO_PACKAGE_JSON=1 WGPACK="$WGPACK" \
    timeout 900 "$DENO" run --unstable-webgpu --no-config -A tools/webgpu/check_kernels.mjs "$1" --json "$2"
}

t_wgsl_kernels_in_naga_every_format() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  wg build models/tinyllama -o "$TMPDIR/d" > /dev/null
  naga_check "$TMPDIR/d" "$TMPDIR/d.json" | tail -2
  assert_json "$TMPDIR/d.json" 'j.engine.startsWith("deno") && j.compile.every(c=>c.status!=="error") && j.compile.filter(c=>c.status==="compiled").length>=20'
  assert_json "$TMPDIR/d.json" 'const r=j.exec.filter(e=>!e.shared); r.length===j.compile.filter(c=>c.status==="compiled"&&c.kind!=="op").length && r.every(e=>["ok","bit-exact"].includes(e.status))'
  # every integer width, group, symmetry, f32/bf16 and f32 scales on the default LM's weights
  wg inspect --json models/tinyllama > "$TMPDIR/i.json"
  wg inspect --json models/tinybert > "$TMPDIR/i2.json"
  node tools/webgpu/all_formats_sets.mjs "$TMPDIR/i.json" "$TMPDIR/i2.json" > "$TMPDIR/sets" 2>/dev/null || true
  wg build models/tinyllama -o "$TMPDIR/a" $(sed -n 1p "$TMPDIR/sets") > /dev/null
  wg build models/tinybert -o "$TMPDIR/b" $(sed -n 2p "$TMPDIR/sets") > /dev/null
  for x in a b; do
    naga_check "$TMPDIR/$x" "$TMPDIR/$x.json" | tail -1
    assert_json "$TMPDIR/$x.json" 'j.compile.every(c=>c.status!=="error") && j.exec.filter(e=>!e.shared).every(e=>["ok","bit-exact"].includes(e.status)) && j.failures===0'
  done
  node -e 'const a=require(process.argv[1]), b=require(process.argv[2]); const f=new Set([...a.exec,...b.exec].filter(e=>e.kind==="dequantize"&&e.status==="bit-exact").map(e=>e.format)); console.log(f.size+" formats bit-exact in naga"); if (f.size<40) process.exit(1)' "$TMPDIR/a.json" "$TMPDIR/b.json"
}

# SCRIPT run in Tint (Node's Dawn) and in naga (Deno): each must exit 0 and print at least N lines
# matching PATTERN (the kernels it checked)
tint_and_naga() {  # SCRIPT PATTERN N
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json WGPACK="$WGPACK" \
    node "$1" > "$TMPDIR/t.txt" || { cat "$TMPDIR/t.txt"; return 1; }
  VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json DENO_NO_PACKAGE_JSON=1 WGPACK="$WGPACK" \
    "$DENO" run --unstable-webgpu --no-config -A "$1" > "$TMPDIR/n.txt" || { cat "$TMPDIR/n.txt"; return 1; }
  [ "$(grep -c -- "$2" "$TMPDIR/t.txt")" -ge "$3" ] && [ "$(grep -c -- "$2" "$TMPDIR/n.txt")" -ge "$3" ] || { cat "$TMPDIR/t.txt" "$TMPDIR/n.txt"; return 1; }
}

# the int8-activation GEMV (kernel-gen --dot8, its xq8 pre-pass) in Tint (Node's Dawn) and in
# naga (Deno), each against a float64 model of the same int8 arithmetic (<= 1e-5 relative);
# the approximation's own error against the exact kernel is printed, not held (README)
t_dot8_gemv_agrees_in_tint_and_naga() { tint_and_naga tools/webgpu/check_dot8.mjs ' ok;' 12; }

# the direct integer GEMV (x read from the buffer, U chunks per step: kernel-gen --unroll U) at
# shapes no profile has (a remainder step, odd rows per workgroup, 32 and 256 threads), in Tint and
# naga, each against a float64 model of the dequantized weights (<= 1e-5 relative)
t_direct_gemv_agrees_in_tint_and_naga() { tint_and_naga tools/webgpu/check_gemv_direct.mjs ' ok$' 27; }
