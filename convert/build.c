/* convert/build.c — `wgpack build MODEL -o DIR [options]`: the main job. Plan (as quantize),
 * then write a browser bundle (pack/pack.h) and print a summary. */
#include "cli.h"
#include "db.h"
#include "plan_cli.h"
#include "progress.h"
#include "report.h"
#include "../pack/pack.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *build_help =
    "usage: wgpack build MODEL -o DIR [options]\n"
    "  -o DIR                bundle directory (replaced atomically; a non-empty directory that\n"
    "                        is not a wgpack bundle needs --force)\n"
    "  --shard-size S        cap per shard file (default 32MiB; suffixes as --target-size)\n"
    "  --compress zstd       also write <shard>.zst transport copies\n"
    "  --zstd-level L        1..22 (default 6)\n"
    "  --archive KIND        also write DIR.tar, DIR.tar.zst or DIR.zip (tar, tar.zst, zip)\n"
    "  --tabs N | --tab-memory S   multi-tab plan: contiguous layer ranges over N tabs, or as\n"
    "                        many tabs as needed to keep each within S bytes\n"
    "  --threads N           worker threads (output identical for any N)\n"
    "  --emit-onnx OUT.onnx  also write the quantized ONNX model (ONNX input; see export-onnx)\n"
    "  --external-data       with --emit-onnx: weights in OUT.onnx_data\n"
    "  --strip-metadata      with --emit-onnx: drop exporter metadata (doc strings, metadata_props)\n"
    "  --target onnx         with --emit-onnx: plan for the ONNX file (its formats; a budget binds\n"
    "                        its bytes); otherwise a budget binds the bundle\n"
    "  --tokenizer DIR       take the text files (tokenizer.json, tokenizer_config.json,\n"
    "                        special_tokens_map.json, generation_config.json, modules.json,\n"
    "                        1_Pooling/config.json) from DIR instead of beside the model\n"
    "  --db FILE             append this build (sizes, per-tensor SQNR, profile fits) to a\n"
    "                        SQLite results database\n"
    "  --json                machine-readable summary on stdout\n"
    "  plan options          as for `wgpack quantize` (--preset, --set, --target-bits, ...)\n";

/* the build's row in the results database, with SQNR as the bundle measured it */
static int add_db_row(const wg_model *m, const wg_plan_entry *plan, json_t *rep,
                      const wg_bundle_result *br, const char *dbp, long long *id, wg_error *err)
{
    json_t *r = wg_report_build(m, plan, rep, NULL, NULL, NULL, NULL), *t, *mt;
    json_t *sqnr = json_object(); /* name -> sqnr_db, so the join is linear */
    size_t k;
    json_array_foreach(json_object_get(br->manifest, "tensors"), k, mt) {
        json_t *v = json_object_get(json_object_get(mt, "metrics"), "sqnr_db");
        if (v && json_string_value(json_object_get(mt, "name")))
            json_object_set(sqnr, json_string_value(json_object_get(mt, "name")), v);
    }
    json_array_foreach(json_object_get(r, "tensors"), k, t) {
        const char *nm = json_string_value(json_object_get(t, "name"));
        json_t *v = nm ? json_object_get(sqnr, nm) : NULL;
        if (v)
            json_object_set(t, "sqnr_db", v);
    }
    json_decref(sqnr);
    json_t *run = wg_db_run_from_report("build", r, br->seconds);
    int rc = wg_db_add_id(dbp, run, id, err);
    json_decref(run);
    json_decref(r);
    return rc;
}

