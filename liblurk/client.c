/*
 * Client transport; see client.h.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * caller's deadline. For TLS the SSL object talks to memory BIOs and this
 * file moves the bytes with send(MSG_NOSIGNAL)/recv, so a lurkd that goes
 * away never raises SIGPIPE in the host application (nginx, haproxy) and
 * every byte on the wire is subject to the same deadline.
 *
 * Reads take a deadline of their own: NO_WAIT takes only what has arrived
 * (lurk_conn_response without waiting, for a caller that waits in an
 * OpenSSL ASYNC job instead). The response being received is kept in the
 * connection, so such a caller resumes a half-read frame where it stopped;
 * TLS keeps a partial record in its read BIO.
 *
 * Waits for an answer (lurk_conn_call, lurk_conn_recv) may poll before
 * they sleep, as lurk_conn_set_poll says; every other wait is a plain poll().
 *
 * OpenSSL errors raised here are turned into the err string and removed
 * from the thread's error queue (mark/pop), so the host application's queue
 * is left as it was.
 */
#include "lurk/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lurk/clock.h"
#include "lurk/lurk.h"
#include "lurk/names.h"
#include "lurk/poll_window.h"

/* Plain sockets read ahead into this buffer: one recv usually brings several responses. */
#define READ_AHEAD 16384

/* A read deadline: only what has already arrived, never poll. */
#define NO_WAIT INT64_MIN
/* What a read returns when its deadline passed (NO_WAIT: nothing had arrived). */
#define IO_AGAIN (-2)

struct lurk_conn {
    int fd;
    SSL *ssl; /* NULL for unix and tcp */
    BIO *rbio, *wbio;
    struct lurk_address addr;
    uint8_t *rbuf; /* read-ahead of a plain socket */
    size_t roff, rlen;
    /* The response being received: header bytes, then the whole frame. */
    uint8_t hdr[LURK_HEADER_LEN];
    size_t hdr_got;
    uint8_t *frame; /* malloc'd once the header is in */
    size_t frame_len, frame_got;
    /* Polling for the answer (lurk_conn_set_poll). */
    uint32_t poll_cap_ns, poll_window_ns;
    uint32_t answer_ns; /* learned time from the start of a wait to its answer; 0: none yet */
    bool poll_sleep_first;
    bool answer_wait; /* the read in progress waits for an answer: it may poll */
    bool answer_new;  /* ... and has not waited yet: only its first wait polls and learns */
    uint32_t poll_est_ns, sleep_est_ns; /* recent answer times, polled for and slept for */
    uint32_t answers;
    struct lurk_conn_poll_stats stats;
};

static int remaining_ms(int64_t deadline)
{
    if (deadline == NO_WAIT)
        return 0;
    int64_t left = deadline - lurk_clock_ms();

    return left < 0 ? 0 : (int)left;
}

/* Appends the newest OpenSSL error reason (if any) to a message. */
static void set_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();

    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s", what);
    }
}

/* 1 when fd is ready, IO_AGAIN at the deadline, -1 on error. */
static int wait_fd(int fd, short events, int64_t deadline, char *err, size_t errlen)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int n = deadline == NO_WAIT ? 0 : poll(&p, 1, remaining_ms(deadline));
        if (n > 0)
            return 1;
        if (n == 0) {
            snprintf(err, errlen, "timed out");
            return IO_AGAIN;
        }
        if (errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

/*
 * The answer time the next wait expects: it follows a faster answer at once
 * and a slower one by a sixteenth of the difference, so that one late
 * answer does not move it much and a slower lurkd is learned in a few
 * dozen answers.
 */
static void learn_answer(struct lurk_conn *c, int64_t ns)
{
    uint32_t t = ns > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)(ns > 0 ? ns : 1);

    if (c->answer_ns == 0 || t < c->answer_ns)
        c->answer_ns = t;
    else
        c->answer_ns += (t - c->answer_ns) / 16;
}

