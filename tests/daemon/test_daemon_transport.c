/*
 * lurkd's transport behaviour with real processes: pipelining and out of
 * order answers, bounded queues (temporary_failure), framing limits
 * (garbage, oversize and 1 GiB lengths close only the offending
 * connection), clients that vanish, idle connections, and tls:// clients
 * that cannot authenticate. Each test starts its own lurkd with the
 * settings it needs.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];
static EVP_PKEY *p256, *rsa3072;
static uint8_t p256_id[4], rsa3072_id[4];

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

/* lurkd with the P-256 and RSA-3072 keys and the given [lurkd] settings. */
static void start(const char *settings)
{
    char extra[1024];

    p256 = dc_load_key(lurk_test_pki("server-p256.key"));
    rsa3072 = dc_load_key(lurk_test_pki("server-rsa3072.key"));
    dc_key_id(p256, p256_id);
    dc_key_id(rsa3072, rsa3072_id);
    snprintf(extra, sizeof(extra),
             "[key.p256]\nsource = %s\nclients = client1, local, tcp\n"
             "[key.rsa3072]\nsource = %s\nclients = client1, local, tcp\n",
             lurk_test_pki("server-p256.key"), lurk_test_pki("server-rsa3072.key"));
    dc_start(&lurkd, settings, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa3072);
    p256 = rsa3072 = NULL;
}

/* ---- requests as raw frames ---- */

enum req_kind { REQ_PING, REQ_ECDSA, REQ_RSA };

struct request {
    enum req_kind kind;
    uint64_t id;
    uint8_t hash[32];
    bool answered;
};

/* A tls13 ping, or a sign_certificate_verify with the P-256 or RSA-3072 key. */
static size_t frame(uint8_t *out, size_t cap, struct request *r)
{
    uint8_t payload[64];
    size_t n;

    if (r->kind == REQ_PING)
        return dc_message(out, cap, LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_PING, 0, r->id, NULL,
                          0);
    ck_assert(RAND_bytes(r->hash, 32) == 1);
    n = dc_sign_cv_payload(payload, 0, r->kind == REQ_ECDSA ? p256_id : rsa3072_id,
                           r->kind == REQ_ECDSA ? 0x0403 : 0x0804, LURK_TLS13_ROLE_SERVER, r->hash,
                           32);
    return dc_message(out, cap, LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                      0, r->id, payload, n);
}

/* Builds every request of reqs into one buffer (the caller frees it). */
static uint8_t *frames(struct request *reqs, size_t n, size_t *len)
{
    uint8_t *buf = malloc(n * 128);
    size_t at = 0;
    uint64_t base;

    ck_assert(buf != NULL && RAND_bytes((uint8_t *)&base, sizeof(base)) == 1);
    for (size_t i = 0; i < n; i++) {
        reqs[i].id = base + i;
        reqs[i].answered = false;
        at += frame(buf + at, 128, &reqs[i]);
    }
    *len = at;
    return buf;
}

/* A successful answer to r: the signature verifies over the content built here. */
static void check_success(const struct request *r, const struct lurk_response *resp)
{
    uint8_t content[160];
    lurk_cbs in = resp->msg.payload, sig;
    size_t n;

    ck_assert_uint_eq(resp->msg.hdr.status, LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(resp->msg.hdr.designation, LURK_DESIGNATION_TLS13);
    if (r->kind == REQ_PING) {
        ck_assert_uint_eq(resp->msg.hdr.type, LURK_TLS13_TYPE_PING);
        ck_assert_uint_eq(lurk_cbs_len(&in), 0);
        return;
    }
    ck_assert_uint_eq(resp->msg.hdr.type, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY);
    n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, r->hash, 32);
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
    ck_assert(dc_verify(r->kind == REQ_ECDSA ? p256 : rsa3072, "SHA256", r->kind == REQ_RSA,
                        content, n, lurk_cbs_data(&sig), lurk_cbs_len(&sig)));
}

/* The request a response answers (its id), marked answered; fails on unknown or repeated ids. */
static struct request *match(struct request *reqs, size_t n, const struct lurk_response *resp)
{
    uint64_t index = resp->msg.hdr.id - reqs[0].id;

    ck_assert_msg(index < n, "answer with an id that was never sent");
    ck_assert_msg(!reqs[index].answered, "request %llu answered twice", (unsigned long long)index);
    reqs[index].answered = true;
    return &reqs[index];
}

/* ---- tests ---- */

