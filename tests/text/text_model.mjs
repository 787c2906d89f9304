// tests/text/text_model.mjs — text in, text out through tools/web/wgpack-text.js on a real
// bundle, in Node with Dawn (--engine node) or in a page in headless Chromium (--engine chromium).
//   node tests/text/text_model.mjs --engine node|chromium --bundle DIR --prompt TEXT [--shot FILE.png]
//   node tests/text/text_model.mjs --engine node --bundle ENCODER_DIR --ref MODEL_DIR   (embed() vs PyTorch)
// node: loadTextModel's greedy generate() must give the ids the runtime's own generate() gives
// (the ids `wgpack run --generate` checks against the C reference), its text must be the
// tokenizer's decode of them, stream() must yield the same text in pieces, a stop string and an
// EOS id must end it where they occur. chromium: a ten-line page (below) streams a generation
// into a <pre>; the test waits for it and checks what the page shows against the Node result.
// Prints one JSON line; exits 1 on a failed check.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from './serve.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const engine = opt('--engine', 'node'), bundle = path.resolve(opt('--bundle')), prompt = opt('--prompt', 'def ');
const N = Number(opt('--max-new', 12)), shot = opt('--shot');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const check = (ok, what) => { if (!ok) { console.log(JSON.stringify({ ok: false, failed: what })); process.exit(1); } };

// The page a developer writes (the import map, then ten lines of script)
const page = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="importmap">{"imports": {"@huggingface/tokenizers": "/n/tokenizers/dist/tokenizers.min.mjs", "@huggingface/jinja": "/n/jinja/dist/index.js"}}</script>
<pre id="out"></pre>
<script type="module">
import { loadTextModel } from '/w/wgpack-text.js';
const q = new URLSearchParams(location.search), out = document.getElementById('out');
const m = await loadTextModel('/b/manifest.json');
out.textContent = q.get('prompt');
for await (const chunk of m.stream(q.get('prompt'), { maxNewTokens: Number(q.get('n')) }))
  out.textContent += chunk;
document.title = 'done';
</script>`;

const { srv, origin } = await serve(bundle, root, page);
const { webgpu } = await import(pathToFileURL(path.join(root, 'tools/webgpu/gpu.mjs')).href);
await webgpu({ asNavigator: true });
const { loadTextModel } = await import(pathToFileURL(path.join(root, 'tools/web/wgpack-text.js')).href);
const m = await loadTextModel(`${origin}/b/manifest.json`, opt('--hf') ? { f32: true } : {});
if (opt('--hf')) {
  // an encoder's task head (--hf DIR: tools/zoo/make_heads.py's checkpoint): the head's logits on
  // DIR/ids.txt against transformers' (hf_out.f32), and fillMask() / classify() against
  // transformers' fill-mask / text-classification pipelines on the same texts (hf.json)
  const ref = path.resolve(opt('--hf')), hf = JSON.parse(fs.readFileSync(path.join(ref, 'hf.json')));
  const ids = fs.readFileSync(path.join(ref, 'ids.txt'), 'utf8').trim().split(/\s+/).map(Number);
  const b = fs.readFileSync(path.join(ref, 'hf_out.f32')), want = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const got = await m.runtime.forward(ids, { head: true });
  check(got.length === want.length, `head output ${got.length} values, transformers ${want.length}`);
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
  check(maxAbs < 1e-4, `head logits: max |diff| ${maxAbs} against transformers`);
  const out = { ok: true, engine, task: m.runtime.head.task, head_max_abs_diff: +maxAbs.toExponential(2), texts: 0, worst_score_diff: 0 };
  for (const [text, r] of Object.entries(hf.pipeline)) {
    check(JSON.stringify(m.tokenizer.encode(text)) === JSON.stringify(r.ids), `${text}: ids equal transformers'`);
    const pairs = r.top ? (await m.fillMask(text)).map((x, i) => [x, r.top[i]])
                        : (await m.classify(text, { topK: null })).sort((a, c) => (a.label < c.label ? -1 : 1)).map((x, i) => [x, r.scores[i]]);
    check(pairs.length === (r.top || r.scores).length, `${text}: as many results as transformers`);
    for (const [x, y] of pairs) {
      const same = r.top ? x.token === y.token && x.token_str === y.token_str && x.sequence === y.sequence : x.label === y.label;
      check(same, `${text}: ${JSON.stringify(x)} is not transformers' ${JSON.stringify(y)}`);
      out.worst_score_diff = Math.max(out.worst_score_diff, Math.abs(x.score - y.score));
    }
    out.texts++;
  }
  check(out.worst_score_diff < 1e-5, `scores differ from transformers' by ${out.worst_score_diff}`);
  srv.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}
