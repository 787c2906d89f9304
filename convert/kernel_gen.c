/* convert/kernel_gen.c — `wgpack kernel-gen --kind KIND --format FMT [shape] [--f16] [--subgroups]`:
 * prints one generated WGSL kernel. The tuner (tools/webgpu/tune.mjs) and the GPU benchmark
 * call it to try kernel shapes that no profile has yet. Shape: --profile NAME, or any of
 * --threads T --rows R (GEMV) and --bm --bn --tm --tn (GEMM) over the chrome profile's shape. */
#include "cli.h"
#include "../formats/wgsl.h"
#include "../quant/quant.h"
#include "../pack/pack.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static bool shape_of(const char *name, wg_kshape *s)
{
    int np;
    const wg_profile *pf = wg_profiles(&np);
    for (int i = 0; i < np; i++)
        if (!strcmp(pf[i].name, name)) {
            *s = pf[i].shape;
            return true;
        }
    return false;
}

static const char *kernel_gen_help =
    "usage: wgpack kernel-gen --kind KIND --format FMT [shape] [--f16] [--subgroups]\n"
    "  prints one generated WGSL kernel on stdout\n"
    "  --kind K          dequantize, gather, gemv or gemm\n"
    "  --format F        a quant format (q4g32s, q8g32s, fp16, ...)\n"
    "  --profile NAME    the shape of a profile (default chrome), changed by:\n"
    "  --threads T --rows R              GEMV workgroup threads and rows\n"
    "  --unroll U        integer GEMV: x read directly, U chunks per row per step (0: x tile)\n"
    "  --bm B --bn B --tm T --tn T       GEMM tile and per-thread tile\n"
    "  --f16             f16 arithmetic (shader-f16)\n"
    "  --subgroups       subgroup reductions\n"
    "  --dot8            GEMV on int8 activations (dot4I8Packed; 4- and 8-bit codes; approximate)\n"
    "  --kind xq8        the pre-pass of --dot8: x to int8 per block of 32 (order for --format)\n";

int cmd_kernel_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kind", required_argument, 0, 'k'}, {"format", required_argument, 0, 'f'},
        {"profile", required_argument, 0, 'p'}, {"threads", required_argument, 0, 't'},
        {"rows", required_argument, 0, 'r'}, {"unroll", required_argument, 0, 'u'}, {"bm", required_argument, 0, 'M'},
        {"bn", required_argument, 0, 'N'}, {"tm", required_argument, 0, 'm'},
        {"tn", required_argument, 0, 'n'}, {"f16", no_argument, 0, 'h'},
        {"subgroups", no_argument, 0, 's'}, {"dot8", no_argument, 0, 'd'}, {"help", no_argument, 0, 'H'}, {0, 0, 0, 0}};
    wg_kshape s;
    shape_of("chrome", &s);
    wg_kvariant v = {false, false};
    const char *kind = NULL, *fmt = NULL;
    int c, rc;
    bool dot8 = false, gemv_set = false; /* --threads/--rows: the GEMV shape of every format */
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'f': fmt = optarg; break;
        case 'p':
            if (!shape_of(optarg, &s))
                return cli_usage("kernel-gen", "unknown profile '%s'", optarg);
            break;
        case 't': if ((rc = cli_int("kernel-gen", "--threads", optarg, 1, 1024, &s.gemv_threads))) return rc; gemv_set = true; break;
        case 'r': if ((rc = cli_int("kernel-gen", "--rows", optarg, 1, 1024, &s.gemv_rows))) return rc; gemv_set = true; break;
        case 'u': if ((rc = cli_int("kernel-gen", "--unroll", optarg, 0, 64, &s.gemv_unroll))) return rc; break;
        case 'M': if ((rc = cli_int("kernel-gen", "--bm", optarg, 1, 1024, &s.gemm_bm))) return rc; break;
        case 'N': if ((rc = cli_int("kernel-gen", "--bn", optarg, 1, 1024, &s.gemm_bn))) return rc; break;
        case 'm': if ((rc = cli_int("kernel-gen", "--tm", optarg, 1, 1024, &s.gemm_tm))) return rc; break;
        case 'n': if ((rc = cli_int("kernel-gen", "--tn", optarg, 1, 1024, &s.gemm_tn))) return rc; break;
        case 'H': fputs(kernel_gen_help, stdout); return 0;
        case 'h': v.f16 = true; break;
        case 's': v.subgroups = true; break;
        case 'd': dot8 = true; break;
        default: return cli_usage("kernel-gen", "bad option");
        }
    }
    wg_kernel_kind k;
    wg_qformat qf;
    if (kind && !strcmp(kind, "xq8")) { /* the int8-activation pre-pass: --format picks the byte order */
        if (!fmt || !wg_qformat_parse(fmt, &qf))
            return cli_usage("kernel-gen", "--format FORMAT (e.g. q4g32s, fp16) is required");
        char *t = malloc(1 << 16);
        int l = t ? wg_wgsl_emit_xq8(qf.bits == 4, t, 1 << 16) : -1;
        if (l > 0)
            fwrite(t, 1, (size_t)l, stdout);
        free(t);
        return l > 0 ? 0 : cli_usage("kernel-gen", "cannot generate xq8");
    }
    if (!kind || !wg_kernel_kind_parse(kind, &k))
        return cli_usage("kernel-gen", "--kind dequantize|gather|gemv|gemm is required");
    if (!fmt || !wg_qformat_parse(fmt, &qf))
        return cli_usage("kernel-gen", "--format FORMAT (e.g. q4g32s, fp16) is required");
    wg_plan_entry e = {.fmt = qf, .rows = 1, .K = 4096};
    wg_kformat kf;
    wg_kformat_of(&e, &kf);
    if (gemv_set)
        s.gemv_fp_threads = s.gemv_fp_rows = 0;
    s = wg_kshape_of(&s, k, &kf);
    size_t cap = 1 << 20;
    char *txt = malloc(cap);
    int len = !txt ? -1 : dot8 ? (k == WG_K_GEMV ? wg_wgsl_emit_gemv_dot8(&kf, &s, v.subgroups, txt, cap) : -1)
                               : wg_wgsl_emit(k, &kf, &s, &v, txt, cap);
    if (len < 0) {
        free(txt);
        return cli_usage("kernel-gen", "no such kernel: invalid shape or variant for %s %s", kind, fmt);
    }
    fwrite(txt, 1, (size_t)len, stdout);
    free(txt);
    return 0;
}