/*
 * Polling pays only when this thread's CPU would otherwise go idle and be
 * slow to wake. On a busy machine the wake-up is cheap and the polling
 * thread takes CPU from lurkd or the neighbours: answers come later, not
 * sooner (docs/performance.md, "Polling for the answer"). So each
 * connection keeps the recent answer time of both ways of waiting and
 * waits the faster way; it waits the other way now and then to keep that
 * figure current: one answer in PROBE_SLEEP while polling pays (fewer than
 * 1 % of the answers, out of the p99), one in PROBE_POLL while it does not
 * (so that polling comes back soon after the load goes).
 */
#define PROBE_SLEEP 128
#define PROBE_POLL  16
/* Polling must beat sleeping by this much to be worth its CPU. */
#define POLL_GAIN_MIN_NS 5000

/*
 * An average of recent answer times that moves an eighth of the way to
 * each new one, an outlier (a preemption, an RSA blinding refresh) counted
 * as twice the average at most: a lasting change still doubles it within
 * six answers.
 */
static void average_in(uint32_t *est, int64_t ns)
{
    int64_t t = ns > (int64_t)UINT32_MAX ? UINT32_MAX : (ns > 0 ? ns : 1);

    if (*est == 0) {
        *est = (uint32_t)t;
        return;
    }
    if (t > 2 * (int64_t)*est)
        t = 2 * (int64_t)*est;
    *est = (uint32_t)((int64_t)*est + (t - (int64_t)*est) / 8);
}

/*
 * Never more threads of this process polling at once than CPUs: more take
 * the CPUs from each other, from lurkd and from the application's other
 * threads, and answers come later (docs/performance.md, "Polling for the
 * answer": 64 connections at depth 1). A thread that finds every slot taken
 * sleeps at once.
 */
static atomic_int pollers, poll_slots;

static bool poll_slot_take(void)
{
    int slots = atomic_load_explicit(&poll_slots, memory_order_relaxed);

    if (slots == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        slots = n > 0 ? (int)n : 1;
        atomic_store_explicit(&poll_slots, slots, memory_order_relaxed);
    }
    if (atomic_fetch_add(&pollers, 1) < slots)
        return true;
    atomic_fetch_sub(&pollers, 1);
    return false;
}

static bool poll_this_answer(struct lurk_conn *c)
{
    bool pays = c->poll_est_ns == 0 || c->sleep_est_ns == 0 ||
                (int64_t)c->poll_est_ns + POLL_GAIN_MIN_NS < (int64_t)c->sleep_est_ns;

    c->answers++;
    return pays ? c->answers % PROBE_SLEEP != 0 : c->answers % PROBE_POLL == 0;
}

/* An answer that came while this wait polled (or slept its learned time). */
static void answered_polling(struct lurk_conn *c, int64_t ns)
{
    learn_answer(c, ns);
    average_in(&c->poll_est_ns, ns);
}

/* A learned sleep shorter than this saves nothing over polling through it. */
#define MIN_SLEEP_NS 20000

/*
 * How long to sleep before polling for an answer expected after
 * answer_ns: until half a cap before it, with the timer slack of this
 * thread (50 µs unless the application changed it) taken off, since a
 * timer fires up to that late (docs/performance.md, "Polling for the
 * answer"). 0: poll at once.
 */
static int64_t learned_sleep_ns(const struct lurk_conn *c)
{
    int slack;
    int64_t sleep;

    if (!c->poll_sleep_first || c->answer_ns == 0 || c->answer_ns < c->poll_cap_ns)
        return 0;
    slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    sleep = (int64_t)c->answer_ns - c->poll_cap_ns / 2 - (slack > 0 ? slack : 0);
    return sleep >= MIN_SLEEP_NS ? sleep : 0;
}

