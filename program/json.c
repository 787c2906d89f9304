/* program/json.c — the manifest's "program" section (docs/program.schema.json): written from a
 * built program, read back with every field checked (wg_prog_check then holds the rest). */
#include "program.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"act", "cache", "input", "weight", "table"};

static json_t *expr_json(wg_pexpr e)
{
    if (!e.sym)
        return e.c == floor(e.c) && fabs(e.c) < 1e15 ? json_integer((json_int_t)e.c) : json_real(e.c);
    char s[40];
    if (e.c == 1)
        snprintf(s, sizeof s, "%c", e.sym);
    else
        snprintf(s, sizeof s, "%c*%lld", e.sym, (long long)e.c);
    return json_string(s);
}

json_t *wg_prog_to_json(const wg_prog *p)
{
    int nd;
    const wg_pop_def *defs = wg_pop_defs(&nd);
    json_t *vals = json_array(), *stages = json_array();
    for (int i = 0; i < p->nvals; i++) {
        const wg_pval *v = &p->vals[i];
        json_t *o = json_pack("{s:s, s:s, s:I}", "name", v->name, "kind", kind_names[v->kind],
                              "width", (json_int_t)v->width);
        if (v->kind == WG_PV_WEIGHT)
            json_object_set_new(o, "rows", json_integer(v->rows));
        json_array_append_new(vals, o);
    }
    for (int s = 0; s < p->nstages; s++) {
        json_t *ops = json_array();
        for (int i = 0; i < p->stages[s].nops; i++) {
            const wg_pop *op = &p->ops[p->stages[s].op0 + i];
            const wg_pop_def *d = &defs[op->def];
            json_t *args = json_object(), *fields = json_object();
            for (int k = 0; k < d->nslots; k++)
                if (op->arg[k] >= 0)
                    json_object_set_new(args, d->slots[k].name, json_string(p->vals[op->arg[k]].name));
            for (int f = 0; f < d->nfields; f++) {
                char nm[32];
                snprintf(nm, sizeof nm, "%.*s", (int)strcspn(d->fields[f], ":"), d->fields[f]);
                json_object_set_new(fields, nm, expr_json(op->f[f]));
            }
            json_array_append_new(ops, json_pack("{s:s, s:o, s:o}", "op", d->name, "args", args,
                                                 "fields", fields));
        }
        json_array_append_new(stages, json_pack("{s:s, s:o}", "name", p->stages[s].name, "ops", ops));
    }
    json_t *rope = json_null();
    if (p->has_rope) {
        rope = json_pack("{s:f, s:I, s:s}", "theta", p->rope_theta, "rot", (json_int_t)p->rope_rot,
                         "scaling", p->rope_type);
        if (*p->rope_type)
            json_object_update_new(rope, json_pack("{s:f, s:f, s:f, s:f}", "factor", p->rope_factor,
                                                   "low_freq_factor", p->rope_low, "high_freq_factor",
                                                   p->rope_high, "original_max_positions", p->rope_orig));
    }
    json_t *o = json_pack("{s:i, s:s, s:s, s:{s:s}, s:I, s:I, s:I, s:{s:s, s:I, s:I}, s:o, s:o, s:o}",
                          "version", WG_PROG_VERSION, "model_type", p->model_type, "task", p->task,
                          "outputs", p->output_name, p->output, "vocab", (json_int_t)p->vocab, "hidden",
                          (json_int_t)p->hidden, "max_positions", (json_int_t)p->max_positions,
                          "position_ids", "rule", p->positions, "offset", (json_int_t)p->pos_offset,
                          "pad_id", (json_int_t)p->pad_id, "rope", rope, "values", vals, "stages", stages);
    /* the optional tables: absent unless a template asked for them */
    if (o && p->has_rope_local)
        json_object_set_new(o, "rope_local", json_pack("{s:f}", "theta", p->rope_local_theta));
    if (o && p->img_tokens)
        json_object_set_new(o, "image", json_pack("{s:I, s:I, s:I, s:I, s:I}", "channels",
                                                  (json_int_t)p->img_channels, "height", (json_int_t)p->img_height,
                                                  "width", (json_int_t)p->img_width, "patch",
                                                  (json_int_t)p->img_patch, "tokens", (json_int_t)p->img_tokens));
    if (o && p->head.task[0]) {
        json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "task", p->head.task, "name", p->head.name,
                              "value", p->head.value, "rows", p->head.first_row ? "first" : "all");
        if (p->head.nlabels) {
            json_t *lb = json_array();
            for (int i = 0; i < p->head.nlabels; i++)
                json_array_append_new(lb, json_string(p->head.labels[i]));
            json_object_set_new(h, "problem_type", json_string(p->head.problem));
            json_object_set_new(h, "labels", lb);
        }
        json_object_set_new(o, "head", h);
    }
    if (o && p->rel_max) {
        json_t *bk = json_array();
        for (int64_t i = 0; i <= 2 * p->rel_max; i++)
            json_array_append_new(bk, json_integer(p->rel_bucket[i]));
        json_object_set_new(o, "relative_buckets", json_pack("{s:I, s:o}", "max_distance",
                                                             (json_int_t)p->rel_max, "bucket", bk));
    }
    return o;
}

