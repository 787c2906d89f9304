/* formats/wgsl_ops.c — the model's non-matrix operations as WGSL (see wgsl_ops.h). One table
 * row per op; the text of each is a constant, so bundles are deterministic by construction. */
#include "wgsl_ops.h"

#include <stdio.h>
#include <string.h>

#define PARAMS "struct P { a: array<vec4<u32>, 4> }\n"
/* the i-th u32 of the parameter block */
#define PF "fn pu(i: u32) -> u32 { return p.a[i / 4u][i % 4u]; }\n" \
           "fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }\n"
/* flat index of an elementwise invocation (256 per workgroup, 2-D grid past 65535) */
#define FLAT "fn flat(wg: vec3<u32>, li: u32) -> u32 { return (wg.y * 65535u + wg.x) * 256u + li; }\n"
/* a 256-wide tree reduction over workgroup memory (sum or max), same order on every run */
#define RED256(NAME, OP)                                                                   \
    "fn " NAME "(li: u32, v: f32) -> f32 {\n"                                              \
    "  workgroupBarrier();\n"                                                             \
    "  red[li] = v;\n"                                                                    \
    "  workgroupBarrier();\n"                                                             \
    "  for (var o = 128u; o > 0u; o = o >> 1u) {\n"                                        \
    "    if (li < o) { red[li] = " OP "; }\n"                                              \
    "    workgroupBarrier();\n"                                                           \
    "  }\n"                                                                               \
    "  return red[0];\n"                                                                  \
    "}\n"

