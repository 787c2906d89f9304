/* formats/wgsl.c — the WGSL kernel generator. One template per kernel kind, parameterised by
 * the format (bit width, symmetry, scale type, fp16/bf16/f32 weights) and the profile
 * (workgroup size, unroll, GEMM tile). The per-width unpacking is generated as straight-line
 * code: element i of a 32-element chunk is bits [i*b, i*b+b) of the chunk's b words. */
#include "wgsl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const wg_profile profiles[] = {
    /* name      binding      buffer       budget         f16    subgr  gemv unroll tile_n tile_rows
     * Limits are the WebGPU spec defaults a page gets without asking; budgets are assumptions
     * about one tab. Kernel shapes start from the seeds in shared/WEBGPU.md (Chrome/Edge 8x16,
     * 4x unroll; Firefox 8x8, 2x; Safari 4x4, none; mobile small). */
    {"chrome", 128u << 20, 256u << 20, 4ull << 30, true, true, 128, 4, 8, 16},
    {"edge", 128u << 20, 256u << 20, 4ull << 30, true, true, 128, 4, 8, 16},
    {"firefox", 128u << 20, 256u << 20, 2ull << 30, false, false, 64, 2, 8, 8},
    {"safari", 128u << 20, 256u << 20, 1536ull << 20, true, false, 32, 1, 4, 4},
    {"mobile", 128u << 20, 256u << 20, 1ull << 30, true, false, 32, 1, 4, 4},
};

const wg_profile *wg_profiles(int *n)
{
    *n = (int)(sizeof profiles / sizeof *profiles);
    return profiles;
}

static const char *kind_names[WG_K_COUNT] = {"dequantize", "gemv", "gemm"};
const char *wg_kernel_kind_name(wg_kernel_kind k)
{
    return (unsigned)k < WG_K_COUNT ? kind_names[k] : "?";
}

typedef struct sb {
    char *buf;
    size_t n, len;
    bool overflow;
} sb;

static void out(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->n ? b->n - b->len : 0;
    int w = vsnprintf(b->buf + b->len, room, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= room)
        b->overflow = true;
    else
        b->len += (size_t)w;
}

/* chunk(r, c): the 32 codes (integer formats) or values (fp formats) of chunk c of row r */
static void emit_chunk_fn(sb *b, const wg_kformat *f, const char *T)
{
    if (f->kind == 3) {
        int bits = f->bits;
        unsigned mask = (1u << bits) - 1;
        out(b, "// codes of chunk c (32 elements) of row r: %d consecutive words\n", bits);
        out(b, "fn chunk(r: u32, c: u32) -> array<u32, 32> {\n");
        out(b, "  let base = (r * (p.Kp / 32u) + c) * %du;\n", bits);
        for (int w = 0; w < bits; w++)
            out(b, "  let w%d = q[base + %du];\n", w, w);
        out(b, "  return array<u32, 32>(\n");
        for (int i = 0; i < 32; i++) {
            int bit = i * bits, w = bit / 32, sh = bit % 32;
            if (sh + bits <= 32)
                out(b, "    (w%d >> %du) & %uu", w, sh, mask);
            else
                out(b, "    ((w%d >> %du) | (w%d << %du)) & %uu", w, sh, w + 1, 32 - sh, mask);
            out(b, i < 31 ? ",\n" : ");\n}\n");
        }
        if (f->scale_f32)
            out(b, "fn scale(i: u32) -> %s { return %s(bitcast<f32>(s[i])); }\n", T, T);
        else
            out(b, "fn scale(i: u32) -> %s { return %s(unpack2x16float(s[i >> 1u])[i & 1u]); }\n", T, T);
        if (f->sym)
            out(b, "fn zero(i: u32) -> i32 { return %d; }\n", 1 << (bits - 1));
        else
            out(b, "fn zero(i: u32) -> i32 { return i32((z[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu); }\n");
        out(b, "fn group_index(r: u32, c: u32) -> u32 { return r * (p.Kp / p.G) + (c * 32u) / p.G; }\n");
    } else {
        /* fp weights: element e = r*K + k of a row-major [rows][K] array */
        out(b, "fn elem(e: u32) -> f32 {\n");
        if (f->kind == 0)
            out(b, "  return bitcast<f32>(q[e]);\n");
        else if (f->kind == 1)
            out(b, "  return unpack2x16float(q[e >> 1u])[e & 1u];\n");
        else
            out(b, "  return bitcast<f32>(((q[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u);\n");
        out(b, "}\n");
    }
}

