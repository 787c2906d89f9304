// run_model.mjs — the engine side of `wgpack run`: serves the bundle on 127.0.0.1 and runs its
// model in headless Chromium (Debian's, on whatever adapter it finds) or in Node with Dawn (npm
// `webgpu`), through tools/web/run-core.js in both.
// Usage: node tools/web/run_model.mjs --engine chromium|node --bundle DIR --tokens FILE.i32
//          --out OUTDIR [--generate N] [--max-seq N] [--chunk N] [--bench]
// Writes OUTDIR/out.f32 (f32 [n][dim]: logits, or the encoder's last hidden state) and
// OUTDIR/result.json ({ok: true, ...timings} or {ok: false, error}); exit 0, or 1 on failure.
// --bench (node engine): also measures the adapter's read ceiling in the same process.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const engine = opt('--engine', 'chromium'), outDir = opt('--out');
const bundle = path.resolve(opt('--bundle', '.')), tokensFile = opt('--tokens');
const generate = Number(opt('--generate', 0)), maxSeq = opt('--max-seq') ? Number(opt('--max-seq')) : undefined;
const chunk = opt('--chunk') ? Number(opt('--chunk')) : undefined;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const finish = (res, code) => {
  fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify({ engine, ...res }, null, 1) + '\n');
  process.exit(code);
};
const fail = e => finish({ ok: false, error: String(e?.message || e).split('\n')[0] }, 1);

// the bundle under /b/, this repository's tools/web under /w/, the tokens at /t, the output POSTed to /o
function serve() {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wgsl': 'text/plain' };
  const srv = http.createServer((req, res) => {
    const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (req.method === 'POST' && u === '/o') {
      const chunks = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => { fs.writeFileSync(path.join(outDir, 'out.f32'), Buffer.concat(chunks)); res.writeHead(200); res.end(); });
      return;
    }
    const file = u === '/t' ? tokensFile : u.startsWith('/b/') ? path.join(bundle, u.slice(3))
               : u.startsWith('/w/') ? path.join(root, 'tools/web', u.slice(3)) : null;
    if (!file || file.includes('\0') || (u.startsWith('/b/') && !path.resolve(file).startsWith(bundle + path.sep))) { res.writeHead(404); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  // never close an idle keep-alive connection first: Node's fetch (undici) may be sending on it
  // at that moment and fails the request ("fetch failed") instead of retrying
  srv.keepAliveTimeout = 0;
  srv.listen(0, '127.0.0.1');
  return new Promise(r => srv.on('listening', () => r({ srv, origin: `http://127.0.0.1:${srv.address().port}` })));
}

async function chromium(origin) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [
    '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    const q = new URLSearchParams({ bundle: '/b/manifest.json', tokens: '/t', out: '/o', generate: String(generate) });
    if (maxSeq) q.set('maxSeq', String(maxSeq));
    if (chunk) q.set('chunk', String(chunk));
    await page.goto(`${origin}/w/run.html?${q}`);
    await page.waitForFunction(() => window.__result || window.__error, null, { timeout: Number(process.env.RUN_TIMEOUT_MS || 600000) });
    const r = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    if (r.error || !r.result) throw new Error(r.error || errors[0] || 'the page gave no result');
    return r.result;
  } finally { await browser.close(); }
}

// Node with Dawn; run under Deno (engine "deno"), the same path uses Deno's own WebGPU (wgpu +
// naga, Firefox's stack)
async function node(origin) {
  const { webgpu } = await import(pathToFileURL(path.join(root, 'tools/webgpu/gpu.mjs')).href);
  await webgpu({ asNavigator: true });
  const { runModel } = await import(pathToFileURL(path.join(root, 'tools/web/run-core.js')).href);
  const tb = fs.readFileSync(tokensFile);
  const tokens = Array.from(new Int32Array(tb.buffer.slice(tb.byteOffset, tb.byteOffset + tb.byteLength)));
  const { result, out, model } = await runModel({ bundle: `${origin}/b/manifest.json`, tokens, generate, maxSeq, chunk });
  fs.writeFileSync(path.join(outDir, 'out.f32'), Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  if (args.includes('--bench')) {
    const B = await import(pathToFileURL(path.join(root, 'tools/webgpu/gpubench.mjs')).href);
    const { device } = await B.openBenchDevice();
    result.read_ceiling_gbs = await B.readCeiling(device, B.timer(device));
    if (model.task === 'causal-lm') {
      // where a decoded token's time goes: one submit + map round trip with no work, the CPU
      // time to encode and submit one token's passes, and the rate without reading logits back
      const dev = model.device, rt = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now(), rb = dev.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const enc = dev.createCommandEncoder(); enc.clearBuffer(rb); dev.queue.submit([enc.finish()]);
        await rb.mapAsync(GPUMapMode.READ); rb.destroy(); rt.push(performance.now() - t);
      }
      result.map_roundtrip_ms = rt.sort((a, b) => a - b)[10];
      result.decode_encode_ms = model.stats.encode_ms;
      result.decode_unread_tokens_per_s = await model.timeDecode(64, Math.min(tokens.length, model.maxSeq - 65));
    }
    if (result.decode_tokens_per_s) result.decode_weight_gbs = result.decode_weight_bytes * result.decode_tokens_per_s / 1e9;
  }
  return result;
}

try {
  if (!outDir || !tokensFile) throw new Error('usage: run_model.mjs --engine chromium|node --bundle DIR --tokens FILE.i32 --out OUTDIR [--generate N] [--max-seq N] [--bench]');
  if (!['chromium', 'node', 'deno'].includes(engine) || (engine === 'deno') !== !!globalThis.Deno) throw new Error(`engine ${engine}: chromium or node under node, deno under deno`);
  const { srv, origin } = await serve();
  try {
    const result = engine === 'chromium' ? await chromium(origin) : await node(origin);
    srv.close();
    finish(result, 0);
  } finally { srv.close(); }
} catch (e) { fail(e); }