/* the entry point of a norm (one workgroup per row of H values) */
#define ROW_MAIN                                                                           \
    "@compute @workgroup_size(256)\n"                                                      \
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {\n" \
    "  let H = pu(1u);\n"                                                                  \
    "  let base = wg.x * H;\n"
/* the entry point of an elementwise op over count = P[0] values: i is this invocation's */
#define EW_MAIN                                                                            \
    "@compute @workgroup_size(256)\n"                                                      \
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {\n" \
    "  let i = flat(wg, li);\n"                                                           \
    "  if (i >= pu(0u)) { return; }\n"

/* x += r first when has_residual (the residual add of the previous block, fused): each
 * invocation updates and then reads only its own elements of the row */
static const char rmsnorm_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> r: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read> w: array<f32>;\n"
    "@group(0) @binding(3) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(4) var<uniform> p: P;\n"
    "var<workgroup> red: array<f32, 256>;\n"
    PF RED256("rsum", "red[li] + red[li + o]")
    ROW_MAIN
    "  var s = 0.0;\n"
    "  for (var k = li; k < H; k = k + 256u) {\n"
    "    var v = x[base + k];\n"
    "    if (pu(3u) != 0u) { v = v + r[base + k]; x[base + k] = v; }\n"
    "    s = s + v * v;\n"
    "  }\n"
    "  let inv = 1.0 / sqrt(rsum(li, s) / f32(H) + pf(2u));\n"
    "  let off = pf(4u); let hw = pu(5u) != 0u;\n"
    "  for (var k = li; k < H; k = k + 256u) {\n"
    "    let z = x[base + k] * inv;\n"
    "    y[base + k] = select(z, (w[k] + off) * z, hw);\n"
    "  }\n"
    "}\n";

static const char layernorm_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> x: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> w: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read> b: array<f32>;\n"
    "@group(0) @binding(3) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(4) var<uniform> p: P;\n"
    "var<workgroup> red: array<f32, 256>;\n"
    PF RED256("rsum", "red[li] + red[li + o]")
    ROW_MAIN
    "  var s = 0.0;\n"
    "  for (var k = li; k < H; k = k + 256u) { s = s + x[base + k]; }\n"
    "  let mean = rsum(li, s) / f32(H);\n"
    "  var q = 0.0;\n"
    "  for (var k = li; k < H; k = k + 256u) { let d = x[base + k] - mean; q = q + d * d; }\n"
    "  let inv = 1.0 / sqrt(rsum(li, q) / f32(H) + pf(2u));\n"
    "  let hw = pu(3u) != 0u; let hb = pu(4u) != 0u;\n"
    "  for (var k = li; k < H; k = k + 256u) {\n"
    "    let z = (x[base + k] - mean) * inv;\n"
    "    y[base + k] = select(z, z * w[k], hw) + select(0.0, b[k], hb);\n"
    "  }\n"
    "}\n";

/* erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7); tanh's argument clamped so that no
 * implementation's exp() overflows */
#define ACT_FN \
    "fn erf_(x: f32) -> f32 {\n" \
    "  let a = abs(x);\n" \
    "  let t = 1.0 / (1.0 + 0.3275911 * a);\n" \
    "  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));\n" \
    "  return sign(x) * (1.0 - poly * exp(-a * a));\n" \
    "}\n" \
    "fn act(v: f32, k: u32) -> f32 {\n" \
    "  switch k {\n" \
    "    case 1u: { return 0.5 * v * (1.0 + erf_(v * 0.70710678118654752)); }\n" \
    "    case 2u: { return 0.5 * v * (1.0 + tanh(clamp(0.79788456080286536 * (v + 0.044715 * v * v * v), -15.0, 15.0))); }\n" \
    "    case 3u: { return max(v, 0.0); }\n" \
    "    case 4u: { return v / (1.0 + exp(-v)); }\n" \
    "    case 5u: { return v / (1.0 + exp(clamp(-1.702 * v, -80.0, 80.0))); }\n" \
    "    case 6u: { return tanh(clamp(v, -15.0, 15.0)); }\n" \
    "    case 7u: { return 1.0 / (1.0 + exp(clamp(-v, -80.0, 80.0))); }\n" \
    "    default: { return v; }\n" \
    "  }\n" \
    "}\n"

/* y = act((y + b) * pre) * post: biases, activations, scales and soft-caps in one op */
static const char bias_act_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> b: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT ACT_FN
    EW_MAIN
    "  var v = y[i];\n"
    "  if (pu(3u) != 0u) { v = v + b[i % pu(1u)]; }\n"
    "  let pre = pf(4u); let post = pf(5u);\n"
    "  if (pre != 1.0) { v = v * pre; }\n"
    "  v = act(v, pu(2u));\n"
    "  if (post != 1.0) { v = v * post; }\n"
    "  y[i] = v;\n"
    "}\n";

/* gate = act(gate) * up (SwiGLU, GeGLU) */
static const char glu_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> g: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> u: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT ACT_FN
    EW_MAIN
    "  g[i] = act(g[i], pu(1u)) * u[i];\n"
    "}\n";

/* y[t][j] = x[t][col0 + (j / group) * gstride + j % group]: the parts of a fused projection */
static const char slice_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> x: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT
    EW_MAIN
    "  let ow = pu(3u); let gr = pu(4u); let j = i % ow;\n"
    "  y[i] = x[(i / ow) * pu(1u) + pu(2u) + (j / gr) * pu(5u) + j % gr];\n"
    "}\n";

static const char add_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> a: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> b: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT
    EW_MAIN
    "  a[i] = a[i] + b[i];\n"
    "}\n";

/* y[t][j] = pixel of patch t - first (0 for t < first): j = (channel, row, column) in the patch,
 * as a conv weight [out][channel][row][column] orders them */
static const char patches_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> px: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT
    EW_MAIN
    "  let C = pu(1u); let Hh = pu(2u); let Ww = pu(3u); let ps = pu(4u); let first = pu(5u);\n"
    "  let K = C * ps * ps; let t = i / K; let j = i % K;\n"
    "  if (t < first) { y[i] = 0.0; return; }\n"
    "  let pi = t - first; let across = Ww / ps;\n"
    "  let c = j / (ps * ps); let r = (j / ps) % ps; let q = j % ps;\n"
    "  y[i] = px[(c * Hh + (pi / across) * ps + r) * Ww + (pi % across) * ps + q];\n"
    "}\n";

/* y[row][k] = v[k] */
static const char set_row_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> v: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT
    EW_MAIN
    "  y[pu(1u) * pu(0u) + i] = v[i];\n"
    "}\n";

/* q, k and v of n tokens in one pass: invocation (t, slot, i < hd/2) handles pair i of q head
 * `slot` (slot < heads, into q_rotated row t), of k head slot - heads (into the key cache at
 * row pos0 + t) or of v head slot - heads - kv_heads (copied into the value cache). Pairs
 * i < rot/2 are rotated by the table row of their position: (i, i + rot/2) ("rotate half") or
 * (2i, 2i + 1) (interleaved); the others are the head's values past rot, copied. */
static const char rope_kv_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> q: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> k: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read> v: array<f32>;\n"
    "@group(0) @binding(3) var<storage, read> tab: array<vec2<f32>>;\n"
    "@group(0) @binding(4) var<storage, read_write> qr: array<f32>;\n"
    "@group(0) @binding(5) var<storage, read_write> kc: array<f32>;\n"
    "@group(0) @binding(6) var<storage, read_write> vc: array<f32>;\n"
    "@group(0) @binding(7) var<uniform> p: P;\n"
    PF FLAT
    "fn pair(src: ptr<function, vec2<f32>>, cs: vec2<f32>) -> vec2<f32> {\n"
    "  let a = (*src).x; let b = (*src).y;\n"
    "  return vec2<f32>(a * cs.x - b * cs.y, b * cs.x + a * cs.y);\n"
    "}\n"
    "@compute @workgroup_size(256)\n"
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {\n"
    "  let heads = pu(2u); let kvh = pu(3u); let hd = pu(4u); let pos0 = pu(5u); let rot = pu(6u);\n"
    "  let inter = pu(7u) != 0u;\n"
    "  let hh = hd / 2u; let rh = rot / 2u; let slots = heads + 2u * kvh;\n"
    "  let j = flat(wg, li);\n"
    "  if (j >= pu(0u)) { return; }\n"
    "  let i = j % hh;\n"
    "  let slot = (j / hh) % slots;\n"
    "  let t = j / (hh * slots);\n"
    "  var a = rot + 2u * (i - rh); var b = a + 1u;\n"
    "  if (i < rh) { a = select(i, 2u * i, inter); b = select(i + rh, 2u * i + 1u, inter); }\n"
    "  var cs = vec2<f32>(1.0, 0.0);\n"
    "  if (i < rh) { cs = tab[(pos0 + t) * rh + i]; }\n"
    "  if (slot < heads) {\n"
    "    let o = (t * heads + slot) * hd;\n"
    "    var x = vec2<f32>(q[o + a], q[o + b]);\n"
    "    let r = pair(&x, cs);\n"
    "    qr[o + a] = r.x; qr[o + b] = r.y;\n"
    "  } else if (slot < heads + kvh) {\n"
    "    let h = slot - heads;\n"
    "    let src = (t * kvh + h) * hd; let dst = ((pos0 + t) * kvh + h) * hd;\n"
    "    var x = vec2<f32>(k[src + a], k[src + b]);\n"
    "    let r = pair(&x, cs);\n"
    "    kc[dst + a] = r.x; kc[dst + b] = r.y;\n"
    "  } else {\n"
    "    let h = slot - heads - kvh;\n"
    "    let src = (t * kvh + h) * hd; let dst = ((pos0 + t) * kvh + h) * hd;\n"
    "    vc[dst + a] = v[src + a];\n"
    "    vc[dst + b] = v[src + b];\n"
    "  }\n"
    "}\n";

/* the two attention kernels' workgroup memory, their max/sum reduction (one 256-wide tree, the
 * same order on every run) and the head of their entry point: one workgroup per (head h, query t) */
#define ATT_PROLOGUE                                                                       \
    "var<workgroup> red: array<f32, 256>;\n"                                               \
    "var<workgroup> acc: array<vec4<f32>, 256>;\n"                                         \
    PF                                                                                     \
    "fn wred(li: u32, v: f32, is_max: bool) -> f32 {\n"                                    \
    "  workgroupBarrier();\n"                                                              \
    "  red[li] = v;\n"                                                                     \
    "  workgroupBarrier();\n"                                                              \
    "  for (var w = 128u; w > 0u; w = w >> 1u) {\n"                                        \
    "    if (li < w) { red[li] = select(red[li] + red[li + w], max(red[li], red[li + w]), is_max); }\n" \
    "    workgroupBarrier();\n"                                                            \
    "  }\n"                                                                                \
    "  return red[0];\n"                                                                   \
    "}\n"                                                                                  \
    "@compute @workgroup_size(256)\n"                                                      \
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {\n" \
    "  let heads = pu(1u); let kvh = pu(2u); let hd4 = pu(3u) / 4u;\n"                     \
    "  let h = wg.x; let t = wg.y;\n"                                                      \
    "  let kh = h / (heads / kvh);\n"

/* one workgroup of 256 per (head, query). Scores: one invocation per key (vec4 dot products)
 * into the scratch row; max and sum by tree reductions; output: hd/4 vec4 columns x 256/(hd/4)
 * key slices, each invocation summing its slice's keys, then the slices summed in workgroup
 * memory. (A decoded token has only `heads` workgroups: the work per invocation must be short.) */
static const char attention_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;\n"
    "@group(0) @binding(1) var<storage, read> kc: array<vec4<f32>>;\n"
    "@group(0) @binding(2) var<storage, read> vc: array<vec4<f32>>;\n"
    "@group(0) @binding(3) var<storage, read> mask: array<u32>;\n"
    "@group(0) @binding(4) var<storage, read_write> s: array<f32>;\n"
    "@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;\n"
    "@group(0) @binding(6) var<uniform> p: P;\n"
    ATT_PROLOGUE
    "  let causal = pu(5u) != 0u;\n"
    "  let L = select(pu(6u), pu(4u) + t + 1u, causal);\n"
    "  let win = pu(10u);\n"
    "  let first = select(0u, L - win, causal && win > 0u && L > win);\n"
    "  let cap = pf(9u);\n"
    "  let qb = (t * heads + h) * hd4;\n"
    "  let sb = (t * heads + h) * pu(7u);\n"
    "  let scale = pf(8u);\n"
    "  let bmax = pf(11u);\n"
    "  let c2 = 1u << firstLeadingBit(heads);\n"
    "  let slope = select(exp2(-bmax * f32(2u * (h - c2) + 1u) / f32(2u * c2)), exp2(-bmax * f32(h + 1u) / f32(c2)), h < c2);\n"
    "  let qpos = f32(pu(4u) + t);\n"
    "  let lowest = bitcast<f32>(0xff7fffffu);\n"
    "  var mx = lowest;\n"
    "  for (var j = first + li; j < L; j = j + 256u) {\n"
    "    let kb = (j * kvh + kh) * hd4;\n"
    "    var d4 = vec4<f32>(0.0);\n"
    "    for (var i = 0u; i < hd4; i = i + 1u) { d4 = d4 + q[qb + i] * kc[kb + i]; }\n"
    "    var d = ((d4.x + d4.y) + (d4.z + d4.w)) * scale;\n"
    "    if (cap > 0.0) { d = cap * tanh(clamp(d / cap, -15.0, 15.0)); }\n"
    "    if (bmax > 0.0) { d = d + slope * (f32(j) - qpos); }\n"
    "    if (!causal && mask[j] == 0u) { d = d + lowest; }\n"
    "    s[sb + j] = d;\n"
    "    mx = max(mx, d);\n"
    "  }\n"
    "  let M = wred(li, mx, true);\n"
    "  var sum = 0.0;\n"
    "  for (var j = first + li; j < L; j = j + 256u) { let e = exp(s[sb + j] - M); s[sb + j] = e; sum = sum + e; }\n"
    "  let S = wred(li, sum, false);\n"
    "  storageBarrier();\n"
    "  workgroupBarrier();\n"
    "  let slices = 256u / hd4;\n"
    "  var a = vec4<f32>(0.0);\n"
    "  if (li < slices * hd4) {\n"
    "    let c = li % hd4;\n"
    "    for (var j = first + li / hd4; j < L; j = j + slices) { a = a + s[sb + j] * vc[(j * kvh + kh) * hd4 + c]; }\n"
    "  }\n"
    "  acc[li] = a;\n"
    "  workgroupBarrier();\n"
    "  if (li < hd4) {\n"
    "    var r = vec4<f32>(0.0);\n"
    "    for (var k = 0u; k < slices; k = k + 1u) { r = r + acc[k * hd4 + li]; }\n"
    "    o[qb + li] = r / S;\n"
    "  }\n"
    "}\n";

/* an encoder's attention with a symmetric window and a relative position bias, one workgroup
 * of 256 per (head, query) as attention's: every key j of the pass gets a score, the lowest f32
 * unless valid (mask 1 and |j - t| <= window when window > 0), q.k * scale plus
 * bias[buckets[clamp(j - t, -D, D) + D]][head] when has_bias; with no valid key all scores are
 * the lowest and every key counts alike (HF's minimum-filled masks). */
static const char encoder_attention_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;\n"
    "@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;\n"
    "@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;\n"
    "@group(0) @binding(3) var<storage, read> mask: array<u32>;\n"
    "@group(0) @binding(4) var<storage, read> bias: array<f32>;\n"
    "@group(0) @binding(5) var<storage, read> buckets: array<u32>;\n"
    "@group(0) @binding(6) var<storage, read_write> s: array<f32>;\n"
    "@group(0) @binding(7) var<storage, read_write> o: array<vec4<f32>>;\n"
    "@group(0) @binding(8) var<uniform> p: P;\n"
    ATT_PROLOGUE
    "  let L = pu(4u);\n"
    "  let win = pu(7u); let hb = pu(8u) != 0u; let D = i32(pu(9u));\n"
    "  let qb = (t * heads + h) * hd4;\n"
    "  let sb = (t * heads + h) * pu(5u);\n"
    "  let scale = pf(6u);\n"
    "  let lowest = bitcast<f32>(0xff7fffffu);\n"
    "  var mx = lowest;\n"
    "  for (var j = li; j < L; j = j + 256u) {\n"
    "    let d = i32(j) - i32(t);\n"
    "    var sc = lowest;\n"
    "    if (mask[j] != 0u && (win == 0u || u32(abs(d)) <= win)) {\n"
    "      let kb = (j * kvh + kh) * hd4;\n"
    "      var d4 = vec4<f32>(0.0);\n"
    "      for (var i = 0u; i < hd4; i = i + 1u) { d4 = d4 + q[qb + i] * k[kb + i]; }\n"
    "      sc = ((d4.x + d4.y) + (d4.z + d4.w)) * scale;\n"
    "      if (hb) { sc = sc + bias[buckets[u32(clamp(d, -D, D) + D)] * heads + h]; }\n"
    "    }\n"
    "    s[sb + j] = sc;\n"
    "    mx = max(mx, sc);\n"
    "  }\n"
    "  let M = wred(li, mx, true);\n"
    "  var sum = 0.0;\n"
    "  for (var j = li; j < L; j = j + 256u) { let e = exp(s[sb + j] - M); s[sb + j] = e; sum = sum + e; }\n"
    "  let S = wred(li, sum, false);\n"
    "  storageBarrier();\n"
    "  workgroupBarrier();\n"
    "  let slices = 256u / hd4;\n"
    "  var a = vec4<f32>(0.0);\n"
    "  if (li < slices * hd4) {\n"
    "    let c = li % hd4;\n"
    "    for (var j = li / hd4; j < L; j = j + slices) { a = a + s[sb + j] * v[(j * kvh + kh) * hd4 + c]; }\n"
    "  }\n"
    "  acc[li] = a;\n"
    "  workgroupBarrier();\n"
    "  if (li < hd4) {\n"
    "    var r = vec4<f32>(0.0);\n"
    "    for (var k2 = 0u; k2 < slices; k2 = k2 + 1u) { r = r + acc[k2 * hd4 + li]; }\n"
    "    o[qb + li] = r / S;\n"
    "  }\n"
    "}\n";

/* a mixture-of-experts router, one invocation per token: softmax over its E logits into the
 * weights row, the k largest chosen by rank (ties: the lower index first, as ops.c), a bit each;
 * then weights[e] = p (divided by the chosen ones' sum when norm) or 0. E <= 256. */
static const char moe_router_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read> l: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read_write> w: array<f32>;\n"
    "@group(0) @binding(2) var<uniform> p: P;\n"
    PF FLAT
    "@compute @workgroup_size(256)\n"
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {\n"
    "  let t = flat(wg, li);\n"
    "  let E = pu(1u); let k = pu(2u);\n"
    "  if (t >= pu(0u)) { return; }\n"
    "  let b = t * E;\n"
    "  var mx = l[b];\n"
    "  for (var e = 1u; e < E; e = e + 1u) { mx = max(mx, l[b + e]); }\n"
    "  var s = 0.0;\n"
    "  for (var e = 0u; e < E; e = e + 1u) { s = s + exp(l[b + e] - mx); }\n"
    "  for (var e = 0u; e < E; e = e + 1u) { w[b + e] = exp(l[b + e] - mx) / s; }\n"
    "  var bits: array<u32, 8>;\n"
    "  var chosen = 0.0;\n"
    "  for (var e = 0u; e < E; e = e + 1u) {\n"
    "    let pe = w[b + e];\n"
    "    var r = 0u;\n"
    "    for (var j = 0u; j < E; j = j + 1u) {\n"
    "      let pj = w[b + j];\n"
    "      if (pj > pe || (pj == pe && j < e)) { r = r + 1u; }\n"
    "    }\n"
    "    if (r < k) { bits[e / 32u] = bits[e / 32u] | (1u << (e % 32u)); chosen = chosen + pe; }\n"
    "  }\n"
    "  let nrm = pu(3u) != 0u;\n"
    "  for (var e = 0u; e < E; e = e + 1u) {\n"
    "    let on = (bits[e / 32u] & (1u << (e % 32u))) != 0u;\n"
    "    let pe = w[b + e];\n"
    "    w[b + e] = select(0.0, select(pe, pe / chosen, nrm), on);\n"
    "  }\n"
    "}\n";

/* y[t][j] (+)= w[t][e] * x[t][j]: an expert's output by its routing weight; a weight of 0 adds
 * nothing (accumulate 0: y starts from zeros) */
static const char moe_add_src[] =
    PARAMS
    "@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n"
    "@group(0) @binding(1) var<storage, read> w: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read> x: array<f32>;\n"
    "@group(0) @binding(3) var<uniform> p: P;\n"
    PF FLAT
    EW_MAIN
    "  let wt = w[(i / pu(1u)) * pu(2u) + pu(3u)];\n"
    "  let acc = pu(4u) != 0u;\n"
    "  if (wt != 0.0) { y[i] = select(wt * x[i], y[i] + wt * x[i], acc); }\n"
    "  else if (!acc) { y[i] = 0.0; }\n"
    "}\n";

#define R "read-only-storage"
#define RW "storage"
#define U "uniform"
#define EW "W = ceil(count/256): (min(W,65535), ceil(W/65535), 1)"

/* bindings are named as the program's operand slots (program/ops.c), plus "scores" (the
 * attention's scratch, the runtime's) and "params" (the uniform block, laid out as the op's
 * fields there); grid: workgroups along x from a field (divided by div, split past 65535 into
 * y) or, for attention, x = heads and y = n */
static const wg_op ops[] = {
    {"rmsnorm", 256, "(n, 1, 1)", {{0, "x", RW}, {1, "residual", R}, {2, "weight", R}, {3, "y", RW},
      {4, "params", U}}, 5, rmsnorm_src, "n", NULL, 1},
    {"layernorm", 256, "(n, 1, 1)", {{0, "x", R}, {1, "weight", R}, {2, "bias", R}, {3, "y", RW},
      {4, "params", U}}, 5, layernorm_src, "n", NULL, 1},
    {"bias_act", 256, EW, {{0, "y", RW}, {1, "bias", R}, {2, "params", U}}, 3, bias_act_src, "count", NULL, 256},
    {"glu", 256, EW, {{0, "gate", RW}, {1, "up", R}, {2, "params", U}}, 3, glu_src, "count", NULL, 256},
    {"add", 256, EW, {{0, "a", RW}, {1, "b", R}, {2, "params", U}}, 3, add_src, "count", NULL, 256},
    {"slice", 256, EW, {{0, "x", R}, {1, "y", RW}, {2, "params", U}}, 3, slice_src, "count", NULL, 256},
    {"rope_kv", 256, EW, {{0, "q", R}, {1, "k", R}, {2, "v", R}, {3, "table", R}, {4, "q_rotated", RW},
      {5, "k_cache", RW}, {6, "v_cache", RW}, {7, "params", U}}, 8, rope_kv_src, "count", NULL, 256},
    {"attention", 256, "(heads, n, 1)", {{0, "q", R}, {1, "k", R}, {2, "v", R}, {3, "mask", R},
      {4, "scores", RW}, {5, "out", RW}, {6, "params", U}}, 7, attention_src, "heads", "n", 1},
    {"encoder_attention", 256, "(heads, n, 1)", {{0, "q", R}, {1, "k", R}, {2, "v", R}, {3, "mask", R},
      {4, "bias", R}, {5, "buckets", R}, {6, "scores", RW}, {7, "out", RW}, {8, "params", U}}, 9,
      encoder_attention_src, "heads", "n", 1},
    {"patches", 256, EW, {{0, "pixels", R}, {1, "y", RW}, {2, "params", U}}, 3, patches_src, "count", NULL, 256},
    {"set_row", 256, EW, {{0, "y", RW}, {1, "v", R}, {2, "params", U}}, 3, set_row_src, "count", NULL, 256},
    {"moe_router", 256, "T = ceil(n/256): (min(T,65535), ceil(T/65535), 1)", {{0, "logits", R},
      {1, "weights", RW}, {2, "params", U}}, 3, moe_router_src, "n", NULL, 256},
    {"moe_add", 256, EW, {{0, "y", RW}, {1, "w", R}, {2, "x", R}, {3, "params", U}}, 4, moe_add_src,
      "count", NULL, 256},
};

const wg_op *wg_ops(int *n)
{
    *n = (int)(sizeof ops / sizeof *ops);
    return ops;
}

int wg_wgsl_op_emit(int i, char *buf, size_t n)
{
    if (i < 0 || (size_t)i >= sizeof ops / sizeof *ops)
        return -1;
    size_t len = strlen(ops[i].text);
    if (len + 1 > n)
        return -1;
    memcpy(buf, ops[i].text, len + 1);
    return (int)len;
}
