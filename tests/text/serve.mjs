// tests/text/serve.mjs — the tests' static server on 127.0.0.1 (an ephemeral port): "/" the given
// page, /b/ the bundle, /w/ tools/web, /n/ node_modules/@huggingface; nothing outside them.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

export function serve(bundle, root, page) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json' };
  const srv = http.createServer((req, res) => {
    const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (u === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(page); return; }
    const base = u.startsWith('/b/') ? bundle : u.startsWith('/w/') ? path.join(root, 'tools/web')
               : u.startsWith('/n/') ? path.join(root, 'node_modules/@huggingface') : null;
    const file = base && path.resolve(base, u.slice(3));
    if (!file || !file.startsWith(base + path.sep)) { res.writeHead(404); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  srv.keepAliveTimeout = 0;
  srv.listen(0, '127.0.0.1');
  return new Promise(r => srv.on('listening', () => r({ srv, origin: `http://127.0.0.1:${srv.address().port}` })));
}

