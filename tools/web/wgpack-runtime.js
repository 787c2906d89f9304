// wgpack-runtime.js — run a wgpack bundle's model in WebGPU. A small ES module, no dependencies
// beyond its sibling wgpack-loader.js.
//
//   import { loadModel } from './wgpack-runtime.js';
//   const m = await loadModel('/models/tinyllama/manifest.json', { onLayer: e => console.log(e) });
//   const logits = await m.forward([1, 2, 3]);          // Float32Array [n][vocab]
//   const ids = await m.generate([1, 2, 3], 32);          // greedy; { temperature, topK, seed }
//   console.log(m.stats);                                 // bytes, load_ms, first_layer_ms, tokens/s
//
// What runs is described by the manifest's `forward` section (written by wgpack from its C
// reference forward passes): a Llama-family decoder (RMSNorm, rotary embeddings, grouped-query
// attention with a KV cache on the GPU, SwiGLU, optional q/k/v biases, tied or untied head) or
// a BERT-family encoder (word + position + token-type embeddings, LayerNorm, GELU, bidirectional
// attention with a mask; forward() returns the last hidden state [n][hidden]).
// Every weight matrix is multiplied by the bundle's own format kernels straight from the shard
// buffers (GEMM for a prompt, GEMV for one decoded token); embeddings are gathered on the GPU;
// every other op is one of the bundle's op kernels. Activations are f32.
// Options (besides the loader's): maxSeq (KV cache length; default min(max_positions, 2048),
// and never past a sliding window), chunk (prompt tokens per prefill pass, default 256),
// onLayer({layer, layers, ms}) when a layer's weights are resident: forward() may be called at
// once and starts on each layer as soon as its shards have arrived.
import { openBundle } from './wgpack-loader.js';

const SLOTS = 256;          // uniform slots (256 bytes apart) per stage
const f32bits = (() => { const f = new Float32Array(1), u = new Uint32Array(f.buffer); return x => { f[0] = x; return u[0]; }; })();
const grid1 = W => [Math.min(W, 65535), Math.ceil(W / 65535)];
const ew = count => grid1(Math.ceil(count / 256));

