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
// Every shard is checked against its SRI hash (SubtleCrypto SHA-256) before it is uploaded; a
// mismatch rejects with an Error naming the shard.
// Without WebGPU (no navigator.gpu, no adapter, or backend: 'wasm'), the same calls run on the
// bundle's WebAssembly build of the C reference dequantizer (b.backend === 'wasm').

const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

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

export function detectProfile(adapter, userAgent = globalThis.navigator?.userAgent || '') {
  if (/Mobi|Android|iPhone|iPad/.test(userAgent)) return 'mobile';
  if (/Firefox\//.test(userAgent)) return 'firefox';
  if (/Edg\//.test(userAgent)) return 'edge';
  if (/Safari\//.test(userAgent) && !/Chrom(e|ium)\//.test(userAgent)) return 'safari';
  return 'chrome';
}

async function verifiedFetch(base, shard, cache) {
  const url = bundleFile(shard.file, base);
  let resp = cache ? await cache.match(url) : undefined;
  const fromCache = !!resp;
  if (!resp) {
    resp = await fetch(url);
    if (!resp.ok) throw new Error(`wgpack: ${shard.file}: HTTP ${resp.status}`);
  }
  const bytes = await resp.clone().arrayBuffer();
  const digest = 'sha256-' + b64(await crypto.subtle.digest('SHA-256', bytes));
  if (digest !== shard.integrity) {
    if (fromCache) await cache.delete(url);
    throw new Error(`wgpack: ${shard.file}: integrity check failed (expected ${shard.integrity}, got ${digest})`);
  }
  if (cache && !fromCache) await cache.put(url, resp);
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
  const manifest = await (await fetch(base)).json();
  if (manifest.format_version !== 1) throw new Error(`wgpack: unsupported bundle format_version ${manifest.format_version}`);
  const adapter = opts.backend === 'wasm' ? null
                : opts.adapter || (opts.device ? null : await globalThis.navigator?.gpu?.requestAdapter());
  if (!adapter && !opts.device) return loadWasm(manifest, base, opts, progress);
  const profile = opts.profile || detectProfile(adapter);
  const f16 = !!adapter?.features.has('shader-f16') && !opts.f32;
  const subgroups = !!adapter?.features.has('subgroups') && !opts.noSubgroups;
  // the largest buffers and bindings the adapter allows: a model's shards and activations may
  // pass the spec's defaults (128 MiB bindings) on desktop GPUs
  const lim = adapter?.limits;
  const requiredLimits = lim ? { maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize, maxBufferSize: lim.maxBufferSize } : undefined;
  const device = opts.device || await adapter.requestDevice({ requiredFeatures: [f16 && 'shader-f16', subgroups && 'subgroups'].filter(Boolean), requiredLimits });
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
  const totalBytes = order.reduce((a, i) => a + manifest.shards[i].bytes, 0);
  const cache = opts.cache && globalThis.caches ? await caches.open('wgpack-' + manifest.model.name) : null;
  const buffers = new Map();
  const waiting = new Map(order.map(i => { let res, rej; const p = new Promise((a, b) => { res = a; rej = b; }); p.catch(() => {}); return [i, { p, res, rej }]; }));
  let bytes = 0, done = 0, next = 0, cached = 0;
  progress({ phase: 'fetch', bytes, totalBytes, shards: 0, totalShards: order.length });
  const worker = async () => {
    while (next < order.length) {
      const idx = order[next++];
      const shard = manifest.shards[idx];
      const { bytes: data, fromCache } = await verifiedFetch(base, shard, cache);
      cached += fromCache ? 1 : 0;
      const buf = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
                                        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buf, 0, data, 0, data.byteLength & ~3);
      buffers.set(idx, buf);
      waiting.get(idx).res(buf);
      bytes += data.byteLength; done++;
      progress({ phase: 'fetch', bytes, totalBytes, shards: done, totalShards: order.length, file: shard.file });
    }
  };
  const ready = Promise.all(Array.from({ length: Math.min(opts.concurrency || 4, order.length) }, worker))
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
    const usable = v => ids[v] !== undefined && (!v.startsWith('f16') || hasFeature('shader-f16')) && (!v.endsWith('-sg') || hasFeature('subgroups'));
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
    if (!kf) throw new Error(`wgpack: the manifest names kernel ${id}, which it does not list`);
    const resp = await fetch(bundleFile(kf.file, base));
    const text = await resp.text();
    const digest = 'sha256-' + b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
    if (digest !== kf.integrity) throw new Error(`wgpack: ${kf.file}: integrity check failed`);
    const module = device.createShaderModule({ code: text });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter(m => m.type === 'error');
    if (errors.length) throw new Error(`wgpack: ${kf.file}: ${errors[0].lineNum}:${errors[0].linePos} ${errors[0].message}`);
    return { kf, pipe: device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } }) };
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
    const out = device.createBuffer({ size: outLen * 4, usage: S | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: outLen * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(params, 0, new Uint32Array([rows, K, Kp, n, G, 0, 0, 0]));
    let inBuf = null;
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
    gemv: (name, x) => run(name, 'gemv', x, 1),
    gemm: (name, x, n) => run(name, 'gemm', x, n),
    dequantize: (name) => run(name, 'dequantize', null, 1),
  };
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
  const wresp = await fetch(bundleFile(manifest.wasm.file, base));
  const wbytes = await wresp.arrayBuffer();
  const wdig = 'sha256-' + b64(await crypto.subtle.digest('SHA-256', wbytes));
  if (wdig !== manifest.wasm.integrity) throw new Error(`wgpack: ${manifest.wasm.file}: integrity check failed`);
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
      const { bytes: data } = await verifiedFetch(base, manifest.shards[idx], null);
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
