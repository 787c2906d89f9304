// wgpack-runtime.js — run a wgpack bundle's model in WebGPU. A small ES module, no dependencies
// beyond its sibling wgpack-loader.js.
//
//   import { loadModel } from './wgpack-runtime.js';
//   const m = await loadModel('/models/tinyllama/manifest.json', { onLayer: e => console.log(e) });
//   const logits = await m.forward([1, 2, 3]);          // Float32Array [n][vocab]
//   const ids = await m.generate([1, 2, 3], 32);          // greedy; { temperature, topK, seed }
//   console.log(m.stats);                                 // bytes, load_ms, first_layer_ms, tokens/s
//
// What runs is the manifest's `program` (docs/program.schema.json): a flat list of ops over named
// values, grouped into stages (the embeddings, each layer, the head), written by wgpack from the
// same templates its C interpreter runs. This file has no per-family code: it is an interpreter.
// Each op runs its kernel: `matmul` and `gather` the weight's own format kernels straight from
// the shard buffers (GEMM for a prompt, GEMV for one decoded token), every other op the bundle's
// op kernel of that name, whose uniform fields the manifest lists by name (kernels.files[].fields)
// and which this file fills from the op's `fields` (numbers, or "S"/"S*k" tokens of this pass,
// "P" its first position, "M" the attention scratch stride). Activations are f32.
// Causal LMs keep their key/value caches on the GPU (prompt in chunks, then one token a pass);
// encoders run one pass over at most `chunk` tokens and return the program's output.
// Options (besides the loader's): maxSeq (cache length; default min(max_positions, 2048)), chunk
// (prompt tokens per pass, default 256), onLayer({layer, layers, ms}) when a layer's weights are
// resident: forward() may be called at once and starts each stage as soon as its shards arrive.
import { openBundle } from './wgpack-loader.js';

const SLOTS_MIN = 256;      // uniform slots (256 bytes apart) per stage, at least
const f32bits = (() => { const f = new Float32Array(1), u = new Uint32Array(f.buffer); return x => { f[0] = x; return u[0]; }; })();
const grid1 = W => [Math.min(W, 65535), Math.ceil(W / 65535)];

