// tools/webgpu/bench_dot8.mjs — GEMV speed of the int8-activation path (kernel-gen --dot8) beside
// the exact f32 GEMV (the chrome profile's shape, with subgroups where the adapter has them), on
// the issue-23 shapes, with the xq8 pre-pass timed on its own; ratios to the read ceiling of the
// same run. Usage: node tools/webgpu/bench_dot8.mjs [--json OUT]   (REPS=N, WGPACK=path)
import fs from 'node:fs';
import * as B from './gpubench.mjs';
const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const { device, features, name } = await B.openBenchDevice();
const time = B.timer(device);
const ceiling = await B.readCeiling(device, time);
console.log(`adapter: ${name}; read ceiling ${ceiling.toFixed(0)} GB/s`);
const REPS = Number(process.env.REPS || 300), sg = features.includes('subgroups');
const out = { adapter: name, date: new Date().toISOString(), ceiling_gbs: ceiling, rows: [] };
const shapes = [[14336, 4096], [4096, 14336], [4096, 4096]];
const dot8Shapes = [[64, 8], [128, 4], [128, 2], [64, 4], [128, 1], [32, 8]];
for (const [rows, K] of shapes) {
  const x = B.floatBuffer(device, K, 0.5), y = B.floatBuffer(device, rows, 0, GPUBufferUsage.COPY_SRC);
  const nch = K / 32;
  const xq = device.createBuffer({ size: K, usage: GPUBufferUsage.STORAGE }), xd = device.createBuffer({ size: nch * 8, usage: GPUBufferUsage.STORAGE });
  for (const fmt of ['fp16', 'q4g32s', 'q4g32a', 'q4g128s', 'q8g32s']) {
    const w = B.weightCopies(device, fmt, rows, K);
    const params = B.uniform(device, [rows, K, w.ps.Kp, 1, w.ps.G, 0, 0, 0]);
    const rec = (variant, us) => { const gbs = w.total / us / 1e3; const r = { shape: `${rows}x${K}`, format: fmt, variant, us, gbs, pct: 100 * gbs / ceiling };
      out.rows.push(r); console.log(`| ${r.shape} | ${fmt} | ${variant} | ${us.toFixed(1)} | ${gbs.toFixed(0)} | ${r.pct.toFixed(0)} % |`); };
    const ex = B.kernelText(['--kind', 'gemv', '--format', fmt, ...(sg ? ['--subgroups'] : [])]);
    const R = +/(\d+) rows per workgroup/.exec(ex)[1], pe = B.pipeline(device, ex), WG = Math.ceil(rows / R);
    rec(`exact f32 (chrome${sg ? '+sg' : ''})`, 1000 * await time(pe, B.bindGroups(device, pe, w, x, y, params), [Math.min(WG, 65535), Math.ceil(WG / 65535), 1], REPS));
    if (fmt !== 'fp16') {
      const pre = B.pipeline(device, B.kernelText(['--kind', 'xq8', '--format', fmt]));
      const pbg = device.createBindGroup({ layout: pre.getBindGroupLayout(0), entries: [[3, x], [4, xq], [5, params], [6, xd]].map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
      const preUs = 1000 * await time(pre, [pbg], [Math.ceil(nch / 64), 1, 1], REPS);
      console.log(`xq8 pre-pass ${rows}x${K} ${fmt}: ${preUs.toFixed(2)} us`);
      out.rows.push({ shape: `${rows}x${K}`, format: fmt, variant: 'xq8 pre-pass', us: preUs });
      for (const [TH, RR] of dot8Shapes) for (const s of sg ? [true, false] : [false]) {
        const code = B.kernelText(['--kind', 'gemv', '--format', fmt, '--dot8', '--threads', String(TH), '--rows', String(RR), ...(s ? ['--subgroups'] : [])]);
        const p = B.pipeline(device, code), lay = p.getBindGroupLayout(0), W = Math.ceil(rows / RR);
        const bgs = w.copies.map(c => device.createBindGroup({ layout: lay, entries: [[0, c.data], [1, c.scales], [2, c.zeros], [3, xq], [4, y], [5, params], [6, xd]]
          .filter(([i, b]) => b && !(i === 2 && fmt.endsWith('s'))).map(([binding, buffer]) => ({ binding, resource: { buffer } })) }));
        rec(`dot8 ${TH}x${RR}${s ? '+sg' : ''}`, 1000 * await time(p, bgs, [Math.min(W, 65535), Math.ceil(W / 65535), 1], REPS));
      }
    }
    w.destroy(); params.destroy();
  }
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(out, null, 1));
process.exit(0);
