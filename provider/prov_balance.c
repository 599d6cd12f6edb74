/*
 * The choice of the server of each attempt (docs/provider.md §4 "Balancing
 * and health"), over the table of prov_fleet.c.
 *
 * - Two random up servers (drawn by weight), the one with fewer requests
 *   outstanding in this process per unit of weight wins (power of two
 *   choices; a tie goes to the first drawn). Backups only when no other
 *   server is up; when none is up, the down server due for a probe
 *   soonest, so a request can find a server back before the probe does.
 *   A key reference's own server always gets its requests.
 * - The first pick of a process starts its health thread (prov_health.c).
 *   When that was refused, the first attempt of a request is the probe of
 *   a down server whose back-off has run out, and requests do the upkeep.
 */
#include <string.h>
#include <syslog.h>

#include "lurk/clock.h"
#include "prov_fleet.h"
#include "provider.h"

static bool was_tried(int s, const int *tried, size_t n_tried)
{
    for (size_t k = 0; k < n_tried; k++)
        if (tried[k] == s)
            return true;
    return false;
}

/* Caller holds f->mu. One of cand drawn with probability proportional to its weight. */
static int draw(struct lurk_prov_fleet *f, const int *cand, size_t n, int total, int except)
{
    for (int tries = 0; tries < 8; tries++) {
        int r = (int)(lurk_prov_fleet_random(f) % (uint64_t)total);
        for (size_t k = 0; k < n; k++) {
            r -= f->slots[cand[k]].weight;
            if (r < 0) {
                if (cand[k] != except)
                    return cand[k];
                break;
            }
        }
    }
    for (size_t k = 0; k < n; k++) /* unlucky draws: the first other one */
        if (cand[k] != except)
            return cand[k];
    return except;
}

bool lurk_prov_fleet_pick(LURK_PROV_CTX *pc, const struct lurk_address *override, const int *tried,
                          size_t n_tried, struct lurk_prov_target *t)
{
    struct lurk_prov_fleet *f = pc->fleet;
    int cand[LURK_PROV_MAX_TARGETS], chosen = -1, rc;
    size_t n = 0;
    bool resolved, threadless;
    int64_t now;

    memset(t, 0, sizeof(*t));
    pthread_mutex_lock(&f->mu);
    lurk_prov_fleet_sync(f, pc->cfg.probe_min_ms);
    /* Attempts abandoned while paused never reached lurk_prov_fleet_done. */
    if (lurk_prov_pool_any_abandoned(pc->pool))
        for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
            unsigned gone = lurk_prov_pool_take_abandoned(pc->pool, s);
            struct lurk_prov_slot *sl = &f->slots[s];
            sl->outstanding -= gone < sl->outstanding ? gone : sl->outstanding;
        }
    rc = lurk_prov_health_start(pc);
    resolved = f->resolved;
    threadless = f->thread_failed;
    pthread_mutex_unlock(&f->mu);
    if (rc != 0)
        lurk_prov_log(pc, LOG_WARNING,
                      "health thread not started: %s (a process limit: haproxy sets "
                      "RLIMIT_NPROC to 0 in workers under `user`); requests of this process "
                      "probe down servers, re-resolve names and write the counters file instead",
                      strerror(rc));
    if (override == NULL && !resolved)
        lurk_prov_fleet_resolve(pc); /* once per process; the thread re-resolves afterwards */
    else if (threadless && n_tried == 0)
        lurk_prov_health_upkeep(pc);

    pthread_mutex_lock(&f->mu);
    now = lurk_clock_ms();
    if (override == NULL && threadless && n_tried == 0) {
        /*
         * Without the thread, the first attempt of a request is the probe of
         * a down server whose back-off has run out (one request at a time per
         * server): answered, the server is up again; failed, the request goes
         * on to an up server, delayed by at most one timeout.
         */
        for (int s = 0; s < LURK_PROV_MAX_TARGETS && chosen < 0; s++) {
            struct lurk_prov_slot *sl = &f->slots[s];
            if (sl->used && !sl->pinned && !sl->gone && sl->down &&
                (!sl->probing || sl->probe_claim_until_ms <= now) && sl->next_probe_ms <= now) {
                sl->probing = true;
                /* Waiting for a connection, connecting, the request: a timeout each. */
                sl->probe_claim_until_ms = now + 3 * (int64_t)pc->cfg.timeout_ms;
                sl->probes++;
                t->probe = true;
                chosen = s;
            }
        }
    }
    if (chosen >= 0) {
        /* the probe above */
    } else if (override != NULL) {
        chosen = lurk_prov_fleet_pinned(f, override);
        if (chosen >= 0 && was_tried(chosen, tried, n_tried))
            chosen = -1;
    } else {
        for (int tier = 0; tier < 2 && n == 0; tier++) {
            int total = 0;
            for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
                const struct lurk_prov_slot *sl = &f->slots[s];
                if (!sl->used || sl->pinned || sl->gone || sl->down || sl->backup != (tier == 1) ||
                    was_tried(s, tried, n_tried))
                    continue;
                cand[n++] = s;
                total += sl->weight;
            }
            if (n == 1) {
                chosen = cand[0];
            } else if (n > 1) {
                int a = draw(f, cand, n, total, -1), b = draw(f, cand, n, total, a);
                const struct lurk_prov_slot *sa = &f->slots[a], *sb = &f->slots[b];
                /* Fewer outstanding per unit of weight wins. */
                chosen = (uint64_t)sb->outstanding * (uint64_t)sa->weight <
                                 (uint64_t)sa->outstanding * (uint64_t)sb->weight
                             ? b
                             : a;
            }
        }
        if (chosen < 0) {
            /* Nothing up: the down server due for a probe soonest. */
            for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
                const struct lurk_prov_slot *sl = &f->slots[s];
                if (!sl->used || sl->pinned || sl->gone || was_tried(s, tried, n_tried))
                    continue;
                if (chosen < 0 || sl->next_probe_ms < f->slots[chosen].next_probe_ms)
                    chosen = s;
            }
        }
    }
    if (chosen >= 0) {
        struct lurk_prov_slot *sl = &f->slots[chosen];
        sl->outstanding++;
        sl->requests++;
        t->addr = sl->addr;
        t->slot = chosen;
        t->was_down = sl->down;
    }
    pthread_mutex_unlock(&f->mu);
    return chosen >= 0;
}