export async function loadModel(manifestUrl, opts = {}) {
  const t0 = performance.now();
  const b = await openBundle(manifestUrl, opts);
  if (b.backend !== 'webgpu') throw new Error('wgpack: running a model needs WebGPU, and this page has none');
  const man = b.manifest, F = man.forward;
  if (!F) throw new Error(`wgpack: this bundle cannot run: ${man.forward_missing || 'its manifest has no forward section'}`);
  if (F.arch !== 'llama' && F.arch !== 'bert') throw new Error(`wgpack: this bundle cannot run: no runtime for arch ${F.arch}`);
  const dev = b.device, llama = F.arch === 'llama';
  const US = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const tensor = name => {
    const t = b.tensors.get(name);
    if (!t) throw new Error(`wgpack: the forward section names ${name}, which the bundle does not have`);
    return t;
  };
  const maxKp = Math.max(...man.tensors.map(t => t.padded_K || t.K || 0));
  const buf = (floats, usage = US) => dev.createBuffer({ size: Math.max(16, Math.ceil((floats + maxKp) * 4 / 16) * 16), usage });
  const posLimit = F.max_positions > 0 ? F.max_positions : 2048;
  const maxSeq = Math.min(opts.maxSeq || Math.min(posLimit, 2048), posLimit, llama && F.sliding_window > 0 ? F.sliding_window : Infinity);
  const N = Math.min(opts.chunk || 256, maxSeq);

  // ---- stages: the embeddings, each layer, the head; each waits for its own shards
  const stageNames = ['embed', ...F.layer.map((_, i) => `layer ${i}`), 'head'];
  const stageTensors = [
    llama ? [F.embed] : [F.word, F.pos, F.type, F.emb_ln_w, F.emb_ln_b],
    ...F.layer.map(L => Object.values(L)),
    llama ? [F.final_norm, F.head] : [],
  ].map(list => list.filter(Boolean));
  const shardsOf = list => [...new Set(list.flatMap(n => tensor(n).parts.map(p => p.shard)))];
  const stats = { bytes_total: man.shards.reduce((a, s) => a + s.bytes, 0), load_ms: null, first_layer_ms: null,
                  prefill_tokens_per_s: null, decode_tokens_per_s: null, adapter: adapterName(b.adapter) };
  Object.defineProperty(stats, 'bytes_fetched', { get: () => b.bytesFetched, enumerable: true });
  const resident = stageTensors.map(list => Promise.all(shardsOf(list).map(i => b.shardReady(i))));
  resident.forEach(p => p.catch(() => {}));
  Promise.all([resident[0], resident[1]]).then(() => { stats.first_layer_ms = performance.now() - t0; }, () => {});
  F.layer.forEach((_, i) => resident[i + 1].then(() => opts.onLayer?.({ layer: i, layers: F.layer.length, ms: performance.now() - t0 }), () => {}));

  // ---- shared state: weight vectors as f32, rotary table, KV caches, attention mask
  const vectors = new Map();
  function vector(name) {
    if (!name) return Promise.resolve(null);
    if (!vectors.has(name)) vectors.set(name, toF32(name));
    return vectors.get(name);
  }
  async function toF32(name) {
    const t = tensor(name), n = (t.rows || 1) * (t.K || t.shape.reduce((a, x) => a * x, 1));
    const out = buf(n);
    const enc = dev.createCommandEncoder();
    if (t.format === 'raw') {
      if (t.dtype !== 'f32') throw new Error(`wgpack: ${name} is stored raw as ${t.dtype}; the runtime reads raw vectors only as f32`);
      const p = t.parts[0];
      enc.copyBufferToBuffer(b.buffers.get(p.shard), p.data.offset, out, 0, n * 4);
    } else {
      const { kf, pipe } = await b.pipeline(t.format, 'dequantize');
      const pass = enc.beginComputePass();
      for (const p of t.parts) {
        const params = dev.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        const Kp = t.padded_K || t.K;
        dev.queue.writeBuffer(params, 0, new Uint32Array([p.rows, t.K, Kp, 1, t.group_size || Kp, 0, 0, 0]));
        const res = { ...planes(p), 4: { buffer: out, offset: 0 }, 5: { buffer: params } };
        if (p.row0) throw new Error(`wgpack: ${name}: a vector split across shards`);
        pass.setPipeline(pipe);
        pass.setBindGroup(0, bindGroup(pipe, kf, res));
        pass.dispatchWorkgroups(...grid1(p.rows));
      }
      pass.end();
    }
    dev.queue.submit([enc.finish()]);
    return out;
  }
  const { planes, bindGroup } = b;   // the loader's: a part's planes in place, a kernel's bind group
  const hd = F.head_dim, nh = F.heads, nkv = llama ? F.kv_heads : F.heads;
  const Q = nh * hd, KV = nkv * hd, H = F.hidden, I = F.intermediate;
  let ropeTab = null, caches = [];
  if (llama) {
    const half = hd / 2, tab = new Float32Array(maxSeq * half * 2);
    for (let t = 0; t < maxSeq; t++)
      for (let i = 0; i < half; i++) {
        const a = t * ropeFreq(F, i, hd);
        tab[(t * half + i) * 2] = Math.cos(a); tab[(t * half + i) * 2 + 1] = Math.sin(a);
      }
    ropeTab = buf(tab.length);
    dev.queue.writeBuffer(ropeTab, 0, tab);
    caches = F.layer.map(() => ({ k: buf(maxSeq * KV), v: buf(maxSeq * KV) }));
  }
  const mask = buf(maxSeq);   // encoders' attention mask; elsewhere a placeholder for unused bindings

  // ---- programs: one per batch size (the prompt chunk, and one token for decoding)
  function program(R) {
    const nst = stageNames.length;
    const A = { x: buf(R * H), h: buf(R * H), q: buf(R * Q), k: buf(R * KV), v: buf(R * KV), qr: buf(R * Q),
                att: buf(R * Q), o: buf(R * H), g: buf(R * I), u: buf(R * I), e: buf(R * H),
                scores: buf(R * nh * (llama ? maxSeq : N)),
                logits: llama ? buf(R * F.vocab) : null };
    const prog = { R, A, arena: dev.createBuffer({ size: nst * SLOTS * 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
                   mirror: new Uint32Array(nst * SLOTS * 64), stages: [] };
    prog.stages = stageNames.map((_, si) => {
      const st = { si, steps: [], next: 0, built: false };
      st.promise = resident[si].then(() => build(prog, st)).then(() => { st.built = true; });
      st.promise.catch(() => {});
      return st;
    });
    return prog;
  }
  const slot = (prog, st) => {
    if (st.next >= SLOTS) throw new Error(`wgpack: ${stageNames[st.si]} needs more than ${SLOTS} dispatches`);
    const s = st.si * SLOTS + st.next++;
    return { s, res: { buffer: prog.arena, offset: s * 256, size: 64 } };
  };
  async function op(prog, st, name, bufs, params, grid) {
    const { kf, pipe } = await b.opPipeline(name);
    const { s, res } = slot(prog, st);
    const entries = kf.bindings.map((bd, i) => ({ binding: bd.binding, resource: bd.type === 'uniform' ? res : { buffer: bufs[i] } }));
    st.steps.push({ pipe, bg: dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries }), slot: s, params, grid });
  }
  // y = x . W^T for the tensor `name` (n rows of x; GEMV when the program is one token)
  async function linear(prog, st, name, x, y) {
    const t = tensor(name), kind = prog.R === 1 ? 'gemv' : 'gemm';
    if (t.format === 'raw') throw new Error(`wgpack: ${name} is stored raw (${t.dtype}); the runtime multiplies only by quantized or float weight formats`);
    const { kf, pipe } = await b.pipeline(t.format, kind);
    const Kp = t.padded_K || t.K, G = t.group_size || Kp;
    for (const p of t.parts) {
      const out = t.parts.length === 1 ? y : buf(prog.R * p.rows);
      const { s, res } = slot(prog, st);
      const bg = bindGroup(pipe, kf, { ...planes(p), 3: { buffer: x }, 4: { buffer: out }, 5: res });
      const rows = p.rows;
      st.steps.push({ pipe, bg, slot: s, params: c => [rows, t.K, Kp, kind === 'gemv' ? 1 : c.n, G],
        grid: kind === 'gemv' ? () => grid1(Math.ceil(rows / kf.dispatch.rows_per_workgroup))
                              : c => [Math.ceil(rows / kf.dispatch.tile[0]), Math.ceil(c.n / kf.dispatch.tile[1])] });
      if (out !== y)
        st.steps.push({ copies: c => Array.from({ length: c.n }, (_, m) => [out, m * rows * 4, y, (m * t.rows + p.row0) * 4, rows * 4]) });
    }
  }
  // y[t] = table[idx[t]] for the embedding `name`; idsOf(c) gives the row indices of this run
  async function gather(prog, st, name, idsOf, y) {
    const t = tensor(name);
    const { kf, pipe } = await b.pipeline(t.format, 'gather');
    const Kp = t.padded_K || t.K, G = t.group_size || Kp;
    for (const p of t.parts) {
      const single = t.parts.length === 1, out = single ? y : buf(prog.R * t.K), idx = buf(prog.R);
      const { s, res } = slot(prog, st);
      const bg = bindGroup(pipe, kf, { ...planes(p), 3: { buffer: idx }, 4: { buffer: out }, 5: res });
      const local = c => { const l = []; idsOf(c).forEach((r, m) => { if (r >= p.row0 && r < p.row0 + p.rows) l.push([m, r - p.row0]); }); return l; };
      st.steps.push({ pipe, bg, slot: s, params: c => [p.rows, t.K, Kp, local(c).length, G], grid: c => grid1(local(c).length),
        prepare: c => { const l = local(c); if (l.length) dev.queue.writeBuffer(idx, 0, new Uint32Array(l.map(e => e[1]))); } });
      if (!single)
        st.steps.push({ copies: c => local(c).map(([m], j) => [out, j * t.K * 4, y, m * t.K * 4, t.K * 4]) });
    }
  }

  async function build(prog, st) {
    const A = prog.A, si = st.si, L = F.layer[si - 1];
    const eps = f32bits(F.eps);
    const add = (a, bb, width) => op(prog, st, 'add', [a, bb], c => [c.n * width], c => ew(c.n * width));
    const bias = (y, name, width, act = 0) => name || act
      ? vector(name).then(v => op(prog, st, 'bias_act', [y, v || mask], c => [c.n * width, width, act, v ? 1 : 0], c => ew(c.n * width)))
      : null;
    // x += r (the previous block's output, when given) then y = rmsnorm(x)
    const rms = async (x, r, name, y) => op(prog, st, 'rmsnorm', [x, r || mask, await vector(name), y], c => [c.n, H, eps, r ? 1 : 0], c => [c.n, 1]);
    const ln = async (x, w, bb, y) => op(prog, st, 'layernorm', [x, await vector(w), await vector(bb), y], c => [c.n, H, eps], c => [c.n, 1]);
    if (si === 0 && llama) return gather(prog, st, F.embed, c => c.ids, A.x);
    if (si === 0) {
      await gather(prog, st, F.word, c => c.ids, A.e);
      await gather(prog, st, F.pos, c => c.pos, A.o);
      await add(A.e, A.o, H);
      if (F.type) { await gather(prog, st, F.type, c => c.types, A.o); await add(A.e, A.o, H); }
      return ln(A.e, F.emb_ln_w, F.emb_ln_b, A.x);
    }
    if (si === stageNames.length - 1) {
      if (!llama) return;
      await rms(A.x, A.o, F.final_norm, A.h);
      return linear(prog, st, F.head, A.h, A.logits);
    }
    if (llama) {
      const C = caches[si - 1];
      await rms(A.x, si > 1 ? A.o : null, L.in_norm, A.h);
      await linear(prog, st, L.wq, A.h, A.q); await bias(A.q, L.bq, Q);
      await linear(prog, st, L.wk, A.h, A.k); await bias(A.k, L.bk, KV);
      await linear(prog, st, L.wv, A.h, A.v); await bias(A.v, L.bv, KV);
      await op(prog, st, 'rope_kv', [A.q, A.k, A.v, ropeTab, A.qr, C.k, C.v], c => [c.n, nh, nkv, hd, c.pos0],
               c => ew(c.n * (nh + 2 * nkv) * hd / 2));
      await op(prog, st, 'attention', [A.qr, C.k, C.v, mask, A.scores, A.att],
               c => [c.n, nh, nkv, hd, c.pos0, 1, 0, maxSeq, f32bits(1 / Math.sqrt(hd))], c => [nh, c.n]);
      await linear(prog, st, L.wo, A.att, A.o);
      await rms(A.x, A.o, L.post_norm, A.h);
      await linear(prog, st, L.gate, A.h, A.g); await linear(prog, st, L.up, A.h, A.u);
      await op(prog, st, 'silu_mul', [A.g, A.u], c => [c.n * I], c => ew(c.n * I));
      return linear(prog, st, L.down, A.g, A.o);   // added to x by the next block's rmsnorm
    }
    const act = { gelu: 1, gelu_tanh: 2, relu: 3 }[F.act];
    await linear(prog, st, L.wq, A.x, A.q); await bias(A.q, L.bq, Q);
    await linear(prog, st, L.wk, A.x, A.k); await bias(A.k, L.bk, Q);
    await linear(prog, st, L.wv, A.x, A.v); await bias(A.v, L.bv, Q);
    await op(prog, st, 'attention', [A.q, A.k, A.v, mask, A.scores, A.att],
             c => [c.n, nh, nh, hd, 0, 0, c.n, N, f32bits(1 / Math.sqrt(hd))], c => [nh, c.n]);
    await linear(prog, st, L.wo, A.att, A.o); await bias(A.o, L.bo, H); await add(A.o, A.x, H);
    await ln(A.o, L.ln1_w, L.ln1_b, A.x);
    await linear(prog, st, L.w1, A.x, A.g); await bias(A.g, L.b1, I, act);
    await linear(prog, st, L.w2, A.g, A.o); await bias(A.o, L.b2, H); await add(A.o, A.x, H);
    return ln(A.o, L.ln2_w, L.ln2_b, A.x);
  }

  // run stages [from, to) of a program on c = {n, pos0, ids, pos, types}; `after` adds commands
  async function execute(prog, c, stages, after) {
    let enc = dev.createCommandEncoder(), pass = null, last = null;
    for (const si of stages) {
      const st = prog.stages[si];
      if (!st.built) {
        if (pass) { pass.end(); pass = null; }
        dev.queue.submit([enc.finish()]); await st.promise; enc = dev.createCommandEncoder();
      }
      const lo = si * SLOTS * 64;
      for (const s of st.steps) if (s.params) prog.mirror.set(s.params(c), s.slot * 64);
      dev.queue.writeBuffer(prog.arena, lo * 4, prog.mirror, lo, st.next * 64);
      for (const s of st.steps) {
        s.prepare?.(c);
        if (s.copies) {
          if (pass) { pass.end(); pass = null; }
          for (const [src, so, dst, dso, size] of s.copies(c)) enc.copyBufferToBuffer(src, so, dst, dso, size);
          continue;
        }
        const g = s.grid(c);
        if (!g[0] || !g[1]) continue;
        if (!pass) { pass = enc.beginComputePass(); last = null; }
        if (s.pipe !== last) { pass.setPipeline(s.pipe); last = s.pipe; }
        pass.setBindGroup(0, s.bg); pass.dispatchWorkgroups(g[0], g[1]);
      }
    }
    if (pass) pass.end();
    const r = after?.(enc);
    dev.queue.submit([enc.finish()]);
    return r;
  }
  function readback(enc, src, offset, bytes) {
    const rb = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(src, offset, rb, 0, bytes);
    return rb;
  }
  async function read(rb) {
    await rb.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(rb.getMappedRange().slice(0));
    rb.destroy();
    return out;
  }

  // compile every kernel the model needs before the first call
  const kinds = llama ? ['gemm', 'gemv', 'gather', 'dequantize'] : ['gemm', 'gather', 'dequantize'];
  const formats = [...new Set(man.tensors.filter(t => t.format !== 'raw').map(t => t.format))];
  await Promise.all([...formats.flatMap(f => kinds.filter(k => man.kernels.by_profile[b.profile]?.[f]?.[k]).map(k => b.pipeline(f, k))),
                     ...(llama ? ['rmsnorm', 'bias_act', 'silu_mul', 'rope_kv', 'attention'] : ['layernorm', 'bias_act', 'add', 'attention']).map(o => b.opPipeline(o))]);
  const P = program(N), D = llama ? program(1) : null;
  const stagesAll = stageNames.map((_, i) => i), stagesBody = stagesAll.slice(0, -1);
  const ready = Promise.all([...P.stages, ...(D ? D.stages : [])].map(s => s.promise)).then(() => { stats.load_ms = performance.now() - t0; });
  ready.catch(() => {});
  let pos = 0;

  const checkIds = ids => {
    if (!ids.length) throw new Error('wgpack: no tokens');
    for (const t of ids) if (!(Number.isInteger(t) && t >= 0 && t < F.vocab)) throw new Error(`wgpack: token id ${t} is outside the vocabulary (${F.vocab})`);
  };
  // prompt tokens from position `pos` on, in chunks; logits of every row (all) or the last
  async function prefill(ids, all) {
    if (pos + ids.length > maxSeq) throw new Error(`wgpack: ${pos + ids.length} positions exceed the cache (${maxSeq})`);
    const outs = [];
    for (let at = 0; at < ids.length; at += N) {
      const part = Array.from(ids.slice(at, at + N)), n = part.length, last = at + n === ids.length;
      const c = { n, pos0: pos, ids: part };
      if (all) outs.push(read(await execute(P, c, stagesAll, enc => readback(enc, P.A.logits, 0, n * F.vocab * 4))));
      else if (!last) await execute(P, c, stagesBody);
      else {
        await execute(P, c, stagesBody, enc => {   // the last row's stream and its pending block output
          enc.copyBufferToBuffer(P.A.x, (n - 1) * H * 4, D.A.x, 0, H * 4);
          enc.copyBufferToBuffer(P.A.o, (n - 1) * H * 4, D.A.o, 0, H * 4);
        });
        outs.push(read(await execute(D, { n: 1, pos0: 0, ids: [0] }, [stageNames.length - 1], enc => readback(enc, D.A.logits, 0, F.vocab * 4))));
      }
      pos += n;
    }
    const parts = await Promise.all(outs);
    if (parts.length === 1) return parts[0];
    const o = new Float32Array(parts.reduce((a, p) => a + p.length, 0)); let at = 0;
    for (const p of parts) { o.set(p, at); at += p.length; }
    return o;
  }
  async function decode(id, wantLogits = true) {
    if (pos + 1 > maxSeq) throw new Error(`wgpack: ${pos + 1} positions exceed the cache (${maxSeq})`);
    const t = performance.now();
    const rb = await execute(D, { n: 1, pos0: pos, ids: [id] }, stagesAll, enc => wantLogits && readback(enc, D.A.logits, 0, F.vocab * 4));
    stats.encode_ms = performance.now() - t;
    pos++;
    return wantLogits ? read(rb) : null;
  }
  async function encode(ids, opts2 = {}) {
    const n = ids.length;
    if (n > N) throw new Error(`wgpack: ${n} tokens exceed the encoder's window (${N})`);
    const maskv = opts2.attentionMask || new Array(n).fill(1);
    dev.queue.writeBuffer(mask, 0, new Uint32Array(Array.from(maskv, v => (v ? 1 : 0))));
    const types = opts2.tokenTypeIds || new Array(n).fill(0);
    return read(await execute(P, { n, pos0: 0, ids: Array.from(ids), pos: bertPositions(F, ids), types: Array.from(types) }, stagesAll,
                              enc => readback(enc, P.A.x, 0, n * H * 4)));
  }

  const model = {
    manifest: man, arch: F.arch, config: F, device: dev, profile: b.profile, stats, ready, maxSeq, chunk: N,
    // the matrix kernels' arithmetic: f16 where the adapter has shader-f16 (opts.f32 keeps f32)
    precision: b.f16 ? 'f16' : 'f32',
    reset() { pos = 0; },
    // benchmark: `steps` decode passes from position pos0 without reading the logits back
    // (what the GPU and the command encoding sustain), then one that reads them; tokens/s
    async timeDecode(steps, pos0 = 0) {
      pos = pos0;
      const t = performance.now();
      for (let i = 0; i < steps; i++) await decode(0, false);
      await decode(0, true);
      return (steps + 1) / ((performance.now() - t) / 1000);
    },
    // logits [n][vocab] (decoders; the KV cache restarts) or the last hidden state [n][hidden]
    async forward(ids, o = {}) {
      checkIds(ids);
      if (!llama) return encode(ids, o);
      pos = 0;
      return prefill(ids, true);
    },
    async generate(ids, maxNew, o = {}) {
      if (!llama) throw new Error('wgpack: generate() needs a decoder; this bundle is an encoder');
      checkIds(ids);
      pos = 0;
      const pick = sampler(o);
      const out = [];
      let t1 = performance.now();
      let logits = await prefill(ids, false);
      const t2 = performance.now();
      stats.prefill_tokens_per_s = ids.length / ((t2 - t1) / 1000);
      for (let i = 0; i < maxNew; i++) {
        const id = pick(logits);
        out.push(id);
        if (i + 1 < maxNew) logits = await decode(id);
      }
      if (maxNew > 1) stats.decode_tokens_per_s = (maxNew - 1) / ((performance.now() - t2) / 1000);
      return out;
    },
  };
  return model;
}

