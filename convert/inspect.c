/* convert/inspect.c — `wgpack inspect MODEL [--json] [--rules FILE] [--tensors]`.
 * Builds one JSON summary (schema in README "inspect --json") and prints it either as JSON or
 * as a one-screen text report; both come from the same object, so they cannot disagree. */
#include "cli.h"
#include "../quant/quant.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *inspect_help =
    "usage: wgpack inspect MODEL [--json] [--tensors] [--rules FILE]\n"
    "  MODEL       .onnx, .safetensors, model.safetensors.index.json, or a directory\n"
    "  --json      machine-readable output (schema in README)\n"
    "  --tensors   list every tensor (always included with --json)\n"
    "  --rules F   JSON classification rules that take precedence over the built-in ones\n";

static json_t *jcount_obj(const char *key, const char *name)
{
    return json_pack("{s:s, s:i, s:I, s:I}", key, name, "tensors", 0, "parameters", (json_int_t)0,
                     "bytes", (json_int_t)0);
}

static void jadd(json_t *o, const char *k, json_int_t v)
{
    json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + v));
}

static json_t *find_or_add(json_t *arr, const char *key, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(json_object_get(v, key)), name))
        return v;
    v = jcount_obj(key, name);
    json_array_append_new(arr, v);
    return v;
}

