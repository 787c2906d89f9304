// tools/webgpu/check_dot8.mjs — the int8-activation GEMV (wgpack kernel-gen --dot8, with its
// xq8 pre-pass) against (1) a float64 JS model of the same arithmetic (x quantized per block of
// 32 exactly as the pre-pass does): the kernels' own correctness, and (2) the exact f32 GEMV
// kernel of the same weights: the approximation's error. Random codes/scales/zeros, x uniform
// in [-1, 1). Usage: node tools/webgpu/check_dot8.mjs [ROWSxK]   (WGPACK=path)
// Exit 1 if (1) exceeds 1e-5 relative (L2).
import { openDevice, upload, engine } from './gpu.mjs';
import { execFileSync } from 'node:child_process';
const WGPACK = process.env.WGPACK || './wgpack';
const gen = a => execFileSync(WGPACK, ['kernel-gen', ...a], { encoding: 'utf8' });
const [rows, K] = (process.argv[2] || '67x544').split('x').map(Number);
const { device } = await openDevice();
let seed = 777;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
const S = GPUBufferUsage.STORAGE;
function pipe(code) {
  const module = device.createShaderModule({ code });
  return device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
}
async function dispatch(p, res, groups, outBuf, bytes) {
  const entries = Object.entries(res).map(([b, buffer]) => ({ binding: +b, resource: { buffer } }));
  const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries });
  const enc = device.createCommandEncoder(), pass = enc.beginComputePass();
  pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(...groups); pass.end();
  let rb = null;
  if (outBuf) { rb = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }); enc.copyBufferToBuffer(outBuf, 0, rb, 0, bytes); }
  device.queue.submit([enc.finish()]);
  if (!rb) return null;
  await rb.mapAsync(GPUMapMode.READ); const r = new Float32Array(rb.getMappedRange().slice(0)); rb.unmap(); return r;
}
const f16 = v => { const f = new Float32Array([v]), u = new Uint32Array(f.buffer)[0]; // v in the normal f16 range
  return ((u >> 16) & 0x8000) | ((((u >> 23) & 0xff) - 112) << 10) | ((u >> 13) & 0x3ff); };
const h2f = h => { const e = (h >> 10) & 31, m = h & 1023; return (h & 0x8000 ? -1 : 1) * 2 ** (e - 15) * (1 + m / 1024); };
let fail = 0;
for (const fmt of ['q4g32s', 'q4g32a', 'q4g128s', 'q4g128a', 'q8g32s', 'q8g32a']) {
  const m = /^q(\d)g(\d+)([sa])$/.exec(fmt), bits = +m[1], G = +m[2], sym = m[3] === 's';
  const Kp = Math.ceil(K / G) * G, nch = Kp / 32, gpr = Kp / G, ng = rows * gpr;
  const codes = new Uint8Array(rows * Kp).map(() => Math.floor(rnd() * (1 << bits)));
  const data = new Uint32Array(rows * Kp * bits / 32);
  codes.forEach((c, i) => { data[(i * bits) >> 5] |= c << ((i * bits) & 31); });
  const sc = new Uint16Array(ng + (ng & 1)).map(() => f16(0.001 + 0.02 * rnd()));
  const zr = new Uint8Array(Math.ceil(ng / 4) * 4).map(() => sym ? 0 : Math.floor(rnd() * (1 << bits)));
  const zero = g => sym ? 1 << (bits - 1) : zr[g];
  const x = new Float32Array(Kp).map((_, k) => k < K ? rnd() * 2 - 1 : 0);
  // the exact f32 kernel
  const ex = pipe(gen(['--kind', 'gemv', '--format', fmt]));
  const R = +/(\d+) rows per workgroup/.exec(gen(['--kind', 'gemv', '--format', fmt]))[1];
  const planes = { 0: upload(device, data, S), 1: upload(device, sc, S), ...(sym ? {} : { 2: upload(device, zr, S) }) };
  const xb = upload(device, x, S), y = device.createBuffer({ size: rows * 4, usage: S | GPUBufferUsage.COPY_SRC });
  const params = upload(device, new Uint32Array([rows, K, Kp, 1, G, 0, 0, 0]), GPUBufferUsage.UNIFORM);
  const W = Math.ceil(rows / R);
  const yex = await dispatch(ex, { ...planes, 3: xb, 4: y, 5: params }, [W, 1, 1], y, rows * 4);
  // pre-pass + int8 GEMV
  const xq = device.createBuffer({ size: Kp, usage: S }), xd = device.createBuffer({ size: nch * 8, usage: S });
  await dispatch(pipe(gen(['--kind', 'xq8', '--format', fmt])), { 3: xb, 4: xq, 5: params, 6: xd }, [Math.ceil(nch / 64), 1, 1]);
  // the profile's shape (one chunk per step) and an unrolled one (3 chunks per step, a remainder step)
  for (const shape of [[], ['--unroll', '3', '--threads', '64', '--rows', '2']]) {
  const d8 = gen(['--kind', 'gemv', '--format', fmt, '--dot8', ...shape]);
  const R8 = +/(\d+) rows per workgroup/.exec(d8)[1];
  const y8 = await dispatch(pipe(d8), { ...planes, 3: xq, 4: y, 5: params, 6: xd }, [Math.ceil(rows / R8), 1, 1], y, rows * 4);
  // float64 model: q = clamp(round(x * 127 / amax)), d = amax / 127 (f32 as the kernel)
  const xqv = new Float64Array(Kp), dv = new Float64Array(nch);
  for (let c = 0; c < nch; c++) {
    let amax = 0; for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[c * 32 + i]));
    const id = amax > 0 ? Math.fround(127 / amax) : 0; dv[c] = Math.fround(amax / 127);
    for (let i = 0; i < 32; i++) { const t = Math.fround(x[c * 32 + i] * id); let r = Math.round(t); if (t - Math.floor(t) === 0.5 && Math.floor(t) % 2 === 0) r = Math.floor(t); xqv[c * 32 + i] = Math.max(-127, Math.min(127, r)); }
  }
  const rel = (a, b) => { let n = 0, d = 0; for (let i = 0; i < rows; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; } return Math.sqrt(n / d); };
  const model = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let k = 0; k < Kp; k++) { const g = r * gpr + Math.floor(k / G); model[r] += h2f(sc[g]) * (codes[r * Kp + k] - zero(g)) * xqv[k] * dv[Math.floor(k / 32)]; }
  const e1 = rel(y8, model), e2 = rel(y8, yex);
  if (!(e1 <= 1e-5)) fail++;
  console.log(`${engine} ${fmt} ${rows}x${K} ${shape.join(' ') || 'profile shape'}: int8 path vs its float64 model ${e1.toExponential(2)} ${e1 <= 1e-5 ? 'ok' : 'MISMATCH'}; vs the exact f32 kernel (approximation) ${e2.toExponential(2)}`);
  }
}
process.exit(fail ? 1 : 0);
