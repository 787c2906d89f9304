/* convert/report.h — verification reports: report.json (docs/report.md) + report.html. */
#ifndef WG_REPORT_H
#define WG_REPORT_H
#include "../quant/quant.h"
#include <jansson.h>

/* Any of export_summary, comparison, pareto, sweep may be NULL (left out of the report). */
json_t *wg_report_build(const wg_model *m, const wg_plan_entry *plan, json_t *plan_report,
                        json_t *export_summary, json_t *comparison, json_t *pareto, json_t *sweep);
/* dir/report.json and dir/report.html, each written atomically; dir is created. */
int wg_report_write(const char *dir, json_t *report, wg_error *err);
#endif
