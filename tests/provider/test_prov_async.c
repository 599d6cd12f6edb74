/*
 * lurk.so inside OpenSSL ASYNC jobs (docs/architecture.md §6; haproxy ssl-mode-async,
 * s_server -async), against a real lurkd:
 *   - a TLS 1.3 CertificateVerify signature made in a job pauses it (a wait
 *     fd present, quiet again once the job finished), resumes when that fd
 *     polls readable and verifies with the certificate's public key;
 *   - a lurkd that accepts and never answers: the paused job's wait fd
 *     fires at lurk-timeout-ms and the job fails with the transport reason;
 *   - with one connection (lurk-connections = 1): a second job waits for it
 *     by pausing, not by blocking the thread that must resume the first;
 *     a blocking call meanwhile fails as busy, without failing over to the
 *     next server; a job whose wait ctx is freed without being resumed
 *     (haproxy frees the SSL of a connection that timed out during the
 *     wait) gives the connection back;
 *   - openssl s_server -async with a key reference completes a handshake,
 *     and its job did pause.
 *
 * A job pauses only when lurkd's answer has not arrived by the provider's
 * first read (an answer already there needs no pause and blocks nothing).
 * On a busy 2-core machine lurkd often answered first: the sending thread
 * is preempted right after send() while lurkd, woken by it, signs (P-256:
 * tens of microseconds); with Debian 13's OpenSSL 3.5 most runs lost that
 * race (docs/provider.md §7). So the provider reaches lurkd through a relay
 * (a child process of this test) that passes requests on at once and holds
 * every byte of lurkd's back for RELAY_HOLD_MS: the answer cannot be there
 * at the first read, and the pause is tested, not the scheduler.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "check_run.h"
#include "lurk/clock.h"
#include "prov_lurkd.h"
#include "prov_test_util.h"

#define R_TRANSPORT "cannot reach lurkd"
#define EX_SIGN_CV  "tls13/sign_certificate_verify"
#define IO_TIMEOUT  10000
#define SHORT_MS    400 /* lurk-timeout-ms of the configs that are meant to time out */
/* How long the relay holds lurkd's bytes: far above the send-to-read gap, far below SHORT_MS. */
#define RELAY_HOLD_MS 60

