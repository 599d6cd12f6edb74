/*
 * The servers of lurk-server as one table (docs/provider.md §4 "Balancing
 * and health"); the choice is prov_balance.c's, health prov_health.c's and
 * the counters file prov_stats.c's (prov_fleet.h).
 *
 * - Each configured server is one slot per address: a host name that
 *   resolves to several addresses is several servers. Names are resolved at
 *   first use in a process, then again every lurk-resolve-ms by the health
 *   thread (or, without one, by a request), never on a handshake's path
 *   after the first otherwise. Known addresses keep their state, new ones
 *   come in up, vanished ones are gone.
 * - fork: a child keeps the table (what is known about the servers) but
 *   not the parent's outstanding requests or thread: the first pick in the
 *   child starts its own thread, and each down server's next probe is drawn
 *   again, so workers forked after a server went down do not probe in step.
 *   An atfork handler holds the table's lock across fork so no child
 *   inherits it locked.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lurk/clock.h"
#include "prov_fleet.h"
#include "provider.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lurk_prov_fleet *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

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
        lurk_prov_cond_init(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void register_atfork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* xorshift64*: jitter and the two random choices need no cryptographic randomness. */
uint64_t lurk_prov_fleet_random(struct lurk_prov_fleet *f)
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

int64_t lurk_prov_fleet_jitter(struct lurk_prov_fleet *f, int64_t interval_ms)
{
    int64_t half = interval_ms / 2;

    return half + (half > 0 ? (int64_t)(lurk_prov_fleet_random(f) % (uint64_t)(half + 1)) : 0);
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
    lurk_prov_cond_init(&f->cv);
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

    if (f == NULL)
        return;
    lurk_prov_health_stop(f);
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

/*
 * Caller holds f->mu. A child process forgets its parent's requests and
 * thread, and draws its own time for the next probe of each down server:
 * workers forked after a server went down would otherwise all probe it at
 * the moment the parent had chosen (docs/provider.md §4 "Balancing and health").
 */
void lurk_prov_fleet_sync(struct lurk_prov_fleet *f, int64_t probe_min_ms)
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
        struct lurk_prov_slot *sl = &f->slots[i];
        sl->outstanding = 0;
        sl->probing = false;
        if (sl->used && sl->down)
            sl->next_probe_ms =
                now + lurk_prov_fleet_jitter(f, sl->backoff_ms > 0 ? sl->backoff_ms : probe_min_ms);
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
    struct lurk_prov_slot *sl;

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
void lurk_prov_fleet_resolve(LURK_PROV_CTX *pc)
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
            struct lurk_prov_slot *sl = &f->slots[s];
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
                struct lurk_prov_slot *sl = &f->slots[s];
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

int lurk_prov_fleet_pinned(struct lurk_prov_fleet *f, const struct lurk_address *addr)
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
