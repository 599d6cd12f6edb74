/* Gauges of a metrics rendering; see metrics_gauges.h. */
#include "ops/metrics_gauges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/io_loop.h"
#include "net/loop.h"
#include "net/peer_limit.h"
#include "net/worker.h"

void lurkd_metrics_gauges_read(struct lurkd_gauges *g, const struct lurkd_runtime *rt)
{
    struct lurkd_listener_gauge *ls = NULL;
    size_t n = lurkd_io.n_listeners;

    memset(g, 0, sizeof(*g));
    g->connections = lurkd_io_connections();
    g->queued = lurkd_workers_queued();
    g->queued_peers = (unsigned)lurkd_peer_limit_peers(LURKD_PEER_QUEUED);
    if (rt != NULL) {
        g->queue_limit = rt->cfg->queue_limit;
        g->keys = (unsigned)rt->keys->n_keys;
        g->keystore = rt->keys;
    }
    if (n > 0 && lurkd_io.listeners != NULL && (ls = calloc(n, sizeof(*ls))) != NULL) {
        for (size_t i = 0; i < n; i++) {
            ls[i].address = lurkd_io.listeners[i].addr.text;
            ls[i].connections = atomic_load(&lurkd_io.listeners[i].connections);
        }
        g->listeners = ls;
        g->n_listeners = n;
    }
}

void lurkd_metrics_gauges_clear(struct lurkd_gauges *g)
{
    free((void *)g->listeners);
    g->listeners = NULL;
    g->n_listeners = 0;
}

bool lurkd_metrics_ready(const struct lurkd_runtime *rt, char *why, size_t whylen)
{
    if (rt == NULL || rt->keys->n_keys == 0) {
        snprintf(why, whylen, "no key loaded");
        return false;
    }
    if (lurkd_io.n_listeners == 0 || !atomic_load(&lurkd_io.accepting)) {
        snprintf(why, whylen, "not accepting connections");
        return false;
    }
    snprintf(why, whylen, "ready: %zu keys, %zu listeners", rt->keys->n_keys, lurkd_io.n_listeners);
    return true;
}
