/* The I/O threads; see io_loop.h. */
#include "io_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "lurk/clock.h"
#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/lurk.h"
#include "runtime.h"
#include "worker.h"

enum ev_kind {
    EV_LISTENER,
    EV_WAKE,
    EV_CONN,
};

/* epoll data for listeners; the connection object starts with its own ev_kind. */
struct ev_listener {
    int ev_kind;
    struct lurkd_listener *listener;
};

struct lurkd_loop {
    int ev_kind; /* EV_WAKE: the eventfd points here */
    pthread_t thread;
    int epfd;
    int wakefd;
    struct ev_listener *listen_tags;
    pthread_mutex_t flush_lock;
    struct lurkd_conn *flush_head;
    struct lurkd_conn *conns; /* every open connection, I/O thread only */
    /*
     * Connections closed during the current epoll batch: their loop reference
     * is dropped only after the batch, because a later event of the same
     * batch may still point at them.
     */
    struct lurkd_conn *closed;
    atomic_bool stop;
    atomic_uint read_epoch; /* the last io.read_epoch this loop has read for */
};

/* Read at least this much at a time; stop reading a client that will not read its answers. */
#define READ_CHUNK     16384
#define OUT_HIGH_WATER (1024 * 1024)
#define IDLE_CHECK_MS  1000

static struct {
    struct lurkd_loop *loops;
    unsigned n_loops;
    struct lurkd_listener *listeners;
    size_t n_listeners;
    pthread_mutex_t tls_lock;
    pthread_mutex_t limits_lock;
    struct lurkd_io_limits limits;
    atomic_uint n_conns;
    atomic_bool accepting;
    atomic_uint read_epoch; /* bumped by lurkd_io_read_received */
} io = {
    .tls_lock = PTHREAD_MUTEX_INITIALIZER,
    .limits_lock = PTHREAD_MUTEX_INITIALIZER,
};

static struct lurkd_io_limits limits_get(void)
{
    struct lurkd_io_limits l;

    pthread_mutex_lock(&io.limits_lock);
    l = io.limits;
    pthread_mutex_unlock(&io.limits_lock);
    return l;
}

void lurkd_io_set_limits(const struct lurkd_io_limits *limits)
{
    pthread_mutex_lock(&io.limits_lock);
    io.limits = *limits;
    pthread_mutex_unlock(&io.limits_lock);
}

void lurkd_io_set_tls(struct lurkd_listener *l, SSL_CTX *ctx)
{
    SSL_CTX *old;

    pthread_mutex_lock(&io.tls_lock);
    old = l->tls;
    l->tls = ctx;
    pthread_mutex_unlock(&io.tls_lock);
    /* Connections made with the old context hold their own reference. */
    SSL_CTX_free(old);
}

static void wake(struct lurkd_loop *loop)
{
    uint64_t one = 1;

    if (write(loop->wakefd, &one, sizeof(one)) < 0) {
        /* The counter is saturated, so the loop is awake anyway. */
    }
}

void lurkd_loop_schedule_flush(struct lurkd_loop *loop, struct lurkd_conn *c)
{
    bool was_empty;

    lurkd_conn_ref(c);
    pthread_mutex_lock(&loop->flush_lock);
    was_empty = loop->flush_head == NULL;
    c->flush_next = loop->flush_head;
    loop->flush_head = c;
    pthread_mutex_unlock(&loop->flush_lock);
    if (was_empty)
        wake(loop);
}

