/*
 * The [metrics] HTTP endpoint (docs/deploy.md §8), served by Debian's
 * libmicrohttpd on one thread of its own: GET /metrics (Prometheus text
 * format 0.0.4, the same text as `lurkctl stats`), GET /healthz (alive) and
 * GET /readyz (keys loaded, listeners accepting). Other paths answer 404,
 * other methods 405. Connections are bounded in number and time: it is a
 * management port, not a way to hold lurkd.
 */
#ifndef LURKD_OPS_METRICS_HTTP_H
#define LURKD_OPS_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config_metrics.h"

/*
 * Binds and listens on the [metrics] address, before privileges are
 * dropped; returns the socket, or -1 with "file:line: cannot listen on
 * metrics address ...: reason" in err.
 */
int lurkd_metrics_http_bind(const struct lurkd_metrics_conf *mc, char *err, size_t errlen);
/* Serves on fd (which it then owns) with mc's limits; once the I/O threads run. */
bool lurkd_metrics_http_start(int fd, const struct lurkd_metrics_conf *mc, char *err,
                              size_t errlen);
/* Stops serving and closes the socket; a no-op when not started. */
void lurkd_metrics_http_stop(void);

#endif
