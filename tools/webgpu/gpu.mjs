// tools/webgpu/gpu.mjs — what the Node WebGPU tools share: a Dawn device on the SwiftShader
// adapter, and uploads padded to whole u32 words.
// Under Deno (Firefox's stack: wgpu + naga) navigator.gpu is built in; under Node, Dawn comes
// from npm `webgpu`.
export const engine = globalThis.Deno ? 'deno (wgpu + naga)' : 'node (Dawn + Tint)';

// The GPU object: Deno's navigator.gpu, or in Node Dawn's, with the WebGPU globals
// (GPUBufferUsage, ...) installed and, with asNavigator, also as navigator.gpu (what page code
// such as tools/web/ expects)
export async function webgpu({ asNavigator = false } = {}) {
  if (globalThis.Deno) return navigator.gpu;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  // keep the instance referenced for the whole run: if it is garbage-collected while the
  // device lives, Dawn's threads crash the process
  globalThis.wgpuInstance ??= create([]);
  if (asNavigator) {
    if (!globalThis.navigator) globalThis.navigator = {};
    Object.defineProperty(globalThis.navigator, 'gpu', { value: globalThis.wgpuInstance, configurable: true });
  }
  return globalThis.wgpuInstance;
}

export async function openDevice() {
  const adapter = await (await webgpu()).requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (is libvulkan1 installed and VK_ICD_FILENAMES set?)');
  const hasF16 = adapter.features.has('shader-f16');
  const hasSubgroups = adapter.features.has('subgroups');
  // default limits: what a page gets without asking (the bundle's planes fit them)
  const requiredFeatures = [hasF16 && 'shader-f16', hasSubgroups && 'subgroups'].filter(Boolean);
  const device = await adapter.requestDevice({ requiredFeatures });
  return { adapter, device, hasF16, hasSubgroups };
}

// sizes rounded up to 16 bytes: kernels read planes and inputs as vec4<u32> / vec4<f32>
export function upload(device, bytes, usage) {
  const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
  const b = device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  device.queue.writeBuffer(b, 0, padded);
  return b;
}

// One dispatch of a kernel (its WGSL text) with bindings {binding: buffer}; with outBuf, the first
// `bytes` of it read back as a Float32Array (else null). What the kernel checkers run.
export async function dispatchOnce(device, code, res, groups, outBuf = null, bytes = 0) {
  const module = device.createShaderModule({ code });
  const p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
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

// f16 bits of v (v in the normal f16 range; the mantissa truncated), and the value of f16 bits h
// (normal numbers): the checkers' random scales
export const halfBits = v => { const f = new Float32Array([v]), u = new Uint32Array(f.buffer)[0];
  return ((u >> 16) & 0x8000) | ((((u >> 23) & 0xff) - 112) << 10) | ((u >> 13) & 0x3ff); };
export const halfValue = h => { const e = (h >> 10) & 31, m = h & 1023; return (h & 0x8000 ? -1 : 1) * 2 ** (e - 15) * (1 + m / 1024); };
