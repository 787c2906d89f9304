/* convert/report.c — report.json (schema: docs/report.md) and a self-contained report.html:
 * the page is tools/report/report.html, embedded at build time, with the report's JSON inlined;
 * its script draws every plot as inline SVG (no external assets, no network). */
#define _GNU_SOURCE /* memmem */
#include "cli.h"
#include "plan_cli.h"
#include "report.h"
#include "../formats/wgsl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char wg_report_html[];
extern const size_t wg_report_html_len;

static void add_to(json_t *obj, const char *key, uint64_t orig, uint64_t out)
{
    json_t *o = json_object_get(obj, key);
    if (!o) {
        o = json_pack("{s:I, s:I}", "original_bytes", (json_int_t)0, "bytes", (json_int_t)0);
        json_object_set_new(obj, key, o);
    }
    json_object_set_new(o, "original_bytes", json_integer(json_integer_value(
        json_object_get(o, "original_bytes")) + (json_int_t)orig));
    json_object_set_new(o, "bytes", json_integer(json_integer_value(json_object_get(o, "bytes")) +
                                                 (json_int_t)out));
}

static json_t *as_list(json_t *obj)
{
    json_t *a = json_array(), *v;
    const char *k;
    json_object_foreach(obj, k, v) {
        json_t *e = json_deep_copy(v);
        json_object_set_new(e, "name", json_string(k));
        json_array_append_new(a, e);
    }
    return a;
}

json_t *wg_report_build(const wg_model *m, const wg_plan_entry *plan, json_t *plan_report,
                        json_t *export_summary, json_t *comparison, json_t *pareto, json_t *sweep)
{
    json_t *comp = json_object(), *role = json_object(), *tensors = json_array();
    json_t *exs_t = export_summary ? json_object_get(export_summary, "tensors") : NULL;
    int maxlayer = -1;
    uint64_t largest = 0, total = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        const wg_plan_entry *e = &plan[i];
        add_to(comp, t->component, t->nbytes, e->bytes);
        add_to(role, wg_role_name(t->role), t->nbytes, e->bytes);
        maxlayer = t->layer > maxlayer ? t->layer : maxlayer;
        largest = e->bytes > largest ? e->bytes : largest;
        total += e->bytes;
        char fn[32];
        wg_qformat_name(&e->fmt, fn, sizeof fn);
        if (e->fmt.kind == WG_Q_RAW)
            snprintf(fn, sizeof fn, "raw-%s", wg_dtype_name(t->dtype));
        json_t *tj = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:f}", "name", t->name,
                               "role", wg_role_name(t->role), "component", t->component, "layer",
                               t->layer, "format", fn, "parameters", (json_int_t)t->numel,
                               "bytes", (json_int_t)e->bytes, "bits_per_weight",
                               t->numel ? 8.0 * (double)e->bytes / (double)t->numel : 0.0);
        json_t *x = exs_t ? json_object_get(exs_t, t->name) : NULL;
        if (x) {
            json_object_set(tj, "onnx", json_object_get(x, "onnx"));
            if (json_object_get(x, "sqnr_db"))
                json_object_set(tj, "sqnr_db", json_object_get(x, "sqnr_db"));
        }
        json_array_append_new(tensors, tj);
    }
    /* bits per weight by role x layer, summed in one pass (layers are capped by the tensors
     * present, formats/model.h, so the grid follows the input) */
    json_t *roles = json_array(), *grid = json_array();
    size_t nl = (size_t)(maxlayer + 1);
    uint64_t *sb = calloc(WG_ROLE_COUNT * nl + 1, sizeof *sb), *sp = calloc(WG_ROLE_COUNT * nl + 1, sizeof *sp);
    for (size_t i = 0; sb && sp && i < m->n_tensors; i++)
        if (m->tensors[i].layer >= 0 && (unsigned)m->tensors[i].role < WG_ROLE_COUNT) {
            size_t at = (size_t)m->tensors[i].role * nl + (size_t)m->tensors[i].layer;
            sb[at] += plan[i].bytes;
            sp[at] += m->tensors[i].numel;
        }
    for (int r = 0; sb && sp && r < WG_ROLE_COUNT; r++) {
        json_t *row = json_array();
        bool any = false;
        for (size_t l = 0; l < nl; l++) {
            uint64_t b = sb[(size_t)r * nl + l], p = sp[(size_t)r * nl + l];
            json_array_append_new(row, p ? json_real(8.0 * (double)b / (double)p) : json_null());
            any |= p > 0;
        }
        if (any) {
            json_array_append_new(roles, json_string(wg_role_name((wg_role)r)));
            json_array_append_new(grid, row);
        } else
            json_decref(row);
    }
    free(sb);
    free(sp);
    int np;
    const wg_profile *pf = wg_profiles(&np);
    json_t *profiles = json_array();
    for (int i = 0; i < np; i++)
        json_array_append_new(profiles, json_pack(
            "{s:s, s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:b, s:b}", "name", pf[i].name,
            "max_storage_binding", (json_int_t)pf[i].max_binding, "max_buffer",
            (json_int_t)pf[i].max_buffer, "memory_budget", (json_int_t)pf[i].memory_budget,
            "shader_f16", pf[i].shader_f16, "subgroups", pf[i].subgroups,
            "largest_tensor_bytes", (json_int_t)largest, "total_bytes", (json_int_t)total,
            "fits_binding", largest <= pf[i].max_binding, "fits_memory",
            total <= pf[i].memory_budget));
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:O, s:{s:o, s:o}, s:{s:i, s:o, s:o}, s:o, s:o}",
                          "schema", "wgpack-report/1", "wgpack_version", WGPACK_VERSION, "model",
                          m->path, "family", m->family, "plan",
                          json_object_get(plan_report, "summary"), "sizes", "by_component",
                          as_list(comp), "by_role", as_list(role), "layers", "count",
                          maxlayer + 1, "roles", roles, "bits", grid, "tensors", tensors,
                          "profiles", profiles);
    json_decref(comp);
    json_decref(role);
    if (export_summary) {
        json_t *e = json_deep_copy(export_summary);
        json_object_del(e, "tensors");
        json_object_del(e, "plan");
        json_object_set_new(r, "onnx_export", e);
    }
    if (pareto) {
        json_t *chosen = json_pack("{s:I}", "bytes", (json_int_t)total);
        json_t *pc = json_object_get(json_object_get(plan_report, "summary"), "planner_cost");
        if (pc)
            json_object_set(chosen, "cost", pc);
        json_object_set_new(r, "pareto", json_pack("{s:O, s:o}", "points", pareto, "chosen", chosen));
    }
    if (comparison)
        json_object_set(r, "end_to_end", comparison);
    if (sweep)
        json_object_set(r, "sweep", sweep);
    return r;
}

