// tools/webgpu/sweep_gemv.mjs — GEMV kernels of two wgpack builds side by side on the adapter at
// hand: the baseline's kernel of one profile (WGPACK_OLD, e.g. the main branch's binary) and the
// candidate shapes (threads x rows, with and without subgroups) of WGPACK, per format and weight
// shape, GPU timestamps, against the read ceiling of the same run. Prints the best candidate per
// case and the geometric-mean score of every candidate (time / best time of the case).
// A candidate T:R:U is the direct integer kernel (x read from the buffer, U chunks per step;
// U = 0 or absent: the x-tile kernel); d8:T:R:U the int8-activation kernel (4- and 8-bit codes,
// its xq8 pre-pass timed once per case as "xq8").
// Usage: WGPACK_OLD=old/wgpack node tools/webgpu/sweep_gemv.mjs [--json OUT] [--formats a,b]
//        [--shapes RxK,...] [--cands T:R[:U],d8:T:R:U,...] [--no-plain]          (REPS=N)
import fs from 'node:fs';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import * as B from './gpubench.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const jsonOut = opt('--json', null);
const formats = opt('--formats', 'q4g32s,q4g32a,q4g128s,q8g32s,q6g32s,q5g32s,q3g32s,q2g32s,fp16,f32').split(',');
const shapes = opt('--shapes', '4096x4096,14336x4096,4096x14336').split(',').map(s => s.split('x').map(Number));
const cands = opt('--cands', '32:2,32:4,64:1,64:2,64:4,64:8,128:1,128:2,128:4').split(',').map(c => c.split(':'));
const REPS = Number(process.env.REPS || 200);
const { device, features, name } = await B.openBenchDevice();
const time = B.timer(device);
const hasSg = features.includes('subgroups');
// clocks up first: half a second of the read probe, then the ceiling
const ceil0 = await B.readCeiling(device, time); for (let i = 0; i < 6; i++) await B.readCeiling(device, time);
const ceiling = Math.max(ceil0, await B.readCeiling(device, time));
console.log(`adapter: ${name}; features: ${features.join(',')}; read ceiling ${ceiling.toFixed(0)} GB/s; ${new Date().toISOString()}`);
// KMAP=file.json.gz: kernel texts generated beforehand ({"bin args": text}), for a device with no wgpack
const kmap = process.env.KMAP ? JSON.parse(zlib.gunzipSync(fs.readFileSync(process.env.KMAP))) : null;
const gen = (bin, a) => {
  if (kmap) { const t = kmap[[bin, ...a].join(' ')]; if (t === undefined) throw new Error('not generated'); return t; }
  return execFileSync(bin, ['kernel-gen', ...a], { encoding: 'utf8' });
};
const variants = [];
if (process.env.WGPACK_OLD) variants.push({ label: 'old chrome+sg', bin: process.env.WGPACK_OLD, args: ['--profile', 'chrome', ...(hasSg ? ['--subgroups'] : [])] });
for (const c of cands) {
  const d8 = c[0] === 'd8', [t, r, u = '0'] = d8 ? c.slice(1) : c;
  for (const sg of hasSg ? (args.includes('--no-plain') ? [true] : [true, false]) : [false])
    variants.push({ label: `${d8 ? 'd8 ' : ''}${t}x${r}${+u ? 'u' + u : ''}${sg ? '+sg' : ''}`, d8, bin: process.env.WGPACK || './wgpack',
                    args: ['--threads', t, '--rows', r, '--unroll', u, ...(d8 ? ['--dot8'] : []), ...(sg ? ['--subgroups'] : [])].map(String) });
}
const floor = await B.sizedCeiling(device, time, 16, REPS);
console.log(`a dispatch that reads nothing, among ${REPS} in one pass: ${floor.us.toFixed(2)} us`);
const res = { adapter: name, features, date: new Date().toISOString(), ceiling_gbs: ceiling, dispatch_floor_us: floor.us, cases: [] };
for (const [rows, K] of shapes) {
  const x = B.floatBuffer(device, Math.ceil(K / 256) * 256, 0.5);
  const y = B.floatBuffer(device, rows, 0, GPUBufferUsage.COPY_SRC);
  for (const fmt of formats) {
    const w = B.weightCopies(device, fmt, rows, K);
    const params = B.uniform(device, [rows, K, w.ps.Kp, 1, w.ps.G, 0, 0, 0]);
    // the read ceiling of one dispatch of this many bytes (its share of the fixed cost included)
    const sized = await B.sizedCeiling(device, time, w.total, REPS);
    const c = { shape: `${rows}x${K}`, format: fmt, bytes: w.total, read_us: +sized.us.toFixed(2), us: {} };
    // the int8 path's inputs: x quantized by its pre-pass (timed once per case)
    const dot8 = /^q[48]/.test(fmt) && variants.some(v => v.d8);
    let xq = null, xd = null;
    if (dot8) {
      const nch = w.ps.Kp / 32;
      xq = device.createBuffer({ size: w.ps.Kp, usage: GPUBufferUsage.STORAGE }); xd = device.createBuffer({ size: nch * 8, usage: GPUBufferUsage.STORAGE });
      const pre = B.pipeline(device, gen(process.env.WGPACK || './wgpack', ['--kind', 'xq8', '--format', fmt]));
      const pbg = device.createBindGroup({ layout: pre.getBindGroupLayout(0), entries: [[3, x], [4, xq], [5, params], [6, xd]].map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
      c.xq8_us = +(1000 * await time(pre, [pbg], [Math.ceil(nch / 64), 1, 1], REPS)).toFixed(2);
    }
    for (const v of variants) {
      if (v.d8 && !dot8) continue;
      let code;
      try { code = gen(v.bin, ['--kind', 'gemv', '--format', fmt, ...v.args]); } catch { continue; }
      const R = +/(\d+) rows per workgroup/.exec(code)[1], WG = Math.ceil(rows / R);
      const pipe = B.pipeline(device, code);
      const groups = v.d8 ? w.copies.map(cp => device.createBindGroup({ layout: pipe.getBindGroupLayout(0),
        entries: [[0, cp.data], [1, cp.scales], [2, cp.zeros], [3, xq], [4, y], [5, params], [6, xd]].filter(([, b]) => b).map(([binding, buffer]) => ({ binding, resource: { buffer } })) }))
        : B.bindGroups(device, pipe, w, x, y, params);
      const ms = await time(pipe, groups, [Math.min(WG, 65535), Math.ceil(WG / 65535), 1], REPS);
      c.us[v.label] = +(ms * 1000).toFixed(2);
    }
    if (xq) { xq.destroy(); xd.destroy(); }
    const best = Object.entries(c.us).filter(([l]) => !l.startsWith('old') && !l.startsWith('d8')).sort((a, b) => a[1] - b[1])[0];
    const b8 = Object.entries(c.us).filter(([l]) => l.startsWith('d8')).sort((a, b) => a[1] - b[1])[0];
    const old = c.us['old chrome+sg'];
    const pct = us => (100 * w.total / (us * 1e-6) / 1e9 / ceiling).toFixed(0);
    console.log(`${c.shape} ${fmt.padEnd(8)} read alone ${c.read_us} us; old ${old ?? '-'} us (${old ? pct(old) : '-'} %)  best ${best[0]} ${best[1]} us (${pct(best[1])} %)  ` +
                (b8 ? `best int8 ${b8[0]} ${b8[1]} us (${pct(b8[1])} %) + xq8 ${c.xq8_us} us  ` : '') +
                Object.entries(c.us).map(([l, t]) => `${l}=${t}`).join(' '));
    res.cases.push(c);
    if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(res, null, 1));   // so far, should the run be cut off
    w.destroy(); params.destroy();
  }
  x.destroy(); y.destroy();
}
// score of each candidate: geometric mean of time / best time, over all cases and per format family
const labels = variants.map(v => v.label).filter(l => !l.startsWith('old') && !l.startsWith('d8'));
const score = (cs, l) => Math.exp(cs.reduce((a, c) => a + Math.log(c.us[l] / Math.min(...labels.map(m => c.us[m]).filter(Boolean))), 0) / cs.length);
for (const [fam, pred] of [['all', () => true], ['integer', c => c.format.startsWith('q')], ['fp', c => !c.format.startsWith('q')]]) {
  const cs = res.cases.filter(pred);
  if (!cs.length) continue;
  const sc = labels.map(l => [l, score(cs, l)]).sort((a, b) => a[1] - b[1]);
  console.log(`score ${fam}: ` + sc.map(([l, s]) => `${l} ${s.toFixed(3)}`).join(', '));
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(res, null, 1));
process.exit(0);
