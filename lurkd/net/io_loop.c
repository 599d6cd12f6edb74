/* The I/O threads; see io_loop.h. */
#include "net/io_loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ops/log.h"
#include "lurk/clock.h"
#include "ops/metrics.h"
#include "net/accept.h"
#include "net/idle_poll.h"
#include "net/request.h"

/*
 * Stop reading a client that does not read its answers; resume below half
 * of it. Hundreds of answers: a client that reads is never held up by it,
 * and one that does not holds about twice this (docs/security.md,
 * "Connection limits"), where 1 MiB let it hold 1.2-2.2 MiB.
 */
#define OUT_HIGH_WATER (64 * 1024)
/* The longest epoll wait, so that a SIGTERM drain request is seen promptly. */
#define MAX_WAIT_MS 1000

/* Connections closed for a deadline, logged once a second at most (log.h). */
static struct lurkd_log_limit timeout_log = LURKD_LOG_LIMIT_INIT;
static struct lurkd_log_limit frame_log = LURKD_LOG_LIMIT_INIT;

void lurkd_io_set_limits(const struct lurkd_io_limits *l)
{
    atomic_store(&lurkd_io.max_frame, l->max_frame);
    atomic_store(&lurkd_io.connection_limit, l->connection_limit);
    atomic_store(&lurkd_io.max_connections, l->max_connections);
    atomic_store(&lurkd_io.max_connections_per_peer, l->max_connections_per_peer);
    atomic_store(&lurkd_io.idle_timeout, l->idle_timeout);
    atomic_store(&lurkd_io.request_timeout, l->request_timeout);
}

void lurkd_io_set_tls(struct lurkd_listener *l, SSL_CTX *ctx)
{
    SSL_CTX *old;

    pthread_mutex_lock(&lurkd_io.tls_lock);
    old = l->tls;
    l->tls = ctx;
    pthread_mutex_unlock(&lurkd_io.tls_lock);
    /* Connections made with the old context hold their own reference. */
    SSL_CTX_free(old);
}

/* ---- writing ---- */

/* Writes pending output; false when the connection had to be closed. */
static bool conn_flush(struct lurkd_conn *c, int64_t now)
{
    bool ok = true, blocked = false, progressed = false;
    bool was_blocked = c->want_write || c->write_blocked_ms != 0;

    pthread_mutex_lock(&c->out_lock);
    while (c->out_off < c->out_len) {
        ssize_t n = c->transport->send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n == LURKD_IO_AGAIN) {
            blocked = true;
            break;
        }
        if (n < 0) {
            ok = false;
            break;
        }
        lurkd_conn_output_consumed(c, (size_t)n);
        progressed = true;
    }
    pthread_mutex_unlock(&c->out_lock);
    if (!ok) {
        lurkd_info("closing connection from %s: write failed", c->peer.text);
        lurkd_loop_close(c);
        return false;
    }
    /*
     * Written at once, as most are: the epoll interest and the deadline are
     * what they were (one flush per read since the cork; performance.md).
     */
    if (!blocked && !was_blocked)
        return true;
    c->want_write = blocked;
    /* A client that stops reading is given request_timeout from its last progress. */
    if (!blocked)
        c->write_blocked_ms = 0;
    else if (progressed || c->write_blocked_ms == 0)
        c->write_blocked_ms = now;
    lurkd_loop_update_events(c);
    if (!lurkd_loop_update_deadline(c, now)) {
        lurkd_loop_close(c);
        return false;
    }
    return true;
}

/* ---- reading ---- */

struct feed {
    struct lurkd_conn *conn;
    bool framed; /* a whole message arrived */
};

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct feed *f = arg;

    f->framed = true;
    lurkd_request_submit(f->conn, frame, len);
}

/* A framing error: the stream cannot go on, nobody else is affected. */
static void frame_error(struct lurkd_conn *c, enum lurkd_reader_status st, uint32_t length)
{
    if (st == LURKD_READER_NOMEM) {
        lurkd_log_limited(&frame_log, LURKD_LOG_ERROR, "closing connection from %s: out of memory",
                          c->peer.text);
        return;
    }
    lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_CLOSED_BAD_FRAME);
    if (st == LURKD_READER_GARBAGE)
        lurkd_log_limited(&frame_log, LURKD_LOG_WARN,
                          "closing connection from %s: garbage header (length %u)", c->peer.text,
                          (unsigned)length);
    else
        lurkd_log_limited(
            &frame_log, LURKD_LOG_WARN,
            "closing connection from %s: frame of %u bytes exceeds max_frame_size %zu",
            c->peer.text, (unsigned)length, lurkd_io_limits_get().max_frame);
}

