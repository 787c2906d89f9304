// tests/zoo/check_zoo.mjs — judge `wgpack inspect` on the model zoo (tools/zoo/make_zoo.py) against
// PyTorch's own module types.
//
// usage: node tests/zoo/check_zoo.mjs WGPACK ZOO_DIR [--json OUT] [--min-total 99] [--min-model 95]
//
// Ground truth per tensor (truth.json, written on the machine that built the zoo): the class of the
// module that owns it and that class's bases. Five classes are judged:
//   embedding  nn.Embedding (and subclasses), or a parameter of a model-specific *Embeddings module
//   norm       any module whose class or base names contain "Norm" (LayerNorm, RMSNorm, BatchNorm..)
//   conv       torch's _ConvNd (Conv1d/2d/3d, transposed)
//   matmul     nn.Linear, transformers' Conv1D, LSTM/GRU/RNN, and matrices held directly by
//              *Experts / *Router / *Attention / *MLP / *Projector modules (fused MoE experts,
//              per-head kernels, projection matrices)
//   bias       a parameter named bias / bias_* / *_bias of any module but a norm
// Parameters of other model-specific modules (scales, tokens, decay vectors) are "other": any
// prediction but a matrix or convolution role is accepted for them, since none of the five fits.
// Parameters whose own name says table/token/embed are embeddings whatever module holds them.
// Non-float tensors (index buffers, counters) and rotary inv_freq buffers (computed from the
// config, not learned) must be listed by wgpack as constants.
//
// wgpack's roles map to the classes: embedding/pos_embedding -> embedding, norm, conv,
// attn_*/ffn_*/head/linear -> matmul, bias, other.
//
// Asserts: role accuracy >= --min-total over all tensors and >= --min-model in every model;
// family === config model_type; components plausible for the model's kind; parameters ===
// the sum of float tensors' elements. Prints one line per model. Exit 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const [wgpack, zooDir] = args;
const minTotal = Number(opt('--min-total', 99)), minModel = Number(opt('--min-model', 95));

function effNdim(shape) { return shape.filter(d => d !== 1).length; }

function truthClass(e) {
  if (!/^(b?float)/.test(e.dtype) || (!e.is_parameter && e.param === 'inv_freq')) return 'constant';
  const names = e.mro.join(' ');
  if (/Norm/.test(names)) return 'norm';
  const leaf = e.param;
  if (leaf === 'bias' || /^bias_/.test(leaf) || /_bias$/.test(leaf)) return 'bias';
  if (/\bEmbedding\b/.test(names)) return 'embedding';
  if (/\b(Linear|Conv1D|RNNBase|MultiheadAttention)\b/.test(names)) return 'matmul';
  if (/\b_ConvNd\b/.test(names)) return 'conv';
  if (/Embed/.test(e.module) || /(table|token|embed)/i.test(leaf)) return 'embedding';
  if (effNdim(e.shape) >= 2 && /(Expert|Router|Gate|MoE|Moe|Attention|MLP|Mlp|FeedForward|Projector|Projection)/.test(e.module))
    return 'matmul';
  return 'other';
}

const roleClass = {
  embedding: 'embedding', pos_embedding: 'embedding', norm: 'norm', conv: 'conv', bias: 'bias',
  attn_q: 'matmul', attn_k: 'matmul', attn_v: 'matmul', attn_qkv: 'matmul', attn_out: 'matmul',
  ffn_up: 'matmul', ffn_gate: 'matmul', ffn_down: 'matmul', head: 'matmul', linear: 'matmul',
  other: 'other',
};

function judged(t, truth) {
  const want = truthClass(truth);
  const got = t.constant ? 'constant' : roleClass[t.role] || 'other';
  const ok = got === want || (want === 'other' && got !== 'matmul' && got !== 'conv' &&
                              got !== 'constant');
  return { want, got, ok };
}

// components a model of each kind must have (all of), may have, and must not have
const KINDS = {
  encoder: { need: ['text_encoder'], never: ['decoder', 'vision_encoder', 'audio_encoder'] },
  decoder: { need: ['decoder'], never: ['text_encoder', 'vision_encoder', 'audio_encoder'] },
  moe: { need: ['decoder'], never: ['text_encoder', 'vision_encoder', 'audio_encoder'] },
  seq2seq: { need: ['text_encoder', 'decoder'], never: ['vision_encoder', 'audio_encoder'] },
  vision: { need: ['vision_encoder'], never: ['decoder', 'text_encoder', 'audio_encoder'] },
  'vision-mae': { need: ['vision_encoder'], never: ['text_encoder', 'audio_encoder'] },
  audio: { need: ['audio_encoder'], never: ['decoder', 'text_encoder', 'vision_encoder'] },
  'audio-codec': { need: [], never: ['text_encoder', 'vision_encoder'] },
  'audio-seq2seq': { need: ['audio_encoder', 'decoder'], never: ['vision_encoder', 'text_encoder'] },
  'vision-seq2seq': { need: ['vision_encoder', 'decoder'], never: ['audio_encoder', 'text_encoder'] },
  dual: { need: ['text_encoder'], any: ['vision_encoder', 'audio_encoder'], never: ['decoder'] },
  vlm: { need: ['vision_encoder', 'decoder'], never: ['audio_encoder'] },
};
const KNOWN = new Set(['embeddings', 'text_encoder', 'vision_encoder', 'audio_encoder', 'decoder',
                       'projector', 'head', 'model']);

function checkComponents(kind, comps) {
  const k = KINDS[kind];
  const bad = [];
  for (const c of comps) if (!KNOWN.has(c)) bad.push('unknown component ' + c);
  for (const c of k.need) if (!comps.includes(c)) bad.push('no ' + c);
  if (k.any && !k.any.some(c => comps.includes(c))) bad.push('no ' + k.any.join('/'));
  for (const c of k.never) if (comps.includes(c)) bad.push('has ' + c);
  return bad;
}

