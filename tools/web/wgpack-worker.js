// wgpack-worker.js — the runtime in a Web Worker, the same API on the page: one call,
//
//   import { createWorker } from './wgpack-worker.js';
//   const m = await createWorker('/bundle/manifest.json');   // as loadTextModel / loadImageModel
//   await m.chat([{ role: 'user', content: 'Hi' }], { onToken: t => out.textContent += t });
//
// The worker (this same file, started as a module worker) loads the bundle and runs every GPU
// pass (wgpack-runtime.js: forward, prefill, step, generate); the page keeps the tokenizer, the
// chat template, the sampling loop and the image preprocessing (wgpack-text.js,
// wgpack-vision.js) over a proxy of the runtime, so the page's thread never waits on the GPU and
// the worker needs no import map. Outputs come back as transferred Float32Arrays (no copy).
// Errors reject the page's promise with the worker's message. m.terminate() ends the worker.

const inWorker = typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;

// ---------------------------------------------------------------- the worker's side
// the runtime's plain facts the page's front ends read
function describe(m) {
  const { manifest, task, modelType, program, profile, maxSeq, chunk, outputName, outputWidth, head, image, precision } = m;
  return { manifest, task, modelType, program, profile, maxSeq, chunk, outputName, outputWidth, head, image, precision };
}
if (inWorker) {
  let model = null;
  const METHODS = new Set(['forward', 'prefill', 'step', 'generate', 'reset', 'timeDecode']);
  globalThis.onmessage = async ({ data: { id, method, args } }) => {
    try {
      let r;
      if (method === 'load') {
        const { loadModel } = await import('./wgpack-runtime.js');
        model = await loadModel(args[0], { ...args[1], onLayer: e => globalThis.postMessage({ event: 'layer', detail: e }) });
        model.ready.then(() => globalThis.postMessage({ event: 'ready', stats: { ...model.stats } }), () => {});
        r = describe(model);
      } else if (!model || !METHODS.has(method)) {
        throw new Error(`wgpack worker: no ${method}()`);
      } else {
        r = await model[method](...args);
      }
      const transfer = r instanceof Float32Array ? [r.buffer] : [];
      globalThis.postMessage({ id, result: r, stats: model ? { ...model.stats } : null }, transfer);
    } catch (e) {
      globalThis.postMessage({ id, error: e?.message || String(e) });
    }
  };
}

// ---------------------------------------------------------------- the page's side
// A proxy of wgpack-runtime.js's model whose passes run in the worker (opts as loadModel's, but
// no functions: onLayer is called on the page from the worker's events).
export async function createWorkerRuntime(manifestUrl, opts = {}) {
  const url = new URL(manifestUrl, globalThis.location?.href).href;
  const worker = opts.worker || new Worker(new URL(import.meta.url), { type: 'module' });
  const pending = new Map();
  let next = 0, readyResolve, readyReject;
  const stats = {};
  const ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
  ready.catch(() => {});
  worker.onmessage = ({ data }) => {
    if (data.event === 'layer') { opts.onLayer?.(data.detail); return; }
    if (data.event === 'ready') { Object.assign(stats, data.stats); readyResolve(); return; }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.stats) Object.assign(stats, data.stats);
    if (data.error !== undefined) p.reject(new Error(data.error)); else p.resolve(data.result);
  };
  worker.onerror = e => {
    const err = new Error(`wgpack worker: ${e.message || 'failed to start'}`);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    readyReject(err);
  };
  const call = (method, ...args) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, method, args });
  });
  const { onLayer, worker: _w, ...cloneable } = opts;
  const facts = await call('load', url, cloneable);
  return {
    ...facts, stats, ready, worker,
    forward: (input, o) => call('forward', input instanceof Float32Array ? input : Array.from(input), o),
    prefill: ids => call('prefill', Array.from(ids)),
    step: id => call('step', id),
    generate: (ids, n, o) => call('generate', Array.from(ids), n, o),
    reset: () => call('reset'),
    timeDecode: (steps, pos0) => call('timeDecode', steps, pos0),
    terminate: () => worker.terminate(),
  };
}

// The front end the bundle needs, over a worker's runtime: an image encoder's (wgpack-vision.js)
// or the text one (wgpack-text.js, which needs the page's import map of its two libraries)
export async function createWorker(manifestUrl, opts = {}) {
  const runtime = await createWorkerRuntime(manifestUrl, opts);
  try {
    const front = runtime.image ? (await import('./wgpack-vision.js')).loadImageModel
                                : (await import('./wgpack-text.js')).loadTextModel;
    const m = await front(manifestUrl, { ...opts, runtime });
    m.terminate = runtime.terminate;
    return m;
  } catch (e) {
    runtime.terminate();
    throw e;
  }
}