/* ---- reading ---- */

typedef struct rd {
    char *why;
    size_t n;
    bool failed;
} rd;

static bool bad(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool bad(rd *r, const char *fmt, ...)
{
    if (r->failed)
        return false;
    r->failed = true;
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(r->why, r->n, "program: ");
    vsnprintf(r->why + k, r->n > (size_t)k ? r->n - (size_t)k : 0, fmt, ap);
    va_end(ap);
    return false;
}

static bool keys_only(rd *r, json_t *o, const char *where, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = false;
        for (int i = 0; keys[i] && !ok; i++)
            ok = !strcmp(keys[i], k);
        if (!ok)
            return bad(r, "%s: unknown key \"%s\"", where, k);
    }
    return true;
}

static bool get_int(rd *r, json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(r, "%s missing or out of range [%lld, %lld]", key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return true;
}

static bool get_str(rd *r, json_t *o, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || strlen(json_string_value(v)) >= n)
        return bad(r, "%s missing or not a short string", key);
    snprintf(out, n, "%s", json_string_value(v));
    return true;
}

static bool get_num(rd *r, json_t *o, const char *key, double lo, double hi, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return bad(r, "%s missing or out of range", key);
    *out = json_number_value(v);
    return true;
}

static bool parse_expr(rd *r, json_t *v, wg_pexpr *e, const char *where)
{
    if (json_is_number(v)) {
        *e = (wg_pexpr){json_number_value(v), 0};
        return isfinite(e->c) || bad(r, "%s: not finite", where);
    }
    const char *s = json_string_value(v);
    if (!s || !strchr("SPM", s[0]) || !s[0])
        return bad(r, "%s: not a number or a symbol expression (S, S*k, P, M)", where);
    *e = (wg_pexpr){1, s[0]};
    if (!s[1])
        return true;
    char *end;
    long long k = s[1] == '*' ? strtoll(s + 2, &end, 10) : 0;
    if (s[1] != '*' || end == s + 2 || *end || k <= 0 || k > (1ll << 40))
        return bad(r, "%s: \"%s\" is not SYMBOL*POSITIVE_INTEGER", where, s);
    e->c = (double)k;
    return true;
}

static bool add_val(rd *r, wg_prog *p, json_t *o, wg_tensor_dims_fn dims, void *ctx)
{
    static const char *const keys[] = {"name", "kind", "width", "rows", NULL};
    const char *name = json_string_value(json_object_get(o, "name")),
               *kind = json_string_value(json_object_get(o, "kind"));
    if (!json_is_object(o) || !name || !kind)
        return bad(r, "values[%d] is not an object with name and kind", p->nvals);
    if (!keys_only(r, o, "values[]", keys))
        return false;
    if (wg_prog_value(p, name) >= 0)
        return bad(r, "value %s listed twice", name);
    int k = 0;
    while (k < 5 && strcmp(kind_names[k], kind))
        k++;
    if (k == 5)
        return bad(r, "value %s: kind \"%s\" is not act, cache, input, weight or table", name, kind);
    wg_pval v = {strdup(name), (wg_pkind)k, 0, 0};
    if (!v.name)
        return bad(r, "out of memory");
    p->vals[p->nvals++] = v;
    wg_pval *pv = &p->vals[p->nvals - 1];
    if (!get_int(r, o, "width", k == WG_PV_TABLE ? 0 : 1, 1ll << 34, &pv->width))
        return false;
    if (k == WG_PV_WEIGHT) {
        int64_t rows, K;
        if (!get_int(r, o, "rows", 1, 1ll << 31, &pv->rows) || pv->width % pv->rows)
            return bad(r, "value %s: rows do not divide width", name);
        if (!dims(ctx, name, &rows, &K))
            return bad(r, "value %s names no float tensor of the bundle", name);
        if (rows * K != pv->width || (pv->rows > 1 && rows != pv->rows))
            return bad(r, "value %s: the bundle's tensor is %lldx%lld, not %lld rows of %lld",
                       name, (long long)rows, (long long)K, (long long)pv->rows,
                       (long long)(pv->width / pv->rows));
    } else if (json_object_get(o, "rows")) {
        return bad(r, "value %s: rows only for weights", name);
    }
    if (k == WG_PV_INPUT && pv->width != 1)
        return bad(r, "input %s: width must be 1", name);
    return true;
}