static const struct prov_kind kinds[] = {
    {"p256", "SHA256", false},
    {"rsa2048", "SHA256", true},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static struct prov_lurkd lurkd;
static char silent_addr[420]; /* unix: a listener that never accepts: lurkd hung */
static char spare_addr[420];  /* unix: a listener nobody should dial */
static int silent_fd = -1, spare_fd = -1;
static char silent_conf[600], one_conn_conf[600];
static char relay_addr[64];  /* tls://127.0.0.1:PORT, the relay in front of lurkd */
static char relay_conf[600]; /* lurk.so through the relay */
static pid_t relay_pid = -1;

/* ---- the relay: lurkd's answers held back RELAY_HOLD_MS (see the top comment) ---- */

#define RELAY_PAIRS 16

struct relay_pair {
    int client, lurkd;   /* -1 when the pair is free */
    uint8_t held[16384]; /* bytes from lurkd, due to the client at due_ms */
    size_t held_len;
    int64_t due_ms;
};

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void relay_close(struct relay_pair *rp)
{
    close(rp->client);
    close(rp->lurkd);
    rp->client = rp->lurkd = -1;
    rp->held_len = 0;
}

/* The relay process: never returns. Every loop bounded by poll and the parent's SIGKILL. */
static void relay_run(int lfd, const struct sockaddr_in *up)
{
    struct relay_pair pairs[RELAY_PAIRS];

    for (size_t i = 0; i < RELAY_PAIRS; i++)
        pairs[i] = (struct relay_pair){.client = -1, .lurkd = -1};
    for (;;) {
        struct pollfd p[1 + 2 * RELAY_PAIRS];
        int64_t now = lurk_clock_ms(), wait_ms = -1;
        size_t n = 1;

        p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (size_t i = 0; i < RELAY_PAIRS; i++) {
            struct relay_pair *rp = &pairs[i];
            if (rp->client < 0)
                continue;
            if (rp->held_len > 0 && rp->due_ms <= now) {
                if (!write_all(rp->client, rp->held, rp->held_len)) {
                    relay_close(rp);
                    continue;
                }
                rp->held_len = 0;
            }
            if (rp->held_len > 0 && (wait_ms < 0 || rp->due_ms - now < wait_ms))
                wait_ms = rp->due_ms - now;
            p[n++] = (struct pollfd){.fd = rp->client, .events = POLLIN};
            /* One held chunk at a time: lurkd's next bytes wait in the socket. */
            p[n++] = (struct pollfd){.fd = rp->lurkd, .events = rp->held_len == 0 ? POLLIN : 0};
        }
        if (poll(p, n, (int)wait_ms) < 0 && errno != EINTR)
            _exit(1);
        if (p[0].revents & POLLIN) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            size_t i = 0;
            while (i < RELAY_PAIRS && pairs[i].client >= 0)
                i++;
            if (c < 0 || u < 0 || i == RELAY_PAIRS ||
                connect(u, (const struct sockaddr *)up, sizeof(*up)) != 0) {
                close(c);
                close(u);
            } else {
                pairs[i].client = c;
                pairs[i].lurkd = u;
            }
        }
        for (size_t f = 1; f < n; f += 2) {
            struct relay_pair *rp = NULL;
            uint8_t buf[16384];
            ssize_t got;
            for (size_t i = 0; i < RELAY_PAIRS && rp == NULL; i++)
                if (pairs[i].client == p[f].fd)
                    rp = &pairs[i];
            if (rp == NULL)
                continue;
            if (p[f].revents & (POLLIN | POLLHUP | POLLERR)) {
                /* Requests go on at once. */
                got = read(rp->client, buf, sizeof(buf));
                if (got <= 0 || !write_all(rp->lurkd, buf, (size_t)got)) {
                    relay_close(rp);
                    continue;
                }
            }
            if (p[f + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                got = read(rp->lurkd, rp->held, sizeof(rp->held));
                if (got <= 0) {
                    relay_close(rp);
                    continue;
                }
                rp->held_len = (size_t)got;
                rp->due_ms = lurk_clock_ms() + RELAY_HOLD_MS;
            }
        }
    }
}

/* Starts the relay in front of lurkd's TLS address; sets relay_addr. */
static void relay_start(void)
{
    struct sockaddr_in up = {.sin_family = AF_INET}, me = {.sin_family = AF_INET};
    socklen_t len = sizeof(me);
    char host[64];
    int port, lfd;

    ck_assert_msg(sscanf(lurkd.tls_addr, "tls://%63[0-9.]:%d", host, &port) == 2,
                  "lurkd's TLS address is not IPv4: %s", lurkd.tls_addr);
    ck_assert_int_eq(inet_pton(AF_INET, host, &up.sin_addr), 1);
    up.sin_port = htons((uint16_t)port);
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&me, sizeof(me)), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&me, &len), 0);
    snprintf(relay_addr, sizeof(relay_addr), "tls://127.0.0.1:%u", (unsigned)ntohs(me.sin_port));
    relay_pid = fork();
    ck_assert_int_ge(relay_pid, 0);
    if (relay_pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        relay_run(lfd, &up);
    }
    close(lfd);
}

