// tests/hostile/loader_names.mjs BUNDLE — the JS loader against a hostile manifest, in node
// (WebAssembly backend, fetch stubbed): a manifest that names files outside the bundle's
// directory (with SRI hashes that match, since they come from the same manifest) must be
// refused with an error naming the file, and nothing outside the directory may be fetched.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { loadBundle } from '../../tools/web/wgpack-loader.js';

const dir = process.argv[2];
const base = 'http://bundle.test/models/b/';
const secret = { '/secret/x.bin': fs.readFileSync(path.join(dir, JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'))).shards[0].file)) };
let fetched = [];
let manifestText = '';
globalThis.fetch = async (u) => {
  const url = new URL(String(u));
  fetched.push(url.href);
  let body;
  if (url.href === base + 'manifest.json') body = Buffer.from(manifestText);
  else if (url.href.startsWith(base)) body = fs.readFileSync(path.join(dir, decodeURIComponent(url.pathname.slice('/models/b/'.length))));
  else if (secret[url.pathname]) body = secret[url.pathname];
  else return new Response('', { status: 404 });
  return new Response(body, { status: 200 });
};
const sri = (b) => 'sha256-' + crypto.createHash('sha256').update(b).digest('base64');

const good = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
secret['/secret/w.wasm'] = fs.readFileSync(path.join(dir, good.wasm.file));
const cases = [];
{ // a shard outside the bundle, its SRI made to match
  const m = structuredClone(good), old = m.shards[0].file, evil = '../../secret/x.bin';
  m.shards[0].file = evil;
  m.shards[0].integrity = sri(secret['/secret/x.bin']);
  for (const g of m.plans.progressive) g.shards = g.shards.map(f => f === old ? evil : f);
  cases.push(['shard ../../secret/x.bin', m, evil]);
}
{ // the wasm module from the site's root
  const m = structuredClone(good);
  m.wasm.file = '/secret/w.wasm';
  m.wasm.integrity = sri(secret['/secret/w.wasm']);
  cases.push(['wasm /secret/w.wasm', m, '/secret/w.wasm']);
}
{ // a scheme and a %2e trick
  const m = structuredClone(good);
  m.wasm.file = 'https:evil.example#x';
  cases.push(['wasm https:evil.example#x', m, 'https:evil.example#x']);
  const m2 = structuredClone(good);
  m2.wasm.file = 'wasm/%2e%2e/%2e%2e/%2e%2e/secret/w.wasm';
  cases.push(['wasm %2e%2e', m2, '%2e%2e']);
}
let failed = 0;
for (const [what, m, name] of cases) {
  manifestText = JSON.stringify(m);
  fetched = [];
  let err = null;
  try { await loadBundle(base + 'manifest.json', { backend: 'wasm' }); } catch (e) { err = e; }
  const outside = fetched.filter(u => !u.startsWith(base));
  const ok = err && err.message.includes(name) && outside.length === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${err ? err.message : 'loaded'}; fetched outside: ${outside.join(' ') || 'none'}`);
  failed += ok ? 0 : 1;
}
manifestText = JSON.stringify(good); // and the untouched bundle still loads
fetched = [];
const b = await loadBundle(base + 'manifest.json', { backend: 'wasm' });
console.log(`${b.backend === 'wasm' ? 'ok  ' : 'FAIL'} the untouched bundle loads (${fetched.length} fetches)`);
process.exit(failed || b.backend !== 'wasm' ? 1 : 0);
