// tools/webgpu/gpubench.mjs — what the GPU benchmark and the tuner share: a device with the
// adapter's own limits and features, GPU-timestamp timing of many dispatches in one pass, the
// read ceiling of the same run, and weight planes of any format and shape (random codes: speed
// does not depend on their values). Kernels come from `wgpack kernel-gen`.
import { execFileSync } from 'node:child_process';
import { webgpu } from './gpu.mjs';
const gpu = await webgpu();   // one Dawn instance per process (the model runtime's, in run_model --bench)

export async function openBenchDevice() {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter');
  const features = ['timestamp-query', 'subgroups', 'shader-f16'].filter(f => adapter.features.has(f));
  if (!features.includes('timestamp-query')) throw new Error('the adapter has no timestamp-query: GPU times cannot be measured');
  const L = adapter.limits;
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: {
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize, maxBufferSize: L.maxBufferSize,
    maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup } });
  const info = adapter.info || {};
  return { adapter, device, features, name: `${info.vendor} ${info.device || info.architecture} ${info.description || ''}`.trim() };
}

export function kernelText(args) {
  return execFileSync(process.env.WGPACK || './wgpack', ['kernel-gen', ...args], { encoding: 'utf8' });
}

// One timing context per device: N dispatches (cycling over bind groups) in one compute pass,
// GPU time from the pass's begin/end timestamps, per dispatch. Warm-up pass first.
export function timer(device) {
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
  const qb = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const qr = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pass = async (pipe, groups, dims, n) => {
    const enc = device.createCommandEncoder();
    const p = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    p.setPipeline(pipe);
    for (let i = 0; i < n; i++) { p.setBindGroup(0, groups[i % groups.length]); p.dispatchWorkgroups(...dims); }
    p.end(); enc.resolveQuerySet(qs, 0, 2, qb, 0); enc.copyBufferToBuffer(qb, 0, qr, 0, 16);
    device.queue.submit([enc.finish()]);
    await qr.mapAsync(GPUMapMode.READ);
    const t = new BigInt64Array(qr.getMappedRange().slice(0)); qr.unmap();
    return Number(t[1] - t[0]) / 1e6 / n; // ms per dispatch
  };
  // a full-length warm-up pass (the GPU's clocks ramp up under load), then the median of three
  return async (pipe, groups, dims, n = 200) => {
    await pass(pipe, groups, dims, n);
    const t = [await pass(pipe, groups, dims, n), await pass(pipe, groups, dims, n), await pass(pipe, groups, dims, n)];
    return t.sort((a, b) => a - b)[1];
  };
}

export function pipeline(device, code) {
  const module = device.createShaderModule({ code });
  return device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
}

// A grid-stride sum of `words` vec4<u32> (binding 0) into a write that never happens unless
// `alwaysWrite` (binding 1): the read probes' kernel.
function sumPipeline(device, words, alwaysWrite) {
  return pipeline(device, `@group(0) @binding(0) var<storage, read> a: array<vec4<u32>>;
  @group(0) @binding(1) var<storage, read_write> o: array<u32>;
  @compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    var s = vec4<u32>(0u); let stride = nw.x * 256u;
    for (var i = g.x; i < ${words}u; i += stride) { s += a[i]; }
    if (s.x == 12345u${alwaysWrite ? ' || g.x == 0u' : ''}) { o[g.x & 65535u] = s.y; } }`);
}

// The ceiling a WGSL kernel reaches here: a grid-stride sum of vec4<u32> over 256 MiB.
export async function readCeiling(device, time) {
  const MB = 256, words = MB * 1048576 / 16;
  const src = device.createBuffer({ size: MB * 1048576, usage: GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: 4 * 65536, usage: GPUBufferUsage.STORAGE });
  const pipe = sumPipeline(device, words, false);
  const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
  let best = 0;
  for (const g of [1056, 4224, 16896]) best = Math.max(best, MB * 1.048576 / await time(pipe, [bg], [g, 1, 1], 50));
  src.destroy(); dst.destroy();
  return best; // GB/s
}

