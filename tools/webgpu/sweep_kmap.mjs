// tools/webgpu/sweep_kmap.mjs CANDS OUT.json.gz [FORMATS] — the kernel texts sweep_gemv.mjs reads with KMAP=, generated here
// (WGPACK_OLD_LOCAL: the baseline binary, WGPACK_LOCAL: the candidate), keyed as the device sees them
// (.gpu/bin/wgpack = baseline, .h3/wgpack = candidate): the device has room for no wgpack beside the kit.
import { execFileSync } from 'node:child_process'; import fs from 'node:fs'; import zlib from 'node:zlib';
const formats=(process.argv[4]||'q4g32s,q4g32a,q4g128s,q8g32s,q6g32s,q5g32s,q3g32s,q2g32s,fp16,f32').split(',');
const cands=process.argv[2].split(',').map(c=>c.split(':'));
const m={};
for (const f of formats) {
  const oa=['--kind','gemv','--format',f,'--profile','chrome','--subgroups'];
  m[['.gpu/bin/wgpack',...oa].join(' ')]=execFileSync('process.env.WGPACK_OLD_LOCAL',['kernel-gen',...oa],{encoding:'utf8'});
  for (const [t,r] of cands) { const a=['--kind','gemv','--format',f,'--threads',t,'--rows',r,'--subgroups'];
    m[['.h3/wgpack',...a].join(' ')]=execFileSync('process.env.WGPACK_LOCAL || "./wgpack"',['kernel-gen',...a],{encoding:'utf8'}); }
}
fs.writeFileSync(process.argv[3], zlib.gzipSync(JSON.stringify(m),{level:9}));