/*
 * 1000 requests written before anything is read: every one answered once,
 * with its own id; with 2 workers, slow RSA-3072 signs and fast pings and
 * ECDSA signs, some answers overtake earlier requests.
 */
START_TEST(pipelined_1000_answered_out_of_order)
{
    enum { N = 1000 };
    struct request *reqs = calloc(N, sizeof(*reqs));
    size_t len, overtaken = 0, last = 0;
    uint8_t *buf;

    start("workers = 2\nconnection_queue_limit = 1000\n");
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    for (size_t i = 0; i < N; i++)
        reqs[i].kind = i % 25 == 0 ? REQ_RSA : i % 2 ? REQ_PING : REQ_ECDSA;
    buf = frames(reqs, N, &len);
    dc_send(c, buf, len);
    for (size_t i = 0; i < N; i++) {
        struct lurk_response resp;
        ck_assert_msg(dc_recv(c, &resp, 30000), "answer %zu of %d missing", i, N);
        struct request *r = match(reqs, N, &resp);
        check_success(r, &resp);
        size_t index = (size_t)(r - reqs);
        if (index < last)
            overtaken++;
        else
            last = index;
        lurk_response_free(&resp);
    }
    ck_assert_msg(overtaken > 0, "all %d answers came in request order", N);
    free(buf);
    free(reqs);
    lurk_conn_close(c);
}
END_TEST

/*
 * A burst of slow requests beyond a bound: the excess is answered at once
 * with temporary_failure, designation lurk, the request's type and id; the
 * rest succeed. Afterwards the connection works normally.
 */
static void burst_beyond_limit(const char *settings)
{
    enum { N = 24 };
    struct request reqs[N];
    size_t len, failed = 0, succeeded = 0;
    uint8_t *buf;
    struct lurk_response resp;

    start(settings);
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0), *other = dc_connect(tls_addr, 1);
    for (size_t i = 0; i < N; i++)
        reqs[i].kind = REQ_RSA;
    buf = frames(reqs, N, &len);
    dc_send(c, buf, len);
    for (size_t i = 0; i < N; i++) {
        ck_assert(dc_recv(c, &resp, 30000));
        struct request *r = match(reqs, N, &resp);
        if (resp.msg.hdr.status == LURK_STATUS_TEMPORARY_FAILURE) {
            ck_assert_uint_eq(resp.msg.hdr.designation, LURK_DESIGNATION_LURK);
            ck_assert_uint_eq(resp.msg.hdr.type, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY);
            ck_assert(resp.msg.hdr.id == r->id);
            ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), LURK_STATE_LEN);
            failed++;
        } else {
            check_success(r, &resp);
            succeeded++;
        }
        lurk_response_free(&resp);
    }
    ck_assert_msg(failed > 0 && succeeded > 0, "%zu refused, %zu served", failed, succeeded);
    /* The bound is not a wedge: the next request is served. */
    struct request one = {.kind = REQ_ECDSA};
    free(buf);
    buf = frames(&one, 1, &len);
    dc_send(c, buf, len);
    ck_assert(dc_recv(c, &resp, 10000));
    check_success(match(&one, 1, &resp), &resp);
    lurk_response_free(&resp);
    /* Nor did it stop another connection. */
    ck_assert_uint_eq(dc_call(other, LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp),
                      LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    free(buf);
    lurk_conn_close(c);
    lurk_conn_close(other);
}

START_TEST(global_queue_full_gives_temporary_failure)
{
    burst_beyond_limit("workers = 1\nqueue_limit = 2\nconnection_queue_limit = 64\n");
}
END_TEST

START_TEST(connection_limit_gives_temporary_failure)
{
    burst_beyond_limit("workers = 1\nqueue_limit = 1000\nconnection_queue_limit = 2\n");
}
END_TEST

/* What a misbehaving client sends: a header whose length lurkd cannot accept. */
static const struct {
    const char *what;
    uint32_t length;
    const char *log;
} bad_headers[] = {
    {"length below the header", 5, "garbage header (length 5)"},
    {"length 0", 0, "garbage header (length 0)"},
    {"1 GiB length", 1u << 30, "frame of 1073741824 bytes exceeds max_frame_size"},
};

/*
 * Each bad header closes its own connection and is logged, while another
 * client's pipelined requests, sent before and after, are all answered.
 */
