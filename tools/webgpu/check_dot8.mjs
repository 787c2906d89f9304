// tools/webgpu/check_dot8.mjs — the int8-activation GEMV (wgpack kernel-gen --dot8, with its
// xq8 pre-pass) against (1) a float64 JS model of the same arithmetic (x quantized per block of
// 32 exactly as the pre-pass does): the kernels' own correctness, and (2) the exact f32 GEMV
// kernel of the same weights: the approximation's error. Random codes/scales/zeros, x uniform
// in [-1, 1). Usage: node tools/webgpu/check_dot8.mjs [ROWSxK]   (WGPACK=path)
// Exit 1 if (1) exceeds 1e-5 relative (L2).
import { openDevice, upload, engine, dispatchOnce, halfBits, halfValue } from './gpu.mjs';
import { execFileSync } from 'node:child_process';
const WGPACK = process.env.WGPACK || './wgpack';
const gen = a => execFileSync(WGPACK, ['kernel-gen', ...a], { encoding: 'utf8' });
const [rows, K] = (process.argv[2] || '67x544').split('x').map(Number);
const { device } = await openDevice();
let seed = 777;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
const S = GPUBufferUsage.STORAGE;
let fail = 0;
for (const fmt of ['q4g32s', 'q4g32a', 'q4g128s', 'q4g128a', 'q8g32s', 'q8g32a']) {
  const m = /^q(\d)g(\d+)([sa])$/.exec(fmt), bits = +m[1], G = +m[2], sym = m[3] === 's';
  const Kp = Math.ceil(K / G) * G, nch = Kp / 32, gpr = Kp / G, ng = rows * gpr;
  const codes = new Uint8Array(rows * Kp).map(() => Math.floor(rnd() * (1 << bits)));
  const data = new Uint32Array(rows * Kp * bits / 32);
  codes.forEach((c, i) => { data[(i * bits) >> 5] |= c << ((i * bits) & 31); });
  const sc = new Uint16Array(ng + (ng & 1)).map(() => halfBits(0.001 + 0.02 * rnd()));
  const zr = new Uint8Array(Math.ceil(ng / 4) * 4).map(() => sym ? 0 : Math.floor(rnd() * (1 << bits)));
  const zero = g => sym ? 1 << (bits - 1) : zr[g];
  const x = new Float32Array(Kp).map((_, k) => k < K ? rnd() * 2 - 1 : 0);
  // the exact f32 kernel
  const ex = gen(['--kind', 'gemv', '--format', fmt]);
  const R = +/(\d+) rows per workgroup/.exec(ex)[1];
  const planes = { 0: upload(device, data, S), 1: upload(device, sc, S), ...(sym ? {} : { 2: upload(device, zr, S) }) };
  const xb = upload(device, x, S), y = device.createBuffer({ size: rows * 4, usage: S | GPUBufferUsage.COPY_SRC });
  const params = upload(device, new Uint32Array([rows, K, Kp, 1, G, 0, 0, 0]), GPUBufferUsage.UNIFORM);
  const W = Math.ceil(rows / R);
  const yex = await dispatchOnce(device, ex, { ...planes, 3: xb, 4: y, 5: params }, [W, 1, 1], y, rows * 4);
  // pre-pass + int8 GEMV
  const xq = device.createBuffer({ size: Kp, usage: S }), xd = device.createBuffer({ size: nch * 8, usage: S });
  await dispatchOnce(device, gen(['--kind', 'xq8', '--format', fmt]), { 3: xb, 4: xq, 5: params, 6: xd }, [Math.ceil(nch / 64), 1, 1]);
  // float64 model: q = clamp(round(x * 127 / amax)), d = amax / 127 (f32 as the kernel)
  const xqv = new Float64Array(Kp), dv = new Float64Array(nch);
  for (let c = 0; c < nch; c++) {
    let amax = 0; for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[c * 32 + i]));
    const id = amax > 0 ? Math.fround(127 / amax) : 0; dv[c] = Math.fround(amax / 127);
    for (let i = 0; i < 32; i++) { const t = Math.fround(x[c * 32 + i] * id); let r = Math.round(t); if (t - Math.floor(t) === 0.5 && Math.floor(t) % 2 === 0) r = Math.floor(t); xqv[c * 32 + i] = Math.max(-127, Math.min(127, r)); }
  }
  const rel = (a, b) => { let n = 0, d = 0; for (let i = 0; i < rows; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; } return Math.sqrt(n / d); };
  const model = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let k = 0; k < Kp; k++) { const g = r * gpr + Math.floor(k / G); model[r] += halfValue(sc[g]) * (codes[r * Kp + k] - zero(g)) * xqv[k] * dv[Math.floor(k / 32)]; }
  // the profile's shape (one chunk per step) and an unrolled one (3 chunks per step, a remainder step)
  for (const shape of [[], ['--unroll', '3', '--threads', '64', '--rows', '2']]) {
    const d8 = gen(['--kind', 'gemv', '--format', fmt, '--dot8', ...shape]);
    const R8 = +/(\d+) rows per workgroup/.exec(d8)[1];
    const y8 = await dispatchOnce(device, d8, { ...planes, 3: xq, 4: y, 5: params, 6: xd }, [Math.ceil(rows / R8), 1, 1], y, rows * 4);
    const e1 = rel(y8, model), e2 = rel(y8, yex);
    if (!(e1 <= 1e-5)) fail++;
    console.log(`${engine} ${fmt} ${rows}x${K} ${shape.join(' ') || 'profile shape'}: int8 path vs its float64 model ${e1.toExponential(2)} ${e1 <= 1e-5 ? 'ok' : 'MISMATCH'}; vs the exact f32 kernel (approximation) ${e2.toExponential(2)}`);
  }
}
process.exit(fail ? 1 : 0);
