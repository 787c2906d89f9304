// wgpack-text.js — text in, text out over a wgpack bundle: the bundle's own tokenizer (Hugging
// Face's tokenizers library on the bundle's tokenizer.json), chat template (@huggingface/jinja),
// generation defaults and sentence-transformers pooling, over the runtime's loadModel.
//
//   import { loadTextModel } from './wgpack-text.js';
//   const m = await loadTextModel('/bundle/manifest.json');
//   const r = await m.chat([{ role: 'user', content: 'Hi' }], { maxNewTokens: 64 });  // r.text
//   for await (const chunk of m.stream('def fib(n):', { maxNewTokens: 32 })) out.textContent += chunk;
//   const [v] = await m.embed(['a sentence']);     // encoders: Float32Array, pooled as the bundle says
//   await m.fillMask('Paris is the [MASK] of France');   // masked-LM heads: [{token, token_str, score, sequence}]
//   await m.classify('I love it');                 // sequence classifiers: [{label, score}]
//   m.tokenizer.encode('text'), m.tokenizer.decode(ids)
//
// The page needs the two libraries under their package names, e.g. with an import map:
//   <script type="importmap">{"imports": {
//     "@huggingface/tokenizers": "/node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs",
//     "@huggingface/jinja": "/node_modules/@huggingface/jinja/dist/index.js"}}</script>
// (both are dependency-free ES modules, ~37 kB and ~115 kB; a bundler resolves them by itself).
//
// The text files come from the manifest's "text" section, each fetched from the bundle and
// checked against its SHA-256 (SRI) like every shard; a bundle without them is refused by
// loadTokenizer, naming what is missing.
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { loadTextFiles } from './wgpack-loader.js';
import { loadModel, softmax, headScores } from './wgpack-runtime.js';

const SPECIAL = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];
const tokenText = v => (v && typeof v === 'object' ? v.content : v) || null;

// the bundle's text files (tokenizer, chat template, ..., preprocessor_config.json): the loader's
export { loadTextFiles };

