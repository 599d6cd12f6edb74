/*
 * The servers of lurk-server as one fleet (docs/provider.md §4 "Balancing
 * and health"): which server each attempt goes to, which servers are up,
 * and what the operator can read about them.
 *
 * - Each configured server is one slot per address: a host name that
 *   resolves to several addresses is several servers. Names are resolved at
 *   first use in a process, then again every lurk-resolve-ms by the health
 *   thread, never on a handshake's path after the first.
 * - Choice: two random up servers (drawn by weight), the one with fewer
 *   requests outstanding in this process wins (power of two choices; a
 *   tie goes to the first drawn). Backups only when no other server is up;
 *   when none is up, the down server due for a probe soonest, so a request
 *   can find a server back before the probe does.
 * - Health: an attempt that fails to connect, fails on I/O or times out
 *   marks its server down (passive). The health thread of the process
 *   (started at first use, one per process and provider instance) probes
 *   down servers with a LURK ping, with exponential back-off from
 *   lurk-probe-min-ms to lurk-probe-max-ms and "equal jitter" (half the
 *   interval fixed, half random, seeded per process): the workers of a
 *   front end never probe in step. A successful probe, or any answered
 *   request, brings the server back. Each state change is one log line.
 * - Counters per server (requests, failures, failovers, probes, latency)
 *   are rewritten by the health thread to <lurk-stats>.<pid> (§4 "Counters").
 * - Without the thread (pthread_create refused: haproxy's workers run with
 *   RLIMIT_NPROC 0; logged once per process) requests do its work: the
 *   first attempt of a request goes to a down server whose back-off has run
 *   out (one request per server at a time), and re-resolution and the
 *   counters file are done by one request at a time when due.
 * - fork: a child keeps the table (what is known about the servers) but
 *   not the parent's outstanding requests or thread: the first pick in the
 *   child starts its own thread, and each down server's next probe is drawn
 *   again, so workers forked after a server went down do not probe in step. An atfork handler holds the table's lock
 *   across fork so no child inherits it locked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "lurk/client.h"
#include "lurk/clock.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "provider.h"

struct slot {
    bool used;
    bool pinned;   /* a key reference's own server: chosen only for that key */
    bool gone;     /* its name no longer resolves to this address */
    int cfg_index; /* position in lurk-server; -1 when pinned */
    struct lurk_address addr;
    int weight;
    bool backup;
    bool down;
    bool probing;
    char cause[256]; /* why it went down */
    int64_t down_since_ms, next_probe_ms, backoff_ms;
    unsigned outstanding;
    uint64_t requests, failures, failovers, probes, answered, latency_sum_ms, latency_max_ms;
};

struct lurk_prov_fleet {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the health thread to stop */
    struct slot slots[LURK_PROV_MAX_TARGETS];
    bool resolved;
    int64_t next_resolve_ms, next_stats_ms;
    pid_t pid; /* the process the outstanding counts and the thread belong to */
    bool thread_running, stop;
    /*
     * The thread could not be started in this process (haproxy's workers
     * run with RLIMIT_NPROC 0): requests take over its work (see pick).
     */
    bool thread_failed;
    bool upkeep_busy; /* a request is resolving or writing the counters file */
    pthread_t thread;
    uint64_t rng;
    struct lurk_prov_fleet *next; /* atfork registry */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lurk_prov_fleet *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_mu);
    for (struct lurk_prov_fleet *f = registry; f != NULL; f = f->next)
        pthread_mutex_lock(&f->mu);
}

static void fork_parent(void)
{
    for (struct lurk_prov_fleet *f = registry; f != NULL; f = f->next)
        pthread_mutex_unlock(&f->mu);
    pthread_mutex_unlock(&registry_mu);
}