/* Finishes the TLS handshake; false when the connection was closed. */
static bool conn_handshake(struct lurkd_conn *c, int64_t now)
{
    int r = c->transport->handshake(c);

    if (r < 0 || (r > 0 && !lurkd_accept_authenticated(c))) {
        lurkd_loop_close(c);
        return false;
    }
    if (r > 0) {
        c->handshake_done = true;
        c->active_ms = now;
    }
    lurkd_loop_update_events(c);
    return true;
}

static void read_frames(struct lurkd_conn *c)
{
    struct lurkd_loop *loop = c->loop;
    int64_t now = lurk_clock_ms();
    struct feed f = {c, false};

    if (!c->handshake_done && (!conn_handshake(c, now) || !c->handshake_done))
        goto deadline;
    for (int reads = 1;; reads++) {
        /* A client that does not read its answers is not read from either. */
        if (lurkd_conn_pending_output(c) > OUT_HIGH_WATER) {
            c->read_paused = true;
            lurkd_loop_update_events(c);
            break;
        }
        ssize_t n = c->transport->recv(c, loop->scratch, LURKD_SCRATCH_LEN);
        if (n == LURKD_IO_AGAIN)
            break;
        if (n <= 0) {
            lurkd_loop_close(c);
            return;
        }
        uint32_t length;
        enum lurkd_reader_status st =
            lurkd_reader_feed(&c->reader, loop->scratch, (size_t)n, lurkd_io_limits_get().max_frame,
                              on_frame, &f, &length);
        /* Requests carry premasters and ephemeral keys. */
        OPENSSL_cleanse(loop->scratch, (size_t)n);
        if (st != LURKD_READER_OK) {
            frame_error(c, st, length);
            lurkd_loop_close(c);
            return;
        }
        /*
         * A short read drained a plain socket, and a busy one yields after a
         * few reads: epoll (level-triggered) says when there is more. TLS
         * reads on until OpenSSL wants more, which epoll can see.
         */
        if (c->transport->worker_may_send && ((size_t)n < LURKD_SCRATCH_LEN || reads >= 16))
            break;
    }
    if (f.framed)
        c->active_ms = now;
deadline:
    if (!atomic_load(&c->closed) && !lurkd_loop_update_deadline(c, now))
        lurkd_loop_close(c);
}

static void maybe_resume(struct lurkd_conn *c);

/*
 * Reads c and writes what was answered meanwhile in one send (one SSL_write
 * on TLS), instead of one per response and, on TLS, a wake-up of this loop
 * per response (docs/performance.md, "Batched writes").
 */
static void conn_readable(struct lurkd_conn *c)
{
    lurkd_conn_cork(c);
    read_frames(c);
    if (lurkd_conn_uncork(c) && !atomic_load(&c->closed) && conn_flush(c, lurk_clock_ms()))
        maybe_resume(c);
}

/* Resumes a slow reader once its output has drained. */
static void maybe_resume(struct lurkd_conn *c)
{
    if (!c->read_paused || atomic_load(&c->closed) ||
        lurkd_conn_pending_output(c) > OUT_HIGH_WATER / 2)
        return;
    c->read_paused = false;
    lurkd_loop_update_events(c);
    /* TLS may hold records that were received before the pause. */
    conn_readable(c);
}

static void run_flushes(struct lurkd_loop *loop)
{
    struct lurkd_conn *list = lurkd_flush_queue_take(&loop->flushq);
    int64_t now = lurk_clock_ms();

    while (list != NULL) {
        struct lurkd_conn *c = list;
        list = c->flush_next;
        /*
         * Off the queue now: the next response may put it back. Only here,
         * never in conn_flush (an EPOLLOUT flush must not let a connection
         * that is still queued be queued twice).
         */
        pthread_mutex_lock(&c->out_lock);
        c->flush_queued = false;
        pthread_mutex_unlock(&c->out_lock);
        if (!atomic_load(&c->closed) && conn_flush(c, now))
            maybe_resume(c);
        lurkd_conn_unref(c);
    }
}

/* ---- deadlines ---- */