/* wait_answer's polling part, with a polling slot taken. */
static int poll_for_answer(struct lurk_conn *c, int64_t start, int64_t end, int64_t deadline,
                           char *err, size_t errlen)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    uint32_t cap = c->poll_cap_ns;
    int64_t spin_start, last, until, sleep, t;
    bool preempted = false;
    int r;

    sleep = learned_sleep_ns(c);
    if (sleep > 0 && start + sleep < end) {
        struct timespec ts = {(time_t)(sleep / 1000000000), (long)(sleep % 1000000000)};
        c->stats.slept++;
        r = ppoll(&p, 1, &ts, NULL);
        if (r > 0) {
            /* Here before the learned time: the next sleep is shorter. */
            c->stats.woken++;
            answered_polling(c, lurk_clock_ns() - start);
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
    }
    spin_start = last = lurk_clock_ns();
    until = spin_start + (c->poll_window_ns < cap ? c->poll_window_ns : cap);
    if (until > end)
        until = end;
    r = 0;
    while (last < until) {
        r = poll(&p, 1, 0);
        if (r != 0 && !(r < 0 && errno == EINTR))
            break;
        lurk_poll_relax();
        t = lurk_clock_ns();
        preempted = t - last > LURK_POLL_PREEMPTED_NS;
        if (preempted)
            break;
        last = t;
    }
    if (r > 0) {
        t = lurk_clock_ns();
        c->poll_window_ns =
            lurk_poll_adapt(c->poll_window_ns, cap, (uint64_t)(t - spin_start), LURK_POLL_POLLED);
        c->stats.polled++;
        answered_polling(c, t - start);
        return 1;
    }
    if (r < 0 && errno != EINTR) {
        snprintf(err, errlen, "poll: %s", strerror(errno));
        return -1;
    }
    r = wait_fd(c->fd, POLLIN, deadline, err, errlen);
    t = lurk_clock_ns();
    c->poll_window_ns = lurk_poll_adapt(c->poll_window_ns, cap, (uint64_t)(t - spin_start),
                                        r > 0 && !preempted ? LURK_POLL_WOKEN : LURK_POLL_EMPTY);
    if (r > 0) {
        c->stats.woken++;
        answered_polling(c, t - start);
    }
    return r;
}

/*
 * Waits for the answer's bytes as wait_fd does, polling first when the
 * connection polls (lurk_conn_set_poll), polling has paid lately
 * (poll_this_answer) and a polling slot is free (poll_slot_take): a
 * learned sleep when its answers take longer than the cap; then polling
 * for the connection's window, until the answer, the deadline or a poll
 * that lost the CPU (lurk/poll_window.h); then a blocking poll. The window
 * adapts to how the wait ended.
 */
static int wait_answer(struct lurk_conn *c, int64_t deadline, char *err, size_t errlen)
{
    int64_t start, end;
    int r;

    /*
     * Only the first wait of an answer polls. The rest of an answer that
     * came in pieces (a large frame, a stream cut small on its way, as
     * anyone on the path can) is waited for asleep, so that an answer costs
     * one window of polling at most however many pieces it comes in.
     */
    if (c->poll_cap_ns == 0 || !c->answer_new)
        return wait_fd(c->fd, POLLIN, deadline, err, errlen);
    start = lurk_clock_ns();
    end = deadline * 1000000;
    c->answer_new = false;
    if (!poll_this_answer(c)) {
        c->stats.unpolled++;
        r = wait_fd(c->fd, POLLIN, deadline, err, errlen);
        if (r > 0)
            average_in(&c->sleep_est_ns, lurk_clock_ns() - start);
        return r;
    }
    /* Every slot taken: a plain sleep, which says nothing about polling's worth. */
    if (!poll_slot_take()) {
        c->stats.unpolled++;
        return wait_fd(c->fd, POLLIN, deadline, err, errlen);
    }
    r = poll_for_answer(c, start, end, deadline, err, errlen);
    atomic_fetch_sub(&pollers, 1);
    return r;
}

/* Socket I/O of exactly len bytes, or failure at the deadline. */
static bool sock_write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline, char *err,
                           size_t errlen)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline, err, errlen) <= 0)
                return false;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            snprintf(err, errlen, "send: %s", n < 0 ? strerror(errno) : "connection closed");
            return false;
        }
    }
    return true;
}

/* Reads what is available (at least one byte) within the deadline; -1 or IO_AGAIN. */
static ssize_t sock_read_some(struct lurk_conn *c, uint8_t *buf, size_t len, int64_t deadline,
                              char *err, size_t errlen)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0)
            return n;
        if (n == 0) {
            snprintf(err, errlen, "connection closed by lurkd");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(err, errlen, "recv: %s", strerror(errno));
            return -1;
        }
        int w = c->answer_wait && deadline != NO_WAIT
                    ? wait_answer(c, deadline, err, errlen)
                    : wait_fd(c->fd, POLLIN, deadline, err, errlen);
        if (w <= 0)
            return w;
    }
}

