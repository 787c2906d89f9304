// wgpack-vision.js — images in over a wgpack bundle of an image encoder (ViT, DeiT): the page's
// image made into pixel_values as the bundle's preprocessor_config.json says, the way
// transformers' (slow, PIL-based) image processors make them, then the runtime's forward pass.
//
//   import { loadImageModel } from './wgpack-vision.js';
//   const m = await loadImageModel('/bundle/manifest.json');
//   await m.classify(imageBitmapOrImageData);   // [{label, score}], as the image-classification pipeline
//   await m.embed(image);                       // the CLS token's last hidden state (Float32Array)
//   m.pixelValues(image)                        // Float32Array [channels][height][width]
//
// An image is an ImageData-like {width, height, data: RGBA bytes}, or in a page anything
// createImageBitmap takes (an <img>, a canvas, a Blob, an ImageBitmap): it is drawn once at its
// own size to read its pixels, never scaled by the canvas. Steps, each as transformers does it:
// convert to RGB (alpha dropped), resize (PIL's resampling: its filters, supports and 8-bit
// fixed-point arithmetic; `size` {height, width}, {shortest_edge} or {longest_edge}), center
// crop, rescale, normalize — in f32 as numpy does.
import { loadTextFiles } from './wgpack-loader.js';
import { loadModel, headScores } from './wgpack-runtime.js';

const PRECISION_BITS = 32 - 8 - 2;   // PIL's fixed point for 8-bit images
// PIL's filters by its resample codes (0 nearest is by index, below)
const sinc = v => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
const FILTERS = {
  1: { support: 3, f: x => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },                  // lanczos
  2: { support: 1, f: x => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },                        // bilinear
  3: { support: 2, f: x => {                                                                 // bicubic, a = -0.5
    const a = -0.5, t = Math.abs(x);
    return t < 1 ? ((a + 2) * t - (a + 3)) * t * t + 1 : t < 2 ? (((t - 5) * t + 8) * t - 4) * a : 0;
  } },
  4: { support: 0.5, f: x => (x > -0.5 && x <= 0.5 ? 1 : 0) },                               // box
  5: { support: 1, f: x => (Math.abs(x) < 1 ? 0.54 + 0.46 * Math.cos(Math.PI * x) : 0) },    // hamming
};

// PIL's precompute_coeffs: per output index, the first input index and fixed-point weights:
// PIL's 22 fractional bits, or (torch, the uint8 path of its antialiased resize, which
// transformers 5's image processors take through torchvision) the most bits below 22 that keep
// the largest weight under 2^15
function coeffs(inSize, outSize, filter, torchBits) {
  const scale = inSize / outSize, fs = Math.max(scale, 1), support = filter.support * fs, out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / fs;
    let xmin = Math.trunc(center - support + 0.5), xmax = Math.trunc(center + support + 0.5);
    if (xmin < 0) xmin = 0;
    if (xmax > inSize) xmax = inSize;
    const k = [];
    let ww = 0;
    for (let x = 0; x < xmax - xmin; x++) { const w = filter.f((x + xmin - center + 0.5) * ss); k.push(w); ww += w; }
    out.push({ xmin, k: k.map(w => (ww !== 0 ? w / ww : w)) });
  }
  let bits = PRECISION_BITS;
  if (torchBits) {
    const maxW = Math.max(...out.flatMap(c => c.k));
    for (bits = 0; bits < 22; bits++) if (Math.trunc(0.5 + maxW * 2 ** (bits + 1)) >= 1 << 15) break;
  }
  for (const c of out) c.k = c.k.map(v => Math.trunc(v * 2 ** bits + (v < 0 ? -0.5 : 0.5)));
  return { cs: out, bits };
}
const clip8 = (v, bits) => { const s = Math.floor(v / 2 ** bits); return s < 0 ? 0 : s > 255 ? 255 : s; };

