/*
 * lurkd's readiness notifications (sd_notify, docs/deploy.md §3) with a real
 * lurkd and a NOTIFY_SOCKET this test owns, as systemd would for a
 * Type=notify unit: READY=1 once listening; RELOADING=1 with MONOTONIC_USEC
 * then READY=1 on SIGHUP, good or bad configuration alike; STOPPING=1 on
 * SIGTERM; every message sent by lurkd's main process (NotifyAccess=main).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "daemon_client.h"

static struct lurkd_proc lurkd;
static int notify_fd = -1;
static pid_t lurkd_pid; /* kept: lurk_test_lurkd_signal clears lurkd.pid once it exited */

static void teardown(void)
{
    dc_stop(&lurkd);
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}

/* A datagram socket at dir/notify.sock that receives the sender's credentials. */
static void notify_socket(const char *dir)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int one = 1;

    ck_assert((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify.sock", dir) <
              sizeof(sun.sun_path));
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert(notify_fd >= 0);
    ck_assert(setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0);
    ck_assert_msg(bind(notify_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind: %s",
                  strerror(errno));
    ck_assert(setenv("NOTIFY_SOCKET", sun.sun_path, 1) == 0);
}

/* The next notification (NUL-terminated in buf), checked to come from lurkd's pid. */
static void next(char *buf, size_t len, int timeout_ms)
{
    struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct ucred cred = {0};
    ssize_t n;

    ck_assert_msg(poll(&pfd, 1, timeout_ms) == 1, "no notification within %d ms", timeout_ms);
    n = recvmsg(notify_fd, &msg, 0);
    ck_assert(n >= 0);
    buf[n] = '\0';
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
    ck_assert_msg(cred.pid == lurkd_pid, "\"%s\" sent by pid %d, lurkd is %d", buf, (int)cred.pid,
                  (int)lurkd_pid);
}

/* No further notification for a while. */
static void nothing_more(int ms)
{
    struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
    char buf[256];

    if (poll(&pfd, 1, ms) == 1) {
        ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        ck_abort_msg("unexpected notification \"%s\"", buf);
    }
}

static unsigned long long monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

static void key_config(char *extra, size_t len, const char *more)
{
    snprintf(extra, len, "[key.p256]\nsource = %s\nclients = *\n%s",
             lurk_test_pki("server-p256.key"), more);
}

START_TEST(ready_reloading_ready_stopping)
{
    char extra[1024], buf[512];
    unsigned long long before, after, stamp;
    const char *at;

    ck_assert(lurk_test_lurkd_init(&lurkd));
    notify_socket(lurkd.dir);
    key_config(extra, sizeof(extra), "");
    dc_start(&lurkd, NULL, extra, NULL, NULL, 0);
    unsetenv("NOTIFY_SOCKET");
    lurkd_pid = lurkd.pid;

    /* Started: listening with its keys. */
    next(buf, sizeof(buf), 10000);
    ck_assert_msg(strncmp(buf, "READY=1\n", 8) == 0, "%s", buf);
    ck_assert_msg(strstr(buf, "STATUS=serving 1 keys on 3 listeners") != NULL, "%s", buf);
    nothing_more(200);

    /* A good reload. */
    before = monotonic_usec();
    ck_assert(kill(lurkd.pid, SIGHUP) == 0);
    next(buf, sizeof(buf), 10000);
    after = monotonic_usec();
    ck_assert_msg(strncmp(buf, "RELOADING=1\n", 12) == 0, "%s", buf);
    at = strstr(buf, "MONOTONIC_USEC=");
    ck_assert_msg(at != NULL, "%s", buf);
    stamp = strtoull(at + strlen("MONOTONIC_USEC="), NULL, 10);
    ck_assert_msg(stamp >= before && stamp <= after, "MONOTONIC_USEC %llu not in [%llu, %llu]",
                  stamp, before, after);
    next(buf, sizeof(buf), 10000);
    ck_assert_msg(strncmp(buf, "READY=1\n", 8) == 0, "%s", buf);
    ck_assert_msg(strstr(buf, "reload failed") == NULL, "%s", buf);
    ck_assert(dc_wait_count(lurkd.log, "configuration reloaded", 1, 5000));

    /* A bad reload: lurkd keeps serving, so it is ready again all the same. */
    key_config(extra, sizeof(extra), "[metrics]\naddress = nowhere\n");
    ck_assert(dc_write_config(&lurkd, NULL, extra));
    ck_assert(kill(lurkd.pid, SIGHUP) == 0);
    next(buf, sizeof(buf), 10000);
    ck_assert_msg(strncmp(buf, "RELOADING=1\n", 12) == 0, "%s", buf);
    next(buf, sizeof(buf), 10000);
    ck_assert_msg(strncmp(buf, "READY=1\n", 8) == 0, "%s", buf);
    ck_assert_msg(strstr(buf, "STATUS=serving 1 keys on 3 listeners; the last reload failed") !=
                      NULL,
                  "%s", buf);
    ck_assert(dc_wait_count(lurkd.log, "reload failed", 1, 5000));
    nothing_more(200);

    /* SIGTERM: STOPPING=1 before the drain, then exit 0. */
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGTERM), 0);
    next(buf, sizeof(buf), 1000);
    ck_assert_msg(strcmp(buf, "STOPPING=1") == 0, "%s", buf);
}
END_TEST

/* Without NOTIFY_SOCKET (not under systemd) nothing is sent and nothing is logged about it. */
START_TEST(no_notify_socket_is_quiet)
{
    char extra[1024];

    unsetenv("NOTIFY_SOCKET");
    ck_assert(lurk_test_lurkd_init(&lurkd));
    key_config(extra, sizeof(extra), "");
    dc_start(&lurkd, NULL, extra, NULL, NULL, 0);
    ck_assert(kill(lurkd.pid, SIGHUP) == 0);
    ck_assert(dc_wait_count(lurkd.log, "configuration reloaded", 1, 5000));
    ck_assert_int_eq(dc_count(lurkd.log, "sd_notify"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_notify");
    TCase *tc = tcase_create("notify");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ready_reloading_ready_stopping);
    tcase_add_test(tc, no_notify_socket_is_quiet);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
