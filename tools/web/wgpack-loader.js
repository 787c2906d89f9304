// wgpack-loader.js — load a wgpack bundle into WebGPU. A small ES module, no dependencies.
//
//   import { loadBundle } from './wgpack-loader.js';
//   const b = await loadBundle('/models/tinyllama/manifest.json', { onProgress: console.log });
//   const y = await b.gemv('model.layers.0.mlp.down_proj.weight', x);   // Float32Array
//   const w = await b.dequantize('lm_head.weight');                       // Float32Array
//
// Options: profile (override the detected one), tab (load only that tab's partition of the
// manifest's multi-tab plan), concurrency (parallel fetches, default 4), cache (use the Cache
// API so a second load does not hit the network), onProgress({phase, bytes, totalBytes, shards,
// totalShards}), adapter / device (reuse your own).
// backend: 'webgpu' (WebGPU or nothing: without an adapter, reject before fetching anything),
// 'wasm' (the WebAssembly path below), or unset (WebGPU when there is an adapter, else wasm).
// retries (default 4) / retryDelayMs (default 200): a fetch that fails transiently (network
// error, HTTP 5xx, 408, 429, a short body) is retried with exponential backoff (at most 5 s
// apart); when it gives up, openBundle's `ready` (and loadBundle) reject naming the URL and
// the last status. Every other failure names the URL and the HTTP status at once.
// The manifest is validated before anything else is fetched (validateManifest: the rules in
// wgpack-manifest-rules.js, the same file `wgpack verify-bundle` embeds); every shard, kernel
// and wasm module is checked against its SRI hash (SubtleCrypto SHA-256, on the fetched bytes)
// before it is used; a mismatch rejects with an Error naming the file. Every tensor plane must
// fit the device's maxStorageBufferBindingSize and every shard its maxBufferSize, or the load
// is refused before a shard is fetched, naming the tensor (or shard) and the limit.
// GPU errors: everything the loader creates runs under error scopes (guard), and the device's
// `lost` and `uncapturederror` are watched (checkErrors): failures reject with what was being
// built (the kernel, the tensor) and the implementation's message.
// Without WebGPU (no navigator.gpu, no adapter, or backend: 'wasm'), the same calls run on the
// bundle's WebAssembly build of the C reference dequantizer (b.backend === 'wasm').
import RULES from './wgpack-manifest-rules.js';

const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const sha256 = async (bytes) => 'sha256-' + b64(await crypto.subtle.digest('SHA-256', bytes));

// ---------------------------------------------------------------- fetching

class FetchError extends Error {}
const transient = status => status >= 500 || status === 429 || status === 408;
const sleep = ms => new Promise(r => setTimeout(r, ms));

// fetchBytes(url, {retries, retryDelayMs, bytes}): the body of url as an ArrayBuffer. A network
// error, a transient status or (with `bytes`) a body of another length is retried with
// exponential backoff; anything else, or giving up, throws naming the URL and the status.
export async function fetchBytes(url, { retries = 4, retryDelayMs = 200, bytes } = {}) {
  for (let attempt = 0; ; attempt++) {
    let why;
    try {
      const resp = await fetch(url);
      if (resp.ok) {
        const body = await resp.arrayBuffer();
        if (bytes === undefined || body.byteLength === bytes) return body;
        why = `received ${body.byteLength} bytes, the manifest says ${bytes}`;
      } else {
        why = `HTTP ${resp.status}${resp.statusText ? ' ' + resp.statusText : ''}${resp.status === 404 || resp.status === 410 ? ' (missing)' : ''}`;
        if (!transient(resp.status)) throw new FetchError(`wgpack: ${url}: ${why}`);
      }
    } catch (e) {
      if (e instanceof FetchError) throw e;
      why = `network error (${e.message})`;
    }
    if (attempt >= retries) throw new FetchError(`wgpack: ${url}: ${why}; gave up after ${attempt + 1} attempts`);
    await sleep(Math.min(retryDelayMs * 2 ** attempt, 5000));
  }
}

// The one way the loader turns a name from the manifest into a URL. The manifest is untrusted
// (and its SRI hashes come from the same file), so a name must be a plain relative path inside
// the bundle's directory: [A-Za-z0-9._-] segments not starting with '.', at most one directory
// level (kernels/x.wgsl, wasm/x.wasm); no scheme, no leading '/', no '.'/'..' segment, no
// backslash, no '%' (so no %2e tricks). Anything else is refused, naming the file.
export function bundleFile(name, base) {
  const seg = '[A-Za-z0-9_-][A-Za-z0-9._-]*';
  if (typeof name === 'string' && new RegExp(`^(?:${seg}/)?${seg}$`).test(name)) {
    const dir = new URL('./', base);
    const url = new URL(name, dir);
    if (url.origin === dir.origin && url.href.startsWith(dir.href)) return url.href;
  }
  throw new Error(`wgpack: the manifest names ${JSON.stringify(name)}, which is not a plain file inside the bundle's directory`);
}