static void fork_child(void)
{
    for (struct lurk_prov_fleet *f = registry; f != NULL; f = f->next) {
        cond_init(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void register_atfork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* xorshift64*: jitter and the two random choices need no cryptographic randomness. */
static uint64_t next_random(struct lurk_prov_fleet *f)
{
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 2685821657736338717ULL;
}

static void seed(struct lurk_prov_fleet *f)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    /* Per process: forked workers must not draw the same jitter. */
    f->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
             0x9e3779b97f4a7c15ULL;
    if (f->rng == 0)
        f->rng = 1;
}

struct lurk_prov_fleet *lurk_prov_fleet_new(const struct lurk_prov_config *cfg)
{
    struct lurk_prov_fleet *f;

    (void)cfg;
    if (pthread_once(&atfork_once, register_atfork) != 0)
        return NULL;
    f = OPENSSL_zalloc(sizeof(*f));
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    cond_init(&f->cv);
    f->pid = getpid();
    seed(f);
    pthread_mutex_lock(&registry_mu);
    f->next = registry;
    registry = f;
    pthread_mutex_unlock(&registry_mu);
    return f;
}

void lurk_prov_fleet_free(struct lurk_prov_fleet *f)
{
    struct lurk_prov_fleet **pp;
    bool join;

    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    join = f->thread_running && f->pid == getpid();
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (join)
        pthread_join(f->thread, NULL);
    pthread_mutex_lock(&registry_mu);
    for (pp = &registry; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    OPENSSL_free(f);
}

static int64_t jitter(struct lurk_prov_fleet *f, int64_t interval_ms);

/*
 * Caller holds f->mu. A child process forgets its parent's requests and
 * thread, and draws its own time for the next probe of each down server:
 * workers forked after a server went down would otherwise all probe it at
 * the moment the parent had chosen (docs/provider.md §4 "Balancing and health").
 */
static void fork_check(struct lurk_prov_fleet *f, int64_t probe_min_ms)
{
    int64_t now;

    if (f->pid == getpid())
        return;
    f->pid = getpid();
    f->thread_running = false;
    f->thread_failed = false;
    f->upkeep_busy = false;
    seed(f);
    now = lurk_clock_ms();
    for (size_t i = 0; i < LURK_PROV_MAX_TARGETS; i++) {
        struct slot *sl = &f->slots[i];
        sl->outstanding = 0;
        sl->probing = false;
        if (sl->used && sl->down)
            sl->next_probe_ms = now + jitter(f, sl->backoff_ms > 0 ? sl->backoff_ms : probe_min_ms);
    }
    f->next_stats_ms = 0;
}

/* ---- resolution ---- */

static bool is_literal(const struct lurk_address *a)
{
    struct in6_addr ip;

    return a->kind == LURK_ADDRESS_UNIX || inet_pton(AF_INET, a->host, &ip) == 1 ||
           inet_pton(AF_INET6, a->host, &ip) == 1;
}

/* Caller holds f->mu. A free slot, or -1. Gone slots with no request left are reused. */
static int free_slot(struct lurk_prov_fleet *f)
{
    for (int i = 0; i < LURK_PROV_MAX_TARGETS; i++)
        if (!f->slots[i].used)
            return i;
    for (int i = 0; i < LURK_PROV_MAX_TARGETS; i++)
        if (f->slots[i].gone && f->slots[i].outstanding == 0)
            return i;
    return -1;
}

/* Caller holds f->mu. A slot for cfg server i dialled at dial ("" for the name itself). */
static void add_slot(struct lurk_prov_fleet *f, const struct lurk_prov_config *cfg, size_t i,
                     const char *dial)
{
    int s = free_slot(f);
    struct slot *sl;

    if (s < 0)
        return; /* the table is full: the addresses already in it serve */
    sl = &f->slots[s];
    memset(sl, 0, sizeof(*sl));
    sl->used = true;
    sl->cfg_index = (int)i;
    sl->addr = cfg->servers[i];
    sl->weight = cfg->weight[i] > 0 ? cfg->weight[i] : 1;
    sl->backup = cfg->backup[i];
    if (dial != NULL) {
        snprintf(sl->addr.dial, sizeof(sl->addr.dial), "%s", dial);
        snprintf(sl->addr.text, sizeof(sl->addr.text), "%.300s (%s)", cfg->servers[i].text, dial);
    }
}

/*
 * Resolves every name of lurk-server (without the lock: getaddrinfo may
 * take a while) and merges: known addresses keep their state, new ones
 * come in up, vanished ones are gone. A name that does not resolve keeps
 * what it had; at the first resolution it gets one slot that resolves at
 * connect time, so the error a request gets names the cause.
 */
static void resolve_all(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    const struct lurk_prov_config *cfg = &pc->cfg;

    for (size_t i = 0; i < cfg->n_servers; i++) {
        const struct lurk_address *a = &cfg->servers[i];
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res, *ai;
        char ips[LURK_PROV_MAX_TARGETS][64];
        size_t n_ips = 0;
        int rc;

        if (is_literal(a)) {
            bool have = false;
            pthread_mutex_lock(&f->mu);
            for (size_t s = 0; s < LURK_PROV_MAX_TARGETS; s++)
                have |= f->slots[s].used && f->slots[s].cfg_index == (int)i;
            if (!have)
                add_slot(f, cfg, i, NULL);
            pthread_mutex_unlock(&f->mu);
            continue;
        }
        rc = getaddrinfo(a->host, a->port, &hints, &res);
        if (rc != 0) {
            bool have = false;
            pthread_mutex_lock(&f->mu);
            for (size_t s = 0; s < LURK_PROV_MAX_TARGETS; s++)
                have |= f->slots[s].used && f->slots[s].cfg_index == (int)i;
            if (!have)
                add_slot(f, cfg, i, NULL);
            pthread_mutex_unlock(&f->mu);
            if (have)
                lurk_prov_log(pc, LOG_WARNING,
                              "server %s: cannot resolve %s: %s; keeping its addresses", a->text,
                              a->host, gai_strerror(rc));
            continue;
        }
        for (ai = res; ai != NULL && n_ips < LURK_PROV_MAX_TARGETS; ai = ai->ai_next) {
            char ip[64];
            bool dup = false;
            if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST) !=
                0)
                continue;
            for (size_t k = 0; k < n_ips; k++)
                dup |= strcmp(ips[k], ip) == 0;
            if (!dup)
                snprintf(ips[n_ips++], sizeof(ips[0]), "%s", ip);
        }
        freeaddrinfo(res);
        pthread_mutex_lock(&f->mu);
        for (size_t s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
            struct slot *sl = &f->slots[s];
            bool found = false;
            if (!sl->used || sl->cfg_index != (int)i)
                continue;
            for (size_t k = 0; k < n_ips && sl->addr.dial[0] != '\0'; k++)
                found |= strcmp(ips[k], sl->addr.dial) == 0;
            sl->gone = !found;
        }
        for (size_t k = 0; k < n_ips; k++) {
            bool have = false;
            for (size_t s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
                struct slot *sl = &f->slots[s];
                if (sl->used && sl->cfg_index == (int)i && strcmp(sl->addr.dial, ips[k]) == 0) {
                    sl->gone = false;
                    have = true;
                }
            }
            if (!have)
                add_slot(f, cfg, i, ips[k]);
        }
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_lock(&f->mu);
    f->resolved = true;
    f->next_resolve_ms = lurk_clock_ms() + cfg->resolve_ms;
    pthread_mutex_unlock(&f->mu);
}

/* ---- the health thread ---- */

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

/* Caller holds f->mu. 0, or the error of a first failed start in this process. */
static int start_thread(LURK_PROV_CTX *pc)
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

/* Caller holds f->mu. Half the interval fixed, half random. */
static int64_t jitter(struct lurk_prov_fleet *f, int64_t interval_ms)
{
    int64_t half = interval_ms / 2;

    return half + (half > 0 ? (int64_t)(next_random(f) % (uint64_t)(half + 1)) : 0);
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

static void write_stats(LURK_PROV_CTX *pc);

/* Caller holds f->mu. A probe of a down server failed: the next one after twice the wait. */
static void probe_failed(LURK_PROV_CTX *pc, struct slot *sl, const char *cause)
{
    struct lurk_prov_fleet *f = pc->fleet;

    sl->backoff_ms =
        sl->backoff_ms * 2 > pc->cfg.probe_max_ms ? pc->cfg.probe_max_ms : sl->backoff_ms * 2;
    sl->next_probe_ms = lurk_clock_ms() + jitter(f, sl->backoff_ms);
    snprintf(sl->cause, sizeof(sl->cause), "%s", cause != NULL ? cause : "");
}

/*
 * Re-resolution, the check of the link credential files and the counters
 * file, when due: the health thread's work besides probes, and the work a
 * request takes over when the thread could not start (one request at a
 * time per process).
 */
static void upkeep(LURK_PROV_CTX *pc)
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
        resolve_all(pc);
    lurk_prov_pool_check_credentials(pc);
    if (stats)
        write_stats(pc);
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
        struct slot *sl = &f->slots[s];
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
        struct slot *sl = &f->slots[due[k]];
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
            probe_failed(pc, sl, err);
        }
        pthread_mutex_unlock(&f->mu);
        if (back)
            lurk_prov_log(pc, LOG_NOTICE, "server %s up: probe answered after %lld ms down",
                          addrs[k].text, (long long)down_for);
    }
    upkeep(pc);

    /* Sleep until the next probe, resolution or counters file is due (at most 1 s). */
    now = lurk_clock_ms();
    next = now + 1000;
    pthread_mutex_lock(&f->mu);
    for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
        const struct slot *sl = &f->slots[s];
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

/* ---- counters file (§4 "Counters") ---- */

static void write_stats(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    char path[4200], tmp[4300];
    struct timespec ts;
    FILE *out;

    snprintf(path, sizeof(path), "%s.%ld", pc->cfg.stats_path, (long)getpid());
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    out = fopen(tmp, "w");
    if (out == NULL)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(out, "# lurk provider counters, pid %ld, written %lld\n", (long)getpid(),
            (long long)ts.tv_sec);
    pthread_mutex_lock(&f->mu);
    for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
        const struct slot *sl = &f->slots[s];
        if (!sl->used)
            continue;
        fprintf(out,
                "server=\"%s\" state=%s role=%s weight=%d requests=%llu failures=%llu "
                "failovers=%llu probes=%llu outstanding=%u latency_avg_ms=%.1f "
                "latency_max_ms=%llu\n",
                sl->addr.text,
                sl->gone   ? "gone"
                : sl->down ? "down"
                           : "up",
                sl->pinned   ? "keyref"
                : sl->backup ? "backup"
                             : "primary",
                sl->weight, (unsigned long long)sl->requests, (unsigned long long)sl->failures,
                (unsigned long long)sl->failovers, (unsigned long long)sl->probes, sl->outstanding,
                sl->answered > 0 ? (double)sl->latency_sum_ms / (double)sl->answered : 0.0,
                (unsigned long long)sl->latency_max_ms);
    }
    pthread_mutex_unlock(&f->mu);
    if (fclose(out) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

/* ---- choice ---- */

/* Caller holds f->mu. The pinned slot of a key reference's server, made on first use. */
static int pinned_slot(struct lurk_prov_fleet *f, const struct lurk_address *addr)
{
    int s;

    for (s = 0; s < LURK_PROV_MAX_TARGETS; s++)
        if (f->slots[s].used && f->slots[s].pinned &&
            strcmp(f->slots[s].addr.text, addr->text) == 0)
            return s;
    s = free_slot(f);
    if (s < 0)
        return -1;
    memset(&f->slots[s], 0, sizeof(f->slots[s]));
    f->slots[s].used = true;
    f->slots[s].pinned = true;
    f->slots[s].cfg_index = -1;
    f->slots[s].addr = *addr;
    f->slots[s].weight = 1;
    return s;
}

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
        int r = (int)(next_random(f) % (uint64_t)total);
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
    fork_check(f, pc->cfg.probe_min_ms);
    rc = start_thread(pc);
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
        resolve_all(pc); /* once per process; the thread re-resolves afterwards */
    else if (threadless && n_tried == 0)
        upkeep(pc);

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
            struct slot *sl = &f->slots[s];
            if (sl->used && !sl->pinned && !sl->gone && sl->down && !sl->probing &&
                sl->next_probe_ms <= now) {
                sl->probing = true;
                sl->probes++;
                t->probe = true;
                chosen = s;
            }
        }
    }
    if (chosen >= 0) {
        /* the probe above */
    } else if (override != NULL) {
        chosen = pinned_slot(f, override);
        if (chosen >= 0 && was_tried(chosen, tried, n_tried))
            chosen = -1;
    } else {
        for (int tier = 0; tier < 2 && n == 0; tier++) {
            int total = 0;
            for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
                const struct slot *sl = &f->slots[s];
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
                const struct slot *sa = &f->slots[a], *sb = &f->slots[b];
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
                const struct slot *sl = &f->slots[s];
                if (!sl->used || sl->pinned || sl->gone || was_tried(s, tried, n_tried))
                    continue;
                if (chosen < 0 || sl->next_probe_ms < f->slots[chosen].next_probe_ms)
                    chosen = s;
            }
        }
    }
    if (chosen >= 0) {
        struct slot *sl = &f->slots[chosen];
        sl->outstanding++;
        sl->requests++;
        t->addr = sl->addr;
        t->slot = chosen;
        t->was_down = sl->down;
    }
    pthread_mutex_unlock(&f->mu);
    return chosen >= 0;
}

void lurk_prov_fleet_done(LURK_PROV_CTX *pc, const struct lurk_prov_target *t,
                          enum lurk_prov_outcome outcome, int64_t latency_ms, const char *cause)
{
    struct lurk_prov_fleet *f = pc->fleet;
    struct slot *sl = &f->slots[t->slot];
    enum { NONE, WENT_DOWN, CAME_BACK } change = NONE;
    int64_t down_for = 0;

    pthread_mutex_lock(&f->mu);
    fork_check(f, pc->cfg.probe_min_ms);
    if (sl->outstanding > 0)
        sl->outstanding--;
    /* The slot may have been reused for another address since the pick. */
    if (strcmp(sl->addr.text, t->addr.text) == 0) {
        if (t->probe) {
            sl->probing = false;
            if (outcome == LURK_PROV_OUTCOME_FAILED && sl->down)
                probe_failed(pc, sl, cause);
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
                sl->next_probe_ms = sl->down_since_ms + jitter(f, sl->backoff_ms);
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
