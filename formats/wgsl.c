/* formats/wgsl.c — the WGSL kernel generator. One template per kernel kind, parameterised by
 * the weight format (bit width, symmetry, scale type, fp16/bf16/f32), the kernel shape (from the
 * profile table, which the tuner writes) and the variant (f16 arithmetic, subgroups).
 * Element i of a 32-element chunk of b-bit codes is bits [i*b, i*b+b) of the chunk's b words;
 * the unpacking is generated as straight-line code over the chunk's words. */
#include "wgsl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The kernel shapes: formats/wgsl_tuned.h is written by tools/webgpu/tune.mjs from a run on
 * real hardware (see that file's header for which adapter, when, and the command). */
#include "wgsl_tuned.h"

static const wg_profile profiles[] = {
    /* Limits are the WebGPU spec defaults a page gets without asking; budgets are assumptions
     * about one tab. */
    {"chrome", 128u << 20, 256u << 20, 4ull << 30, true, true, WG_SHAPE_CHROME, WG_SHAPE_CHROME_SOURCE},
    {"edge", 128u << 20, 256u << 20, 4ull << 30, true, true, WG_SHAPE_CHROME, WG_SHAPE_CHROME_SOURCE},
    {"firefox", 128u << 20, 256u << 20, 2ull << 30, false, false, WG_SHAPE_FIREFOX, WG_SHAPE_FIREFOX_SOURCE},
    {"safari", 128u << 20, 256u << 20, 1536ull << 20, true, false, WG_SHAPE_SAFARI, WG_SHAPE_SAFARI_SOURCE},
    {"mobile", 128u << 20, 256u << 20, 1ull << 30, true, false, WG_SHAPE_MOBILE, WG_SHAPE_MOBILE_SOURCE},
};

const wg_profile *wg_profiles(int *n)
{
    *n = (int)(sizeof profiles / sizeof *profiles);
    return profiles;
}

static const char *kind_names[WG_K_COUNT] = {"dequantize", "gemv", "gemm", "gather"};
const char *wg_kernel_kind_name(wg_kernel_kind k)
{
    return (unsigned)k < WG_K_COUNT ? kind_names[k] : "?";
}

bool wg_kernel_kind_parse(const char *s, wg_kernel_kind *k)
{
    for (int i = 0; i < WG_K_COUNT; i++)
        if (!strcmp(s, kind_names[i])) {
            *k = (wg_kernel_kind)i;
            return true;
        }
    return false;
}

bool wg_kernel_has_subgroups(wg_kernel_kind k)
{
    return k == WG_K_GEMV;
}

static bool pow2(int v) { return v > 0 && !(v & (v - 1)); }

bool wg_kshape_valid(wg_kernel_kind k, const wg_kshape *s)
{
    switch (k) {
    case WG_K_DEQUANT:
    case WG_K_GATHER:
        return pow2(s->gemv_threads) && s->gemv_threads <= 256;
    case WG_K_GEMV:
        /* tiled: <= 128 threads, so the integer GEMV's x tile (8 x threads vec4) stays in 16 KiB;
         * direct: <= 256 threads, at most 32 chunk loads (R x U) in flight per thread */
        if (s->gemv_unroll)
            return pow2(s->gemv_threads) && s->gemv_threads >= 32 && s->gemv_threads <= 256 &&
                   s->gemv_rows >= 1 && s->gemv_rows <= 16 && s->gemv_unroll <= 8 &&
                   s->gemv_rows * s->gemv_unroll <= 32;
        return pow2(s->gemv_threads) && s->gemv_threads >= 32 && s->gemv_threads <= 128 &&
               s->gemv_rows >= 1 && s->gemv_rows <= 16;
    case WG_K_GEMM: {
        if (s->gemm_tm < 4 || s->gemm_tn < 4 || s->gemm_tm % 4 || s->gemm_tn % 4 ||
            s->gemm_bm % s->gemm_tm || s->gemm_bn % s->gemm_tn || s->gemm_bm % 4 || s->gemm_bn % 4)
            return false;
        int threads = (s->gemm_bm / s->gemm_tm) * (s->gemm_bn / s->gemm_tn);
        return threads >= 16 && threads <= 256 && (s->gemm_bm + s->gemm_bn) * 32 * 4 <= 16384 &&
               s->gemm_tm * s->gemm_tn <= 64;
    }
    default:
        return false;
    }
}

wg_kshape wg_kshape_of(const wg_kshape *s, wg_kernel_kind k, const wg_kformat *f)
{
    wg_kshape e = *s;
    if (k == WG_K_GEMV && f->kind != 3 && s->gemv_fp_threads && s->gemv_fp_rows) {
        e.gemv_threads = s->gemv_fp_threads;
        e.gemv_rows = s->gemv_fp_rows;
    }
    return e;
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

/* ---------------------------------------------------------------- shared pieces */

/* u32 words per vector load of the data plane: a chunk of 32 b-bit codes is b words, so loads
 * of gcd(b, 4) words stay aligned. fp weights: vec4 (8 halves, or 4 floats). */
static int data_vec(const wg_kformat *f)
{
    if (f->kind != 3)
        return 4;
    return f->bits % 4 == 0 ? 4 : f->bits % 2 == 0 ? 2 : 1;
}

static const char *vec_type(int w)
{
    return w == 4 ? "vec4<u32>" : w == 2 ? "vec2<u32>" : "u32";
}

/* The expression for word j of a chunk whose first vector is at `base` (vector units). */
static void word_expr(char *dst, size_t n, const wg_kformat *f, const char *base, int j)
{
    int vw = data_vec(f);
    static const char comp[4] = {'x', 'y', 'z', 'w'};
    if (vw == 1)
        snprintf(dst, n, "q[%s + %du]", base, j);
    else
        snprintf(dst, n, "q[%s + %du].%c", base, j / vw, comp[j % vw]);
}

/* Code i (0..31) of the chunk held in scalar words w0..w{b-1}, as a u32 expression (not masked). */
static void code_expr(char *dst, size_t n, int bits, int i)
{
    int bit = i * bits, w = bit / 32, sh = bit % 32;
    if (sh + bits <= 32)
        snprintf(dst, n, sh ? "(w%d >> %du)" : "w%d", w, sh);
    else
        snprintf(dst, n, "((w%d >> %du) | (w%d << %du))", w, sh, w + 1, 32 - sh);
}

/* Codes i..i+3 as a vec4<u32> expression (not masked). */
static void code4_expr(char *dst, size_t n, int bits, int i)
{
    int w0 = (i * bits) / 32, w3 = ((i + 3) * bits + bits - 1) / 32;
    if (w0 == w3) { /* all four in one word: one vector shift */
        snprintf(dst, n, "(vec4<u32>(w%d) >> vec4<u32>(%du, %du, %du, %du))", w0, (i * bits) % 32,
                 ((i + 1) * bits) % 32, ((i + 2) * bits) % 32, ((i + 3) * bits) % 32);
        return;
    }
    char e[4][64];
    for (int k = 0; k < 4; k++)
        code_expr(e[k], sizeof e[k], bits, i + k);
    snprintf(dst, n, "vec4<u32>(%s, %s, %s, %s)", e[0], e[1], e[2], e[3]);
}

static void emit_scale_zero(sb *b, const wg_kformat *f)
{
    if (f->scale_f32)
        out(b, "fn scale(i: u32) -> f32 { return bitcast<f32>(s[i]); }\n");
    else
        out(b, "fn scale(i: u32) -> f32 { return unpack2x16float(s[i >> 1u])[i & 1u]; }\n");
    /* 2^23 + zero point: subtracted from (2^23 + code) built by OR-ing the code into 2^23 */
    if (f->sym)
        out(b, "fn offset(i: u32) -> f32 { return %d.0; }\n", 8388608 + (1 << (f->bits - 1)));
    else
        out(b, "fn offset(i: u32) -> f32 { return 8388608.0 + f32((z[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu); }\n");
}

/* group index of chunk c (32 elements) of row r */
static void group_expr(char *dst, size_t n, const wg_kformat *f, const char *r, const char *c)
{
    if (f->group == 0)
        snprintf(dst, n, "%s", r);
    else if (f->group == 32)
        snprintf(dst, n, "(%s * gpr + %s)", r, c);
    else
        snprintf(dst, n, "(%s * gpr + (%s >> %du))", r, c, __builtin_ctz((unsigned)f->group / 32));
}

static void emit_header(sb *b, wg_kernel_kind kind, const wg_kformat *f, const wg_kshape *s,
                        const wg_kvariant *v)
{
    char lab[32];
    if (f->kind != 3) {
        static const char *fp[3] = {"f32", "fp16", "bf16"};
        snprintf(lab, sizeof lab, "%s", fp[f->kind]);
    } else
        snprintf(lab, sizeof lab, "q%dg%d%c%s", f->bits, f->group, f->sym ? 's' : 'a',
                 f->scale_f32 ? ".s32" : "");
    /* no profile name in the text: profiles with the same shape share one content-hashed file */
    out(b, "// wgpack %s kernel: weights %s, %s arithmetic%s, ", wg_kernel_kind_name(kind), lab,
        v->f16 ? "f16" : "f32", v->subgroups ? ", subgroup reduction" : "");
    if (kind == WG_K_GEMM)
        out(b, "tile %dx%d, thread tile %dx%d (generated)\n", s->gemm_bm, s->gemm_bn, s->gemm_tm, s->gemm_tn);
    else if (kind == WG_K_GEMV)
        out(b, "workgroup %d, %d rows per workgroup (generated)\n", s->gemv_threads, s->gemv_rows);
    else
        out(b, "workgroup %d (generated)\n", s->gemv_threads);
    if (v->f16)
        out(b, "enable f16;\n");
    if (v->subgroups)
        out(b, "enable subgroups;\n");
    out(b, "struct Params { rows: u32, K: u32, Kp: u32, n: u32, G: u32, pad0: u32, pad1: u32, pad2: u32 };\n");
    bool integer = f->kind == 3;
    const char *qt = (kind == WG_K_GEMV || kind == WG_K_GEMM) ? vec_type(data_vec(f)) : "u32";
    out(b, "@group(0) @binding(0) var<storage, read> q: array<%s>;\n", qt);
    if (integer)
        out(b, "@group(0) @binding(1) var<storage, read> s: array<u32>;\n");
    if (integer && !f->sym)
        out(b, "@group(0) @binding(2) var<storage, read> z: array<u32>;\n");
    if (kind == WG_K_GATHER)
        out(b, "@group(0) @binding(3) var<storage, read> x: array<u32>;\n");
    else if (kind != WG_K_DEQUANT)
        out(b, "@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;\n");
    out(b, "@group(0) @binding(4) var<storage, read_write> y: array<f32>;\n");
    out(b, "@group(0) @binding(5) var<uniform> p: Params;\n");
    if (integer)
        emit_scale_zero(b, f);
}

/* ---------------------------------------------------------------- dequantize / gather */

/* fp weights, element e of the row-major [rows][K] plane held as u32 words */
static void emit_elem_fn(sb *b, const wg_kformat *f)
{
    out(b, "fn elem(e: u32) -> f32 {\n");
    if (f->kind == 0)
        out(b, "  return bitcast<f32>(q[e]);\n");
    else if (f->kind == 1)
        out(b, "  return unpack2x16float(q[e >> 1u])[e & 1u];\n");
    else
        out(b, "  return bitcast<f32>(((q[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u);\n");
    out(b, "}\n");
}

/* codes of chunk c (32 elements) of row r as an array (dequantize/gather only: once per weight) */
static void emit_chunk_fn(sb *b, const wg_kformat *f)
{
    int bits = f->bits;
    out(b, "fn chunk(r: u32, c: u32) -> array<u32, 32> {\n");
    out(b, "  let base = (r * (p.Kp / 32u) + c) * %du;\n", bits);
    for (int w = 0; w < bits; w++)
        out(b, "  let w%d = q[base + %du];\n", w, w);
    out(b, "  return array<u32, 32>(\n");
    for (int i = 0; i < 32; i++) {
        char e[64];
        code_expr(e, sizeof e, bits, i);
        out(b, "    %s & %uu%s", e, (1u << bits) - 1, i < 31 ? ",\n" : ");\n}\n");
    }
}

/* row `src` of the weight into y[dst * K ..]: exact scale * f32(code - zero) */
static void emit_row_copy(sb *b, const wg_kformat *f, int TH)
{
    if (f->kind == 3) {
        emit_chunk_fn(b, f);
        out(b, "fn copy_row(src: u32, dst: u32, lid: u32) {\n");
        out(b, "  let gpr = p.Kp / p.G;\n");
        out(b, "  for (var c = lid; c < p.Kp / 32u; c += %du) {\n", TH);
        char gi[96];
        group_expr(gi, sizeof gi, f, "src", "c");
        out(b, "    let codes = chunk(src, c);\n    let gi = %s;\n", gi);
        out(b, "    let d = scale(gi);\n    let zp = offset(gi) - 8388608.0;\n");
        out(b, "    for (var i = 0u; i < 32u; i++) {\n      let k = c * 32u + i;\n");
        out(b, "      if (k < p.K) { y[dst * p.K + k] = d * (f32(codes[i]) - zp); }\n");
        out(b, "    }\n  }\n}\n");
    } else {
        emit_elem_fn(b, f);
        out(b, "fn copy_row(src: u32, dst: u32, lid: u32) {\n");
        out(b, "  for (var k = lid; k < p.K; k += %du) { y[dst * p.K + k] = elem(src * p.K + k); }\n}\n", TH);
    }
}

static void emit_dequant(sb *b, const wg_kformat *f, const wg_kshape *s, bool gather)
{
    int TH = s->gemv_threads;
    emit_row_copy(b, f, TH);
    out(b, "@compute @workgroup_size(%d)\n", TH);
    out(b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n"
           "        @builtin(local_invocation_index) lid: u32) {\n");
    out(b, "  let i = wid.y * nwg.x + wid.x;\n");
    if (gather) {
        /* an index outside the table gives a row of zeros, never a read out of the plane */
        out(b, "  if (i >= p.n) { return; }\n  let r = x[i];\n");
        out(b, "  if (r >= p.rows) {\n    for (var k = lid; k < p.K; k += %du) { y[i * p.K + k] = 0.0; }\n"
               "    return;\n  }\n  copy_row(r, i, lid);\n}\n", TH);
    } else
        out(b, "  if (i >= p.rows) { return; }\n  copy_row(i, i, lid);\n}\n");
}

/* ---------------------------------------------------------------- GEMV */

/* one row's contribution of chunk c: the dot of its 32 weights with x0..x7 */
static void emit_gemv_row_int(sb *b, const wg_kformat *f, int rr, const char *T)
{
    int bits = f->bits, vw = data_vec(f);
    char gi[96], rname[16], w[64], c4[256];
    snprintf(rname, sizeof rname, "r%d", rr);
    group_expr(gi, sizeof gi, f, rname, "c");
    out(b, "    {\n      let base = (r%d * nch + c) * %du;\n", rr, bits / vw);
    for (int j = 0; j < bits; j++) {
        word_expr(w, sizeof w, f, "base", j);
        out(b, "      let w%d = %s;\n", j, w);
    }
    out(b, "      let gi = %s;\n      let o = vec4<f32>(offset(gi));\n", gi);
    for (int i = 0; i < 32; i += 4) {
        code4_expr(c4, sizeof c4, bits, i);
        const char *val = "bitcast<vec4<f32>>((%s & vec4<u32>(%uu)) | vec4<u32>(0x4b000000u)) - o";
        char v[400];
        snprintf(v, sizeof v, val, c4, (1u << bits) - 1);
        if (T[1] == '1') /* f16: the exact small integers and x in half precision */
            out(b, "      %s vec4<f16>(%s), vec4<f16>(x%d));\n", i ? "d += dot(" : "var d = dot(", v, i / 4);
        else /* four independent accumulators: FMAs without a dependency chain per element */
            out(b, "      %sfma(%s, x%d, %s);\n", i ? "d = " : "var d = ", v, i / 4, i ? "d" : "vec4<f32>(0.0)");
    }
    if (T[1] == '1')
        out(b, "      a%d = fma(scale(gi), f32(d), a%d);\n    }\n", rr, rr);
    else
        out(b, "      a%d = fma(scale(gi), (d.x + d.y) + (d.z + d.w), a%d);\n    }\n", rr, rr);
}

/* fp weights: chunk c = 8 consecutive weights of the row, one vec4<u32> (fp16/bf16) or two (f32);
 * step u of an unrolled K loop reads chunk c + off */
static void emit_gemv_fp_loads(sb *b, const wg_kformat *f, int R, int u, int off)
{
    out(b, "      let x%d_0 = x[(c + %du) * 2u];\n      let x%d_1 = x[(c + %du) * 2u + 1u];\n", u, off, u, off);
    for (int rr = 0; rr < R; rr++) {
        if (f->kind == 0)
            out(b, "      let q%d_%d = q[(r%d * p.K) / 4u + 2u * (c + %du)];\n"
                   "      let p%d_%d = q[(r%d * p.K) / 4u + 2u * (c + %du) + 1u];\n", rr, u, rr, off, rr, u, rr, off);
        else
            out(b, "      let q%d_%d = q[(r%d * p.K) / 8u + c + %du];\n", rr, u, rr, off);
    }
}

static void emit_gemv_row_fp(sb *b, const wg_kformat *f, int rr, int u)
{
    if (f->kind == 0) {
        out(b, "      a%d += dot(bitcast<vec4<f32>>(q%d_%d), x%d_0) + dot(bitcast<vec4<f32>>(p%d_%d), x%d_1);\n",
            rr, rr, u, u, rr, u, u);
        return;
    }
    if (f->kind == 1)
        out(b, "      a%d += dot(vec4<f32>(unpack2x16float(q%d_%d.x), unpack2x16float(q%d_%d.y)), x%d_0)"
               " + dot(vec4<f32>(unpack2x16float(q%d_%d.z), unpack2x16float(q%d_%d.w)), x%d_1);\n",
            rr, rr, u, rr, u, u, rr, u, rr, u, u);
    else
        out(b, "      {\n        let lo = bitcast<vec4<f32>>(q%d_%d << vec4<u32>(16u));\n"
               "        let hi = bitcast<vec4<f32>>(q%d_%d & vec4<u32>(0xffff0000u));\n"
               "        a%d += dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), x%d_0) + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), x%d_1);\n      }\n",
            rr, u, rr, u, rr, u, u);
}

/* scalar fallback for fp weights when K is not a multiple of 8 (vector loads would straddle rows) */
static void emit_gemv_fp_scalar(sb *b, const wg_kformat *f, int R, int TH)
{
    out(b, "  } else {\n    for (var k = lid; k < p.K; k += %du) {\n      let xk = x[k >> 2u][k & 3u];\n", TH);
    for (int rr = 0; rr < R; rr++) {
        out(b, "      { let e = r%d * p.K + k; ", rr);
        if (f->kind == 0)
            out(b, "a%d += bitcast<f32>(q[e >> 2u][e & 3u]) * xk; }\n", rr);
        else if (f->kind == 1)
            out(b, "let u = q[e >> 3u][(e >> 1u) & 3u]; a%d += unpack2x16float(u)[e & 1u] * xk; }\n", rr);
        else
            out(b, "let u = q[e >> 3u][(e >> 1u) & 3u]; a%d += bitcast<f32>(((u >> ((e & 1u) * 16u)) & 0xffffu) << 16u) * xk; }\n", rr);
    }
    out(b, "    }\n  }\n");
}

/* a GEMV's entry point: TH invocations, R rows per workgroup from row0 (workgroups past 65535
 * continue in y) */
static void emit_gemv_entry(sb *b, int TH, int R, bool subgroups)
{
    out(b, "@compute @workgroup_size(%d)\n", TH);
    out(b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n"
           "        @builtin(local_invocation_index) lid: u32%s) {\n",
        subgroups ? ",\n        @builtin(subgroup_invocation_id) sgi: u32, @builtin(subgroup_size) sgs: u32" : "");
    out(b, "  let row0 = (wid.y * nwg.x + wid.x) * %du;\n", R);
}

/* red(i): the reduction scratch; integer GEMV reuses its x tile (xs) for it */
#define RED(b, xs, fmt, ...) out(b, xs ? "xs[(" fmt ") >> 2u][(" fmt ") & 3u]" : "red[" fmt "]", __VA_ARGS__)
static void emit_gemv_reduce(sb *b, int R, int TH, bool subgroups, bool xs)
{
    if (subgroups) {
        /* subgroup sums, then one partial per subgroup in workgroup memory (subgroups of >= 4) */
        out(b, "  let nsg = (%du + sgs - 1u) / sgs;\n  let sg = lid / sgs;\n", TH);
        for (int rr = 0; rr < R; rr++)
            out(b, "  let t%d = subgroupAdd(a%d);\n", rr, rr);
        out(b, "  workgroupBarrier();\n  if (sgi == 0u) {\n");
        for (int rr = 0; rr < R; rr++) {
            out(b, "    ");
            RED(b, xs, "%du + sg", rr * (TH / 4), rr * (TH / 4));
            out(b, " = t%d;\n", rr);
        }
        out(b, "  }\n  workgroupBarrier();\n");
        out(b, "  if (lid < %du) {\n    var t = 0.0;\n", R);
        out(b, "    for (var i = 0u; i < nsg; i++) { t += ");
        RED(b, xs, "lid * %du + i", TH / 4, TH / 4);
        out(b, "; }\n    if (row0 + lid < p.rows) { y[row0 + lid] = t; }\n  }\n}\n");
        return;
    }
    out(b, "  workgroupBarrier();\n");
    for (int rr = 0; rr < R; rr++) {
        out(b, "  ");
        RED(b, xs, "%du + lid", rr * TH, rr * TH);
        out(b, " = a%d;\n", rr);
    }
    out(b, "  workgroupBarrier();\n");
    out(b, "  for (var w = %du; w > 0u; w >>= 1u) {\n    if (lid < w) {\n", TH / 2);
    for (int rr = 0; rr < R; rr++) {
        out(b, "      ");
        RED(b, xs, "%du + lid", rr * TH, rr * TH);
        out(b, " += ");
        RED(b, xs, "%du + lid + w", rr * TH, rr * TH);
        out(b, ";\n");
    }
    out(b, "    }\n    workgroupBarrier();\n  }\n");
    out(b, "  if (lid < %du && row0 + lid < p.rows) { y[row0 + lid] = ", R);
    RED(b, xs, "lid * %du", TH, TH);
    out(b, "; }\n}\n");
}

/* ---- the exact f32 integer GEMV
 * Each code is taken *in place*: code e of a chunk sits at bit sh of its word; with a base of
 * the word itself (sh + bits <= 23) or the word shifted right by 16 (sh >= 16), the masked bits
 * OR-ed into 2^23 give the float 2^23 + code * 2^s exactly (s = the code's offset in its base,
 * s + bits <= 23), and subtracting 2^23 + zero * 2^s gives (code - zero) * 2^s exactly. The
 * inputs are staged pre-scaled by 2^-s, so every product (code - zero) * x is the same f32 as
 * the unscaled one (scaling by a power of two commutes with rounding). Per weight that is one
 * AND-OR, one subtract and one FMA; the group scale is applied once per chunk (a vec4 FMA). */
typedef struct code_src {
    int word, shift;  /* base: word `word` >> shift (0 or 16); -1: straddles words */
    int sh;           /* straddling: bit offset in `word` */
    int s;            /* offset of the code in its base */
} code_src;

static code_src code_source(int bits, int e)
{
    int pos = e * bits, w = pos / 32, sh = pos % 32;
    code_src c = {w, 0, sh, 0};
    if (sh + bits > 32)
        c.shift = -1;
    else if (sh >= 16)
        c.shift = 16, c.s = sh - 16;
    else
        c.s = sh;
    return c;
}

static void base_expr(char *dst, size_t n, const char *w, code_src c)
{
    if (c.shift < 0)
        snprintf(dst, n, "((%s%d >> %du) | (%s%d << %du))", w, c.word, c.sh, w, c.word + 1, 32 - c.sh);
    else if (c.shift)
        snprintf(dst, n, "%sh%d", w, c.word);
    else
        snprintf(dst, n, "%s%d", w, c.word);
}

/* chunks per thread per x tile (the tile is U * threads chunks, 16 KiB of x at most) */
static int gemv_int_unroll(const wg_kshape *s)
{
    int u = 8 / s->gemv_rows, m = 128 / s->gemv_threads;
    if (u > m) u = m;
    if (u > 4) u = 4;
    return u < 1 ? 1 : u;
}

static void emit_gemv_int_row(sb *b, const wg_kformat *f, int rr, int u)
{
    int bits = f->bits;
    char gi[96], rn[16], cn[16], w[24], be[4][128];
    snprintf(rn, sizeof rn, "r%d", rr);
    snprintf(cn, sizeof cn, "ch%d", u);
    group_expr(gi, sizeof gi, f, rn, cn);
    snprintf(w, sizeof w, "w%d_%d_", rr, u);
    out(b, "      {\n");
    /* the high halves the codes of this format need */
    bool hi[8] = {false};
    for (int e = 0; e < 32; e++) {
        code_src c = code_source(bits, e);
        if (c.shift == 16)
            hi[c.word] = true;
    }
    for (int j = 0; j < bits; j++)
        if (hi[j])
            out(b, "        let %sh%d = %s%d >> 16u;\n", w, j, w, j);
    if (f->scale_f32)
        out(b, "        let d = bitcast<f32>(sw%d_%d);\n", rr, u);
    else
        out(b, "        let d = unpack2x16float(sw%d_%d)[(%s) & 1u];\n", rr, u, gi);
    if (!f->sym)
        out(b, "        let zf = f32((zw%d_%d >> (((%s) & 3u) * 8u)) & 0xffu);\n", rr, u, gi);
    /* asymmetric: 2^23 + zero * 2^s per distinct pattern of offsets s */
    int pat[8][4], np = 0, pid[8];
    for (int i = 0; i < 8; i++) {
        int sv[4];
        for (int m = 0; m < 4; m++)
            sv[m] = code_source(bits, 4 * i + m).s;
        pid[i] = -1;
        for (int k = 0; k < np; k++)
            if (!memcmp(pat[k], sv, sizeof sv))
                pid[i] = k;
        if (pid[i] < 0) {
            memcpy(pat[np], sv, sizeof sv);
            pid[i] = np++;
        }
    }
    if (!f->sym)
        for (int k = 0; k < np; k++)
            out(b, "        let o%d = fma(vec4<f32>(zf), vec4<f32>(%d.0, %d.0, %d.0, %d.0), vec4<f32>(8388608.0));\n",
                k, 1 << pat[k][0], 1 << pat[k][1], 1 << pat[k][2], 1 << pat[k][3]);
    out(b, "        var t = vec4<f32>(0.0);\n");
    for (int i = 0; i < 8; i++) {
        int sv[4];
        for (int m = 0; m < 4; m++) {
            code_src c = code_source(bits, 4 * i + m);
            base_expr(be[m], sizeof be[m], w, c);
            sv[m] = c.s;
        }
        unsigned mk = (1u << bits) - 1;
        char o[160];
        if (f->sym) {
            int z = 1 << (bits - 1);
            snprintf(o, sizeof o, "vec4<f32>(%d.0, %d.0, %d.0, %d.0)", 8388608 + (z << sv[0]),
                     8388608 + (z << sv[1]), 8388608 + (z << sv[2]), 8388608 + (z << sv[3]));
        } else
            snprintf(o, sizeof o, "o%d", pid[i]);
        out(b, "        t = fma(bitcast<vec4<f32>>((vec4<u32>(%s, %s, %s, %s) & vec4<u32>(%uu, %uu, %uu, %uu))"
               " | vec4<u32>(0x4b000000u)) - %s, x%d_%d, t);\n",
            be[0], be[1], be[2], be[3], mk << sv[0], mk << sv[1], mk << sv[2], mk << sv[3], o, u, i);
    }
    out(b, "        v%d = fma(vec4<f32>(d), t, v%d);\n      }\n", rr, rr);
}

/* the input pre-scale of vec4 i of a chunk: 2^-s of each of its four codes */
static void prescale_expr(char *dst, size_t n, int bits, int i)
{
    int l = snprintf(dst, n, "vec4<f32>(");
    for (int m = 0; m < 4; m++) {
        int sv = code_source(bits, 4 * i + m).s;
        if (sv)
            l += snprintf(dst + l, n - (size_t)l, "%.17g", 1.0 / (double)(1 << sv));
        else
            l += snprintf(dst + l, n - (size_t)l, "1.0");
        l += snprintf(dst + l, n - (size_t)l, "%s", m < 3 ? ", " : ")");
    }
}

/* the words, scale word and zero word of chunk ch<u> of rows r0..r<R-1>, u < U: all loads of a
 * step issued before the first use */
static void emit_gemv_int_loads(sb *b, const wg_kformat *f, int R, int U)
{
    int bits = f->bits, vw = data_vec(f), nv = bits / vw;
    for (int rr = 0; rr < R; rr++)
        for (int u = 0; u < U; u++) {
            char gi[96], rn[16], cn[16];
            snprintf(rn, sizeof rn, "r%d", rr);
            snprintf(cn, sizeof cn, "ch%d", u);
            group_expr(gi, sizeof gi, f, rn, cn);
            out(b, "    let qb%d_%d = (r%d * nch + ch%d) * %du;\n", rr, u, rr, u, nv);
            for (int m = 0; m < nv; m++)
                out(b, "    let qv%d_%d_%d = q[qb%d_%d + %du];\n", rr, u, m, rr, u, m);
            static const char comp[4] = {'x', 'y', 'z', 'w'};
            for (int j = 0; j < bits; j++) {
                if (vw == 1)
                    out(b, "    let w%d_%d_%d = qv%d_%d_%d;\n", rr, u, j, rr, u, j);
                else
                    out(b, "    let w%d_%d_%d = qv%d_%d_%d.%c;\n", rr, u, j, rr, u, j / vw, comp[j % vw]);
            }
            if (f->scale_f32)
                out(b, "    let sw%d_%d = s[%s];\n", rr, u, gi);
            else
                out(b, "    let sw%d_%d = s[(%s) >> 1u];\n", rr, u, gi);
            if (!f->sym)
                out(b, "    let zw%d_%d = z[(%s) >> 2u];\n", rr, u, gi);
        }
}

static void emit_gemv_int(sb *b, const wg_kformat *f, const wg_kshape *s, const wg_kvariant *v)
{
    int TH = s->gemv_threads, R = s->gemv_rows, U = gemv_int_unroll(s), T = U * TH;
    int bits = f->bits;
    out(b, "var<workgroup> xs: array<vec4<f32>, %d>;\n", 8 * T);
    emit_gemv_entry(b, TH, R, v->subgroups);
    for (int rr = 0; rr < R; rr++)
        out(b, "  let r%d = min(row0 + %du, p.rows - 1u);\n  var v%d = vec4<f32>(0.0);\n", rr, rr, rr);
    out(b, "  let nch = p.Kp / 32u;\n  let gpr = p.Kp / p.G;\n");
    /* the pre-scale of the vec4s this thread stages: e & 7 == lid & 7 (threads % 8 == 0) */
    char ps[8][160];
    bool same = true;
    for (int i = 0; i < 8; i++) {
        prescale_expr(ps[i], sizeof ps[i], bits, i);
        same = same && !strcmp(ps[i], ps[0]);
    }
    if (same)
        out(b, "  let ps = %s;\n", ps[0]);
    else {
        out(b, "  var pst = array<vec4<f32>, 8>(");
        for (int i = 0; i < 8; i++)
            out(b, "%s%s", ps[i], i < 7 ? ", " : ");\n");
        out(b, "  let ps = pst[lid & 7u];\n");
    }
    out(b, "  for (var c0 = 0u; c0 < nch; c0 += %du) {\n", T);
    /* this thread's chunks: words, scale and zero words loaded before the barrier, so the
     * loads are in flight while the tile of x is staged */
    for (int u = 0; u < U; u++)
        out(b, "    let ch%d = min(c0 + lid + %du, nch - 1u);\n", u, u * TH);
    emit_gemv_int_loads(b, f, R, U);
    out(b, "    workgroupBarrier();\n");
    out(b, "    for (var e = lid; e < %du; e += %du) {\n", 8 * T, TH);
    out(b, "      let j = e & 7u;\n      let g = c0 * 8u + e;\n");
    out(b, "      xs[j * %du + ((e >> 3u) ^ j)] = select(vec4<f32>(0.0), x[min(g, nch * 8u - 1u)], g < nch * 8u) * ps;\n    }\n", T);
    out(b, "    workgroupBarrier();\n");
    for (int u = 0; u < U; u++) {
        out(b, "    if (c0 + lid + %du < nch) {\n", u * TH);
        for (int i = 0; i < 8; i++)
            out(b, "      let x%d_%d = xs[%du + ((lid + %du) ^ %du)];\n", u, i, i * T, u * TH, i);
        for (int rr = 0; rr < R; rr++)
            emit_gemv_int_row(b, f, rr, u);
        out(b, "    }\n");
    }
    out(b, "  }\n");
    for (int rr = 0; rr < R; rr++)
        out(b, "  let a%d = (v%d.x + v%d.y) + (v%d.z + v%d.w);\n", rr, rr, rr, rr, rr);
    emit_gemv_reduce(b, R, TH, v->subgroups, true);
}

/* the K loop of a GEMV without an x tile: thread lid takes chunks lid, lid + TH, ...; steps of U
 * chunks while all U are inside the row, then single chunks (step(b, f, R, U, TH) emits one step
 * over chunks c + u * TH, u < U) */
typedef void (*gemv_step_fn)(sb *b, const wg_kformat *f, int R, int U, int TH);
static void emit_gemv_steps(sb *b, const wg_kformat *f, int R, int U, int TH, gemv_step_fn step)
{
    out(b, "  var c = lid;\n");
    if (U > 1) {
        out(b, "  for (; c + %du < nch; c += %du) {\n", (U - 1) * TH, U * TH);
        step(b, f, R, U, TH);
        out(b, "  }\n");
    }
    out(b, "  for (; c < nch; c += %du) {\n", TH);
    step(b, f, R, 1, TH);
    out(b, "  }\n");
}

/* one step of the direct integer GEMV: chunks c + u * threads (u < U, all inside the row) */
static void emit_gemv_int_direct_step(sb *b, const wg_kformat *f, int R, int U, int TH)
{
    for (int u = 0; u < U; u++)
        out(b, "    let ch%d = c + %du;\n", u, u * TH);
    emit_gemv_int_loads(b, f, R, U);
    for (int u = 0; u < U; u++) {
        for (int i = 0; i < 8; i++) {
            char ps[160];
            prescale_expr(ps, sizeof ps, f->bits, i);
            out(b, "    let x%d_%d = x[ch%d * 8u + %du] * %s;\n", u, i, u, i, ps);
        }
        for (int rr = 0; rr < R; rr++)
            emit_gemv_int_row(b, f, rr, u);
    }
}

/* the direct integer GEMV: each thread reads its chunks' x straight from the buffer (the same x
 * serves its R rows from registers; the threads of a workgroup share it through the cache), U
 * chunks of every row loaded per step, and no barrier until the reduction */
static void emit_gemv_int_direct(sb *b, const wg_kformat *f, const wg_kshape *s, const wg_kvariant *v)
{
    int TH = s->gemv_threads, R = s->gemv_rows, U = s->gemv_unroll;
    out(b, "var<workgroup> red: array<f32, %d>;\n", v->subgroups ? R * (TH / 4) : R * TH);
    emit_gemv_entry(b, TH, R, v->subgroups);
    for (int rr = 0; rr < R; rr++)
        out(b, "  let r%d = min(row0 + %du, p.rows - 1u);\n  var v%d = vec4<f32>(0.0);\n", rr, rr, rr);
    out(b, "  let nch = p.Kp / 32u;\n  let gpr = p.Kp / p.G;\n");
    emit_gemv_steps(b, f, R, U, TH, emit_gemv_int_direct_step);
    for (int rr = 0; rr < R; rr++)
        out(b, "  let a%d = (v%d.x + v%d.y) + (v%d.z + v%d.w);\n", rr, rr, rr, rr, rr);
    emit_gemv_reduce(b, R, TH, v->subgroups, false);
}

/* fp weights: U iterations of the K loop per step, their loads issued before the first use */
static int gemv_fp_unroll(const wg_kformat *f, const wg_kshape *s)
{
    /* at most 16 vec4 loads in flight per thread: more spilled registers for f32 (H200: 64 x 8
     * f32 with two steps ran 14 % slower than one) */
    int u = 16 / (s->gemv_rows * (f->kind == 0 ? 2 : 1));
    return u < 1 ? 1 : u > 4 ? 4 : u;
}

static void emit_gemv(sb *b, const wg_kformat *f, const wg_kshape *s, const wg_kvariant *v)
{
    int TH = s->gemv_threads, R = s->gemv_rows;
    const char *T = v->f16 ? "f16" : "f32";
    bool integer = f->kind == 3;
    if (integer && !v->f16) {
        if (s->gemv_unroll)
            emit_gemv_int_direct(b, f, s, v);
        else
            emit_gemv_int(b, f, s, v);
        return;
    }
    if (integer) /* x tile, XOR-swizzled: coalesced stores, conflict-free vec4 reads; reused for the reduction */
        out(b, "var<workgroup> xs: array<vec4<f32>, %d>;\n", 8 * TH);
    else
        out(b, "var<workgroup> red: array<f32, %d>;\n", v->subgroups ? R * (TH / 4) : R * TH);
    emit_gemv_entry(b, TH, R, v->subgroups);
    /* rows past the end are computed on the last row (keeps control flow uniform), never written */
    for (int rr = 0; rr < R; rr++)
        out(b, "  let r%d = min(row0 + %du, p.rows - 1u);\n  var a%d = 0.0;\n", rr, rr, rr);
    if (f->kind == 3) {
        out(b, "  let nch = p.Kp / 32u;\n  let gpr = p.Kp / p.G;\n");
        /* per tile of TH chunks: the tile's x (TH x 32 values) staged once in workgroup memory,
         * so a thread's 32 values cost 8 conflict-free reads instead of 8 scattered global loads */
        out(b, "  for (var c0 = 0u; c0 < nch; c0 += %du) {\n    workgroupBarrier();\n", TH);
        out(b, "    for (var e = lid; e < %du; e += %du) {\n", 8 * TH, TH);
        out(b, "      let j = e & 7u;\n      let g = c0 * 8u + e;\n");
        out(b, "      xs[j * %du + ((e >> 3u) ^ j)] = select(vec4<f32>(0.0), x[min(g, nch * 8u - 1u)], g < nch * 8u);\n    }\n", TH);
        out(b, "    workgroupBarrier();\n    let c = c0 + lid;\n    if (c < nch) {\n");
        for (int i = 0; i < 8; i++)
            out(b, "    let x%d = xs[%du + (lid ^ %du)];\n", i, i * TH, i);
        for (int rr = 0; rr < R; rr++)
            emit_gemv_row_int(b, f, rr, T);
        out(b, "    }\n  }\n");
    } else {
        int U = gemv_fp_unroll(f, s);
        out(b, "  if (p.K %% 8u == 0u) {\n    let n8 = p.K / 8u;\n    var c = lid;\n");
        if (U > 1) {
            out(b, "    for (; c + %du < n8; c += %du) {\n", (U - 1) * TH, U * TH);
            for (int u = 0; u < U; u++)
                emit_gemv_fp_loads(b, f, R, u, u * TH);
            for (int u = 0; u < U; u++)
                for (int rr = 0; rr < R; rr++)
                    emit_gemv_row_fp(b, f, rr, u);
            out(b, "    }\n");
        }
        out(b, "    for (; c < n8; c += %du) {\n", TH);
        emit_gemv_fp_loads(b, f, R, 0, 0);
        for (int rr = 0; rr < R; rr++)
            emit_gemv_row_fp(b, f, rr, 0);
        out(b, "    }\n");
        emit_gemv_fp_scalar(b, f, R, TH);
    }
    emit_gemv_reduce(b, R, TH, v->subgroups, integer);
}

/* ---------------------------------------------------------------- GEMM */

/* Dequantize chunk c of the tile's rows into ws[k][m] (k-major, m contiguous). Integer formats:
 * NP = threads / BM threads share a row, each converting 32 / NP codes (straight-line code per
 * part); a row index past the end gives zeros. */
static void emit_gemm_wtile(sb *b, const wg_kformat *f, int BM, int NT)
{
    int NP = NT >= BM ? NT / BM : 1, E = 32 / (NP > 32 ? 32 : NP);
    if (NP > 32)
        NP = 32;
    out(b, "    for (var t = lid; t < %du; t += %du) {\n", BM * NP, NT);
    out(b, "      let m = t %% %du;\n      let part = t / %du;\n      let wr = row0 + m;\n", BM, BM);
    out(b, "      let mv = m / 4u;\n      let mc = m %% 4u;\n");
    if (f->kind == 3) {
        char gi[96], w[64], ce[96];
        group_expr(gi, sizeof gi, f, "rr", "c");
        out(b, "      let rr = min(wr, p.rows - 1u);\n      let ok = wr < p.rows;\n");
        out(b, "      let base = (rr * nch + c) * %du;\n", f->bits / data_vec(f));
        for (int j = 0; j < f->bits; j++) {
            word_expr(w, sizeof w, f, "base", j);
            out(b, "      let w%d = %s;\n", j, w);
        }
        out(b, "      let gi = %s;\n      let d = select(0.0, scale(gi), ok);\n      let o = offset(gi);\n", gi);
        for (int pi = 0; pi < NP; pi++) {
            out(b, "      %sif (part == %du) {\n", pi ? "else " : "", pi);
            for (int i = pi * E; i < pi * E + E; i++) {
                code_expr(ce, sizeof ce, f->bits, i);
                out(b, "        ws[%du + mv][mc] = d * (bitcast<f32>((%s & %uu) | 0x4b000000u) - o);\n",
                    i * (BM / 4), ce, (1u << f->bits) - 1);
            }
            out(b, "      }\n");
        }
    } else {
        out(b, "      for (var i = part * %du; i < part * %du + %du; i++) {\n", E, E, E);
        out(b, "        let k = c * 32u + i;\n        var wv = 0.0;\n");
        out(b, "        if (wr < p.rows && k < p.K) {\n          let e = wr * p.K + k;\n");
        if (f->kind == 0)
            out(b, "          wv = bitcast<f32>(q[e >> 2u][e & 3u]);\n");
        else if (f->kind == 1)
            out(b, "          wv = unpack2x16float(q[e >> 3u][(e >> 1u) & 3u])[e & 1u];\n");
        else
            out(b, "          wv = bitcast<f32>(((q[e >> 3u][(e >> 1u) & 3u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u);\n");
        out(b, "        }\n        ws[i * %du + mv][mc] = wv;\n      }\n", BM / 4);
    }
    out(b, "    }\n");
}

/* The inputs' chunk c into xs[k][n]: vec4 loads along k when K % 4 == 0, scalar otherwise. */
static void emit_gemm_xtile(sb *b, int BN, int NT)
{
    out(b, "    if (p.K %% 4u == 0u) {\n");
    out(b, "      for (var t = lid; t < %du; t += %du) {\n", BN * 8, NT);
    out(b, "        let nn = t %% %du;\n        let kq = t / %du;\n", BN, BN);
    out(b, "        let gm = col0 + nn;\n        let k = c * 32u + kq * 4u;\n");
    out(b, "        var v = vec4<f32>(0.0);\n");
    out(b, "        if (gm < p.n && k < p.K) { v = x[(gm * p.K + k) / 4u]; }\n");
    for (int j = 0; j < 4; j++)
        out(b, "        xs[(kq * 4u + %du) * %du + nn / 4u][nn %% 4u] = v[%d];\n", j, BN / 4, j);
    out(b, "      }\n    } else {\n");
    out(b, "      for (var t = lid; t < %du; t += %du) {\n", BN * 32, NT);
    out(b, "        let nn = t %% %du;\n        let kk = t / %du;\n", BN, BN);
    out(b, "        let gm = col0 + nn;\n        let k = c * 32u + kk;\n        var v = 0.0;\n");
    out(b, "        if (gm < p.n && k < p.K) { let e = gm * p.K + k; v = x[e >> 2u][e & 3u]; }\n");
    out(b, "        xs[kk * %du + nn / 4u][nn %% 4u] = v;\n      }\n    }\n", BN / 4);
}

static void emit_gemm(sb *b, const wg_kformat *f, const wg_kshape *s, const wg_kvariant *v)
{
    int BM = s->gemm_bm, BN = s->gemm_bn, TM = s->gemm_tm, TN = s->gemm_tn;
    int MT = BM / TM, NTN = BN / TN, NT = MT * NTN;
    const char *T = v->f16 ? "f16" : "f32";
    out(b, "var<workgroup> ws: array<vec4<f32>, %d>;  // 32 k x %d rows, dequantized once per tile\n", 8 * BM, BM);
    out(b, "var<workgroup> xs: array<vec4<f32>, %d>;  // 32 k x %d inputs\n", 8 * BN, BN);
    out(b, "@compute @workgroup_size(%d)\n", NT);
    out(b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {\n");
    out(b, "  let tm = lid %% %du;\n  let tn = lid / %du;\n", MT, MT);
    out(b, "  let row0 = wid.x * %du;\n  let col0 = wid.y * %du;\n", BM, BN);
    if (f->kind == 3)
        out(b, "  let nch = p.Kp / 32u;\n  let gpr = p.Kp / p.G;\n");
    else
        out(b, "  let nch = (p.K + 31u) / 32u;\n");
    /* accumulators: acc_j_i holds rows (tm + i*MT)*4 .. +3 of input column (tn + (j/4)*NTN)*4 + j%4 */
    for (int j = 0; j < TN; j++)
        for (int i = 0; i < TM / 4; i++)
            out(b, "  var acc_%d_%d = vec4<%s>(0.0);\n", j, i, T);
    out(b, "  for (var c = 0u; c < nch; c++) {\n");
    emit_gemm_wtile(b, f, BM, NT);
    emit_gemm_xtile(b, BN, NT);
    out(b, "    workgroupBarrier();\n");
    out(b, "    for (var k = 0u; k < 32u; k++) {\n");
    for (int i = 0; i < TM / 4; i++)
        out(b, "      let a%d = vec4<%s>(ws[k * %du + tm + %du]);\n", i, T, BM / 4, i * MT);
    for (int j4 = 0; j4 < TN / 4; j4++)
        out(b, "      let b%d = vec4<%s>(xs[k * %du + tn + %du]);\n", j4, T, BN / 4, j4 * NTN);
    for (int j = 0; j < TN; j++)
        for (int i = 0; i < TM / 4; i++)
            out(b, "      acc_%d_%d = fma(a%d, vec4<%s>(b%d[%d]), acc_%d_%d);\n", j, i, i, T, j / 4, j % 4, j, i);
    out(b, "    }\n    workgroupBarrier();\n  }\n");
    for (int j = 0; j < TN; j++) {
        out(b, "  {\n    let m = col0 + (tn + %du) * 4u + %du;\n", (j / 4) * NTN, j % 4);
        out(b, "    if (m < p.n) {\n");
        for (int i = 0; i < TM / 4; i++) {
            out(b, "      { let r = row0 + (tm + %du) * 4u;\n", i * MT);
            for (int e = 0; e < 4; e++)
                out(b, "        if (r + %du < p.rows) { y[m * p.rows + r + %du] = f32(acc_%d_%d[%d]); }\n",
                    e, e, j, i, e);
            out(b, "      }\n");
        }
        out(b, "    }\n  }\n");
    }
    out(b, "}\n");
}

int wg_wgsl_emit(wg_kernel_kind kind, const wg_kformat *f, const wg_kshape *s,
                 const wg_kvariant *v, char *buf, size_t n)
{
    if (!wg_kshape_valid(kind, s) || (v->subgroups && !wg_kernel_has_subgroups(kind)) ||
        (f->kind == 3 && (f->bits < 2 || f->bits > 8 || f->bits == 7)))
        return -1;
    sb b = {buf, n, 0, false};
    /* dequantize and gather are exact conversions: f16 arithmetic has no meaning there */
    wg_kvariant vv = *v;
    if (kind == WG_K_DEQUANT || kind == WG_K_GATHER)
        vv.f16 = false;
    emit_header(&b, kind, f, s, &vv);
    switch (kind) {
    case WG_K_DEQUANT: emit_dequant(&b, f, s, false); break;
    case WG_K_GATHER: emit_dequant(&b, f, s, true); break;
    case WG_K_GEMV: emit_gemv(&b, f, s, &vv); break;
    case WG_K_GEMM: emit_gemm(&b, f, s, &vv); break;
    default: return -1;
    }
    return b.overflow ? -1 : (int)b.len;
}

/* ---------------------------------------------------------------- int8-activation GEMV
 * The approximate fast path (as llama.cpp's q8_1 and ORT's accuracy level 4): a pre-pass
 * (wg_wgsl_emit_xq8) quantizes x per block of 32 to int8 q with d = max|x| / 127 and writes
 * (d, d * sum(q)) per block; the GEMV dots each chunk's codes, unpacked into packed bytes with
 * two ALU ops per 8 codes, with q through dot4I8Packed (WGSL language feature
 * packed_4x8_integer_dot_product): y += s * (d * dot(c, q) - zero * d * sum(q)).
 * 4-bit codes: word j of a chunk holds elements 8j..8j+7 at bits 4k, so (w & 0x0f0f0f0f) is
 * elements 8j+{0,2,4,6} and (w >> 4) & 0x0f0f0f0f elements 8j+{1,3,5,7}; the pre-pass writes
 * q in that order (xq word 2j: even elements, 2j+1: odd). 8-bit codes: w ^ 0x80808080 is
 * code - 128 as signed bytes, q in natural order. */
bool wg_gemv_dot8_supported(const wg_kformat *f)
{
    return f->kind == 3 && (f->bits == 4 || f->bits == 8);
}

static void emit_dot8_bindings(sb *b, const wg_kformat *f)
{
    out(b, "struct Params { rows: u32, K: u32, Kp: u32, n: u32, G: u32, pad0: u32, pad1: u32, pad2: u32 }\n");
    out(b, "@group(0) @binding(0) var<storage, read> q: array<vec4<u32>>;\n");
    out(b, "@group(0) @binding(1) var<storage, read> s: array<u32>;\n");
    if (!f->sym)
        out(b, "@group(0) @binding(2) var<storage, read> z: array<u32>;\n");
    out(b, "@group(0) @binding(3) var<storage, read> xq: array<vec4<u32>>;\n");
    out(b, "@group(0) @binding(4) var<storage, read_write> y: array<f32>;\n");
    out(b, "@group(0) @binding(5) var<uniform> p: Params;\n");
    out(b, "@group(0) @binding(6) var<storage, read> xd: array<vec2<f32>>;\n");
}

/* one step of the int8-activation GEMV: chunks c + u * threads (u < U, all inside the row), every
 * load of the step (weights, scale and zero words, then the activations) before the first use */
static void emit_dot8_step(sb *b, const wg_kformat *f, int R, int U, int TH)
{
    int nv = f->bits / 4;
    for (int u = 0; u < U; u++) {
        out(b, "    let ch%d = c + %du;\n", u, u * TH);
        for (int rr = 0; rr < R; rr++) {
            char gi[96], rn[16], cn[16];
            snprintf(rn, sizeof rn, "r%d", rr);
            snprintf(cn, sizeof cn, "ch%d", u);
            group_expr(gi, sizeof gi, f, rn, cn);
            out(b, "    let gi%d_%d = %s;\n", rr, u, gi);
            for (int m = 0; m < nv; m++)
                out(b, "    let q%d_%d_%d = q[(r%d * nch + ch%d) * %du + %du];\n", rr, u, m, rr, u, nv, m);
            out(b, "    let sw%d_%d = s[gi%d_%d%s];\n", rr, u, rr, u, f->scale_f32 ? "" : " >> 1u");
            if (!f->sym)
                out(b, "    let zw%d_%d = z[gi%d_%d >> 2u];\n", rr, u, rr, u);
        }
    }
    for (int u = 0; u < U; u++)
        out(b, "    let xa%d = xq[2u * ch%d];\n    let xb%d = xq[2u * ch%d + 1u];\n    let dd%d = xd[ch%d];\n", u, u, u, u, u, u);
    for (int u = 0; u < U; u++)
        for (int rr = 0; rr < R; rr++) {
            out(b, "    {\n      let gi = gi%d_%d;\n      let xa = xa%d;\n      let xb = xb%d;\n", rr, u, u, u);
            if (f->scale_f32)
                out(b, "      let sc = bitcast<f32>(sw%d_%d);\n", rr, u);
            else
                out(b, "      let sc = unpack2x16float(sw%d_%d)[gi & 1u];\n", rr, u);
            if (f->bits == 4) {
                if (f->sym)
                    out(b, "      let zf = 8.0;\n");
                else
                    out(b, "      let zf = f32((zw%d_%d >> ((gi & 3u) * 8u)) & 0xffu);\n", rr, u);
                out(b, "      let lo = q%d_%d_0 & vec4<u32>(0x0f0f0f0fu);\n      let hi = (q%d_%d_0 >> vec4<u32>(4u)) & vec4<u32>(0x0f0f0f0fu);\n", rr, u, rr, u);
                out(b, "      let dt = (dot4I8Packed(lo.x, xa.x) + dot4I8Packed(hi.x, xa.y)) + (dot4I8Packed(lo.y, xa.z) + dot4I8Packed(hi.y, xa.w))"
                       " + (dot4I8Packed(lo.z, xb.x) + dot4I8Packed(hi.z, xb.y)) + (dot4I8Packed(lo.w, xb.z) + dot4I8Packed(hi.w, xb.w));\n");
            } else {
                if (f->sym)
                    out(b, "      let zf = 0.0;\n");
                else
                    out(b, "      let zf = f32((zw%d_%d >> ((gi & 3u) * 8u)) & 0xffu) - 128.0;\n", rr, u);
                out(b, "      let u0 = q%d_%d_0 ^ vec4<u32>(0x80808080u);\n      let u1 = q%d_%d_1 ^ vec4<u32>(0x80808080u);\n", rr, u, rr, u);
                out(b, "      let dt = (dot4I8Packed(u0.x, xa.x) + dot4I8Packed(u0.y, xa.y)) + (dot4I8Packed(u0.z, xa.z) + dot4I8Packed(u0.w, xa.w))"
                       " + (dot4I8Packed(u1.x, xb.x) + dot4I8Packed(u1.y, xb.y)) + (dot4I8Packed(u1.z, xb.z) + dot4I8Packed(u1.w, xb.w));\n");
            }
            out(b, "      a%d = fma(sc, fma(dd%d.x, f32(dt), -zf * dd%d.y), a%d);\n    }\n", rr, u, u, rr);
        }
}

int wg_wgsl_emit_gemv_dot8(const wg_kformat *f, const wg_kshape *s, bool subgroups, char *buf, size_t n)
{
    if (!wg_gemv_dot8_supported(f) || !wg_kshape_valid(WG_K_GEMV, s))
        return -1;
    sb b = {buf, n, 0, false};
    int TH = s->gemv_threads, R = s->gemv_rows, U = s->gemv_unroll > 1 ? s->gemv_unroll : 1;
    out(&b, "// wgpack gemv-dot8 q%dg%d%c%s: %d rows per workgroup, %d threads, int8 activations from the xq8 pre-pass (dot4I8Packed)%s\n",
        f->bits, f->group, f->sym ? 's' : 'a', f->scale_f32 ? ".s32" : "", R, TH, subgroups ? ", subgroup reduction" : "");
    if (subgroups)
        out(&b, "enable subgroups;\n");
    emit_dot8_bindings(&b, f);
    out(&b, "var<workgroup> red: array<f32, %d>;\n", subgroups ? R * (TH / 4) : R * TH);
    emit_gemv_entry(&b, TH, R, subgroups);
    for (int rr = 0; rr < R; rr++)
        out(&b, "  let r%d = min(row0 + %du, p.rows - 1u);\n  var a%d = 0.0;\n", rr, rr, rr);
    out(&b, "  let nch = p.Kp / 32u;\n  let gpr = p.Kp / p.G;\n");
    emit_gemv_steps(&b, f, R, U, TH, emit_dot8_step);
    emit_gemv_reduce(&b, R, TH, subgroups, false);
    return b.overflow ? -1 : (int)b.len;
}

int wg_wgsl_emit_xq8(bool nibble_order, char *buf, size_t n)
{
    sb b = {buf, n, 0, false};
    out(&b, "// wgpack xq8 %s: x (Kp f32, zero beyond K) to int8 per block of 32 with (d, d * sum) per block; one thread per block, 64 threads\n",
        nibble_order ? "nibble-order" : "linear");
    out(&b, "struct Params { rows: u32, K: u32, Kp: u32, n: u32, G: u32, pad0: u32, pad1: u32, pad2: u32 }\n");
    out(&b, "@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;\n");
    out(&b, "@group(0) @binding(4) var<storage, read_write> xq: array<u32>;\n");
    out(&b, "@group(0) @binding(5) var<uniform> p: Params;\n");
    out(&b, "@group(0) @binding(6) var<storage, read_write> xd: array<vec2<f32>>;\n");
    out(&b, "@compute @workgroup_size(64)\n");
    out(&b, "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n"
            "        @builtin(local_invocation_index) lid: u32) {\n");
    out(&b, "  let c = (wid.y * nwg.x + wid.x) * 64u + lid;\n  if (c >= p.Kp / 32u) { return; }\n");
    out(&b, "  var v: array<f32, 32>;\n  var amax = 0.0;\n");
    out(&b, "  for (var i = 0u; i < 8u; i++) {\n    let t = x[c * 8u + i];\n");
    out(&b, "    v[4u * i] = t.x; v[4u * i + 1u] = t.y; v[4u * i + 2u] = t.z; v[4u * i + 3u] = t.w;\n");
    out(&b, "    amax = max(amax, max(max(abs(t.x), abs(t.y)), max(abs(t.z), abs(t.w))));\n  }\n");
    out(&b, "  let id = select(0.0, 127.0 / amax, amax > 0.0);\n  var sum = 0;\n");
    out(&b, "  for (var w = 0u; w < 8u; w++) {\n    var word = 0u;\n    for (var k = 0u; k < 4u; k++) {\n");
    if (nibble_order) /* word w = 2j + h: elements 8j + h + 2k */
        out(&b, "      let e = (w >> 1u) * 8u + (w & 1u) + 2u * k;\n");
    else
        out(&b, "      let e = w * 4u + k;\n");
    out(&b, "      let qi = clamp(i32(round(v[e] * id)), -127, 127);\n      sum += qi;\n");
    out(&b, "      word |= (u32(qi) & 0xffu) << (8u * k);\n    }\n    xq[c * 8u + w] = word;\n  }\n");
    out(&b, "  xd[c] = vec2<f32>(amax / 127.0, (amax / 127.0) * f32(sum));\n}\n");
    return b.overflow ? -1 : (int)b.len;
}
