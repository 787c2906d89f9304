// tests/text/check_prompt.mjs — holds `wgpack run --prompt ... --json` to Hugging Face's own
// tokenizers on the files the bundle was built from: prompt_ids must be Rust `tokenizers`'
// encoding of the prompt with its special tokens (--chat: of transformers.js's rendering of the
// chat template, one user message, add_generation_prompt), generated_ids what ran, and text
// Rust's decode of generated_ids up to the first EOS id (generation_config's, else eos_token),
// special tokens skipped.
//   node tests/text/check_prompt.mjs RUN.json TOKENIZER_DIR (PROMPT | --file FILE) [--chat]
// Prints one JSON line; exits 1 on a difference.
import fs from 'node:fs';
import path from 'node:path';
import rust from '@anush008/tokenizers';
import { AutoTokenizer, env } from '@huggingface/transformers';

const [runFile, dir, arg, file] = process.argv.slice(2), chat = process.argv.includes('--chat');
const prompt = arg === '--file' ? fs.readFileSync(file, 'utf8') : arg;   // a file's bytes as they are
const r = JSON.parse(fs.readFileSync(runFile, 'utf8'));
const read = f => (fs.existsSync(path.join(dir, f)) ? JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) : {});
const ref = rust.Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
let text = prompt, special = true;
if (chat) {
  env.localModelPath = path.dirname(path.resolve(dir)) + '/';
  const tjs = await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)), { local_files_only: true });
  text = tjs.apply_chat_template([{ role: 'user', content: prompt }], { tokenize: false, add_generation_prompt: true });
  special = false;
}
const want = (await ref.encode(text, null, { addSpecialTokens: special })).getIds();
const tc = read('tokenizer_config.json'), gc = read('generation_config.json');
const eosTok = typeof tc.eos_token === 'object' ? tc.eos_token?.content : tc.eos_token;
const eos = new Set([].concat(gc.eos_token_id ?? (eosTok ? ref.tokenToId(eosTok) : [])).filter(x => x != null));
const gen = r.generated_ids || [], at = gen.findIndex(id => eos.has(id));
const wantText = await ref.decode(at < 0 ? gen : gen.slice(0, at), true);
const same = (a, b) => JSON.stringify(Array.from(a)) === JSON.stringify(Array.from(b));
const problems = [];
if (!same(r.prompt_ids, want)) problems.push(`prompt_ids ${JSON.stringify(r.prompt_ids)} != ${JSON.stringify(Array.from(want))}`);
if (r.tokens !== want.length) problems.push(`tokens ${r.tokens} != ${want.length}`);
if (!same(gen, r.generated || [])) problems.push('generated_ids are not the ids the comparison checked');
if (r.text !== wantText) problems.push(`text ${JSON.stringify(r.text)} != ${JSON.stringify(wantText)}`);
if (r.finish_reason !== (at < 0 ? 'length' : 'eos')) problems.push(`finish_reason ${r.finish_reason}`);
console.log(JSON.stringify({ ok: !problems.length, chat, prompt_tokens: want.length, generated: gen.length, text: r.text, problems }));
process.exit(problems.length ? 1 : 0);