// the bundle's text files (the manifest's "text" section) as parsed JSON, keyed by their Hugging
// Face names ("tokenizer.json", "1_Pooling/config.json", "preprocessor_config.json", ...), each
// verified against the manifest's integrity string
export async function loadTextFiles(manifestUrl, manifest, opts = {}) {
  const base = new URL(manifestUrl, globalThis.location?.href);
  manifest ||= await (await fetch(base)).json();
  const files = manifest.text?.files || {};
  const out = {};
  // with opts.cache, kept in the Cache API beside the shards (the loader's cache: the names are
  // content hashes, so a cached copy is the file; a copy that fails its hash is dropped)
  const cache = opts.cache && globalThis.caches ? await caches.open('wgpack-' + manifest.model.name) : null;
  await Promise.all(Object.entries(files).map(async ([name, f]) => {
    const url = bundleFile(f.file, base);
    let resp = cache ? await cache.match(url) : undefined;
    const cached = !!resp;
    if (!resp) resp = await (opts.fetch || fetch)(url);
    if (!resp.ok) throw new Error(`wgpack: ${f.file}: HTTP ${resp.status}`);
    const bytes = await resp.clone().arrayBuffer();
    const digest = await sha256(bytes);
    if (digest !== f.integrity) {
      if (cached) await cache.delete(url);
      throw new Error(`wgpack: ${f.file}: integrity check failed (expected ${f.integrity}, got ${digest})`);
    }
    if (cache && !cached) await cache.put(url, resp);
    out[name] = JSON.parse(new TextDecoder().decode(bytes));
  }));
  return out;
}

