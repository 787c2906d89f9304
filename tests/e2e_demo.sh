# tests/e2e_demo.sh — text in, text out from the command line and the demo page: `wgpack run
# --prompt` (the bundle's own tokenizer makes the ids, tools/web/text_ids.mjs; the generated text
# printed) held to Hugging Face's tokenizers, its refusals, and `wgpack serve`'s page driven in
# headless Chromium. Sourced by tests/run; uses wg, assert_json (tests/e2e.sh), refused
# (tests/e2e_hostile.sh), wg_run and run_refused (tests/e2e_run.sh), text_model (tests/e2e_text.sh).

swiftshader() {
  export XDG_RUNTIME_DIR="$TMPDIR/xdg" VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
}

# a real tokenizer (Qwen3's files, 151669 ids, beside a tiny Llama of that vocabulary): the ids
# are Rust tokenizers' and the text its decode of the generated ids; --chat the template's
t_demo_run_prompt_with_a_real_tokenizer() {
  swiftshader
  text_model "$TMPDIR/m"
  wg build "$TMPDIR/m" -o "$TMPDIR/b" > /dev/null
  p='Hello, world! def f(x): return x  # 你好 🤗'
  wg_run "$TMPDIR/b" --prompt "$p" --generate 3 --engine node --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'j.agrees && j.greedy_matches===3 && j.generated_ids.length===3 && typeof j.text==="string" && j.tokens_per_s>0'
  node tests/text/check_prompt.mjs "$TMPDIR/r.json" "$TMPDIR/m" "$p"
  printf 'Write a haiku about WebGPU.\n' > "$TMPDIR/p.txt"
  wg_run "$TMPDIR/b" --prompt-file "$TMPDIR/p.txt" --chat --generate 2 --json > "$TMPDIR/c.json"
  assert_json "$TMPDIR/c.json" 'j.agrees && j.prompt_ids[0]===151644 && j.prompt_ids.slice(-3).join()==="151644,77091,198"'  # <|im_start|> ... <|im_start|>assistant\n
  node tests/text/check_prompt.mjs "$TMPDIR/c.json" "$TMPDIR/m" --file "$TMPDIR/p.txt" --chat
  # the human report ends with the generated text itself
  wg_run "$TMPDIR/b" --prompt-file "$TMPDIR/p.txt" --chat --generate 2 --engine node > "$TMPDIR/c.txt"
  grep -q '^prompt:    .* tokens' "$TMPDIR/c.txt"
  node -e 'const fs=require("fs"),[t,j]=process.argv.slice(1);process.exit(fs.readFileSync(t,"utf8").endsWith("\n"+require(j).text+"\n")?0:1)' "$TMPDIR/c.txt" "$TMPDIR/c.json"
}

# the default model with its byte tokenizer: the page's greedy answer is the CLI's, in Chromium
t_demo_run_prompt_default_model_in_chromium() {
  swiftshader
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  wg_run "$TMPDIR/b" --prompt 'def ' --json > "$TMPDIR/r.json"   # --generate 32 by default
  assert_json "$TMPDIR/r.json" 'j.agrees && j.engine==="chromium" && JSON.stringify(j.prompt_ids)==="[100,101,102,32]" && j.generated_ids.length===32 && j.text===Buffer.from(j.generated_ids).toString("latin1")'
  node tests/text/check_prompt.mjs "$TMPDIR/r.json" tests/text/bytes 'def '
}