/* Moves whatever TLS produced into the socket. */
static bool tls_flush(struct lurk_conn *c, int64_t deadline, char *err, size_t errlen)
{
    uint8_t buf[16384];
    int n;

    while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0) {
        if (!sock_write_all(c->fd, buf, (size_t)n, deadline, err, errlen))
            return false;
    }
    return true;
}

/* Feeds TLS with bytes from the socket: 1, or -1 or IO_AGAIN. */
static int tls_fill(struct lurk_conn *c, int64_t deadline, char *err, size_t errlen)
{
    uint8_t buf[16384];
    ssize_t n = sock_read_some(c, buf, sizeof(buf), deadline, err, errlen);

    if (n < 0)
        return (int)n;
    if (BIO_write(c->rbio, buf, (int)n) != (int)n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

/*
 * Drives one SSL call (handshake, read or write) to completion: the op is
 * retried after flushing output and reading input as OpenSSL asks.
 */
typedef int (*tls_op)(SSL *ssl, void *buf, int len);

static int op_handshake(SSL *ssl, void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_do_handshake(ssl);
}

static int op_read(SSL *ssl, void *buf, int len)
{
    return SSL_read(ssl, buf, len);
}

static int op_write(SSL *ssl, void *buf, int len)
{
    return SSL_write(ssl, buf, len);
}

/*
 * What an SSL call that returned r wants. Not SSL_get_error: it reports
 * SSL_ERROR_SSL whenever the thread's error queue holds anything, and the
 * host application's queue (whose errors we must leave alone) often does.
 */
static int tls_status(SSL *ssl, int r)
{
    if (r > 0)
        return SSL_ERROR_NONE;
    if (SSL_want_read(ssl))
        return SSL_ERROR_WANT_READ;
    if (SSL_want_write(ssl))
        return SSL_ERROR_WANT_WRITE;
    if (r == 0 && (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN))
        return SSL_ERROR_ZERO_RETURN; /* close_notify; a fatal alert is an error */
    return SSL_ERROR_SSL;
}

/*
 * The link failed (reset, or closed after an alert): when lurkd refused our
 * certificate, its alert may still wait in the socket, sent before the
 * reset, and it says why (docs/deploy.md §2). Reports it when found.
 */
static bool alert_received(struct lurk_conn *c, char *err, size_t errlen, const char *what)
{
    uint8_t buf[4096];
    ssize_t n;
    unsigned long e;
    bool found;

    while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        if (BIO_write(c->rbio, buf, (int)n) != (int)n)
            break;
    ERR_set_mark();
    SSL_read(c->ssl, buf, sizeof(buf));
    e = ERR_peek_last_error();
    /* OpenSSL reports an alert received as reason SSL_AD_REASON_OFFSET + its code. */
    found = ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) > SSL_AD_REASON_OFFSET &&
            ERR_GET_REASON(e) < SSL_AD_REASON_OFFSET + 256;
    if (found)
        set_err(err, errlen, what);
    ERR_pop_to_mark();
    return found;
}

/*
 * Output is flushed within deadline, input awaited until read_deadline
 * (NO_WAIT: IO_AGAIN as soon as the socket has nothing more).
 */
static int tls_run(struct lurk_conn *c, tls_op op, void *buf, int len, int64_t deadline,
                   int64_t read_deadline, char *err, size_t errlen, const char *what)
{
    for (;;) {
        int r = op(c->ssl, buf, len);
        int e = tls_status(c->ssl, r);
        if (!tls_flush(c, deadline, err, errlen)) {
            alert_received(c, err, errlen, what);
            return -1;
        }
        switch (e) {
        case SSL_ERROR_NONE:
            return r;
        case SSL_ERROR_WANT_READ: {
            int f = tls_fill(c, read_deadline, err, errlen);
            if (f <= 0)
                return f;
            break;
        }
        case SSL_ERROR_WANT_WRITE:
            break;
        case SSL_ERROR_ZERO_RETURN:
            /* A fatal alert also marks the connection shut down: it says why. */
            if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_SSL &&
                ERR_GET_REASON(ERR_peek_last_error()) > SSL_AD_REASON_OFFSET)
                set_err(err, errlen, what);
            else
                snprintf(err, errlen, "%s: lurkd closed the TLS connection", what);
            return -1;
        default:
            set_err(err, errlen, what);
            return -1;
        }
    }
}