export function detectProfile(adapter, userAgent = globalThis.navigator?.userAgent || '') {
  if (/Mobi|Android|iPhone|iPad/.test(userAgent)) return 'mobile';
  if (/Firefox\//.test(userAgent)) return 'firefox';
  if (/Edg\//.test(userAgent)) return 'edge';
  if (/Safari\//.test(userAgent) && !/Chrom(e|ium)\//.test(userAgent)) return 'safari';
  return 'chrome';
}

async function verifiedFetch(base, shard, cache, opts = {}) {
  const url = bundleFile(shard.file, base);
  const cached = cache ? await cache.match(url) : undefined;
  let bytes = cached ? await cached.arrayBuffer() : null, fromCache = !!bytes;
  if (fromCache && (bytes.byteLength !== shard.bytes || await sha256(bytes) !== shard.integrity)) {
    await cache.delete(url);   // a stale or damaged cache entry: fetch it anew
    bytes = null; fromCache = false;
  }
  if (!bytes) {
    bytes = await fetchBytes(url, { ...opts, bytes: shard.bytes });
    const digest = await sha256(bytes);
    if (digest !== shard.integrity) throw new Error(`wgpack: ${url}: integrity check failed (expected ${shard.integrity}, got ${digest})`);
    if (cache) await cache.put(url, new Response(bytes.slice(0)));
  }
  return { bytes, fromCache };
}

// loadBundle: fetch every shard (verified), then return the handle below.
export async function loadBundle(manifestUrl, opts = {}) {
  const b = await openBundle(manifestUrl, opts);
  if (b.ready) await b.ready;
  return b;
}

// openBundle: the same handle, returned as soon as the device is open; shards arrive in the
// manifest's progressive order while the caller goes on. b.ready resolves when all are
// resident; b.shardReady(i) when shard i is (both reject with the fetch's error).
export async function openBundle(manifestUrl, opts = {}) {
  const base = new URL(manifestUrl, globalThis.location?.href);
  const progress = opts.onProgress || (() => {});
  const fopts = { retries: opts.retries ?? 4, retryDelayMs: opts.retryDelayMs ?? 200 };
  // the adapter first: a page that cannot run the bundle learns it before any download
  const adapter = opts.backend === 'wasm' ? null
                : opts.adapter || (opts.device ? null : await globalThis.navigator?.gpu?.requestAdapter());
  if (!adapter && !opts.device && opts.backend === 'webgpu')
    throw new Error(`wgpack: ${base.href}: this page has no WebGPU ${globalThis.navigator?.gpu ? 'adapter' : '(navigator.gpu is missing)'}; nothing was fetched`);
  const manifest = await fetchManifest(base, fopts);
  if (!adapter && !opts.device) return loadWasm(manifest, base, opts, progress);
  const profile = opts.profile || detectProfile(adapter);
  if (!manifest.kernels.by_profile[profile]) throw new Error(`wgpack: ${base.href}: kernels.by_profile has no profile ${profile}`);
  const f16 = !!adapter?.features.has('shader-f16') && !opts.f32;
  const subgroups = !!adapter?.features.has('subgroups') && !opts.noSubgroups;
  // the largest buffers and bindings the adapter allows: a model's shards and activations may
  // pass the spec's defaults (128 MiB bindings) on desktop GPUs
  const lim = adapter?.limits;
  const requiredLimits = lim ? { maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize, maxBufferSize: lim.maxBufferSize } : undefined;
  const limits = opts.device ? opts.device.limits : lim;
  const device = opts.device || await adapter.requestDevice({ requiredFeatures: [f16 && 'shader-f16', subgroups && 'subgroups'].filter(Boolean), requiredLimits });
  watchDevice(device);
  const hasFeature = f => (opts.device ? opts.device.features.has(f) : f === 'shader-f16' ? f16 : subgroups);

  // which shards, in which order: the progressive plan, restricted to one tab if asked
  let wanted = manifest.plans.progressive.flatMap(g => g.shards);
  if (opts.tab !== undefined && opts.tab !== null) {
    const part = manifest.plans.tabs?.partition?.[opts.tab];
    if (!part) throw new Error(`wgpack: the bundle has no multi-tab partition ${opts.tab}`);
    const mine = new Set(part.shards);
    wanted = wanted.filter(f => mine.has(f));
  }
  const byFile = new Map(manifest.shards.map((s, i) => [s.file, i]));
  const order = wanted.map(f => byFile.get(f));
  checkLimits(manifest, base, new Set(order), opts.device ? limits : device.limits, profile);
  const totalBytes = order.reduce((a, i) => a + manifest.shards[i].bytes, 0);
  const cache = opts.cache && globalThis.caches ? await caches.open('wgpack-' + manifest.model?.name) : null;
  const buffers = new Map();
  const waiting = new Map(order.map(i => { let res, rej; const p = new Promise((a, b) => { res = a; rej = b; }); p.catch(() => {}); return [i, { p, res, rej }]; }));
  let bytes = 0, done = 0, next = 0, cached = 0;
  progress({ phase: 'fetch', bytes, totalBytes, shards: 0, totalShards: order.length });
  const worker = async () => {
    while (next < order.length) {
      const idx = order[next++];
      const shard = manifest.shards[idx];
      const { bytes: data, fromCache } = await verifiedFetch(base, shard, cache, fopts);
      cached += fromCache ? 1 : 0;
      const buf = await guard(device, `uploading shard ${shard.file}`, () => {
        const b = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
                                        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(b, 0, data, 0, data.byteLength & ~3);
        return b;
      });
      buffers.set(idx, buf);
      waiting.get(idx).res(buf);
      bytes += data.byteLength; done++;
      progress({ phase: 'fetch', bytes, totalBytes, shards: done, totalShards: order.length, file: shard.file });
    }
  };
  const ready = Promise.all(Array.from({ length: Math.min(opts.concurrency || 4, order.length) }, worker))
    .then(() => checkErrors(device, 'uploading the shards'))
    .then(() => progress({ phase: 'ready', bytes, totalBytes, shards: done, totalShards: order.length }),
          e => { for (const w of waiting.values()) w.rej(e); throw e; });
  ready.catch(() => {});
  const shardReady = i => waiting.get(i)?.p ?? Promise.reject(new Error(`wgpack: shard ${manifest.shards[i]?.file} is not loaded in this tab`));

  // kernels: compiled on first use, per (format, kind)
  const pipelines = new Map();
  async function pipeline(format, kind) {
    const ids = manifest.kernels.by_profile[profile]?.[format]?.[kind];
    if (!ids) throw new Error(`wgpack: no ${kind} kernel for ${format} in profile ${profile}`);
    // the manifest's preference order, limited to what this device has
    const usable = v => ids[v] !== undefined && (!v.startsWith('f16') || hasFeature('shader-f16')) && (!v.endsWith('-sg') || hasFeature('subgroups')) &&
                        fitsWorkgroup(manifest.kernels.files[ids[v]], device.limits);
    return compiled(ids[['f16-sg', 'f16', 'f32-sg', 'f32'].find(usable)]);
  }
  // the model's other ops (kernels.ops_by_profile): f32, the same on every adapter
  async function opPipeline(name) {
    const id = manifest.kernels.ops_by_profile?.[profile]?.[name]?.f32;
    if (id === undefined) throw new Error(`wgpack: the bundle has no ${name} kernel for profile ${profile}`);
    return compiled(id);
  }
  function compiled(id) {
    if (!pipelines.has(id)) pipelines.set(id, compile(id));
    return pipelines.get(id);
  }
  async function compile(id) {
    const kf = manifest.kernels.files[id];
    if (!kf) throw new Error(`wgpack: ${base.href}: the manifest names kernel ${id}, which it does not list`);
    const url = bundleFile(kf.file, base), name = kf.kind === 'op' ? `op ${kf.op}` : `${kf.kind} ${kf.format}`;
    const bytes = await fetchBytes(url, fopts);
    const digest = await sha256(bytes);   // the bytes as served, before any decoding
    if (digest !== kf.integrity) throw new Error(`wgpack: ${url}: integrity check failed (expected ${kf.integrity}, got ${digest})`);
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { throw new Error(`wgpack: ${url}: not UTF-8 text`); }
    checkDeclaredBindings(kf, text, url);
    const module = await guard(device, `compiling the ${name} kernel ${kf.file}`, () => device.createShaderModule({ code: text }));
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter(m => m.type === 'error');
    if (errors.length) throw new Error(`wgpack: ${url}: ${errors[0].lineNum}:${errors[0].linePos} ${errors[0].message}`);
    const desc = { layout: 'auto', compute: { module, entryPoint: 'main' } }, what = `the ${name} kernel's pipeline (${kf.file})`;
    let pipe;
    if (device.createComputePipelineAsync) {
      try { pipe = await device.createComputePipelineAsync(desc); } catch (e) { throw new Error(`wgpack: ${what}: ${e.message}`); }
    } else pipe = await guard(device, what, () => device.createComputePipeline(desc));
    return { kf, pipe };
  }
  // a tensor part's planes as a format kernel's bindings 0-2, bound in place in the shard's
  // buffer (sizes in whole 16-byte units: the kernels read vec4s)
  function planes(part) {
    const sb = buffers.get(part.shard);
    const pl = k => part[k] && { buffer: sb, offset: part[k].offset, size: Math.min(Math.ceil(part[k].bytes / 16) * 16, sb.size - part[k].offset) };
    return { 0: pl('data'), 1: pl('scales'), 2: pl('zeros') };
  }
  // a kernel's bind group from resources by binding number: those the manifest lists for it
  function bindGroup(pipe, kf, res) {
    for (const b of kf.bindings)
      if (!res[b.binding]) throw new Error(`wgpack: ${kf.file}: nothing to bind as binding ${b.binding} (${b.resource})`);
    return device.createBindGroup({ layout: pipe.getBindGroupLayout(0),
      entries: kf.bindings.map(b => ({ binding: b.binding, resource: res[b.binding] })) });
  }
  const tensors = new Map(manifest.tensors.map(t => [t.name, t]));
  const S = GPUBufferUsage.STORAGE;
  async function runPart(t, part, kind, input, n) {
    const { kf, pipe } = await pipeline(t.format, kind);
    const shardBuf = buffers.get(part.shard);
    if (!shardBuf) throw new Error(`wgpack: ${t.name} lives in shard ${manifest.shards[part.shard].file}, not loaded in this tab`);
    const rows = part.rows, K = t.K, Kp = t.padded_K || K, G = t.group_size || Kp;
    const outLen = kind === 'dequantize' ? rows * K : kind === 'gemv' ? rows : n * rows;
    let out, read, params, inBuf = null;
    await guard(device, `${kind} of ${t.name} with ${kf.file}`, () => {
      out = device.createBuffer({ size: outLen * 4, usage: S | GPUBufferUsage.COPY_SRC });
      read = device.createBuffer({ size: outLen * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(params, 0, new Uint32Array([rows, K, Kp, n, G, 0, 0, 0]));
      if (input) {
        // GEMV reads Kp values (zero beyond K); kernels read inputs as vec4: sizes in 16-byte units
        const padded = new Float32Array(Math.ceil(Math.max(input.length, kind === 'gemv' ? Kp : 0) / 4) * 4);
        padded.set(input);
        inBuf = device.createBuffer({ size: padded.byteLength, usage: S | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(inBuf, 0, padded);
      }
      const bg = bindGroup(pipe, kf, { ...planes(part), 3: inBuf && { buffer: inBuf }, 4: { buffer: out }, 5: { buffer: params } });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipe); pass.setBindGroup(0, bg);
      if (kind === 'gemm') pass.dispatchWorkgroups(Math.ceil(rows / kf.dispatch.tile[0]), Math.ceil(n / kf.dispatch.tile[1]));
      else {
        const W = kind === 'gemv' ? Math.ceil(rows / kf.dispatch.rows_per_workgroup) : rows;
        pass.dispatchWorkgroups(Math.min(W, 65535), Math.ceil(W / 65535));
      }
      pass.end();
      enc.copyBufferToBuffer(out, 0, read, 0, outLen * 4);
      device.queue.submit([enc.finish()]);
    });
    await read.mapAsync(GPUMapMode.READ);
    const r = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    [out, read, params, inBuf].forEach(b => b && b.destroy());
    return r;
  }
  async function run(name, kind, input, n) {
    const t = tensors.get(name);
    if (!t) throw new Error(`wgpack: no tensor ${name}`);
    if (t.format === 'raw') throw new Error(`wgpack: ${name} is not a weight matrix`);
    const parts = [];
    for (const p of t.parts) parts.push(await runPart(t, p, kind, input, n));
    if (parts.length === 1) return parts[0];
    // parts are consecutive row ranges: concatenate (GEMM output is [n][rows]: per input row)
    if (kind !== 'gemm') { const o = new Float32Array(parts.reduce((a, p) => a + p.length, 0)); let at = 0; for (const p of parts) { o.set(p, at); at += p.length; } return o; }
    const o = new Float32Array(n * t.rows);
    for (let m = 0; m < n; m++) { let at = 0; t.parts.forEach((p, i) => { o.set(parts[i].subarray(m * p.rows, (m + 1) * p.rows), m * t.rows + at); at += p.rows; }); }
    return o;
  }
  return {
    manifest, backend: 'webgpu', device, adapter, profile, f16, base,
    get cachedShards() { return cached; }, get bytesFetched() { return bytes; },
    loadedShards: order.map(i => manifest.shards[i].file),
    ready, shardReady, buffers, pipeline, opPipeline, planes, bindGroup,
    tensors,
    // GPU errors (see guard and checkErrors below): b.guard(what, fn) runs fn (synchronous:
    // creating buffers, bind groups, encoding, submitting) under validation and out-of-memory
    // error scopes and rejects with `what` and the message; b.checkErrors(what) throws if the
    // device was lost or reported an error outside any scope since the last call
    guard: (what, fn) => guard(device, what, fn),
    checkErrors: (what) => checkErrors(device, what),
    gemv: (name, x) => run(name, 'gemv', x, 1),
    gemm: (name, x, n) => run(name, 'gemm', x, n),
    dequantize: (name) => run(name, 'dequantize', null, 1),
  };
}

// ---------------------------------------------------------------- the manifest

async function fetchManifest(base, fopts) {
  const bytes = await fetchBytes(base.href, fopts);
  let m;
  try { m = JSON.parse(new TextDecoder().decode(bytes)); } catch (e) { throw new Error(`wgpack: ${base.href}: not a JSON manifest (${e.message})`); }
  validateManifest(m, base.href);
  return m;
}

const isObj = v => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v, lo = 0, hi = 2 ** 50) => Number.isInteger(v) && v >= lo && v <= hi;

// validateManifest(m, url): throws `wgpack: URL: FIELD ...` for the first thing wrong, by the
// rules in wgpack-manifest-rules.js (as pack/manifest_read.c does): closed objects hold only
// their keys; shards, tensor parts and planes are sizes inside their shard; the progressive
// plan lists every shard exactly once; kernel files have the dispatch facts and bindings their
// kind (and format) need; by_profile and ops_by_profile indices name kernels of that format,
// kind, variant or op.
export function validateManifest(m, url) {
  const bad = msg => { throw new Error(`wgpack: ${url}: ${msg}`); };
  const closed = (o, kind, at) => {
    if (!isObj(o)) bad(`${at} is not an object`);
    const keys = RULES.closed[kind];
    for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${at}: unknown key "${k}"`);
  };
  if (!isObj(m)) bad('not a wgpack manifest (not a JSON object)');
  if (m.generator?.name !== 'wgpack') bad('not a wgpack manifest (generator.name is not "wgpack")');
  if (m.format_version !== 1) bad(`unsupported format_version ${m.format_version} (this loader reads 1)`);
  if (!Array.isArray(m.shards) || !Array.isArray(m.tensors)) bad('no shards or tensors array');
  const files = new Map();
  m.shards.forEach((sh, i) => {
    closed(sh, 'shards[]', `shards[${i}]`);
    if (sh.zst != null) closed(sh.zst, 'shards[].zst', `shards[${i}].zst`);
    if (typeof sh.file !== 'string' || !isInt(sh.bytes) || typeof sh.integrity !== 'string' || !sh.integrity.startsWith('sha256-'))
      bad(`shards[${i}]: file, bytes or integrity missing or malformed`);
    if (files.has(sh.file)) bad(`shards[${i}]: shard ${sh.file} is listed twice`);
    files.set(sh.file, i);
  });
  m.tensors.forEach((t, i) => {
    const at = `tensors[${i}] (${t?.name})`;
    closed(t, 'tensors[]', at);
    if (!Array.isArray(t.parts) || !t.parts.length) bad(`${at}.parts is not a list of parts`);
    t.parts.forEach((p, j) => {
      closed(p, 'tensors[].parts[]', `${at}.parts[${j}]`);
      if (!isInt(p.shard, 0, m.shards.length - 1)) bad(`${at}.parts[${j}].shard ${p.shard} is not the index of a shard`);
      for (const q of ['data', 'scales', 'zeros']) {
        if (p[q] === undefined) continue;
        closed(p[q], 'tensors[].parts[].plane', `${at}.parts[${j}].${q}`);
        if (!isInt(p[q].offset) || !isInt(p[q].bytes) || p[q].offset % 256 || p[q].offset + p[q].bytes > m.shards[p.shard].bytes)
          bad(`${at}.parts[${j}].${q} is not a 256-byte aligned range inside shard ${m.shards[p.shard].file}`);
      }
    });
  });
  // the plans: every shard exactly once in the progressive plan, at most once per tab
  closed(m.plans, 'plans', 'plans');
  if (!Array.isArray(m.plans.progressive)) bad('no plans.progressive array');
  const once = (list, seen, at) => {
    if (!Array.isArray(list)) bad(`${at}.shards is not a list`);
    for (const f of list) {
      if (!files.has(f)) bad(`${at} lists shard ${f}, which is not in the manifest`);
      if (seen.has(f)) bad(`${at} lists shard ${f} again (each shard once)`);
      seen.add(f);
    }
  };
  const planned = new Set();
  m.plans.progressive.forEach((g, i) => { closed(g, 'plans.progressive[]', `plans.progressive[${i}]`); once(g.shards, planned, `plans.progressive[${i}]`); });
  for (const f of files.keys()) if (!planned.has(f)) bad(`plans.progressive does not list shard ${f} (every shard exactly once)`);
  if (m.plans.tabs != null) (m.plans.tabs.partition || []).forEach((p, i) => once(p?.shards, new Set(), `plans.tabs.partition[${i}]`));
  // kernels
  const K = m.kernels;
  closed(K, 'kernels', 'kernels');
  if (!Array.isArray(K.files) || !isObj(K.by_profile) || (K.ops_by_profile !== undefined && !isObj(K.ops_by_profile)))
    bad('kernels: no files array, by_profile object or ops_by_profile object');
  K.files.forEach((f, i) => validateKernel(f, `kernels.files[${i}]`, closed, bad));
  const nf = K.files.length;
  for (const [pn, pv] of Object.entries(K.by_profile)) {
    if (!isObj(pv)) bad(`kernels.by_profile.${pn} is not an object`);
    for (const [fn, fv] of Object.entries(pv)) {
      if (!isObj(fv)) bad(`kernels.by_profile.${pn}.${fn} is not an object`);
      for (const [kn, kv] of Object.entries(fv)) {
        if (!isObj(kv)) bad(`kernels.by_profile.${pn}.${fn}.${kn} is not an object`);
        for (const [an, id] of Object.entries(kv)) {
          const at = `kernels.by_profile.${pn}.${fn}.${kn}.${an}`, v = RULES.variants[an], e = isInt(id, 0, nf - 1) ? K.files[id] : null;
          if (!v) bad(`${at}: unknown variant (f32, f16, f32-sg or f16-sg)`);
          if (!e || e.format !== fn || e.kind !== kn) bad(`${at} is not the index of a ${kn} ${fn} kernel (kernels.files has ${nf})`);
          if (e.requires_shader_f16 !== v[0] || e.requires_subgroups !== v[1])
            bad(`${at} names kernels.files[${id}], whose requires_shader_f16/requires_subgroups are not the variant's`);
        }
      }
    }
  }
  for (const [pn, pv] of Object.entries(K.ops_by_profile || {})) {
    if (!isObj(pv)) bad(`kernels.ops_by_profile.${pn} is not an object`);
    for (const [on, ov] of Object.entries(pv)) {
      if (!isObj(ov) || Object.keys(ov).length !== 1 || !('f32' in ov)) bad(`kernels.ops_by_profile.${pn}.${on} is not {"f32": index}`);
      const e = isInt(ov.f32, 0, nf - 1) ? K.files[ov.f32] : null;
      if (!e || e.kind !== 'op' || e.op !== on) bad(`kernels.ops_by_profile.${pn}.${on}.f32 is not the index of the ${on} op kernel (kernels.files has ${nf})`);
    }
  }
}

function validateKernel(f, at, closed, bad) {
  closed(f, 'kernels.files[]', at);
  const kr = RULES.kinds[f.kind];
  if (!Object.hasOwn(RULES.kinds, f.kind)) bad(`${at}.kind ${f.kind} is not dequantize, gemv, gemm, gather or op`);
  if (typeof f.file !== 'string' || typeof f.integrity !== 'string' || !f.integrity.startsWith('sha256-')) bad(`${at}: file or integrity missing or malformed`);
  if (typeof f.requires_shader_f16 !== 'boolean' || typeof f.requires_subgroups !== 'boolean')
    bad(`${at}: requires_shader_f16 or requires_subgroups is not a boolean`);
  const wmax = RULES.workgroup_invocations_max, dmax = RULES.dispatch_max;
  const ws = f.workgroup_size;
  if (!Array.isArray(ws) || ws.length !== 3 || !ws.every(v => isInt(v, 1, wmax)) || ws[0] * ws[1] * ws[2] > wmax)
    bad(`${at}.workgroup_size is not three sizes of at most ${wmax} invocations in all`);
  if (!isObj(f.dispatch) || typeof f.dispatch.rule !== 'string') bad(`${at}.dispatch is not an object with a rule`);
  for (const k of Object.keys(f.dispatch)) if (k !== 'rule' && !(kr.grid && k === 'grid') && !(k in kr.dispatch)) bad(`${at}.dispatch: unknown key "${k}"`);
  if (kr.grid) {   // an op kernel's uniform fields and its grid naming them
    const fl = f.fields, g = f.dispatch.grid, has = n => Array.isArray(fl) && fl.some(e => e.name === n);
    if (!Array.isArray(fl) || fl.length > 16 || !fl.every(e => isObj(e) && Object.keys(e).length === 2 && typeof e.name === 'string' && (e.type === 'u32' || e.type === 'f32')))
      bad(`${at}.fields is not a list of at most 16 uniform fields`);
    if (!isObj(g) || !has(g.x) || ('y' in g && !has(g.y)) || !Number.isInteger(g.div) || g.div < 1 || g.div > 65536 || Object.keys(g).length !== 2 + ('y' in g))
      bad(`${at}.dispatch.grid is not {x, div, y?} naming its fields`);
  }
  for (const [k, n] of Object.entries(kr.dispatch)) {
    const v = f.dispatch[k];
    if (!(n === 1 ? isInt(v, 1, dmax) : Array.isArray(v) && v.length === n && v.every(x => isInt(x, 1, dmax))))
      bad(`${at}.dispatch.${k} is not ${n === 1 ? 'an integer' : 'a list of integers'} in [1, ${dmax}]`);
  }
  const bl = f.bindings;
  if (!Array.isArray(bl) || !bl.length || bl.length > RULES.max_bindings) bad(`${at}.bindings is not a list of 1 to ${RULES.max_bindings} bindings`);
  bl.forEach((b, j) => {
    closed(b, 'kernels.files[].bindings[]', `${at}.bindings[${j}]`);
    if (!Number.isInteger(b.binding) || typeof b.resource !== 'string' || !RULES.binding_types.includes(b.type))
      bad(`${at}.bindings[${j}] is not {binding, resource, type} of a known type`);
  });
  if (!kr.bindings) {   // an op
    if (typeof f.op !== 'string') bad(`${at}: an op kernel without an op name`);
    bl.forEach((b, j) => {
      if (b.binding !== j || (b.type === 'uniform') !== (j === bl.length - 1))
        bad(`${at}.bindings[${j}]: an op's bindings are numbered 0..${bl.length - 1}, the uniform last`);
    });
    return;
  }
  const fm = /^(?:f32|fp16|bf16|q[2-8](?:g(?:32|64|128|256)|c)([sa])(?:\.s32)?)$/.exec(f.format);
  if (typeof f.format !== 'string' || !fm) bad(`${at}.format ${f.format} is not a weight format`);
  const scales = f.format.startsWith('q'), zeros = fm[1] === 'a';
  const want = kr.bindings.filter(([, , , when]) => when === 'always' || (when === 'scales' && scales) || (when === 'zeros' && zeros));
  want.forEach(([n, res, type], j) => {
    const b = bl[j];
    if (!b || b.binding !== n || b.resource !== res || b.type !== type)
      bad(`${at}.bindings[${j}] is not binding ${n} (${res}, ${type}) that a ${f.kind} ${f.format} kernel has`);
  });
  if (bl.length !== want.length) bad(`${at}.bindings has ${bl.length} bindings; a ${f.kind} ${f.format} kernel has ${want.length}`);
}

// a kernel's bindings as the manifest lists them must be the ones its WGSL declares
function checkDeclaredBindings(kf, text, url) {
  const decl = new Map();
  for (const m of text.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*(?:,\s*(read_write|read))?)\s*>/g))
    decl.set(Number(m[1]), m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'storage' : 'read-only-storage');
  const listed = kf.bindings.map(b => `${b.binding}:${b.type}`).join(' ');
  const declared = [...decl].sort((a, b) => a[0] - b[0]).map(([n, t]) => `${n}:${t}`).join(' ');
  if (listed !== declared) throw new Error(`wgpack: ${url}: the manifest lists bindings ${listed}, the kernel declares ${declared}`);
}