/* Closes the connections whose deadline has passed; an idle one with work in flight waits on. */
static void expire(struct lurkd_loop *loop, int64_t now)
{
    int64_t request = (int64_t)lurkd_io_limits_get().request_timeout * 1000;
    struct lurkd_timer *t;

    while ((t = lurkd_timer_first(&loop->timers)) != NULL && t->deadline_ms <= now) {
        struct lurkd_conn *c =
            (struct lurkd_conn *)((char *)t - offsetof(struct lurkd_conn, timer));
        const char *why = NULL;
        if (!c->handshake_done)
            why = "TLS handshake not finished within request_timeout";
        else if (c->frame_started_ms != 0 && now - c->frame_started_ms >= request)
            why = "request not finished within request_timeout";
        else if (c->write_blocked_ms != 0 && now - c->write_blocked_ms >= request)
            why = "client not reading its answers within request_timeout";
        if (why == NULL && atomic_load(&c->inflight) > 0) {
            c->active_ms = now;
            if (lurkd_loop_update_deadline(c, now))
                continue;
        }
        lurkd_timer_cancel(&loop->timers, t);
        if (why != NULL) {
            lurkd_metrics_count(LURKD_COUNTER_CLOSED_REQUEST_TIMEOUT);
            lurkd_log_limited(&timeout_log, LURKD_LOG_INFO, "closing connection from %s: %s",
                              c->peer.text, why);
        } else {
            lurkd_metrics_count(LURKD_COUNTER_CLOSED_IDLE);
            lurkd_info("closing idle connection from %s", c->peer.text);
        }
        lurkd_loop_close(c);
    }
}

/* How long epoll may wait: until the next deadline or the end of an accept back-off. */
static int wait_ms(const struct lurkd_loop *loop, int64_t now)
{
    const struct lurkd_timer *t = lurkd_timer_first(&loop->timers);
    int64_t until = now + MAX_WAIT_MS;

    if (t != NULL && t->deadline_ms < until)
        until = t->deadline_ms;
    if (loop->accept_resume_ms != 0 && loop->accept_resume_ms < until)
        until = loop->accept_resume_ms;
    return until > now ? (int)(until - now) : 0;
}

/*
 * lurkd_io_read_received: accepts the connections the kernel has already
 * completed (their clients may have sent requests), then reads what every
 * connection has received so far.
 */
static void read_all(struct lurkd_loop *loop)
{
    unsigned epoch = atomic_load(&lurkd_io.read_epoch);

    if (atomic_load(&loop->read_epoch) == epoch)
        return;
    for (size_t k = 0; k < lurkd_io.n_listeners; k++)
        lurkd_accept(loop, &lurkd_io.listeners[k], true);
    for (struct lurkd_conn *c = loop->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!atomic_load(&c->closed) && !c->read_paused)
            conn_readable(c);
    }
    atomic_store(&loop->read_epoch, epoch);
}

static void conn_event(struct lurkd_conn *c, uint32_t events)
{
    if (atomic_load(&c->closed))
        return;
    if (events & EPOLLOUT) {
        if (!conn_flush(c, lurk_clock_ms()))
            return;
        maybe_resume(c);
    }
    /* A TLS handshake blocked on writing resumes when the socket is writable. */
    if (!atomic_load(&c->closed) &&
        ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || (!c->handshake_done && (events & EPOLLOUT))))
        conn_readable(c);
}

static void *loop_main(void *arg)
{
    struct lurkd_loop *loop = arg;
    struct epoll_event events[64];

    /* Named for ps, top and scripts/bench's per-thread CPU split. */
    pthread_setname_np(pthread_self(), "lurkd-io");

    while (!atomic_load(&loop->stop)) {
        int n = lurkd_idle_poll_wait(loop->epfd, events, 64, wait_ms(loop, lurk_clock_ms()),
                                     &loop->stop);
        loop->inline_ns[0] = loop->inline_ns[1] = 0;
        loop->batch_events = n;
        for (int i = 0; i < n; i++) {
            int kind = *(int *)events[i].data.ptr;
            if (kind == LURKD_EV_WAKE)
                run_flushes(loop);
            else if (kind == LURKD_EV_LISTENER)
                lurkd_accept(loop, ((struct lurkd_ev_listener *)events[i].data.ptr)->listener,
                             false);
            else
                conn_event(events[i].data.ptr, events[i].events);
        }
        read_all(loop);
        int64_t now = lurk_clock_ms();
        expire(loop, now);
        /* Out of descriptors: accept again when one frees or the back-off ends. */
        if (loop->accept_resume_ms != 0 && atomic_load(&lurkd_io.accepting) &&
            (loop->descriptor_freed || now >= loop->accept_resume_ms))
            lurkd_accept_listen(loop);
        lurkd_accept_balance(loop);
        lurkd_loop_release_closed(loop);
    }
    while (loop->conns != NULL)
        lurkd_loop_close(loop->conns);
    lurkd_loop_release_closed(loop);
    return NULL;
}