// A tokenizer as Hugging Face's: encode() adds the special tokens the post-processor adds
// (as transformers' tokenizer(text) does), decode() merges bytes as the decoder says.
export class TextTokenizer {
  constructor(files) {
    const tj = files['tokenizer.json'];
    if (!tj) throw new Error('wgpack: the bundle has no tokenizer.json (build it with the tokenizer beside the model, or --tokenizer DIR)');
    const special = files['special_tokens_map.json'] || {};
    // transformers (since 4.45) cleans up spaces before punctuation only when the config asks
    this.config = { clean_up_tokenization_spaces: false, ...special, ...(files['tokenizer_config.json'] || {}) };
    this.generationConfig = files['generation_config.json'] || {};
    this.hf = new Tokenizer(tj, this.config);
    if (tj.model?.type === 'Unigram' && tj.model.byte_fallback) unigramByteFallback(this.hf.model);
    this.tokens = {};
    for (const k of SPECIAL) {
      const t = tokenText(this.config[k]);
      if (t) this.tokens[k] = t;
    }
    const id = k => (this.tokens[k] !== undefined ? this.hf.token_to_id(this.tokens[k]) : undefined);
    this.bosTokenId = this.generationConfig.bos_token_id ?? id('bos_token') ?? null;
    this.padTokenId = this.generationConfig.pad_token_id ?? id('pad_token') ?? null;
    const eos = this.generationConfig.eos_token_id ?? id('eos_token');
    this.eosTokenIds = eos === undefined || eos === null ? [] : [].concat(eos);
    const decs = d => (d ? [d, ...(d.decoders || []).flatMap(decs)] : []);
    this.cleansUp = !!this.config.clean_up_tokenization_spaces || decs(tj.decoder).some(d => d.type === 'WordPiece' && d.cleanup !== false);
    const ct = this.config.chat_template;
    this.chatTemplates = Array.isArray(ct) ? Object.fromEntries(ct.map(t => [t.name, t.template])) : ct ? { default: ct } : {};
    this.compiled = new Map();
  }
  encode(text, { addSpecialTokens = true, textPair = null } = {}) {
    return this.hf.encode(text, { add_special_tokens: addSpecialTokens, text_pair: textPair }).ids;
  }
  decode(ids, { skipSpecialTokens = false } = {}) {
    if (!ids.length) return '';
    return this.hf.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens });
  }
  // Incremental decoding: push(id) returns the text this id settles — '' while the text ends
  // inside a UTF-8 character (the decode ends in U+FFFD) — and flush() what is left; the pieces
  // add up to decode(ids). As Hugging Face's DecodeStream, each push decodes a window that
  // starts a few ids back, so a decoder that strips the first token's space (SentencePiece)
  // strips it from the prefix and the whole window alike. A tokenizer that cleans up spaces
  // around punctuation (WordPiece's cleanup, clean_up_tokenization_spaces) may change the
  // text before the newest id once the next one arrives ("i '" + "m" is "i'm"): there the
  // whole decode is compared with the previous one and only what both agree on is settled
  // (the newest token's text comes with the next).
  decodeStream({ skipSpecialTokens = true } = {}) {
    const ids = [];
    const dec = () => this.decode(ids, { skipSpecialTokens });
    const settle = t => { while (t.endsWith('\uFFFD')) t = t.slice(0, -1); return t; };
    if (this.cleansUp) {
      let prev = '', sent = '';
      const emit = t => {
        if (t.length <= sent.length || !t.startsWith(sent)) return '';
        const piece = t.slice(sent.length);
        sent = t;
        return piece;
      };
      return {
        push(id) {
          ids.push(id);
          const full = dec();
          let k = 0;
          while (k < prev.length && k < full.length && prev[k] === full[k]) k++;
          prev = full;
          return emit(settle(full.slice(0, k)));
        },
        flush() { return emit(prev); },
      };
    }
    let prefix = 0, read = 0;
    const tok = this;
    const step = final => {
      const before = tok.decode(ids.slice(prefix, read), { skipSpecialTokens });
      const now = tok.decode(ids.slice(prefix), { skipSpecialTokens });
      if (now.length > before.length && (final || !now.endsWith('\uFFFD'))) {
        prefix = read;
        read = ids.length;
        return now.slice(before.length);
      }
      return '';
    };
    return {
      push(id) { ids.push(id); return step(false); },
      flush() { return ids.length > read ? step(true) : ''; },
    };
  }
  // The chat template rendered as transformers does: messages, add_generation_prompt, tools,
  // documents, the special tokens by name, and any extra variables the template reads.
  applyChatTemplate(messages, { addGenerationPrompt = true, tools = null, documents = null, template = null, ...vars } = {}) {
    const t = this.chatTemplates;
    const src = template && t[template] ? t[template]
              : template ? template
              : tools && t.tool_use ? t.tool_use
              : t.default;
    if (!src) throw new Error('wgpack: the bundle\'s tokenizer_config.json has no chat_template');
    let c = this.compiled.get(src);
    if (!c) this.compiled.set(src, c = new Template(src));
    return c.render({ messages, add_generation_prompt: addGenerationPrompt, tools, documents, ...this.tokens, ...vars });
  }
  // the ids of a conversation, as transformers' apply_chat_template(tokenize=True): the
  // template writes the special tokens, so none are added
  encodeChat(messages, opts = {}) {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }
}