START_TEST(bad_frames_close_only_that_connection)
{
    enum { N = 10 };
    struct request reqs[N];
    struct lurk_response resp;
    size_t len;

    start(NULL);
    struct lurk_conn *good = dc_connect(tls_addr, 1);
    for (size_t b = 0; b < sizeof(bad_headers) / sizeof(bad_headers[0]); b++) {
        uint8_t hdr[16] = {LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0, 1, 2, 3, 4, 5, 6, 7, 8};
        uint32_t l = bad_headers[b].length;
        hdr[12] = (uint8_t)(l >> 24);
        hdr[13] = (uint8_t)(l >> 16);
        hdr[14] = (uint8_t)(l >> 8);
        hdr[15] = (uint8_t)l;
        for (size_t i = 0; i < N; i++)
            reqs[i].kind = i % 2 ? REQ_RSA : REQ_ECDSA;
        uint8_t *buf = frames(reqs, N, &len);
        dc_send(good, buf, len / 2); /* half before, half after */
        struct lurk_conn *bad = dc_connect(transport((int)b % 3), 1);
        dc_send(bad, hdr, sizeof(hdr));
        ck_assert_msg(!dc_recv(bad, &resp, 10000), "%s: connection left open", bad_headers[b].what);
        ck_assert_msg(lurk_test_wait_for(lurkd.log, bad_headers[b].log, 5000), "%s not logged",
                      bad_headers[b].what);
        lurk_conn_close(bad);
        dc_send(good, buf + len / 2, len - len / 2);
        for (size_t i = 0; i < N; i++) {
            ck_assert(dc_recv(good, &resp, 10000));
            check_success(match(reqs, N, &resp), &resp);
            lurk_response_free(&resp);
        }
        free(buf);
    }
    lurk_conn_close(good);
}
END_TEST