bool lurkd_io_start(unsigned n, struct lurkd_listener *listeners, size_t n_listeners, char *err,
                    size_t errlen)
{
    lurkd_io.loops = calloc(n, sizeof(*lurkd_io.loops));
    if (lurkd_io.loops == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    lurkd_io.listeners = listeners;
    lurkd_io.n_listeners = n_listeners;
    atomic_store(&lurkd_io.accepting, true);
    for (unsigned i = 0; i < n; i++) {
        struct lurkd_loop *loop = &lurkd_io.loops[i];
        loop->ev_kind = LURKD_EV_WAKE;
        pthread_mutex_init(&loop->flushq.lock, NULL);
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        loop->flushq.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        loop->listen_tags = calloc(n_listeners + 1, sizeof(*loop->listen_tags));
        loop->scratch = malloc(LURKD_SCRATCH_LEN);
        if (loop->epfd < 0 || loop->flushq.wakefd < 0 || loop->listen_tags == NULL ||
            loop->scratch == NULL) {
            snprintf(err, errlen, "cannot create I/O loop: %s", strerror(errno));
            return false;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = loop};
        epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->flushq.wakefd, &ev);
        for (size_t k = 0; k < n_listeners; k++) {
            loop->listen_tags[k].ev_kind = LURKD_EV_LISTENER;
            loop->listen_tags[k].listener = &listeners[k];
        }
        if (!lurkd_accept_listen(loop)) {
            snprintf(err, errlen, "epoll: %s", strerror(errno));
            return false;
        }
        lurkd_io.n_loops = i + 1;
    }
    /*
     * Every loop exists before the first thread starts: the loops read each
     * other's connection counts (lurkd_accept_balance), and n_loops stays
     * fixed while they run.
     */
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&lurkd_io.loops[i].thread, NULL, loop_main, &lurkd_io.loops[i]) != 0) {
            snprintf(err, errlen, "cannot start I/O thread");
            return false;
        }
        lurkd_io.n_threads = i + 1;
    }
    return true;
}

void lurkd_io_stop_accepting(void)
{
    atomic_store(&lurkd_io.accepting, false);
    for (unsigned i = 0; i < lurkd_io.n_loops; i++)
        lurkd_accept_unlisten(&lurkd_io.loops[i]);
}

bool lurkd_io_read_received(int timeout_ms)
{
    unsigned epoch = atomic_fetch_add(&lurkd_io.read_epoch, 1) + 1;

    for (unsigned i = 0; i < lurkd_io.n_loops; i++)
        lurkd_flush_queue_wake(&lurkd_io.loops[i].flushq);
    for (int waited = 0;; waited++) {
        unsigned done = 0;
        for (unsigned i = 0; i < lurkd_io.n_loops; i++)
            done += atomic_load(&lurkd_io.loops[i].read_epoch) == epoch;
        if (done == lurkd_io.n_loops)
            return true;
        if (waited >= timeout_ms)
            return false;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

unsigned lurkd_io_connections(void)
{
    return atomic_load(&lurkd_io.n_conns);
}

bool lurkd_io_flushed(void)
{
    return lurkd_conn_pending_total() == 0;
}

void lurkd_io_stop(void)
{
    for (unsigned i = 0; i < lurkd_io.n_loops; i++) {
        atomic_store(&lurkd_io.loops[i].stop, true);
        lurkd_flush_queue_wake(&lurkd_io.loops[i].flushq);
    }
    for (unsigned i = 0; i < lurkd_io.n_loops; i++) {
        struct lurkd_loop *loop = &lurkd_io.loops[i];
        if (i < lurkd_io.n_threads)
            pthread_join(loop->thread, NULL);
        /* Flush requests queued after the loop ended hold references. */
        for (struct lurkd_conn *c = lurkd_flush_queue_take(&loop->flushq), *next; c != NULL;
             c = next) {
            next = c->flush_next;
            lurkd_conn_unref(c);
        }
        close(loop->epfd);
        close(loop->flushq.wakefd);
        free(loop->listen_tags);
        free(loop->scratch);
        lurkd_timer_heap_free(&loop->timers);
        pthread_mutex_destroy(&loop->flushq.lock);
    }
    free(lurkd_io.loops);
    lurkd_io.loops = NULL;
    lurkd_io.n_loops = 0;
    lurkd_io.n_threads = 0;
}
