/* The crypto worker pool; see worker.h. */
#include "net/worker.h"

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "net/conn.h"
#include "exchange/dispatch.h"
#include "conf/runtime.h"

/* Largest response: a tls12/tls13 capabilities listing many certificates. */
#define RESPONSE_MAX (1024 * 1024)

/*
 * A worker sleeps on its own semaphore, not on a condition variable: a
 * submit takes one sleeper off the stack under pool.lock and posts its
 * semaphore after unlocking. With a condition variable, every job at depth 1
 * cost three futex calls in the hand-off (the signal, the wait, and the wake
 * glibc makes when the woken worker unlocks the mutex it re-took as
 * contended); with a semaphore two (docs/performance.md, "Worker
 * semaphores").
 */
struct worker {
    pthread_t thread;
    sem_t wake;
    struct worker *next_sleeper;
};

/* pool.queued, pool.running and the workers asleep, for readers that do not take pool.lock. */
static atomic_uint queued_now, running_now, sleeping_now;

static struct {
    pthread_mutex_t lock;
    struct lurkd_job *head, *tail;
    unsigned queued, running, limit, peer_limit;
    struct worker *sleepers; /* waiting on their semaphore, not yet posted */
    bool stopping;
    struct worker *workers;
    unsigned n_threads;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

void lurkd_job_free(struct lurkd_job *job)
{
    /* Requests carry premasters and handshake secrets. */
    OPENSSL_cleanse(job->frame, job->len);
    free(job->frame);
    free(job);
}

/* Answers job under rt (NULL: the snapshot in force now, for a worker). */
static void process(struct lurkd_job *job, const struct lurkd_runtime *rt)
{
    struct lurkd_conn *c = job->conn;

    /* Work for a connection that has gone is dropped (docs/architecture.md §5). */
    if (!atomic_load(&c->closed)) {
        struct lurkd_runtime *now = rt == NULL ? lurkd_runtime_acquire() : NULL;
        lurk_cbb out;
        if (lurk_cbb_init(&out, 512, RESPONSE_MAX)) {
            lurkd_dispatch_msg(rt != NULL ? rt : now, &c->peer, &job->msg, &out);
            if (lurk_cbb_ok(&out))
                lurkd_conn_send(c, lurk_cbb_data(&out), lurk_cbb_len(&out));
        }
        lurk_cbb_cleanup(&out);
        if (now != NULL)
            lurkd_runtime_unref(now);
        /*
         * What a refused request left in this thread's OpenSSL error queue
         * (a point off its curve, a ciphertext above the modulus) is not
         * the next request's: the handlers answer with statuses, not errors.
         * Usually there is none, and peeking costs less than clearing.
         */
        if (ERR_peek_error() != 0)
            ERR_clear_error();
    }
    atomic_fetch_sub(&c->inflight, 1);
    lurkd_conn_unref(c);
    lurkd_job_free(job);
}

/*
 * The hand-off costs kernel time only when a thread sleeps or wakes (a futex
 * call and a context switch each): a submit wakes a sleeping worker only if
 * one is left that no earlier submit has woken already (pool.lock held; the
 * caller posts the semaphore after unlocking). Waking one worker that then
 * wakes the next saved more futex calls but put a second wake-up latency
 * before the second of two RSA jobs.
 */
static struct worker *take_sleeper_locked(void)
{
    struct worker *w = pool.sleepers;

    if (w != NULL) {
        pool.sleepers = w->next_sleeper;
        atomic_fetch_sub_explicit(&sleeping_now, 1, memory_order_relaxed);
    }
    return w;
}

/* Takes the queue's head, which must exist (pool.lock held). */
static struct lurkd_job *pop_locked(void)
{
    struct lurkd_job *job = pool.head;