// @huggingface/tokenizers 0.2's Unigram model ignores byte_fallback (an unknown piece becomes
// <unk>); Hugging Face's Rust tokenizers spells it as its UTF-8 bytes <0xXX> when the
// vocabulary has them all (models/unigram: after the fused unknown run, as here). Measured in
// tests/text/tokenizers.mjs.
function unigramByteFallback(model) {
  const call = model._call.bind(model), has = t => model.tokens_to_ids.has(t);
  const enc = new TextEncoder();
  model._call = tokens => call(tokens).flatMap(t => {
    if (has(t)) return [t];
    const bytes = Array.from(enc.encode(t), b => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    return bytes.every(has) ? bytes : [t];
  });
}

export async function loadTokenizer(manifestUrl, manifest, opts) {
  return new TextTokenizer(await loadTextFiles(manifestUrl, manifest, opts));
}

// seeded generator (mulberry32), as the runtime's sampler, so that a seed reproduces a generation
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// One next-token choice as transformers' generate() makes it: repetition penalty over every id
// so far (logit < 0: times p, else divided by p), then greedy, or temperature, top-k and top-p
// (the smallest set whose probability reaches p; at least one id) and a draw.
export function sampler(o) {
  const rand = rng(o.seed ?? 1);
  return (logits, seen) => {
    const l = Float32Array.from(logits);
    if (o.repetitionPenalty && o.repetitionPenalty !== 1)
      for (const id of new Set(seen)) l[id] = l[id] < 0 ? l[id] * o.repetitionPenalty : l[id] / o.repetitionPenalty;
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
    if (!o.doSample) return best;
    let idx = Array.from(l.keys()).sort((a, b) => l[b] - l[a] || a - b);
    if (o.topK > 0) idx = idx.slice(0, o.topK);
    let w = idx.map(i => Math.exp((l[i] - l[best]) / o.temperature));
    const sum = w.reduce((a, b) => a + b, 0);
    w = w.map(x => x / sum);
    if (o.topP > 0 && o.topP < 1) {
      let acc = 0, keep = 0;
      while (keep < idx.length && (keep === 0 || acc < o.topP)) acc += w[keep++];
      idx = idx.slice(0, keep);
      w = w.slice(0, keep).map(x => x / acc);
    }
    let r = rand();
    for (let k = 0; k < idx.length; k++) if ((r -= w[k]) < 0) return idx[k];
    return idx[idx.length - 1];
  };
}

// how much of `text`'s end could still grow into a stop string (held back from the stream)
function heldBack(text, stops) {
  let n = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > n; k--)
      if (text.endsWith(s.slice(0, k))) { n = k; break; }
  return n;
}