static bool add_op(rd *r, wg_prog *p, json_t *o)
{
    static const char *const keys[] = {"op", "args", "fields", NULL};
    const char *name = json_string_value(json_object_get(o, "op"));
    json_t *args = json_object_get(o, "args"), *fields = json_object_get(o, "fields");
    if (!json_is_object(o) || !name || !json_is_object(args) || !json_is_object(fields))
        return bad(r, "an op is not an object with op, args and fields");
    if (!keys_only(r, o, "op", keys))
        return false;
    int di = wg_pop_find(name), nd;
    if (di < 0)
        return bad(r, "op \"%s\" is not in the op table", name);
    const wg_pop_def *d = &wg_pop_defs(&nd)[di];
    wg_pop *op = &p->ops[p->nops];
    memset(op, 0, sizeof *op);
    op->def = di;
    for (int k = 0; k < WG_POP_SLOTS; k++)
        op->arg[k] = -1;
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        int k = 0;
        while (k < d->nslots && strcmp(d->slots[k].name, key))
            k++;
        if (k == d->nslots)
            return bad(r, "%s: no operand \"%s\"", name, key);
        if (!json_is_string(v) || (op->arg[k] = wg_prog_value(p, json_string_value(v))) < 0)
            return bad(r, "%s: %s names no value of the program", name, key);
    }
    if ((int)json_object_size(fields) != d->nfields)
        return bad(r, "%s: fields are not exactly %d", name, d->nfields);
    for (int f = 0; f < d->nfields; f++) {
        char nm[32];
        snprintf(nm, sizeof nm, "%.*s", (int)strcspn(d->fields[f], ":"), d->fields[f]);
        json_t *fv = json_object_get(fields, nm);
        if (!fv)
            return bad(r, "%s: field %s missing", name, nm);
        if (!parse_expr(r, fv, &op->f[f], nm))
            return false;
    }
    p->nops++;
    return true;
}

static bool read_rope(rd *r, wg_prog *p, json_t *o)
{
    static const char *const keys[] = {"theta", "rot", "scaling", "factor", "low_freq_factor",
                                       "high_freq_factor", "original_max_positions", NULL};
    if (json_is_null(o))
        return true;
    if (!json_is_object(o) || !keys_only(r, o, "rope", keys))
        return bad(r, "rope is not an object or null");
    p->has_rope = 1;
    if (!get_num(r, o, "theta", 1.0000001, 1e12, &p->rope_theta) ||
        !get_int(r, o, "rot", 2, 1024, &p->rope_rot) || !get_str(r, o, "scaling", p->rope_type, sizeof p->rope_type))
        return false;
    if (p->rope_rot % 2)
        return bad(r, "rope rot is odd");
    if (!*p->rope_type)
        return true;
    if (strcmp(p->rope_type, "linear") && strcmp(p->rope_type, "llama3"))
        return bad(r, "rope scaling \"%s\" is not linear or llama3", p->rope_type);
    if (!get_num(r, o, "factor", 1, 1e4, &p->rope_factor))
        return false;
    if (!strcmp(p->rope_type, "llama3") &&
        (!get_num(r, o, "low_freq_factor", 1e-9, 1e9, &p->rope_low) ||
         !get_num(r, o, "high_freq_factor", p->rope_low * (1 + 1e-12), 1e9, &p->rope_high) ||
         !get_num(r, o, "original_max_positions", 1, 1e9, &p->rope_orig)))
        return false;
    return true;
}

/* "rope_local": {"theta"} (beside a rope table); "relative_buckets": {"max_distance": D,
 * "bucket": [2D + 1 non-negative integers]} */