// one pass of PIL's resample along x (horizontal) or y over an RGB u8 image {w, h, d}
function pass(img, outSize, filter, horizontal, torchBits) {
  const { w, h, d } = img, inSize = horizontal ? w : h, { cs, bits } = coeffs(inSize, outSize, filter, torchBits);
  const ow = horizontal ? outSize : w, oh = horizontal ? h : outSize, o = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      const { xmin, k } = cs[horizontal ? x : y];
      for (let c = 0; c < 3; c++) {
        let ss = bits ? 2 ** (bits - 1) : 0;
        for (let i = 0; i < k.length; i++) {
          const sx = horizontal ? xmin + i : x, sy = horizontal ? y : xmin + i;
          ss += d[(sy * w + sx) * 3 + c] * k[i];
        }
        o[(y * ow + x) * 3 + c] = clip8(ss, bits);
      }
    }
  return { w: ow, h: oh, d: o };
}

function resizeRGB(img, w, h, resample, torchBits) {
  if (img.w === w && img.h === h) return img;
  if (resample === 0) {                             // nearest
    const o = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const sx = Math.min(img.w - 1, Math.floor((x + 0.5) * img.w / w)), sy = Math.min(img.h - 1, Math.floor((y + 0.5) * img.h / h));
        for (let c = 0; c < 3; c++) o[(y * w + x) * 3 + c] = img.d[(sy * img.w + sx) * 3 + c];
      }
    return { w, h, d: o };
  }
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`wgpack: preprocessor_config.json: resample ${resample} is not one of PIL's (0 to 5)`);
  let r = img;
  if (w !== img.w) r = pass(r, w, filter, true, torchBits);
  if (h !== img.h) r = pass(r, h, filter, false, torchBits);
  return r;
}

// transformers' output size for `size`: {height, width}, {shortest_edge} (aspect kept, the
// long side int(size * long / short)), {longest_edge}
function targetSize(size, w, h) {
  if (typeof size === 'number') return [size, size];
  if (size.height && size.width) return [size.width, size.height];
  if (size.shortest_edge) {
    const s = size.shortest_edge, short = Math.min(w, h), long = Math.max(w, h), nl = Math.trunc(s * long / short);
    return w <= h ? [s, nl] : [nl, s];
  }
  if (size.longest_edge) {
    const s = size.longest_edge, f = s / Math.max(w, h);
    return [Math.trunc(w * f + 0.5), Math.trunc(h * f + 0.5)];
  }
  throw new Error(`wgpack: preprocessor_config.json: size ${JSON.stringify(size)} is not implemented`);
}

// An ImageData-like image as pixel_values [3][H][W] f32, as transformers' image processor
// makes them from the same pixels; `shape` {channels, height, width} is the model's input;
// o.resize 'torch' (default: transformers 5's processors, torchvision's antialiased resize of
// uint8 images) or 'pil' (transformers 4's slow processors, PIL's Image.resize)
export function preprocessImage(image, cfg, shape, o = {}) {
  const { width: iw, height: ih, data } = image;
  if (!(iw > 0 && ih > 0) || !data || data.length !== iw * ih * 4) throw new Error('wgpack: an image is {width, height, data: RGBA bytes}');
  if (shape.channels !== 3) throw new Error(`wgpack: the model takes ${shape.channels} channels; images are RGB`);
  let img = { w: iw, h: ih, d: new Uint8Array(iw * ih * 3) };
  for (let i = 0; i < iw * ih; i++) for (let c = 0; c < 3; c++) img.d[i * 3 + c] = data[i * 4 + c];
  if (cfg.do_resize !== false && cfg.size) {
    const [w, h] = targetSize(cfg.size, iw, ih);
    img = resizeRGB(img, w, h, cfg.resample ?? 2, (o.resize || 'torch') === 'torch');
  }
  if (cfg.do_center_crop && cfg.crop_size) {
    const [cw, ch] = targetSize(cfg.crop_size, img.w, img.h);
    if (cw > img.w || ch > img.h) throw new Error('wgpack: preprocessor_config.json: a crop larger than the image (padding) is not implemented');
    const top = Math.trunc((img.h - ch) / 2), left = Math.trunc((img.w - cw) / 2), o = new Uint8Array(cw * ch * 3);
    for (let y = 0; y < ch; y++) o.set(img.d.subarray(((top + y) * img.w + left) * 3, ((top + y) * img.w + left + cw) * 3), y * cw * 3);
    img = { w: cw, h: ch, d: o };
  }
  if (img.w !== shape.width || img.h !== shape.height)
    throw new Error(`wgpack: the processed image is ${img.w}x${img.h}, the model takes ${shape.width}x${shape.height}`);
  const f = Math.fround, scale = cfg.do_rescale === false ? 1 : cfg.rescale_factor ?? 1 / 255;
  const list = (v, d) => (v === undefined || v === null ? [d, d, d] : typeof v === 'number' ? [v, v, v] : v);
  const mean = list(cfg.image_mean, 0.5).map(f), std = list(cfg.image_std, 0.5).map(f), norm = cfg.do_normalize !== false;
  const out = new Float32Array(3 * img.w * img.h), HW = img.w * img.h;
  for (let i = 0; i < HW; i++)
    for (let c = 0; c < 3; c++) {
      let v = f(img.d[i * 3 + c] * scale);        // numpy: float64 product, cast to float32
      if (norm) v = f(f(v - mean[c]) / std[c]);  // float32 arithmetic
      out[c * HW + i] = v;
    }
  return out;
}