static void update_events(struct lurkd_conn *c)
{
    uint32_t events = (c->read_paused ? 0 : EPOLLIN) | (c->want_write ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (events != c->events && epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void conn_close(struct lurkd_conn *c)
{
    struct lurkd_loop *loop = c->loop;

    /* Under out_lock: a worker writing a response directly sees an open fd or none. */
    pthread_mutex_lock(&c->out_lock);
    if (atomic_exchange(&c->closed, true)) {
        pthread_mutex_unlock(&c->out_lock);
        return;
    }
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    /* No close_notify: the peer is gone or misbehaving, and it must not block us. */
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    lurkd_conn_output_consumed(c, c->out_len - c->out_off);
    pthread_mutex_unlock(&c->out_lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    atomic_fetch_sub(&io.n_conns, 1);
    lurkd_debug("closed connection from %s", c->peer.text);
    c->next = loop->closed;
    loop->closed = c;
}

/* Drops the loop's reference to the connections closed in this batch. */
static void release_closed(struct lurkd_loop *loop)
{
    while (loop->closed != NULL) {
        struct lurkd_conn *c = loop->closed;
        loop->closed = c->next;
        lurkd_conn_unref(c);
    }
}

/* Writes pending output; false when the connection had to be closed. */
static bool conn_flush(struct lurkd_conn *c)
{
    bool ok = true, blocked = false;

    pthread_mutex_lock(&c->out_lock);
    while (c->out_off < c->out_len) {
        size_t left = c->out_len - c->out_off;
        ssize_t n;
        if (c->ssl != NULL) {
            int r =
                SSL_write(c->ssl, c->out + c->out_off, left > INT32_MAX ? INT32_MAX : (int)left);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                ERR_clear_error();
                blocked = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ;
                ok = blocked;
                break;
            }
            n = r;
        } else {
            n = send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
            if (n < 0) {
                blocked = errno == EAGAIN || errno == EWOULDBLOCK;
                ok = blocked || errno == EINTR;
                break;
            }
        }
        lurkd_conn_output_consumed(c, (size_t)n);
    }
    pthread_mutex_unlock(&c->out_lock);
    if (!ok) {
        lurkd_info("closing connection from %s: write failed", c->peer.text);
        conn_close(c);
        return false;
    }
    c->want_write = blocked;
    update_events(c);
    return true;
}

/* An answer from the I/O thread itself, when the queues are full. */
static void conn_reject(struct lurkd_conn *c, const uint8_t *frame, size_t len, uint8_t status)
{
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    uint8_t buf[LURK_HEADER_LEN + LURK_STATE_LEN];
    lurk_cbb cbb;

    lurk_cbb_init_fixed(&cbb, buf, sizeof(buf));
    lurkd_dispatch_reject(rt, frame, len, status, &cbb);
    lurkd_runtime_unref(rt);
    if (lurk_cbb_ok(&cbb))
        lurkd_conn_send(c, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb));
}

/*
 * Set while the I/O thread handles an epoll batch of one event: nobody else
 * is waiting for this thread, so it may answer a quick request itself.
 */
static _Thread_local bool lone_event;

static bool run_here(const uint8_t *frame, size_t len)
{
    struct lurkd_runtime *rt;
    bool quick;

    if (!lone_event)
        return false;
    rt = lurkd_runtime_acquire();
    quick = lurkd_dispatch_is_quick(rt, frame, len);
    lurkd_runtime_unref(rt);
    return quick;
}

static void conn_submit(struct lurkd_conn *c, const uint8_t *frame, size_t len,
                        const struct lurkd_io_limits *lim, bool last)
{
    struct lurkd_job *job;

    if ((unsigned)atomic_load(&c->inflight) >= lim->connection_limit) {
        conn_reject(c, frame, len, LURK_STATUS_TEMPORARY_FAILURE);
        return;
    }
    job = malloc(sizeof(*job));
    if (job != NULL && (job->frame = malloc(len)) == NULL) {
        free(job);
        job = NULL;
    }
    if (job == NULL) {
        conn_reject(c, frame, len, LURK_STATUS_TEMPORARY_FAILURE);
        return;
    }
    memcpy(job->frame, frame, len);
    job->len = len;
    job->conn = c;
    lurkd_conn_ref(c);
    atomic_fetch_add(&c->inflight, 1);
    /* The last frame of the buffer: no pipelined request waits behind it. */
    if (last && run_here(frame, len) && lurkd_workers_run_if_idle(job))
        return;
    if (!lurkd_workers_submit(job)) {
        atomic_fetch_sub(&c->inflight, 1);
        lurkd_conn_unref(c);
        OPENSSL_cleanse(job->frame, len);
        free(job->frame);
        free(job);
        conn_reject(c, frame, len, LURK_STATUS_TEMPORARY_FAILURE);
    }
}

/*
 * Moves the unframed bytes from off on into a new read buffer of cap bytes
 * (none when cap is 0). The old buffer is wiped: requests carry premasters
 * and ephemeral private keys, as the worker's copy does (worker.c).
 */
static bool rbuf_move(struct lurkd_conn *c, size_t off, size_t cap)
{
    uint8_t *n = NULL;

    if (cap > 0 && (n = malloc(cap)) == NULL)
        return false;
    /* cap is 0 only when nothing is kept (rlen == off). */
    if (n != NULL && c->rlen > off)
        memcpy(n, c->rbuf + off, c->rlen - off);
    if (c->rbuf != NULL)
        OPENSSL_cleanse(c->rbuf, c->rcap);
    free(c->rbuf);
    c->rbuf = n;
    c->rcap = cap;
    c->rlen -= off;
    return true;
}

/*
 * Splits the read buffer into frames (lurk-lurk §5.1: the header's length
 * counts the whole message). A length below 16 or above the maximum cannot
 * be skipped safely: the connection is closed, nobody else is affected.
 */
static bool conn_frames(struct lurkd_conn *c)
{
    struct lurkd_io_limits lim = limits_get();
    size_t off = 0;

    while (c->rlen - off >= LURK_HEADER_LEN) {
        struct lurk_header hdr;
        lurk_cbs cbs;
        lurk_cbs_init(&cbs, c->rbuf + off, LURK_HEADER_LEN);
        lurk_header_parse(&cbs, &hdr);
        switch (lurk_frame_check(&hdr, lim.max_frame)) {
        case LURK_FRAME_TOO_SHORT:
            lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_CLOSED_BAD_FRAME);
            lurkd_warn("closing connection from %s: garbage header (length %u)", c->peer.text,
                       (unsigned)hdr.length);
            return false;
        case LURK_FRAME_TOO_LONG:
            lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_CLOSED_BAD_FRAME);
            lurkd_warn("closing connection from %s: frame of %u bytes exceeds max_frame_size %zu",
                       c->peer.text, (unsigned)hdr.length, lim.max_frame);
            return false;
        case LURK_FRAME_OK:
            break;
        }
        if (c->rlen - off < hdr.length) {
            /* Make room for the rest of this frame. */
            if (c->rcap < hdr.length + READ_CHUNK) {
                if (!rbuf_move(c, off, hdr.length + READ_CHUNK))
                    return false;
                off = 0;
            }
            break;
        }
        conn_submit(c, c->rbuf + off, hdr.length, &lim, c->rlen - off == hdr.length);
        off += hdr.length;
    }
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    return true;
}

