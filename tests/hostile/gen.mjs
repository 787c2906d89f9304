// tests/hostile/gen.mjs — hostile inputs that cannot live in git (too big, or made from the
// real models at test time), for tests/e2e_hostile.sh and tools/mutate.py.
//   node tests/hostile/gen.mjs st OUT.safetensors HEADER_JSON NBYTES   header + NBYTES zero bytes
//   node tests/hostile/gen.mjs deep-type OUT.onnx DEPTH    a graph input whose TypeProto nests DEPTH deep
//   node tests/hostile/gen.mjs identities OUT.onnx N       N Identity nodes on one initializer
//   node tests/hostile/gen.mjs layered OUT.safetensors N   N one-byte tensors model.layers.<i>.w
//   node tests/hostile/gen.mjs index DIR N                 a sharded index of N one-byte tensors
// ONNX is encoded with protobufjs from Debian's onnx.proto (the schema wgpack compiles).
import fs from 'fs';
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const [cmd, out, a, b] = process.argv.slice(2);

function st(path, header, data) {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const l = Buffer.alloc(8);
  l.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(path, Buffer.concat([l, h, data]));
}

function onnx(model) {
  const protobuf = require('protobufjs');
  const root = protobuf.loadSync(process.env.ONNX_PROTO || '/usr/include/onnx/onnx.proto');
  const M = root.lookupType('onnx.ModelProto');
  fs.writeFileSync(out, M.encode(M.fromObject(model)).finish());
}

const base = (graph) => ({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'g', ...graph } });
const init = (name, n) => ({ name, dims: [n], dataType: 1, rawData: Buffer.alloc(4 * n) });

if (cmd === 'st') st(out, a, Buffer.alloc(+b));
else if (cmd === 'deep-type') {
  // wire format by hand (protobufjs itself refuses deep nesting): TypeProto.sequence_type (4)
  // -> Sequence.elem_type (1) -> TypeProto ..., innermost tensor_type (1) {elem_type (1): 1}
  const varint = (n) => { const o = []; do { o.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7; } while (n); return Buffer.from(o); };
  const field = (num, bytes) => Buffer.concat([varint(num << 3 | 2), varint(bytes.length), bytes]);
  let t = field(1, Buffer.from([0x08, 0x01]));
  for (let i = 0; i < +a; i++) t = field(4, field(1, t));
  const vi = Buffer.concat([field(1, Buffer.from('x')), field(2, t)]);
  const graph = Buffer.concat([field(2, Buffer.from('g')), field(11, vi)]);
  fs.writeFileSync(out, Buffer.concat([Buffer.from([0x08, 0x08]), field(7, graph)]));
} else if (cmd === 'identities') {
  const node = [];
  for (let i = 0; i < +a; i++) node.push({ opType: 'Identity', input: ['w'], output: ['y' + i] });
  onnx(base({ initializer: [init('w', 4)], node }));
} else if (cmd === 'layered') {
  const h = {};
  for (let i = 0; i < +a; i++) h[`model.layers.${i}.w`] = { dtype: 'U8', shape: [1], data_offsets: [i, i + 1] };
  st(out, h, Buffer.alloc(+a));
} else if (cmd === 'index') {
  const h = {}, wm = {};
  for (let i = 0; i < +a; i++) { h['t' + i] = { dtype: 'U8', shape: [1], data_offsets: [i, i + 1] }; wm['t' + i] = 'a.safetensors'; }
  fs.mkdirSync(out, { recursive: true });
  st(`${out}/a.safetensors`, h, Buffer.alloc(+a));
  fs.writeFileSync(`${out}/model.safetensors.index.json`, JSON.stringify({ weight_map: wm }));
} else {
  console.error('usage: gen.mjs st|deep-type|identities|layered|index OUT ...');
  process.exit(1);
}
