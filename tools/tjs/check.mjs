// tools/tjs/check.mjs — load a transformers.js folder written by `wgpack export-onnx
// --transformers-js DIR` with transformers.js itself (local files only) and compare each dtype's
// logits with the original model's (dtype fp32 = onnx/model.onnx), on the same tokens.
//   node check.mjs DIR masked-lm|causal-lm TEXTFILE DTYPE...
// Prints JSON: {"transformers": version, "tokens": n, "results": [{dtype, rel_rmse, max_abs,
// top1_agreement, kl}]} (KL(original || dtype) of the softmax per position, mean).
// Exit 3: transformers.js cannot be loaded; 4: a model fails to load or run.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [dir, kind, textFile, ...dtypes] = process.argv.slice(2);
if (!dir || !['masked-lm', 'causal-lm'].includes(kind) || !textFile || !dtypes.length) {
  console.error('usage: node check.mjs DIR masked-lm|causal-lm TEXTFILE DTYPE...');
  process.exit(1);
}
let T;
try {
  const require = createRequire(import.meta.url);
  T = await import(pathToFileURL(require.resolve('@huggingface/transformers')).href);
} catch (e) {
  console.error(`check: transformers.js cannot be loaded (npm ci): ${String(e.message).split('\n')[0]}`);
  process.exit(3);
}
T.env.allowRemoteModels = false;
T.env.allowLocalModels = true;
T.env.localModelPath = path.dirname(path.resolve(dir)) + '/';
const name = path.basename(path.resolve(dir));
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));

// Byte-level tokens: the models here have vocab 256 (+ BERT's [PAD] [CLS] [SEP] [MASK]).
const bytes = [...fs.readFileSync(textFile).subarray(0, 96)];
let ids = bytes;
if (kind === 'masked-lm') { // [CLS] text [SEP], every 7th byte masked
  const [CLS, SEP, MASK] = [cfg.vocab_size - 3, cfg.vocab_size - 2, cfg.vocab_size - 1];
  ids = [CLS, ...bytes.map((b, i) => (i % 7 === 3 ? MASK : b)), SEP];
}
const n = ids.length;
const i64 = a => new T.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const feeds = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)) };
if (kind === 'masked-lm') feeds.token_type_ids = i64(ids.map(() => 0));

async function logits(dtype) {
  const Auto = kind === 'masked-lm' ? T.AutoModelForMaskedLM : T.AutoModelForCausalLM;
  let model;
  try {
    model = await Auto.from_pretrained(name, { dtype, device: 'cpu' });
    const out = await model(feeds);
    return out.logits;
  } catch (e) {
    console.error(`check: ${dtype}: ${String(e.message).split('\n')[0]}`);
    process.exit(4);
  } finally {
    await model?.dispose?.();
  }
}

function compare(a, b, V) {
  let sse = 0, ssa = 0, maxAbs = 0, agree = 0, kl = 0;
  for (let p = 0; p < n; p++) {
    let ma = -Infinity, mb = -Infinity, ia = 0, ib = 0;
    for (let v = 0; v < V; v++) {
      const x = a[p * V + v], y = b[p * V + v];
      sse += (x - y) ** 2; ssa += x * x; maxAbs = Math.max(maxAbs, Math.abs(x - y));
      if (x > ma) { ma = x; ia = v; }
      if (y > mb) { mb = y; ib = v; }
    }
    agree += ia === ib;
    let za = 0, zb = 0;
    for (let v = 0; v < V; v++) { za += Math.exp(a[p * V + v] - ma); zb += Math.exp(b[p * V + v] - mb); }
    for (let v = 0; v < V; v++) {
      const la = a[p * V + v] - ma - Math.log(za), lb = b[p * V + v] - mb - Math.log(zb);
      kl += Math.exp(la) * (la - lb);
    }
  }
  return { rel_rmse: Math.sqrt(sse / ssa), max_abs: maxAbs, top1_agreement: agree / n, kl: kl / n };
}

const ref = await logits('fp32');
const V = ref.dims[ref.dims.length - 1];
const results = [];
for (const dtype of dtypes) {
  const q = await logits(dtype);
  if (q.dims.join() !== ref.dims.join()) {
    console.error(`check: ${dtype}: logits ${q.dims} vs original ${ref.dims}`);
    process.exit(4);
  }
  results.push({ dtype, ...compare(ref.data, q.data, V) });
}
const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(createRequire(import.meta.url)
  .resolve('@huggingface/transformers')), '..', 'package.json'), 'utf8'));
console.log(JSON.stringify({ transformers: pkg.version, model: name, kind, tokens: n, vocab: V, results }));
