/* convert/db.c — results database and compatibility matrix (`wgpack matrix`), and
 * `wgpack record-kernels` (WebGPU kernel results of tools/webgpu/check_kernels.mjs). */
#include "cli.h"
#include "db.h"
#include "plan_cli.h"
#include "../formats/wgsl.h"

#include <math.h>
#include <sqlite3.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *schema =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, created TEXT NOT NULL,"
    " wgpack_version TEXT NOT NULL, command TEXT NOT NULL, model TEXT, family TEXT,"
    " precision TEXT, options TEXT, input_bytes INTEGER, output_bytes INTEGER,"
    " bits_per_weight REAL, seconds REAL);"
    "CREATE TABLE IF NOT EXISTS tensor_metrics (run_id INTEGER NOT NULL REFERENCES runs(id),"
    " tensor TEXT NOT NULL, role TEXT, component TEXT, layer INTEGER, format TEXT,"
    " bytes INTEGER, sqnr_db REAL);"
    "CREATE TABLE IF NOT EXISTS e2e_metrics (run_id INTEGER NOT NULL REFERENCES runs(id),"
    " output TEXT NOT NULL, runtime TEXT, max_abs_err REAL, rel_rmse REAL, cosine REAL,"
    " top1_agreement REAL, kl REAL, nll_original REAL, nll_quantized REAL);"
    "CREATE TABLE IF NOT EXISTS profile_fit (run_id INTEGER NOT NULL REFERENCES runs(id),"
    " profile TEXT NOT NULL, largest_tensor_bytes INTEGER, max_binding INTEGER,"
    " total_bytes INTEGER, memory_budget INTEGER, fits INTEGER);"
    "CREATE TABLE IF NOT EXISTS kernels (run_id INTEGER NOT NULL REFERENCES runs(id),"
    " profile TEXT NOT NULL, format TEXT NOT NULL, kind TEXT, arith TEXT, compiled TEXT,"
    " executed TEXT, rel_err REAL, adapter TEXT);"
    "CREATE TABLE IF NOT EXISTS measured_costs (run_id INTEGER NOT NULL REFERENCES runs(id),"
    " tensor TEXT NOT NULL, format TEXT NOT NULL, metric TEXT NOT NULL, cost REAL, proxy REAL);"
    "CREATE INDEX IF NOT EXISTS runs_fp ON runs(family, precision);";

void wg_precision_label(json_t *s, char *out, size_t n)
{
    const char *preset = json_string_value(json_object_get(s, "preset"));
    if (json_object_get(s, "budget_bytes"))
        snprintf(out, n, "planner %.1f bpw", json_real_value(json_object_get(s, "bits_per_weight")));
    else
        snprintf(out, n, "%s", preset ? preset : "?");
}

/* SQLite's result as this program's: the disk and the system are I/O (the message says
 * which), a file that is not a database is the input's fault */
static int db_fail(wg_error *err, const char *path, int s, const char *what, const char *msg)
{
    switch (s & 0xff) {
    case SQLITE_FULL:
        return wg_fail(err, WG_EIO, path, "%s: the disk is full", what);
    case SQLITE_NOTADB: case SQLITE_CORRUPT: case SQLITE_ERROR:
        return wg_fail(err, WG_EINPUT, path, "not a wgpack results database: %s", msg);
    default:
        return wg_fail(err, WG_EIO, path, "%s: %s", what, msg);
    }
}

static int open_db(const char *path, sqlite3 **db, bool create, wg_error *err)
{
    struct stat fs;
    bool existed = stat(path, &fs) == 0; /* through a link: a link to a database is fine */
    *db = NULL;
    if (existed && !S_ISREG(fs.st_mode))
        return wg_fail(err, WG_EUSAGE, path, "the database is not a regular file");
    if (!existed && !create)
        return wg_fail(err, WG_EINPUT, path, "no such database");
    int fl = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    int s = sqlite3_open_v2(path, db, fl, NULL);
    char *msg = NULL;
    if (s == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 10000);
        s = sqlite3_exec(*db, schema, NULL, NULL, &msg);
    }
    if (s == SQLITE_OK)
        return 0;
    int rc = db_fail(err, path, s, existed ? "cannot open the database" : "cannot create the database",
                     msg ? msg : *db ? sqlite3_errmsg(*db) : "out of memory");
    sqlite3_free(msg);
    sqlite3_close(*db);
    *db = NULL;
    if (!existed) { /* a failed create leaves nothing behind, not an empty file */
        char j[4200];
        unlink(path);
        snprintf(j, sizeof j, "%s-journal", path);
        unlink(j);
    }
    return rc;
}