static bool read_tables(rd *r, wg_prog *p, json_t *loc, json_t *rel)
{
    static const char *const lkeys[] = {"theta", NULL}, *const rkeys[] = {"max_distance", "bucket", NULL};
    if (loc) {
        if (!json_is_object(loc) || !keys_only(r, loc, "rope_local", lkeys) || !p->has_rope)
            return bad(r, "rope_local is not an object {theta} beside a rope table");
        p->has_rope_local = 1;
        if (!get_num(r, loc, "theta", 1.0000001, 1e12, &p->rope_local_theta))
            return false;
    }
    if (!rel)
        return true;
    json_t *bk = json_object_get(rel, "bucket");
    if (!json_is_object(rel) || !keys_only(r, rel, "relative_buckets", rkeys) ||
        !get_int(r, rel, "max_distance", 1, 1 << 16, &p->rel_max))
        return bad(r, "relative_buckets is not an object {max_distance, bucket}");
    if (!json_is_array(bk) || (int64_t)json_array_size(bk) != 2 * p->rel_max + 1)
        return bad(r, "relative_buckets: bucket is not 2 x max_distance + 1 integers");
    if (!(p->rel_bucket = malloc(sizeof *p->rel_bucket * json_array_size(bk))))
        return bad(r, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(bk, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= 1 << 20)
            return bad(r, "relative_buckets: bucket[%zu] is not an integer in [0, 2^20)", i);
        p->rel_bucket[i] = (int32_t)json_integer_value(v);
    }
    return true;
}

/* an image encoder's input: channels, height, width (multiples of patch), tokens */
static bool read_image(rd *r, wg_prog *p, json_t *o)
{
    static const char *const keys[] = {"channels", "height", "width", "patch", "tokens", NULL};
    if (!o)
        return true;
    if (!json_is_object(o) || !keys_only(r, o, "image", keys) ||
        !get_int(r, o, "channels", 1, 16, &p->img_channels) || !get_int(r, o, "patch", 1, 1024, &p->img_patch) ||
        !get_int(r, o, "height", 1, 1 << 14, &p->img_height) || !get_int(r, o, "width", 1, 1 << 14, &p->img_width) ||
        !get_int(r, o, "tokens", 1, 1 << 20, &p->img_tokens))
        return false;
    if (p->img_height % p->img_patch || p->img_width % p->img_patch)
        return bad(r, "image: height and width are not multiples of patch");
    return true;
}

/* the head: task, name, value, rows; a classifier's problem type and labels (one per output) */
static bool read_head(rd *r, wg_phead *h, json_t *o)
{
    static const char *const keys[] = {"task", "name", "value", "rows", "problem_type", "labels", NULL};
    static const char *const tasks[] = {"fill-mask", "text-classification", "token-classification",
                                        "image-classification"};
    char rows[8];
    if (!o)
        return true;
    if (!json_is_object(o) || !keys_only(r, o, "head", keys) ||
        !get_str(r, o, "task", h->task, sizeof h->task) || !get_str(r, o, "name", h->name, sizeof h->name) ||
        !get_str(r, o, "value", h->value, sizeof h->value) || !get_str(r, o, "rows", rows, sizeof rows))
        return bad(r, "head is not an object of task, name, value and rows");
    bool known = false;
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++)
        known |= !strcmp(h->task, tasks[i]);
    if (!known)
        return bad(r, "head: task \"%s\" is not fill-mask, text-classification, token-classification or image-classification", h->task);
    if (strcmp(rows, "all") && strcmp(rows, "first"))
        return bad(r, "head: rows \"%s\" is not all or first", rows);
    h->first_row = !strcmp(rows, "first");
    json_t *lb = json_object_get(o, "labels");
    if (!json_object_get(o, "problem_type") && !lb)
        return true;
    if (!get_str(r, o, "problem_type", h->problem, sizeof h->problem) ||
        (*h->problem && strcmp(h->problem, "single_label_classification") &&
         strcmp(h->problem, "multi_label_classification") && strcmp(h->problem, "regression")))
        return bad(r, "head: problem_type is not \"\", single_label_classification, "
                   "multi_label_classification or regression");
    if (!json_is_array(lb) || json_array_size(lb) > WG_HEAD_LABELS)
        return bad(r, "head: labels is not an array of at most %d strings", WG_HEAD_LABELS);
    size_t i;
    json_t *v;
    json_array_foreach(lb, i, v) {
        if (!json_is_string(v) || !(h->labels[i] = strdup(json_string_value(v))))
            return bad(r, "head: labels[%zu] is not a string", i);
        h->nlabels++;
    }
    return true;
}

/* {"HF name": "value"}: one output for now */
static bool read_outputs(rd *r, wg_prog *p, json_t *o)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o) || json_object_size(o) != 1)
        return bad(r, "outputs is not an object of one output");
    json_object_foreach(o, k, v) {
        if (!json_is_string(v) || strlen(k) >= sizeof p->output_name ||
            strlen(json_string_value(v)) >= sizeof p->output)
            return bad(r, "outputs: \"%s\" does not name a value", k);
        snprintf(p->output_name, sizeof p->output_name, "%s", k);
        snprintf(p->output, sizeof p->output, "%s", json_string_value(v));
    }
    return true;
}

