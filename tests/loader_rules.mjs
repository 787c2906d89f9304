// tests/loader_rules.mjs BUNDLE... — the manifest rules (tools/web/wgpack-manifest-rules.js)
// are one definition: each edit below must be refused by `wgpack verify-bundle` (exit 5, one
// line naming manifest.json and the field) and by the JS loader's validateManifest (one error
// naming the manifest URL and the same field); the untouched bundles pass both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { validateManifest } from '../tools/web/wgpack-loader.js';

const WGPACK = process.env.WGPACK || './wgpack';
const [dir, ...others] = process.argv.slice(2);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgr-'));
const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const K = m => m.kernels.files, opIdx = (m, op) => m.kernels.ops_by_profile.chrome[op].f32;
const edits = [
  ['ops_by_profile index 9999', m => { m.kernels.ops_by_profile.chrome.rmsnorm.f32 = 9999; }, 'kernels.ops_by_profile.chrome.rmsnorm.f32'],
  ['rmsnorm mapped to the add kernel', m => { m.kernels.ops_by_profile.chrome.rmsnorm.f32 = opIdx(m, 'add'); }, 'kernels.ops_by_profile.chrome.rmsnorm.f32'],
  ['ops_by_profile variant f16', m => { m.kernels.ops_by_profile.firefox.add = { f16: 1 }; }, 'kernels.ops_by_profile.firefox.add'],
  ['gemv rows_per_workgroup 0', m => { K(m).find(k => k.kind === 'gemv').dispatch.rows_per_workgroup = 0; }, '.dispatch.rows_per_workgroup'],
  ['gemm tile [0,0]', m => { K(m).find(k => k.kind === 'gemm').dispatch.tile = [0, 0]; }, '.dispatch.tile'],
  ['gemm tile missing', m => { delete K(m).find(k => k.kind === 'gemm').dispatch.tile; }, '.dispatch.tile'],
  ['workgroup_size [0,0,0]', m => { K(m)[0].workgroup_size = [0, 0, 0]; }, 'kernels.files[0].workgroup_size'],
  ['workgroup of 4096 invocations', m => { K(m)[0].workgroup_size = [64, 64, 1]; }, 'kernels.files[0].workgroup_size'],
  ['gemv scales binding dropped', m => { K(m).find(k => k.kind === 'gemv').bindings.splice(1, 1); }, '.bindings'],
  ['gemv output bound read-only', m => { K(m).find(k => k.kind === 'gemv').bindings.find(b => b.binding === 4).type = 'read-only-storage'; }, '.bindings['],
  ['op binding dropped', m => { K(m)[opIdx(m, 'attention')].bindings.splice(2, 1); }, `kernels.files[${opIdx(man, 'attention')}].bindings`],
  ['op uniform not last', m => { const b = K(m)[opIdx(m, 'add')].bindings; [b[0].type, b.at(-1).type] = [b.at(-1).type, b[0].type]; }, `kernels.files[${opIdx(man, 'add')}].bindings`],
  ['binding of an unknown type', m => { K(m)[0].bindings[0].type = 'texture'; }, 'kernels.files[0].bindings[0]'],
  ['kernel of an unknown kind', m => { K(m)[0].kind = 'conv'; }, 'kernels.files[0].kind'],
  ['f16 kernel listed as f32', m => { const g = m.kernels.by_profile.chrome[K(m)[0].format].gemv; g.f32 = g.f16; }, 'kernels.by_profile.chrome'],
  ['each shard 50 times in the plan', m => { for (const g of m.plans.progressive) g.shards = Array(50).fill(g.shards).flat(); }, 'plans.progressive[0] lists shard'],
  ['a shard in two plan groups', m => { m.plans.progressive[1].shards.push(m.plans.progressive[0].shards[0]); }, 'plans.progressive[1] lists shard'],
  ['a shard in no plan group', m => { m.plans.progressive.pop(); }, 'plans.progressive does not list shard'],
  ['unknown key in a shard', m => { m.shards[0].url = 'https://evil.example/x.bin'; }, 'shards[0]'],
  ['unknown key in a tensor', m => { m.tensors[1].transpose = true; }, 'unknown key "transpose"'],
  ['unknown key in a part plane', m => { m.tensors[2].parts[0].data.stride = 4; }, 'unknown key "stride"'],
  ['unknown key in a kernel', m => { K(m)[3].entry = 'main2'; }, 'kernels.files[3]'],
  ['unknown key in a dispatch', m => { K(m)[0].dispatch.grid = [1, 1]; }, 'kernels.files[0].dispatch'],
  ['unknown key in a plan group', m => { m.plans.progressive[0].url = 'x'; }, 'plans.progressive[0]'],
  ['unknown key in plans', m => { m.plans.prefetch = []; }, 'plans: unknown key'],
];
let failed = 0;
const url = 'http://bundle.test/b/manifest.json';
for (const [what, edit, field] of edits) {
  const m = structuredClone(man);
  edit(m);
  const d = path.join(tmp, 'b');
  fs.rmSync(d, { recursive: true, force: true });
  fs.cpSync(dir, d, { recursive: true });
  fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(m, null, 1));
  const c = spawnSync(WGPACK, ['verify-bundle', d], { encoding: 'utf8' });
  const lines = c.stderr.trim().split('\n');
  const cOk = c.status === 5 && lines.length === 1 && lines[0].includes(path.join(d, 'manifest.json') + ': ') && lines[0].includes(field);
  let jsErr = '';
  try { validateManifest(m, url); } catch (e) { jsErr = e.message; }
  const jsOk = jsErr.startsWith(`wgpack: ${url}: `) && jsErr.includes(field) && !jsErr.includes('\n');
  console.log(`${cOk && jsOk ? 'ok  ' : 'FAIL'} ${what}\n       C:  rc=${c.status} ${c.stderr.trim()}\n       JS: ${jsErr || 'accepted'}`);
  failed += cOk && jsOk ? 0 : 1;
}
// a gemv entry pointing at the dequantize kernel's file (its own hashes, so they match): the
// manifest's bindings are a gemv's, the file declares a dequantize's. verify-bundle reads the
// file and refuses it; the loader refuses it when it fetches the kernel (tests/loader_faults.mjs)
{
  const m = structuredClone(man), g = m.kernels.files.find(k => k.kind === 'gemv'), dq = m.kernels.files.find(k => k.kind === 'dequantize');
  Object.assign(g, { file: dq.file, xxh3: dq.xxh3, integrity: dq.integrity });
  const d = path.join(tmp, 'b');
  fs.rmSync(d, { recursive: true, force: true });
  fs.cpSync(dir, d, { recursive: true });
  fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(m, null, 1));
  const c = spawnSync(WGPACK, ['verify-bundle', d], { encoding: 'utf8' });
  const ok = c.status === 5 && c.stderr.includes(path.join(d, dq.file)) && c.stderr.includes('declares other bindings than the manifest lists');
  console.log(`${ok ? 'ok  ' : 'FAIL'} a gemv entry naming the dequantize kernel's file\n       C:  rc=${c.status} ${c.stderr.trim()}`);
  failed += ok ? 0 : 1;
}
for (const d of [dir, ...others]) {
  const c = spawnSync(WGPACK, ['verify-bundle', d], { encoding: 'utf8' });
  let jsErr = '';
  try { validateManifest(JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'))), url); } catch (e) { jsErr = e.message; }
  const ok = c.status === 0 && !jsErr;
  console.log(`${ok ? 'ok  ' : 'FAIL'} untouched ${path.basename(d)} passes both (${c.status} ${c.stderr.trim()} ${jsErr})`);
  failed += ok ? 0 : 1;
}
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
