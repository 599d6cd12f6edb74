/*
 * Counters and latency histograms (docs/architecture.md §5), kept with relaxed atomics
 * so recording costs a few instructions, and rendered as Prometheus text for
 * `lurkctl stats` (lurk designation, project type 128 "stats") and for the
 * [metrics] HTTP endpoint (ops/metrics_http.h, docs/deploy.md §8).
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
    LURKD_COUNTER_RELOADS,                /* through lurkd_metrics_reload */
    LURKD_COUNTER_RELOAD_FAILURES,        /* through lurkd_metrics_reload */
    LURKD_COUNTER_AUDIT_LINES_AGGREGATED, /* refusals counted in an aggregate audit line */
    /* Requests refused, by reason (the status says less: invalid_key_id, temporary_failure). */
    LURKD_COUNTER_REFUSED_UNKNOWN_KEY,      /* names a key lurkd does not hold */
    LURKD_COUNTER_REFUSED_KEY_NOT_ALLOWED,  /* this client, or this exchange, not allowed */
    LURKD_COUNTER_REFUSED_CONNECTION_LIMIT, /* connection_queue_limit reached */
    LURKD_COUNTER_REFUSED_QUEUE_FULL,       /* queue_limit reached (or out of memory) */
    LURKD_COUNTER_REFUSED_PEER_QUEUE_LIMIT, /* peer_queue_limit reached */
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

/*
 * The same request counted against the key it named (key_id of a key op):
 * requests by exchange, status and key. key_id is NULL for an id the
 * keystore did not find: those share one series per exchange and status
 * (key_id="unknown"), so that any client cannot fill the table with made-up
 * ids. The series are held in a fixed table; requests beyond it are counted
 * as dropped series.
 */
void lurkd_metrics_key_request(const uint8_t key_id[4], uint8_t designation, uint8_t type,
                               uint8_t response_designation, uint8_t status);

/* Once, at start: version for lurkd_build_info and the start time. */
void lurkd_metrics_started(const char *version);
/* A SIGHUP reload and its result (counts, and the time of the last success). */
void lurkd_metrics_reload(bool ok);

struct lurkd_keystore; /* keys/keystore.h */

/* Open connections of one listener. */
struct lurkd_listener_gauge {
    const char *address;
    unsigned connections;
};

/* Gauges are read when rendering (ops/metrics_gauges.h reads them). */
struct lurkd_gauges {
    unsigned connections;
    unsigned queued;
    unsigned queued_peers; /* peers with requests in the queue (net/peer_limit.h) */
    unsigned queue_limit;
    unsigned keys;
    /* For key names and per-key certificate expiry; may be NULL. */
    const struct lurkd_keystore *keystore;
    const struct lurkd_listener_gauge *listeners;
    size_t n_listeners;
};

/* Appends the Prometheus text exposition (format 0.0.4) of everything. */
bool lurkd_metrics_render(lurk_cbb *out, const struct lurkd_gauges *gauges);

#endif
