// tools/ocr_page.mjs — a synthetic text page for PaddleOCR's detector: a light background with
// lines of dark glyph-like strokes, normalized as PaddleOCR does ((x - mean) / std per channel),
// written as DIR/x.npy [1, 3, H, W] f32 (the detector's input is named x). The generated images
// of `wgpack verify` (boxes and bars in [0, 1]) leave the detector's output near 0 everywhere;
// on these pages it marks the text lines, so output errors mean something.
//   node tools/ocr_page.mjs DIR [H W SEED]
import fs from 'node:fs';
import path from 'node:path';
const H = +process.argv[3] || 160, W = +process.argv[4] || 320;
let s = +process.argv[5] || 1;
const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
const img = new Float32Array(3 * H * W).fill(0.92);
for (let y0 = 12; y0 + 14 < H; y0 += 24 + Math.floor(rnd() * 8)) {
  let x = 8 + Math.floor(rnd() * 20);
  const end = W - 10 - Math.floor(rnd() * 80);
  while (x < end) {
    const gw = 5 + Math.floor(rnd() * 6), gh = 10 + Math.floor(rnd() * 5);
    for (let k = 0; k < 3; k++) { // strokes of a glyph
      const vert = rnd() < 0.5, px = x + Math.floor(rnd() * gw), py = y0 + Math.floor(rnd() * gh);
      for (let t = 0; t < (vert ? gh : gw); t++) for (let w = 0; w < 2; w++) {
        const yy = vert ? y0 + t : py + w, xx = vert ? px + w : x + t;
        if (yy < H && xx < W) for (let c = 0; c < 3; c++) img[(c * H + yy) * W + xx] = 0.1;
      }
    }
    x += gw + 2 + (rnd() < 0.15 ? 8 : 0);
  }
}
const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
for (let c = 0; c < 3; c++) for (let i = 0; i < H * W; i++) img[c * H * W + i] = (img[c * H * W + i] - mean[c]) / std[c];
let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, ${H}, ${W}), }`;
h += ' '.repeat(63 - ((h.length + 10) % 64)) + '\n';
const head = Buffer.alloc(10); head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head.writeUInt16LE(h.length, 8);
fs.mkdirSync(process.argv[2], { recursive: true });
fs.writeFileSync(path.join(process.argv[2], 'x.npy'), Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(img.buffer)]));
