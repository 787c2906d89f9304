// serve.mjs — what `wgpack serve BUNDLE` runs: a static HTTP server (Node's http module, no
// dependencies) for the bundle and the demo page.
//   node tools/web/serve.mjs --bundle DIR [--port N] [--host 127.0.0.1]
// Routes (GET and HEAD only; anything else 404, never a directory listing):
//   /                      tools/web/demo.html
//   /bundle/PATH           the bundle's files
//   /web/FILE              tools/web/'s files (the runtime as it is: wgpack-text.js, -runtime.js, ...)
//   /node_modules/@huggingface/{tokenizers,jinja}/PATH   the two libraries the page maps
// A path is served only when its real path (symlinks resolved) lies inside its root, so
// "..", encoded dots and links out of the tree all answer 404. Single byte ranges (Range:
// bytes=a-b, a-, -n) answer 206 with Content-Range, an unsatisfiable one 416. Prints
// "wgpack serve: http://HOST:PORT/ (BUNDLE)" on stdout once listening (--port 0: a free port).
// Exit 2 when the bundle has no manifest.json, 4 when the port cannot be had.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const here = path.dirname(new URL(import.meta.url).pathname);
const die = (code, msg) => { process.stderr.write(`wgpack: ${msg}\n`); process.exit(code); };

const bundleArg = opt('--bundle');
if (!bundleArg) die(1, 'usage: serve.mjs --bundle DIR [--port N] [--host H]');
const real = p => { try { return fs.realpathSync(p); } catch { return null; } };
const bundle = real(bundleArg);
if (!bundle || !fs.statSync(path.join(bundle, 'manifest.json'), { throwIfNoEntry: false })?.isFile())
  die(2, `${bundleArg}: not a bundle (no manifest.json)`);
const roots = [
  ['/bundle/', bundle],
  ['/web/', real(here)],
  ['/node_modules/@huggingface/tokenizers/', real(path.join(here, '../../node_modules/@huggingface/tokenizers'))],
  ['/node_modules/@huggingface/jinja/', real(path.join(here, '../../node_modules/@huggingface/jinja'))],
].filter(([, dir]) => dir);

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wgsl': 'text/plain; charset=utf-8', '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream', '.zst': 'application/zstd', '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
};

// the file a URL path names, or null: decoded once, inside its root after symlinks
function resolve(urlPath) {
  let u;
  try { u = decodeURIComponent(urlPath); } catch { return null; }
  if (u.includes('\0')) return null;
  if (u === '/' || u === '/index.html') return real(path.join(here, 'demo.html'));
  for (const [prefix, dir] of roots) {
    if (!u.startsWith(prefix)) continue;
    const file = real(path.resolve(dir, u.slice(prefix.length)));
    return file && file.startsWith(dir + path.sep) ? file : null;
  }
  return null;
}

// [start, end] of a single "bytes=" range within size; null: the whole file; false: unsatisfiable
function range(h, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h || '');
  if (!m || (!m[1] && !m[2])) return null;
  let a = m[1] ? Number(m[1]) : size - Number(m[2]), b = m[1] && m[2] ? Number(m[2]) : size - 1;
  a = Math.max(0, a); b = Math.min(b, size - 1);
  return a <= b && a < size ? [a, b] : false;
}

function send(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }); res.end(); return; }
  const file = resolve(new URL(req.url, 'http://x').pathname);
  const st = file && fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found\n'); return; }
  const head = { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'accept-ranges': 'bytes',
                 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  const r = range(req.headers.range, st.size);
  if (r === false) { res.writeHead(416, { ...head, 'content-range': `bytes */${st.size}` }); res.end(); return; }
  const [a, b] = r || [0, st.size - 1];
  res.writeHead(r ? 206 : 200, { ...head, 'content-length': st.size ? b - a + 1 : 0, ...(r && { 'content-range': `bytes ${a}-${b}/${st.size}` }) });
  if (req.method === 'HEAD' || !st.size) { res.end(); return; }
  fs.createReadStream(file, { start: a, end: b }).on('error', () => res.destroy()).pipe(res);
}

const host = opt('--host', '127.0.0.1'), port = Number(opt('--port', 8080));
const srv = http.createServer(send);
srv.keepAliveTimeout = 0; // never close an idle keep-alive connection a client may be sending on
srv.on('error', e => die(4, `${host}:${port}: cannot listen: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`));
srv.listen(port, host, () => {
  const a = srv.address(), h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  process.stdout.write(`wgpack serve: http://${h}:${a.port}/ (${bundleArg})\n`);
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { srv.close(); process.exit(0); });
