/*
 * The fleet test's relay (tests/support/relay.c) as a real process: bytes
 * forwarded intact both ways, never earlier than the delay, half-closes
 * passed on, stall and resume, drop, an unreachable upstream, the
 * connection limit, the control commands and the argument errors, and a
 * clean exit on SIGTERM with connections open (a leak fails the exit status
 * under LeakSanitizer).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"

#ifndef RELAY_PATH
#error "RELAY_PATH must name the lurk-test-relay binary"
#endif

struct relay_proc {
    pid_t pid;
    int port;
    char ctl[108];
};

/* An upstream listener on 127.0.0.1, port chosen by the kernel. */
static int upstream_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the relay to 127.0.0.1:up_port and reads the port it reports. */
static void relay_start(struct relay_proc *r, int up_port, int delay_ms, int max_conns)
{
    char upstream[32], delay[16], maxc[16], line[128];
    int out[2];
    FILE *f;

    snprintf(r->ctl, sizeof(r->ctl), "/tmp/lurk-relay-test-%d-%lld.ctl", (int)getpid(), now_ms());
    snprintf(upstream, sizeof(upstream), "127.0.0.1:%d", up_port);
    snprintf(delay, sizeof(delay), "%d", delay_ms);
    snprintf(maxc, sizeof(maxc), "%d", max_conns);
    ck_assert_int_eq(pipe(out), 0);
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(RELAY_PATH, "lurk-test-relay", "--listen", "127.0.0.1:0", "--upstream", upstream,
              "--delay-ms", delay, "--max-connections", maxc, "--control", r->ctl, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    ck_assert_int_eq(sscanf(line, "listening on 127.0.0.1:%d", &r->port), 1);
}

/* SIGTERM; the relay must exit 0 (LeakSanitizer makes a leak a non-zero status). */
static void relay_stop(struct relay_proc *r)
{
    int status = 0;

    ck_assert_int_eq(kill(r->pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(r->pid, &status, 0), r->pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "relay exit status %d", status);
    ck_assert_int_ne(access(r->ctl, F_OK), 0); /* the control socket was removed */
}

/* Runs "lurk-test-relay ARGS..." and returns its exit status, output in out. */
static int relay_run(char *out, size_t outlen, const char *const *args)
{
    const char *argv[16] = {"lurk-test-relay"};
    int pfd[2], status = 0;
    size_t n = 0, i;
    pid_t pid;

    for (i = 0; args[i] != NULL && i < 14; i++)
        argv[i + 1] = args[i];
    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execv(RELAY_PATH, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        ssize_t k = read(pfd[0], out + n, outlen - 1 - n);
        if (k <= 0 || (n += (size_t)k) == outlen - 1)
            break;
    }
    out[n] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int relay_cmd(const struct relay_proc *r, const char *cmd, char *out, size_t outlen)
{
    const char *args[] = {"--control", r->ctl, cmd, NULL};
    return relay_run(out, outlen, args);
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static int accept_one(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    struct timeval tv = {10, 0};
    int fd;

    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
        ck_assert_int_gt(n, 0);
        off += (size_t)n;
    }
}

static void recv_exact(int fd, void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = recv(fd, (char *)buf + off, len - off, 0);
        ck_assert_msg(n > 0, "recv: %zd (%s) after %zu of %zu bytes", n, strerror(errno), off, len);
        off += (size_t)n;
    }
}

/* True when fd has nothing to read for ms milliseconds. */
static bool quiet_for(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

/* Reads until the end: 0 for an orderly close, -1 for a reset; data is not expected. */
static int read_end(int fd)
{
    char b[64];
    ssize_t n = recv(fd, b, sizeof(b), 0);

    ck_assert_msg(n <= 0, "unexpected %zd bytes", n);
    if (n < 0)
        ck_assert_msg(errno == ECONNRESET || errno == EPIPE, "recv: %s", strerror(errno));
    return n == 0 ? 0 : -1;
}

START_TEST(forwards_after_the_delay)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, u, i;
    char buf[64];
    long long t0;

    relay_start(&r, port, 80, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    /* Each direction waits the delay, three times in a row. */
    for (i = 0; i < 3; i++) {
        t0 = now_ms();
        send_all(c, "ping", 4);
        recv_exact(u, buf, 4);
        ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
        ck_assert_int_ge(now_ms() - t0, 80);
        t0 = now_ms();
        send_all(u, "pong!", 5);
        recv_exact(c, buf, 5);
        ck_assert_int_eq(memcmp(buf, "pong!", 5), 0);
        ck_assert_int_ge(now_ms() - t0, 80);
    }
    /* A changed delay applies to what is read afterwards. */
    ck_assert_int_eq(relay_cmd(&r, "delay 250", buf, sizeof(buf)), 0);
    t0 = now_ms();
    send_all(c, "x", 1);
    recv_exact(u, buf, 1);
    ck_assert_int_ge(now_ms() - t0, 250);
    close(c);
    close(u);
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* 4 MiB each way at once, larger than the relay's queue bound: intact and in order. */
START_TEST(large_transfer_intact)
{
    enum { TOTAL = 4 * 1024 * 1024 };
    unsigned char *out = malloc(TOTAL), *in_u = malloc(TOTAL), *in_c = malloc(TOTAL);
    size_t sent_c = 0, sent_u = 0, got_u = 0, got_c = 0, i;
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, u;
    long long deadline = now_ms() + 60000;

    ck_assert(out != NULL && in_u != NULL && in_c != NULL);
    for (i = 0; i < TOTAL; i++)
        out[i] = (unsigned char)(i * 131 + (i >> 12));
    relay_start(&r, port, 5, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    fcntl(c, F_SETFL, O_NONBLOCK);
    fcntl(u, F_SETFL, O_NONBLOCK);
    while (got_u < TOTAL || got_c < TOTAL) {
        struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = u, .events = POLLIN}};
        ssize_t n;

        ck_assert_msg(now_ms() < deadline, "transfer stalled at %zu/%zu", got_u, got_c);
        if (sent_c < TOTAL)
            p[0].events |= POLLOUT;
        if (sent_u < TOTAL)
            p[1].events |= POLLOUT;
        ck_assert_int_ge(poll(p, 2, 1000), 0);
        if ((p[0].revents & POLLOUT) &&
            (n = send(c, out + sent_c, TOTAL - sent_c, MSG_NOSIGNAL)) > 0)
            sent_c += (size_t)n;
        if ((p[1].revents & POLLOUT) &&
            (n = send(u, out + sent_u, TOTAL - sent_u, MSG_NOSIGNAL)) > 0)
            sent_u += (size_t)n;
        if ((p[1].revents & POLLIN) && (n = recv(u, in_u + got_u, TOTAL - got_u, 0)) > 0)
            got_u += (size_t)n;
        if ((p[0].revents & POLLIN) && (n = recv(c, in_c + got_c, TOTAL - got_c, 0)) > 0)
            got_c += (size_t)n;
    }
    ck_assert_int_eq(memcmp(out, in_u, TOTAL), 0);
    ck_assert_int_eq(memcmp(out, in_c, TOTAL), 0);
    close(c);
    close(u);
    close(lfd);
    relay_stop(&r);
    free(out);
    free(in_u);
    free(in_c);
}
END_TEST

/* A half-close travels through: the other direction keeps working, then both end. */
START_TEST(half_close_passed_on)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, u;
    char buf[16];

    relay_start(&r, port, 10, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    send_all(c, "last", 4);
    ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
    recv_exact(u, buf, 4);
    ck_assert_int_eq(read_end(u), 0);
    send_all(u, "reply", 5);
    recv_exact(c, buf, 5);
    ck_assert_int_eq(memcmp(buf, "reply", 5), 0);
    close(u);
    ck_assert_int_eq(read_end(c), 0);
    close(c);
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* Stalled: connections are accepted and nothing is forwarded; resume delivers what waited. */
START_TEST(stall_and_resume)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, c2, u, u2;
    char buf[128];

    relay_start(&r, port, 0, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    ck_assert_int_eq(relay_cmd(&r, "stall", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "ok stalled\n");
    send_all(c, "held", 4);
    send_all(u, "held", 4);
    ck_assert(quiet_for(u, 300));
    ck_assert(quiet_for(c, 300));
    /* A new connection is accepted (the upstream connect goes on) but forwards nothing. */
    c2 = connect_to(r.port);
    u2 = accept_one(lfd);
    send_all(c2, "new", 3);
    ck_assert(quiet_for(u2, 300));
    ck_assert_int_eq(relay_cmd(&r, "stats", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "stalled=1"));
    ck_assert_ptr_nonnull(strstr(buf, "active=2"));
    ck_assert_int_eq(relay_cmd(&r, "resume", buf, sizeof(buf)), 0);
    recv_exact(u, buf, 4);
    ck_assert_int_eq(memcmp(buf, "held", 4), 0);
    recv_exact(c, buf, 4);
    ck_assert_int_eq(memcmp(buf, "held", 4), 0);
    recv_exact(u2, buf, 3);
    ck_assert_int_eq(memcmp(buf, "new", 3), 0);
    close(c);
    close(u);
    close(c2);
    close(u2);
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* drop resets both sides of every connection; new connections work afterwards. */
START_TEST(drop_resets_connections)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, u;
    char buf[128];

    relay_start(&r, port, 0, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    send_all(c, "a", 1);
    recv_exact(u, buf, 1);
    ck_assert_int_eq(relay_cmd(&r, "drop", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "ok dropped=1\n");
    ck_assert_int_eq(read_end(c), -1);
    ck_assert_int_eq(read_end(u), -1);
    close(c);
    close(u);
    c = connect_to(r.port);
    u = accept_one(lfd);
    send_all(c, "b", 1);
    recv_exact(u, buf, 1);
    ck_assert_int_eq(buf[0], 'b');
    close(c);
    close(u);
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* Nothing listens upstream: the client's connection is reset, and counted. */
START_TEST(upstream_down_resets_client)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c;
    char buf[256];

    close(lfd); /* the port is now closed */
    relay_start(&r, port, 0, 8);
    c = connect_to(r.port);
    ck_assert_int_eq(read_end(c), -1);
    close(c);
    ck_assert_int_eq(relay_cmd(&r, "stats", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "upstream_failed=1"));
    ck_assert_ptr_nonnull(strstr(buf, "active=0"));
    relay_stop(&r);
}
END_TEST

/* Over --max-connections, an accepted connection is reset at once; the others work. */
START_TEST(connection_limit)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c1, c2, c3, u1, u2;
    char buf[256];

    relay_start(&r, port, 0, 2);
    c1 = connect_to(r.port);
    u1 = accept_one(lfd);
    c2 = connect_to(r.port);
    u2 = accept_one(lfd);
    c3 = connect_to(r.port);
    ck_assert_int_eq(read_end(c3), -1);
    send_all(c2, "z", 1);
    recv_exact(u2, buf, 1);
    ck_assert_int_eq(relay_cmd(&r, "stats", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "accepted=2 active=2 refused=1"));
    close(c1);
    close(c2);
    close(c3);
    close(u1);
    close(u2);
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* Unknown commands and bad values get an error reply and exit status 1. */
START_TEST(control_errors)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port);
    char buf[256];

    relay_start(&r, port, 0, 8);
    ck_assert_int_eq(relay_cmd(&r, "explode", buf, sizeof(buf)), 1);
    ck_assert_ptr_nonnull(strstr(buf, "error: unknown command"));
    ck_assert_int_eq(relay_cmd(&r, "delay 99999999", buf, sizeof(buf)), 1);
    ck_assert_int_eq(relay_cmd(&r, "delay -1", buf, sizeof(buf)), 1);
    ck_assert_int_eq(relay_cmd(&r, "stats", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "delay_ms=0"));
    close(lfd);
    relay_stop(&r);
}
END_TEST

/* Malformed command lines: exit status 2 and a message naming the option. */
START_TEST(bad_arguments)
{
    static const struct {
        const char *args[8];
        const char *msg;
    } cases[] = {
        {{"--listen", "127.0.0.1:0", NULL}, "--listen and --upstream are required"},
        {{"--listen", "nonsense", "--upstream", "127.0.0.1:1", NULL}, "--listen"},
        {{"--listen", "127.0.0.1:0", "--upstream", "host.example:1", NULL}, "--upstream"},
        {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--delay-ms", "1e3", NULL},
         "--delay-ms"},
        {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--max-connections", "0", NULL},
         "--max-connections"},
        {{"--frobnicate", "1", NULL}, "unknown option --frobnicate"},
        {{"--delay-ms", NULL}, "--delay-ms needs a value"},
        {{"stats", NULL}, "a command needs --control"},
    };
    char out[1024];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(relay_run(out, sizeof(out), cases[i].args), 2);
        ck_assert_msg(strstr(out, cases[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, out,
                      cases[i].msg);
    }
}
END_TEST

/* SIGTERM with data queued in both directions: exit 0, nothing leaked. */
START_TEST(clean_exit_with_queued_data)
{
    struct relay_proc r;
    int port, lfd = upstream_listen(&port), c, u;

    relay_start(&r, port, 5000, 8);
    c = connect_to(r.port);
    u = accept_one(lfd);
    send_all(c, "queued", 6);
    send_all(u, "queued", 6);
    ck_assert(quiet_for(u, 200));
    relay_stop(&r);
    ck_assert_int_eq(read_end(u), -1);
    close(c);
    close(u);
    close(lfd);
}
END_TEST

static Suite *relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("relay");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, forwards_after_the_delay);
    tcase_add_test(tc, large_transfer_intact);
    tcase_add_test(tc, half_close_passed_on);
    tcase_add_test(tc, stall_and_resume);
    tcase_add_test(tc, drop_resets_connections);
    tcase_add_test(tc, upstream_down_resets_client);
    tcase_add_test(tc, connection_limit);
    tcase_add_test(tc, control_errors);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, clean_exit_with_queued_data);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return lurk_test_run(relay_suite(), CK_FORK_GETENV);
}