    pool.head = job->next;
    if (pool.head == NULL)
        pool.tail = NULL;
    pool.queued--;
    atomic_store_explicit(&queued_now, pool.queued, memory_order_relaxed);
    lurkd_peer_limit_release(LURKD_PEER_QUEUED, &job->queued_as);
    return job;
}

static void *worker_main(void *arg)
{
    struct worker *self = arg;

    /* Named for ps, top and scripts/bench's per-thread CPU split. */
    pthread_setname_np(pthread_self(), "lurkd-worker");

    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.head == NULL && !pool.stopping) {
            self->next_sleeper = pool.sleepers;
            pool.sleepers = self;
            atomic_fetch_add_explicit(&sleeping_now, 1, memory_order_relaxed);
            pthread_mutex_unlock(&pool.lock);
            /* Posted once per time on the stack: whoever took it off. */
            while (sem_wait(&self->wake) != 0)
                ;
            pthread_mutex_lock(&pool.lock);
        }
        if (pool.head == NULL)
            break;
        struct lurkd_job *job = pop_locked();
        pool.running++;
        atomic_store_explicit(&running_now, pool.running, memory_order_relaxed);
        pthread_mutex_unlock(&pool.lock);
        process(job, NULL);
        pthread_mutex_lock(&pool.lock);
        pool.running--;
        atomic_store_explicit(&running_now, pool.running, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

bool lurkd_workers_start(unsigned n, unsigned queue_limit, unsigned peer_queue_limit, char *err,
                         size_t errlen)
{
    pool.limit = queue_limit;
    pool.peer_limit = peer_queue_limit;
    pool.workers = calloc(n, sizeof(*pool.workers));
    if (pool.workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (sem_init(&pool.workers[i].wake, 0, 0) != 0 ||
            pthread_create(&pool.workers[i].thread, NULL, worker_main, &pool.workers[i]) != 0) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            return false;
        }
        pool.n_threads = i + 1;
    }
    return true;
}

void lurkd_workers_set_limit(unsigned queue_limit, unsigned peer_queue_limit)
{
    pthread_mutex_lock(&pool.lock);
    pool.limit = queue_limit;
    pool.peer_limit = peer_queue_limit;
    pthread_mutex_unlock(&pool.lock);
}

/*
 * An I/O thread's inline answer touches no lock the workers share: with
 * RSA and TLS inline every request would otherwise take pool.lock twice
 * (docs/performance.md, "Signing in the loops"). inline_running is counted
 * before stopping is read, and lurkd_workers_stop sets stopping before it
 * reads inline_running (both sequentially consistent): either the answer
 * is refused or the drain waits for it.
 */
static atomic_uint inline_running;
static atomic_bool inline_stopping;

bool lurkd_workers_run_here(struct lurkd_job *job, const struct lurkd_runtime *rt)
{
    atomic_fetch_add(&inline_running, 1);
    if (atomic_load(&inline_stopping)) {
        atomic_fetch_sub(&inline_running, 1);
        return false;
    }
    process(job, rt);
    atomic_fetch_sub(&inline_running, 1);
    return true;
}

/*
 * Whether job has a place in the queue, which it then takes (pool.lock
 * held): below queue_limit, and, once the queue is half full, its peer below
 * peer_queue_limit. So a front end alone may use half the queue, and the
 * other half stays for the others (docs/security.md, "Connection limits").
 */
static enum lurkd_submit place_locked(struct lurkd_job *job)
{
    if (pool.queued >= pool.limit || pool.stopping)
        return LURKD_SUBMIT_QUEUE_FULL;
    job->queued_as = job->conn->limit_key;
    unsigned cap = pool.queued < pool.limit / 2 ? UINT_MAX : pool.peer_limit;
    if (!lurkd_peer_limit_acquire(LURKD_PEER_QUEUED, &job->queued_as, cap))
        return LURKD_SUBMIT_PEER_QUEUE_FULL;
    return LURKD_SUBMIT_QUEUED;
}

/* Appends job, placed, to the queue (pool.lock held); the caller posts the sleeper it returns. */
static struct worker *push_locked(struct lurkd_job *job)
{
    job->next = NULL;
    if (pool.tail != NULL)
        pool.tail->next = job;
    else
        pool.head = job;
    pool.tail = job;
    pool.queued++;
    atomic_store_explicit(&queued_now, pool.queued, memory_order_relaxed);
    return take_sleeper_locked();
}

bool lurkd_workers_run_oldest(struct lurkd_job *job, const struct lurkd_runtime *rt)
{
    /* Most of the time nothing waits: no lock at all then. */
    if (atomic_load_explicit(&queued_now, memory_order_relaxed) == 0)
        return lurkd_workers_run_here(job, rt);
    /* Counted first, as in lurkd_workers_run_here, so that a drain waits for it. */
    atomic_fetch_add(&inline_running, 1);
    if (atomic_load(&inline_stopping)) {
        atomic_fetch_sub(&inline_running, 1);
        return false;
    }
    /*
     * The head may have come after rt was taken (another loop's, after a
     * SIGHUP): it is answered under the snapshot in force now, as a worker
     * would answer it, never an older one.
     */
    struct lurkd_runtime *now = lurkd_runtime_acquire();
    struct worker *w = NULL;
    pthread_mutex_lock(&pool.lock);
    struct lurkd_job *head = pool.head;
    /*
     * A peer over its share of the queue is not answered here ahead of the
     * others' older work: it is refused, as lurkd_workers_submit refuses it.
     */
    enum lurkd_submit placed = head != NULL ? place_locked(job) : LURKD_SUBMIT_QUEUE_FULL;
    /* job takes the head's place: the queue's length does not change. */
    bool take = placed == LURKD_SUBMIT_QUEUED && now != NULL && head->cost != LURKD_COST_WORKER &&
                lurkd_dispatch_cost(now, &head->conn->peer, &head->msg) != LURKD_COST_WORKER;
    if (take) {
        pop_locked();
        w = push_locked(job);
    } else if (placed == LURKD_SUBMIT_QUEUED) {
        lurkd_peer_limit_release(LURKD_PEER_QUEUED, &job->queued_as);
    }
    pthread_mutex_unlock(&pool.lock);
    if (w != NULL)
        sem_post(&w->wake);
    if (placed == LURKD_SUBMIT_PEER_QUEUE_FULL) {
        lurkd_runtime_unref(now);
        atomic_fetch_sub(&inline_running, 1);
        return false;
    }
    if (take)
        process(head, now);
    else
        process(job, rt);
    lurkd_runtime_unref(now);
    atomic_fetch_sub(&inline_running, 1);
    return true;
}

enum lurkd_submit lurkd_workers_submit(struct lurkd_job *job)
{
    pthread_mutex_lock(&pool.lock);
    enum lurkd_submit placed = place_locked(job);
    struct worker *w = placed == LURKD_SUBMIT_QUEUED ? push_locked(job) : NULL;
    pthread_mutex_unlock(&pool.lock);
    if (w != NULL)
        sem_post(&w->wake);
    return placed;
}

bool lurkd_workers_asleep(void)
{
    return atomic_load_explicit(&sleeping_now, memory_order_relaxed) > 0;
}

unsigned lurkd_workers_queued(void)
{
    return atomic_load_explicit(&queued_now, memory_order_relaxed);
}

bool lurkd_workers_idle(void)
{
    bool idle;

    pthread_mutex_lock(&pool.lock);
    idle = pool.queued == 0 && pool.running == 0;
    pthread_mutex_unlock(&pool.lock);
    return idle && atomic_load(&inline_running) == 0;
}

bool lurkd_workers_seem_idle(void)
{
    return atomic_load_explicit(&queued_now, memory_order_relaxed) == 0 &&
           atomic_load_explicit(&running_now, memory_order_relaxed) == 0 &&
           atomic_load_explicit(&inline_running, memory_order_relaxed) == 0;
}

void lurkd_workers_stop(void)
{
    atomic_store(&inline_stopping, true);
    while (atomic_load(&inline_running) != 0) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    for (struct worker *w; (w = take_sleeper_locked()) != NULL;)
        sem_post(&w->wake);
    pthread_mutex_unlock(&pool.lock);
    for (unsigned i = 0; i < pool.n_threads; i++) {
        pthread_join(pool.workers[i].thread, NULL);
        sem_destroy(&pool.workers[i].wake);
    }
    free(pool.workers);
    pool.workers = NULL;
    pool.n_threads = 0;
}
