# tests/e2e_loader.sh — the page side of a bundle (issue 24, rows 4, 5, 6 and 10): the manifest
# rules shared by `wgpack verify-bundle` and the JS loader, and the loader in headless Chromium
# against a server that fails on purpose.

t_loader_manifest_rules_shared_by_verify_bundle_and_loader() {
  # kernel tables, dispatch, bindings, plan coverage, closed objects: each edit refused by the
  # C reader (exit 5, one line naming manifest.json and the field) and by the loader (naming
  # the manifest URL and the field); real bundles of four kinds pass both
  wg build models/tinyllama -o "$TMPDIR/l" > /dev/null
  wg build models/tinyllama -o "$TMPDIR/lz" --compress zstd --tabs 2 --shard-size 64KiB > /dev/null
  wg build models/tinybert -o "$TMPDIR/bert" > /dev/null
  wg build $VAD/silero_vad_v5.onnx -o "$TMPDIR/v" > /dev/null
  WGPACK="$WGPACK" timeout 300 node tests/loader_rules.mjs "$TMPDIR/l" "$TMPDIR/lz" "$TMPDIR/bert" "$TMPDIR/v"
}

t_loader_faults_in_headless_chromium() {
  # retries (503 then 200, a dropped connection, a short body), bounded backoff, URL and status
  # in every failure, missing manifest / kernel, kernel bytes hashed, rules refused before any
  # shard, binding limits before any shard, GPU validation errors through error scopes, no
  # WebGPU refused before anything is fetched
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  timeout 600 node tests/loader_faults.mjs "$TMPDIR/b"
}

t_loader_in_node_dawn_and_deno_wgpu() {
  # the same loader outside the browser: retries, 404 named, GPU validation errors through the
  # error scopes and guard(), in Dawn (Node) and in wgpu (Deno)
  export XDG_RUNTIME_DIR="$TMPDIR/xdg"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"
  export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
  wg build models/tinyllama -o "$TMPDIR/b" > /dev/null
  timeout 300 node tests/loader_engines.mjs "$TMPDIR/b" > "$TMPDIR/node.txt" 2>&1 || true
  DENO_NO_PACKAGE_JSON=1 timeout 300 node_modules/.bin/deno run --unstable-webgpu --no-config -A \
    tests/loader_engines.mjs "$TMPDIR/b" > "$TMPDIR/deno.txt" 2>&1 || true
  grep -hE '^(ok|FAIL)' "$TMPDIR/node.txt" "$TMPDIR/deno.txt"
  grep -qx OK "$TMPDIR/node.txt" && grep -qx OK "$TMPDIR/deno.txt"
}