// What a kernel of `bytes` can reach as one dispatch among many in one pass (each writes a small
// output, so Dawn orders the dispatches with a barrier, as a model's matmuls are ordered): the same
// vec4<u32> sum over consecutive windows of a 256 MiB buffer (so every dispatch streams from memory),
// best of three grid sizes. Returns { gbs, us }. bytes = 16: the cost of a dispatch that reads nothing.
export async function sizedCeiling(device, time, bytes, reps = 200) {
  const MB = 256, win = Math.ceil(bytes / 256) * 256, words = win / 16;
  const src = device.createBuffer({ size: MB * 1048576, usage: GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: 4 * 65536, usage: GPUBufferUsage.STORAGE });
  const pipe = sumPipeline(device, words, true);
  const n = Math.max(1, Math.floor(MB * 1048576 / win));
  const groups = [];
  for (let i = 0; i < Math.min(n, 64); i++)
    groups.push(device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [
      { binding: 0, resource: { buffer: src, offset: (i % n) * win, size: win } }, { binding: 1, resource: { buffer: dst } }] }));
  let best = Infinity;
  for (const g of [132, 528, 2112, 8448]) {
    const gg = Math.max(1, Math.min(g, Math.ceil(words / 256)));
    best = Math.min(best, await time(pipe, groups, [gg, 1, 1], reps));
  }
  src.destroy(); dst.destroy();
  return { gbs: bytes / (best * 1e-3) / 1e9, us: best * 1000 };
}

// Byte sizes of the planes of a rows x K weight in a format name (q4g32s, q8cs, fp16, ...).
export function planeSizes(format, rows, K) {
  if (format === 'f32') return { data: rows * K * 4, scales: 0, zeros: 0, Kp: K, G: K };
  if (format === 'fp16' || format === 'bf16') return { data: rows * K * 2, scales: 0, zeros: 0, Kp: K, G: K };
  const m = /^q(\d)(?:g(\d+)|c)([sa])(\.s32)?$/.exec(format);
  if (!m) throw new Error(`unknown format ${format}`);
  const bits = +m[1], G = m[2] ? +m[2] : Math.ceil(K / 32) * 32, Kp = Math.ceil(K / G) * G, ng = rows * Kp / G;
  return { data: rows * Kp * bits / 8, scales: ng * (m[4] ? 4 : 2), zeros: m[3] === 'a' ? ng : 0, Kp, G };
}

let seed = 0x9e3779b9;
function fillRandom(u32) { for (let i = 0; i < u32.length; i++) { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; u32[i] = seed >>> 0; } }

// A buffer of `bytes` (rounded to 16) holding plausible contents for plane `kind`.
export function planeBuffer(device, kind, bytes, format) {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const host = new Uint32Array(size / 4);
  if (kind === 'scales') host.fill(format.endsWith('.s32') ? 0x3c23d70a : 0x211f211f);   // 0.01
  else if (kind === 'zeros') host.fill(0x08080808);
  else if (format === 'f32') host.fill(0x3c23d70a);
  else if (format === 'fp16') host.fill(0x211f211f);
  else if (format === 'bf16') host.fill(0x3c243c24);
  else fillRandom(host);
  device.queue.writeBuffer(buf, 0, host);
  return buf;
}

export function floatBuffer(device, n, value = 0.5, usage = 0) {
  const size = Math.max(16, Math.ceil(n * 4 / 16) * 16);
  const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | usage });
  device.queue.writeBuffer(buf, 0, new Float32Array(size / 4).fill(value));
  return buf;
}

export function uniform(device, words) {
  const b = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, new Uint32Array(words));
  return b;
}

// Enough copies of one weight that the copies together exceed the L2 cache many times over
// (a GEMV must stream from memory as it does in a model, not re-read a cached matrix).
export function weightCopies(device, format, rows, K, minBytes = Number(process.env.BENCH_MIN_BYTES || 256 * 1048576)) {
  const ps = planeSizes(format, rows, K), total = ps.data + ps.scales + ps.zeros;
  const n = Math.max(1, Math.min(64, Math.ceil(minBytes / total)));
  const copies = [];
  for (let i = 0; i < n; i++)
    copies.push({ data: planeBuffer(device, 'data', ps.data, format), scales: ps.scales ? planeBuffer(device, 'scales', ps.scales, format) : null,
                  zeros: ps.zeros ? planeBuffer(device, 'zeros', ps.zeros, format) : null });
  return { ps, total, copies, destroy: () => copies.forEach(c => [c.data, c.scales, c.zeros].forEach(b => b && b.destroy())) };
}

export function bindGroups(device, pipe, w, x, y, params) {
  const layout = pipe.getBindGroupLayout(0);
  return w.copies.map(c => {
    const res = [[0, c.data], [1, c.scales], [2, c.zeros], [3, x], [4, y], [5, params]].filter(([, b]) => b);
    // the generated kernel declares only the bindings its format uses
    const used = res.filter(([i]) => i === 0 || i >= 3 || (i === 1 && w.ps.scales) || (i === 2 && w.ps.zeros));
    return device.createBindGroup({ layout, entries: used.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
  });
}
