// tools/webgpu/tune.mjs — sweeps the kernel shapes on the adapter at hand and writes the
// winners as formats/wgsl_tuned.h (the profile table's shapes). GEMV: threads per workgroup x
// rows per workgroup (x tile or x read directly, --unroll), with subgroup reductions (chrome/edge
// row) and without (firefox row: no subgroups there), for the integer formats and, apart, for
// fp16/f32 weights (the profile's fp GEMV shape); GEMM: output tile x thread tile. A shape's score is the geometric mean,
// over formats x weight shapes, of its time over the best time for that case.
// Usage: node tools/webgpu/tune.mjs [--out formats/wgsl_tuned.h] [--json OUT] [--quick]
import fs from 'node:fs';
import * as B from './gpubench.mjs';

const args = process.argv.slice(2);
const outH = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'formats/wgsl_tuned.h';
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const quick = args.includes('--quick');
const { device, features, name } = await B.openBenchDevice();
const time = B.timer(device);
const REPS = Number(process.env.REPS || 200);
const shapes = quick ? [[512, 512]] : [[4096, 4096], [14336, 4096], [4096, 14336]];
const gemvFormats = quick ? ['q4g32s'] : ['q4g32s', 'q4g32a', 'q8g32s', 'q2g32s'];
const gemvFpFormats = quick ? ['fp16'] : ['fp16', 'f32'];
const gemmFormats = quick ? ['q4g32s'] : ['q4g32s', 'q8g32s', 'fp16'];
const hasSg = features.includes('subgroups');
const log = { adapter: name, features, date: new Date().toISOString(), gemv: [], gemm: [] };

const gemvCands = [];
for (const threads of [32, 64, 128, 256]) for (const rows of [1, 2, 4, 8, 16]) for (const unroll of [0, 1, 2]) for (const sg of hasSg ? [false, true] : [false])
  if ((threads <= 128 || unroll) && rows * unroll <= 32)
    gemvCands.push({ threads, rows, unroll, sg, args: ['--threads', threads, '--rows', rows, '--unroll', unroll, ...(sg ? ['--subgroups'] : [])].map(String) });
// the fp GEMV has no x tile: its shape is threads x rows
const gemvFpCands = gemvCands.filter(c => c.threads <= 128 && !c.unroll);
const gemmCands = [];
for (const [bm, bn] of [[32, 32], [64, 32], [32, 64], [64, 64], [96, 32], [32, 96]])
  for (const [tm, tn] of [[4, 4], [8, 4], [4, 8], [8, 8]]) {
    const threads = (bm / tm) * (bn / tn);
    if (bm % tm || bn % tn || threads < 16 || threads > 256) continue;
    gemmCands.push({ bm, bn, tm, tn, args: ['--bm', bm, '--bn', bn, '--tm', tm, '--tn', tn].map(String) });
  }

async function sweep(kind, cands, cases) {
  const times = cands.map(() => []);
  for (const c of cases) {
    const { rows, K, fmt, n } = c;
    const w = B.weightCopies(device, fmt, rows, K, kind === 'gemv' ? undefined : 64 * 1048576);
    const x = B.floatBuffer(device, kind === 'gemv' ? Math.ceil(K / 256) * 256 : n * K, 0.25);
    const y = B.floatBuffer(device, kind === 'gemv' ? rows : n * rows, 0, GPUBufferUsage.COPY_SRC);
    const params = B.uniform(device, [rows, K, w.ps.Kp, n || 1, w.ps.G, 0, 0, 0]);
    const per = [];
    for (const [i, cand] of cands.entries()) {
      const pipe = B.pipeline(device, B.kernelText(['--kind', kind, '--format', fmt, ...cand.args]));
      const dims = kind === 'gemv' ? [Math.ceil(rows / cand.rows), 1, 1] : [Math.ceil(rows / cand.bm), Math.ceil(n / cand.bn), 1];
      const ms = await time(pipe, B.bindGroups(device, pipe, w, x, y, params), dims, kind === 'gemv' ? REPS : Math.ceil(REPS / 10));
      times[i].push(ms); per.push(ms);
    }
    const best = Math.min(...per);
    log[kind].push({ case: `${fmt} ${rows}x${K}${n ? ' n=' + n : ''}`, best_us: best * 1000, bytes: w.total,
                     by_candidate: Object.fromEntries(cands.map((cd, i) => [cd.args.join(' '), +(per[i] * 1000).toFixed(2)])) });
    console.log(`${kind} ${fmt} ${rows}x${K}${n ? ' n=' + n : ''}: best ${(best * 1000).toFixed(1)} us (${cands[per.indexOf(best)].args.join(' ')})`);
    w.destroy(); x.destroy(); y.destroy(); params.destroy();
  }
  // geometric mean over cases of time / best time of the case
  const bestPer = cases.map((_, ci) => Math.min(...times.map(t => t[ci])));
  return cands.map((cand, i) => ({ ...cand, score: Math.exp(times[i].reduce((a, t, ci) => a + Math.log(t / bestPer[ci]), 0) / cases.length) }));
}