t_demo_run_prompt_refusals() {
  wg build models/tinyllama -o "$TMPDIR/plain" > /dev/null
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  # the ids alone (no runtime): the C reference runs the tokenizer's ids
  wg_run "$TMPDIR/b" --prompt 'def ' --reference-only --json > "$TMPDIR/r.json"
  assert_json "$TMPDIR/r.json" 'JSON.stringify(j.prompt_ids)==="[100,101,102,32]" && j.tokens===4 && j.reference_nll>0 && j.generated_ids.length===0 && j.text===null'
  run_refused 2 "the bundle has no tokenizer" "$TMPDIR/plain" "$TMPDIR/plain" --prompt 'def ' || return 1
  run_refused 1 "expected BUNDLE and one of" "wgpack run" "$TMPDIR/b" --prompt 'def ' --text README.md || return 1
  run_refused 1 "expected BUNDLE and one of" "wgpack run" "$TMPDIR/b" --prompt 'def ' --prompt-file README.md || return 1
  run_refused 1 "--chat applies the chat template to --prompt" "wgpack run" "$TMPDIR/b" --text README.md --chat || return 1
  run_refused 2 "has no chat_template" "$TMPDIR/b" "$TMPDIR/b" --prompt 'def ' --chat || return 1
  run_refused 2 "No such file" "$TMPDIR/none.txt" "$TMPDIR/b" --prompt-file "$TMPDIR/none.txt" || return 1
  run_refused 2 "the prompt file is not a regular file (a directory)" "$TMPDIR" "$TMPDIR/b" --prompt-file "$TMPDIR" || return 1
  mkfifo "$TMPDIR/fifo"   # no writer: refused at once, never waited on
  run_refused 2 "not a regular file (a FIFO)" "$TMPDIR/fifo" "$TMPDIR/b" --prompt-file "$TMPDIR/fifo" || return 1
  printf 'caf\xe9\n' > "$TMPDIR/latin1.txt"
  run_refused 2 "the prompt is not UTF-8 text" "$TMPDIR/latin1.txt" "$TMPDIR/b" --prompt-file "$TMPDIR/latin1.txt" || return 1
  run_refused 2 "the prompt makes no tokens" "--prompt" "$TMPDIR/b" --prompt '' || return 1
  run_refused 2 "the prompt makes 4 tokens, more than --max-tokens 3" "--prompt" "$TMPDIR/b" --prompt 'def ' --max-tokens 3 || return 1
  run_refused 2 "position table leaves room for 504" "--prompt" "$TMPDIR/b" --prompt "$(printf 'x%.0s' $(seq 600))" --max-tokens 1000 --generate 8 || return 1
  # a tokenizer file changed after the build fails its SHA-256, as in a page
  f=$(ls "$TMPDIR/b/text/"tokenizer-*.json)
  sed -i 's/"<0x41>"/"<0x4A>"/' "$f"
  run_refused 2 "integrity check failed" "$TMPDIR/b" "$TMPDIR/b" --prompt 'def ' --reference-only || return 1
}

# serve BUNDLE --port 0 in the background: sets SERVE_URL and SERVE_PID (killed when the test's
# shell exits)
serve_bg() {
  "$WGPACK" serve "$1" --port 0 > "$TMPDIR/serve.out" 2> "$TMPDIR/serve.err" &
  SERVE_PID=$!
  trap 'kill $SERVE_PID 2> /dev/null || true' EXIT
  for _ in $(seq 100); do
    SERVE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$TMPDIR/serve.out" || true)
    [ -n "$SERVE_URL" ] && return 0
    sleep 0.2
  done
  echo "wgpack serve printed no address: $(cat "$TMPDIR/serve.err")"; return 1
}

# GET PATH (sent as it is, no normalisation) [RANGE]: "STATUS CONTENT-TYPE BYTES CONTENT-RANGE"
http_get() {
  node -e 'const u=new URL(process.argv[1]);require("http").get({host:u.hostname,port:u.port,path:process.argv[2],headers:process.argv[3]?{range:process.argv[3]}:{}},r=>{let n=0;r.on("data",c=>n+=c.length);r.on("end",()=>console.log(r.statusCode,r.headers["content-type"]||"-",n,r.headers["content-range"]||"-"))})' "$SERVE_URL" "$@"
}