export async function loadModel(manifestUrl, opts = {}) {
  const t0 = performance.now();
  // WebGPU or nothing: without an adapter the loader rejects before fetching anything
  const b = await openBundle(manifestUrl, { ...opts, backend: 'webgpu' });
  if (b.backend !== 'webgpu') throw new Error('wgpack: running a model needs WebGPU, and this page has none');
  const man = b.manifest, Pg = man.program;
  if (!Pg) throw new Error(`wgpack: this bundle cannot run: ${man.program_missing || 'its manifest has no program section'}`);
  if (Pg.version !== 1) throw new Error(`wgpack: program version ${Pg.version}: this runtime reads version 1`);
  const dev = b.device, causal = Pg.task === 'causal-lm';
  const US = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const vals = new Map(Pg.values.map(v => [v.name, v]));
  const outName = Object.values(Pg.outputs)[0], outWidth = vals.get(outName).width;
  const tensor = name => {
    const t = b.tensors.get(name);
    if (!t) throw new Error(`wgpack: the program names ${name}, which the bundle does not have`);
    return t;
  };
  const maxKp = Math.max(...man.tensors.map(t => t.padded_K || t.K || 0));
  const buf = (floats, usage = US) => dev.createBuffer({ size: Math.max(16, Math.ceil((floats + maxKp) * 4 / 16) * 16), usage });
  const posLimit = Pg.max_positions > 0 ? Pg.max_positions : 2048;
  const maxSeq = Math.min(opts.maxSeq || Math.min(posLimit, 2048), posLimit);
  const N = Math.min(opts.chunk || (Pg.image ? Pg.image.tokens : 256), maxSeq);

  // ---- stages: each waits for the shards of the weights its ops name
  const stages = Pg.stages, last = stages.length - 1;
  // a slot per dispatch: a matmul's or gather's one per weight part (a bias one more), any other op one
  const dispatches = o => o.op === 'matmul' || o.op === 'gather' ? tensor(o.args.weight || o.args.table).parts.length + (o.args.bias ? 1 : 0) : 1;
  const SLOTS = Math.max(SLOTS_MIN, ...stages.map(s => s.ops.reduce((a, o) => a + dispatches(o), 0)));
  const layerStages = stages.map((s, i) => [s, i]).filter(([s]) => s.name.startsWith('layer '));
  const weightsOf = st => [...new Set(st.ops.flatMap(o => Object.values(o.args)).filter(n => vals.get(n)?.kind === 'weight'))];
  const shardsOf = list => [...new Set(list.flatMap(n => tensor(n).parts.map(p => p.shard)))];
  const stats = { bytes_total: man.shards.reduce((a, s) => a + s.bytes, 0), load_ms: null, first_layer_ms: null,
                  prefill_tokens_per_s: null, decode_tokens_per_s: null, adapter: adapterName(b.adapter) };
  Object.defineProperty(stats, 'bytes_fetched', { get: () => b.bytesFetched, enumerable: true });
  const resident = stages.map(st => Promise.all(shardsOf(weightsOf(st)).map(i => b.shardReady(i))));
  resident.forEach(p => p.catch(() => {}));
  const firstLayer = layerStages.length ? layerStages[0][1] : last;
  Promise.all(resident.slice(0, firstLayer + 1)).then(() => { stats.first_layer_ms = performance.now() - t0; }, () => {});
  layerStages.forEach(([, si], i) => resident[si].then(() => opts.onLayer?.({ layer: i, layers: layerStages.length, ms: performance.now() - t0 }), () => {}));

  // ---- shared state: weight vectors as f32, the rotary table, key/value caches, the mask
  const vectors = new Map();
  function vector(name) {
    if (!vectors.has(name)) vectors.set(name, toF32(name));
    return vectors.get(name);
  }
  async function toF32(name) {
    const t = tensor(name), n = vals.get(name).width;
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
        const res = { ...b.planes(p), 4: { buffer: out, offset: 0 }, 5: { buffer: params } };
        if (p.row0) throw new Error(`wgpack: ${name}: a vector split across shards`);
        pass.setPipeline(pipe);
        pass.setBindGroup(0, b.bindGroup(pipe, kf, res));
        pass.dispatchWorkgroups(...grid1(p.rows));
      }
      pass.end();
    }
    dev.queue.submit([enc.finish()]);
    return out;
  }
  // the tables by value name: "rope" (and "rope_local": its own theta, unscaled), the rotary
  // tables [maxSeq][rot/2] of (cos, sin); "rel_buckets", the bucket of each relative distance
  const tables = new Map();
  const ropeTable = R => {
    const half = R.rot / 2, tab = new Float32Array(Math.max(1, maxSeq * half * 2));
    for (let t = 0; t < maxSeq; t++)
      for (let i = 0; i < half; i++) {
        const a = t * ropeFreq(R, i);
        tab[(t * half + i) * 2] = Math.cos(a); tab[(t * half + i) * 2 + 1] = Math.sin(a);
      }
    const g = buf(tab.length);
    dev.queue.writeBuffer(g, 0, tab);
    return g;
  };
  if (Pg.rope) tables.set('rope', ropeTable(Pg.rope));
  if (Pg.rope_local) tables.set('rope_local', ropeTable({ theta: Pg.rope_local.theta, rot: Pg.rope.rot, scaling: '' }));
  if (Pg.relative_buckets) {
    const bk = new Uint32Array(Pg.relative_buckets.bucket), g = buf(bk.length);
    dev.queue.writeBuffer(g, 0, bk);
    tables.set('rel_buckets', g);
  }
  const dummy = buf(4);
  const caches = new Map(Pg.values.filter(v => v.kind === 'cache').map(v => [v.name, buf(maxSeq * v.width)]));
  const mask = buf(maxSeq);   // the attention_mask input (u32 0/1)
  // image encoders: the pixel_values input, f32 [channels][height][width]
  const img = Pg.image || null, pixels = img ? buf(img.channels * img.height * img.width) : null;
  // the attention scratch: [rows][heads][M] scores, M the keys a pass may see
  const maxHeads = Math.max(1, ...stages.flatMap(s => s.ops.filter(o => o.op === 'attention' || o.op === 'encoder_attention').map(o => o.fields.heads)));
  const M = causal ? maxSeq : N;

  // ---- programs: one per row count (the prompt chunk; one token for decoding)
  function program(R) {
    const A = new Map();
    for (const v of Pg.values) if (v.kind === 'act') A.set(v.name, buf(R * v.width));
    const prog = { R, A, scores: buf(R * maxHeads * M), arena: dev.createBuffer({ size: stages.length * SLOTS * 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
                   mirror: new Uint32Array(stages.length * SLOTS * 64), stages: [] };
    prog.stages = stages.map((_, si) => {
      const st = { si, steps: [], next: 0, built: false };
      st.promise = resident[si].then(() => build(prog, st)).then(() => { st.built = true; });
      st.promise.catch(() => {});
      return st;
    });
    return prog;
  }
  const slot = (prog, st) => {
    if (st.next >= SLOTS) throw new Error(`wgpack: ${stages[st.si].name} needs more than ${SLOTS} dispatches`);
    const s = st.si * SLOTS + st.next++;
    return { s, res: { buffer: prog.arena, offset: s * 256, size: 64 } };
  };
  // a field of an op for pass c: a number, or "S", "S*k", "P", "M"
  const field = (v, c) => {
    if (typeof v === 'number') return v;
    const k = v.length > 1 ? Number(v.slice(2)) : 1;
    return k * ({ S: c.n, P: c.pos0, M }[v[0]]);
  };
  // the buffer an operand names: an activation of this program, a cache, a table, the
  // mask, or a weight vector (dequantized once to f32)
  async function operand(prog, name) {
    if (name === undefined) return dummy;
    const v = vals.get(name);
    switch (v.kind) {
      case 'act': return prog.A.get(name);
      case 'cache': return caches.get(name);
      case 'table': return tables.get(name) || dummy;
      case 'input': return name === 'pixel_values' ? pixels : mask;
      case 'weight': return vector(name);
    }
    throw new Error(`wgpack: value ${name} of kind ${v.kind}`);
  }
  // an op kernel: bindings by resource name, uniform fields by name, grid by the kernel's rule
  async function opKernel(prog, st, o) {
    const { kf, pipe } = await b.opPipeline(o.op);
    const { s, res } = slot(prog, st);
    const entries = [];
    for (const bd of kf.bindings) {
      const r = bd.type === 'uniform' ? res : { buffer: bd.resource === 'scores' ? prog.scores : await operand(prog, o.args[bd.resource]) };
      entries.push({ binding: bd.binding, resource: r });
    }
    const fields = kf.fields, g = kf.dispatch.grid;
    st.steps.push({ pipe, bg: dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries }), slot: s,
      params: c => fields.map(f => { const x = field(o.fields[f.name], c); return f.type === 'f32' ? f32bits(x) : x >>> 0; }),
      grid: c => {
        const fv = name => field(o.fields[name], c);
        const x = Math.ceil(fv(g.x) / g.div);
        return g.y ? [x, fv(g.y)] : grid1(x);
      } });
  }
  // y = x . W^T for the tensor `name` (GEMV when the program is one token)
  async function linear(prog, st, name, x, y) {
    const t = tensor(name), kind = prog.R === 1 ? 'gemv' : 'gemm';
    if (t.format === 'raw') throw new Error(`wgpack: ${name} is stored raw (${t.dtype}); the runtime multiplies only by quantized or float weight formats`);
    const { kf, pipe } = await b.pipeline(t.format, kind);
    const Kp = t.padded_K || t.K, G = t.group_size || Kp;
    for (const p of t.parts) {
      const out = t.parts.length === 1 ? y : buf(prog.R * p.rows);
      const { s, res } = slot(prog, st);
      const bg = b.bindGroup(pipe, kf, { ...b.planes(p), 3: { buffer: x }, 4: { buffer: out }, 5: res });
      const rows = p.rows;
      st.steps.push({ pipe, bg, slot: s, params: c => [rows, t.K, Kp, kind === 'gemv' ? 1 : c.n, G],
        grid: kind === 'gemv' ? () => grid1(Math.ceil(rows / kf.dispatch.rows_per_workgroup))
                              : c => [Math.ceil(rows / kf.dispatch.tile[0]), Math.ceil(c.n / kf.dispatch.tile[1])] });
      if (out !== y)
        st.steps.push({ copies: c => Array.from({ length: c.n }, (_, m) => [out, m * rows * 4, y, (m * t.rows + p.row0) * 4, rows * 4]) });
    }
  }
  // y[t] = table[idx[t]] for the embedding `name`; idsOf(c) gives the row indices of this pass
  async function gather(prog, st, name, idsOf, y) {
    const t = tensor(name);
    const { kf, pipe } = await b.pipeline(t.format, 'gather');
    const Kp = t.padded_K || t.K, G = t.group_size || Kp;
    for (const p of t.parts) {
      const single = t.parts.length === 1, out = single ? y : buf(prog.R * t.K), idx = buf(prog.R);
      const { s, res } = slot(prog, st);
      const bg = b.bindGroup(pipe, kf, { ...b.planes(p), 3: { buffer: idx }, 4: { buffer: out }, 5: res });
      const local = c => { const l = []; idsOf(c).forEach((r, m) => { if (r >= p.row0 && r < p.row0 + p.rows) l.push([m, r - p.row0]); }); return l; };
      st.steps.push({ pipe, bg, slot: s, params: c => [p.rows, t.K, Kp, local(c).length, G], grid: c => grid1(local(c).length),
        prepare: c => { const l = local(c); if (l.length) dev.queue.writeBuffer(idx, 0, new Uint32Array(l.map(e => e[1]))); } });
      if (!single)
        st.steps.push({ copies: c => local(c).map(([m], j) => [out, j * t.K * 4, y, m * t.K * 4, t.K * 4]) });
    }
  }
  const inputOf = { input_ids: c => c.ids, position_ids: c => c.pos, token_type_ids: c => c.types };

  async function build(prog, st) {
    for (const o of stages[st.si].ops) {
      if (o.op === 'gather') {
        const idsOf = inputOf[o.args.index];
        if (!idsOf) throw new Error(`wgpack: gather by ${o.args.index}: not an index input`);
        await gather(prog, st, o.args.table, idsOf, prog.A.get(o.args.y));
      } else if (o.op === 'matmul') {
        const y = prog.A.get(o.args.y);
        await linear(prog, st, o.args.weight, prog.A.get(o.args.x), y);
        if (o.args.bias) {
          const rows = vals.get(o.args.y).width;
          await opKernel(prog, st, { op: 'bias_act', args: { y: o.args.y, bias: o.args.bias },
                                     fields: { count: `S*${rows}`, R: rows, act: 0, has_bias: 1, pre: 1, post: 1 } });
        }
      } else {
        await opKernel(prog, st, o);
      }
    }
  }

  // run stages of a program on c = {n, pos0, ids, pos, types}; `after` adds commands
  async function execute(prog, c, list, after) {
    let enc = dev.createCommandEncoder(), pass = null, lastPipe = null;
    for (const si of list) {
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
        if (!pass) { pass = enc.beginComputePass(); lastPipe = null; }
        if (s.pipe !== lastPipe) { pass.setPipeline(s.pipe); lastPipe = s.pipe; }
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
    await Promise.race([failed, rb.mapAsync(GPUMapMode.READ)]);
    b.checkErrors?.('running the program');
    const out = new Float32Array(rb.getMappedRange().slice(0));
    rb.destroy();
    return out;
  }

  // compile every kernel the model needs before the first call
  const formats = [...new Set(man.tensors.filter(t => t.format !== 'raw').map(t => t.format))];
  const kinds = causal ? ['gemm', 'gemv', 'gather', 'dequantize'] : ['gemm', 'gather', 'dequantize'];
  const opNames = [...new Set(stages.flatMap(s => s.ops.map(o => o.op)).filter(n => n !== 'matmul' && n !== 'gather').concat(['bias_act']))];
  // a shard that fails for good (after the loader's retries) fails loadModel, not a later call
  const failed = new Promise((_, rej) => b.ready.catch(rej));
  failed.catch(() => {});
  await Promise.race([failed, Promise.all([...formats.flatMap(f => kinds.filter(k => man.kernels.by_profile[b.profile]?.[f]?.[k]).map(k => b.pipeline(f, k))),
                                           ...opNames.map(o => b.opPipeline(o))])]);
  const P = program(N), D = causal ? program(1) : null;
  const all = stages.map((_, i) => i), body = all.slice(0, -1);
  // the head's live-in values: what its ops read before writing (copied from the prompt's last row)
  const pureOut = new Set(['gather.y', 'matmul.y', 'rmsnorm.y', 'layernorm.y', 'slice.y', 'rope_kv.q_rotated',
                           'rope_kv.k_cache', 'rope_kv.v_cache', 'attention.out', 'encoder_attention.out']);
  const headIn = [], written = new Set();
  for (const o of stages[last].ops) {
    for (const [k, v] of Object.entries(o.args))
      if (vals.get(v)?.kind === 'act' && !pureOut.has(`${o.op}.${k}`) && !written.has(v) && !headIn.includes(v)) headIn.push(v);
    for (const v of Object.values(o.args)) written.add(v);
  }
  const ready = Promise.all([...P.stages, ...(D ? D.stages : [])].map(s => s.promise)).then(() => { stats.load_ms = performance.now() - t0; });
  ready.catch(() => {});
  let pos = 0;

  const checkIds = ids => {
    if (!ids.length) throw new Error('wgpack: no tokens');
    for (const t of ids) if (!(Number.isInteger(t) && t >= 0 && t < Pg.vocab)) throw new Error(`wgpack: token id ${t} is outside the vocabulary (${Pg.vocab})`);
  };
  const positions = (ids, p0) => Array.from(ids, (id, t) => p0 + t + Pg.position_ids.offset);
  // prompt tokens from position `pos` on, in chunks; outputs of every row (all) or the last
  async function prefill(ids, all_) {
    if (pos + ids.length > maxSeq) throw new Error(`wgpack: ${pos + ids.length} positions exceed the cache (${maxSeq})`);
    const outs = [], W = outWidth;
    for (let at = 0; at < ids.length; at += N) {
      const part = Array.from(ids.slice(at, at + N)), n = part.length, lastChunk = at + n === ids.length;
      const c = { n, pos0: pos, ids: part, pos: positions(part, pos) };
      if (all_) outs.push(read(await execute(P, c, all, enc => readback(enc, P.A.get(outName), 0, n * W * 4))));
      else if (!lastChunk) await execute(P, c, body);
      else {
        await execute(P, c, body, enc => {
          for (const v of headIn) { const w = vals.get(v).width * 4; enc.copyBufferToBuffer(P.A.get(v), (n - 1) * w, D.A.get(v), 0, w); }
        });
        outs.push(read(await execute(D, { n: 1, pos0: pos + n - 1, ids: [0], pos: [0] }, [last], enc => readback(enc, D.A.get(outName), 0, W * 4))));
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
    const rb = await execute(D, { n: 1, pos0: pos, ids: [id], pos: positions([id], pos) }, all, enc => wantLogits && readback(enc, D.A.get(outName), 0, outWidth * 4));
    stats.encode_ms = performance.now() - t;
    pos++;
    return wantLogits ? read(rb) : null;
  }
  // RoBERTa counts positions from pad_id + 1 and gives padding pad_id (as the C interpreter)
  const encoderPositions = ids => {
    if (Pg.position_ids.rule !== 'padding') return positions(ids, 0);
    let seen = 0;
    return Array.from(ids, id => id === Pg.position_ids.pad_id ? Pg.position_ids.pad_id : Pg.position_ids.pad_id + ++seen);
  };
  // the task head (Pg.head: masked LM, classification), run only when asked for
  // (the stage "task head": a decoder's or ModernBERT's final stage "head" always runs)
  const headStage = Pg.head ? stages.findIndex(s => s.name === 'task head') : -1, noHead = all.filter(i => i !== headStage);
  if (Pg.head && headStage < 0) throw new Error('wgpack: the program names a task head but has no stage "task head"');
  // an image encoder's pass: pixel_values as the image processor makes them, img.tokens rows
  async function encodeImage(px, o2) {
    const want = img.channels * img.height * img.width;
    if (!(px instanceof Float32Array) || px.length !== want)
      throw new Error(`wgpack: this image encoder takes pixel_values as a Float32Array of ${want} values ([${img.channels}][${img.height}][${img.width}])`);
    if (img.tokens > N) throw new Error(`wgpack: ${img.tokens} image tokens exceed the encoder's window (${N}); load with a larger chunk`);
    dev.queue.writeBuffer(pixels, 0, px);
    return encode(new Array(img.tokens).fill(0), o2);
  }
  async function encode(ids, o2 = {}) {
    const n = ids.length;
    if (o2.head && !Pg.head) throw new Error('wgpack: this bundle has no task head (its checkpoint is a base model)');
    if (n > N) throw new Error(`wgpack: ${n} tokens exceed the encoder's window (${N})`);
    const maskv = o2.attentionMask || new Array(n).fill(1);
    dev.queue.writeBuffer(mask, 0, new Uint32Array(Array.from(maskv, v => (v ? 1 : 0))));
    const types = o2.tokenTypeIds || new Array(n).fill(0);
    const [name, rows] = o2.head ? [Pg.head.value, Pg.head.rows === 'first' ? 1 : n] : [outName, n];
    return read(await execute(P, { n, pos0: 0, ids: Array.from(ids), pos: encoderPositions(ids), types: Array.from(types) },
                              o2.head ? all : noHead, enc => readback(enc, P.A.get(name), 0, rows * vals.get(name).width * 4)));
  }

  const model = {
    manifest: man, task: Pg.task, modelType: Pg.model_type, program: Pg, device: dev, profile: b.profile, stats, ready, maxSeq, chunk: N,
    outputName: Object.keys(Pg.outputs)[0], outputWidth: outWidth,
    // image encoders: {channels, height, width, patch, tokens} (forward takes pixel_values)
    image: img,
    // the checkpoint's task head: {task, name, rows, labels, problemType, width}, or null
    head: Pg.head ? { task: Pg.head.task, name: Pg.head.name, rows: Pg.head.rows, labels: Pg.head.labels || null,
                      problemType: Pg.head.problem_type || null, width: vals.get(Pg.head.value).width } : null,
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
    // the program's output for every token: logits [n][vocab] (causal LMs; the cache restarts)
    // or the encoder's output (last_hidden_state [n][hidden]); {head: true}: the encoder's task
    // head instead ([n][width], or [1][labels] for a sequence classifier)
    async forward(ids, o = {}) {
      if (img) return encodeImage(ids, o);
      checkIds(ids);
      if (!causal) return encode(ids, o);
      pos = 0;
      return prefill(ids, true);
    },
    // incremental decoding: a fresh cache with the prompt (the last position's logits), then one
    // token at a time appended to it (the next position's logits)
    async prefill(ids) {
      if (!causal) throw new Error('wgpack: prefill() needs a causal LM; this bundle is an encoder');
      checkIds(ids);
      pos = 0;
      return prefill(ids, false);
    },
    async step(id) {
      if (!causal) throw new Error('wgpack: step() needs a causal LM; this bundle is an encoder');
      checkIds([id]);
      return decode(id);
    },
    async generate(ids, maxNew, o = {}) {
      if (!causal) throw new Error('wgpack: generate() needs a causal LM; this bundle is an encoder');
      checkIds(ids);
      pos = 0;
      const pick = sampler(o);
      const out = [];
      const t1 = performance.now();
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

// softmax of a Float32Array (or a part of one), in f64
export function softmax(x) {
  let m = -Infinity, z = 0;
  for (const v of x) m = Math.max(m, v);
  const e = Array.from(x, v => Math.exp(v - m));
  for (const v of e) z += v;
  return e.map(v => v / z);
}

// A classifier head's logits as transformers' classification pipelines score them: softmax, or
// a sigmoid for multi-label problems and for one label, none for regression (o.functionToApply:
// 'softmax' | 'sigmoid' | 'none'); [{label, score}] by score, the first o.topK (topDefault when
// not given; null: every label)
export function headScores(logits, head, o = {}, topDefault = 1) {
  const pt = head.problemType, fn = o.functionToApply || (pt === 'regression' ? 'none'
    : pt === 'multi_label_classification' || logits.length === 1 ? 'sigmoid' : 'softmax');
  const sc = fn === 'softmax' ? softmax(logits) : Array.from(logits, v => (fn === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : v));
  const labels = head.labels || sc.map((_, i) => `LABEL_${i}`);
  const all = sc.map((score, i) => ({ label: labels[i], score })).sort((a, b) => b.score - a.score);
  return o.topK === null ? all : all.slice(0, o.topK ?? topDefault);
}

// pair i's rotary frequency, scaled as the program says (as wg_prog_rope_freq in program/interp.c)
function ropeFreq(R, i) {
  const f = Math.pow(R.theta, (-2 * i) / R.rot);
  if (!R.scaling) return f;
  if (R.scaling === 'linear') return f / R.factor;
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
