/*
 * Health of the servers (docs/provider.md §4 "Balancing and health"): state
 * changes from the outcome of each attempt, probes of down servers with
 * back-off and jitter, and the health thread that runs them.
 *
 * - Passive: an attempt that fails to connect, fails on I/O or times out
 *   marks its server down. Any answered request brings it back. Each state
 *   change is one log line.
 * - Active: the health thread of the process (started at first use, one
 *   per process and provider instance) probes down servers with a LURK
 *   ping, with exponential back-off from lurk-probe-min-ms to
 *   lurk-probe-max-ms and "equal jitter" (half the interval fixed, half
 *   random, seeded per process): the workers of a front end never probe in
 *   step. It also re-resolves names, checks the link credential files and
 *   rewrites the counters file when due (upkeep).
 * - Without the thread (pthread_create refused: haproxy's workers run with
 *   RLIMIT_NPROC 0; logged once per process by prov_balance.c) requests do
 *   its work: prov_balance.c sends the first attempt of a request to a down
 *   server whose back-off has run out, and calls the upkeep.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lurk/client.h"
#include "lurk/clock.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "prov_fleet.h"
#include "provider.h"

static void *health_main(void *arg)
{
    LURK_PROV_CTX *pc = arg;
    struct lurk_prov_fleet *f = pc->fleet;

    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        int64_t wait_ms, deadline;
        struct timespec until;

        pthread_mutex_unlock(&f->mu);
        wait_ms = lurk_prov_fleet_tick(pc);
        ERR_clear_error();
        pthread_mutex_lock(&f->mu);
        if (f->stop)
            break;
        deadline = lurk_clock_ms() + wait_ms;
        until.tv_sec = deadline / 1000;
        until.tv_nsec = (deadline % 1000) * 1000000;
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int lurk_prov_health_start(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    sigset_t all, old;
    int rc;

    if (f->thread_running || f->thread_failed || f->stop)
        return 0;
    /* The application's signals stay with its own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&f->thread, NULL, health_main, pc);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    f->thread_running = rc == 0;
    /* Not tried again in this process: the limit that refused it stays. */
    f->thread_failed = rc != 0;
    return rc;
}

void lurk_prov_health_stop(struct lurk_prov_fleet *f)
{
    bool join;

    pthread_mutex_lock(&f->mu);
    f->stop = true;
    join = f->thread_running && f->pid == getpid();
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (join)
        pthread_join(f->thread, NULL);
}

/* One LURK ping on a new connection: what a probe is. */
static bool probe(LURK_PROV_CTX *pc, const struct lurk_address *addr, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;
    struct lurk_conn *conn;
    struct lurk_response resp;
    bool ok = false;

    if (addr->kind == LURK_ADDRESS_TLS && (ctx = lurk_prov_pool_tls(pc, err, errlen)) == NULL)
        return false;
    conn = lurk_conn_open(addr, ctx, pc->cfg.timeout_ms, err, errlen);
    SSL_CTX_free(ctx);
    if (conn == NULL)
        return false;
    memset(&resp, 0, sizeof(resp));
    if (lurk_conn_call(conn, LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp,
                       pc->cfg.timeout_ms, err, errlen)) {
        ok = resp.msg.hdr.status == LURK_STATUS_SUCCESS;
        if (!ok)
            snprintf(err, errlen, "ping answered with status %u", (unsigned)resp.msg.hdr.status);
    }
    lurk_response_free(&resp);
    lurk_conn_close(conn);
    return ok;
}

void lurk_prov_health_probe_failed(LURK_PROV_CTX *pc, struct lurk_prov_slot *sl, const char *cause)
{
    struct lurk_prov_fleet *f = pc->fleet;

    sl->backoff_ms =
        sl->backoff_ms * 2 > pc->cfg.probe_max_ms ? pc->cfg.probe_max_ms : sl->backoff_ms * 2;
    sl->next_probe_ms = lurk_clock_ms() + lurk_prov_fleet_jitter(f, sl->backoff_ms);
    snprintf(sl->cause, sizeof(sl->cause), "%s", cause != NULL ? cause : "");
}

void lurk_prov_health_upkeep(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    bool resolve, stats;
    int64_t now = lurk_clock_ms();

    pthread_mutex_lock(&f->mu);
    if (f->upkeep_busy) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    resolve = f->resolved && f->next_resolve_ms <= now;
    stats = pc->cfg.stats_path != NULL && f->next_stats_ms <= now;
    if (stats)
        f->next_stats_ms = now + pc->cfg.stats_ms;
    if (resolve) /* claimed: no other request resolves meanwhile */
        f->next_resolve_ms = now + pc->cfg.resolve_ms;
    f->upkeep_busy = true;
    pthread_mutex_unlock(&f->mu);
    if (resolve)
        lurk_prov_fleet_resolve(pc);
    lurk_prov_pool_check_credentials(pc);
    if (stats)
        lurk_prov_stats_write(pc);
    pthread_mutex_lock(&f->mu);
    f->upkeep_busy = false;
    pthread_mutex_unlock(&f->mu);
}

