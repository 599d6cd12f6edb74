/*
 * An I/O loop's state and the connection bookkeeping its parts share (the
 * accept module, the read path and the event loop itself): registering a
 * connection, its epoll interest, its deadline, closing it. Also the state
 * all loops share: listeners, limits, the connection count.
 */
#ifndef LURKD_NET_LOOP_H
#define LURKD_NET_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "net/listener.h"
#include "net/timer.h"

/* What an epoll event's data points at: each of these structs starts with its kind. */
enum lurkd_ev_kind {
    LURKD_EV_LISTENER,
    LURKD_EV_WAKE,
    LURKD_EV_CONN,
};

struct lurkd_ev_listener {
    int ev_kind; /* LURKD_EV_LISTENER */
    struct lurkd_listener *listener;
};

struct lurkd_loop {
    int ev_kind; /* LURKD_EV_WAKE: the flush queue's eventfd points here */
    pthread_t thread;
    int epfd;
    struct lurkd_flush_queue flushq;
    struct lurkd_ev_listener *listen_tags;
    atomic_bool listening;    /* the listeners are in this loop's epoll set */
    int64_t accept_resume_ms; /* descriptors ran out: accept again after this (0: not paused) */
    bool descriptor_freed;    /* a connection closed since the loop stopped accepting */
    struct lurkd_timer_heap timers;
    uint8_t *scratch;         /* where received bytes land before framing */
    struct lurkd_conn *conns; /* every open connection, I/O thread only */
    /*
     * Connections closed during the current epoll batch: their loop reference
     * is dropped only after the batch, because a later event of the same
     * batch may still point at them.
     */
    struct lurkd_conn *closed;
    atomic_bool stop;
    atomic_uint read_epoch; /* the last io.read_epoch this loop has read for */
    int64_t inline_ns[2];   /* time spent answering short, long requests inline in this batch */
    int batch_events;       /* events in this epoll batch */
    atomic_uint n_conns;    /* its open connections (read by the other loops: net/accept.c) */
    bool balanced_out;      /* not listening while it has more connections than another loop */
};

/*
 * The time an I/O thread may spend per epoll batch answering short requests
 * (exchange/dispatch.h) itself, and as much for long ones, measured around
 * each answer: the other connections of the batch wait at most twice this
 * plus one signature; the rest go to the workers (docs/performance.md,
 * "Signing in the loops").
 */
#ifndef LURKD_INLINE_BUDGET_US
#define LURKD_INLINE_BUDGET_US 1000
#endif

/* Bytes read from a socket at a time. */
#define LURKD_SCRATCH_LEN 16384

/* Limits that SIGHUP may change; read without a lock. */
struct lurkd_io_limits {
    size_t max_frame;
    unsigned connection_limit; /* requests in flight per connection */
    unsigned max_connections;
    unsigned max_connections_per_peer;
    unsigned idle_timeout;    /* seconds */
    unsigned request_timeout; /* seconds: a TLS handshake, a message, a blocked write */
};

/* What every loop shares (net/loop.c). */
struct lurkd_io {
    struct lurkd_loop *loops;
    unsigned n_loops;   /* fixed while the loops run (lurkd_io_start) */
    unsigned n_threads; /* loops whose thread started: lurkd_io_stop joins them */
    struct lurkd_listener *listeners;
    size_t n_listeners;
    pthread_mutex_t tls_lock; /* listeners' SSL_CTX, swapped by SIGHUP */
    atomic_size_t max_frame;
    atomic_uint connection_limit, max_connections, max_connections_per_peer;
    atomic_uint idle_timeout, request_timeout;
    atomic_uint n_conns;
    atomic_bool accepting;
    atomic_uint read_epoch; /* bumped by lurkd_io_read_received */
};
extern struct lurkd_io lurkd_io;

/* lurkd_io_limits_get reads the limits in force. */
struct lurkd_io_limits lurkd_io_limits_get(void);

/*
 * lurkd_loop_add_conn puts an accepted connection into the loop (epoll,
 * connection list, first deadline); false when epoll refuses it (the caller
 * still owns c).
 */
bool lurkd_loop_add_conn(struct lurkd_loop *loop, struct lurkd_conn *c);
/* lurkd_loop_update_events registers the epoll interest c's flags ask for. */
void lurkd_loop_update_events(struct lurkd_conn *c);
/*
 * lurkd_loop_update_deadline sets c's timer to the earliest deadline that
 * applies now (handshake, unfinished message, blocked write, idleness);
 * false when the timer could not be set (c must then be closed).
 */
bool lurkd_loop_update_deadline(struct lurkd_conn *c, int64_t now);
/*
 * lurkd_loop_close closes c: out of epoll and the timers, transport freed,
 * socket closed, its peer count released; the loop's reference goes after
 * the current epoll batch (lurkd_loop_release_closed). Closing twice is
 * harmless.
 */
void lurkd_loop_close(struct lurkd_conn *c);
/* lurkd_loop_release_closed drops the references of the connections closed in this batch. */
void lurkd_loop_release_closed(struct lurkd_loop *loop);

#endif
