/*
 * prov_log.c as a unit (docs/provider.md §5 "Log"): lines go to the
 * lurk-log file whole, prefixed with the pid; a burst of 50 lines passes
 * 20 (plus what the clock refilled meanwhile) and the next line after a
 * pause says how many were dropped, so that every line is accounted for.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "provider.h"

static int count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static char *read_all(FILE *f)
{
    long len;
    char *buf;

    fflush(f);
    len = lseek(fileno(f), 0, SEEK_END);
    ck_assert_int_ge(len, 0);
    buf = calloc(1, (size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fileno(f), buf, (size_t)len, 0), len);
    return buf;
}

START_TEST(burst_is_limited_and_drops_are_counted)
{
    LURK_PROV_CTX pc;
    FILE *f = tmpfile();
    struct timespec pause = {.tv_sec = 1, .tv_nsec = 200000000};
    char *text, prefix[64], *at;
    int lines, dropped;

    ck_assert_ptr_nonnull(f);
    memset(&pc, 0, sizeof(pc));
    pc.cfg.log_sink = LURK_PROV_LOG_FILE;
    pc.cfg.log_fd = fileno(f);
    pc.log = lurk_prov_log_new();
    ck_assert_ptr_nonnull(pc.log);

    for (int i = 0; i < 50; i++)
        lurk_prov_log(&pc, LOG_WARNING, "server unix:/x%d.sock down: test", i);
    text = read_all(f);
    lines = count(text, "\n");
    snprintf(prefix, sizeof(prefix), "lurk[%ld]: server unix:/x", (long)getpid());
    ck_assert_int_eq(count(text, prefix), lines);
    ck_assert_msg(lines >= 20 && lines < 50, "%d of 50 lines passed", lines);
    free(text);

    nanosleep(&pause, NULL);
    lurk_prov_log(&pc, LOG_NOTICE, "server unix:/y.sock up: test");
    text = read_all(f);
    ck_assert_int_eq(count(text, "\n"), lines + 1);
    at = strstr(text, "server unix:/y.sock up: test (");
    ck_assert_msg(at != NULL, "no count of dropped lines: %s", text);
    dropped = atoi(at + strlen("server unix:/y.sock up: test ("));
    ck_assert_int_eq(lines + dropped, 50);
    ck_assert(strstr(at, "earlier lines dropped by the rate limit)\n") != NULL);
    free(text);
    lurk_prov_log_free(pc.log);
    fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_log");
    TCase *tc = tcase_create("log");

    tcase_add_test(tc, burst_is_limited_and_drops_are_counted);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
