/*
 * lurkd/net/idle_poll.c alone (how the window adapts is test_poll_window):
 * waits on a real epoll set with an eventfd: events are
 * returned whether they were there before, come while polling or after
 * the loop blocked; a timeout returns 0; a loop that sees nothing stops
 * polling; the stop flag and a zero cap never poll. No timing assertions
 * (docs/architecture.md §7).
 */
#include <check.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/idle_poll.h"

#include "check_run.h"

#define US 1000u

static int epfd, evfd;

static void setup(void)
{
    struct epoll_event ev = {.events = EPOLLIN};

    epfd = epoll_create1(EPOLL_CLOEXEC);
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ck_assert(epfd >= 0 && evfd >= 0);
    ev.data.fd = evfd;
    ck_assert_int_eq(epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev), 0);
    lurkd_idle_poll_set_cap(1000);
}

static void teardown(void)
{
    close(epfd);
    close(evfd);
    lurkd_idle_poll_set_cap(0);
}

static void signal_event(void)
{
    uint64_t one = 1;

    ck_assert_int_eq(write(evfd, &one, sizeof(one)), sizeof(one));
}

static void drain_event(void)
{
    uint64_t v;

    ck_assert_int_eq(read(evfd, &v, sizeof(v)), sizeof(v));
}

static void *signal_later(void *arg)
{
    struct timespec ts = {0, (long)(intptr_t)arg};

    nanosleep(&ts, NULL);
    signal_event();
    return NULL;
}

static int wait_once(int timeout_ms)
{
    static atomic_bool stop;
    struct epoll_event events[4];

    return lurkd_idle_poll_wait(epfd, events, 4, timeout_ms, &stop);
}

/* Events pending, arriving while the loop polls, or after it blocked: all returned. */
START_TEST(events_are_returned)
{
    pthread_t t;

    signal_event();
    ck_assert_int_eq(wait_once(1000), 1);
    drain_event();
    /* 0, 50 µs, 2 ms and 50 ms after the call: inside and past any window. */
    const long delays_ns[] = {0, 50000, 2000000, 50000000};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof(delays_ns) / sizeof(delays_ns[0]); i++) {
            ck_assert_int_eq(pthread_create(&t, NULL, signal_later, (void *)(intptr_t)delays_ns[i]),
                             0);
            ck_assert_int_eq(wait_once(10000), 1);
            pthread_join(t, NULL);
            drain_event();
        }
}
END_TEST

/* Nothing comes: each wait times out with 0, and the loop stops polling. */
START_TEST(timeouts_return_zero_and_switch_polling_off)
{
    pthread_t t;

    /* Make the window grow first: events 20 µs after each call. */
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(pthread_create(&t, NULL, signal_later, (void *)(intptr_t)20000), 0);
        ck_assert_int_eq(wait_once(10000), 1);
        pthread_join(t, NULL);
        drain_event();
    }
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(wait_once(1), 0);
    ck_assert_uint_eq(lurkd_idle_poll_window_ns(), 0);
    /* A zero timeout is a plain poll. */
    ck_assert_int_eq(wait_once(0), 0);
    signal_event();
    ck_assert_int_eq(wait_once(0), 1);
    drain_event();
}
END_TEST

/* idle_poll_us = 0 (or a stop request): plain epoll_wait, the window stays off. */
START_TEST(zero_cap_and_stop_never_poll)
{
    static atomic_bool stop = true;
    struct epoll_event events[4];
    pthread_t t;

    lurkd_idle_poll_set_cap(0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t, NULL, signal_later, (void *)(intptr_t)20000), 0);
        ck_assert_int_eq(wait_once(10000), 1);
        pthread_join(t, NULL);
        drain_event();
    }
    ck_assert_uint_eq(lurkd_idle_poll_window_ns(), 0);
    lurkd_idle_poll_set_cap(1000);
    ck_assert_int_eq(lurkd_idle_poll_wait(epfd, events, 4, 2, &stop), 0);
    signal_event();
    ck_assert_int_eq(lurkd_idle_poll_wait(epfd, events, 4, 1000, &stop), 1);
    drain_event();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lurkd_idle_poll");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, events_are_returned);
    tcase_add_test(tc, timeouts_return_zero_and_switch_polling_off);
    tcase_add_test(tc, zero_cap_and_stop_never_poll);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
