/* convert/db.h — the results database (SQLite; schema in docs/results-db.md) and the
 * compatibility matrix built from it. Every row is a recorded fact: a run of build, verify or
 * record-kernels. */
#ifndef WG_DB_H
#define WG_DB_H
#include "../formats/model.h"
#include <jansson.h>

/* "q4", "mixed", or "planner 4.0 bpw" when a budget chose the formats. */
void wg_precision_label(json_t *plan_summary, char *out, size_t n);
/* Append one run. run = {command, model, family, precision, options, input_bytes,
 * output_bytes, bits_per_weight, seconds, tensors:[...], e2e:[...], profiles:[...],
 * kernels:[...]} (lists optional). One transaction; the file is created with its schema. */
int wg_db_add(const char *path, json_t *run, wg_error *err);
/* The same, the new run's id in *id (for wg_db_remove). */
int wg_db_add_id(const char *path, json_t *run, long long *id, wg_error *err);
/* Remove run id and its rows (a build whose artefacts then failed to appear). */
int wg_db_remove(const char *path, long long id, wg_error *err);
/* A run object from a report (convert/report.h) made by `command`. */
json_t *wg_db_run_from_report(const char *command, json_t *report, double seconds);
/* Measured per-tensor costs for model m from path: a measure JSON ({"metric", "costs"}), a
 * `verify --json` report holding one under "measured", or a results database (the latest run
 * of this model that recorded some). *out as {"metric", "costs": [...]}. */
int wg_costs_load(const char *path, const wg_model *m, json_t **out, wg_error *err);
int cmd_matrix(int argc, char **argv);
int cmd_record_kernels(int argc, char **argv);
#endif
