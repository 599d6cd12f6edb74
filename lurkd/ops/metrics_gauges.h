/*
 * The gauges of a metrics rendering (ops/metrics.h), read from the I/O
 * threads, the workers and the snapshot in force: what `lurkctl stats` and
 * the HTTP endpoint show alike.
 */
#ifndef LURKD_OPS_METRICS_GAUGES_H
#define LURKD_OPS_METRICS_GAUGES_H

#include <stdbool.h>

#include "conf/runtime.h"
#include "ops/metrics.h"

/*
 * Fills g from rt (which must outlive g) and the running loops; listener
 * gauges go into a malloc'd array the caller frees with
 * lurkd_metrics_gauges_clear. rt may be NULL (no keys).
 */
void lurkd_metrics_gauges_read(struct lurkd_gauges *g, const struct lurkd_runtime *rt);
void lurkd_metrics_gauges_clear(struct lurkd_gauges *g);
/* /readyz: keys loaded and every listener accepting (docs/deploy.md §8). */
bool lurkd_metrics_ready(const struct lurkd_runtime *rt, char *why, size_t whylen);

#endif