/* Bind a JSON value (string, number, bool, null) to parameter i. */
static void bindj(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_string(v))
        sqlite3_bind_text(st, i, json_string_value(v), -1, SQLITE_TRANSIENT);
    else if (json_is_integer(v))
        sqlite3_bind_int64(st, i, json_integer_value(v));
    else if (json_is_real(v) && isfinite(json_real_value(v)))
        sqlite3_bind_double(st, i, json_real_value(v));
    else if (json_is_boolean(v))
        sqlite3_bind_int(st, i, json_is_true(v));
    else
        sqlite3_bind_null(st, i);
}

/* Insert every object of list into table, columns taken from the listed keys. */
static int insert_rows(sqlite3 *db, const char *table, sqlite3_int64 run, json_t *list,
                       const char *const *cols, int ncols)
{
    if (!json_is_array(list) || !json_array_size(list))
        return SQLITE_OK;
    char sql[1024];
    size_t o = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s (run_id", table);
    for (int c = 0; c < ncols; c++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, ", %s", cols[c]);
    o += (size_t)snprintf(sql + o, sizeof sql - o, ") VALUES (?");
    for (int c = 0; c < ncols; c++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, ", ?");
    snprintf(sql + o, sizeof sql - o, ")");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        if (rc != SQLITE_OK)
            break;
        sqlite3_bind_int64(st, 1, run);
        for (int c = 0; c < ncols; c++)
            bindj(st, c + 2, json_object_get(row, cols[c]));
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int wg_db_add_id(const char *path, json_t *run, long long *id_out, wg_error *err)
{
    sqlite3 *db;
    int rc = open_db(path, &db, true, err);
    if (rc)
        return rc;
    char created[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    static const char *const rcols[] = {"command", "model", "family", "precision", "options",
                                        "input_bytes", "output_bytes", "bits_per_weight",
                                        "seconds"};
    sqlite3_stmt *st = NULL;
    int s = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_prepare_v2(db, "INSERT INTO runs (created, wgpack_version, command, model, "
                               "family, precision, options, input_bytes, output_bytes, "
                               "bits_per_weight, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
                               NULL);
    if (s == SQLITE_OK) {
        sqlite3_bind_text(st, 1, created, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, WGPACK_VERSION, -1, SQLITE_STATIC);
        for (int c = 0; c < 9; c++) {
            json_t *v = json_object_get(run, rcols[c]);
            if (json_is_object(v)) {
                char *txt = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                sqlite3_bind_text(st, c + 3, txt ? txt : "{}", -1, SQLITE_TRANSIENT);
                free(txt);
            } else
                bindj(st, c + 3, v);
        }
        s = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    sqlite3_int64 id = sqlite3_last_insert_rowid(db);
    static const char *const tcols[] = {"tensor", "role", "component", "layer", "format", "bytes",
                                        "sqnr_db"};
    static const char *const ecols[] = {"output", "runtime", "max_abs_err", "rel_rmse", "cosine",
                                        "top1_agreement", "kl", "nll_original", "nll_quantized"};
    static const char *const pcols[] = {"profile", "largest_tensor_bytes", "max_binding",
                                        "total_bytes", "memory_budget", "fits"};
    static const char *const kcols[] = {"profile", "format", "kind", "arith", "compiled",
                                        "executed", "rel_err", "adapter"};
    static const char *const mcols[] = {"tensor", "format", "metric", "cost", "proxy"};
    if (s == SQLITE_OK)
        s = insert_rows(db, "tensor_metrics", id, json_object_get(run, "tensors"), tcols, 7);
    if (s == SQLITE_OK)
        s = insert_rows(db, "e2e_metrics", id, json_object_get(run, "e2e"), ecols, 9);
    if (s == SQLITE_OK)
        s = insert_rows(db, "profile_fit", id, json_object_get(run, "profiles"), pcols, 6);
    if (s == SQLITE_OK)
        s = insert_rows(db, "kernels", id, json_object_get(run, "kernels"), kcols, 8);
    if (s == SQLITE_OK)
        s = insert_rows(db, "measured_costs", id, json_object_get(run, "measured"), mcols, 5);
    if (s == SQLITE_OK)
        s = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (s != SQLITE_OK) {
        s = sqlite3_extended_errcode(db);
        rc = wg_fail(err, WG_EIO, path, "cannot record the run: %s",
                     (s & 0xff) == SQLITE_FULL ? "the disk is full" : sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    } else if (id_out)
        *id_out = id;
    sqlite3_close(db);
    return rc;
}

int wg_db_add(const char *path, json_t *run, wg_error *err)
{
    return wg_db_add_id(path, run, NULL, err);
}

int wg_db_remove(const char *path, long long id, wg_error *err)
{
    sqlite3 *db;
    int rc = open_db(path, &db, false, err);
    if (rc)
        return rc;
    static const char *const tables[] = {"tensor_metrics", "e2e_metrics", "profile_fit",
                                         "kernels", "measured_costs", "runs"};
    int s = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; s == SQLITE_OK && i < sizeof tables / sizeof *tables; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %lld", tables[i],
                 i + 1 < sizeof tables / sizeof *tables ? "run_id" : "id", id);
        s = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (s == SQLITE_OK)
        s = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (s != SQLITE_OK) {
        rc = wg_fail(err, WG_EIO, path, "cannot remove run %lld: %s", id, sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

static int costs_from_db(const char *path, const wg_model *m, json_t **out, wg_error *err)
{
    sqlite3 *db;
    int rc = open_db(path, &db, false, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT tensor, format, metric, cost FROM measured_costs WHERE run_id = "
                      "(SELECT MAX(r.id) FROM runs r JOIN measured_costs c ON c.run_id = r.id "
                      "WHERE r.model = ?) ORDER BY rowid";
    json_t *costs = json_array();
    char metric[32] = "";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        rc = wg_fail(err, WG_EINPUT, path, "%s", sqlite3_errmsg(db));
    else {
        sqlite3_bind_text(st, 1, m->path, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(metric, sizeof metric, "%s", (const char *)sqlite3_column_text(st, 2));
            json_array_append_new(costs, json_pack("{s:s, s:s, s:f}", "tensor",
                                                   (const char *)sqlite3_column_text(st, 0),
                                                   "format", (const char *)sqlite3_column_text(st, 1),
                                                   "cost", sqlite3_column_double(st, 3)));
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!rc && !json_array_size(costs))
        rc = wg_fail(err, WG_EINPUT, path, "no measured costs recorded for %s", m->path);
    if (!rc)
        *out = json_pack("{s:s, s:O}", "metric", metric, "costs", costs);
    json_decref(costs);
    return rc;
}

int wg_costs_load(const char *path, const wg_model *m, json_t **out, wg_error *err)
{
    char head[16] = "";
    int fd = wg_open_input(path, err);
    if (fd < 0)
        return err->code;
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got == 16 && !memcmp(head, "SQLite format 3", 16))
        return costs_from_db(path, m, out, err);
    json_error_t je;
    json_t *j = wg_json_load(path, JSON_REJECT_DUPLICATES, &je);
    json_t *c = json_object_get(j, "costs") ? j : json_object_get(j, "measured");
    if (!c || !json_object_get(c, "costs")) {
        json_decref(j);
        return wg_fail(err, WG_EINPUT, path, "not measured costs (verify --measure-out, a "
                       "verify --json report, or a results database)%s%s", j ? "" : ": ",
                       j ? "" : je.text);
    }
    *out = json_incref(c);
    json_decref(j);
    return 0;
}

/* The matrix's row key: the family, or for models no family describes, "generic:<file stem>". */
static void family_key(const char *family, const char *model, char *out, size_t n)
{
    if (!family || strcmp(family, "generic") || !model) {
        snprintf(out, n, "%s", family ? family : "?");
        return;
    }
    const char *b = strrchr(model, '/');
    b = b ? b + 1 : model;
    size_t l = strcspn(b, ".");
    snprintf(out, n, "generic:%.*s", (int)l, b);
}

json_t *wg_db_run_from_report(const char *command, json_t *r, double seconds)
{
    json_t *plan = json_object_get(r, "plan");
    char prec[64];
    wg_precision_label(plan, prec, sizeof prec);
    json_t *opts = wg_plan_options(plan);
    char fam[300];
    family_key(json_string_value(json_object_get(r, "family")),
               json_string_value(json_object_get(r, "model")), fam, sizeof fam);
    json_t *run = json_pack("{s:s, s:O, s:s, s:s, s:o, s:O, s:O, s:O, s:f}", "command", command,
                            "model", json_object_get(r, "model"), "family", fam,
                            "precision", prec, "options", opts,
                            "input_bytes", json_object_get(plan, "input_bytes"), "output_bytes",
                            json_object_get(plan, "output_bytes"), "bits_per_weight",
                            json_object_get(plan, "bits_per_weight"), "seconds", seconds);
    json_t *ts = json_array(), *t;
    size_t i;
    json_array_foreach(json_object_get(r, "tensors"), i, t) {
        json_t *c = json_deep_copy(t);
        json_object_set(c, "tensor", json_object_get(t, "name"));
        json_array_append_new(ts, c);
    }
    json_object_set_new(run, "tensors", ts);
    json_t *ps = json_array(), *p;
    json_array_foreach(json_object_get(r, "profiles"), i, p)
        json_array_append_new(ps, json_pack("{s:O, s:O, s:O, s:O, s:O, s:b}", "profile",
                                            json_object_get(p, "name"), "largest_tensor_bytes",
                                            json_object_get(p, "largest_tensor_bytes"),
                                            "max_binding", json_object_get(p, "max_storage_binding"),
                                            "total_bytes", json_object_get(p, "total_bytes"),
                                            "memory_budget", json_object_get(p, "memory_budget"),
                                            "fits", json_is_true(json_object_get(p, "fits_binding")) &&
                                                        json_is_true(json_object_get(p, "fits_memory"))));
    json_object_set_new(run, "profiles", ps);
    json_t *e2e = json_object_get(r, "end_to_end");
    if (e2e) {
        json_t *es = json_array(), *o, *lm = json_object_get(e2e, "lm");
        json_array_foreach(json_object_get(e2e, "outputs"), i, o) {
            json_t *c = json_deep_copy(o);
            json_object_set(c, "output", json_object_get(o, "name"));
            json_object_set(c, "runtime", json_object_get(e2e, "runtime"));
            if (lm && !strcmp(json_string_value(json_object_get(lm, "output")) ?: "",
                              json_string_value(json_object_get(o, "name")) ?: "")) {
                json_object_set(c, "nll_original", json_object_get(lm, "nll_original"));
                json_object_set(c, "nll_quantized", json_object_get(lm, "nll_quantized"));
            }
            json_array_append_new(es, c);
        }
        json_object_set_new(run, "e2e", es);
    }
    return run;
}

/* ------------------------------------------------------------ record-kernels */

int cmd_record_kernels(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: wgpack record-kernels --db FILE BUNDLE_DIR RESULTS.json\n"
               "  records the WebGPU compile/execute results that tools/webgpu/check_kernels.mjs\n"
               "  --json wrote for BUNDLE_DIR, per profile and format, in the results database\n");
        return 0;
    }
    if (argc != 5 || strcmp(argv[1], "--db"))
        return cli_usage("record-kernels", "expected --db FILE BUNDLE_DIR RESULTS.json");
    const char *dbp = argv[2], *dir = argv[3], *res = argv[4];
    wg_error err = {0};
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    json_error_t je;
    json_t *man = wg_json_load(mp, 0, &je), *rj = man ? wg_json_load(res, 0, &je) : NULL;
    if (!man || !rj) {
        wg_fail(&err, WG_EINPUT, man ? res : mp, "cannot read: %s", je.text);
        json_decref(man);
        return cli_report(&err);
    }
    json_t *kfiles = json_object_get(json_object_get(man, "kernels"), "files");
    json_t *byp = json_object_get(json_object_get(man, "kernels"), "by_profile");
    json_t *comp = json_object_get(rj, "compile"), *exec = json_object_get(rj, "exec");
    json_t *rows = json_array();
    const char *prof, *fmt, *kind;
    json_t *fm, *kinds, *ids;
    json_object_foreach(byp, prof, fm) {
        json_object_foreach(fm, fmt, kinds) {
            json_object_foreach(kinds, kind, ids) {
                const char *arith;
                json_t *idv;
                json_object_foreach(ids, arith, idv) {
                    json_t *kf = json_array_get(kfiles, (size_t)json_integer_value(idv));
                    const char *file = json_string_value(json_object_get(kf, "file"));
                    const char *cst = "not tested", *est = NULL;
                    double rel = NAN;
                    size_t i;
                    json_t *e;
                    json_array_foreach(comp, i, e)
                        if (file && !strcmp(json_string_value(json_object_get(e, "file")) ?: "", file))
                            cst = json_string_value(json_object_get(e, "status"));
                    json_array_foreach(exec, i, e)
                        if (file && !json_is_true(json_object_get(e, "shared")) &&
                            !strcmp(json_string_value(json_object_get(e, "file")) ?: "", file)) {
                            est = json_string_value(json_object_get(e, "status"));
                            if (json_is_number(json_object_get(e, "rel_err")))
                                rel = json_number_value(json_object_get(e, "rel_err"));
                        }
                    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "profile", prof,
                                            "format", fmt, "kind", kind, "arith", arith,
                                            "compiled", cst, "adapter",
                                            json_object_get(rj, "adapter"));
                    if (est)
                        json_object_set_new(row, "executed", json_string(est));
                    if (!isnan(rel))
                        json_object_set_new(row, "rel_err", json_real(rel));
                    json_array_append_new(rows, row);
                }
            }
        }
    }
    json_t *o = json_object_get(man, "options"), *mo = json_object_get(man, "model");
    json_t *plan = json_deep_copy(o);
    json_t *tot = json_object_get(man, "totals");
    double bpw = json_integer_value(json_object_get(mo, "parameters"))
                     ? 8.0 * (double)json_integer_value(json_object_get(tot, "bundle_bytes")) /
                           (double)json_integer_value(json_object_get(mo, "parameters"))
                     : 0;
    json_object_set_new(plan, "bits_per_weight", json_real(bpw));
    char prec[64];
    wg_precision_label(plan, prec, sizeof prec);
    char fam[300];
    family_key(json_string_value(json_object_get(mo, "family")),
               json_string_value(json_object_get(mo, "name")), fam, sizeof fam);
    json_t *run = json_pack("{s:s, s:O, s:s, s:s, s:O, s:O, s:O, s:f, s:o}", "command",
                            "record-kernels", "model", json_object_get(mo, "name"), "family",
                            fam, "precision", prec, "options", o,
                            "input_bytes", json_object_get(tot, "input_bytes"), "output_bytes",
                            json_object_get(tot, "bundle_bytes"), "bits_per_weight", bpw,
                            "kernels", rows);
    int rc = wg_db_add(dbp, run, &err);
    if (!rc)
        printf("%s: recorded %zu kernel results for %s (%s)\n", dbp, json_array_size(rows),
               json_string_value(json_object_get(mo, "name")), prec);
    json_decref(run);
    json_decref(plan);
    json_decref(man);
    json_decref(rj);
    return rc ? cli_report(&err) : 0;
}

/* ------------------------------------------------------------ matrix */

static int q_row(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c,
                 sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(*st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(*st, 2, b, -1, SQLITE_STATIC);
    if (c)
        sqlite3_bind_text(*st, 3, c, -1, SQLITE_STATIC);
    return sqlite3_step(*st) == SQLITE_ROW ? 1 : 0;
}

static json_t *col_or_null(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: return json_string((const char *)sqlite3_column_text(st, i));
    default: return json_null();
    }
}

static json_t *build_matrix(sqlite3 *db)
{
    int np;
    const wg_profile *pf = wg_profiles(&np);
    json_t *rows = json_array();
    sqlite3_stmt *keys;
    sqlite3_prepare_v2(db, "SELECT DISTINCT family, precision FROM runs WHERE family IS NOT NULL"
                       " AND precision IS NOT NULL ORDER BY family, precision", -1, &keys, NULL);
    while (sqlite3_step(keys) == SQLITE_ROW) {
        const char *fam = (const char *)sqlite3_column_text(keys, 0);
        const char *prec = (const char *)sqlite3_column_text(keys, 1);
        json_t *row = json_pack("{s:s, s:s, s:o}", "family", fam, "precision", prec, "profiles",
                                json_object());
        sqlite3_stmt *st;
        /* measured error: the latest end-to-end run of this family and precision */
        if (q_row(db, "SELECT e.output, e.runtime, e.rel_rmse, e.kl, e.top1_agreement, "
                  "e.nll_original, e.nll_quantized, r.model, r.id FROM e2e_metrics e JOIN runs r "
                  "ON r.id = e.run_id WHERE r.family = ?1 AND r.precision = ?2 "
                  "ORDER BY r.id DESC, e.rowid ASC LIMIT 1", fam, prec, NULL, &st) == 1)
            json_object_set_new(row, "error", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                "output", col_or_null(st, 0), "runtime", col_or_null(st, 1), "rel_rmse",
                col_or_null(st, 2), "kl", col_or_null(st, 3), "top1_agreement", col_or_null(st, 4),
                "nll_original", col_or_null(st, 5), "nll_quantized", col_or_null(st, 6), "model",
                col_or_null(st, 7)));
        else
            json_object_set_new(row, "error", json_null());
        sqlite3_finalize(st);
        for (int p = 0; p < np; p++) {
            json_t *cell = json_object();
            if (q_row(db, "SELECT f.fits, f.largest_tensor_bytes, f.max_binding, f.total_bytes,"
                      " f.memory_budget FROM profile_fit f JOIN runs r ON r.id = f.run_id WHERE "
                      "r.family = ?1 AND r.precision = ?2 AND f.profile = ?3 ORDER BY r.id DESC "
                      "LIMIT 1", fam, prec, pf[p].name, &st) == 1)
                json_object_set_new(cell, "fits", json_boolean(sqlite3_column_int(st, 0)));
            else
                json_object_set_new(cell, "fits", json_null());
            sqlite3_finalize(st);
            if (q_row(db, "SELECT SUM(k.compiled = 'compiled'), SUM(k.compiled = 'error'), "
                      "SUM(k.compiled = 'not compiled here'), SUM(k.executed IN ('ok', "
                      "'bit-exact')), SUM(k.executed IS NOT NULL), COUNT(*), MAX(k.adapter) FROM "
                      "kernels k WHERE k.profile = ?3 AND k.run_id = (SELECT MAX(r.id) FROM runs r "
                      "JOIN kernels k2 ON k2.run_id = r.id WHERE r.family = ?1 AND r.precision = ?2)",
                      fam, prec, pf[p].name, &st) == 1 && sqlite3_column_int(st, 5) > 0)
                json_object_set_new(cell, "kernels", json_pack(
                    "{s:i, s:i, s:i, s:i, s:i, s:i, s:o}", "compiled", sqlite3_column_int(st, 0),
                    "errors", sqlite3_column_int(st, 1), "not_compiled_here",
                    sqlite3_column_int(st, 2), "executed_ok", sqlite3_column_int(st, 3),
                    "executed", sqlite3_column_int(st, 4), "total", sqlite3_column_int(st, 5),
                    "adapter", col_or_null(st, 6)));
            else
                json_object_set_new(cell, "kernels", json_null());
            sqlite3_finalize(st);
            json_object_set_new(json_object_get(row, "profiles"), pf[p].name, cell);
        }
        json_array_append_new(rows, row);
    }
    sqlite3_finalize(keys);
    return rows;
}

static void cell_text(json_t *cell, char *out, size_t n)
{
    json_t *f = json_object_get(cell, "fits"), *k = json_object_get(cell, "kernels");
    char a[64] = "limits: not measured", b[160] = "kernels: not measured";
    if (!json_is_null(f))
        snprintf(a, sizeof a, "limits: %s", json_is_true(f) ? "fit" : "EXCEED");
    if (json_is_object(k))
        snprintf(b, sizeof b, "kernels: %d/%d compiled (%d errors, %d untestable here), "
                 "%d/%d run ok", (int)json_integer_value(json_object_get(k, "compiled")),
                 (int)json_integer_value(json_object_get(k, "total")),
                 (int)json_integer_value(json_object_get(k, "errors")),
                 (int)json_integer_value(json_object_get(k, "not_compiled_here")),
                 (int)json_integer_value(json_object_get(k, "executed_ok")),
                 (int)json_integer_value(json_object_get(k, "executed")));
    snprintf(out, n, "%s; %s", a, b);
}

static void error_text(json_t *e, char *out, size_t n)
{
    if (!e || json_is_null(e)) {
        snprintf(out, n, "not measured");
        return;
    }
    if (json_is_number(json_object_get(e, "kl")))
        snprintf(out, n, "KL %.4g, rel RMSE %.4g", json_number_value(json_object_get(e, "kl")),
                 json_number_value(json_object_get(e, "rel_rmse")));
    else
        snprintf(out, n, "rel RMSE %.4g", json_number_value(json_object_get(e, "rel_rmse")));
}

static void html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

int cmd_matrix(int argc, char **argv)
{
    const char *dbp = NULL, *html = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbp = argv[++i];
        else if (!strcmp(argv[i], "--html") && i + 1 < argc)
            html = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: wgpack matrix --db FILE [--json | --html OUT.html]\n"
                   "  model family x precision x browser profile: fits limits, kernels compiled\n"
                   "  and run, measured error; from recorded runs only (else 'not measured')\n");
            return 0;
        } else
            return cli_usage("matrix", "unexpected argument '%s'", argv[i]);
    }
    if (!dbp)
        return cli_usage("matrix", "--db FILE is required");
    wg_error err = {0};
    sqlite3 *db;
    if (open_db(dbp, &db, false, &err))
        return cli_report(&err);
    json_t *rows = build_matrix(db);
    sqlite3_close(db);
    int np;
    const wg_profile *pf = wg_profiles(&np);
    size_t i;
    json_t *r;
    char buf[256], eb[96];
    int rc = 0;
    if (json) {
        json_t *o = json_pack("{s:s, s:O}", "database", dbp, "rows", rows);
        json_dumpf(o, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else if (html) {
        wg_atomic_file af;
        char *mem = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&mem, &len);
        fputs("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>wgpack "
              "compatibility matrix</title><style>body{font:14px system-ui,sans-serif;margin:24px}"
              "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
              "vertical-align:top}th{background:#f3f3f3}.nm{color:#999;font-style:italic}"
              ".bad{color:#b00}</style></head><body><h1>wgpack compatibility matrix</h1><p>From ",
              f);
        html_escape(f, dbp);
        fputs(": recorded facts only.</p><table><tr><th>family</th><th>precision</th>"
              "<th>measured error</th>", f);
        for (int p = 0; p < np; p++)
            fprintf(f, "<th>%s</th>", pf[p].name);
        fputs("</tr>\n", f);
        json_array_foreach(rows, i, r) {
            fputs("<tr><td>", f);
            html_escape(f, json_string_value(json_object_get(r, "family")));
            fputs("</td><td>", f);
            html_escape(f, json_string_value(json_object_get(r, "precision")));
            error_text(json_object_get(r, "error"), eb, sizeof eb);
            fprintf(f, "</td><td%s>", json_is_null(json_object_get(r, "error")) ? " class=\"nm\"" : "");
            html_escape(f, eb);
            fputs("</td>", f);
            for (int p = 0; p < np; p++) {
                json_t *cell = json_object_get(json_object_get(r, "profiles"), pf[p].name);
                cell_text(cell, buf, sizeof buf);
                fprintf(f, "<td%s>", json_is_false(json_object_get(cell, "fits")) ? " class=\"bad\"" : "");
                html_escape(f, buf);
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table></body></html>\n", f);
        fclose(f);
        if (!(rc = wg_atomic_open(&af, html, &err)) && !(rc = wg_atomic_write(&af, mem, len, &err)))
            rc = wg_atomic_commit(&af, &err);
        free(mem);
        if (!rc)
            printf("%s: %zu rows\n", html, json_array_size(rows));
    } else {
        printf("%-8s %-18s %-32s", "family", "precision", "measured error");
        for (int p = 0; p < np; p++)
            printf(" | %s", pf[p].name);
        putchar('\n');
        json_array_foreach(rows, i, r) {
            error_text(json_object_get(r, "error"), eb, sizeof eb);
            printf("%-8s %-18s %-32s", json_string_value(json_object_get(r, "family")),
                   json_string_value(json_object_get(r, "precision")), eb);
            for (int p = 0; p < np; p++) {
                cell_text(json_object_get(json_object_get(r, "profiles"), pf[p].name), buf, sizeof buf);
                printf(" | %s", buf);
            }
            putchar('\n');
        }
    }
    json_decref(rows);
    return rc ? cli_report(&err) : 0;
}