// an image's RGBA pixels at its own size: ImageData-like objects as they are; in a page, what
// createImageBitmap takes, drawn once onto a canvas of its size
async function imageData(image) {
  if (image && image.data && image.width && image.height) return image;
  if (typeof createImageBitmap !== 'function') throw new Error('wgpack: an image here is {width, height, data: RGBA bytes}');
  const bm = image instanceof ImageBitmap ? image : await createImageBitmap(image);
  const cv = new OffscreenCanvas(bm.width, bm.height), g = cv.getContext('2d');
  g.drawImage(bm, 0, 0);
  return g.getImageData(0, 0, bm.width, bm.height);
}

export async function loadImageModel(manifestUrl, opts = {}) {
  const rt = opts.runtime || await loadModel(manifestUrl, opts);
  if (!rt.image) throw new Error('wgpack: this bundle is not an image encoder (its program takes no pixel_values)');
  if (!rt.manifest.text?.files?.['preprocessor_config.json'])
    throw new Error('wgpack: the bundle has no preprocessor_config.json (build it with the image processor\'s file beside the model)');
  const cfg = (await loadTextFiles(manifestUrl, rt.manifest, opts))['preprocessor_config.json'];
  const model = {
    runtime: rt, manifest: rt.manifest, preprocessor: cfg,
    async pixelValues(image, o = {}) { return preprocessImage(await imageData(image), cfg, rt.image, { resize: opts.resize, ...o }); },
    // image classifiers, as transformers' image-classification pipeline: [{label, score}] by
    // score (topK 5 as the pipeline; null: every label), softmax (sigmoid for multi-label or one label)
    async classify(image, o = {}) {
      if (!rt.head || rt.head.task !== 'image-classification') throw new Error('wgpack: classify() needs an image classifier; this bundle has no classification head');
      return headScores(await rt.forward(await model.pixelValues(image), { head: true }), rt.head, o, 5);
    },
    // the image's embedding: the CLS token's (first row's) last hidden state, or the mean of
    // the patch tokens' ({pooling: 'mean'})
    async embed(image, o = {}) {
      const h = await rt.forward(await model.pixelValues(image)), H = rt.outputWidth, T = h.length / H;
      if (o.pooling !== 'mean') return h.slice(0, H);
      const first = T - (rt.image.height / rt.image.patch) * (rt.image.width / rt.image.patch), v = new Float32Array(H);
      for (let t = first; t < T; t++) for (let k = 0; k < H; k++) v[k] += h[t * H + k] / (T - first);
      return v;
    },
  };
  return model;
}