SSL_CTX *lurk_client_tls_ctx_new(OSSL_LIB_CTX *libctx, const char *ca_file, const char *cert_file,
                                 const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *ctx;

    ERR_set_mark();
    ctx = SSL_CTX_new_ex(libctx, NULL, TLS_client_method());
    if (ctx == NULL) {
        set_err(err, errlen, "SSL_CTX_new");
        goto fail;
    }
    /* docs/architecture.md §3: the link to lurkd is TLS 1.3 with mutual authentication. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file == NULL || SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
        snprintf(err, errlen, "cannot load CA file %s", ca_file ? ca_file : "(not set)");
        goto fail;
    }
    if (cert_file != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        set_err(err, errlen, "cannot load client certificate");
        goto fail;
    }
    if (key_file != NULL && (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
                             SSL_CTX_check_private_key(ctx) != 1)) {
        set_err(err, errlen, "cannot load client key");
        goto fail;
    }
    ERR_pop_to_mark();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_pop_to_mark();
    return NULL;
}

static int connect_unix(const struct lurk_address *a, int64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
    /*
     * A full listen backlog makes a non-blocking AF_UNIX connect fail with
     * EAGAIN, and unlike TCP nothing is left in progress: poll() reports the
     * unconnected socket writable (with POLLHUP) at once. So try again,
     * backing off a little, until the deadline.
     */
    for (int pause_ms = 1;; pause_ms = pause_ms < 50 ? pause_ms * 2 : 50) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EISCONN)
            return fd;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            snprintf(err, errlen, "connect %s: %s", a->path, strerror(errno));
            break;
        }
        if (remaining_ms(deadline) == 0) {
            snprintf(err, errlen, "connect %s: listen queue full until the deadline", a->path);
            break;
        }
        poll(NULL, 0, pause_ms < remaining_ms(deadline) ? pause_ms : remaining_ms(deadline));
    }
    close(fd);
    return -1;
}

static int connect_inet(const struct lurk_address *a, int64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res, *ai;
    const char *node = a->dial[0] != '\0' ? a->dial : a->host;
    int rc = getaddrinfo(node, a->port, &hints, &res);

    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", node, gai_strerror(rc));
        return -1;
    }
    snprintf(err, errlen, "no address for %s", a->host);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            snprintf(err, errlen, "connect: %s", strerror(errno));
            close(fd);
            continue;
        }
        if (wait_fd(fd, POLLOUT, deadline, err, errlen) > 0) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) {
                freeaddrinfo(res);
                return fd;
            }
            snprintf(err, errlen, "connect: %s", strerror(soerr));
        }
        close(fd);
    }
    freeaddrinfo(res);
    return -1;
}

static bool tls_start(struct lurk_conn *c, SSL_CTX *ctx, int64_t deadline, char *err, size_t errlen)
{
    struct in6_addr ip;
    bool is_ip =
        inet_pton(AF_INET, c->addr.host, &ip) == 1 || inet_pton(AF_INET6, c->addr.host, &ip) == 1;

    if (ctx == NULL) {
        snprintf(err, errlen, "tls:// needs a CA, a client certificate and key");
        return false;
    }
    c->ssl = SSL_new(ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        set_err(err, errlen, "SSL_new");
        return false;
    }
    BIO_up_ref(c->rbio);
    BIO_up_ref(c->wbio);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    /* lurkd's certificate must name the host we dialled (RFC 6125). */
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->addr.host) != 1
              : (SSL_set1_host(c->ssl, c->addr.host) != 1 ||
                 SSL_set_tlsext_host_name(c->ssl, c->addr.host) != 1)) {
        set_err(err, errlen, "setting the expected server name");
        return false;
    }
    SSL_set_connect_state(c->ssl);
    return tls_run(c, op_handshake, NULL, 0, deadline, deadline, err, errlen,
                   "TLS handshake with lurkd") > 0;
}