// pair i's rotary frequency, scaled as the forward section says (as wg_rope_freq in verify/llama.c)
function ropeFreq(F, i, hd) {
  const f = Math.pow(F.rope_theta, (-2 * i) / hd), R = F.rope_scaling;
  if (!R) return f;
  if (R.type === 'linear') return f / R.factor;
  const wavelen = 2 * Math.PI / f, lo = R.original_max_positions / R.low_freq_factor, hi = R.original_max_positions / R.high_freq_factor;
  if (wavelen > lo) return f / R.factor;
  if (wavelen >= hi) {
    const s = (R.original_max_positions / wavelen - R.low_freq_factor) / (R.high_freq_factor - R.low_freq_factor);
    return (1 - s) * f / R.factor + s * f;
  }
  return f;
}

function adapterName(a) {
  const i = a?.info || {};
  return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

// RoBERTa counts positions from pad_id + 1 and gives padding pad_id; BERT 0..n-1 (as the C reference)
function bertPositions(F, ids) {
  let seen = 0;
  return Array.from(ids, (id, t) => F.variant !== 'roberta' ? t : id === F.pad_id ? F.pad_id : F.pad_id + ++seen);
}

// greedy (temperature 0: the first largest logit), or temperature / top-k sampling with a
// seeded generator (mulberry32) so that a seed reproduces a generation
function sampler({ temperature = 0, topK = 0, seed = 1 } = {}) {
  let s = seed >>> 0;
  const rand = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  return logits => {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    if (!(temperature > 0)) return best;
    let idx = Array.from(logits.keys());
    if (topK > 0 && topK < idx.length) idx = idx.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, topK);
    const w = idx.map(i => Math.exp((logits[i] - logits[best]) / temperature));
    let r = rand() * w.reduce((a, x) => a + x, 0);
    for (let j = 0; j < idx.length; j++) if ((r -= w[j]) <= 0) return idx[j];
    return idx[idx.length - 1];
  };
}
