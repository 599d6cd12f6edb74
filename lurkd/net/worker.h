/*
 * The crypto worker pool: a bounded FIFO of requests and N threads that
 * decode, check, compute and encode (docs/architecture.md §5). Pipelined requests of
 * one connection run on several workers at once and complete out of order.
 */
#ifndef LURKD_NET_WORKER_H
#define LURKD_NET_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange/dispatch.h"
#include "net/peer_limit.h"

struct lurkd_conn;

struct lurkd_job {
    struct lurkd_conn *conn; /* a reference, dropped by the worker */
    uint8_t *frame;          /* the whole request message, freed by the worker */
    size_t len;
    struct lurkd_dispatch_msg msg;   /* frame, parsed once (views into frame) */
    enum lurkd_dispatch_cost cost;   /* who may run it (exchange/dispatch.h) */
    struct lurkd_peer_key queued_as; /* the peer it counts against while queued */
    struct lurkd_job *next;
};

/* Wipes and frees the job's frame and the job (not its connection reference). */
void lurkd_job_free(struct lurkd_job *job);

/*
 * queue_limit bounds the jobs waiting for a worker; once half of it is
 * taken, peer_queue_limit bounds those of each peer (net/peer_limit.h), so
 * that one peer cannot fill the queue and have every other peer's requests
 * refused.
 */
bool lurkd_workers_start(unsigned n, unsigned queue_limit, unsigned peer_queue_limit, char *err,
                         size_t errlen);
void lurkd_workers_set_limit(unsigned queue_limit, unsigned peer_queue_limit);
/* What lurkd_workers_submit did with a job. */
enum lurkd_submit {
    LURKD_SUBMIT_QUEUED,
    LURKD_SUBMIT_QUEUE_FULL,      /* queue_limit reached, or stopping (job untouched) */
    LURKD_SUBMIT_PEER_QUEUE_FULL, /* half full, and the job's peer has its share (job untouched) */
};
/* Queues the job for a worker, when there is room for it and for its peer. */
enum lurkd_submit lurkd_workers_submit(struct lurkd_job *job);
/*
 * Runs the job in the calling thread (the I/O thread, for a quick request)
 * under rt, the snapshot its cost was computed under (so a reload cannot
 * turn an in-memory key into a token's between the two), sparing a thread
 * hand-off; false (job untouched) when the pool is stopping.
 * lurkd_workers_idle and lurkd_workers_stop count these runs too.
 */
bool lurkd_workers_run_here(struct lurkd_job *job, const struct lurkd_runtime *rt);
/*
 * Runs the oldest job in the calling thread, so that the I/O thread's
 * inline answers keep the order of arrival: job itself (under rt) when
 * nothing waits for a worker, else the queue's head, under the snapshot in
 * force now, when that snapshot still lets an I/O thread run it (its cost
 * is computed again: a reload since it came may have moved its key to a
 * token), with job queued behind the others. Takes job unless the pool is
 * stopping, or the queue is half full and job's peer has its share of it
 * (false, job untouched: lurkd_workers_submit then refuses it).
 */
bool lurkd_workers_run_oldest(struct lurkd_job *job, const struct lurkd_runtime *rt);
/* True when a worker sleeps, waiting for work (read without the pool's lock). */
bool lurkd_workers_asleep(void);
/* Requests waiting for a worker (metrics), read without the pool's lock. */
unsigned lurkd_workers_queued(void);
/* True when nothing is queued or running, inline runs included. */
bool lurkd_workers_idle(void);
/*
 * The same from counters read without the pool's lock (a hint, for the I/O
 * loops' idle polling: net/idle_poll.h); a drain uses lurkd_workers_idle.
 */
bool lurkd_workers_seem_idle(void);
/*
 * Finishes what is queued, then joins the threads. Before lurkd_io_stop:
 * responses go through the connections' I/O loops.
 */
void lurkd_workers_stop(void);

#endif
