// tests/text/vision_model.mjs — an image encoder's bundle through tools/web/wgpack-vision.js in
// Node with Dawn, against transformers (--hf DIR: tools/zoo/make_vision.py's checkpoint):
//   node tests/text/vision_model.mjs --bundle DIR --hf DIR
// - the runtime's output on the processor's pixel_values (DIR/pixel.f32) against transformers'
//   (hf_out.f32: logits of a classifier, else the last hidden state) and, for classifiers, the
//   last hidden state too;
// - pixelValues() of DIR/image.rgba against the processor's pixel_values (transformers 5's:
//   torchvision's antialiased uint8 resize), and (reported) with PIL's resize instead;
// - classify() of the image against transformers' image-classification pipeline.
// Prints one JSON line; exits 1 on a failed check.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from './serve.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const bundle = path.resolve(opt('--bundle')), ref = path.resolve(opt('--hf'));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const check = (ok, what) => { if (!ok) { console.log(JSON.stringify({ ok: false, failed: what })); process.exit(1); } };
const f32 = f => { const b = fs.readFileSync(path.join(ref, f)); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };
const maxDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

const { srv, origin } = await serve(bundle, root, '');
const { webgpu } = await import(pathToFileURL(path.join(root, 'tools/webgpu/gpu.mjs')).href);
await webgpu({ asNavigator: true });
const { loadImageModel } = await import(pathToFileURL(path.join(root, 'tools/web/wgpack-vision.js')).href);
const m = await loadImageModel(`${origin}/b/manifest.json`, { f32: true });
const hf = JSON.parse(fs.readFileSync(path.join(ref, 'hf.json')));
const pv = f32('pixel.f32'), want = f32('hf_out.f32'), hid = f32('hf_hidden.f32');
const got = await m.runtime.forward(pv, { head: hf.classifier });
check(got.length === want.length, `output ${got.length} values, transformers ${want.length}`);
const out = { ok: true, model_type: m.runtime.modelType, tokens: m.runtime.image.tokens, out_max_abs_diff: maxDiff(got, want) };
check(out.out_max_abs_diff < 1e-4, `output: max |diff| ${out.out_max_abs_diff} against transformers`);
const h = await m.runtime.forward(pv);
check(h.length === hid.length, 'last hidden state size');
out.hidden_max_abs_diff = maxDiff(h, hid);
check(out.hidden_max_abs_diff < 1e-4, `last hidden state: max |diff| ${out.hidden_max_abs_diff}`);
// the page's image made into pixel_values here, against the processors'
const [ih, iw] = hf.image, rgba = new Uint8ClampedArray(fs.readFileSync(path.join(ref, 'image.rgba')));
const mine = await m.pixelValues({ width: iw, height: ih, data: rgba });
out.pixels_vs_processor = maxDiff(mine, pv);
const pil = await m.pixelValues({ width: iw, height: ih, data: rgba }, { resize: 'pil' });
out.pil_resize_vs_processor = maxDiff(pil, pv);
out.pil_resize_pixels_differing = pil.reduce((a, v, i) => a + (Math.abs(v - pv[i]) > 1e-3), 0);
check(out.pixels_vs_processor < 1e-6, `pixel_values differ from the processor's by ${out.pixels_vs_processor}`);
if (hf.pipeline) {
  const r = (await m.classify({ width: iw, height: ih, data: rgba }, { topK: null })).sort((a, b) => (a.label < b.label ? -1 : 1));
  check(r.length === hf.pipeline.length && r.every((x, i) => x.label === hf.pipeline[i].label), 'labels equal the pipeline\'s');
  out.pipeline_worst_score_diff = Math.max(...r.map((x, i) => Math.abs(x.score - hf.pipeline[i].score)));
  check(out.pipeline_worst_score_diff < 1e-5, `scores differ from the pipeline's by ${out.pipeline_worst_score_diff}`);
}
srv.close();
console.log(JSON.stringify(out));
process.exit(0);
