// tools/web/test_loader.mjs — the JS loader in headless Chromium (real WebGPU on SwiftShader):
// serves the repository on 127.0.0.1, loads a bundle built by wgpack, runs a GEMV and a
// dequantization of a quantized layer and compares them with the C reference (`wgpack
// kernel-ref`); a corrupted shard must fail with an integrity error; two pages with ?tab=0 and
// ?tab=1 must each load exactly their partition; a second load with the Cache API hits the cache.
// Usage: node tools/web/test_loader.mjs BUNDLE_DIR (built with --tabs 2)
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const bundle = path.resolve(process.argv[2]);
const root = process.cwd();
const WGPACK = process.env.WGPACK || './wgpack';
const man = JSON.parse(fs.readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgl-'));
// a corrupted copy of the bundle
const bad = path.join(tmp, 'bad');
fs.cpSync(bundle, bad, { recursive: true });
const victim = path.join(bad, man.shards[0].file);
const vb = fs.readFileSync(victim); vb[100] ^= 0xff; fs.writeFileSync(victim, vb);
// the tensor under test: the first q4 matrix, with a deterministic input
const t = man.tensors.find(t => t.format.startsWith('q4')) || man.tensors.find(t => t.format.startsWith('q'));
let seed = 99;
const x = new Float32Array(t.K).map(() => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296 - 0.5; });
fs.writeFileSync(path.join(tmp, 'x.f32'), Buffer.from(x.buffer));
execFileSync(WGPACK, ['kernel-ref', bundle, t.name, '--x', path.join(tmp, 'x.f32'), '-o', tmp]);
const rd = n => { const b = fs.readFileSync(path.join(tmp, n)); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const refDq = new Uint32Array(rd('dequant.f32').buffer), refGv = rd('gemv.f32');

const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wgsl': 'text/plain' };
const srv = http.createServer((req, res) => {
  const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = u.startsWith('/__bundle/') ? path.join(bundle, u.slice(10)) : u.startsWith('/__bad/') ? path.join(bad, u.slice(7))
             : u.startsWith('/__tmp/') ? path.join(tmp, u.slice(7)) : path.join(root, u);
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(data);
  });
}).listen(0, '127.0.0.1');
await new Promise(r => srv.on('listening', r));
const origin = `http://127.0.0.1:${srv.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
  '--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
const ctx = await browser.newContext();
let failures = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++; };
async function open(query) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(`${origin}/tools/web/test.html?${query}`);
  await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 120000 });
  const r = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
  r.pageErrors = errors;
  return r;
}
try {
  const a = await open(`bundle=/__bundle/manifest.json&tensor=${encodeURIComponent(t.name)}&x=/__tmp/x.f32&cache=1`);
  check(!a.error, `loads the bundle in Chromium (${a.error || a.result.profile + ', ' + a.result.loaded.length + ' shards'})`);
  if (!a.error) {
    let bad = 0; for (let i = 0; i < refDq.length; i++) if (a.result.dequant[i] !== refDq[i]) bad++;
    check(a.result.dequant.length === refDq.length && bad === 0, `dequantize ${t.name} (${t.format}) bit-exact with the C reference (${bad} mismatches)`);
    let num = 0, den = 0; for (let i = 0; i < refGv.length; i++) { num += (a.result.gemv[i] - refGv[i]) ** 2; den += refGv[i] ** 2; }
    const rel = Math.sqrt(num / den);
    check(rel <= 1e-5, `GEMV ${t.name}: relative error ${rel.toExponential(2)} <= 1e-5`);
    check(a.result.loaded.length === man.shards.length && a.result.events.at(-1) === `ready:${man.shards.length}`, 'progress events and every shard loaded');
  }
  const again = await open(`bundle=/__bundle/manifest.json&cache=1`);
  check(!again.error && again.result.cached === man.shards.length, `second load served from the Cache API (${again.result?.cached} shards)`);
  const c = await open(`bundle=/__bad/manifest.json`);
  check(!!c.error && /integrity check failed/.test(c.error) && c.error.includes(man.shards[0].file), `corrupted shard rejected: ${c.error}`);
  if (man.plans.tabs) {
    for (const tab of [0, 1]) {
      const p = await open(`bundle=/__bundle/manifest.json&tab=${tab}`);
      const want = man.plans.tabs.partition[tab].shards.slice().sort().join();
      check(!p.error && p.result.loaded.slice().sort().join() === want, `tab ${tab} loaded exactly its partition (${p.result?.loaded.length} shards)`);
    }
  }
  // WebGPU disabled: a browser started without the WebGPU switches and with the GPU off
  const nogpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
    '--no-sandbox', '--disable-gpu', '--disable-webgpu', '--disable-features=WebGPU,Vulkan',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
  try {
    const page = await (await nogpu.newContext()).newPage();
    await page.goto(`${origin}/tools/web/test.html?bundle=/__bundle/manifest.json&tensor=${encodeURIComponent(t.name)}&x=/__tmp/x.f32`);
    await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 120000 });
    const w = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    check(!w.error && w.result.backend === 'wasm', `WebGPU disabled: loader fell back to WebAssembly (${w.error || 'navigator.gpu ' + w.result.gpu})`);
    if (!w.error) {
      let bad = 0; for (let i = 0; i < refDq.length; i++) if (w.result.dequant[i] !== refDq[i]) bad++;
      check(bad === 0 && w.result.dequant.length === refDq.length, `WASM dequantize bit-exact with the C reference (${bad} mismatches)`);
      let num = 0, den = 0; for (let i = 0; i < refGv.length; i++) { num += (w.result.gemv[i] - refGv[i]) ** 2; den += refGv[i] ** 2; }
      check(num === 0, `WASM GEMV equals the C reference exactly (rel err ${Math.sqrt(num / den).toExponential(2)})`);
    }
  } finally { await nogpu.close(); }
} finally {
  await browser.close();
  srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(failures ? `FAILED: ${failures}` : 'OK');
process.exit(failures ? 1 : 0);
