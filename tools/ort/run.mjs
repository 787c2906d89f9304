// tools/ort/run.mjs — run an ONNX model with onnxruntime-node (CPU) on input sets written by
// `wgpack verify`, and write every output back, for wgpack to compare in C.
//   node run.mjs MODEL.onnx OUTDIR INDIR...
//   node run.mjs --variants LIST.json MODEL.onnx OUTDIR INDIR...
// With --variants, LIST is {"base": [{"name", "npy"}], "variants": [{"name", "npy"}]}: the
// model takes weights as graph inputs; every run feeds the base ones, variant j with `name`
// replaced by its own npy, and writes OUTDIR/v<j>/ as a plain run writes OUTDIR/ (one session
// for all variants).
// Each INDIR holds NAME.npy per model input; OUTDIR/<k>/<i>.npy receives output i of the
// k-th INDIR (float types as <f4, integers as <f8, bool as |u1) and OUTDIR/outputs.json
// {"outputs": [{"name", "type", "dims"}], "runtime": "onnxruntime-node x.y.z", "seconds": [...]}.
// WGPACK_ORT_BACKEND=web runs ONNX Runtime Web (onnxruntime-web, WebAssembly, one thread) in
// Node instead: the model's bytes and any external data file it names are handed over as
// buffers, as a page would.
// Exit 3: the runtime cannot be loaded; 4: the model fails to load or run (message on stderr).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

let args = process.argv.slice(2), variants = null, base = {};
if (args[0] === '--variants') {
  const doc = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  variants = doc.variants;
  args = args.slice(2);
  var baseList = doc.base;
}
const [model, outDir, ...inDirs] = args;
if (!model || !outDir || !inDirs.length) {
  console.error('wgpack-runner: usage: node run.mjs MODEL.onnx OUTDIR INDIR...');
  process.exit(1);
}
const web = process.env.WGPACK_ORT_BACKEND === 'web';
const pkg = web ? 'onnxruntime-web' : 'onnxruntime-node';
let ort;
try {
  const require = createRequire(import.meta.url);
  ort = require(pkg);
} catch (e) {
  console.error(`wgpack-runner: ${pkg} cannot be loaded (npm ci): ${String(e.message).split('\n')[0]}`);
  process.exit(3);
}
if (web) {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'fatal';
}

// onnxruntime-web takes bytes: the model, and every file beside it whose name the model holds
// (its external data).
function webSource(file) {
  const bytes = fs.readFileSync(file), dir = path.dirname(file), externalData = [];
  for (const f of fs.readdirSync(dir)) {
    const full = path.join(dir, f);
    if (full !== path.resolve(file) && fs.statSync(full).isFile() && bytes.includes(Buffer.from(f)))
      externalData.push({ path: f, data: fs.readFileSync(full) });
  }
  return { bytes, externalData };
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b[0] !== 0x93 || String.fromCharCode(...b.slice(1, 6)) !== 'NUMPY')
    throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b[8] | b[9] << 8 : b[8] | b[9] << 8 | b[10] << 16 | b[11] << 24;
  const hstart = major === 1 ? 10 : 12;
  const header = Buffer.from(b.slice(hstart, hstart + hlen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeTxt = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const dims = shapeTxt.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const data = b.slice(hstart + hlen); // copy: aligned
  const types = {
    '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
    '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array], '|u1': ['uint8', Uint8Array],
    '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array], '<f2': ['float16', Uint16Array],
  };
  const t = types[descr];
  if (!t) throw new Error(`${file}: unsupported dtype ${descr}`);
  const arr = new t[1](data.buffer, data.byteOffset, data.byteLength / t[1].BYTES_PER_ELEMENT);
  return new ort.Tensor(t[0], t[0] === 'bool' ? Uint8Array.from(arr) : arr, dims);
}

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function writeNpy(file, tensor) {
  let descr, body;
  const d = tensor.data;
  if (['float32', 'float64', 'float16'].includes(tensor.type)) {
    const f = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) f[i] = tensor.type === 'float16' ? f16ToF32(d[i]) : Number(d[i]);
    descr = '<f4'; body = new Uint8Array(f.buffer);
  } else if (tensor.type === 'bool') {
    descr = '|u1'; body = Uint8Array.from(d, v => (v ? 1 : 0));
  } else if (tensor.type === 'string') {
    throw new Error('string outputs are not supported');
  } else {
    const f = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) f[i] = Number(d[i]);
    descr = '<f8'; body = new Uint8Array(f.buffer);
  }
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  h += ' '.repeat(63 - ((h.length + 10) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(body.buffer, body.byteOffset, body.byteLength)]));
}

let session;
try {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 };
  if (web) {
    const src = webSource(model);
    session = await ort.InferenceSession.create(src.bytes, { ...opts, externalData: src.externalData });
  } else
    session = await ort.InferenceSession.create(model, opts);
} catch (e) {
  console.error(`wgpack-runner: ${pkg} cannot load the model: ${String(e.message).split('\n')[0]}`);
  process.exit(4);
}
const version = web ? ort.env.versions?.web : ort.env.versions?.node;

// One pass over the input sets with `extra` feeds on top; outputs under dir.
async function runAll(dir, extra) {
  const info = { runtime: `${pkg} ${version ?? ''}`.trim(), outputs: [], seconds: [] };
  for (let k = 0; k < inDirs.length; k++) {
    const feeds = { ...extra };
    for (const name of session.inputNames) {
      if (feeds[name]) continue;
      const f = path.join(inDirs[k], `${name}.npy`);
      if (!fs.existsSync(f)) { console.error(`wgpack-runner: ${inDirs[k]}: no input ${name}.npy`); process.exit(4); }
      feeds[name] = readNpy(f);
    }
    let res;
    const t0 = process.hrtime.bigint();
    try {
      res = await session.run(feeds);
    } catch (e) {
      console.error(`wgpack-runner: ${pkg} failed to run: ${String(e.message).split('\n')[0]}`);
      process.exit(4);
    }
    info.seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const d = path.join(dir, String(k));
    fs.mkdirSync(d, { recursive: true });
    for (const [i, name] of session.outputNames.entries()) {
      writeNpy(path.join(d, `${i}.npy`), res[name]);
      if (k === 0) info.outputs.push({ name, type: res[name].type, dims: res[name].dims });
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(info));
}

if (!variants)
  await runAll(outDir, {});
else {
  for (const b of baseList) base[b.name] = readNpy(b.npy);
  for (const [j, v] of variants.entries())
    await runAll(path.join(outDir, `v${j}`), { ...base, [v.name]: readNpy(v.npy) });
}