static void relay_stop(void)
{
    if (relay_pid > 0) {
        kill(relay_pid, SIGKILL);
        waitpid(relay_pid, NULL, 0);
    }
    relay_pid = -1;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

static void start(void)
{
    static const char *const keys[] = {"p256", "rsa2048", NULL};
    char path[400], settings[2048];

    prov_lurkd_start(&lurkd, keys, NULL);
    relay_start();
    snprintf(settings, sizeof(settings),
             "lurk-server = %s\nlurk-ca = %s\nlurk-cert = %s\nlurk-key = %s\n", relay_addr,
             lurk_test_pki("ca.crt"), lurk_test_pki("client1.crt"), lurk_test_pki("client1.key"));
    snprintf(relay_conf, sizeof(relay_conf), "%s/relay.cnf", lurkd.proc.dir);
    ck_assert(test_write_config(relay_conf, settings));

    snprintf(path, sizeof(path), "%s/silent.sock", lurkd.proc.dir);
    silent_fd = listen_unix(path);
    snprintf(silent_addr, sizeof(silent_addr), "unix:%s", path);
    snprintf(path, sizeof(path), "%s/spare.sock", lurkd.proc.dir);
    spare_fd = listen_unix(path);
    snprintf(spare_addr, sizeof(spare_addr), "unix:%s", path);

    snprintf(settings, sizeof(settings), "lurk-server = %s\nlurk-timeout-ms = %d\n", silent_addr,
             SHORT_MS);
    snprintf(silent_conf, sizeof(silent_conf), "%s/silent.cnf", lurkd.proc.dir);
    ck_assert(test_write_config(silent_conf, settings));

    /* lurkd (through the relay), then a backup server that must never be dialled
     * while lurkd is up. */
    snprintf(settings, sizeof(settings),
             "lurk-server = %s, %s backup\n"
             "lurk-ca = %s\nlurk-cert = %s\nlurk-key = %s\n"
             "lurk-connections = 1\nlurk-timeout-ms = %d\n"
             "lurk-stats = %s/counters\nlurk-stats-ms = 100\n",
             relay_addr, spare_addr, lurk_test_pki("ca.crt"), lurk_test_pki("client1.crt"),
             lurk_test_pki("client1.key"), SHORT_MS, lurkd.proc.dir);
    snprintf(one_conn_conf, sizeof(one_conn_conf), "%s/one-conn.cnf", lurkd.proc.dir);
    ck_assert(test_write_config(one_conn_conf, settings));
}

static void stop(void)
{
    close(silent_fd);
    close(spare_fd);
    relay_stop();
    prov_lurkd_stop(&lurkd);
}

/* ---- the key through lurk.so, its public key through the default provider ---- */

/* One signature of a TLS 1.3 server CertificateVerify content, run in a job or not. */
struct sign {
    const struct prov_signer *s;
    uint8_t tbs[160], sig[512];
    size_t tbs_len, sig_len;
};

static void sign_init(struct sign *j, const struct prov_signer *s)
{
    memset(j, 0, sizeof(*j));
    j->s = s;
    j->tbs_len = prov_cv_content(j->tbs, 32);
    ck_assert_uint_ne(j->tbs_len, 0);
}

static int sign_run(void *arg)
{
    struct sign *j = *(struct sign **)arg;

    j->sig_len = sizeof(j->sig);
    return prov_signer_sign(j->s, j->tbs, j->tbs_len, j->sig, &j->sig_len);
}

static bool verify(const struct sign *j)
{
    return prov_signer_verify(j->s, j->tbs, j->tbs_len, j->sig, j->sig_len);
}

/* ---- driving jobs the way an event loop does ---- */

struct job {
    ASYNC_JOB *job;
    ASYNC_WAIT_CTX *wctx;
    struct sign sign;
    int ret;
    int pauses;
    bool finished;
};

static void job_new(struct job *jb, const struct prov_signer *s)
{
    memset(jb, 0, sizeof(*jb));
    jb->wctx = ASYNC_WAIT_CTX_new();
    ck_assert_ptr_nonnull(jb->wctx);
    sign_init(&jb->sign, s);
}

/* Starts or resumes the job once. */
static void job_step(struct job *jb)
{
    struct sign *arg = &jb->sign;
    int r = ASYNC_start_job(&jb->job, jb->wctx, &jb->ret, sign_run, &arg, sizeof(arg));

    ck_assert_msg(r == ASYNC_PAUSE || r == ASYNC_FINISH, "ASYNC_start_job: %d", r);
    if (r == ASYNC_PAUSE)
        jb->pauses++;
    else
        jb->finished = true;
}

/* The job's wait fds (at most 4). */
static size_t job_fds(const struct job *jb, OSSL_ASYNC_FD *fds)
{
    size_t n = 0;

    ck_assert_int_eq(ASYNC_WAIT_CTX_get_all_fds(jb->wctx, NULL, &n), 1);
    ck_assert_uint_le(n, 4);
    ck_assert_int_eq(ASYNC_WAIT_CTX_get_all_fds(jb->wctx, fds, &n), 1);
    return n;
}

/* Polls the wait fds of the unfinished jobs; resumes those that are readable. */
static void drive(struct job **jobs, size_t n_jobs)
{
    for (int waited = 0;; waited += 100) {
        struct pollfd p[16];
        size_t owner[16], n = 0;
        bool all_done = true;

        for (size_t i = 0; i < n_jobs; i++) {
            OSSL_ASYNC_FD fds[4];
            size_t k;
            if (jobs[i]->finished)
                continue;
            all_done = false;
            k = job_fds(jobs[i], fds);
            ck_assert_msg(k > 0, "a paused job without a wait fd");
            for (size_t f = 0; f < k && n < 16; f++, n++) {
                p[n] = (struct pollfd){.fd = fds[f], .events = POLLIN};
                owner[n] = i;
            }
        }
        if (all_done)
            return;
        ck_assert_msg(waited < IO_TIMEOUT, "a paused job was never woken up");
        ck_assert_int_ge(poll(p, n, 100), 0);
        for (size_t f = 0; f < n; f++)
            if ((p[f].revents & POLLIN) && !jobs[owner[f]]->finished)
                job_step(jobs[owner[f]]);
    }
}

static void job_free(struct job *jb)
{
    ASYNC_WAIT_CTX_free(jb->wctx);
}

/*
 * Starts a signature in jb (a fresh content each time) until the job
 * pauses. Through the relay lurkd's answer cannot be there at the job's
 * first read; the retries cover a thread stalled longer than RELAY_HOLD_MS.
 */
static void start_paused(struct job *jb, const struct prov_signer *s)
{
    for (int tries = 0; tries < 5; tries++) {
        sign_init(&jb->sign, s);
        jb->finished = false;
        jb->pauses = 0;
        job_step(jb);
        if (!jb->finished)
            return;
        ck_assert_int_eq(jb->ret, 1);
        ck_assert(verify(&jb->sign));
    }
    ck_abort_msg("the job never paused for lurkd's answer");
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Nothing ready on the wait fds of a job that is not waiting. */
static void assert_quiet(const struct job *jb)
{
    OSSL_ASYNC_FD fds[4];
    size_t n = job_fds(jb, fds);

    for (size_t f = 0; f < n; f++) {
        struct pollfd p = {.fd = fds[f], .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 0), 0);
    }
}

/* A blocking signature outside any job; false with the lurk error's data in data. */
static bool sign_blocking(const struct prov_signer *s, struct sign *j, char *data, size_t len)
{
    struct sign *arg = j;

    sign_init(j, s);
    if (sign_run(&arg) == 1)
        return true;
    ck_assert_msg(test_errors_have_reason(R_TRANSPORT, data, len), "no \"%s\" error", R_TRANSPORT);
    return false;
}

/* ---- a signature in a job ---- */

START_TEST(sign_pauses_and_resumes)
{
    const struct prov_kind *kind = &kinds[_i];
    struct prov_signer s;
    struct job jb;
    struct job *jobs[] = {&jb};
    OSSL_ASYNC_FD fds[4], fd;
    char errs[1024];

    prov_signer_open(&s, kind, relay_conf, false);
    job_new(&jb, &s);
    start_paused(&jb, &s);
    ck_assert_uint_eq(job_fds(&jb, fds), 1);
    fd = fds[0];
    drive(jobs, 1);
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(jb.ret == 1, "%s: signing failed: %s", kind->name, errs);
    ck_assert_msg(verify(&jb.sign), "%s: the signature does not verify", kind->name);
    /* The wait fd stays registered for the next operation on this wait ctx, quiet. */
    ck_assert_uint_eq(job_fds(&jb, fds), 1);
    ck_assert_int_eq(fds[0], fd);
    assert_quiet(&jb);

    /* Again in the same wait ctx, on the kept connection. */
    start_paused(&jb, &s);
    drive(jobs, 1);
    ck_assert_int_eq(jb.ret, 1);
    ck_assert(verify(&jb.sign));
    assert_quiet(&jb);

    /* Freeing the wait ctx closes the wait fd. */
    ck_assert(fd_is_open(fd));
    job_free(&jb);
    ck_assert(!fd_is_open(fd));
    prov_signer_close(&s);
}
END_TEST

/* ---- lurkd accepts and never answers ---- */

START_TEST(timeout_while_paused)
{
    struct prov_signer s;
    struct job jb;
    struct job *jobs[] = {&jb};
    char data[1024];

    prov_signer_open(&s, &kinds[0], silent_conf, false);
    job_new(&jb, &s);
    job_step(&jb);
    ck_assert_msg(!jb.finished, "the job did not pause");
    /* Only the wait fd's timer can wake it. */
    drive(jobs, 1);
    ck_assert_int_eq(jb.ret, 0);
    ck_assert_msg(test_errors_have_reason(R_TRANSPORT, data, sizeof(data)), "no \"%s\" error",
                  R_TRANSPORT);
    ck_assert_msg(strstr(data, "timed out") != NULL && strstr(data, silent_addr) != NULL, "%s",
                  data);
    assert_quiet(&jb);
    job_free(&jb);
    prov_signer_close(&s);
}
END_TEST

/* ---- one connection ---- */

static bool spare_was_dialled(void)
{
    int fd = accept4(spare_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd >= 0)
        close(fd);
    return fd >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

START_TEST(second_job_pauses_for_the_connection)
{
    struct prov_signer s;
    struct job a, b;
    struct job *jobs[] = {&a, &b};

    prov_signer_open(&s, &kinds[0], one_conn_conf, false);
    job_new(&a, &s);
    job_new(&b, &s);
    start_paused(&a, &s);
    /* a holds the only connection: b waits for it paused, this thread stays free to resume a. */
    job_step(&b);
    ck_assert_msg(!b.finished, "the second job did not pause waiting for the connection");
    ck_assert_uint_eq(job_fds(&b, (OSSL_ASYNC_FD[4]){0}), 1);
    drive(jobs, 2);
    ck_assert_int_eq(a.ret, 1);
    ck_assert_int_eq(b.ret, 1);
    ck_assert(verify(&a.sign));
    ck_assert(verify(&b.sign));
    assert_quiet(&a);
    assert_quiet(&b);
    ck_assert(!spare_was_dialled());
    job_free(&a);
    job_free(&b);
    prov_signer_close(&s);
}
END_TEST

START_TEST(busy_pool_is_not_a_dead_server)
{
    struct prov_signer s;
    struct job a;
    struct job *jobs[] = {&a};
    struct sign j;
    char data[1024];

    prov_signer_open(&s, &kinds[0], one_conn_conf, false);
    job_new(&a, &s);
    start_paused(&a, &s);
    /* The only connection is a's (paused): a blocking call waits lurk-timeout-ms for it. */
    ck_assert(!sign_blocking(&s, &j, data, sizeof(data)));
    ck_assert_msg(strstr(data, "busy") != NULL, "%s", data);
    ck_assert_msg(strstr(data, relay_addr) != NULL, "the server is not named: %s", data);
    ck_assert_msg(strstr(data, spare_addr) == NULL, "failed over as if lurkd were down: %s", data);
    drive(jobs, 1);
    ck_assert_int_eq(a.ret, 1);
    ck_assert(verify(&a.sign));
    /* lurkd was not marked down: it is still the first server tried. */
    ck_assert_msg(sign_blocking(&s, &j, data, sizeof(data)), "%s", data);
    ck_assert(verify(&j));
    ck_assert(!spare_was_dialled());
    job_free(&a);
    prov_signer_close(&s);
}
END_TEST

/*
 * Waits (5 s at most) until this process's counters file (docs/provider.md
 * §4) shows the server with no request outstanding; false otherwise.
 */
static bool counters_show_none_outstanding(const char *server)
{
    char path[700], want[300];

    snprintf(path, sizeof(path), "%s/counters.%ld", lurkd.proc.dir, (long)getpid());
    snprintf(want, sizeof(want), "server=\"%s\" ", server);
    for (int64_t until = lurk_clock_ms() + 5000; lurk_clock_ms() < until; usleep(50 * 1000)) {
        char *text = lurk_test_read_file(path, NULL);
        const char *line = text != NULL ? strstr(text, want) : NULL;
        const char *end = line != NULL ? strchr(line, '\n') : NULL;
        const char *zero = line != NULL ? strstr(line, " outstanding=0 ") : NULL;
        bool none = zero != NULL && (end == NULL || zero < end);
        free(text);
        if (none)
            return true;
    }
    return false;
}

/* The abandoned job is never resumed: it stays reachable for the leak checker. */
static ASYNC_JOB *volatile abandoned;
static struct prov_signer abandoned_signer;

START_TEST(freed_wait_ctx_returns_the_connection)
{
    struct prov_signer *s = &abandoned_signer;
    struct job a;
    struct sign j;
    char data[1024];

    prov_signer_open(s, &kinds[0], one_conn_conf, false);
    job_new(&a, s);
    start_paused(&a, s);
    abandoned = a.job;
    /* SSL_free of a connection that timed out, the job still paused. */
    job_free(&a);
    ck_assert_msg(sign_blocking(s, &j, data, sizeof(data)), "%s", data);
    ck_assert(verify(&j));
    ck_assert(!spare_was_dialled());
    /* The abandoned attempt no longer counts against lurkd when servers are compared. */
    ck_assert_msg(counters_show_none_outstanding(relay_addr),
                  "the abandoned request still counts as outstanding on %s", relay_addr);
    /* The library context stays: the abandoned job still holds objects from it. */
}
END_TEST

/* ---- openssl s_server -async ---- */

/* Starts a one-connection s_server -async -www on sock, output to out; waits until it accepts. */
static pid_t s_server_start(const char *sock, const char *out, const char *keyref)
{
    /* clang-format off */
    const char *const args[] = {
        "-unix", sock, "-unlink",
        "-cert", lurk_test_pki("server-rsa2048.crt"), "-key", keyref,
        "-naccept", "1", "-tls1_3", "-async", "-www", NULL,
    };
    /* clang-format on */

    return prov_s_server_start(relay_conf, out, args, IO_TIMEOUT);
}

/* One HTTP request through a stock libssl client, verifying the chain against the test CA. */
static void https_get(const char *sock, const char *out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char page[4096] = "";
    int fd, got = 0;
    SSL *ssl;

    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_load_verify_file(ctx, lurk_test_pki("ca.crt")), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memcpy(sun.sun_path, sock, strlen(sock) + 1);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect %s: %s", sock,
                  strerror(errno));
    ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        char errs[1024];
        char *text = lurk_test_read_file(out, NULL);
        test_errors_text(errs, sizeof(errs));
        ck_abort_msg("handshake failed: %s\ns_server:\n%s", errs, text ? text : "");
    }
    ck_assert_str_eq(SSL_get_version(ssl), "TLSv1.3");
    ck_assert_int_eq(SSL_get_verify_result(ssl), X509_V_OK);
    ck_assert_int_gt(SSL_write(ssl, "GET / HTTP/1.0\r\n\r\n", 18), 0);
    for (int n; (n = SSL_read(ssl, page + got, (int)sizeof(page) - 1 - got)) > 0;)
        got += n;
    page[got] = '\0';
    ck_assert_msg(strncmp(page, "HTTP/1.0 200 ok", 15) == 0, "page: %s", page);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

START_TEST(s_server_async_handshake)
{
    const char *needle = prov_audit_needle("rsa2048", EX_SIGN_CV, "success");
    char sock[400], out[400], keyref[400];
    char *pem = prov_keyref_for_cert("server-rsa2048.crt", NULL);
    bool paused = false;

    snprintf(keyref, sizeof(keyref), "%s", prov_write(&lurkd, "async.keyref.pem", pem));
    free(pem);
    /* Short: s_server fails to print a unix address longer than NI_MAXSERV (32) and exits. */
    snprintf(sock, sizeof(sock), "%s/a.sock", lurkd.proc.dir);
    snprintf(out, sizeof(out), "%s/s_server.out", lurkd.proc.dir);
    /* Again if lurkd answered before the job's first read (see start_paused). */
    for (int tries = 0; tries < 3 && !paused; tries++) {
        int audit0 = prov_count(lurkd.proc.audit, needle), status;
        pid_t pid = s_server_start(sock, out, keyref);
        char *text;

        https_get(sock, out);
        status = prov_s_server_wait(pid, IO_TIMEOUT);
        text = lurk_test_read_file(out, NULL);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "s_server: status 0x%x\n%s",
                      status, text ? text : "");
        /* With -www, s_server prints this when its SSL call came back with the job paused. */
        paused = strstr(text, "read R BLOCK") != NULL;
        free(text);
        ck_assert(prov_wait_count(lurkd.proc.audit, needle, audit0 + 1, IO_TIMEOUT));
    }
    ck_assert_msg(paused, "the key operation in s_server never paused its job");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_async");
    TCase *tc = tcase_create("async");

    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, sign_pauses_and_resumes, 0, N_KINDS);
    tcase_add_test(tc, timeout_while_paused);
    tcase_add_test(tc, second_job_pauses_for_the_connection);
    tcase_add_test(tc, busy_pool_is_not_a_dead_server);
    tcase_add_test(tc, freed_wait_ctx_returns_the_connection);
    tcase_add_test(tc, s_server_async_handshake);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