// every plane the loader binds fits a storage binding, every shard a buffer (the tensor, the
// shard and the limit named); only what this load fetches (a tab's shards) is checked
const fitsWorkgroup = (kf, lim) => !lim || !kf?.workgroup_size || (kf.workgroup_size[0] * kf.workgroup_size[1] * kf.workgroup_size[2] <= lim.maxComputeInvocationsPerWorkgroup &&
  kf.workgroup_size[0] <= lim.maxComputeWorkgroupSizeX && kf.workgroup_size[1] <= lim.maxComputeWorkgroupSizeY && kf.workgroup_size[2] <= lim.maxComputeWorkgroupSizeZ);

function checkLimits(m, base, shards, limits, profile) {
  if (!limits) return;
  // the f32 kernels (the ones every device must run) fit the device's workgroup limits
  const ids = [...Object.values(m.kernels.by_profile[profile] || {}).flatMap(f => Object.values(f).map(k => k.f32)),
               ...Object.values(m.kernels.ops_by_profile?.[profile] || {}).map(o => o.f32)];
  for (const id of ids) {
    const kf = m.kernels.files[id];
    if (id !== undefined && !fitsWorkgroup(kf, limits))
      throw new Error(`wgpack: ${base.href}: kernel ${kf.file} needs a workgroup of ${kf.workgroup_size.join('x')}, more than this device allows (maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupSize ${limits.maxComputeWorkgroupSizeX}x${limits.maxComputeWorkgroupSizeY}x${limits.maxComputeWorkgroupSizeZ})`);
  }
  const maxBind = limits.maxStorageBufferBindingSize, maxBuf = limits.maxBufferSize;
  for (const t of m.tensors)
    for (const p of t.parts) {
      if (!shards.has(p.shard)) continue;
      for (const q of ['data', 'scales', 'zeros'])
        if (p[q] && Math.ceil(p[q].bytes / 16) * 16 > maxBind)
          throw new Error(`wgpack: ${base.href}: tensor ${t.name}: its ${q} plane (rows ${p.row0}..${p.row0 + p.rows - 1}) is ${p[q].bytes} bytes, more than this device's maxStorageBufferBindingSize (${maxBind}); rebuild with a smaller --shard-size`);
    }
  for (const i of shards) {
    const sh = m.shards[i], size = Math.ceil(sh.bytes / 16) * 16;
    if (size > maxBuf) throw new Error(`wgpack: ${base.href}: shard ${sh.file} is ${sh.bytes} bytes, more than this device's maxBufferSize (${maxBuf})`);
  }
}