struct lurk_conn *lurk_conn_open(const struct lurk_address *addr, SSL_CTX *tls_ctx, int timeout_ms,
                                 char *err, size_t errlen)
{
    int64_t deadline = lurk_clock_ms() + timeout_ms;
    struct lurk_conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ERR_set_mark();
    c->addr = *addr;
    c->fd = addr->kind == LURK_ADDRESS_UNIX ? connect_unix(addr, deadline, err, errlen)
                                            : connect_inet(addr, deadline, err, errlen);
    if (c->fd < 0 ||
        (addr->kind == LURK_ADDRESS_TLS && !tls_start(c, tls_ctx, deadline, err, errlen))) {
        ERR_pop_to_mark();
        lurk_conn_abandon(c);
        return NULL;
    }
    ERR_pop_to_mark();
    return c;
}

void lurk_conn_set_poll(struct lurk_conn *c, unsigned cap_us, bool sleep_first)
{
    if (cap_us > LURK_CLIENT_POLL_US_MAX)
        cap_us = LURK_CLIENT_POLL_US_MAX;
    c->poll_cap_ns = cap_us * 1000u;
    c->poll_sleep_first = sleep_first;
    if (c->poll_window_ns > c->poll_cap_ns)
        c->poll_window_ns = c->poll_cap_ns;
}

void lurk_conn_poll_stats(const struct lurk_conn *c, struct lurk_conn_poll_stats *out)
{
    *out = c->stats;
    out->window_ns = c->poll_window_ns;
    out->answer_ns = c->answer_ns;
}

static void conn_free(struct lurk_conn *c)
{
    SSL_free(c->ssl);
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    if (c->fd >= 0)
        close(c->fd);
    /* The read-ahead and a half-received response may hold master secrets. */
    if (c->rbuf != NULL)
        OPENSSL_cleanse(c->rbuf, READ_AHEAD);
    free(c->rbuf);
    if (c->frame != NULL)
        OPENSSL_cleanse(c->frame, c->frame_len);
    free(c->frame);
    free(c);
}

void lurk_conn_close(struct lurk_conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL) {
        char err[64];
        ERR_set_mark();
        /* Best effort close_notify; lurkd does not wait for it. */
        if (SSL_shutdown(c->ssl) >= 0)
            tls_flush(c, lurk_clock_ms() + 100, err, sizeof(err));
        ERR_pop_to_mark();
    }
    conn_free(c);
}

void lurk_conn_abandon(struct lurk_conn *c)
{
    if (c == NULL)
        return;
    /* SSL_free writes nothing; closing our copy of the fd leaves the parent's open. */
    conn_free(c);
}

int lurk_conn_fd(const struct lurk_conn *c)
{
    return c->fd;
}

const struct lurk_address *lurk_conn_address(const struct lurk_conn *c)
{
    return &c->addr;
}

