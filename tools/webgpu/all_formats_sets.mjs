// tools/webgpu/all_formats_sets.mjs — prints --set arguments that give every integer format
// (2..8 bits x groups 32/64/128/256/per-channel x sym/asym) and f32/bf16 to distinct tensors
// of the given models, so one bundle per model exercises every kernel on real weights.
// Usage: node all_formats_sets.mjs INSPECT_JSON... > one line of args per model
import fs from 'node:fs';
const formats = [];
for (const b of [2, 3, 4, 5, 6, 8]) for (const g of ['g32', 'g64', 'g128', 'g256', 'c']) for (const s of ['s', 'a']) formats.push(`q${b}${g}${s}`);
formats.push('bf16', 'f32', 'q4g32s.s32', 'q3g128a.s32');
let next = 0;
for (const f of process.argv.slice(2)) {
  const j = JSON.parse(fs.readFileSync(f, 'utf8'));
  const qs = j.tensors.filter(t => t.shape.length >= 2 && t.shape.reduce((a, b) => a * b, 1) >= 4096 && t.dtype.startsWith('f'));
  const args = [];
  for (const t of qs) { if (next >= formats.length) break; args.push(`--set=${t.name}=${formats[next++]}`); }
  console.log(args.join(' '));
}
if (next < formats.length) { console.error(`only ${next} of ${formats.length} formats placed`); process.exit(1); }
