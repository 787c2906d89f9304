// tools/webgpu/bench_kernels.mjs — GEMV speed on the same adapter, as ratios in one run:
// the tensor of each given bundle (one weight per bundle: q4, fp16, f32 builds of the same
// 4096 x 4096 matrix), every distinct f32 GEMV variant (the profiles' shapes).
// Usage: node bench_kernels.mjs BUNDLE... ; prints a markdown table. SwiftShader = CPU: compare
// kernels with each other only.
import { openDevice, upload } from './gpu.mjs';
import fs from 'node:fs';
import path from 'node:path';
const { device } = await openDevice();
const REPS = Number(process.env.REPS || 5);
const rows = [];
const buf = (bytes, usage) => upload(device, bytes, usage);
for (const dir of process.argv.slice(2)) {
  const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const t = man.tensors.find(t => t.rows === 4096 && t.K === 4096);
  if (!t || t.parts.length !== 1) { console.error(`${dir}: needs one 4096x4096 tensor in one part (use --shard-size 64MiB)`); process.exit(1); }
  const part = t.parts[0], shard = fs.readFileSync(path.join(dir, man.shards[part.shard].file));
  const sl = pl => part[pl] ? shard.subarray(part[pl].offset, part[pl].offset + part[pl].bytes) : new Uint8Array(4);
  const S = GPUBufferUsage.STORAGE;
  const res = { 0: buf(sl('data'), S), 1: buf(sl('scales'), S), 2: buf(sl('zeros'), S),
                3: buf(new Float32Array(Math.ceil((t.padded_K || 4096) / 4) * 4).fill(0.5), S),
                4: device.createBuffer({ size: 4096 * 4, usage: S | GPUBufferUsage.COPY_SRC }),
                5: buf(new Uint32Array([4096, 4096, t.padded_K || 4096, 1, t.group_size || 4096, 0, 0, 0]), GPUBufferUsage.UNIFORM) };
  const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const seen = new Set();
  for (const [prof, byFmt] of Object.entries(man.kernels.by_profile)) {
    const id = byFmt[t.format].gemv.f32, kf = man.kernels.files[id];
    if (seen.has(id)) continue; seen.add(id);
    const mod = device.createShaderModule({ code: fs.readFileSync(path.join(dir, kf.file), 'utf8') });
    const pipe = device.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } });
    const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0),
      entries: kf.bindings.map(b => ({ binding: b.binding, resource: { buffer: res[b.binding] } })) });
    const go = async n => {
      const enc = device.createCommandEncoder();
      for (let i = 0; i < n; i++) { const p = enc.beginComputePass(); p.setPipeline(pipe); p.setBindGroup(0, bg); p.dispatchWorkgroups(Math.ceil(4096 / (kf.dispatch.rows_per_workgroup || 1))); p.end(); }
      enc.copyBufferToBuffer(res[4], 0, read, 0, 16);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ); read.unmap();
    };
    await go(1);
    const t0 = performance.now(); await go(REPS); const ms = (performance.now() - t0) / REPS;
    rows.push({ format: t.format, profiles: Object.entries(man.kernels.by_profile).filter(([, f]) => f[t.format].gemv.f32 === id).map(([p]) => p).join('/'),
                workgroup: kf.workgroup_size[0], ms, weight_bytes: part.data.bytes + (part.scales ? part.scales.bytes : 0) });
  }
}
const base = rows.find(r => r.format === 'f32' && r.profiles.includes('chrome')) || rows[0];
console.log('| weights | profiles | workgroup | ms per 4096x4096 GEMV | x f32 chrome | weight bytes |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.format} | ${r.profiles} | ${r.workgroup} | ${r.ms.toFixed(1)} | ${(r.ms / base.ms).toFixed(2)} | ${(r.weight_bytes / 1048576).toFixed(1)} MiB |`);
console.log(`adapter: SwiftShader (CPU) — ${REPS} timed dispatches each after one warm-up; ratios within this run only`);
process.exit(0);