t_demo_serve_files_types_ranges_and_no_escape() {
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  serve_bg "$TMPDIR/b"
  web=tools/web   # (not spelled out: tests/run would take this for a browser test)
  [ "$(http_get /)" = "200 text/html; charset=utf-8 $(stat -c %s "$web"/demo.html) -" ]
  [ "$(http_get /bundle/manifest.json)" = "200 application/json $(stat -c %s "$TMPDIR/b/manifest.json") -" ]
  [ "$(http_get /web/wgpack-text.js | cut -d' ' -f1-3)" = "200 text/javascript; charset=utf-8" ]
  http_get /node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs | grep -q '^200 text/javascript'
  http_get /node_modules/@huggingface/jinja/dist/index.js | grep -q '^200 text/javascript'
  k=$(cd "$TMPDIR/b" && ls kernels/*.wgsl | head -1)
  http_get "/bundle/$k" | grep -q '^200 text/plain'
  s=$(node -e 'console.log(require(process.argv[1]).shards[0].file)' "$TMPDIR/b/manifest.json")
  [ "$(http_get "/bundle/$s" bytes=16-31)" = "206 application/octet-stream 16 bytes 16-31/$(stat -c %s "$TMPDIR/b/$s")" ]
  http_get "/bundle/$s" bytes=99999999- | grep -q '^416 '
  # nothing outside the four roots: dots, encoded dots and slashes, a link out, other packages
  ln -s /etc/passwd "$TMPDIR/b/passwd"
  for p in /bundle/../README.md /bundle/%2e%2e/%2e%2e/README.md /web/..%2f..%2fREADME.md /bundle/passwd \
           /node_modules/@huggingface/transformers/package.json /bundle/ /bundle/kernels /README.md /bundle/%00; do
    http_get "$p" | grep -q '^404 ' || { echo "$p: $(http_get "$p")"; return 1; }
  done
  # refusals: not a bundle, a port that cannot be had
  refused 2 "cannot read manifest" "$TMPDIR/none/manifest.json" wg serve "$TMPDIR/none" || return 1
  refused 1 "--port" "wgpack serve" wg serve "$TMPDIR/b" --port 70000 || return 1
  port=$(echo "$SERVE_URL" | grep -o '[0-9]*/$' | tr -d /)
  refused 4 "the port is in use" "127.0.0.1:$port" wg serve "$TMPDIR/b" --port "$port" || return 1
}

# the page in headless Chromium: typed prompt, streamed answer (the CLI's greedy text), the
# progress bar full, tokens/s shown; a screenshot of it
t_demo_serve_decoder_page_streams_the_cli_text() {
  swiftshader
  wg build models/tinyllama --tokenizer tests/text/bytes -o "$TMPDIR/b" > /dev/null
  wg_run "$TMPDIR/b" --prompt 'class ' --generate 24 --json > "$TMPDIR/r.json"
  serve_bg "$TMPDIR/b"
  timeout 900 node tests/text/demo_page.mjs "$SERVE_URL" --prompt 'class ' --max 24 --shot "$TMPDIR/page.png" | tee "$TMPDIR/p.json"
  node -e 'const r=require(process.argv[1]),p=require(process.argv[2]);
    const ok=p.ok && p.out===r.text && p.chunks>1 && p.bar===1 && /^24 tokens, [0-9.]+ tokens\/s \(length\)$/.test(p.rate) && p.title==="tinyllama" && /^loaded in /.test(p.progress);
    if(!ok){console.error("the page shows "+JSON.stringify(p)+", the CLI generated "+JSON.stringify(r.text));process.exit(1)}' "$TMPDIR/r.json" "$TMPDIR/p.json"
  [ "$(head -c 8 "$TMPDIR/page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]  # a PNG
  : chromium
}

# an encoder: the page's similarity box gives the cosine of the two sentences' pooled,
# normalised embeddings, equal to the one from the C reference's hidden states of the same ids
t_demo_serve_encoder_page_similarity() {
  swiftshader
  wg build models/tinybert --preset fp16 --tokenizer tests/text/bytes-bert -o "$TMPDIR/b" > /dev/null
  a='def add(a, b): return a + b' b='for line in open(path): print(line)'
  wg_run "$TMPDIR/b" --prompt "$a" --reference-only --reference-out "$TMPDIR/a.f32" --json > "$TMPDIR/a.json"
  wg_run "$TMPDIR/b" --prompt "$b" --reference-only --reference-out "$TMPDIR/b.f32" --json > "$TMPDIR/b.json"
  serve_bg "$TMPDIR/b"
  timeout 900 node tests/text/demo_page.mjs "$SERVE_URL" --a "$a" --b "$b" --shot "$TMPDIR/page.png" | tee "$TMPDIR/p.json"
  node -e 'const fs=require("fs"),[d]=process.argv.slice(1);
    const emb=n=>{const h=new Float32Array(fs.readFileSync(d+"/"+n+".f32").buffer.slice(0)),t=require(d+"/"+n+".json").prompt_ids.length,H=h.length/t,v=new Float64Array(H);
      for(let r=0;r<t;r++)for(let k=0;k<H;k++)v[k]+=h[r*H+k]/t;const s=Math.hypot(...v);return v.map(x=>x/s)};
    const x=emb("a"),y=emb("b");let c=0;for(let k=0;k<x.length;k++)c+=x[k]*y[k];
    const p=require(d+"/p.json");
    if(!p.ok||Math.abs(Number(p.cosine)-c)>2e-6||Number(p.cosine)>0.9999){console.error("page cosine "+p.cosine+", C reference "+c);process.exit(1)}
    console.log("cosine: page "+p.cosine+", C reference "+c.toFixed(7))' "$TMPDIR"
  : chromium
}