// loadTextModel: the runtime's model (loadModel, or opts.runtime: an object with the same
// forward/generate/reset) with the bundle's tokenizer, generation settings and pooling.
export async function loadTextModel(manifestUrl, opts = {}) {
  const rt = opts.runtime || await loadModel(manifestUrl, opts);
  const files = await loadTextFiles(manifestUrl, rt.manifest, opts);
  const tokenizer = new TextTokenizer(files);
  const gen = tokenizer.generationConfig;
  const vocab = rt.program?.vocab;

  // prompt ids: a string is encoded with the special tokens; messages go through the template
  const promptIds = (input, o) => Array.isArray(input) && typeof input[0] !== 'number'
    ? tokenizer.encodeChat(input, o) : Array.isArray(input) ? input : tokenizer.encode(input);

  // the options transformers would use: the call's, else generation_config.json's
  function settings(o) {
    const temperature = o.temperature ?? gen.temperature ?? 1;
    const doSample = o.temperature !== undefined ? o.temperature > 0 : o.doSample ?? gen.do_sample ?? false;
    return {
      maxNewTokens: o.maxNewTokens ?? gen.max_new_tokens ?? 256,
      doSample: doSample && temperature > 0, temperature,
      topK: o.topK ?? gen.top_k ?? 50, topP: o.topP ?? gen.top_p ?? 1,
      repetitionPenalty: o.repetitionPenalty ?? gen.repetition_penalty ?? 1,
      seed: o.seed ?? 1,
      stop: [].concat(o.stop || []).filter(s => s),
      eos: new Set(o.eosTokenIds ?? tokenizer.eosTokenIds),
    };
  }

  // The decoding loop, yielding {text, id} per token. With a runtime that decodes step by step
  // (rt.prefill(ids) → the last position's logits, rt.step(id) → the next one's, over its KV
  // cache) each token costs one decode pass; without (the runtime today) each step runs
  // forward() over the whole sequence and reads the last row of logits.
  async function* steps(input, o = {}) {
    if (rt.task && rt.task !== 'causal-lm') throw new Error('wgpack: generate() needs a decoder; this bundle is an encoder (use embed)');
    const s = settings(o);
    const prompt = promptIds(input, o);
    const pick = sampler(s);
    const ids = prompt.slice();
    const stream = tokenizer.decodeStream();
    const limit = Math.min(s.maxNewTokens, (rt.maxSeq || Infinity) - prompt.length);
    let text = '', sent = 0, finish = 'length';
    const t0 = performance.now();
    const result = { prompt_ids: prompt, ids: [], text: '', finishReason: finish, tokensPerSecond: 0 };
    const incremental = typeof rt.prefill === 'function' && typeof rt.step === 'function';
    for (let i = 0; i < limit; i++) {
      let logits;
      if (incremental) logits = i ? await rt.step(ids[ids.length - 1]) : await rt.prefill(prompt);
      else {
        const all = await rt.forward(ids), V = vocab || all.length / ids.length;
        logits = all.subarray((ids.length - 1) * V, ids.length * V);
      }
      const id = pick(logits, ids);
      ids.push(id);
      result.ids.push(id);
      if (s.eos.has(id)) { finish = 'eos'; break; }
      text += stream.push(id);
      const hit = s.stop.map(x => text.indexOf(x, Math.max(0, sent - x.length))).filter(k => k >= 0);
      if (hit.length) { text = text.slice(0, Math.min(...hit)); finish = 'stop'; break; }
      const upto = text.length - heldBack(text, s.stop);
      if (upto > sent) { yield { text: text.slice(sent, upto), id, result }; sent = upto; }
    }
    if (finish !== 'stop') text += stream.flush();
    if (text.length > sent) yield { text: text.slice(sent), id: null, result };
    result.text = text;
    result.finishReason = finish;
    result.tokensPerSecond = result.ids.length / ((performance.now() - t0) / 1000);
    yield { text: '', id: null, result, done: true };
  }

  // the encoder's task head on one text: its ids and the head's logits
  async function headLogits(text, task, what) {
    if (!rt.head || rt.head.task !== task)
      throw new Error(`wgpack: ${what}() needs a ${task} head; this bundle has ${rt.head ? `a ${rt.head.task} head` : 'none (its checkpoint is a base model)'}`);
    const ids = tokenizer.encode(text);
    if (rt.chunk && ids.length > rt.chunk) throw new Error(`wgpack: ${ids.length} tokens exceed the encoder's window (${rt.chunk})`);
    return { ids, logits: await rt.forward(ids, { head: true }) };
  }

  const model = {
    runtime: rt, tokenizer, manifest: rt.manifest, generationConfig: gen,
    // Masked-LM heads, as transformers' fill-mask pipeline: per mask token of the text, the topK
    // (default 5) tokens by softmax score, each {token, token_str, score, sequence}; one list for
    // one mask, a list per mask for several
    async fillMask(text, o = {}) {
      const maskTok = tokenizer.tokens.mask_token, maskId = maskTok !== undefined ? tokenizer.hf.token_to_id(maskTok) : undefined;
      if (maskId === undefined || maskId === null) throw new Error('wgpack: fillMask() needs the tokenizer\'s mask_token, and this bundle\'s tokenizer has none');
      const { ids, logits } = await headLogits(text, 'fill-mask', 'fillMask');
      const V = rt.head.width, at = ids.flatMap((id, i) => (id === maskId ? [i] : []));
      if (!at.length) throw new Error(`wgpack: fillMask(): the text has no ${maskTok}`);
      const topK = o.topK ?? 5;
      const per = at.map(i => {
        const p = softmax(logits.subarray(i * V, (i + 1) * V));
        const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b).slice(0, topK);
        return order.map(id => {
          const filled = ids.slice(); filled[i] = id;
          return { token: id, token_str: tokenizer.decode([id]), score: p[id],
                   sequence: tokenizer.decode(filled, { skipSpecialTokens: true }) };
        });
      });
      return per.length === 1 ? per[0] : per;
    },
    // Sequence classifiers, as transformers' text-classification pipeline: labels by score
    // (topK, default 1; null: all), the score a softmax, or a sigmoid for multi-label problems
    // and for one label, none for regression (o.functionToApply: 'softmax' | 'sigmoid' | 'none')
    async classify(text, o = {}) {
      const { logits } = await headLogits(text, 'text-classification', 'classify');
      return headScores(logits, rt.head, o, 1);
    },
    // Token classifiers: per token {id, token, scores} (softmax over the labels)
    async classifyTokens(text) {
      const { ids, logits } = await headLogits(text, 'token-classification', 'classifyTokens');
      const C = rt.head.width, labels = rt.head.labels || [];
      return ids.map((id, i) => {
        const p = softmax(logits.subarray(i * C, (i + 1) * C));
        let best = 0;
        for (let k = 1; k < C; k++) if (p[k] > p[best]) best = k;
        return { id, token: tokenizer.hf.id_to_token(id), label: labels[best] ?? `LABEL_${best}`, score: p[best], scores: p };
      });
    },
    // resolves to {text, ids, prompt_ids, finishReason ('eos' | 'stop' | 'length'), tokensPerSecond};
    // onToken(chunk) gets each piece of text as it is settled
    async generate(input, o = {}) {
      let res;
      for await (const c of steps(input, o)) {
        res = c.result;
        if (c.text && o.onToken) o.onToken(c.text);
      }
      return res;
    },
    // the same as an async iterator of text chunks
    async *stream(input, o = {}) {
      for await (const c of steps(input, o)) if (c.text) yield c.text;
    },
    chat(messages, o = {}) {
      if (!Array.isArray(messages)) throw new Error('wgpack: chat() takes a list of {role, content} messages');
      return model.generate(messages, o);
    },
    // Sentence embeddings: the last hidden state pooled as 1_Pooling/config.json says (mean,
    // CLS, max or last token; mean without one), L2-normalised when modules.json has a
    // Normalize module (or o.normalize). One sequence per pass: no padding is needed.
    async embed(texts, o = {}) {
      if (rt.task && rt.task !== 'encoder') throw new Error('wgpack: embed() needs an encoder; this bundle is a decoder');
      const pc = files['1_Pooling/config.json'] || {};
      const pooling = o.pooling || (pc.pooling_mode_cls_token ? 'cls' : pc.pooling_mode_max_tokens ? 'max'
                    : pc.pooling_mode_lasttoken ? 'last' : 'mean');
      const normalize = o.normalize ?? (files['modules.json'] || []).some(m => /Normalize/.test(m.type));
      const out = [];
      for (const t of [].concat(texts)) {
        const ids = tokenizer.encode(t);
        if (rt.chunk && ids.length > rt.chunk) throw new Error(`wgpack: ${ids.length} tokens exceed the encoder's window (${rt.chunk})`);
        const h = await rt.forward(ids);
        const H = h.length / ids.length, v = new Float32Array(H);
        for (let r = 0; r < ids.length; r++) {
          if (pooling === 'cls' && r > 0) break;
          if (pooling === 'last' && r < ids.length - 1) continue;
          for (let k = 0; k < H; k++) {
            const x = h[r * H + k];
            v[k] = pooling === 'max' ? (r ? Math.max(v[k], x) : x) : v[k] + x;
          }
        }
        if (pooling === 'mean') for (let k = 0; k < H; k++) v[k] /= ids.length;
        if (normalize) {
          const n = Math.hypot(...v) || 1;
          for (let k = 0; k < H; k++) v[k] /= n;
        }
        out.push(v);
      }
      return out;
    },
  };
  return model;
}