/* max_frame_size = 2k: a 2048-byte frame is read (and answered), 2049 bytes close. */
START_TEST(max_frame_size_is_enforced)
{
    static uint8_t payload[2048 - 16 + 1];
    uint8_t *msg = malloc(4096);
    struct lurk_response resp;

    start("max_frame_size = 2k\n");
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    size_t len = dc_message(msg, 4096, LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_PING, 0, 42,
                            payload, sizeof(payload) - 1);
    ck_assert_uint_eq(len, 2048);
    ck_assert(dc_raw(c, msg, len, &resp));
    ck_assert_uint_eq(resp.msg.hdr.status, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT);
    ck_assert(resp.msg.hdr.id == 42);
    lurk_response_free(&resp);
    len = dc_message(msg, 4096, LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_PING, 0, 43, payload,
                     sizeof(payload));
    ck_assert(!dc_raw(c, msg, len, &resp));
    ck_assert(
        lurk_test_wait_for(lurkd.log, "frame of 2049 bytes exceeds max_frame_size 2048", 5000));
    lurk_response_free(&resp);
    lurk_conn_close(c);
    /* lurkd itself carries on */
    c = dc_connect(transport(_i), 1);
    ck_assert_uint_eq(dc_call(c, 0, LURK_TYPE_PING, NULL, 0, &resp), LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    lurk_conn_close(c);
    free(msg);
}
END_TEST

/* A client that pipelines slow work and hangs up: lurkd drops the work and serves others. */
START_TEST(client_closing_with_work_in_flight)
{
    enum { N = 64 };
    struct request reqs[N];
    struct lurk_response resp;
    size_t len;

    start("workers = 1\n");
    for (int round = 0; round < 3; round++) {
        struct lurk_conn *c = dc_connect(transport(round), 1);
        for (size_t i = 0; i < N; i++)
            reqs[i].kind = REQ_RSA;
        uint8_t *buf = frames(reqs, N, &len);
        dc_send(c, buf, len);
        lurk_conn_close(c);
        free(buf);
    }
    ck_assert_int_eq(kill(lurkd.pid, 0), 0);
    struct lurk_conn *other = dc_connect(tls_addr, 1);
    struct request one = {.kind = REQ_ECDSA};
    uint8_t *buf = frames(&one, 1, &len);
    dc_send(other, buf, len);
    ck_assert(dc_recv(other, &resp, 30000));
    check_success(match(&one, 1, &resp), &resp);
    lurk_response_free(&resp);
    free(buf);
    lurk_conn_close(other);
}
END_TEST

struct flood_reader {
    struct lurk_conn *conn;
    int expected;
    int answered;
};

static void *read_flood(void *arg)
{
    struct flood_reader *r = arg;

    for (; r->answered < r->expected; r->answered++) {
        struct lurk_response resp;
        if (!dc_recv(r->conn, &resp, 30000))
            break;
        lurk_response_free(&resp);
    }
    return NULL;
}

/*
 * A client that writes requests as fast as it can while reading the answers:
 * lurkd's writes block now and then, its output waits for EPOLLOUT while the
 * workers and the I/O thread (temporary_failure beyond the per-connection
 * limit) keep adding responses. Every request is answered (regression: a
 * connection flushed on EPOLLOUT while on the flush list was put on it
 * twice, and freed while still in use).
 */
START_TEST(flood_with_a_slow_reader)
{
    enum { N = 30000 };
    struct request *reqs = calloc(N, sizeof(*reqs));
    struct flood_reader r = {.expected = N};
    pthread_t reader;
    size_t len;

    /* A small per-connection limit: the I/O thread answers most of them itself. */
    start("workers = 2\nconnection_queue_limit = 64\n");
    r.conn = dc_connect(lurkd.unix_addr, 1);
    for (size_t i = 0; i < N; i++)
        reqs[i].kind = REQ_ECDSA;
    uint8_t *buf = frames(reqs, N, &len);
    ck_assert_int_eq(pthread_create(&reader, NULL, read_flood, &r), 0);
    /* One frame per write, as a busy client does: lurkd reads in small steps. */
    for (size_t off = 0, frame = len / N; off < len; off += frame)
        dc_send(r.conn, buf + off, frame);
    pthread_join(reader, NULL);
    ck_assert_int_eq(r.answered, N);
    lurk_conn_close(r.conn);
    free(buf);
    free(reqs);
    /* lurkd is alive and serves others. */
    struct lurk_conn *other = dc_connect(tls_addr, 1);
    struct lurk_response resp;
    ck_assert_uint_eq(dc_call(other, LURK_DESIGNATION_TLS13, 1, NULL, 0, &resp), 1);
    lurk_response_free(&resp);
    lurk_conn_close(other);
}
END_TEST

struct depth_flood {
    struct lurk_conn *conn;
    const uint8_t *buf; /* N frames of the same length */
    size_t frame, n;
    atomic_bool stop;
    atomic_size_t answered;
    pthread_t thread;
};

/* Keeps 16 requests in flight on one connection until n are answered or stop. */
static void *keep_16_in_flight(void *arg)
{
    struct depth_flood *f = arg;
    size_t sent = 0;

    for (; sent < 16 && sent < f->n; sent++)
        dc_send(f->conn, f->buf + sent * f->frame, f->frame);
    while (atomic_load(&f->answered) < sent && !atomic_load(&f->stop)) {
        struct lurk_response resp;
        if (!dc_recv(f->conn, &resp, 30000))
            break;
        lurk_response_free(&resp);
        atomic_fetch_add(&f->answered, 1);
        if (sent < f->n) {
            dc_send(f->conn, f->buf + sent * f->frame, f->frame);
            sent++;
        }
    }
    return NULL;
}

/*
 * Starts lurkd with one I/O thread and 2 workers, and a flood of n requests
 * of one kind kept 16 in flight on a connection over transport t; returns
 * once the flood has had `warm` answers (30 s at most).
 */
static void depth_flood_start(struct depth_flood *f, int t, enum req_kind kind, size_t n,
                              size_t warm)
{
    struct request *reqs = calloc(n, sizeof(*reqs));
    size_t len;

    start("workers = 2\nio_threads = 1\n");
    for (size_t i = 0; i < n; i++)
        reqs[i].kind = kind;
    f->n = n;
    f->buf = frames(reqs, n, &len);
    free(reqs);
    f->frame = len / n;
    ck_assert_uint_eq(f->frame * n, len);
    f->conn = dc_connect(transport(t), 1);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, keep_16_in_flight, f), 0);
    for (int ms = 0; atomic_load(&f->answered) < warm; ms++) {
        ck_assert_msg(ms < 30000, "the flood got no answers");
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* One P-256 CertificateVerify on the probe connection, which must succeed. */
static void probe_p256(struct lurk_conn *probe, int i)
{
    uint8_t payload[64], hash[32] = {(uint8_t)i};
    struct lurk_response resp;
    size_t n =
        dc_sign_cv_payload(payload, 0, p256_id, 0x0403, LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));

    ck_assert_uint_eq(dc_call(probe, LURK_DESIGNATION_TLS13,
                              LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, payload, n, &resp),
                      LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
}

/* Stops the flood; returns how many of its requests were answered until now. */
static size_t depth_flood_stop(struct depth_flood *f)
{
    size_t answered = atomic_load(&f->answered);

    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    lurk_conn_close(f->conn);
    free((void *)f->buf);
    return answered;
}

/*
 * Fairness (docs/performance.md, "Batched writes"): one I/O thread, one
 * connection keeping 16 P-256 signatures in flight (answered inline by the
 * I/O thread within its time budget per epoll batch, and written in one send
 * per read), and a second connection making 50 requests one at a time. The second
 * must be served while the flood goes on, not after it: it finishes long
 * before the flood's 20,000 requests are answered. Over unix and tls.
 */
START_TEST(a_depth_16_flood_does_not_starve_another_connection)
{
    enum { N = 20000, PROBES = 50 };
    struct depth_flood f = {0};

    /* The flood is under way before the probe starts. */
    depth_flood_start(&f, _i, REQ_ECDSA, N, 64);
    struct lurk_conn *probe = dc_connect(transport(_i), 1);
    for (int i = 0; i < PROBES; i++)
        probe_p256(probe, i);
    size_t answered = depth_flood_stop(&f);
    fprintf(stderr, "%s: flood answered %zu of %d when the probe's %d were done\n", transport(_i),
            answered, N, PROBES);
    ck_assert_msg(answered < N, "the probe was served only after the flood (%zu answered)",
                  answered);
    lurk_conn_close(probe);
}
END_TEST

/*
 * The same with RSA (docs/performance.md, "Signing in the loops"): one I/O
 * thread, which signs RSA keys in memory too within its time budget per
 * epoll batch, one connection keeping 16 RSA-3072 signatures in flight, and
 * a second connection making 50 requests one at a time, P-256 signatures
 * and pings. Each of them must wait at most for the budget and the
 * signatures already running, not for the flood's queue: while the 50 are
 * answered the flood gets fewer than 16 answers per probe on average (a
 * probe queued behind the whole window of 16 would see 16), and far fewer
 * than its N requests.
 */
START_TEST(an_rsa_flood_does_not_hold_up_another_connection)
{
    enum { N = 4000, PROBES = 50 };
    struct depth_flood f = {0};

    /* The flood is under way, its window full, before the probe starts. */
    depth_flood_start(&f, _i, REQ_RSA, N, 32);
    struct lurk_conn *probe = dc_connect(transport(_i), 1);
    size_t before = atomic_load(&f.answered);
    for (int i = 0; i < PROBES; i++) {
        if (i % 2) {
            struct lurk_response resp;
            ck_assert_uint_eq(dc_call(probe, 0, LURK_TYPE_PING, NULL, 0, &resp),
                              LURK_STATUS_SUCCESS);
            lurk_response_free(&resp);
        } else {
            probe_p256(probe, i);
        }
    }
    size_t during = depth_flood_stop(&f) - before;
    fprintf(stderr, "%s: the RSA flood got %zu answers while the probe's %d were answered\n",
            transport(_i), during, PROBES);
    ck_assert_msg(during < PROBES * 16,
                  "the probe waited for the flood's whole window (%zu flood answers meanwhile)",
                  during);
    ck_assert_msg(before + during < N, "the probe was served only after the flood");
    lurk_conn_close(probe);
}
END_TEST

/* idle_timeout = 1s: silent connections are closed (and logged), new ones are served. */
START_TEST(idle_connections_are_closed)
{
    struct lurk_response resp;
    struct lurk_conn *c[3];

    start("idle_timeout = 1s\n");
    for (int t = 0; t < 3; t++) {
        c[t] = dc_connect(transport(t), 1);
        ck_assert_uint_eq(dc_call(c[t], 0, LURK_TYPE_PING, NULL, 0, &resp), LURK_STATUS_SUCCESS);
        lurk_response_free(&resp);
    }
    ck_assert(dc_wait_count(lurkd.log, "closing idle connection from", 3, 10000));
    for (int t = 0; t < 3; t++) {
        ck_assert_msg(!dc_recv(c[t], &resp, 5000), "%s: idle connection still open", transport(t));
        lurk_conn_close(c[t]);
    }
    c[0] = dc_connect(tls_addr, 1);
    ck_assert_uint_eq(dc_call(c[0], 0, LURK_TYPE_PING, NULL, 0, &resp), LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    lurk_conn_close(c[0]);
}
END_TEST

/* A CA and a client certificate it issued, none of which lurkd knows, as PEM files in dir. */
static void foreign_client(const struct lurkd_proc *p, char *cert_path, char *key_path)
{
    EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *ca = X509_new(), *cert = X509_new();
    X509 *certs[2] = {ca, cert};
    FILE *f;

    ck_assert(ca_key != NULL && key != NULL && ca != NULL && cert != NULL);
    for (int i = 0; i < 2; i++) {
        X509_NAME *name = X509_NAME_new();
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)(i ? "client1" : "foreign CA"), -1, -1,
                                   0);
        X509_set_version(certs[i], X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(certs[i]), i + 1);
        X509_gmtime_adj(X509_getm_notBefore(certs[i]), -3600);
        X509_gmtime_adj(X509_getm_notAfter(certs[i]), 3600);
        X509_set_subject_name(certs[i], name);
        X509_set_pubkey(certs[i], i ? key : ca_key);
        X509_NAME_free(name);
    }
    X509_set_issuer_name(ca, X509_get_subject_name(ca));
    X509_set_issuer_name(cert, X509_get_subject_name(ca));
    ck_assert(X509_sign(ca, ca_key, EVP_sha256()) > 0 && X509_sign(cert, ca_key, EVP_sha256()) > 0);
    snprintf(cert_path, 512, "%s/foreign.crt", p->dir);
    snprintf(key_path, 512, "%s/foreign.key", p->dir);
    ck_assert((f = fopen(cert_path, "w")) != NULL);
    PEM_write_X509(f, cert);
    PEM_write_X509(f, ca);
    fclose(f);
    ck_assert((f = fopen(key_path, "w")) != NULL);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

/* tls:// requires a client certificate from client_ca: none, or another CA's, is refused. */
START_TEST(tls_client_must_present_a_certificate_from_client_ca)
{
    char cert[512], key[512], err[512];
    struct lurk_address addr;
    struct lurk_response resp;

    start(NULL);
    foreign_client(&lurkd, cert, key);
    ck_assert(lurk_address_parse(tls_addr, &addr, err, sizeof(err)));
    for (int k = 0; k < 2; k++) {
        SSL_CTX *ctx = lurk_client_tls_ctx_new(NULL, lurk_test_pki("ca.crt"), k ? cert : NULL,
                                               k ? key : NULL, err, sizeof(err));
        ck_assert_msg(ctx != NULL, "%s", err);
        /* TLS 1.3: the client may finish its side before lurkd refuses it. */
        struct lurk_conn *c = lurk_conn_open(&addr, ctx, 5000, err, sizeof(err));
        if (c != NULL) {
            ck_assert_msg(
                !lurk_conn_call(c, 0, LURK_TYPE_PING, NULL, 0, &resp, 5000, err, sizeof(err)),
                "%s client served", k ? "foreign CA" : "certificate-less");
            lurk_conn_close(c);
        }
        SSL_CTX_free(ctx);
        ck_assert(dc_wait_count(lurkd.log, "TLS handshake with", k + 1, 5000));
    }
    struct lurk_conn *c = dc_connect(tls_addr, 1);
    ck_assert_uint_eq(dc_call(c, 0, LURK_TYPE_PING, NULL, 0, &resp), LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    lurk_conn_close(c);
}
END_TEST

static void no_setup(void)
{
}

int main(void)
{
    Suite *s = suite_create("daemon_transport");
    TCase *tc = tcase_create("transport");
    tcase_add_checked_fixture(tc, no_setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, pipelined_1000_answered_out_of_order, 0, 3);
    tcase_add_test(tc, global_queue_full_gives_temporary_failure);
    tcase_add_test(tc, connection_limit_gives_temporary_failure);
    tcase_add_test(tc, bad_frames_close_only_that_connection);
    tcase_add_loop_test(tc, max_frame_size_is_enforced, 0, 3);
    tcase_add_test(tc, client_closing_with_work_in_flight);
    tcase_add_test(tc, flood_with_a_slow_reader);
    tcase_add_loop_test(tc, a_depth_16_flood_does_not_starve_another_connection, 0, 3);
    tcase_add_loop_test(tc, an_rsa_flood_does_not_hold_up_another_connection, 0, 3);
    tcase_add_test(tc, idle_connections_are_closed);
    tcase_add_test(tc, tls_client_must_present_a_certificate_from_client_ca);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
