/*
 * liblurk/poll_window.c: how the polling window that lurkd's I/O loops and
 * the client share adapts (a pure function): it grows when the waiter was
 * woken within the cap, stays within the cap, shrinks to 0 when events
 * come late or not at all, and a cap of 0 never polls.
 */
#include <check.h>
#include <stdint.h>

#include "lurk/poll_window.h"

#include "check_run.h"

#define US 1000u

START_TEST(window_grows_when_woken_within_the_cap)
{
    uint32_t cap = 100 * US, w = 0;

    /* Off, then woken 10 µs into the wait: polling starts. */
    w = lurk_poll_adapt(w, cap, 10 * US, LURK_POLL_WOKEN);
    ck_assert_uint_gt(w, 0);
    ck_assert_uint_le(w, cap);
    /* Each wake-up within the cap doubles it, up to the cap. */
    uint32_t before = w;
    w = lurk_poll_adapt(w, cap, 90 * US, LURK_POLL_WOKEN);
    ck_assert_uint_eq(w, before * 2 > cap ? cap : before * 2);
    for (int i = 0; i < 10; i++)
        w = lurk_poll_adapt(w, cap, 90 * US, LURK_POLL_WOKEN);
    ck_assert_uint_eq(w, cap);
    /* A poll that caught its event leaves it as it is. */
    ck_assert_uint_eq(lurk_poll_adapt(w, cap, 5 * US, LURK_POLL_POLLED), cap);
}
END_TEST

START_TEST(window_is_capped)
{
    /* Never above a cap lowered since (SIGHUP, another setting). */
    ck_assert_uint_eq(lurk_poll_adapt(100 * US, 20 * US, 5 * US, LURK_POLL_POLLED), 20 * US);
    ck_assert_uint_le(lurk_poll_adapt(100 * US, 20 * US, 5 * US, LURK_POLL_WOKEN), 20 * US);
    /* A cap below the first window: the first window is the cap. */
    ck_assert_uint_eq(lurk_poll_adapt(0, 3 * US, 1 * US, LURK_POLL_WOKEN), 3 * US);
    /* The largest cap does not overflow when doubling. */
    ck_assert_uint_eq(lurk_poll_adapt(UINT32_MAX, UINT32_MAX, 1, LURK_POLL_WOKEN), UINT32_MAX);
}
END_TEST

START_TEST(window_shrinks_when_answers_come_late)
{
    uint32_t cap = 1000 * US, w = cap;

    /* Woken after the cap: polling could not have helped. */
    w = lurk_poll_adapt(w, cap, 2000 * US, LURK_POLL_WOKEN);
    ck_assert_uint_eq(w, cap / 2);
    /* Timeouts (and polls that lost the CPU) halve it, then switch it off. */
    for (int i = 0; i < 20 && w > 0; i++) {
        uint32_t next = lurk_poll_adapt(w, cap, 1, LURK_POLL_EMPTY);
        ck_assert_uint_lt(next, w);
        w = next;
    }
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(lurk_poll_adapt(0, cap, 5000 * US, LURK_POLL_EMPTY), 0);
    /* Off and still late: it stays off. */
    ck_assert_uint_eq(lurk_poll_adapt(0, cap, 5000 * US, LURK_POLL_WOKEN), 0);
}
END_TEST

START_TEST(zero_cap_never_polls)
{
    ck_assert_uint_eq(lurk_poll_adapt(0, 0, 1, LURK_POLL_WOKEN), 0);
    ck_assert_uint_eq(lurk_poll_adapt(50 * US, 0, 1, LURK_POLL_WOKEN), 0);
    ck_assert_uint_eq(lurk_poll_adapt(50 * US, 0, 1, LURK_POLL_POLLED), 0);
    ck_assert_uint_eq(lurk_poll_adapt(50 * US, 0, 1, LURK_POLL_EMPTY), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("poll_window");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, window_grows_when_woken_within_the_cap);
    tcase_add_test(tc, window_is_capped);
    tcase_add_test(tc, window_shrinks_when_answers_come_late);
    tcase_add_test(tc, zero_cap_never_polls);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