const gemvCases = shapes.flatMap(([rows, K]) => gemvFormats.map(fmt => ({ rows, K, fmt })));
const gemvFpCases = shapes.flatMap(([rows, K]) => gemvFpFormats.map(fmt => ({ rows, K, fmt })));
const gemmCases = shapes.filter(([, K]) => K === shapes[0][1]).flatMap(([rows, K]) => (quick ? [64] : [128, 512]).flatMap(n => gemmFormats.map(fmt => ({ rows, K, fmt, n }))));
const gv = await sweep('gemv', gemvCands, gemvCases);
const gf = await sweep('gemv', gemvFpCands, gemvFpCases);
const gm = await sweep('gemm', gemmCands, gemmCases);
const pick = list => list.reduce((a, b) => (b.score < a.score ? b : a));
const gvSg = hasSg ? pick(gv.filter(c => c.sg)) : pick(gv), gvPlain = pick(gv.filter(c => !c.sg)), gmBest = pick(gm);
const gfSg = hasSg ? pick(gf.filter(c => c.sg)) : pick(gf), gfPlain = pick(gf.filter(c => !c.sg));
log.winners = { gemv_subgroups: gvSg, gemv_plain: gvPlain, gemv_fp_subgroups: gfSg, gemv_fp_plain: gfPlain, gemm: gmBest };
const date = log.date.slice(0, 10);
const row = (g, m, f) => `{${g.threads}, ${g.rows}, ${m.bm}, ${m.bn}, ${m.tm}, ${m.tn}, ${g.unroll}, ${f.threads}, ${f.rows}}`;
const src = what => `"measured ${date} on ${name.replace(/"/g, '')} (Dawn), ${what}: tools/webgpu/tune.mjs"`;
const h = `/* formats/wgsl_tuned.h — kernel shapes per browser profile. WRITTEN BY tools/webgpu/tune.mjs
 * (${date}, adapter: ${name}, features: ${features.join(',')}); do not edit by hand.
 * Fields: gemv_threads, gemv_rows, gemm_bm, gemm_bn, gemm_tm, gemm_tn, gemv_unroll, gemv_fp_threads,
 * gemv_fp_rows. Score = geometric mean over ${gemvCases.length} integer GEMV, ${gemvFpCases.length} fp GEMV and ${gemmCases.length} GEMM cases of time / best time (1.00 = best everywhere).
 * chrome/edge: best GEMV with subgroup reductions (score ${gvSg.score.toFixed(3)}, fp ${gfSg.score.toFixed(3)}), GEMM score ${gmBest.score.toFixed(3)}.
 * firefox: best GEMV without subgroups (score ${gvPlain.score.toFixed(3)}, fp ${gfPlain.score.toFixed(3)}) on the same adapter through Dawn:
 * Firefox's own WebGPU (wgpu) cannot run on that GPU here; its compiler (naga) is tested in make check.
 * safari/mobile: no such hardware here; shapes stay conservative. */
#define WG_SHAPE_CHROME ${row(gvSg, gmBest, gfSg)}
#define WG_SHAPE_CHROME_SOURCE ${src('GEMV with subgroups')}
#define WG_SHAPE_FIREFOX ${row(gvPlain, gmBest, gfPlain)}
#define WG_SHAPE_FIREFOX_SOURCE ${src('GEMV without subgroups')}
#define WG_SHAPE_SAFARI {128, 2, 32, 32, 4, 4, 0, 0, 0}
#define WG_SHAPE_SAFARI_SOURCE "not measured: Apple GPUs are not available here; conservative"
#define WG_SHAPE_MOBILE {64, 2, 32, 32, 4, 4, 0, 0, 0}
#define WG_SHAPE_MOBILE_SOURCE "not measured: mobile GPUs are not available here; conservative"
`;
fs.writeFileSync(outH, h);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(log, null, 1));
console.log(`winners: gemv+sg ${gvSg.args.join(' ')} (${gvSg.score.toFixed(3)}), gemv ${gvPlain.args.join(' ')} (${gvPlain.score.toFixed(3)}), gemm ${gmBest.args.join(' ')} (${gmBest.score.toFixed(3)}) -> ${outH}`);
process.exit(0);