static void peer_from_tls(struct lurkd_conn *c)
{
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    unsigned char *der = NULL;
    int len = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    char hex[65];

    c->peer.kind = LURKD_PEER_TLS;
    if (len > 0)
        EVP_Digest(der, (size_t)len, c->peer.spki_sha256, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    lurk_hex_encode(c->peer.spki_sha256, sizeof(c->peer.spki_sha256), hex);
    snprintf(c->peer.text, sizeof(c->peer.text), "spki-sha256:%s", hex);
}

static bool conn_handshake(struct lurkd_conn *c)
{
    int r = SSL_do_handshake(c->ssl);

    if (r == 1) {
        c->handshake_done = true;
        peer_from_tls(c);
        lurkd_debug("TLS connection from %s", c->peer.text);
        return true;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want_write = e == SSL_ERROR_WANT_WRITE;
        update_events(c);
        return true;
    }
    unsigned long err = ERR_peek_last_error();
    char reason[256] = "connection closed";
    if (err != 0)
        ERR_error_string_n(err, reason, sizeof(reason));
    ERR_clear_error();
    lurkd_metrics_count(LURKD_COUNTER_TLS_HANDSHAKE_FAILURES);
    lurkd_info("TLS handshake with %s failed: %s", c->peer.text, reason);
    return false;
}

static void conn_readable(struct lurkd_conn *c)
{
    for (;;) {
        ssize_t n;
        if (c->ssl != NULL && !c->handshake_done) {
            if (!conn_handshake(c)) {
                conn_close(c);
                return;
            }
            if (!c->handshake_done)
                return;
        }
        /* A client that does not read its answers is not read from either. */
        if (lurkd_conn_pending_output(c) > OUT_HIGH_WATER) {
            c->read_paused = true;
            update_events(c);
            return;
        }
        if (c->rcap - c->rlen < READ_CHUNK / 4 &&
            !rbuf_move(c, 0, c->rcap ? c->rcap * 2 : READ_CHUNK)) {
            conn_close(c);
            return;
        }
        if (c->ssl != NULL) {
            int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                ERR_clear_error();
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    break;
                conn_close(c);
                return;
            }
            n = r;
        } else {
            n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0) {
                conn_close(c);
                return;
            }
        }
        c->rlen += (size_t)n;
        c->last_active_ms = lurk_clock_ms();
        if (!conn_frames(c)) {
            conn_close(c);
            return;
        }
    }
    /* Keep a small buffer for the next burst; give back what a large frame needed. */
    if (c->rlen == 0 && c->rcap > READ_CHUNK)
        rbuf_move(c, 0, 0);
}