static json_t *summary(const wg_model *m)
{
    json_t *root = json_object();
    json_object_set_new(root, "wgpack_version", json_string(WGPACK_VERSION));
    json_object_set_new(root, "path", json_string(m->path));
    json_object_set_new(root, "input", json_string(m->kind == WG_IN_ONNX ? "onnx" : "safetensors"));
    json_object_set_new(root, "family", json_string(m->family));
    json_object_set_new(root, "architecture_class", json_string(m->arch));
    json_object_set_new(root, "rules", json_string(m->rule_set));
    if (m->config.present) {
        const wg_hfconfig *c = &m->config;
        json_t *jc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                               "model_type", c->model_type, "architecture", c->architecture,
                               "num_layers", (json_int_t)c->num_layers,
                               "hidden_size", (json_int_t)c->hidden_size,
                               "intermediate_size", (json_int_t)c->intermediate_size,
                               "num_heads", (json_int_t)c->num_heads,
                               "num_kv_heads", (json_int_t)c->num_kv_heads,
                               "head_dim", (json_int_t)c->head_dim,
                               "vocab_size", (json_int_t)c->vocab_size,
                               "max_positions", (json_int_t)c->max_positions);
        json_object_set_new(jc, "tie_word_embeddings", c->tie_word_embeddings < 0 ? json_null()
                                : json_boolean(c->tie_word_embeddings));
        if (c->sliding_window)
            json_object_set_new(jc, "sliding_window", json_integer(c->sliding_window));
        if (c->layer_norm_eps > 0) /* encoders */
            json_object_set_new(jc, "layer_norm_eps", json_real(c->layer_norm_eps));
        if (c->type_vocab_size)
            json_object_set_new(jc, "type_vocab_size", json_integer(c->type_vocab_size));
        if (c->pad_token_id >= 0)
            json_object_set_new(jc, "pad_token_id", json_integer(c->pad_token_id));
        if (*c->hidden_act)
            json_object_set_new(jc, "hidden_act", json_string(c->hidden_act));
        json_object_set_new(root, "config", jc);
    } else
        json_object_set_new(root, "config", json_null());
    json_t *srcs = json_array();
    for (size_t i = 0; i < m->n_sources; i++)
        json_array_append_new(srcs, json_pack("{s:s, s:I}", "path", m->sources[i].path,
                                              "bytes", (json_int_t)m->sources[i].size));
    json_object_set_new(root, "sources", srcs);

    json_t *comps = json_array(), *roles = json_array(), *layers = json_array(),
           *tensors = json_array(), *consts = json_array();
    uint64_t params = 0, bytes = 0, const_elems = 0, const_bytes = 0;
    int max_layer = -1;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].layer > max_layer)
            max_layer = m->tensors[i].layer;
    for (int l = 0; l <= max_layer; l++) {
        json_t *o = json_pack("{s:i, s:i, s:I, s:I}", "layer", l, "tensors", 0, "parameters",
                              (json_int_t)0, "bytes", (json_int_t)0);
        json_array_append_new(layers, o);
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        bytes += t->nbytes;
        /* graph constants (shapes, indices, scalars) are listed apart, not counted as weights */
        json_t *targets[3] = {NULL, NULL, NULL};
        if (t->constant) {
            const_elems += t->numel;
            const_bytes += t->nbytes;
        } else {
            params += t->numel;
            targets[0] = find_or_add(comps, "component", t->component);
            targets[1] = find_or_add(roles, "role", wg_role_name(t->role));
            targets[2] = t->layer >= 0 ? json_array_get(layers, (size_t)t->layer) : NULL;
        }
        for (int k = 0; k < 3; k++)
            if (targets[k]) {
                jadd(targets[k], "tensors", 1);
                jadd(targets[k], "parameters", (json_int_t)t->numel);
                jadd(targets[k], "bytes", (json_int_t)t->nbytes);
            }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *jt = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s, s:i}", "name", t->name, "dtype",
                               wg_dtype_name(t->dtype), "shape", shape, "bytes",
                               (json_int_t)t->nbytes, "role", wg_role_name(t->role),
                               "component", t->component, "layer", t->layer);
        if (t->module)
            json_object_set_new(jt, "module", json_string(t->module));
        if (t->ndim == 2)
            json_object_set_new(jt, "layout", json_string(t->in_dim_first ? "in_out" : "out_in"));
        if (t->constant) {
            json_object_set_new(jt, "constant", json_true());
            json_array_append_new(consts, json_pack("{s:s, s:s, s:O}", "name", t->name, "dtype",
                                                    wg_dtype_name(t->dtype), "shape", shape));
        }
        json_array_append_new(tensors, jt);
    }
    json_object_set_new(root, "totals", json_pack("{s:I, s:I, s:I}", "tensors",
                                                  (json_int_t)m->n_tensors, "parameters",
                                                  (json_int_t)params, "bytes", (json_int_t)bytes));
    json_object_set_new(root, "constants", json_pack("{s:I, s:I, s:I, s:o}", "tensors",
                                                     (json_int_t)json_array_size(consts),
                                                     "elements", (json_int_t)const_elems, "bytes",
                                                     (json_int_t)const_bytes, "list", consts));
    json_object_set_new(root, "components", comps);
    json_object_set_new(root, "roles", roles);
    json_object_set_new(root, "layers", layers);

    /* size estimates: exact bytes of the presets' formats (data + scales + zero points) */
    json_t *est = json_object();
    wg_plan_entry *plan = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *plan);
    static const wg_preset ps[] = {WG_PRESET_FP16, WG_PRESET_Q8, WG_PRESET_Q4, WG_PRESET_MIXED};
    for (size_t p = 0; plan && p < sizeof ps / sizeof *ps; p++) {
        wg_plan_opts o;
        wg_plan_opts_default(&o);
        o.preset = ps[p];
        wg_error e = {0};
        if (wg_plan_preset(m, &o, plan, &e))
            continue;
        uint64_t tot = 0;
        for (size_t i = 0; i < m->n_tensors; i++)
            tot += plan[i].bytes;
        json_object_set_new(est, wg_preset_name(ps[p]), json_integer((json_int_t)tot));
    }
    free(plan);
    json_object_set_new(root, "estimated_bytes", est);
    json_object_set_new(root, "tensors", tensors);
    return root;
}

static void print_table(json_t *arr, const char *key, const char *title)
{
    char a[32], b[32];
    size_t i;
    json_t *v;
    printf("\n%s:\n", title);
    json_array_foreach(arr, i, v) {
        json_t *k = json_object_get(v, key);
        char name[64];
        if (json_is_integer(k))
            snprintf(name, sizeof name, "%lld", (long long)json_integer_value(k));
        else
            snprintf(name, sizeof name, "%s", json_string_value(k));
        printf("  %-16s %5lld tensors %14s params %12s\n", name,
               (long long)json_integer_value(json_object_get(v, "tensors")),
               cli_count((unsigned long long)json_integer_value(json_object_get(v, "parameters")),
                         a, sizeof a),
               cli_bytes((unsigned long long)json_integer_value(json_object_get(v, "bytes")), b,
                         sizeof b));
    }
}

