// tests/loader_faults.mjs BUNDLE — the JS loader in headless Chromium against a server that
// misbehaves on purpose (issue 24, rows 4, 5, 6, 10): transient failures retried (503 then 200,
// a dropped connection, a short body), permanent ones named with the URL and the status at
// once (404) or after bounded retries (503 for ever), a missing manifest or kernel named as
// missing, a manifest that breaks the shared rules refused naming the field, a plane over the
// device's binding limit refused before any shard is fetched, a GPU validation error caught by
// the loader's error scopes, and a page without WebGPU refused before anything is fetched.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const bundle = path.resolve(process.argv[2]);
const root = process.cwd();
const man = JSON.parse(fs.readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
const t = man.tensors.find(t => t.format.startsWith('q4')) || man.tensors.find(t => t.format.startsWith('q'));
const tShard = man.shards[t.parts[0].shard].file;
const gemvs = Object.values(man.kernels.by_profile.chrome[t.format].gemv).map(i => man.kernels.files[i].file);
const other = man.shards.find(s => s.file !== tShard).file;
const edited = f => { const m = structuredClone(man); f(m); return Buffer.from(JSON.stringify(m)); };
// scenario -> (file, nth request of it) -> what to do: undefined serves the file
const scenarios = {
  ok: () => {},
  flaky: (f, n) => (f === tShard && n <= 2 ? 503 : f === other && n === 1 ? 'drop' : undefined),
  short: (f, n) => (f === other && n === 1 ? 'short' : undefined),
  short_always: f => (f === other ? 'short' : undefined),
  s404: f => (f === other ? 404 : undefined),
  s503: f => (f === other ? 503 : undefined),
  nomanifest: f => (f === 'manifest.json' ? 404 : undefined),
  nokernel: f => (gemvs.includes(f) ? 404 : undefined),
  bom: f => (gemvs.includes(f) ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(path.join(bundle, f))]) : undefined),
  swapped: f => (f === 'manifest.json' ? edited(m => { const dq = m.kernels.files.find(k => k.kind === 'dequantize' && k.format === t.format);
    for (const i of Object.values(m.kernels.by_profile.chrome[t.format].gemv)) Object.assign(m.kernels.files[i], { file: dq.file, xxh3: dq.xxh3, integrity: dq.integrity }); }) : undefined),
  ops9999: f => (f === 'manifest.json' ? edited(m => { m.kernels.ops_by_profile.chrome.rmsnorm.f32 = 9999; }) : undefined),
  plan50: f => (f === 'manifest.json' ? edited(m => { for (const g of m.plans.progressive) g.shards = Array(50).fill(g.shards).flat(); }) : undefined),
  dispatch0: f => (f === 'manifest.json' ? edited(m => { m.kernels.files.find(k => k.kind === 'gemv').dispatch.rows_per_workgroup = 0; }) : undefined),
  huge: f => (f === 'manifest.json' ? edited(m => { const p = m.tensors.find(x => x.name === t.name).parts[0]; m.shards[p.shard].bytes = 2 ** 40; p.data.bytes = 2 ** 40 - p.data.offset; }) : undefined),
  bigwg: f => (f === 'manifest.json' ? edited(m => { m.kernels.files[m.kernels.ops_by_profile.chrome.rmsnorm.f32].workgroup_size = [1024, 1, 1]; }) : undefined),
  zeroplane: f => (f === 'manifest.json' ? edited(m => { m.tensors.find(x => x.name === t.name).parts[0].data.bytes = 0; }) : undefined),
};
const hits = {};
const srv = http.createServer((req, res) => {
  const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const m = /^\/f\/(\w+)\/(.*)$/.exec(u);
  if (!m) {   // the loader and its page
    fs.readFile(path.join(root, u), (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': u.endsWith('.html') ? 'text/html' : u.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' });
      res.end(data);
    });
    return;
  }
  const [, scn, f] = m, key = `${scn}/${f}`;
  hits[key] = (hits[key] || 0) + 1;
  const act = scenarios[scn](f, hits[key]);
  if (typeof act === 'number') { res.writeHead(act); res.end(); return; }
  if (act === 'drop') { req.socket.destroy(); return; }
  let data = Buffer.isBuffer(act) ? act : null;
  try { data ??= fs.readFileSync(path.join(bundle, f)); } catch { res.writeHead(404); res.end(); return; }
  if (act === 'short') data = data.subarray(0, data.length >> 1);
  res.writeHead(200, { 'content-type': f.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'content-length': data.length });
  res.end(data);
}).listen(0, '127.0.0.1');
srv.keepAliveTimeout = 0;
await new Promise(r => srv.on('listening', r));
const origin = `http://127.0.0.1:${srv.address().port}`;
let seed = 7;
fs.writeFileSync(path.join(bundle, 'x.f32'), Buffer.from(new Float32Array(t.K).map(() => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; }).buffer));
const gpuArgs = ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader'];
const quiet = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...gpuArgs, ...quiet] });
let failures = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++; };
async function open(b, scn, extra = '') {
  const page = await (await b.newContext()).newPage();
  await page.goto(`${origin}/tools/web/test.html?bundle=/f/${scn}/manifest.json&tensor=${encodeURIComponent(t.name)}&x=/f/ok/x.f32&retryDelay=20${extra}`);
  await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 120000 });
  const r = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
  await page.context().close();
  return r;
}
const U = (scn, f) => `${origin}/f/${scn}/${f}`;
try {
  let r = await open(browser, 'ok');
  check(!r.error, `the bundle loads through the fault server (${r.error || 'ok'})`);
  r = await open(browser, 'flaky');
  check(!r.error && hits[`flaky/${tShard}`] === 3 && hits[`flaky/${other}`] === 2,
        `503, 503, 200 and a dropped connection retried: loads (${r.error || hits[`flaky/${tShard}`] + ' and ' + hits[`flaky/${other}`] + ' requests'})`);
  r = await open(browser, 'short');
  check(!r.error && hits[`short/${other}`] === 2, `a short body is retried (${r.error || hits[`short/${other}`] + ' requests'})`);
  r = await open(browser, 'short_always', '&retries=2');
  check(r.error?.includes(U('short_always', other)) && /received \d+ bytes, the manifest says \d+; gave up after 3 attempts/.test(r.error), `a body short for ever: ${r.error}`);
  r = await open(browser, 's404');
  check(r.error?.includes(U('s404', other)) && r.error.includes('HTTP 404') && r.error.includes('missing') && hits[`s404/${other}`] === 1,
        `a shard 404 fails the load at once, not retried: ${r.error} (${hits[`s404/${other}`]} request)`);
  r = await open(browser, 's503', '&retries=3');
  check(r.error?.includes(U('s503', other)) && r.error.includes('HTTP 503') && r.error.includes('gave up after 4 attempts') && hits[`s503/${other}`] === 4,
        `a shard 503 for ever: bounded retries, then the load fails: ${r.error}`);
  r = await open(browser, 'nomanifest');
  check(r.error === `wgpack: ${U('nomanifest', 'manifest.json')}: HTTP 404 Not Found (missing)` , `a missing manifest: ${r.error}`);
  r = await open(browser, 'nokernel');
  check(gemvs.some(g => r.error?.includes(U('nokernel', g))) && r.error.includes('HTTP 404') && r.error.includes('missing') && !r.error.includes('integrity'), `a missing kernel: ${r.error}`);
  // a kernel served with a byte-order mark: the same decoded text, other bytes
  r = await open(browser, 'bom');
  check(gemvs.some(g => r.error?.includes(U('bom', g))) && r.error.includes('integrity check failed'), `kernel bytes hashed, not their decoded text: ${r.error}`);
  r = await open(browser, 'swapped');
  check(/kernels\/dequantize-.*: the manifest lists bindings 0:read-only-storage 1:read-only-storage 3:read-only-storage .*, the kernel declares 0:read-only-storage 1:read-only-storage 4:storage/.test(r.error || ''), `a gemv entry naming a dequantize kernel's file: ${r.error}`);
  for (const [scn, field] of [['ops9999', 'kernels.ops_by_profile.chrome.rmsnorm.f32'], ['plan50', 'plans.progressive[0] lists shard'],
                              ['dispatch0', '.dispatch.rows_per_workgroup']]) {
    r = await open(browser, scn);
    const shards = Object.keys(hits).filter(k => k.startsWith(scn + '/') && k.endsWith('.bin')).length;
    check(r.error?.startsWith(`wgpack: ${U(scn, 'manifest.json')}: `) && r.error.includes(field) && shards === 0, `manifest ${scn} refused before any shard: ${r.error}`);
  }
  r = await open(browser, 'huge');
  check(/maxStorageBufferBindingSize \(\d+\)/.test(r.error) && r.error.includes(t.name) && !Object.keys(hits).some(k => k.startsWith('huge/') && k.endsWith('.bin')),
        `a plane over the binding limit refused before any shard: ${r.error}`);
  r = await open(browser, 'bigwg');
  check(/kernel kernels\/op-rmsnorm-.* needs a workgroup of 1024x1x1, more than this device allows \(maxComputeInvocationsPerWorkgroup 256/.test(r.error || '') && !Object.keys(hits).some(k => k.startsWith('bigwg/') && k.endsWith('.bin')),
        `a kernel over the device's workgroup limit refused before any shard: ${r.error}`);
  r = await open(browser, 'zeroplane');
  check(/^wgpack: gemv of .* GPU?ValidationError|^wgpack: gemv of .*Error: /.test(r.error || '') && r.error.includes(t.name), `a GPU validation error surfaces through the error scopes: ${r.error}`);
} finally { await browser.close(); }
// a browser without WebGPU, asked for WebGPU only: refused at once, nothing fetched
const nogpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-webgpu', '--disable-features=WebGPU,Vulkan', ...quiet] });
try {
  const r = await open(nogpu, 'ok', '&backend=webgpu');
  const before = hits['ok/manifest.json'];
  check(r.error?.includes('no WebGPU') && r.error.includes('nothing was fetched') && hits['ok/manifest.json'] === before, `no WebGPU: ${r.error}`);
} finally { await nogpu.close(); srv.close(); fs.rmSync(path.join(bundle, 'x.f32'), { force: true }); }
console.log(failures ? `FAILED: ${failures}` : 'OK');
process.exit(failures ? 1 : 0);