// ---------------------------------------------------------------- GPU errors

const watched = new WeakMap();
// watchDevice(device): record the device's loss and its first error outside any error scope
export function watchDevice(device) {
  if (watched.has(device)) return watched.get(device);
  const w = { lost: null, uncaptured: null };
  watched.set(device, w);
  device.lost?.then(info => { w.lost = info; });
  device.addEventListener?.('uncapturederror', e => { w.uncaptured ??= e.error; });
  return w;
}
// checkErrors(device, what): throws `wgpack: WHAT: the GPU device was lost (...)` or `...: MESSAGE`
// for an error reported outside any scope since the last call (which it then forgets)
export function checkErrors(device, what) {
  const w = watchDevice(device);
  if (w.lost) throw new Error(`wgpack: ${what}: the GPU device was lost (${w.lost.reason}${w.lost.message ? ': ' + w.lost.message : ''})`);
  if (w.uncaptured) {
    const e = w.uncaptured;
    w.uncaptured = null;
    throw new Error(`wgpack: ${what}: ${e.constructor?.name || 'GPU error'}: ${String(e.message).split('\n')[0]}`);
  }
}
// guard(device, what, fn): fn() (synchronous: the scopes are the device's, so nothing else may
// run between push and pop) under out-of-memory and validation error scopes; resolves to its
// result, or rejects `wgpack: WHAT: GPUValidationError: MESSAGE` (first line of the message)
export async function guard(device, what, fn) {
  checkErrors(device, what);
  if (typeof device.pushErrorScope !== 'function') return fn();
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result, thrown = null;
  try { result = fn(); } catch (e) { thrown = e; }
  const v = device.popErrorScope(), o = device.popErrorScope();
  const [ve, oe] = await Promise.all([v, o]);
  if (thrown) throw thrown;
  const e = ve || oe;
  if (e) throw new Error(`wgpack: ${what}: ${e.constructor?.name || 'GPU error'}: ${String(e.message).split('\n')[0]}`);
  return result;
}