static void print_text(json_t *s, bool list_tensors)
{
    char a[32], b[32];
    json_t *tot = json_object_get(s, "totals"), *cfg = json_object_get(s, "config");
    printf("model:    %s (%s, %zu file%s)\n", json_string_value(json_object_get(s, "path")),
           json_string_value(json_object_get(s, "input")),
           json_array_size(json_object_get(s, "sources")),
           json_array_size(json_object_get(s, "sources")) == 1 ? "" : "s");
    printf("family:   %s", json_string_value(json_object_get(s, "family")));
    if (json_is_object(cfg))
        printf("  (config: %s / %s, %lld layers, hidden %lld, heads %lld/%lld, vocab %lld)",
               json_string_value(json_object_get(cfg, "model_type")),
               json_string_value(json_object_get(cfg, "architecture")),
               (long long)json_integer_value(json_object_get(cfg, "num_layers")),
               (long long)json_integer_value(json_object_get(cfg, "hidden_size")),
               (long long)json_integer_value(json_object_get(cfg, "num_heads")),
               (long long)json_integer_value(json_object_get(cfg, "num_kv_heads")),
               (long long)json_integer_value(json_object_get(cfg, "vocab_size")));
    printf("\nclass:    %s (rules: %s)", json_string_value(json_object_get(s, "architecture_class")),
           json_string_value(json_object_get(s, "rules")));
    printf("\ntotal:    %lld tensors, %s parameters, %s\n",
           (long long)json_integer_value(json_object_get(tot, "tensors")),
           cli_count((unsigned long long)json_integer_value(json_object_get(tot, "parameters")), a,
                     sizeof a),
           cli_bytes((unsigned long long)json_integer_value(json_object_get(tot, "bytes")), b,
                     sizeof b));
    json_t *cs = json_object_get(s, "constants");
    if (json_integer_value(json_object_get(cs, "tensors")))
        printf("constants: %lld graph constants (shapes, indices, scalars), %lld elements, %s, "
               "not counted as parameters\n",
               (long long)json_integer_value(json_object_get(cs, "tensors")),
               (long long)json_integer_value(json_object_get(cs, "elements")),
               cli_bytes((unsigned long long)json_integer_value(json_object_get(cs, "bytes")), b,
                         sizeof b));
    print_table(json_object_get(s, "components"), "component", "components");
    print_table(json_object_get(s, "roles"), "role", "roles");
    if (json_array_size(json_object_get(s, "layers")))
        print_table(json_object_get(s, "layers"), "layer", "layers");
    printf("\nestimated size:");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "estimated_bytes"), k, v)
        printf("  %s %s", k, cli_bytes((unsigned long long)json_integer_value(v), a, sizeof a));
    printf("\n");
    if (list_tensors) {
        size_t i;
        printf("\ntensors:\n");
        json_array_foreach(json_object_get(s, "tensors"), i, v) {
            char shape[128] = "";
            size_t j, o = 0;
            json_t *d;
            json_array_foreach(json_object_get(v, "shape"), j, d)
                o += (size_t)snprintf(shape + o, o < sizeof shape ? sizeof shape - o : 0, "%s%lld",
                                      j ? "x" : "", (long long)json_integer_value(d));
            bool is_const = json_is_true(json_object_get(v, "constant"));
            printf("  %-56s %-5s %-16s %-10s %-14s %d\n",
                   json_string_value(json_object_get(v, "name")),
                   json_string_value(json_object_get(v, "dtype")), shape,
                   is_const ? "constant" : json_string_value(json_object_get(v, "role")),
                   json_string_value(json_object_get(v, "component")),
                   (int)json_integer_value(json_object_get(v, "layer")));
        }
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"tensors", no_argument, 0, 't'},
                                         {"rules", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    bool json = false, list = false;
    wg_open_opts oo = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jtr:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 't': list = true; break;
        case 'r': oo.rules_path = optarg; break;
        case 'h': fputs(inspect_help, stdout); return 0;
        default: return cli_usage("inspect", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("inspect", "expected exactly one MODEL");
    wg_error err = {0};
    wg_model *m;
    if (wg_model_open(argv[optind], &oo, &m, &err))
        return cli_report(&err);
    json_t *s = summary(m);
    if (json) {
        json_dumpf(s, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else
        print_text(s, list);
    json_decref(s);
    wg_model_free(m);
    return 0;
}