if (m.runtime.task === 'encoder') {
  // an encoder: embed() against PyTorch's last hidden state of the same text (--ref DIR: the
  // model's ref_ids.i32 / ref_hidden.f32, two sequences of L ids, the second padded), pooled as
  // sentence-transformers does with the bundle's 1_Pooling (mean over the real tokens) and
  // Normalize modules
  const ref = path.resolve(opt('--ref')), rd = f => { const b = fs.readFileSync(path.join(ref, f)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.length); };
  const rids = new Int32Array(rd('ref_ids.i32')), rh = new Float32Array(rd('ref_hidden.f32'));
  const L = rids.length / 2, H = rh.length / rids.length, out = { ok: true, engine, arch: 'bert', hidden: H, sentences: [] };
  for (let q = 0; q < 2; q++) {
    const seq = Array.from(rids.slice(q * L, (q + 1) * L)).filter(i => i !== m.tokenizer.padTokenId);
    const text = m.tokenizer.decode(seq, { skipSpecialTokens: true });
    check(JSON.stringify(m.tokenizer.encode(text)) === JSON.stringify(seq), `sentence ${q}: ids equal PyTorch's input`);
    const want = new Float32Array(H);
    for (let r = 0; r < seq.length; r++) for (let k = 0; k < H; k++) want[k] += rh[(q * L + r) * H + k] / seq.length;
    const n = Math.hypot(...want);
    const [got] = await m.embed([text]);
    let cos = 0, maxAbs = 0;
    for (let k = 0; k < H; k++) { cos += got[k] * want[k] / n; maxAbs = Math.max(maxAbs, Math.abs(got[k] - want[k] / n)); }
    check(Math.abs(Math.hypot(...got) - 1) < 1e-5, 'normalized');
    check(cos > 0.9999 && maxAbs < 1e-3, `sentence ${q}: cosine ${cos}, max |diff| ${maxAbs} against PyTorch`);
    out.sentences.push({ tokens: seq.length, cosine: +cos.toFixed(7), max_abs_diff: +maxAbs.toExponential(2) });
  }
  srv.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}
const ids = m.tokenizer.encode(prompt);
const r = await m.generate(prompt, { maxNewTokens: N, temperature: 0 });
const base = await m.runtime.generate(ids, N);                      // the runtime's own greedy loop
check(JSON.stringify(r.prompt_ids) === JSON.stringify(ids), 'prompt ids');
check(r.finishReason === 'length' && JSON.stringify(r.ids) === JSON.stringify(base), `generate ids ${r.ids} != runtime ${base}`);
check(r.text === m.tokenizer.decode(r.ids, { skipSpecialTokens: true }), 'text is the decode of the ids');
const result = { ok: true, engine, prompt, text: r.text, ids: r.ids.length, tokens_per_s: +r.tokensPerSecond.toFixed(2) };
if (engine === 'node') {
  const chunks = [];
  for await (const c of m.stream(prompt, { maxNewTokens: N })) chunks.push(c);
  check(chunks.join('') === r.text && chunks.length > 1, 'stream() yields the text in pieces');
  const stopAt = r.text.slice(Math.floor(r.text.length / 2), Math.floor(r.text.length / 2) + 2);
  const s = await m.generate(prompt, { maxNewTokens: N, stop: [stopAt] });
  check(s.finishReason === 'stop' && s.text === r.text.slice(0, r.text.indexOf(stopAt)), `stop string ${JSON.stringify(stopAt)}`);
  const e = await m.generate(prompt, { maxNewTokens: N, eosTokenIds: [r.ids[3]] });
  check(e.finishReason === 'eos' && e.ids.length === r.ids.indexOf(r.ids[3]) + 1, 'EOS id');
  const so = { maxNewTokens: 6, temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 1.2, seed: 7 };
  const t = await m.generate(prompt, so), t2 = await m.generate(prompt, so);
  check(t.ids.length === 6 && JSON.stringify(t.ids) === JSON.stringify(t2.ids), 'a seed reproduces a sampled generation');
  Object.assign(result, { stop: stopAt, sampled: t.text });
}

if (engine === 'chromium') {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [
    '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
  try {
    const p = await browser.newPage();
    const errors = [];
    p.on('pageerror', x => errors.push(String(x)));
    await p.goto(`${origin}/?${new URLSearchParams({ prompt, n: String(N) })}`);
    await p.waitForFunction(() => document.title === 'done' || document.title === 'error', null, { timeout: 300000 }).catch(() => {});
    const shown = await p.evaluate(() => document.getElementById('out').textContent);
    if (shot) await p.screenshot({ path: shot });
    check(!errors.length, `page error: ${errors[0]}`);
    check(shown === prompt + r.text, `the page shows ${JSON.stringify(shown)}, expected ${JSON.stringify(prompt + r.text)}`);
    result.page_shows = shown;
  } finally { await browser.close(); }
}
srv.close();
console.log(JSON.stringify(result));
process.exit(0);