/* JSON that is safe inside <script>: jansson escapes '/' (so no "</script>"), and here every
 * '<', '>', '&' becomes \u003c, \u003e, \u0026 (no "<!--" or "<script" to switch the HTML
 * tokenizer into its escaped states, which would swallow the rest of the page), U+2028/2029
 * \u2028/\u2029 (line terminators to older JavaScript). They occur only inside JSON strings,
 * where the escape means the same character. Returns a malloc'd string or NULL. */
static char *script_json(json_t *v)
{
    char *j = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ESCAPE_SLASH);
    if (!j)
        return NULL;
    size_t n = strlen(j), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += j[i] == '<' || j[i] == '>' || j[i] == '&' ? 5 : 0;
    for (size_t i = 0; i + 2 < n; i++)
        extra += (unsigned char)j[i] == 0xE2 && (unsigned char)j[i + 1] == 0x80 &&
                 ((unsigned char)j[i + 2] == 0xA8 || (unsigned char)j[i + 2] == 0xA9) ? 3 : 0;
    char *o = malloc(n + extra + 1), *w = o;
    for (size_t i = 0; o && i < n; i++) {
        unsigned char c = (unsigned char)j[i];
        if (c == '<' || c == '>' || c == '&')
            w += sprintf(w, "\\u%04x", c);
        else if (c == 0xE2 && i + 2 < n && (unsigned char)j[i + 1] == 0x80 &&
                 ((unsigned char)j[i + 2] == 0xA8 || (unsigned char)j[i + 2] == 0xA9)) {
            w += sprintf(w, "\\u%s", (unsigned char)j[i + 2] == 0xA8 ? "2028" : "2029");
            i += 2;
        } else
            *w++ = (char)c;
    }
    if (o)
        *w = 0;
    free(j);
    return o;
}

int wg_report_write(const char *dir, json_t *report, wg_error *err)
{
    char p[4200];
    if (!wg_mkdir_p(dir))
        return wg_fail(err, WG_EIO, dir, "cannot create the report directory");
    snprintf(p, sizeof p, "%s/report.json", dir);
    char *js = json_dumps(report, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    char *inl = script_json(report);
    if (!js || !inl) {
        free(js);
        free(inl);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    wg_atomic_file f;
    int rc = wg_atomic_open(&f, p, err);
    if (!rc && !(rc = wg_atomic_write(&f, js, strlen(js), err)) && !(rc = wg_atomic_write(&f, "\n", 1, err)))
        rc = wg_atomic_commit(&f, err);
    /* the page: the template with its data placeholder replaced by the JSON */
    static const char mark[] = "/*WGPACK_REPORT_DATA*/null";
    const char *tpl = (const char *)wg_report_html;
    const char *at = memmem(tpl, wg_report_html_len, mark, sizeof mark - 1);
    snprintf(p, sizeof p, "%s/report.html", dir);
    if (!rc && !at)
        rc = wg_fail(err, WG_EIO, NULL, "report template has no data placeholder");
    if (!rc && !(rc = wg_atomic_open(&f, p, err))) {
        size_t pre = (size_t)(at - tpl), post = wg_report_html_len - pre - (sizeof mark - 1);
        if (!(rc = wg_atomic_write(&f, tpl, pre, err)) &&
            !(rc = wg_atomic_write(&f, inl, strlen(inl), err)) &&
            !(rc = wg_atomic_write(&f, at + sizeof mark - 1, post, err)))
            rc = wg_atomic_commit(&f, err);
    }
    free(js);
    free(inl);
    return rc;
}