static const char *fmt_label(const wg_kformat *f, char *buf, size_t n)
{
    static const char *fp[3] = {"f32", "fp16", "bf16"};
    if (f->kind != 3)
        snprintf(buf, n, "%s", fp[f->kind]);
    else
        snprintf(buf, n, "q%dg%d%c%s", f->bits, f->group, f->sym ? 's' : 'a', f->scale_f32 ? ".s32" : "");
    return buf;
}

int wg_wgsl_emit(wg_kernel_kind kind, const wg_kformat *f, const wg_profile *pr, bool f16,
                 char *buf, size_t n)
{
    sb b = {buf, n, 0, false};
    char lab[32];
    const char *T = f16 ? "f16" : "f32";
    const bool integer = f->kind == 3;
    /* no profile name in the text: profiles with the same shape share one content-hashed file */
    out(&b, "// wgpack %s kernel: weights %s, %s arithmetic, workgroup %d/%d, unroll %d (generated)\n",
        wg_kernel_kind_name(kind), fmt_label(f, lab, sizeof lab), T,
        kind == WG_K_GEMM ? pr->tile_rows : pr->gemv_threads, kind == WG_K_GEMM ? pr->tile_n : 1,
        pr->unroll);
    if (f16)
        out(&b, "enable f16;\n");
    out(&b, "struct Params { rows: u32, K: u32, Kp: u32, n: u32, G: u32, pad0: u32, pad1: u32, pad2: u32 };\n");
    out(&b, "@group(0) @binding(0) var<storage, read> q: array<u32>;\n");
    if (integer)
        out(&b, "@group(0) @binding(1) var<storage, read> s: array<u32>;\n");
    if (integer && !f->sym)
        out(&b, "@group(0) @binding(2) var<storage, read> z: array<u32>;\n");
    if (kind != WG_K_DEQUANT)
        out(&b, "@group(0) @binding(3) var<storage, read> x: array<f32>;\n");
    if (kind == WG_K_DEQUANT && f16)
        out(&b, "@group(0) @binding(4) var<storage, read_write> y: array<f16>;\n");
    else
        out(&b, "@group(0) @binding(4) var<storage, read_write> y: array<f32>;\n");
    out(&b, "@group(0) @binding(5) var<uniform> p: Params;\n");
    emit_chunk_fn(&b, f, T);
    int TH = pr->gemv_threads, U = pr->unroll;
    const char *row_of = "wid.y * nwg.x + wid.x";
    switch (kind) {
    case WG_K_DEQUANT:
        out(&b, "@compute @workgroup_size(%d)\n", TH);
        out(&b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n"
                "        @builtin(local_invocation_index) lid: u32) {\n");
        out(&b, "  let r = %s;\n  if (r >= p.rows) { return; }\n", row_of);
        if (integer) {
            out(&b, "  for (var c = lid; c < p.Kp / 32u; c += %du) {\n", TH);
            out(&b, "    let codes = chunk(r, c);\n    let gi = group_index(r, c);\n");
            out(&b, "    let d = scale(gi);\n    let zp = zero(gi);\n");
            out(&b, "    for (var i = 0u; i < 32u; i++) {\n      let k = c * 32u + i;\n");
            out(&b, "      if (k < p.K) { y[r * p.K + k] = d * %s(i32(codes[i]) - zp); }\n", T);
            out(&b, "    }\n  }\n}\n");
        } else {
            out(&b, "  for (var k = lid; k < p.K; k += %du) {\n", TH);
            out(&b, "    y[r * p.K + k] = %s(elem(r * p.K + k));\n  }\n}\n", T);
        }
        break;
    case WG_K_GEMV:
        out(&b, "var<workgroup> red: array<f32, %d>;\n", TH);
        out(&b, "@compute @workgroup_size(%d)\n", TH);
        out(&b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n"
                "        @builtin(local_invocation_index) lid: u32) {\n");
        out(&b, "  let r = %s;\n", row_of);
        out(&b, "  var acc = 0.0;\n  let nch = (p.K + 31u) / 32u;\n");
        out(&b, "  if (r < p.rows) {\n");
        out(&b, "    for (var c0 = lid; c0 < nch; c0 += %du) {\n", TH * U);
        for (int u = 0; u < U; u++) {
            out(&b, "      {\n        let c = c0 + %du;\n        if (c < nch) {\n", u * TH);
            if (integer) {
                out(&b, "          let codes = chunk(r, c);\n          let gi = group_index(r, c);\n");
                out(&b, "          let zp = zero(gi);\n          var part: %s = %s(0);\n", T, T);
                out(&b, "          for (var i = 0u; i < 32u; i++) {\n            let k = c * 32u + i;\n");
                out(&b, "            if (k < p.K) { part += %s(i32(codes[i]) - zp) * %s(x[k]); }\n", T, T);
                out(&b, "          }\n          acc += f32(scale(gi) * part);\n");
            } else {
                out(&b, "          for (var i = 0u; i < 32u; i++) {\n            let k = c * 32u + i;\n");
                out(&b, "            if (k < p.K) { acc += elem(r * p.K + k) * x[k]; }\n          }\n");
            }
            out(&b, "        }\n      }\n");
        }
        out(&b, "    }\n  }\n  red[lid] = acc;\n  workgroupBarrier();\n");
        out(&b, "  for (var w = %du; w > 0u; w >>= 1u) {\n", TH / 2);
        out(&b, "    if (lid < w) { red[lid] += red[lid + w]; }\n    workgroupBarrier();\n  }\n");
        out(&b, "  if (lid == 0u && r < p.rows) { y[r] = red[0]; }\n}\n");
        break;
    case WG_K_GEMM: {
        int TN = pr->tile_n, TR = pr->tile_rows, TT = TN * TR;
        out(&b, "var<workgroup> wt: array<f32, %d>;  // %d rows x 32 dequantized weights\n", TR * 32, TR);
        out(&b, "var<workgroup> xt: array<f32, %d>;  // %d inputs x 32 values\n", TN * 32, TN);
        out(&b, "@compute @workgroup_size(%d, %d)\n", TR, TN);
        out(&b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,\n"
                "        @builtin(local_invocation_index) lid: u32) {\n");
        out(&b, "  let r = wid.x * %du + lid3.x;\n  let m = wid.y * %du + lid3.y;\n", TR, TN);
        out(&b, "  var acc = 0.0;\n  let nch = (p.K + 31u) / 32u;\n");
        out(&b, "  for (var c = 0u; c < nch; c++) {\n");
        /* weights: thread t < TR dequantizes chunk c of row wid.x*TR + t */
        out(&b, "    if (lid < %du) {\n      let wr = wid.x * %du + lid;\n", TR, TR);
        out(&b, "      if (wr < p.rows) {\n");
        if (integer) {
            out(&b, "        let codes = chunk(wr, c);\n        let gi = group_index(wr, c);\n");
            out(&b, "        let d = f32(scale(gi));\n        let zp = zero(gi);\n");
            out(&b, "        for (var i = 0u; i < 32u; i++) { wt[lid * 32u + i] = d * f32(i32(codes[i]) - zp); }\n");
        } else {
            out(&b, "        for (var i = 0u; i < 32u; i++) {\n          let k = c * 32u + i;\n");
            out(&b, "          wt[lid * 32u + i] = select(0.0, elem(wr * p.K + min(k, p.K - 1u)), k < p.K);\n        }\n");
        }
        out(&b, "      } else {\n        for (var i = 0u; i < 32u; i++) { wt[lid * 32u + i] = 0.0; }\n      }\n    }\n");
        /* inputs: all threads load the TN x 32 input tile */
        out(&b, "    for (var e = lid; e < %du; e += %du) {\n", TN * 32, TT);
        out(&b, "      let xm = wid.y * %du + e / 32u;\n      let k = c * 32u + e %% 32u;\n", TN);
        out(&b, "      xt[e] = select(0.0, x[min(xm, p.n - 1u) * p.K + min(k, p.K - 1u)], xm < p.n && k < p.K);\n    }\n");
        out(&b, "    workgroupBarrier();\n");
        out(&b, "    for (var i = 0u; i < 32u; i += %du) {\n", U);
        for (int u = 0; u < U; u++)
            out(&b, "      acc += wt[lid3.x * 32u + i + %du] * xt[lid3.y * 32u + i + %du];\n", u, u);
        out(&b, "    }\n    workgroupBarrier();\n  }\n");
        out(&b, "  if (r < p.rows && m < p.n) { y[m * p.rows + r] = acc; }\n}\n");
        break;
    }
    default:
        return -1;
    }
    return b.overflow ? -1 : (int)b.len;
}
