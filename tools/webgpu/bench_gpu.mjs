// tools/webgpu/bench_gpu.mjs — GEMV and GEMM speed of the generated kernels on the adapter at
// hand, as ratios against the read ceiling measured in the same run (`make bench-gpu`).
// Per shape x format x profile shape x variant: us per call, GB/s of weight bytes, % of the
// ceiling; GEMM: TFLOP/s (2*rows*K*n / time). Weights: enough copies to exceed the L2 cache.
// Usage: node tools/webgpu/bench_gpu.mjs [--json OUT] [--quick] [--shapes RxK,...]  (REPS=N)   (WGPACK=path to wgpack)
import fs from 'node:fs';
import * as B from './gpubench.mjs';

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const quick = args.includes('--quick');
const { device, features, name } = await B.openBenchDevice();
const time = B.timer(device);
const ceiling = await B.readCeiling(device, time);
console.log(`adapter: ${name}; features: ${features.join(',')}; read ceiling ${ceiling.toFixed(0)} GB/s (256 MiB grid-stride vec4 read)`);

const shapeArg = args.includes('--shapes') ? args[args.indexOf('--shapes') + 1].split(',').map(s => s.split('x').map(Number)) : null;
const shapes = shapeArg || (quick ? [[4096, 4096]] : [[4096, 4096], [14336, 4096], [4096, 14336]]);
const REPS = Number(process.env.REPS || 300);
const gemvFormats = ['f32', 'fp16', 'q8g32s', 'q6g32s', 'q5g32s', 'q4g32s', 'q4g32a', 'q4g128s', 'q3g32s', 'q2g32s'];
const gemmFormats = ['f32', 'fp16', 'q8g32s', 'q4g32s'];
const profiles = ['chrome', 'firefox', 'safari', 'mobile'];
const results = { adapter: name, features, date: new Date().toISOString(), ceiling_gbs: ceiling, gemv: [], gemm: [] };

function variants(kind) {
  // distinct (text) kernels over the profiles' shapes, with and without subgroups
  const out = new Map();
  for (const p of profiles)
    for (const sg of kind === 'gemv' && features.includes('subgroups') ? [true, false] : [false]) {
      if (sg && !['chrome', 'edge'].includes(p)) continue;
      const a = ['--profile', p];
      if (sg) a.push('--subgroups');
      const key = a.join(' ');
      out.set(key, { profile: p, sg, args: a });
    }
  return [...out.values()];
}

for (const [rows, K] of shapes) {
  const x = B.floatBuffer(device, Math.ceil(K / 256) * 256);
  const y = B.floatBuffer(device, rows, 0, GPUBufferUsage.COPY_SRC);
  for (const fmt of gemvFormats) {
    const w = B.weightCopies(device, fmt, rows, K);
    const params = B.uniform(device, [rows, K, w.ps.Kp, 1, w.ps.G, 0, 0, 0]);
    const seen = new Map();
    for (const v of variants('gemv')) {
      const code = B.kernelText(['--kind', 'gemv', '--format', fmt, ...v.args]);
      if (seen.has(code)) { seen.get(code).profiles.push(v.profile + (v.sg ? '+sg' : '')); continue; }
      const R = +/(\d+) rows per workgroup/.exec(code)[1], WG = Math.ceil(rows / R);
      const pipe = B.pipeline(device, code);
      const ms = await time(pipe, B.bindGroups(device, pipe, w, x, y, params), [Math.min(WG, 65535), Math.ceil(WG / 65535), 1], REPS);
      const gbs = w.total / ms / 1e6;
      const r = { shape: `${rows}x${K}`, format: fmt, profiles: [v.profile + (v.sg ? '+sg' : '')], header: code.split('\n')[0].replace('// wgpack ', ''),
                  us: ms * 1000, gbs, pct_ceiling: 100 * gbs / ceiling, weight_bytes: w.total };
      seen.set(code, r); results.gemv.push(r);
    }
    w.destroy(); params.destroy();
  }
  x.destroy(); y.destroy();
}
for (const [rows, K] of shapes.filter(([r, k]) => k === shapes[0][1])) {
  for (const n of [128, 512]) {
    const x = B.floatBuffer(device, n * K, 0.25);
    const y = B.floatBuffer(device, n * rows, 0, GPUBufferUsage.COPY_SRC);
    for (const fmt of gemmFormats) {
      const w = B.weightCopies(device, fmt, rows, K, 64 * 1048576);
      const params = B.uniform(device, [rows, K, w.ps.Kp, n, w.ps.G, 0, 0, 0]);
      const seen = new Map();
      for (const v of variants('gemm')) {
        const code = B.kernelText(['--kind', 'gemm', '--format', fmt, ...v.args]);
        if (seen.has(code)) { seen.get(code).profiles.push(v.profile); continue; }
        const [, bm, bn] = /tile (\d+)x(\d+)/.exec(code).map(Number);
        const pipe = B.pipeline(device, code);
        const ms = await time(pipe, B.bindGroups(device, pipe, w, x, y, params), [Math.ceil(rows / bm), Math.ceil(n / bn), 1], Math.max(1, Math.ceil(REPS / 10)));
        const r = { shape: `${rows}x${K}`, n, format: fmt, profiles: [v.profile], header: code.split('\n')[0].replace('// wgpack ', ''),
                    us: ms * 1000, tflops: 2 * rows * K * n / ms / 1e9 };
        seen.set(code, r); results.gemm.push(r);
      }
      w.destroy(); params.destroy();
    }
    x.destroy(); y.destroy();
  }
}
console.log('\n| weight | format | profiles | us per GEMV | GB/s | % of read ceiling |\n|---|---|---|---|---|---|');
for (const r of results.gemv) console.log(`| ${r.shape} | ${r.format} | ${r.profiles.join(', ')} | ${r.us.toFixed(1)} | ${r.gbs.toFixed(0)} | ${r.pct_ceiling.toFixed(0)} % |`);
console.log('\n| weight | n | format | profiles | us per GEMM | TFLOP/s |\n|---|---|---|---|---|---|');
for (const r of results.gemm) console.log(`| ${r.shape} | ${r.n} | ${r.format} | ${r.profiles.join(', ')} | ${r.us.toFixed(0)} | ${r.tflops.toFixed(2)} |`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results, null, 1));
process.exit(0);
