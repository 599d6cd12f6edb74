/*
 * One client connection. Its I/O thread owns the socket, the TLS state and
 * the read side; crypto workers hand responses over under out_lock: written
 * at once on a plain socket with nothing queued, else appended to the output
 * buffer for the I/O thread to flush. Jobs hold references, so a connection
 * that closes while requests are in flight stays allocated until the last
 * worker lets go, and that worker's result is dropped.
 */
#ifndef LURKD_CONN_H
#define LURKD_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "policy.h"

struct lurkd_loop;
struct lurkd_listener;

struct lurkd_conn {
    int ev_kind; /* first: epoll data points here (io_loop.c) */
    int fd;
    SSL *ssl;
    bool handshake_done;
    struct lurkd_loop *loop;
    struct lurkd_peer peer;
    int64_t last_active_ms;

    /* Read side, I/O thread only: bytes received and not yet framed. */
    uint8_t *rbuf;
    size_t rlen, rcap;

    /* Write side, shared with workers. */
    pthread_mutex_t out_lock;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    bool flush_queued; /* on its loop's flush list (guarded by out_lock; cleared by run_flushes) */

    /* epoll interest, I/O thread only */
    bool want_write;  /* output blocked: wait for EPOLLOUT */
    bool read_paused; /* too much unread output: stop reading this client */
    uint32_t events;  /* what is registered */

    atomic_int inflight; /* requests queued or being processed */
    atomic_bool closed;
    atomic_int refs;

    struct lurkd_conn *prev, *next; /* the loop's connection list */
    struct lurkd_conn *flush_next;  /* the loop's flush list */
};

struct lurkd_conn *lurkd_conn_new(int fd, struct lurkd_loop *loop);
void lurkd_conn_ref(struct lurkd_conn *c);
void lurkd_conn_unref(struct lurkd_conn *c);

/*
 * Sends a response (called by workers): directly on a plain socket whose
 * output is empty, otherwise appended for the loop to flush. Dropped when
 * the connection is closed.
 */
void lurkd_conn_send(struct lurkd_conn *c, const uint8_t *msg, size_t len);
/* Bytes waiting to be written on this connection. */
size_t lurkd_conn_pending_output(struct lurkd_conn *c);
/* Bytes waiting on all connections (SIGTERM waits for zero). */
size_t lurkd_conn_pending_total(void);
/* The I/O thread reports output it wrote or discarded (out_lock held). */
void lurkd_conn_output_consumed(struct lurkd_conn *c, size_t n);

#endif