function inspect(dir) {
  return JSON.parse(execFileSync(wgpack, ['inspect', '--json', '--tensors', dir],
                                 { maxBuffer: 1 << 28, encoding: 'utf8' }));
}

const failures = [];
const report = { models: [], onnx: [] };
let tot = 0, good = 0;
const dirs = fs.readdirSync(zooDir).filter(d => fs.existsSync(path.join(zooDir, d, 'truth.json'))).sort();
for (const d of dirs) {
  const truth = JSON.parse(fs.readFileSync(path.join(zooDir, d, 'truth.json'), 'utf8'));
  const cfg = JSON.parse(fs.readFileSync(path.join(zooDir, d, 'config.json'), 'utf8'));
  let j;
  try { j = inspect(path.join(zooDir, d)); } catch (e) { failures.push(d + ': inspect failed'); continue; }
  let n = 0, ok = 0, floatElems = 0;
  const wrong = [];
  for (const t of j.tensors) {
    const tr = truth.tensors[t.name];
    if (!tr) { failures.push(`${d}: tensor ${t.name} not in truth.json`); continue; }
    const r = judged(t, tr);
    n++;
    if (r.ok) ok++; else wrong.push(`${t.name} ${t.role}${t.constant ? '(constant)' : ''} want ${r.want} (${tr.module})`);
    if (r.want !== 'constant') floatElems += tr.shape.reduce((a, b) => a * b, 1);
  }
  tot += n; good += ok;
  const acc = n ? 100 * ok / n : 0;
  const comps = j.components.map(c => c.component);
  const bad = checkComponents(truth.kind, comps);
  if (j.family !== cfg.model_type) bad.push(`family ${j.family} != model_type ${cfg.model_type}`);
  if (j.totals.parameters !== floatElems) bad.push(`parameters ${j.totals.parameters} != ${floatElems}`);
  const roles = {};
  for (const t of j.tensors) roles[t.role] = (roles[t.role] || 0) + 1;
  const attn = Object.keys(roles).filter(r => r.startsWith('attn_')).length;
  const attnMatrices = Object.entries(truth.tensors)
    .some(([k, e]) => truthClass(e) === 'matmul' && /attn|attention/i.test(k));
  if (truth.attention && attnMatrices && !attn) bad.push('no attention roles');
  if (acc < minModel) bad.push(`role accuracy ${acc.toFixed(1)}% < ${minModel}%`);
  report.models.push({ name: d, model_type: cfg.model_type, kind: truth.kind, family: j.family,
                       tensors: n, correct: ok, accuracy: +acc.toFixed(2), components: comps,
                       problems: bad, wrong });
  console.log(`${bad.length ? 'FAIL' : 'ok  '} ${d.padEnd(24)} ${truth.kind.padEnd(14)} ` +
              `${String(ok).padStart(3)}/${String(n).padEnd(3)} ${acc.toFixed(1).padStart(5)}%  ` +
              `family=${j.family} [${comps.join(',')}]${bad.length ? '  ' + bad.join('; ') : ''}`);
  for (const w of wrong) console.log('       wrong: ' + w);
  for (const b of bad) failures.push(`${d}: ${b}`);
}

// ONNX exports of zoo models: graph constants apart, no family or decoder the model has not
for (const d of fs.readdirSync(zooDir).filter(d => d.startsWith('onnx-')).sort()) {
  const j = inspect(path.join(zooDir, d, 'model.onnx'));
  const base = d.slice(5), bad = [];
  const comps = j.components.map(c => c.component);
  if (j.family === 'llama' || j.family === 'gpt2') bad.push('family ' + j.family);
  if (comps.includes('decoder')) bad.push('has decoder');
  const nonFloat = j.tensors.filter(t => !/^(f|bf)\d/.test(t.dtype));
  if (nonFloat.some(t => !t.constant)) bad.push('non-float tensor counted as a parameter');
  if (j.tensors.some(t => t.constant && t.role !== 'other')) bad.push('a constant carries a role');
  const truth = JSON.parse(fs.readFileSync(path.join(zooDir, base, 'truth.json'), 'utf8'));
  const floatElems = Object.values(truth.tensors).filter(e => /^(b?float)/.test(e.dtype))
    .reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  report.onnx.push({ name: d, family: j.family, components: comps, parameters: j.totals.parameters,
                     safetensors_parameters: floatElems, constants: (j.constants || {}).tensors, problems: bad });
  console.log(`${bad.length ? 'FAIL' : 'ok  '} ${d.padEnd(24)} family=${j.family} [${comps.join(',')}] ` +
              `parameters ${j.totals.parameters} (safetensors ${floatElems}), ${(j.constants || {}).tensors} constants` +
              (bad.length ? '  ' + bad.join('; ') : ''));
  for (const b of bad) failures.push(`${d}: ${b}`);
}

const accTotal = tot ? 100 * good / tot : 0;
report.total = { models: report.models.length, tensors: tot, correct: good, accuracy: +accTotal.toFixed(2) };
console.log(`total: ${report.models.length} models, ${good}/${tot} tensors, role accuracy ${accTotal.toFixed(2)}%`);
if (accTotal < minTotal) failures.push(`overall role accuracy ${accTotal.toFixed(2)}% < ${minTotal}%`);
if (!report.models.length) failures.push('no models found in ' + zooDir);
if (opt('--json')) fs.writeFileSync(opt('--json'), JSON.stringify(report, null, 1));
if (failures.length) {
  console.error(failures.length + ' problem(s):\n  ' + failures.join('\n  '));
  process.exit(1);
}
