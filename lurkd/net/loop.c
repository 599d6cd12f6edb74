/* Connection bookkeeping of the I/O loops; see loop.h. */
#include "net/loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "ops/log.h"

struct lurkd_io lurkd_io = {
    .tls_lock = PTHREAD_MUTEX_INITIALIZER,
};

struct lurkd_io_limits lurkd_io_limits_get(void)
{
    struct lurkd_io_limits l = {
        .max_frame = atomic_load_explicit(&lurkd_io.max_frame, memory_order_relaxed),
        .connection_limit = atomic_load_explicit(&lurkd_io.connection_limit, memory_order_relaxed),
        .max_connections = atomic_load_explicit(&lurkd_io.max_connections, memory_order_relaxed),
        .max_connections_per_peer =
            atomic_load_explicit(&lurkd_io.max_connections_per_peer, memory_order_relaxed),
        .idle_timeout = atomic_load_explicit(&lurkd_io.idle_timeout, memory_order_relaxed),
        .request_timeout = atomic_load_explicit(&lurkd_io.request_timeout, memory_order_relaxed),
    };
    return l;
}

void lurkd_loop_update_events(struct lurkd_conn *c)
{
    uint32_t events = (c->read_paused ? 0 : EPOLLIN) | (c->want_write ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (events != c->events && epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

bool lurkd_loop_add_conn(struct lurkd_loop *loop, struct lurkd_conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    c->ev_kind = LURKD_EV_CONN;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        return false;
    c->events = EPOLLIN;
    if (!lurkd_loop_update_deadline(c, c->accepted_ms)) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        return false;
    }
    c->next = loop->conns;
    if (loop->conns != NULL)
        loop->conns->prev = c;
    loop->conns = c;
    atomic_fetch_add(&loop->n_conns, 1);
    return true;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

bool lurkd_loop_update_deadline(struct lurkd_conn *c, int64_t now)
{
    struct lurkd_io_limits lim = lurkd_io_limits_get();
    int64_t request = (int64_t)lim.request_timeout * 1000, deadline;
    bool unfinished = lurkd_reader_pending(&c->reader) || c->transport->pending(c);

    /* An unfinished message runs from its first byte; only whole messages are activity. */
    if (!unfinished)
        c->frame_started_ms = 0;
    else if (c->frame_started_ms == 0)
        c->frame_started_ms = now;
    if (!c->handshake_done)
        deadline = c->accepted_ms + request;
    else if (c->frame_started_ms != 0)
        deadline = c->frame_started_ms + request;
    else
        deadline = c->active_ms + (int64_t)lim.idle_timeout * 1000;
    if (c->write_blocked_ms != 0)
        deadline = earliest(deadline, c->write_blocked_ms + request);
    return lurkd_timer_set(&c->loop->timers, &c->timer, deadline);
}

void lurkd_loop_close(struct lurkd_conn *c)
{
    struct lurkd_loop *loop = c->loop;

    /* Under out_lock: a worker writing a response directly sees an open fd or none. */
    pthread_mutex_lock(&c->out_lock);
    if (atomic_exchange(&c->closed, true)) {
        pthread_mutex_unlock(&c->out_lock);
        return;
    }
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->transport->free(c);
    close(c->fd);
    c->fd = -1;
    lurkd_conn_output_consumed(c, c->out_len - c->out_off);
    pthread_mutex_unlock(&c->out_lock);
    lurkd_timer_cancel(&loop->timers, &c->timer);
    lurkd_reader_clear(&c->reader);
    lurkd_peer_limit_release(LURKD_PEER_CONNECTIONS, &c->limit_key);
    c->limit_key.kind = LURKD_PEER_KEY_NONE;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    atomic_fetch_sub(&lurkd_io.n_conns, 1);
    atomic_fetch_sub(&loop->n_conns, 1);
    if (c->listener != NULL)
        atomic_fetch_sub(&c->listener->connections, 1);
    /* A descriptor is free again: a loop that ran out of them may accept (net/accept.h). */
    loop->descriptor_freed = true;
    lurkd_debug("closed connection from %s", c->peer.text);
    c->next = loop->closed;
    loop->closed = c;
}

void lurkd_loop_release_closed(struct lurkd_loop *loop)
{
    while (loop->closed != NULL) {
        struct lurkd_conn *c = loop->closed;
        loop->closed = c->next;
        lurkd_conn_unref(c);
    }
}
