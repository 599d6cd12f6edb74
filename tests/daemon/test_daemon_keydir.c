/*
 * [keys] directory (docs/deploy.md §5) with a real lurkd: every NAME.key
 * with its NAME.crt is a key under the [keys] policy, a [key.NAME] section
 * overrides it, SIGHUP picks up new files, and a key without certificate,
 * a certificate without key, a pair that does not match, the same key twice
 * or a readable key file are errors naming the file, at start and on
 * reload (which keeps serving the keys it had).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"

static struct lurkd_proc lurkd;
static char keydir[400];

#define KEYS "[keys]\ndirectory = keys\nclients = local, client1\nexchanges = ecdhe\n"

static void setup(void)
{
    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(keydir, sizeof(keydir), "%s/keys", lurkd.dir);
    ck_assert_int_eq(mkdir(keydir, 0700), 0);
}

static void teardown(void)
{
    char cmd[600];

    dc_stop(&lurkd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Copies the test PKI's server-KIND.key (mode 0600) and .crt as keys/NAME.key and NAME.crt. */
static void put(const char *name, const char *kind, const char *which)
{
    for (int i = 0; i < 2; i++) {
        const char *ext = i == 0 ? "key" : "crt";
        char src[200], dst[600];
        if (which != NULL && strcmp(which, ext) != 0)
            continue;
        snprintf(src, sizeof(src), "server-%s.%s", kind, ext);
        snprintf(dst, sizeof(dst), "%s/%s.%s", keydir, name, ext);
        char *text = lurk_test_read_file(lurk_test_pki(src), NULL);
        ck_assert_ptr_nonnull(text);
        FILE *f = fopen(dst, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(dst, i == 0 ? 0600 : 0644), 0);
        free(text);
    }
}

static void drop(const char *name, const char *ext)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s.%s", keydir, name, ext);
    ck_assert_int_eq(unlink(path), 0);
}

/* lurkd_keys from lurk stats, read as the local operator. */
static long keys_loaded(void)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    struct lurk_response resp;
    lurk_cbs text;
    long n = -1;

    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp), 1);
    ck_assert_uint_eq(lurk_stats_response_decode(&resp.msg.payload, &text), 1);
    char *copy = strndup((const char *)lurk_cbs_data(&text), lurk_cbs_len(&text));
    const char *at = strstr(copy, "\nlurkd_keys ");
    if (at != NULL)
        n = atol(at + strlen("\nlurkd_keys "));
    free(copy);
    lurk_response_free(&resp);
    lurk_conn_close(c);
    return n;
}

static int reloads;

/* SIGHUP; waits for the reload's outcome line; asserts it holds want. */
static void reload_expect(const char *want)
{
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    reloads++;
    ck_assert(dc_wait_count(lurkd.log, "reload", reloads * 2, 10000));
    ck_assert_msg(dc_wait_count(lurkd.log, want, 1, 10000), "no \"%s\" in the log", want);
}

START_TEST(directory_keys_load_override_and_reload)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char out[4096];

    put("web", "p256", NULL);
    put("api", "p384", NULL);
    ck_assert(dc_write_config(&lurkd, NULL, KEYS "[key.api]\nexchanges = all\n"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), 0);
    /* the [keys] policy for web, the [key.api] override for api */
    ck_assert_msg(strstr(out, "key web: id ") && strstr(out, "exchanges ecdhe, "), "%s", out);
    ck_assert_msg(strstr(out, "exchanges ecdhe,sign_certificate_verify,tls13, "), "%s", out);
    ck_assert_msg(lurk_test_lurkd_start(&lurkd, NULL), "lurkd did not start");
    ck_assert_int_eq(keys_loaded(), 2);

    /* A new pair: picked up by SIGHUP. */
    put("mail", "ed25519", NULL);
    reload_expect("configuration reloaded: 3 keys");
    ck_assert_int_eq(keys_loaded(), 3);

    /* Each broken state: named, and the 3 keys keep serving. */
    put("lone", "rsa2048", "key");
    reload_expect("/keys/lone.key has no certificate");
    drop("lone", "key");
    put("lone", "rsa2048", "crt");
    reload_expect("/keys/lone.crt has no key");
    put("lone", "p521", "key");
    reload_expect("lone.crt does not match the key");
    drop("lone", "crt");
    drop("lone", "key");
    put("twin", "p256", NULL);
    reload_expect("has the same key id ");
    drop("twin", "key");
    drop("twin", "crt");
    put("open", "p521", NULL);
    char path[600];
    snprintf(path, sizeof(path), "%s/open.key", keydir);
    ck_assert_int_eq(chmod(path, 0644), 0);
    reload_expect("open.key may be read or written by its group or others");
    ck_assert_int_eq(dc_count(lurkd.log, "reload failed, still serving the previous configuration"),
                     5);
    ck_assert_int_eq(keys_loaded(), 3);
    ck_assert_int_eq(chmod(path, 0600), 0);
    reload_expect("configuration reloaded: 4 keys");
    ck_assert_int_eq(keys_loaded(), 4);
}
END_TEST

/* At start: the same errors stop lurkd --check, naming the file. */
START_TEST(directory_errors_at_start)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char out[4096];

    ck_assert(dc_write_config(&lurkd, NULL, "[keys]\ndirectory = missing\nclients = local\n"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "/missing: No such file or directory"), "%s", out);
    ck_assert(dc_write_config(&lurkd, NULL, "[keys]\ndirectory = keys\n"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "[keys] lists no clients"), "%s", out);
    ck_assert(dc_write_config(&lurkd, NULL, KEYS "source = x.key\n"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "source does not apply to [keys]"), "%s", out);
    put("web", "p256", NULL);
    ck_assert(
        dc_write_config(&lurkd, NULL, KEYS "[key.web]\nsource = keys/web.key\nclients = local\n"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "key \"web\" is also"), "%s", out);
    put("bad name", "p384", NULL);
    ck_assert(dc_write_config(&lurkd, NULL, KEYS));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "keys/bad name.crt: a key file is NAME.key") ||
                      strstr(out, "keys/bad name.key: a key file is NAME.key"),
                  "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_keydir");
    TCase *tc = tcase_create("keydir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, directory_keys_load_override_and_reload);
    tcase_add_test(tc, directory_errors_at_start);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
