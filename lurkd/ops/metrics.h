/*
 * Counters and latency histograms (docs/architecture.md §5), kept with relaxed atomics
 * so recording costs a few instructions, and rendered as Prometheus text for
 * `lurkctl stats` (lurk designation, project type 128 "stats").
 */
#ifndef LURKD_OPS_METRICS_H
#define LURKD_OPS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"

enum lurkd_counter {
    LURKD_COUNTER_CONNECTIONS_ACCEPTED,
    LURKD_COUNTER_REFUSED_MAX_CONNECTIONS, /* refused: max_connections reached */
    LURKD_COUNTER_REFUSED_PER_PEER,        /* refused: max_connections_per_peer reached */
    LURKD_COUNTER_ACCEPT_NO_DESCRIPTORS,   /* accept failed: descriptors exhausted */
    LURKD_COUNTER_CONNECTIONS_CLOSED_BAD_FRAME,
    LURKD_COUNTER_CLOSED_REQUEST_TIMEOUT, /* handshake, message or write over request_timeout */
    LURKD_COUNTER_CLOSED_IDLE,
    LURKD_COUNTER_TLS_HANDSHAKE_FAILURES,
    LURKD_COUNTER_RELOADS,
    LURKD_COUNTER_RELOAD_FAILURES,
    LURKD_COUNTER_AUDIT_LINES_AGGREGATED, /* refusals counted in an aggregate audit line */
    LURKD_COUNTER_COUNT,
};

void lurkd_metrics_count(enum lurkd_counter counter);
/*
 * One answered request: the request's designation and type, the response's
 * designation (lurk for errors found before the payload) and status, and
 * the time from dispatch to response.
 */
void lurkd_metrics_request(uint8_t designation, uint8_t type, uint8_t response_designation,
                           uint8_t status, uint64_t micros);

/* Gauges are read when rendering. */
struct lurkd_gauges {
    unsigned connections;
    unsigned queued;
    unsigned keys;
};

/* Appends the Prometheus text exposition (format 0.0.4) of everything. */
bool lurkd_metrics_render(lurk_cbb *out, const struct lurkd_gauges *gauges);

#endif
