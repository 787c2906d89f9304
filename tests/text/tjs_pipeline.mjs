// tests/text/tjs_pipeline.mjs ROOT NAME PROMPT — transformers.js's pipeline('text-generation')
// on the folder ROOT/NAME that `wgpack export-onnx --transformers-js` wrote (its q4 model and
// the tokenizer files beside it), offline; prints {generated_text, prompt_ids}
import { pipeline, env } from '@huggingface/transformers';
const [root, name, prompt] = process.argv.slice(2);
env.allowRemoteModels = false;
env.localModelPath = root + '/';
const g = await pipeline('text-generation', name, { dtype: 'q4', device: 'cpu' });
const [out] = await g(prompt, { max_new_tokens: 8, do_sample: false });
console.log(JSON.stringify({ generated_text: out.generated_text, prompt_ids: Array.from(g.tokenizer.encode(prompt)) }));