int64_t lurk_prov_fleet_tick(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    int due[LURK_PROV_MAX_TARGETS];
    struct lurk_address addrs[LURK_PROV_MAX_TARGETS];
    size_t n_due = 0;
    int64_t now = lurk_clock_ms(), next;

    pthread_mutex_lock(&f->mu);
    for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
        struct lurk_prov_slot *sl = &f->slots[s];
        if (sl->used && !sl->gone && sl->down && !sl->probing && sl->next_probe_ms <= now) {
            sl->probing = true;
            addrs[n_due] = sl->addr;
            due[n_due++] = s;
        }
    }
    pthread_mutex_unlock(&f->mu);

    for (size_t k = 0; k < n_due; k++) {
        char err[300] = "";
        bool ok = probe(pc, &addrs[k], err, sizeof(err));
        struct lurk_prov_slot *sl = &f->slots[due[k]];
        int64_t down_for = 0;
        bool back = false;

        pthread_mutex_lock(&f->mu);
        sl->probing = false;
        sl->probes++;
        if (ok && sl->down && strcmp(sl->addr.text, addrs[k].text) == 0) {
            sl->down = false;
            back = true;
            down_for = lurk_clock_ms() - sl->down_since_ms;
        } else if (!ok) {
            lurk_prov_health_probe_failed(pc, sl, err);
        }
        pthread_mutex_unlock(&f->mu);
        if (back)
            lurk_prov_log(pc, LOG_NOTICE, "server %s up: probe answered after %lld ms down",
                          addrs[k].text, (long long)down_for);
    }
    lurk_prov_health_upkeep(pc);

    /* Sleep until the next probe, resolution or counters file is due (at most 1 s). */
    now = lurk_clock_ms();
    next = now + 1000;
    pthread_mutex_lock(&f->mu);
    for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
        const struct lurk_prov_slot *sl = &f->slots[s];
        if (sl->used && !sl->gone && sl->down && !sl->probing && sl->next_probe_ms < next)
            next = sl->next_probe_ms;
    }
    if (f->resolved && f->next_resolve_ms < next)
        next = f->next_resolve_ms;
    if (pc->cfg.stats_path != NULL && f->next_stats_ms < next)
        next = f->next_stats_ms;
    pthread_mutex_unlock(&f->mu);
    return next > now ? next - now : 0;
}

void lurk_prov_fleet_done(LURK_PROV_CTX *pc, const struct lurk_prov_target *t,
                          enum lurk_prov_outcome outcome, int64_t latency_ms, const char *cause)
{
    struct lurk_prov_fleet *f = pc->fleet;
    struct lurk_prov_slot *sl = &f->slots[t->slot];
    enum { NONE, WENT_DOWN, CAME_BACK } change = NONE;
    int64_t down_for = 0;

    pthread_mutex_lock(&f->mu);
    lurk_prov_fleet_sync(f, pc->cfg.probe_min_ms);
    if (sl->outstanding > 0)
        sl->outstanding--;
    /* The slot may have been reused for another address since the pick. */
    if (strcmp(sl->addr.text, t->addr.text) == 0) {
        if (t->probe) {
            sl->probing = false;
            if (outcome == LURK_PROV_OUTCOME_FAILED && sl->down)
                lurk_prov_health_probe_failed(pc, sl, cause);
        }
        switch (outcome) {
        case LURK_PROV_OUTCOME_ANSWERED:
            sl->answered++;
            sl->latency_sum_ms += (uint64_t)(latency_ms > 0 ? latency_ms : 0);
            if ((uint64_t)latency_ms > sl->latency_max_ms && latency_ms > 0)
                sl->latency_max_ms = (uint64_t)latency_ms;
            if (sl->down) {
                sl->down = false;
                change = CAME_BACK;
                down_for = lurk_clock_ms() - sl->down_since_ms;
            }
            break;
        case LURK_PROV_OUTCOME_FAILED:
            sl->failures++;
            snprintf(sl->cause, sizeof(sl->cause), "%s", cause != NULL ? cause : "");
            if (!sl->down) {
                sl->down = true;
                change = WENT_DOWN;
                sl->down_since_ms = lurk_clock_ms();
                sl->backoff_ms = pc->cfg.probe_min_ms;
                sl->next_probe_ms = sl->down_since_ms + lurk_prov_fleet_jitter(f, sl->backoff_ms);
                pthread_cond_broadcast(&f->cv);
            }
            break;
        case LURK_PROV_OUTCOME_BUSY:
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (change == WENT_DOWN)
        lurk_prov_log(pc, LOG_WARNING, "server %s down: %s", t->addr.text,
                      cause != NULL ? cause : "");
    else if (change == CAME_BACK)
        lurk_prov_log(pc, LOG_NOTICE, "server %s up: a request was answered after %lld ms down",
                      t->addr.text, (long long)down_for);
}

void lurk_prov_fleet_failover(LURK_PROV_CTX *pc, int slot)
{
    struct lurk_prov_fleet *f = pc->fleet;

    if (slot < 0 || slot >= LURK_PROV_MAX_TARGETS)
        return;
    pthread_mutex_lock(&f->mu);
    f->slots[slot].failovers++;
    pthread_mutex_unlock(&f->mu);
}
