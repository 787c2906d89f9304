// tools/webgpu/check_kernels.mjs — compile every WGSL kernel of a bundle in Dawn (real WebGPU,
// SwiftShader adapter) and execute the dequantize / GEMV / GEMM kernels of each format on a real
// tensor of the bundle, comparing with `wgpack kernel-ref` (the C reference).
// Usage: node tools/webgpu/check_kernels.mjs BUNDLE_DIR [--json OUT] [--no-exec]
// Exit 0 only if every kernel the adapter can compile compiles, and every executed kernel
// matches: dequantize bit-exact, GEMV/GEMM relative error (L2 norm) <= 1e-5.
import { openDevice, upload } from './gpu.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const dir = process.argv[2];
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
const exec = !process.argv.includes('--no-exec');
const WGPACK = process.env.WGPACK || './wgpack';
const TOL = 1e-5;
const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

let adapter, device, hasF16, hasSubgroups;
try { ({ adapter, device, hasF16, hasSubgroups } = await openDevice()); } catch (e) { console.error(e.message); process.exit(2); }
const info = adapter.info || {};
const report = { adapter: `${info.vendor || ''} ${info.architecture || ''} ${info.description || ''}`.trim(),
                 features: [...adapter.features].sort(), compile: [], exec: [] };
let failures = 0;

// Compile errors come from getCompilationInfo (Tint's messages). This Dawn build aborts the
// process when error scopes, uncaptured-error handlers or onSubmittedWorkDone are used, so
// pipeline-level validation is proven by executing the kernels instead.

// ---- compile everything
const pipelines = new Map();
for (const [i, k] of man.kernels.files.entries()) {
  const entry = { file: k.file, kind: k.kind, format: k.format, arith: k.arith };
  if ((k.requires_shader_f16 && !hasF16) || (k.requires_subgroups && !hasSubgroups)) {
    entry.status = 'not compiled here'; entry.reason = `adapter lacks ${k.requires_shader_f16 && !hasF16 ? 'shader-f16' : 'subgroups'}`;
    report.compile.push(entry); continue;
  }
  const code = fs.readFileSync(path.join(dir, k.file), 'utf8');
  const mod = device.createShaderModule({ code });
  const ci = await mod.getCompilationInfo();
  const errs = ci.messages.filter(m => m.type === 'error').map(m => `${m.lineNum}:${m.linePos} ${m.message}`);
  let pipe = null;
  if (!errs.length) {
    // the synchronous call: createComputePipelineAsync aborts the process in this Dawn build
    try { pipe = device.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } }); }
    catch (e) { errs.push(String(e.message || e)); }
  }
  entry.status = errs.length ? 'error' : 'compiled';
  if (errs.length) { entry.errors = errs.slice(0, 5); failures++; }
  else pipelines.set(i, pipe);
  report.compile.push(entry);
}