static void peer_from_socket(struct lurkd_conn *c, const struct lurkd_listener *l)
{
    if (l->addr.kind == LURK_ADDRESS_UNIX) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        c->peer.kind = LURKD_PEER_UNIX;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            c->peer.uid = cred.uid;
            c->peer.pid = cred.pid;
        } else {
            c->peer.uid = (uid_t)-1;
        }
        snprintf(c->peer.text, sizeof(c->peer.text), "uid:%u", (unsigned)c->peer.uid);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    c->peer.kind = LURKD_PEER_TCP;
    snprintf(c->peer.text, sizeof(c->peer.text), "%s:%s:%u",
             l->addr.kind == LURK_ADDRESS_TLS ? "tls" : "tcp", host, port);
}

static void accept_all(struct lurkd_loop *loop, struct lurkd_listener *l)
{
    while (atomic_load(&io.accepting)) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                lurkd_warn("accept on %s: %s", l->addr.text, strerror(errno));
            return;
        }
        struct lurkd_io_limits lim = limits_get();
        if (atomic_fetch_add(&io.n_conns, 1) >= lim.max_connections) {
            atomic_fetch_sub(&io.n_conns, 1);
            lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_REFUSED);
            lurkd_warn("refusing a connection on %s: max_connections (%u) reached", l->addr.text,
                       lim.max_connections);
            close(fd);
            continue;
        }
        if (l->addr.kind != LURK_ADDRESS_UNIX) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        struct lurkd_conn *c = lurkd_conn_new(fd, loop);
        if (c == NULL) {
            atomic_fetch_sub(&io.n_conns, 1);
            close(fd);
            continue;
        }
        c->ev_kind = EV_CONN;
        c->last_active_ms = lurk_clock_ms();
        peer_from_socket(c, l);
        if (l->addr.kind == LURK_ADDRESS_TLS) {
            pthread_mutex_lock(&io.tls_lock);
            c->ssl = SSL_new(l->tls);
            pthread_mutex_unlock(&io.tls_lock);
            if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
                ERR_clear_error();
                SSL_free(c->ssl);
                close(fd);
                atomic_fetch_sub(&io.n_conns, 1);
                lurkd_conn_unref(c);
                continue;
            }
            SSL_set_accept_state(c->ssl);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        c->events = EPOLLIN;
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            SSL_free(c->ssl);
            close(fd);
            atomic_fetch_sub(&io.n_conns, 1);
            lurkd_conn_unref(c);
            continue;
        }
        c->next = loop->conns;
        if (loop->conns != NULL)
            loop->conns->prev = c;
        loop->conns = c;
        lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_ACCEPTED);
        lurkd_debug("connection from %s on %s", c->peer.text, l->addr.text);
    }
}

