// text_ids.mjs — the text side of `wgpack run --prompt`: the bundle's own tokenizer
// (wgpack-text.js over the bundle's text/ files, each checked against its SHA-256 as a page
// checks it) makes the prompt's ids, and the text of the ids the runtime generated.
//   node tools/web/text_ids.mjs encode --bundle DIR --prompt-file F [--chat] --out R.json
//   node tools/web/text_ids.mjs decode --bundle DIR --ids F.i32 --out R.json
// encode: the ids with the special tokens the tokenizer's post-processor adds (as
// tokenizer(text) in transformers); --chat: the chat template over one user message with
// add_generation_prompt (as apply_chat_template(tokenize=True): the template writes the
// special tokens). decode: the text up to the first EOS id (generation_config's, else
// eos_token), special tokens skipped, as loadTextModel's generate() returns it.
// R.json: {ok: true, ids} or {ok: true, text, finish_reason: 'eos'|'length', eos_at};
// {ok: false, error, cannot_run, prompt} on failure (cannot_run: the bundle or the prompt is at
// fault; prompt: the prompt is).
// Exit 0, or 1 on failure.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { loadTokenizer } from './wgpack-text.js';

const [mode, ...args] = process.argv.slice(2);
const opt = k => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const out = opt('--out');
const done = r => { fs.writeFileSync(out, JSON.stringify(r) + '\n'); process.exit(r.ok ? 0 : 1); };
class Refused extends Error {}

// the bundle's files straight from its directory (bundleFile keeps every name inside it)
const readFetch = async url => new Response(fs.readFileSync(fileURLToPath(url)));

function readIds(file) {
  const b = fs.readFileSync(file);
  return Array.from(new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
}

async function run() {
  const manifestPath = path.resolve(opt('--bundle'), 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const tok = await loadTokenizer(pathToFileURL(manifestPath).href, manifest, { fetch: readFetch });
  if (mode === 'encode') {
    const file = opt('--prompt-file');
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file)); }
    catch { throw new Refused('the prompt is not UTF-8 text'); }
    const ids = args.includes('--chat') ? tok.encodeChat([{ role: 'user', content: text }], { addGenerationPrompt: true })
                                        : tok.encode(text);
    return { ok: true, ids };
  }
  const ids = readIds(opt('--ids')), eos = new Set(tok.eosTokenIds);
  const at = ids.findIndex(id => eos.has(id));
  return { ok: true, text: tok.decode(at < 0 ? ids : ids.slice(0, at), { skipSpecialTokens: true }),
           finish_reason: at < 0 ? 'length' : 'eos', eos_at: at < 0 ? null : at };
}

try {
  if (!out || !['encode', 'decode'].includes(mode) || !opt('--bundle'))
    throw new Error('usage: text_ids.mjs encode|decode --bundle DIR (--prompt-file F [--chat] | --ids F.i32) --out R.json');
  done(await run());
} catch (e) {
  // wgpack-text.js and the loader say "wgpack: ..." of what the bundle lacks or gets wrong
  const msg = String(e?.message || e).split('\n')[0];
  done({ ok: false, error: msg.replace(/^wgpack: /, ''), cannot_run: e instanceof Refused || msg.startsWith('wgpack: '), prompt: e instanceof Refused });
}
