/*
 * One client connection. Its I/O thread owns the socket, the transport
 * state (plain or TLS, behind recv/send functions as in nginx) and the read
 * side; crypto workers hand responses over under out_lock: written at once
 * on a plain socket with nothing queued, else appended to the output buffer
 * for the I/O thread to flush. Jobs hold references, so a connection that
 * closes while requests are in flight stays allocated until the last worker
 * lets go, and that worker's result is dropped.
 */
#ifndef LURKD_NET_CONN_H
#define LURKD_NET_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "net/peer_limit.h"
#include "net/reader.h"
#include "net/timer.h"
#include "conf/policy.h"

struct lurkd_loop;
struct lurkd_conn;

/*
 * Connections with output for their I/O thread to write (one queue per
 * loop): a worker that appends a response to a connection's output puts the
 * connection here and wakes the loop through wakefd.
 */
struct lurkd_flush_queue {
    pthread_mutex_t lock;
    struct lurkd_conn *head;
    int wakefd; /* an eventfd the loop waits on */
};

/* What recv and send return besides a byte count. */
#define LURKD_IO_AGAIN (-2) /* would block; want_write says on what */
#define LURKD_IO_ERROR (-1) /* the connection is dead or misbehaving: close it */

/*
 * A transport (net/plain.c, net/tls.c): the calls the loop makes without
 * knowing whether the bytes are encrypted.
 */
struct lurkd_transport {
    const char *name;
    /* recv: bytes received (> 0), 0 at end of stream, LURKD_IO_AGAIN or LURKD_IO_ERROR. */
    ssize_t (*recv)(struct lurkd_conn *c, uint8_t *buf, size_t len);
    /* send: bytes written (> 0), LURKD_IO_AGAIN or LURKD_IO_ERROR. */
    ssize_t (*send)(struct lurkd_conn *c, const uint8_t *buf, size_t len);
    /* handshake: 1 done, 0 in progress (want_write set), -1 failed (reason logged). */
    int (*handshake)(struct lurkd_conn *c);
    /* pending: bytes taken from the socket but not yet returned by recv (a partial record). */
    bool (*pending)(const struct lurkd_conn *c);
    /* free: releases the transport state (before the socket closes). */
    void (*free)(struct lurkd_conn *c);
    /* Workers may write responses on the socket themselves (plain sockets only). */
    bool worker_may_send;
};

struct lurkd_conn {
    int ev_kind; /* first: epoll data points here (net/loop.h) */
    int fd;
    const struct lurkd_transport *transport;
    SSL *ssl; /* tls:// only, owned by net/tls.c */
    bool handshake_done;
    struct lurkd_loop *loop;          /* its I/O thread's loop (net/loop.h) */
    struct lurkd_flush_queue *flushq; /* that loop's flush queue */
    struct lurkd_peer peer;
    struct lurkd_peer_key limit_key; /* what it counts against (net/peer_limit.h) */
    struct lurkd_listener *listener; /* its listener's connection gauge; NULL until accepted */

    /* Deadlines (net/loop.c): one timer, set to the earliest that applies. */
    struct lurkd_timer timer;
    int64_t accepted_ms;      /* the TLS handshake must finish by request_timeout after it */
    int64_t frame_started_ms; /* first byte of an unfinished message; 0 when none */
    int64_t active_ms;        /* last whole message (or the handshake's end): idle_timeout */
    int64_t write_blocked_ms; /* output waiting for EPOLLOUT since; 0 when none */

    /* Read side, I/O thread only. */
    struct lurkd_reader reader;

    /* Write side, shared with workers. */
    pthread_mutex_t out_lock;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    /*
     * out_len - out_off, written under out_lock, read without it: the I/O
     * thread checks it on every read, and taking out_lock there contended
     * with workers sending: a futex wait and wake per request under load.
     */
    atomic_size_t out_pending;
    bool flush_queued; /* on its loop's flush list (guarded by out_lock; cleared by the flush) */
    /*
     * The I/O thread is reading this connection: responses wait in the
     * output buffer, unscheduled, for the one write it makes when it has
     * framed everything it read (lurkd_conn_uncork). Set and cleared by the
     * I/O thread without out_lock (taking it there contended with workers
     * sending, see out_pending); conn.c's fences keep a worker's response
     * from waiting on a cork already gone.
     */
    atomic_bool corked;

    /* epoll interest, I/O thread only */
    bool want_write;  /* output (or a TLS handshake) blocked: wait for EPOLLOUT */
    bool read_paused; /* too much unread output: stop reading this client */
    uint32_t events;  /* what is registered */

    atomic_int inflight; /* requests queued or being processed */
    atomic_bool closed;
    atomic_int refs;

    struct lurkd_conn *prev, *next; /* the loop's connection list */
    struct lurkd_conn *flush_next;  /* the loop's flush list */
};

/* lurkd_conn_new: a connection on fd (not yet in the loop's set) with one reference. */
struct lurkd_conn *lurkd_conn_new(int fd, struct lurkd_loop *loop, struct lurkd_flush_queue *flushq,
                                  const struct lurkd_transport *transport);
void lurkd_conn_ref(struct lurkd_conn *c);
/* lurkd_conn_unref frees the connection (wiping its buffers) with the last reference. */
void lurkd_conn_unref(struct lurkd_conn *c);

/*
 * lurkd_conn_send sends a response (called by workers and the I/O thread):
 * directly on a plain socket whose output is empty and that is not corked,
 * otherwise appended for the loop to flush (at once when corked: see
 * lurkd_conn_uncork). Dropped when the connection is closed.
 */
void lurkd_conn_send(struct lurkd_conn *c, const uint8_t *msg, size_t len);
/*
 * lurkd_conn_cork and lurkd_conn_uncork (I/O thread) bracket the reading of
 * c: what is answered meanwhile, by the I/O thread or a worker, is written
 * once afterwards; uncork returns whether output is waiting (the caller
 * flushes it).
 */
void lurkd_conn_cork(struct lurkd_conn *c);
bool lurkd_conn_uncork(struct lurkd_conn *c);
/* lurkd_conn_pending_output: bytes waiting to be written on this connection. */
size_t lurkd_conn_pending_output(struct lurkd_conn *c);
/* lurkd_conn_pending_total: bytes waiting on all connections (SIGTERM waits for zero). */
size_t lurkd_conn_pending_total(void);
/* lurkd_conn_output_consumed: the I/O thread wrote or discarded n bytes (out_lock held). */
void lurkd_conn_output_consumed(struct lurkd_conn *c, size_t n);

/*
 * lurkd_flush_queue_take empties q and returns what it held (linked by
 * flush_next, each with a reference the taker drops), after reading the
 * wake-up counter.
 */
struct lurkd_conn *lurkd_flush_queue_take(struct lurkd_flush_queue *q);
/* lurkd_flush_queue_wake makes the loop waiting on q's wakefd look at it. */
void lurkd_flush_queue_wake(struct lurkd_flush_queue *q);

/* The transports. */
extern const struct lurkd_transport lurkd_transport_plain;
extern const struct lurkd_transport lurkd_transport_tls;

#endif