static bool conn_write(struct lurk_conn *c, const uint8_t *buf, size_t len, int64_t deadline,
                       char *err, size_t errlen)
{
    if (c->ssl == NULL)
        return sock_write_all(c->fd, buf, len, deadline, err, errlen);
    while (len > 0) {
        int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
        int n =
            tls_run(c, op_write, (void *)buf, chunk, deadline, deadline, err, errlen, "TLS write");
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Plain socket: from the read-ahead buffer, refilled with one recv when empty. */
static ssize_t sock_read_buffered(struct lurk_conn *c, uint8_t *buf, size_t len, int64_t deadline,
                                  char *err, size_t errlen)
{
    if (c->roff == c->rlen) {
        ssize_t n;
        /* A large remainder goes straight to the caller's buffer. */
        if (len >= READ_AHEAD)
            return sock_read_some(c, buf, len, deadline, err, errlen);
        if (c->rbuf == NULL && (c->rbuf = malloc(READ_AHEAD)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        n = sock_read_some(c, c->rbuf, READ_AHEAD, deadline, err, errlen);
        if (n <= 0)
            return n;
        c->roff = 0;
        c->rlen = (size_t)n;
    }
    size_t n = c->rlen - c->roff < len ? c->rlen - c->roff : len;
    memcpy(buf, c->rbuf + c->roff, n);
    c->roff += n;
    return (ssize_t)n;
}

/* Some bytes of the response (at most len), or -1, or IO_AGAIN at read_deadline. */
static ssize_t conn_read_some(struct lurk_conn *c, uint8_t *buf, size_t len, int64_t deadline,
                              int64_t read_deadline, char *err, size_t errlen)
{
    if (c->ssl == NULL)
        return sock_read_buffered(c, buf, len, read_deadline, err, errlen);
    return tls_run(c, op_read, buf, len > INT32_MAX ? INT32_MAX : (int)len, deadline, read_deadline,
                   err, errlen, "TLS read");
}

bool lurk_conn_send(struct lurk_conn *c, const uint8_t *msg, size_t len, int timeout_ms, char *err,
                    size_t errlen)
{
    bool ok;

    ERR_set_mark();
    ok = conn_write(c, msg, len, lurk_clock_ms() + timeout_ms, err, errlen);
    ERR_pop_to_mark();
    return ok;
}

/*
 * Receives one whole frame into a malloc'd buffer: 1, or -1, or IO_AGAIN
 * when read_deadline passed first (what arrived stays in c for the next call).
 */
static int conn_recv(struct lurk_conn *c, uint8_t **msg, size_t *len, int64_t deadline,
                     int64_t read_deadline, char *err, size_t errlen)
{
    while (c->hdr_got < LURK_HEADER_LEN) {
        ssize_t n = conn_read_some(c, c->hdr + c->hdr_got, LURK_HEADER_LEN - c->hdr_got, deadline,
                                   read_deadline, err, errlen);
        if (n <= 0)
            return n == IO_AGAIN ? IO_AGAIN : -1;
        c->hdr_got += (size_t)n;
    }
    if (c->frame == NULL) {
        struct lurk_header hdr;
        lurk_cbs cbs;
        lurk_cbs_init(&cbs, c->hdr, sizeof(c->hdr));
        lurk_header_parse(&cbs, &hdr);
        if (lurk_frame_check(&hdr, LURK_CLIENT_MAX_FRAME) != LURK_FRAME_OK) {
            snprintf(err, errlen, "lurkd sent a frame of bad length %u", (unsigned)hdr.length);
            return -1;
        }
        c->frame = malloc(hdr.length);
        if (c->frame == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(c->frame, c->hdr, sizeof(c->hdr));
        c->frame_len = hdr.length;
        c->frame_got = LURK_HEADER_LEN;
    }
    while (c->frame_got < c->frame_len) {
        ssize_t n = conn_read_some(c, c->frame + c->frame_got, c->frame_len - c->frame_got,
                                   deadline, read_deadline, err, errlen);
        if (n <= 0)
            return n == IO_AGAIN ? IO_AGAIN : -1;
        c->frame_got += (size_t)n;
    }
    *msg = c->frame;
    *len = c->frame_len;
    c->frame = NULL;
    c->frame_len = c->frame_got = c->hdr_got = 0;
    return 1;
}

bool lurk_conn_recv(struct lurk_conn *c, uint8_t **msg, size_t *len, int timeout_ms, char *err,
                    size_t errlen)
{
    bool ok;

    int64_t deadline = lurk_clock_ms() + timeout_ms;

    ERR_set_mark();
    c->answer_wait = true;
    c->answer_new = c->hdr_got == 0;
    ok = conn_recv(c, msg, len, deadline, deadline, err, errlen) > 0;
    c->answer_wait = false;
    ERR_pop_to_mark();
    return ok;
}

void lurk_response_free(struct lurk_response *resp)
{
    if (resp->buf != NULL) {
        /* Responses carry master secrets and premasters. */
        OPENSSL_cleanse(resp->buf, resp->len);
        free(resp->buf);
    }
    memset(resp, 0, sizeof(*resp));
}

uint64_t lurk_random_id(void)
{
    uint64_t id = 0;

    if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
        /* Only a broken RNG lands here; ids need not be secret, only unlikely to repeat. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return id;
}

bool lurk_conn_request(struct lurk_conn *c, uint8_t designation, uint8_t type,
                       const uint8_t *payload, size_t payload_len, int timeout_ms,
                       struct lurk_conn_request *req, char *err, size_t errlen)
{
    struct lurk_header hdr = {
        .designation = designation,
        .version = LURK_VERSION,
        .type = type,
        .status = LURK_STATUS_REQUEST,
        .id = lurk_random_id(),
    };
    lurk_cbb cbb;
    size_t start;
    bool ok = false;

    req->deadline_ms = lurk_clock_ms() + timeout_ms;
    req->id = hdr.id;
    req->designation = designation;
    req->type = type;
    ERR_set_mark();
    if (!lurk_cbb_init(&cbb, LURK_HEADER_LEN + payload_len, LURK_HEADER_LEN + payload_len) ||
        !lurk_message_begin(&cbb, &start, &hdr) ||
        !lurk_cbb_add_bytes(&cbb, payload, payload_len) || !lurk_message_end(&cbb, start)) {
        snprintf(err, errlen, "cannot build the request");
        goto out;
    }
    ok = conn_write(c, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), req->deadline_ms, err, errlen);
out:
    lurk_cbb_cleanup(&cbb);
    ERR_pop_to_mark();
    return ok;
}

/* lurk_conn_response; may_poll: the waits may poll before they sleep (lurk_conn_call's). */
static enum lurk_conn_status response(struct lurk_conn *c, const struct lurk_conn_request *req,
                                      struct lurk_response *resp, bool wait, bool may_poll,
                                      char *err, size_t errlen)
{
    enum lurk_conn_status st = LURK_CONN_FAILED;

    memset(resp, 0, sizeof(*resp));
    ERR_set_mark();
    c->answer_wait = may_poll && wait;
    for (;;) {
        c->answer_new = c->hdr_got == 0;
        int r = conn_recv(c, &resp->buf, &resp->len, req->deadline_ms,
                          wait ? req->deadline_ms : NO_WAIT, err, errlen);
        if (r == IO_AGAIN && !wait) {
            st = LURK_CONN_AGAIN;
            goto out;
        }
        if (r <= 0)
            goto out;
        lurk_message_parse(resp->buf, resp->len, &resp->msg);
        /* lurk-lurk §5.2: drop responses to other requests and anything that is a request. */
        if (resp->msg.hdr.id == req->id && resp->msg.hdr.status != LURK_STATUS_REQUEST)
            break;
        lurk_response_free(resp);
    }
    if (resp->msg.hdr.status == LURK_STATUS_SUCCESS &&
        (resp->msg.hdr.designation != req->designation || resp->msg.hdr.type != req->type)) {
        snprintf(err, errlen, "lurkd answered %s/%s to a %s/%s request",
                 lurk_designation_name(resp->msg.hdr.designation),
                 lurk_type_name(resp->msg.hdr.designation, resp->msg.hdr.type),
                 lurk_designation_name(req->designation),
                 lurk_type_name(req->designation, req->type));
        lurk_response_free(resp);
        goto out;
    }
    st = LURK_CONN_DONE;
out:
    c->answer_wait = false;
    ERR_pop_to_mark();
    return st;
}

enum lurk_conn_status lurk_conn_response(struct lurk_conn *c, const struct lurk_conn_request *req,
                                         struct lurk_response *resp, bool wait, char *err,
                                         size_t errlen)
{
    /* The provider's ASYNC path: never polls (client.h). */
    return response(c, req, resp, wait, false, err, errlen);
}

bool lurk_conn_call(struct lurk_conn *c, uint8_t designation, uint8_t type, const uint8_t *payload,
                    size_t payload_len, struct lurk_response *resp, int timeout_ms, char *err,
                    size_t errlen)
{
    struct lurk_conn_request req;

    memset(resp, 0, sizeof(*resp));
    return lurk_conn_request(c, designation, type, payload, payload_len, timeout_ms, &req, err,
                             errlen) &&
           response(c, &req, resp, true, true, err, errlen) == LURK_CONN_DONE;
}
