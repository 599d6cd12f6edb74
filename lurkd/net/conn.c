/* Connection objects and their output buffer; see conn.h. */
#include "net/conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Output kept allocated between bursts; beyond this it is freed when drained. */
#define OUT_KEEP 16384

static atomic_size_t pending_total;

struct lurkd_conn *lurkd_conn_new(int fd, struct lurkd_loop *loop, struct lurkd_flush_queue *flushq,
                                  const struct lurkd_transport *transport)
{
    struct lurkd_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->loop = loop;
    c->flushq = flushq;
    c->transport = transport;
    lurkd_timer_init(&c->timer);
    pthread_mutex_init(&c->out_lock, NULL);
    atomic_init(&c->inflight, 0);
    atomic_init(&c->closed, false);
    atomic_init(&c->refs, 1);
    return c;
}

void lurkd_conn_ref(struct lurkd_conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void lurkd_conn_unref(struct lurkd_conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    /* Responses may hold master secrets, requests ephemeral keys: wipe before freeing. */
    if (c->out != NULL)
        OPENSSL_cleanse(c->out, c->out_cap);
    free(c->out);
    lurkd_cert_identity_free(c->peer.cert); /* net/tls.c's, for the requests in flight until now */
    lurkd_reader_clear(&c->reader);
    pthread_mutex_destroy(&c->out_lock);
    free(c);
}

void lurkd_flush_queue_wake(struct lurkd_flush_queue *q)
{
    uint64_t one = 1;

    if (write(q->wakefd, &one, sizeof(one)) < 0) {
        /* The counter is saturated, so the loop is awake anyway. */
    }
}

static void flush_queue_push(struct lurkd_flush_queue *q, struct lurkd_conn *c)
{
    bool was_empty;

    lurkd_conn_ref(c);
    pthread_mutex_lock(&q->lock);
    was_empty = q->head == NULL;
    c->flush_next = q->head;
    q->head = c;
    pthread_mutex_unlock(&q->lock);
    if (was_empty)
        lurkd_flush_queue_wake(q);
}

struct lurkd_conn *lurkd_flush_queue_take(struct lurkd_flush_queue *q)
{
    struct lurkd_conn *list;
    uint64_t count;

    if (read(q->wakefd, &count, sizeof(count)) < 0) {
        /* Nothing to read: woken for another reason. */
    }
    pthread_mutex_lock(&q->lock);
    list = q->head;
    q->head = NULL;
    pthread_mutex_unlock(&q->lock);
    return list;
}

void lurkd_conn_send(struct lurkd_conn *c, const uint8_t *msg, size_t len)
{
    bool schedule = false;

    pthread_mutex_lock(&c->out_lock);
    if (atomic_load(&c->closed))
        goto out;
    /*
     * Nothing queued on a plain socket: write the response from the worker
     * and spare the I/O thread a wakeup (most responses fit the socket
     * buffer). TLS connections are written by their I/O thread only: one SSL
     * object cannot be read and written from two threads.
     */
    bool corked = atomic_load(&c->corked);
    if (c->transport->worker_may_send && c->out_len == c->out_off && !corked) {
        ssize_t n = c->transport->send(c, msg, len);
        if (n == (ssize_t)len)
            goto out;
        if (n > 0) {
            msg += n;
            len -= (size_t)n;
        }
        /* EAGAIN or an error: the I/O thread's flush retries or closes. */
    }
    if (c->out_cap - c->out_len < len) {
        size_t live = c->out_len - c->out_off, cap = c->out_cap ? c->out_cap : 4096;
        while (cap < live + len)
            cap *= 2;
        uint8_t *n = malloc(cap);
        if (n == NULL)
            goto out; /* The client will time out this request. */
        if (live > 0)
            memcpy(n, c->out + c->out_off, live);
        if (c->out != NULL)
            OPENSSL_cleanse(c->out, c->out_cap);
        free(c->out);
        c->out = n;
        c->out_cap = cap;
        c->out_off = 0;
        c->out_len = live;
    }
    memcpy(c->out + c->out_len, msg, len);
    c->out_len += len;
    atomic_store_explicit(&c->out_pending, c->out_len - c->out_off, memory_order_relaxed);
    atomic_fetch_add(&pending_total, len);
    /*
     * Corked: the I/O thread writes it when it has read. Unless the cork
     * went meanwhile: either this thread sees it gone (after publishing
     * out_pending) or lurkd_conn_uncork sees out_pending (after clearing
     * it), the store-load pattern that needs both fences.
     */
    if (corked) {
        atomic_thread_fence(memory_order_seq_cst);
        corked = atomic_load(&c->corked);
    }
    if (!c->flush_queued && !corked) {
        c->flush_queued = true;
        schedule = true;
    }
out:
    pthread_mutex_unlock(&c->out_lock);
    if (schedule)
        flush_queue_push(c->flushq, c);
}

void lurkd_conn_cork(struct lurkd_conn *c)
{
    atomic_store(&c->corked, true);
}

bool lurkd_conn_uncork(struct lurkd_conn *c)
{
    atomic_store(&c->corked, false);
    atomic_thread_fence(memory_order_seq_cst);
    return lurkd_conn_pending_output(c) > 0;
}

size_t lurkd_conn_pending_output(struct lurkd_conn *c)
{
    return atomic_load_explicit(&c->out_pending, memory_order_relaxed);
}

size_t lurkd_conn_pending_total(void)
{
    return atomic_load(&pending_total);
}

void lurkd_conn_output_consumed(struct lurkd_conn *c, size_t n)
{
    c->out_off += n;
    atomic_store_explicit(&c->out_pending, c->out_len - c->out_off, memory_order_relaxed);
    atomic_fetch_sub(&pending_total, n);
    if (c->out_off < c->out_len)
        return;
    /*
     * Answers carry premasters, master secrets and traffic secrets: a kept
     * buffer (every answer of a tls:// connection passes through it) holds
     * none of them once written (docs/security.md, "Controls in lurkd").
     */
    OPENSSL_cleanse(c->out, c->out_len);
    c->out_off = c->out_len = 0;
    if (c->out_cap > OUT_KEEP) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
}
