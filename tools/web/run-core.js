// run-core.js — what `wgpack run` measures, the same in a page and in Node: load a bundle's model
// with wgpack-runtime.js, run it on the given tokens (the output the C reference is compared
// with), then time a generation. Returns { result, out } (out: Float32Array [n][dim]).
import { loadModel } from './wgpack-runtime.js';

export async function runModel({ bundle, tokens, generate = 0, maxSeq, chunk, onLayer }) {
  const t0 = performance.now();
  const m = await loadModel(bundle, { maxSeq, chunk, onLayer });
  // progressive: the forward pass starts on each layer as soon as its shards are resident
  const out = await m.forward(tokens);
  const firstForwardMs = performance.now() - t0;
  await m.ready;
  const causal = m.task === 'causal-lm';
  const result = { ok: true, task: m.task, model_type: m.modelType, adapter: m.stats.adapter, profile: m.profile, precision: m.precision, tokens: tokens.length,
                   dim: m.outputWidth, max_seq: m.maxSeq, chunk: m.chunk,
                   load_ms: m.stats.load_ms, first_layer_ms: m.stats.first_layer_ms, first_forward_ms: firstForwardMs,
                   bytes_fetched: m.stats.bytes_fetched, prefill_ms: null, prefill_tokens_per_s: null,
                   decode_tokens_per_s: null, generated: [] };
  // timings on a warm model
  const t1 = performance.now();
  if (causal) {
    await m.forward(tokens);
    result.prefill_ms = performance.now() - t1;
    if (generate > 0) {
      result.generated = await m.generate(tokens.slice(0, Math.max(1, Math.min(tokens.length, m.maxSeq - generate))), generate);
      result.generate_prompt_tokens = Math.max(1, Math.min(tokens.length, m.maxSeq - generate));
      result.prefill_tokens_per_s = m.stats.prefill_tokens_per_s;
      result.decode_tokens_per_s = m.stats.decode_tokens_per_s;
    } else result.prefill_tokens_per_s = tokens.length / (result.prefill_ms / 1000);
  } else {
    await m.forward(tokens);
    result.prefill_ms = performance.now() - t1;
    result.prefill_tokens_per_s = tokens.length / (result.prefill_ms / 1000);
  }
  // the weight bytes one decoded token streams: every matrix the program multiplies by
  const byName = new Map(m.manifest.tensors.map(t => [t.name, t]));
  const mats = causal ? [...new Set(m.program.stages.flatMap(s => s.ops.filter(o => o.op === 'matmul').map(o => o.args.weight)))] : [];
  result.decode_weight_bytes = mats.reduce((a, n) => a + (byName.get(n)?.bytes || 0), 0);
  return { result, out, model: m };
}
