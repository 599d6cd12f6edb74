/* Request submission; see request.h. */
#include "net/request.h"

#include <stdlib.h>
#include <string.h>

#include "lurk/clock.h"
#include "exchange/dispatch.h"
#include "lurk/lurk.h"
#include "net/loop.h"
#include "conf/runtime.h"
#include "net/worker.h"
#include "ops/metrics.h"

/* An answer from the I/O thread itself, when the queues are full. */
static void reject(struct lurkd_conn *c, const struct lurk_header *hdr, uint8_t status)
{
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    uint8_t buf[LURK_HEADER_LEN + LURK_STATE_LEN];
    lurk_cbb cbb;

    lurk_cbb_init_fixed(&cbb, buf, sizeof(buf));
    lurkd_dispatch_reject(rt, hdr, status, &cbb);
    lurkd_runtime_unref(rt);
    if (lurk_cbb_ok(&cbb))
        lurkd_conn_send(c, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb));
}

/* The same, before the frame was copied into a job (rare: full queues, no memory). */
static void reject_frame(struct lurkd_conn *c, const uint8_t *frame, size_t len, uint8_t status)
{
    struct lurkd_dispatch_msg m;

    if (lurkd_dispatch_parse(frame, len, &m))
        reject(c, &m.msg.hdr, status);
}

/*
 * Answered by the I/O thread itself, a request costs no thread hand-off
 * (futex calls, context switches and a second wake-up: more kernel time
 * than a P-256 signature takes in user time). With one loop per CPU and the
 * connections balanced across them, a loop signs its own connections'
 * requests, on plain sockets and TLS alike, while the time it has spent
 * answering requests of the same kind (short or long) inline in this epoll
 * batch is under LURKD_INLINE_BUDGET_US; what comes after goes to the
 * workers, so that the other connections of the batch wait at most the two
 * budgets and one signature, and RSA cannot spend the time of a P-256
 * signature or a ping behind it. A short request (a ping, ECDSA, EdDSA) is
 * answered at once, ahead of the workers' queue; a long one (RSA) only in
 * its turn: when the workers have a queue, the loop signs the oldest job of
 * it and queues this one behind the others, so that RSA is served in the
 * order of arrival even under a deep queue. HSM keys never (dispatch.h).
 * docs/performance.md, "Signing in the loops".
 */
static bool answered_here(struct lurkd_conn *c, struct lurkd_job *job,
                          const struct lurkd_runtime *rt)
{
    struct lurkd_loop *loop = c->loop;
    bool long_one = job->cost == LURKD_COST_LONG;

    if (job->cost == LURKD_COST_WORKER ||
        loop->inline_ns[long_one] >= (int64_t)LURKD_INLINE_BUDGET_US * 1000)
        return false;
    /*
     * A long request with a worker asleep and other events in the batch:
     * two RSA signatures on one loop would run one after the other while a
     * CPU idles (a loop's connections are not the machine's).
     */
    if (long_one && loop->batch_events > 1 && lurkd_workers_asleep())
        return false;
    int64_t start = lurk_clock_ns();
    if (!(job->cost == LURKD_COST_SHORT ? lurkd_workers_run_here(job, rt)
                                        : lurkd_workers_run_oldest(job, rt)))
        return false;
    loop->inline_ns[long_one] += lurk_clock_ns() - start;
    return true;
}

void lurkd_request_submit(struct lurkd_conn *c, const uint8_t *frame, size_t len)
{
    struct lurkd_job *job;

    if ((unsigned)atomic_load(&c->inflight) >= lurkd_io_limits_get().connection_limit) {
        lurkd_metrics_count(LURKD_COUNTER_REFUSED_CONNECTION_LIMIT);
        reject_frame(c, frame, len, LURK_STATUS_TEMPORARY_FAILURE);
        return;
    }
    job = malloc(sizeof(*job));
    if (job != NULL && (job->frame = malloc(len)) == NULL) {
        free(job);
        job = NULL;
    }
    if (job == NULL) {
        lurkd_metrics_count(LURKD_COUNTER_REFUSED_QUEUE_FULL);
        reject_frame(c, frame, len, LURK_STATUS_TEMPORARY_FAILURE);
        return;
    }
    memcpy(job->frame, frame, len);
    job->len = len;
    /* The reader frames exactly (reader.h): every frame parses. */
    if (!lurkd_dispatch_parse(job->frame, len, &job->msg)) {
        lurkd_job_free(job);
        return;
    }
    /* Who may answer it (dispatch.h), and the answer if here: one snapshot for both. */
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    job->cost = lurkd_dispatch_cost(rt, &c->peer, &job->msg);
    job->conn = c;
    lurkd_conn_ref(c);
    atomic_fetch_add(&c->inflight, 1);
    bool here = answered_here(c, job, rt);
    lurkd_runtime_unref(rt);
    if (here)
        return;
    enum lurkd_submit placed = lurkd_workers_submit(job);
    if (placed != LURKD_SUBMIT_QUEUED) {
        atomic_fetch_sub(&c->inflight, 1);
        lurkd_conn_unref(c);
        lurkd_metrics_count(placed == LURKD_SUBMIT_PEER_QUEUE_FULL
                                ? LURKD_COUNTER_REFUSED_PEER_QUEUE_LIMIT
                                : LURKD_COUNTER_REFUSED_QUEUE_FULL);
        reject(c, &job->msg.msg.hdr, LURK_STATUS_TEMPORARY_FAILURE);
        lurkd_job_free(job);
    }
}