/* Resumes a slow reader once its output has drained. */
static void maybe_resume(struct lurkd_conn *c)
{
    if (!c->read_paused || atomic_load(&c->closed) ||
        lurkd_conn_pending_output(c) > OUT_HIGH_WATER / 2)
        return;
    c->read_paused = false;
    update_events(c);
    /* TLS may hold records that were received before the pause. */
    conn_readable(c);
}

static void run_flushes(struct lurkd_loop *loop)
{
    struct lurkd_conn *list;
    uint64_t count;

    if (read(loop->wakefd, &count, sizeof(count)) < 0) {
        /* Spurious wakeup: nothing to read. */
    }
    pthread_mutex_lock(&loop->flush_lock);
    list = loop->flush_head;
    loop->flush_head = NULL;
    pthread_mutex_unlock(&loop->flush_lock);
    while (list != NULL) {
        struct lurkd_conn *c = list;
        list = c->flush_next;
        /*
         * Off the list now: the next response may put it back. Only here, never
         * in conn_flush (an EPOLLOUT flush must not let a connection that is
         * still on the list be added twice).
         */
        pthread_mutex_lock(&c->out_lock);
        c->flush_queued = false;
        pthread_mutex_unlock(&c->out_lock);
        if (!atomic_load(&c->closed) && conn_flush(c))
            maybe_resume(c);
        lurkd_conn_unref(c);
    }
}

static void close_idle(struct lurkd_loop *loop, int64_t now)
{
    unsigned idle = limits_get().idle_timeout;

    for (struct lurkd_conn *c = loop->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (atomic_load(&c->inflight) == 0 && now - c->last_active_ms > (int64_t)idle * 1000) {
            lurkd_info("closing idle connection from %s", c->peer.text);
            conn_close(c);
        }
    }
}

/*
 * lurkd_io_read_received: accepts the connections the kernel has already
 * completed (their clients may have sent requests), then reads what every
 * connection has received so far.
 */
static void read_all(struct lurkd_loop *loop)
{
    unsigned epoch = atomic_load(&io.read_epoch);

    if (atomic_load(&loop->read_epoch) == epoch)
        return;
    for (size_t k = 0; k < io.n_listeners; k++)
        accept_all(loop, &io.listeners[k]);
    for (struct lurkd_conn *c = loop->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!atomic_load(&c->closed) && !c->read_paused)
            conn_readable(c);
    }
    atomic_store(&loop->read_epoch, epoch);
}

static void *loop_main(void *arg)
{
    struct lurkd_loop *loop = arg;
    struct epoll_event events[64];
    int64_t next_idle_check = lurk_clock_ms() + IDLE_CHECK_MS;

    while (!atomic_load(&loop->stop)) {
        int n = epoll_wait(loop->epfd, events, 64, IDLE_CHECK_MS);
        lone_event = n == 1;
        for (int i = 0; i < n; i++) {
            int kind = *(int *)events[i].data.ptr;
            if (kind == EV_WAKE) {
                run_flushes(loop);
            } else if (kind == EV_LISTENER) {
                accept_all(loop, ((struct ev_listener *)events[i].data.ptr)->listener);
            } else {
                struct lurkd_conn *c = events[i].data.ptr;
                if (atomic_load(&c->closed))
                    continue;
                if (events[i].events & EPOLLOUT) {
                    if (!conn_flush(c))
                        continue;
                    maybe_resume(c);
                }
                /* A TLS handshake blocked on writing resumes when the socket is writable. */
                bool handshaking = c->ssl != NULL && !c->handshake_done;
                if (!atomic_load(&c->closed) &&
                    ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ||
                     (handshaking && (events[i].events & EPOLLOUT))))
                    conn_readable(c);
            }
        }
        lone_event = false;
        read_all(loop);
        int64_t now = lurk_clock_ms();
        if (now >= next_idle_check) {
            close_idle(loop, now);
            next_idle_check = now + IDLE_CHECK_MS;
        }
        release_closed(loop);
    }
    while (loop->conns != NULL)
        conn_close(loop->conns);
    release_closed(loop);
    return NULL;
}

