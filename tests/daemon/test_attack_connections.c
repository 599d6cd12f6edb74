/*
 * Attacks on lurkd's availability (docs/security.md, "Attacks tried"), with
 * real lurkd processes and raw sockets: descriptors exhausted by held
 * connections, bytes trickled to beat the idle timeout (slowloris), one peer
 * holding every connection, refusals flooding the log, and the memory of
 * connections that stop mid-header. Every loop here is bounded in count and
 * time; the figures asserted are CPU seconds, log bytes, connection counts
 * and resident memory, never a speed.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/clock.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

static void start(const char *settings)
{
    dc_start(&lurkd, settings, NULL, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- raw sockets ---- */

/* "tcp://127.0.0.1:1234" or "tls://..." to a sockaddr. */
static struct sockaddr_in inet_of(const char *addr)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *colon = strrchr(addr, ':');

    ck_assert_ptr_nonnull(colon);
    sin.sin_port = htons((uint16_t)atoi(colon + 1));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/*
 * A connection to addr from source (another loopback address: another
 * peer), or -1. Nonblocking connect: lurkd may not accept it at once.
 */
static int connect_from(const char *addr, const char *source)
{
    struct sockaddr_in sin = inet_of(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (source != NULL) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        inet_pton(AF_INET, source, &src.sin_addr);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_unix(const char *addr)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    const char *path = addr + strlen("unix:");

    ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* True when the peer has closed fd (EOF or reset), waiting up to timeout_ms. */
static bool closed_by_peer(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t b[64];

    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A lurk ping on a raw socket, answered within timeout_ms. */
static bool raw_ping(int fd, int timeout_ms)
{
    uint8_t msg[LURK_HEADER_LEN], resp[64];
    size_t len =
        dc_message(msg, sizeof(msg), LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0, 7, NULL, 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len || poll(&p, 1, timeout_ms) != 1)
        return false;
    return recv(fd, resp, sizeof(resp), 0) == LURK_HEADER_LEN && resp[3] == LURK_STATUS_SUCCESS;
}

/* ---- what the process costs ---- */

/* CPU seconds lurkd has used (user + system, all threads). */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long utime, stime;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
    fclose(f);
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    ck_assert_int_eq(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident memory in KiB. */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* ---- tests ---- */

/*
 * 300 connections held against lurkd limited to 128 descriptors for 6 s.
 * lurkd must neither spin (level-triggered listener, accept failing at once)
 * nor write a line per failure, and must serve again once descriptors free.
 */
START_TEST(exhausted_descriptors_neither_spin_nor_flood)
{
    struct rlimit old, low = {128, 0};
    enum { HELD = 300, HOLD_MS = 6000 };
    static int fds[HELD];
    int opened = 0;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low.rlim_max = old.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0); /* lurkd inherits it */
    start("max_connections_per_peer = 1000\nlog_level = info\n");
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    double cpu0 = cpu_seconds(lurkd.pid);
    long log0 = file_size(lurkd.log);
    for (int i = 0; i < HELD; i++)
        if ((fds[i] = connect_from(tcp_addr, NULL)) >= 0)
            opened++;
    sleep_ms(HOLD_MS);
    double cpu = cpu_seconds(lurkd.pid) - cpu0;
    long logged = file_size(lurkd.log) - log0;
    int lines = dc_count(lurkd.log, "Too many open files");
    printf("figure: descriptors: %d connections held %d ms against 128 descriptors: lurkd used "
           "%.2f s of CPU, wrote %ld bytes (%d lines) of log\n",
           HELD, HOLD_MS, cpu, logged, lines);
    /* The backlog takes what lurkd cannot: every connect succeeds. */
    ck_assert_int_eq(opened, HELD);
    ck_assert_msg(cpu < 1.0, "lurkd used %.2f s of CPU in %d ms at its descriptor limit", cpu,
                  HOLD_MS);
    ck_assert_msg(logged < 16 * 1024 && lines <= 2 * (HOLD_MS / 1000) + 2,
                  "%ld bytes, %d lines of log in %d ms at the descriptor limit", logged, lines,
                  HOLD_MS);
    /* Descriptors free: lurkd accepts again, within the back-off. */
    for (int i = 0; i < HELD; i++)
        close(fds[i]);
    int fd = -1;
    for (int tries = 0; tries < 50 && fd < 0; tries++) {
        fd = connect_from(tcp_addr, NULL);
        if (fd >= 0 && !raw_ping(fd, 3000)) {
            close(fd);
            fd = -1;
            sleep_ms(100);
        }
    }
    ck_assert_msg(fd >= 0, "lurkd does not serve once descriptors are free again");
    close(fd);
    ck_assert(dc_wait_count(lurkd.log, "such lines in the last", 1, 3000));
}
END_TEST

/*
 * Slowloris: 40 connections each send one header byte per second. Only
 * whole messages are activity; a message must arrive within
 * request_timeout (3 s here) of its first byte, whatever the idle timeout.
 */
START_TEST(trickled_bytes_do_not_hold_connections)
{
    enum { N = 40, LIMIT_MS = 12000 };
    static int fds[N];
    static bool gone[N];
    uint8_t header[LURK_HEADER_LEN];
    int open = N;
    int64_t t0 = lurk_clock_ms();

    start("idle_timeout = 5s\nrequest_timeout = 3s\nmax_connections_per_peer = 100\n");
    dc_message(header, sizeof(header), LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0, 1, NULL, 0);
    for (int i = 0; i < N; i++) {
        fds[i] = connect_from(tcp_addr, NULL);
        ck_assert_int_ge(fds[i], 0);
        gone[i] = false;
    }
    for (int byte = 0; open > 0 && lurk_clock_ms() - t0 < LIMIT_MS; byte++) {
        for (int i = 0; i < N; i++) {
            if (gone[i])
                continue;
            if (closed_by_peer(fds[i], 0) ||
                send(fds[i], &header[byte % (LURK_HEADER_LEN - 1)], 1, MSG_NOSIGNAL) != 1) {
                gone[i] = true;
                open--;
            }
        }
        sleep_ms(1000);
    }
    int64_t took = lurk_clock_ms() - t0;
    printf("figure: slowloris: %d connections trickling a byte a second: %d open after %lld ms\n",
           N, open, (long long)took);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ck_assert_msg(open == 0, "%d of %d trickling connections still open after %lld ms", open, N,
                  (long long)took);
    ck_assert_msg(took <= 3000 + 2500, "the trickling connections lasted %lld ms", (long long)took);
    /* A TLS handshake is held to the same bound: a ClientHello trickled, or nothing sent. */
    int silent = connect_from(tls_addr, NULL), trickle = connect_from(tls_addr, NULL);
    static const uint8_t hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    t0 = lurk_clock_ms();
    bool trickle_closed = false;
    for (size_t i = 0; i < sizeof(hello_start) && !trickle_closed; i++) {
        trickle_closed =
            send(trickle, &hello_start[i], 1, MSG_NOSIGNAL) != 1 || closed_by_peer(trickle, 1000);
    }
    ck_assert(trickle_closed || closed_by_peer(trickle, 5000));
    ck_assert(closed_by_peer(silent, 5000));
    ck_assert_int_le(lurk_clock_ms() - t0, 3000 + 2500);
    close(silent);
    close(trickle);
    ck_assert(dc_wait_count(lurkd.log, "not finished within request_timeout", 1, 3000));
}
END_TEST

/*
 * One peer cannot take every connection: with max_connections = 100 and
 * the default per-peer share (100 / 8 = 12), an attacker on 127.0.0.1 holds
 * 12 connections, and a client on 127.0.0.2, a unix client and a second
 * tls:// identity are served. Refusals are counted and logged once a
 * second at most.
 */
START_TEST(one_peer_cannot_take_every_connection)
{
    enum { ATTACK = 100, PER_PEER = 100 / 8 };
    static int fds[ATTACK];
    int held = 0;

    start("max_connections = 100\nlog_level = info\n");
    for (int i = 0; i < ATTACK; i++)
        fds[i] = connect_from(tcp_addr, "127.0.0.1");
    sleep_ms(500);
    for (int i = 0; i < ATTACK; i++)
        held += fds[i] >= 0 && !closed_by_peer(fds[i], 0);
    printf("figure: per peer: %d connections from one address, %d held\n", ATTACK, held);
    ck_assert_msg(held == PER_PEER, "one address holds %d connections (per-peer cap %d)", held,
                  PER_PEER);
    int other = connect_from(tcp_addr, "127.0.0.2");
    ck_assert_msg(other >= 0 && raw_ping(other, 3000), "a second address is locked out");
    close(other);
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 0);
    struct lurk_response resp;
    ck_assert_uint_eq(dc_call(local, LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp),
                      LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    lurk_conn_close(local);
    /* Refused 88 times, logged at most twice in this second (and the count after it). */
    ck_assert_int_le(dc_count(lurkd.log, "max_connections_per_peer reached"), 3);
    ck_assert(dc_wait_count(lurkd.log, "such lines in the last", 1, 3000));
    for (int i = 0; i < ATTACK; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
END_TEST

/* tls:// counts a client by its certificate once authenticated, unix: by uid. */
START_TEST(identities_and_uids_have_their_own_cap)
{
    enum { CAP = 3 };
    struct lurk_conn *c1[CAP + 1], *c2;
    struct lurk_response resp;
    char err[256];

    start("max_connections_per_peer = 3\n");
    for (int i = 0; i < CAP; i++)
        c1[i] = dc_connect(tls_addr, 1);
    /* The fourth client1 connection completes its handshake and is closed. */
    c1[CAP] = dc_connect(tls_addr, 1);
    ck_assert(!lurk_conn_call(c1[CAP], LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp, 3000,
                              err, sizeof(err)));
    /* client2, another identity from the same address, is served. */
    c2 = dc_connect(tls_addr, 2);
    ck_assert_uint_eq(dc_call(c2, LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp),
                      LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    lurk_conn_close(c2);
    for (int i = 0; i <= CAP; i++)
        lurk_conn_close(c1[i]);
    /*
     * unix: the same uid, capped the same way. Which of the four is refused
     * depends on which I/O loop accepted which first: exactly one is closed,
     * the other three are served.
     */
    int u[CAP + 1], n_closed = 0;
    bool closed[CAP + 1] = {false};
    for (int i = 0; i <= CAP; i++)
        u[i] = connect_unix(lurkd.unix_addr);
    for (int tries = 0; tries < 30 && n_closed == 0; tries++) {
        sleep_ms(100);
        for (int i = 0; i <= CAP; i++)
            if (!closed[i] && closed_by_peer(u[i], 0))
                closed[i] = true, n_closed++;
    }
    sleep_ms(200); /* a second refusal, were there one, would be in by now */
    for (int i = 0; i <= CAP; i++)
        if (!closed[i] && closed_by_peer(u[i], 0))
            closed[i] = true, n_closed++;
    ck_assert_int_eq(n_closed, 1);
    for (int i = 0; i <= CAP; i++)
        if (!closed[i])
            ck_assert_msg(raw_ping(u[i], 3000), "connection %d of the uid was not served", i);
    for (int i = 0; i <= CAP; i++)
        close(u[i]);
}
END_TEST

/*
 * 60 connections to the tls:// listener that send an HTTP request instead
 * of a ClientHello: each is a failed handshake, counted in the metrics, but
 * the log gets at most a line a second and then a count.
 */
START_TEST(failed_handshakes_do_not_flood_the_log)
{
    enum { FAILURES = 60 };
    static const char garbage[] = "GET / HTTP/1.0\r\n\r\n";

    start(NULL);
    for (int i = 0; i < FAILURES; i++) {
        int fd = connect_from(tls_addr, NULL);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(send(fd, garbage, sizeof(garbage), MSG_NOSIGNAL),
                         (ssize_t)sizeof(garbage));
        ck_assert(closed_by_peer(fd, 3000));
        close(fd);
    }
    /* The count line comes once the second has passed. */
    ck_assert(dc_wait_count(lurkd.log, "such lines in the last", 1, 3000));
    int lines = dc_count(lurkd.log, "TLS handshake with");
    ck_assert_msg(lines >= 2 && lines <= 6, "%d log lines for %d failed handshakes", lines,
                  FAILURES);
}
END_TEST

/*
 * 1000 connections each send 8 bytes of a header and stop. While they are
 * open lurkd holds about what they sent, not a read buffer each; once they
 * close, its memory is back near where it started (an allowance of 2 MiB
 * for the allocator's free lists and thread arenas).
 */
START_TEST(truncated_headers_give_their_memory_back)
{
    enum { N = 1000 };
    static int fds[N];
    uint8_t header[LURK_HEADER_LEN];
    char settings[128];

    snprintf(settings, sizeof(settings),
             "max_connections_per_peer = %d\nmax_connections = %d\nrequest_timeout = 60s\n", 2 * N,
             2 * N);
    start(settings);
    dc_message(header, sizeof(header), LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0, 1, NULL, 0);
    struct rlimit lim;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
    ck_assert_msg(lim.rlim_cur > N + 64, "RLIMIT_NOFILE %lu is too low for this test",
                  (unsigned long)lim.rlim_cur);
    /* One ping first, so that the I/O thread's steady-state allocations exist. */
    int warm = connect_from(tcp_addr, NULL);
    ck_assert(raw_ping(warm, 3000));
    close(warm);
    sleep_ms(300);
    long before = rss_kib(lurkd.pid);
    for (int i = 0; i < N; i++) {
        fds[i] = connect_from(tcp_addr, NULL);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(send(fds[i], header, 8, MSG_NOSIGNAL), 8);
    }
    sleep_ms(1500);
    long open = rss_kib(lurkd.pid);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    sleep_ms(1500);
    long after = rss_kib(lurkd.pid);
    printf("figure: memory: RSS %ld KiB before, %ld KiB with 1000 truncated headers, %ld KiB "
           "after they closed\n",
           before, open, after);
    ck_assert_msg(after <= before + 2048 && open <= before + 4096,
                  "RSS %ld KiB before, %ld KiB while 1000 connections hold 8 bytes each, "
                  "%ld KiB after they closed",
                  before, open, after);
}
END_TEST

/*
 * Clients that send and never read: 40 unix connections each write up to
 * 80,000 pings (1.3 MB) for 3 s and read no answer. lurkd stops reading a
 * connection whose answers wait unread; what each may hold is what lurkd
 * keeps until its request_timeout closes it. On the tree of 1f9f050 (a 1
 * MiB mark), 1.2-2.2 MiB a connection: 512 connections of one peer, about
 * 1 GiB.
 */
START_TEST(clients_that_do_not_read_hold_little_memory)
{
    enum { CONNS = 40, PINGS = 80000 };
    static int fds[CONNS];
    static size_t sent[CONNS];
    uint8_t *buf = malloc((size_t)PINGS * LURK_HEADER_LEN);
    size_t at = 0;

    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < PINGS; i++)
        at += dc_message(buf + at, LURK_HEADER_LEN, LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0,
                         (uint64_t)i, NULL, 0);
    start("request_timeout = 30s\n");
    long before = rss_kib(lurkd.pid);
    for (int i = 0; i < CONNS; i++) {
        fds[i] = connect_unix(lurkd.unix_addr);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0);
    }
    int64_t until = lurk_clock_ns() + 3000000000LL;
    while (lurk_clock_ns() < until) {
        for (int i = 0; i < CONNS; i++) {
            ssize_t n = sent[i] < at ? send(fds[i], buf + sent[i], at - sent[i], MSG_NOSIGNAL) : 0;
            if (n > 0)
                sent[i] += (size_t)n;
        }
        sleep_ms(10);
    }
    sleep_ms(1000);
    long held = rss_kib(lurkd.pid);
    size_t total = 0;
    for (int i = 0; i < CONNS; i++) {
        total += sent[i];
        close(fds[i]);
    }
    free(buf);
    printf("figure: %d unix connections sent %zu KiB of pings in all and read nothing: lurkd RSS "
           "%ld -> %ld KiB, %ld KiB a connection\n",
           CONNS, total / 1024, before, held, (held - before) / CONNS);
    /* Each sent more than the mark's worth: lurkd stopped reading, not the client writing. */
    ck_assert_uint_gt(total / CONNS, 256 * 1024);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's quarantine keeps every freed request and answer: its RSS is not lurkd's. */
    (void)held;
#else
    ck_assert_msg((held - before) / CONNS < 256, "%ld KiB held a connection that reads nothing",
                  (held - before) / CONNS);
#endif
}
END_TEST

/* ---- one peer keeps the workers' queue full ---- */

enum { QUEUE_ATTACK_CONNS = 12, QUEUE_ATTACK_DEPTH = 16, QUEUE_ATTACK_MS = 4000 };

static uint8_t rsa4096_id[4];

/* A sign_certificate_verify frame for the RSA-4096 key: a worker's, never an I/O thread's. */
static size_t rsa4096_frame(uint8_t *out, size_t cap, uint64_t id)
{
    uint8_t payload[64], hash[32] = {5};
    size_t n = dc_sign_cv_payload(payload, 0, rsa4096_id, 0x0804, 0, hash, sizeof(hash));

    return dc_message(out, cap, LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                      0, id, payload, n);
}

struct queue_attacker {
    struct lurk_conn *conn;
    uint64_t next_id;
    int64_t until_ns;
    unsigned served, refused;
    pthread_t thread;
};

/* Keeps QUEUE_ATTACK_DEPTH requests in flight on one connection until until_ns. */
static void *keep_queue_full(void *arg)
{
    struct queue_attacker *a = arg;
    uint8_t frames[QUEUE_ATTACK_DEPTH * 128], f[128];
    size_t at = 0;
    unsigned outstanding = QUEUE_ATTACK_DEPTH;

    for (int j = 0; j < QUEUE_ATTACK_DEPTH; j++)
        at += rsa4096_frame(frames + at, sizeof(frames) - at, a->next_id++);
    dc_send(a->conn, frames, at);
    while (outstanding > 0) {
        struct lurk_response resp;
        if (!dc_recv(a->conn, &resp, 30000))
            break;
        outstanding--;
        if (resp.msg.hdr.status == LURK_STATUS_TEMPORARY_FAILURE) {
            a->refused++;
            sleep_ms(1); /* still faster than a worker signs; the machine is shared */
        } else {
            a->served++;
        }
        lurk_response_free(&resp);
        if (lurk_clock_ns() < a->until_ns) {
            dc_send(a->conn, f, rsa4096_frame(f, sizeof(f), a->next_id++));
            outstanding++;
        }
    }
    return NULL;
}

/*
 * A front end that pipelines more requests than the workers' queue holds
 * (here 12 connections x 16 RSA-4096 CertificateVerify, each refilled as
 * soon as it is answered, against queue_limit = 64) must not have every
 * other front end's requests refused: once the queue is half full it may
 * keep no more than peer_queue_limit (64 / 8) of them queued, and the rest
 * of its requests get temporary_failure. On the tree of 1f9f050 (as with
 * peer_queue_limit = 64), the other front end (client1 over tls://) got
 * temporary_failure for 10 of its 10 requests.
 */
START_TEST(one_peer_cannot_fill_the_worker_queue)
{
    static struct queue_attacker atk[QUEUE_ATTACK_CONNS];
    char path[600], cmd[1400], extra[800];
    unsigned victim_refused = 0, victim_served = 0, atk_refused = 0, atk_served = 0;
    int64_t slowest = 0;

    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(path, sizeof(path), "%s/rsa4096.key", lurkd.dir);
    snprintf(cmd, sizeof(cmd),
             "umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out %s "
             "2>/dev/null",
             path);
    ck_assert_int_eq(system(cmd), 0);
    EVP_PKEY *rsa = dc_load_key(path);
    dc_key_id(rsa, rsa4096_id);
    EVP_PKEY_free(rsa);
    snprintf(extra, sizeof(extra), "[key.rsa4096]\nsource = %s\nclients = client1, local\n", path);
    dc_start(&lurkd, "workers = 1\nqueue_limit = 64\nconnection_queue_limit = 64\n", extra,
             tcp_addr, tls_addr, sizeof(tcp_addr));
    struct lurk_conn *victim = dc_connect(tls_addr, 1);
    int64_t until = lurk_clock_ns() + (int64_t)QUEUE_ATTACK_MS * 1000000;
    for (int i = 0; i < QUEUE_ATTACK_CONNS; i++) {
        atk[i] = (struct queue_attacker){.conn = dc_connect(lurkd.unix_addr, 0),
                                         .next_id = 1000000u * (uint64_t)(i + 1),
                                         .until_ns = until};
        ck_assert_int_eq(pthread_create(&atk[i].thread, NULL, keep_queue_full, &atk[i]), 0);
    }
    sleep_ms(500);
    for (int k = 0; k < 10; k++) {
        uint8_t f[128];
        struct lurk_response resp;
        int64_t t = lurk_clock_ns();
        ck_assert(dc_raw(victim, f, rsa4096_frame(f, sizeof(f), 100 + (uint64_t)k), &resp));
        t = lurk_clock_ns() - t;
        slowest = t > slowest ? t : slowest;
        victim_refused += resp.msg.hdr.status == LURK_STATUS_TEMPORARY_FAILURE;
        victim_served += resp.msg.hdr.status == LURK_STATUS_SUCCESS;
        lurk_response_free(&resp);
        sleep_ms(200);
    }
    for (int i = 0; i < QUEUE_ATTACK_CONNS; i++) {
        pthread_join(atk[i].thread, NULL);
        atk_served += atk[i].served;
        atk_refused += atk[i].refused;
        lurk_conn_close(atk[i].conn);
    }
    lurk_conn_close(victim);
    /* Once the queue has drained, no peer counts against its share any more. */
    struct lurk_conn *op = dc_connect(lurkd.unix_addr, 0);
    for (int i = 0; i < 100 && dc_stat(op, "lurkd_queued_requests") != 0; i++)
        sleep_ms(100);
    long long queued_peers = dc_stat(op, "lurkd_queued_peers");
    long long peer_refusals =
        dc_stat(op, "lurkd_requests_refused_total{reason=\"peer_queue_limit\"}");
    lurk_conn_close(op);
    printf("figure: worker queue: one peer with %d x %d RSA-4096 requests in flight got %u "
           "answered and %u temporary_failure; another front end %u of 10 answered, %u "
           "temporary_failure, the slowest in %lld ms\n",
           QUEUE_ATTACK_CONNS, QUEUE_ATTACK_DEPTH, atk_served, atk_refused, victim_served,
           victim_refused, (long long)(slowest / 1000000));
    ck_assert_msg(victim_refused == 0 && victim_served == 10,
                  "one peer's pipelined requests had another front end refused: %u of 10 "
                  "temporary_failure",
                  victim_refused);
    /* The attack did reach the cap: its requests beyond it were refused for it. */
    ck_assert_uint_gt(atk_refused, 0);
    ck_assert_int_eq(peer_refusals, atk_refused);
    ck_assert_int_eq(queued_peers, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attack_connections");
    TCase *tc = tcase_create("connections");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, exhausted_descriptors_neither_spin_nor_flood);
    tcase_add_test(tc, trickled_bytes_do_not_hold_connections);
    tcase_add_test(tc, one_peer_cannot_take_every_connection);
    tcase_add_test(tc, identities_and_uids_have_their_own_cap);
    tcase_add_test(tc, failed_handshakes_do_not_flood_the_log);
    tcase_add_test(tc, truncated_headers_give_their_memory_back);
    tcase_add_test(tc, one_peer_cannot_fill_the_worker_queue);
    tcase_add_test(tc, clients_that_do_not_read_hold_little_memory);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
