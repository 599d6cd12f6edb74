/*
 * The server table of one provider instance, shared by the files of the
 * fleet (docs/provider.md §4 "Balancing and health"; docs/architecture.md
 * §2.3): prov_fleet.c (the table, fork, resolution), prov_balance.c (the
 * choice of each attempt), prov_health.c (state changes, probes, back-off,
 * the health thread) and prov_stats.c (the counters file). Everything here
 * is under the table's lock unless a function says otherwise.
 */
#ifndef LURK_PROV_FLEET_H
#define LURK_PROV_FLEET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "provider.h"

/* One server: one address of one lurk-server entry, or a key reference's server. */
struct lurk_prov_slot {
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
    /*
     * A request probing it (no health thread) holds the claim until then at
     * most: a request whose ASYNC job the application frees while paused
     * never ends its attempt, and must not keep the server from being probed.
     */
    int64_t probe_claim_until_ms;
    unsigned outstanding;
    uint64_t requests, failures, failovers, probes, answered, latency_sum_ms, latency_max_ms;
};

struct lurk_prov_fleet {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the health thread to stop */
    struct lurk_prov_slot slots[LURK_PROV_MAX_TARGETS];
    bool resolved;
    int64_t next_resolve_ms, next_stats_ms;
    pid_t pid; /* the process the outstanding counts and the thread belong to */
    bool thread_running, stop;
    /*
     * The thread could not be started in this process (haproxy's workers
     * run with RLIMIT_NPROC 0): requests take over its work (prov_balance.c).
     */
    bool thread_failed;
    bool upkeep_busy; /* a request is resolving or writing the counters file */
    pthread_t thread;
    uint64_t rng;
    struct lurk_prov_fleet *next; /* atfork registry */
};

/* ---- prov_fleet.c ---- */

/*
 * Caller holds f->mu. In a forked child: forgets the parent's requests and
 * thread and draws each down server's next probe again.
 */
void lurk_prov_fleet_sync(struct lurk_prov_fleet *f, int64_t probe_min_ms);
/* Caller holds f->mu. xorshift64*, seeded per process: jitter and the random choices. */
uint64_t lurk_prov_fleet_random(struct lurk_prov_fleet *f);
/* Caller holds f->mu. Half of interval_ms fixed, half random. */
int64_t lurk_prov_fleet_jitter(struct lurk_prov_fleet *f, int64_t interval_ms);
/* Resolves every name of lurk-server and merges the addresses (takes the lock itself). */
void lurk_prov_fleet_resolve(LURK_PROV_CTX *pc);
/* Caller holds f->mu. The slot of a key reference's server, made on first use; -1 when full. */
int lurk_prov_fleet_pinned(struct lurk_prov_fleet *f, const struct lurk_address *addr);

/* ---- prov_health.c ---- */

/*
 * Caller holds f->mu. Starts the process's health thread once; 0, or the
 * error of a first failed start (then thread_failed is set and requests
 * take over its work).
 */
int lurk_prov_health_start(LURK_PROV_CTX *pc);
/* Stops and joins the thread if this process started it (takes the lock itself). */
void lurk_prov_health_stop(struct lurk_prov_fleet *f);
/* Caller holds f->mu. A probe of a down server failed: back-off doubled, next probe drawn. */
void lurk_prov_health_probe_failed(LURK_PROV_CTX *pc, struct lurk_prov_slot *sl, const char *cause);
/*
 * Re-resolution, the link credential check and the counters file when due,
 * by one caller at a time (takes the lock itself).
 */
void lurk_prov_health_upkeep(LURK_PROV_CTX *pc);

/* ---- prov_stats.c ---- */

/* Rewrites <lurk-stats>.<pid> (takes the lock itself). */
void lurk_prov_stats_write(LURK_PROV_CTX *pc);

#endif