// ---- execute one real tensor per format and profile
const buf = (bytes, usage) => upload(device, bytes, usage);
async function run(pipe, kfile, planes, x, outBytes, params, groups) {
  const S = GPUBufferUsage.STORAGE;
  const out = device.createBuffer({ size: Math.max(4, outBytes), usage: S | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: Math.max(4, outBytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const res = { 0: planes.data, 1: planes.scales, 2: planes.zeros, 3: x, 4: out,
                5: buf(new Uint32Array(params), GPUBufferUsage.UNIFORM) };
  const entries = kfile.bindings.map(b => ({ binding: b.binding, resource: { buffer: res[b.binding] } }));
  const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass(); pass.setPipeline(pipe); pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(...groups); pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, Math.max(4, outBytes));
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const r = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  return r;
}
function relerr(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-300));
}
if (exec) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgk-'));
  const formats = Object.keys(man.kernels.by_profile[Object.keys(man.kernels.by_profile)[0]]);
  for (const fmt of formats) {
    // the tensor of this format with the most rows (odd K and split tensors are exercised by
    // building bundles that have them)
    const cands = man.tensors.filter(t => t.format === fmt && t.parts.length);
    if (!cands.length) continue;
    const t = cands.reduce((a, b) => (b.parts[0].rows * b.K > a.parts[0].rows * a.K ? b : a));
    const part = t.parts[0], rows = part.rows, K = t.K, N = 3;
    const shard = fs.readFileSync(path.join(dir, man.shards[part.shard].file));
    const slice = pl => part[pl] ? shard.subarray(part[pl].offset, part[pl].offset + part[pl].bytes) : new Uint8Array(4);
    const planes = { data: buf(slice('data'), GPUBufferUsage.STORAGE), scales: buf(slice('scales'), GPUBufferUsage.STORAGE),
                     zeros: buf(slice('zeros'), GPUBufferUsage.STORAGE) };
    let seed = 12345;
    const xs = new Float32Array(N * K).map(() => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed / 4294967296) * 2 - 1; });
    fs.writeFileSync(path.join(tmp, 'x.f32'), Buffer.from(xs.buffer));
    execFileSync(WGPACK, ['kernel-ref', dir, t.name, '--x', path.join(tmp, 'x.f32'), '--n', String(N), '-o', tmp]);
    const ref = n => { const b = fs.readFileSync(path.join(tmp, n));
                       return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
    const rdq = ref('dequant.f32'), rgv = ref('gemv.f32'), rgm = ref('gemm.f32');
    const Kp = t.padded_K || K, G = t.group_size || Kp;
    const xbuf = buf(xs, GPUBufferUsage.STORAGE);
    // GEMV reads x as Kp values, zero beyond K
    const xv = new Float32Array(Math.ceil(Kp / 32) * 32); xv.set(xs.subarray(0, K));
    const xvbuf = buf(xv, GPUBufferUsage.STORAGE);
    // gather: a few rows (first, last, middle, repeated) and one index past the table (zeros)
    const idx = new Uint32Array([rows - 1, 0, rows >> 1, rows - 1, rows]);
    const ibuf = buf(idx, GPUBufferUsage.STORAGE);
    const params = n => [rows, K, Kp, n, G, 0, 0, 0];
    const rowGroups = [Math.min(rows, 65535), Math.ceil(rows / 65535), 1];
    const done = new Set();
    for (const [prof, byFmt] of Object.entries(man.kernels.by_profile)) {
      const ids = byFmt[fmt];
      for (const [kind, variant] of ['dequantize', 'gather', 'gemv', 'gemm'].flatMap(k => Object.keys(ids[k]).map(v => [k, v]))) {
        const id = ids[kind][variant], kf = man.kernels.files[id];
        const key = `${id}`;
        const e = { format: fmt, profile: prof, kind, variant, tensor: t.name, rows, K, file: kf.file };
        if ((kf.requires_shader_f16 && !hasF16) || (kf.requires_subgroups && !hasSubgroups)) { e.status = 'not run here'; e.shared = true; report.exec.push(e); continue; }
        if (done.has(key)) { e.status = 'same file as above'; e.shared = true; report.exec.push(e); continue; }
        done.add(key);
        const pipe = pipelines.get(id);
        if (!pipe) { e.status = 'not compiled'; failures++; report.exec.push(e); continue; }
        if (kind === 'dequantize') {
          const y = await run(pipe, kf, planes, xbuf, rows * K * 4, params(1), rowGroups);
          const a = new Uint32Array(y.buffer), b = new Uint32Array(rdq.buffer);
          let bad = 0; for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) bad++;
          e.mismatches = bad; e.status = bad ? 'MISMATCH' : 'bit-exact';
        } else if (kind === 'gather') {
          const y = await run(pipe, kf, { ...planes }, ibuf, idx.length * K * 4, params(idx.length), [idx.length, 1, 1]);
          const a = new Uint32Array(y.buffer), b = new Uint32Array(rdq.buffer);
          let bad = 0;
          idx.forEach((r, i) => { for (let k = 0; k < K; k++) if (a[i * K + k] !== (r < rows ? b[r * K + k] : 0)) bad++; });
          e.mismatches = bad; e.status = bad ? 'MISMATCH' : 'bit-exact';
        } else if (kind === 'gemv') {
          const W = Math.ceil(rows / kf.dispatch.rows_per_workgroup);
          const y = await run(pipe, kf, planes, xvbuf, rows * 4, params(1), [Math.min(W, 65535), Math.ceil(W / 65535), 1]);
          e.rel_err = relerr(y, rgv); e.status = e.rel_err <= TOL ? 'ok' : 'MISMATCH';
        } else {
          const tile = kf.dispatch.tile;
          const y = await run(pipe, kf, planes, xbuf, N * rows * 4, params(N), [Math.ceil(rows / tile[0]), Math.ceil(N / tile[1]), 1]);
          e.rel_err = relerr(y, rgm); e.status = e.rel_err <= TOL ? 'ok' : 'MISMATCH';
        }
        if (e.status === 'MISMATCH') failures++;
        report.exec.push(e);
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
report.failures = failures;
const c = report.compile;
console.log(`adapter: ${report.adapter}; shader-f16: ${hasF16 ? 'yes' : 'no'}`);
console.log(`compiled ${c.filter(e => e.status === 'compiled').length}, not compiled here ${c.filter(e => e.status === 'not compiled here').length} (no shader-f16), errors ${c.filter(e => e.status === 'error').length}`);
for (const e of c.filter(e => e.status === 'error')) console.log('ERROR', e.file, e.errors.join(' | '));
for (const e of report.exec.filter(e => !e.shared))
  console.log(`${e.status.padEnd(10)} ${e.kind.padEnd(10)} ${e.variant.padEnd(6)} ${e.format.padEnd(10)} ${e.profile.padEnd(8)} ${e.rows}x${e.K}` +
              (e.rel_err !== undefined ? ` rel err ${e.rel_err.toExponential(2)}` : '') + (e.mismatches ? ` ${e.mismatches} mismatches` : ''));
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(report, null, 1));
console.log(`${failures ? 'FAILED' : 'OK'}: ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