bool lurkd_io_start(unsigned n, struct lurkd_listener *listeners, size_t n_listeners, char *err,
                    size_t errlen)
{
    io.loops = calloc(n, sizeof(*io.loops));
    if (io.loops == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    io.listeners = listeners;
    io.n_listeners = n_listeners;
    atomic_store(&io.accepting, true);
    for (unsigned i = 0; i < n; i++) {
        struct lurkd_loop *loop = &io.loops[i];
        loop->ev_kind = EV_WAKE;
        pthread_mutex_init(&loop->flush_lock, NULL);
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        loop->listen_tags = calloc(n_listeners, sizeof(*loop->listen_tags));
        if (loop->epfd < 0 || loop->wakefd < 0 || (n_listeners > 0 && loop->listen_tags == NULL)) {
            snprintf(err, errlen, "cannot create I/O loop: %s", strerror(errno));
            return false;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = loop};
        epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev);
        for (size_t k = 0; k < n_listeners; k++) {
            loop->listen_tags[k].ev_kind = EV_LISTENER;
            loop->listen_tags[k].listener = &listeners[k];
            /* Every loop waits on every listener; one of them wakes per connection. */
            struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                      .data.ptr = &loop->listen_tags[k]};
            if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, listeners[k].fd, &lev) != 0) {
                snprintf(err, errlen, "epoll: %s", strerror(errno));
                return false;
            }
        }
        io.n_loops = i + 1;
        if (pthread_create(&loop->thread, NULL, loop_main, loop) != 0) {
            io.n_loops = i;
            snprintf(err, errlen, "cannot start I/O thread");
            return false;
        }
    }
    return true;
}

void lurkd_io_stop_accepting(void)
{
    atomic_store(&io.accepting, false);
    for (unsigned i = 0; i < io.n_loops; i++)
        for (size_t k = 0; k < io.n_listeners; k++)
            epoll_ctl(io.loops[i].epfd, EPOLL_CTL_DEL, io.listeners[k].fd, NULL);
}

bool lurkd_io_read_received(int timeout_ms)
{
    unsigned epoch = atomic_fetch_add(&io.read_epoch, 1) + 1;

    for (unsigned i = 0; i < io.n_loops; i++)
        wake(&io.loops[i]);
    for (int waited = 0;; waited++) {
        unsigned done = 0;
        for (unsigned i = 0; i < io.n_loops; i++)
            done += atomic_load(&io.loops[i].read_epoch) == epoch;
        if (done == io.n_loops)
            return true;
        if (waited >= timeout_ms)
            return false;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

unsigned lurkd_io_connections(void)
{
    return atomic_load(&io.n_conns);
}

bool lurkd_io_flushed(void)
{
    return lurkd_conn_pending_total() == 0;
}

void lurkd_io_stop(void)
{
    for (unsigned i = 0; i < io.n_loops; i++) {
        atomic_store(&io.loops[i].stop, true);
        wake(&io.loops[i]);
    }
    for (unsigned i = 0; i < io.n_loops; i++) {
        struct lurkd_loop *loop = &io.loops[i];
        pthread_join(loop->thread, NULL);
        /* Flush requests scheduled after the loop ended hold references. */
        for (struct lurkd_conn *c = loop->flush_head, *next; c != NULL; c = next) {
            next = c->flush_next;
            lurkd_conn_unref(c);
        }
        close(loop->epfd);
        close(loop->wakefd);
        free(loop->listen_tags);
        pthread_mutex_destroy(&loop->flush_lock);
    }
    free(io.loops);
    io.loops = NULL;
    io.n_loops = 0;
}