// ---------------------------------------------------------------- WebAssembly fallback

function formatArgs(t) {
  if (t.format === 'f32') return [0, 0, 0, 1, 0];
  if (t.format === 'fp16') return [1, 0, 0, 1, 0];
  if (t.format === 'bf16') return [2, 0, 0, 1, 0];
  const m = /^q(\d)(?:g(\d+)|c)([sa])(\.s32)?$/.exec(t.format);
  if (!m) throw new Error(`wgpack: unknown format ${t.format}`);
  return [3, Number(m[1]), m[2] ? Number(m[2]) : 0, m[3] === 's' ? 1 : 0, m[4] ? 1 : 0];
}

async function loadWasm(manifest, base, opts, progress) {
  if (!manifest.wasm) throw new Error('wgpack: no WebGPU and the bundle has no WebAssembly fallback');
  const fopts = { retries: opts.retries ?? 4, retryDelayMs: opts.retryDelayMs ?? 200 };
  const wurl = bundleFile(manifest.wasm.file, base);
  const wbytes = await fetchBytes(wurl, fopts);
  if (await sha256(wbytes) !== manifest.wasm.integrity) throw new Error(`wgpack: ${wurl}: integrity check failed`);
  const env = new Proxy({}, { get: (_, name) => name === 'log10' ? Math.log10
                                               : () => { throw new Error(`wgpack wasm: ${String(name)} is not available`); } });
  const { instance } = await WebAssembly.instantiate(wbytes, { env });
  const W = instance.exports;
  let wanted = manifest.plans.progressive.flatMap(g => g.shards);
  if (opts.tab !== undefined && opts.tab !== null) {
    const mine = new Set(manifest.plans.tabs?.partition?.[opts.tab]?.shards || []);
    wanted = wanted.filter(f => mine.has(f));
  }
  const byFile = new Map(manifest.shards.map((s, i) => [s.file, i]));
  const order = wanted.map(f => byFile.get(f));
  const totalBytes = order.reduce((a, i) => a + manifest.shards[i].bytes, 0);
  const shards = new Map();
  let bytes = 0, next = 0;
  const worker = async () => {
    while (next < order.length) {
      const idx = order[next++];
      const { bytes: data } = await verifiedFetch(base, manifest.shards[idx], null, fopts);
      shards.set(idx, new Uint8Array(data));
      bytes += data.byteLength;
      progress({ phase: 'fetch', bytes, totalBytes, shards: shards.size, totalShards: order.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency || 4, order.length) }, worker));
  const tensors = new Map(manifest.tensors.map(t => [t.name, t]));
  function runPart(t, part, kind, x) {
    const shard = shards.get(part.shard);
    if (!shard) throw new Error(`wgpack: ${t.name} lives in a shard not loaded in this tab`);
    const planes = ['data', 'scales', 'zeros'].filter(p => part[p]).map(p => shard.subarray(part[p].offset, part[p].offset + part[p].bytes));
    const total = planes.reduce((a, p) => a + p.length, 0);
    W.wg_wasm_reset();
    const pp = W.wg_wasm_alloc(total);
    let at = pp;
    for (const p of planes) { new Uint8Array(W.memory.buffer, at, p.length).set(p); at += p.length; }
    const rows = part.rows, K = t.K, outLen = kind === 'gemv' ? rows : rows * K;
    const xp = x ? W.wg_wasm_alloc(4 * K) : 0, yp = W.wg_wasm_alloc(4 * outLen);
    if (!pp || !yp || (x && !xp)) throw new Error('wgpack wasm: out of memory');
    if (x) new Float32Array(W.memory.buffer, xp, K).set(x);
    const args = formatArgs(t);
    const rc = kind === 'gemv' ? W.wg_wasm_gemv(...args, rows, K, pp, xp, yp) : W.wg_wasm_dequant(...args, rows, K, pp, yp);
    if (rc) throw new Error(`wgpack wasm: ${kind} failed for ${t.name}`);
    return new Float32Array(W.memory.buffer.slice(yp, yp + 4 * outLen));
  }
  function run(name, kind, x) {
    const t = tensors.get(name);
    if (!t || t.format === 'raw') throw new Error(`wgpack: no weight tensor ${name}`);
    const outs = t.parts.map(p => runPart(t, p, kind, x));
    const o = new Float32Array(outs.reduce((a, p) => a + p.length, 0));
    let at = 0; for (const p of outs) { o.set(p, at); at += p.length; }
    return o;
  }
  progress({ phase: 'ready', bytes, totalBytes, shards: shards.size, totalShards: order.length });
  return { manifest, backend: 'wasm', profile: 'wasm', f16: false, cachedShards: 0,
           loadedShards: order.map(i => manifest.shards[i].file), tensors,
           gemv: async (name, x) => run(name, 'gemv', x),
           dequantize: async (name) => run(name, 'dequantize', null) };
}