int cmd_build(int argc, char **argv)
{
    enum { O_STRIP = 390, O_SHARD = 400, O_COMPRESS, O_ZLEVEL, O_ARCHIVE, O_TABS, O_TABMEM, O_FORCE, O_DB,
           O_EMIT, O_EXT, O_TOKENIZER };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"json", no_argument, 0, 'j'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"shard-size", required_argument, 0, O_SHARD}, {"compress", required_argument, 0, O_COMPRESS},
        {"zstd-level", required_argument, 0, O_ZLEVEL}, {"archive", required_argument, 0, O_ARCHIVE},
        {"tabs", required_argument, 0, O_TABS}, {"tab-memory", required_argument, 0, O_TABMEM},
        {"force", no_argument, 0, O_FORCE}, {"db", required_argument, 0, O_DB},
        {"emit-onnx", required_argument, 0, O_EMIT}, {"external-data", no_argument, 0, O_EXT},
        {"strip-metadata", no_argument, 0, O_STRIP}, {"tokenizer", required_argument, 0, O_TOKENIZER},
        WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    wg_pack_opts po = {.shard_size = 32u << 20, .zstd_level = 6, .threads = wg_default_threads(),
                       .version = WGPACK_VERSION};
    bool json = false, external = false, strip = false;
    const char *dbp = NULL, *emit = NULL;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': po.out_dir = optarg; break;
        case O_DB: dbp = optarg; break;
        case O_EMIT: emit = optarg; break;
        case O_EXT: external = true; break;
        case O_STRIP: strip = true; break;
        case 'j': json = true; break;
        case 'T':
            if ((rc = cli_int("build", "--threads", optarg, 1, 64, &po.threads)))
                return rc;
            break;
        case 'h': fputs(build_help, stdout); return 0;
        case O_SHARD:
            if (!wg_parse_size(optarg, &po.shard_size) || po.shard_size < 4096 ||
                po.shard_size > (2ull << 30))
                return cli_usage("build", "--shard-size must be 4KiB..2GiB");
            break;
        case O_COMPRESS:
            if (strcmp(optarg, "zstd"))
                return cli_usage("build", "--compress supports zstd");
            po.compress = true;
            break;
        case O_ZLEVEL:
            if ((rc = cli_int("build", "--zstd-level", optarg, 1, 22, &po.zstd_level)))
                return rc;
            break;
        case O_ARCHIVE:
            po.archive = !strcmp(optarg, "tar") ? WG_ARCHIVE_TAR : !strcmp(optarg, "tar.zst") ? WG_ARCHIVE_TAR_ZST
                         : !strcmp(optarg, "zip") ? WG_ARCHIVE_ZIP : WG_ARCHIVE_NONE;
            if (!po.archive)
                return cli_usage("build", "--archive must be tar, tar.zst or zip");
            break;
        case O_TABS:
            if ((rc = cli_int("build", "--tabs", optarg, 1, 64, &po.tabs)))
                return rc;
            break;
        case O_TABMEM:
            if (!wg_parse_size(optarg, &po.tab_memory) || !po.tab_memory)
                return cli_usage("build", "--tab-memory: expected a size");
            break;
        case O_FORCE: po.force = true; break;
        case O_TOKENIZER: po.text_dir = optarg; break;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "build")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1 || !po.out_dir)
        return cli_usage("build", "expected MODEL and -o DIR");
    po.search = pc.search;
    if (pc.target == WG_TARGET_ONNX && !emit)
        return cli_usage("build", "--target onnx plans for the ONNX file: give --emit-onnx OUT.onnx");
    pc.onnx_eo = (wg_onnx_export_opts){.out_path = emit, .external = external, .search = pc.search,
                                       .threads = po.threads, .strip_metadata = strip};
    wg_error err = {0};
    wg_model *m = NULL;
    wg_plan_entry *plan = NULL;
    json_t *rep = NULL, *summary = NULL, *onnx = NULL;
    wg_bundle_result br = {0};
    wg_open_opts oo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    if (emit && m->kind != WG_IN_ONNX) { /* refused before anything is written */
        rc = cli_usage("build", "--emit-onnx needs an ONNX input (%s is safetensors)", m->path);
        goto done;
    }
    wg_bar_begin(m);
    wg_progress_stage("plan");
    if (!(plan = calloc(m->n_tensors + 1, sizeof *plan))) {
        rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    wg_plan_result pr;
    if ((rc = wg_plan_cli_run(&pc, m, po.threads, plan, &pr, &err)))
        goto fail;
    rep = wg_plan_report(m, plan, &pc, &pr);
    json_t *opt = wg_plan_options(json_object_get(rep, "summary"));
    json_object_set_new(opt, "shard_size", json_integer((json_int_t)po.shard_size));
    json_object_set_new(opt, "compress", po.compress ? json_string("zstd") : json_null());
    if (po.compress)
        json_object_set_new(opt, "zstd_level", json_integer(po.zstd_level));
    json_t *sets = json_array();
    for (int i = 0; i < pc.nsets; i++)
        json_array_append_new(sets, json_string(pc.sets[i]));
    json_object_set_new(opt, "set", sets);
    json_object_set_new(opt, "critical_layers", json_integer(pc.critical_layers));
    json_object_set_new(opt, "target", json_string(pc.target == WG_TARGET_ONNX ? "onnx"
                                                   : pc.webnn ? "webnn" : "webgpu"));
    po.options = opt;
    /* All or nothing: under the bundle's lock (taken by stage_build, held to discard) every
     * artefact is written and synced beside its target — bundle, archive, ONNX — and only
     * then does anything become visible: the results-DB row (the one step after which a
     * write can still fail, so it goes first), then renames alone: archive, ONNX, bundle.
     * A rename that fails takes the row back out. */
    wg_bundle_stage st;
    wg_atomic_file af = {.fd = -1};
    wg_onnx_staged *os = NULL;
    char apath[4200] = "";
    long long row = -1;
    wg_progress_stage("quantize");
    rc = wg_bundle_stage_build(m, plan, &po, &br, &st, &err);
    json_decref(opt);
    if (!rc && po.archive && !(rc = wg_bundle_archive_stage(&st, po.archive, &af, apath,
                                                            sizeof apath, &err)))
        rc = wg_atomic_finish(&af, &err);
    pc.onnx_eo.stage = &os;
    if (!rc && emit)
        rc = cli_emit_onnx(m, plan, &pc.onnx_eo, &onnx, &err);
    if (!rc)
        rc = wg_bundle_flush(&st, &err);
    if (!rc && dbp)
        rc = add_db_row(m, plan, rep, &br, dbp, &row, &err);
    if (!rc && po.archive)
        rc = wg_atomic_rename(&af, &err);
    if (!rc && os)
        rc = wg_onnx_staged_commit(os, &err);
    if (!rc)
        rc = wg_bundle_commit(&st, &err);
    if (rc && row >= 0) {
        wg_error e2 = {0};
        if (wg_db_remove(dbp, row, &e2)) {
            size_t l = strlen(err.msg);
            snprintf(err.msg + l, sizeof err.msg - l, "; and its results-DB row %lld stays: %s",
                     row, e2.msg);
        }
    }
    wg_atomic_abort(&af);
    wg_onnx_staged_discard(os);
    wg_bundle_discard(&st);
    if (rc)
        goto fail;
    json_t *rs = json_object_get(rep, "summary");
    summary = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:i, s:i, s:i, s:f, s:o, s:O}",
        "bundle", po.out_dir, "model", m->path, "family", m->family,
        "original_bytes", (json_int_t)json_integer_value(json_object_get(rs, "input_bytes")),
        "bundle_bytes", (json_int_t)br.bundle_bytes, "compressed_bytes", (json_int_t)br.compressed_bytes,
        "bits_per_weight", json_real_value(json_object_get(rs, "bits_per_weight")),
        "shards", br.shards, "tensors", br.tensors, "components", br.components,
        "seconds", br.seconds, "archive", *apath ? json_string(apath) : json_null(),
        "by_format", json_object_get(rep, "by_format"));
    json_t *comps = json_array(), *cj;
    size_t i;
    json_array_foreach(json_object_get(br.manifest, "components"), i, cj)
        json_array_append_new(comps, json_pack("{s:O, s:O, s:i}", "name", json_object_get(cj, "name"),
                                               "bytes", json_object_get(cj, "bytes"), "shards",
                                               (int)json_array_size(json_object_get(cj, "shards"))));
    json_object_set_new(summary, "components_detail", comps);
    if (onnx) {
        json_object_del(onnx, "tensors");
        json_object_set(summary, "onnx", onnx);
    }
    if (pr.planned) /* one budget, two artefacts: say which one it bound */
        json_object_set_new(summary, "budget", json_pack(
            "{s:I, s:s, s:I, s:O}", "bytes", (json_int_t)pr.budget, "binds",
            pc.target == WG_TARGET_ONNX ? "onnx" : "bundle", "bundle_bytes",
            (json_int_t)br.bundle_bytes, "onnx_bytes",
            onnx ? json_object_get(onnx, "total_bytes") : json_null()));
    wg_bar_end();
    if (json) {
        json_dumpf(summary, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        char a[32], b[32];
        printf("bundle:     %s\n", po.out_dir);
        printf("model:      %s (%s), %d tensors\n", m->path, m->family, br.tensors);
        printf("size:       %s -> %s (%.3f bits/weight)",
               cli_bytes((unsigned long long)json_integer_value(json_object_get(rs, "input_bytes")), a, sizeof a),
               cli_bytes(br.bundle_bytes, b, sizeof b), json_real_value(json_object_get(rs, "bits_per_weight")));
        if (po.compress)
            printf(", zstd copies %s", cli_bytes(br.compressed_bytes, a, sizeof a));
        printf("\nshards:     %d (cap %s)\ncomponents:", br.shards, cli_bytes(po.shard_size, a, sizeof a));
        json_array_foreach(comps, i, cj)
            printf(" %s %s (%d)%s", json_string_value(json_object_get(cj, "name")),
                   cli_bytes((unsigned long long)json_integer_value(json_object_get(cj, "bytes")), a, sizeof a),
                   (int)json_integer_value(json_object_get(cj, "shards")),
                   i + 1 < json_array_size(comps) ? "," : "");
        printf("\ntime:       %.2f s\n", br.seconds);
        if (*apath)
            printf("archive:    %s\n", apath);
        if (onnx)
            cli_print_onnx(onnx);
        if (pr.planned) {
            char d[32];
            printf("budget:     %s binds the %s (bundle %s%s%s)\n",
                   cli_bytes(pr.budget, a, sizeof a), pc.target == WG_TARGET_ONNX ? "ONNX file"
                   : "bundle", cli_bytes(br.bundle_bytes, b, sizeof b), onnx ? ", ONNX " : "",
                   onnx ? cli_bytes((unsigned long long)json_integer_value(json_object_get(
                              onnx, "total_bytes")), d, sizeof d) : "");
        }
    }
    rc = 0;
    goto done;
fail:
    rc = cli_report(&err);
done:
    json_decref(summary);
    json_decref(onnx);
    json_decref(rep);
    json_decref(br.manifest);
    free(plan);
    wg_plan_cli_free(&pc);
    wg_model_free(m);
    return rc;
}

int cmd_verify_bundle(int argc, char **argv)
{
    bool json = argc == 3 && !strcmp(argv[1], "--json");
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: wgpack verify-bundle [--json] DIR\n  re-reads every shard: size, xxh3, "
               "SHA-256, transport copies, tensor parts; exit 5 on any mismatch\n");
        return 0;
    }
    if (argc != 2 && !json)
        return cli_usage("verify-bundle", "expected DIR");
    wg_error err = {0};
    int problems = 0;
    json_t *rep = NULL;
    int rc = wg_bundle_verify(argv[argc - 1], &problems, &rep, &err);
    if (rc && !rep)
        return cli_report(&err);
    if (json) {
        json_dumpf(rep, stdout, JSON_INDENT(1));
        putchar('\n');
    } else
        printf("%s: %d shards, %d tensors, %lld bytes: %s\n", argv[argc - 1],
               (int)json_integer_value(json_object_get(rep, "shards")),
               (int)json_integer_value(json_object_get(rep, "tensors")),
               (long long)json_integer_value(json_object_get(rep, "bytes")),
               problems ? "MISMATCH" : "ok");
    json_decref(rep);
    return rc;
}
