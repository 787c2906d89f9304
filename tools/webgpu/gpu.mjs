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
