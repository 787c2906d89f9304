// tools/webgpu/check_gemv_direct.mjs — the direct integer GEMV (wgpack kernel-gen --unroll U: x read
// straight from the buffer, U chunks per row per step) against a float64 model of the weights'
// dequantized values, for every integer code width, group, symmetry and scale type, at shapes
// whose K leaves a remainder step and whose rows leave a partial workgroup.
// Usage: node tools/webgpu/check_gemv_direct.mjs [ROWSxK]   (WGPACK=path; runs under Deno too)
// Exit 1 if any kernel is off its model by more than 1e-5 relative (L2).
import { openDevice, upload, engine, dispatchOnce, halfBits, halfValue } from './gpu.mjs';
import { execFileSync } from 'node:child_process';
const WGPACK = globalThis.Deno ? (Deno.env.get('WGPACK') || './wgpack') : (process.env.WGPACK || './wgpack');
const gen = a => execFileSync(WGPACK, ['kernel-gen', ...a], { encoding: 'utf8' });
const [rows, K] = ((globalThis.Deno ? Deno.args[0] : process.argv[2]) || '37x1000').split('x').map(Number);
const { device, hasSubgroups } = await openDevice();
let seed = 4242;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
const S = GPUBufferUsage.STORAGE;
// bundles carry the profiles' shapes (checked by check_kernels.mjs); these are the others: steps of
// several chunks with a remainder, an odd row count per workgroup, 32 and 256 threads
const shapes = [['3', '--threads', '64', '--rows', '3'], ['2', '--threads', '32', '--rows', '2'], ['4', '--threads', '256', '--rows', '1']];
let fail = 0;
for (const fmt of ['q4g32s', 'q4g128a', 'q4cs', 'q8g32a', 'q6g32s', 'q5g32a', 'q3g32s', 'q2g32a', 'q4g32s.s32']) {
  const m = /^q(\d)(?:g(\d+)|c)([sa])(\.s32)?$/.exec(fmt), bits = +m[1], sym = m[3] === 's', f32s = !!m[4];
  const G = m[2] ? +m[2] : Math.ceil(K / 32) * 32, Kp = Math.ceil(K / G) * G, gpr = Kp / G, ng = rows * gpr;
  const codes = new Uint8Array(rows * Kp).map(() => Math.floor(rnd() * (1 << bits)));
  const data = new Uint32Array(rows * Kp * bits / 32);
  codes.forEach((c, i) => { const p = i * bits; data[p >> 5] |= c << (p & 31); if ((p & 31) + bits > 32) data[(p >> 5) + 1] |= c >>> (32 - (p & 31)); });
  const scv = new Float64Array(ng), sc = f32s ? new Float32Array(ng) : new Uint16Array(ng + (ng & 1));
  for (let g = 0; g < ng; g++) { const v = 0.001 + 0.02 * rnd(); if (f32s) { sc[g] = v; scv[g] = sc[g]; } else { sc[g] = halfBits(v); scv[g] = halfValue(sc[g]); } }
  const zr = new Uint8Array(Math.ceil(ng / 4) * 4).map(() => sym ? 0 : Math.floor(rnd() * (1 << bits)));
  const zero = g => sym ? 1 << (bits - 1) : zr[g];
  const x = new Float32Array(Kp).map((_, k) => k < K ? rnd() * 2 - 1 : 0);
  const model = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) { const g = r * gpr + Math.floor(k / G); model[r] += scv[g] * (codes[r * Kp + k] - zero(g)) * x[k]; }
  const planes = { 0: upload(device, data, S), 1: upload(device, sc, S), ...(sym ? {} : { 2: upload(device, zr, S) }) };
  const xb = upload(device, x, S), y = device.createBuffer({ size: rows * 4, usage: S | GPUBufferUsage.COPY_SRC });
  const params = upload(device, new Uint32Array([rows, K, Kp, 1, G, 0, 0, 0]), GPUBufferUsage.UNIFORM);
  for (const [u, ...shape] of shapes)
    for (const sg of hasSubgroups ? [false, true] : [false]) {
      const code = gen(['--kind', 'gemv', '--format', fmt, '--unroll', u, ...shape, ...(sg ? ['--subgroups'] : [])]);
      const R = +/(\d+) rows per workgroup/.exec(code)[1];
      const yk = await dispatchOnce(device, code, { ...planes, 3: xb, 4: y, 5: params }, [Math.ceil(rows / R), 1, 1], y, rows * 4);
      let n = 0, d = 0; for (let i = 0; i < rows; i++) { n += (yk[i] - model[i]) ** 2; d += model[i] ** 2; }
      const e = Math.sqrt(n / d), ok = e <= 1e-5;
      if (!ok) fail++;
      console.log(`${engine} ${fmt} ${rows}x${K} unroll ${u} ${shape.join(' ') || 'profile shape'}${sg ? ' +sg' : ''}: ${e.toExponential(2)} ${ok ? 'ok' : 'MISMATCH'}`);
    }
}
console.log(fail ? `${fail} kernels off their model` : 'all kernels agree with their model');
if (globalThis.Deno) Deno.exit(fail ? 1 : 0); else process.exit(fail ? 1 : 0);