wg_prog *wg_prog_from_json(json_t *o, wg_tensor_dims_fn dims, void *ctx, char *why, size_t nwhy)
{
    static const char *const keys[] = {"version", "model_type", "task", "outputs", "vocab", "hidden",
                                       "max_positions", "position_ids", "rope", "rope_local",
                                       "relative_buckets", "head", "image", "values", "stages", NULL};
    rd r = {why, nwhy, false};
    wg_prog *p = calloc(1, sizeof *p);
    json_t *vals = json_object_get(o, "values"), *stages = json_object_get(o, "stages"),
           *pos = json_object_get(o, "position_ids");
    int64_t ver;
    if (!p)
        return bad(&r, "out of memory"), NULL;
    if (!json_is_object(o)) {
        bad(&r, "not an object");
        goto fail;
    }
    if (!keys_only(&r, o, "program", keys) ||
        !get_int(&r, o, "version", WG_PROG_VERSION, WG_PROG_VERSION, &ver) ||
        !get_str(&r, o, "model_type", p->model_type, sizeof p->model_type) ||
        !get_str(&r, o, "task", p->task, sizeof p->task) ||
        !read_outputs(&r, p, json_object_get(o, "outputs")) ||
        !read_head(&r, &p->head, json_object_get(o, "head")) ||
        !read_image(&r, p, json_object_get(o, "image")) ||
        !get_int(&r, o, "vocab", 0, 1 << 28, &p->vocab) || !get_int(&r, o, "hidden", 1, 1 << 20, &p->hidden) ||
        !get_int(&r, o, "max_positions", 0, 1 << 30, &p->max_positions))
        goto fail;
    if (strcmp(p->task, "causal-lm") && strcmp(p->task, "encoder")) {
        bad(&r, "task \"%s\" is not causal-lm or encoder", p->task);
        goto fail;
    }
    static const char *const pkeys[] = {"rule", "offset", "pad_id", NULL};
    if (!json_is_object(pos) || !keys_only(&r, pos, "position_ids", pkeys) ||
        !get_str(&r, pos, "rule", p->positions, sizeof p->positions) ||
        !get_int(&r, pos, "offset", 0, 1 << 20, &p->pos_offset) ||
        !get_int(&r, pos, "pad_id", 0, 1 << 30, &p->pad_id))
        goto fail;
    if (strcmp(p->positions, "arange") && strcmp(p->positions, "padding")) {
        bad(&r, "position_ids rule \"%s\" is not arange or padding", p->positions);
        goto fail;
    }
    if (!read_rope(&r, p, json_object_get(o, "rope")) ||
        !read_tables(&r, p, json_object_get(o, "rope_local"), json_object_get(o, "relative_buckets")))
        goto fail;
    if (!json_is_array(vals) || json_array_size(vals) > 1u << 20 || !json_is_array(stages) ||
        !json_array_size(stages) || json_array_size(stages) > 1u << 16) {
        bad(&r, "values and stages must be arrays (stages not empty)");
        goto fail;
    }
    p->capvals = (int)json_array_size(vals) + 1;
    if (!(p->vals = calloc((size_t)p->capvals, sizeof *p->vals)) ||
        !(p->stages = calloc(json_array_size(stages), sizeof *p->stages))) {
        bad(&r, "out of memory");
        goto fail;
    }
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) if (!add_val(&r, p, v, dims, ctx)) goto fail;
    size_t nops = 0;
    json_array_foreach(stages, i, v) {
        json_t *ops = json_object_get(v, "ops");
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "name")) || !json_is_array(ops) ||
            json_object_size(v) != 2) {
            bad(&r, "stages[%zu] is not an object with name and ops", i);
            goto fail;
        }
        nops += json_array_size(ops);
    }
    if (nops > 1u << 22 || !(p->ops = calloc(nops + 1, sizeof *p->ops))) {
        bad(&r, "too many ops");
        goto fail;
    }
    p->capops = (int)nops + 1;
    json_array_foreach(stages, i, v) {
        json_t *ops = json_object_get(v, "ops"), *op;
        size_t k;
        p->stages[p->nstages] = (wg_pstage){strdup(json_string_value(json_object_get(v, "name"))), p->nops, 0};
        p->nstages++;
        json_array_foreach(ops, k, op) {
            if (!add_op(&r, p, op))
                goto fail;
            p->stages[p->nstages - 1].nops++;
        }
    }
    if (wg_prog_check(p, why, nwhy))
        goto fail_quiet;
    return p;
fail:
fail_quiet:
    wg_prog_free(p);
    return NULL;
}
