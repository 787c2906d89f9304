// tests/text/worker_page.mjs — the runtime in a Web Worker (tools/web/wgpack-worker.js), in a page
// in headless Chromium: createWorker's generate() must give the ids and text loadTextModel's gives
// on the page's own thread, stream the same chunks' text, and a worker's failure must reject with
// its message.
//   node tests/text/worker_page.mjs --bundle TEXT_BUNDLE
// Prints one JSON line; exits 1 on a failed check.
import path from 'node:path';
import { serve } from './serve.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const check = (ok, what) => { if (!ok) { console.log(JSON.stringify({ ok: false, failed: what })); process.exit(1); } };
const bundle = path.resolve(opt('--bundle'));

const page = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="importmap">{"imports": {"@huggingface/tokenizers": "/n/tokenizers/dist/tokenizers.min.mjs", "@huggingface/jinja": "/n/jinja/dist/index.js"}}</script>
<pre id="out"></pre>
<script type="module">
import { createWorker } from '/w/wgpack-worker.js';
import { loadTextModel } from '/w/wgpack-text.js';
const out = {};
try {
  const w = await createWorker('/b/manifest.json');
  const a = await w.generate('def ', { maxNewTokens: 8, temperature: 0 });
  const chunks = []; for await (const c of w.stream('def ', { maxNewTokens: 8 })) chunks.push(c);
  const m = await loadTextModel('/b/manifest.json');
  const b = await m.generate('def ', { maxNewTokens: 8, temperature: 0 });
  Object.assign(out, { worker_ids: a.ids, page_ids: b.ids, worker_text: a.text, page_text: b.text, streamed: chunks.join(''),
                       tokenizer: w.tokenizer.encode('def ').length === b.prompt_ids.length });
  try { await w.runtime.step(-5); out.bad_id = 'resolved'; } catch (e) { out.bad_id = e.message; }
  w.terminate();
} catch (e) { out.error = String(e && e.message || e); }
document.getElementById('out').textContent = JSON.stringify(out);
document.title = 'done';
</script>`;

const { srv, origin } = await serve(bundle, root, page);
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [
  '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
let r;
try {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', x => errors.push(String(x)));
  await p.goto(`${origin}/`);
  await p.waitForFunction(() => document.title === 'done', null, { timeout: 600000 }).catch(() => {});
  const shown = await p.evaluate(() => document.getElementById('out').textContent);
  check(!errors.length, `page error: ${errors[0]}`);
  r = JSON.parse(shown || '{}');
} finally { await browser.close(); srv.close(); }
check(!r.error, `the page failed: ${r.error}`);
check(JSON.stringify(r.worker_ids) === JSON.stringify(r.page_ids) && r.worker_ids.length === 8, `worker ids ${r.worker_ids} != page ids ${r.page_ids}`);
check(r.worker_text === r.page_text && r.streamed === r.page_text, 'the worker\'s text and stream equal the page\'s');
check(r.tokenizer, 'the worker model\'s tokenizer is the bundle\'s');
check(/token id -5 is outside the vocabulary/.test(r.bad_id), `a worker error rejects with its message: ${r.bad_id}`);
console.log(JSON.stringify({ ok: true, ids: r.worker_ids.length, text: r.worker_text }));
process.exit(0);
