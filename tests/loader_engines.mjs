// tests/loader_engines.mjs BUNDLE — the loader outside the browser: Node with Dawn (npm
// `webgpu`) or Deno (wgpu + naga), against a local server that fails on purpose: a shard that
// answers 503 twice is retried and the load succeeds; a 404 is named with its URL at once; a
// GPU validation error (a zero-byte plane binding) comes back through the loader's error scopes
// naming the tensor and the kernel; checkErrors reports an error raised outside any scope.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { webgpu, engine } from '../tools/webgpu/gpu.mjs';
import { loadBundle, guard } from '../tools/web/wgpack-loader.js';

const bundle = path.resolve(globalThis.Deno ? Deno.args[0] : process.argv[2]);
const man = JSON.parse(fs.readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
const t = man.tensors.find(t => t.format.startsWith('q4')) || man.tensors.find(t => t.format.startsWith('q'));
const victim = man.shards[t.parts[0].shard].file;
const zero = structuredClone(man);
zero.tensors.find(x => x.name === t.name).parts[0].data.bytes = 0;
const hits = {};
const srv = http.createServer((req, res) => {
  const [, scn, f] = /^\/(\w+)\/(.*)$/.exec(new URL(req.url, 'http://x').pathname) || [];
  const key = `${scn}/${f}`;
  hits[key] = (hits[key] || 0) + 1;
  if ((scn === 'flaky' && f === victim && hits[key] <= 2) ) { res.writeHead(503); res.end(); return; }
  if (scn === 'gone' && f === victim) { res.writeHead(404); res.end(); return; }
  let data;
  try { data = scn === 'zero' && f === 'manifest.json' ? Buffer.from(JSON.stringify(zero)) : fs.readFileSync(path.join(bundle, f)); } catch { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-length': data.length });
  res.end(data);
});
srv.keepAliveTimeout = 0;
await new Promise(r => srv.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${srv.address().port}`;
await webgpu({ asNavigator: true });
let failures = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} [${engine}] ${what}`); if (!ok) failures++; };
const x = new Float32Array(t.K).fill(0.5);
const attempt = async (scn, f) => { try { return { b: await f(await loadBundle(`${origin}/${scn}/manifest.json`, { backend: 'webgpu', retryDelayMs: 10 })) }; } catch (e) { return { error: e.message }; } };
let r = await attempt('flaky', async b => { await b.gemv(t.name, x); return b; });
check(!r.error && hits[`flaky/${victim}`] === 3, `503, 503, 200: retried and loaded (${r.error || hits[`flaky/${victim}`] + ' requests'})`);
r = await attempt('gone', b => b);
check(r.error === `wgpack: ${origin}/gone/${victim}: HTTP 404 Not Found (missing)` || (r.error?.includes(`${origin}/gone/${victim}: HTTP 404`) ?? false), `a shard 404 named: ${r.error}`);
r = await attempt('zero', b => b.gemv(t.name, x));
check(/^wgpack: gemv of .* with kernels\/gemv-.*\.wgsl: GPU\w*Error: /.test(r.error || '') && r.error.includes(t.name), `a GPU validation error through the error scopes: ${r.error}`);
// guard and checkErrors, as the runtime calls them
const adapter = await navigator.gpu.requestAdapter(), device = await adapter.requestDevice();
let g = '';
try { await guard(device, 'a buffer of no usage', () => device.createBuffer({ size: 16, usage: 0 })); } catch (e) { g = e.message; }
check(g.startsWith('wgpack: a buffer of no usage: GPUValidationError: '), `guard: ${g}`);
srv.close();
console.log(failures ? `FAILED: ${failures}` : 'OK');
(globalThis.Deno ? Deno.exit : process.exit)(failures ? 1 : 0);
