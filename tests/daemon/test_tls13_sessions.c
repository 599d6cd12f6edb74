/*
 * The tls13 session table under load, against a real lurkd with a small
 * table ([tls13] max_sessions = 64, max_sessions_per_client = 20,
 * session_lifetime = 1s): a client at its limit is answered
 * temporary_failure (designation lurk, like full queues) while other
 * clients go on; a full table refuses everyone; abandoned sessions expire
 * and their ids stop working; a flood of opening requests leaves the
 * daemon's memory flat. And every bad value of [tls13] and [psk.NAME] is
 * refused with the file and line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "lurk/lurk.h"
#include "tls13_test.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];
static struct t13_share client, server;
static struct t13_buf hello; /* ClientHello, ServerHello */

#define PER_CLIENT 20
#define TABLE      64

static void setup(void)
{
    char extra[512];

    snprintf(extra, sizeof(extra),
             "[tls13]\nnull_freshness = yes\nmax_sessions = %d\nmax_sessions_per_client = %d\n"
             "session_lifetime = 1s\n",
             TABLE, PER_CLIENT);
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
    t13_share_new(&client, 29);
    t13_share_new(&server, 29);
    struct t13_ch_opts o = {.group = 29, .share = client.pub, .share_len = 32, .psk_modes = true};
    memset(&hello, 0, sizeof(hello));
    t13_build_ch(&hello, &o);
    t13_build_sh(&hello, NULL, 0x1301, 29, server.pub, 32, false, 0);
}

static void teardown(void)
{
    dc_stop(&lurkd);
    t13_share_free(&client);
    t13_share_free(&server);
    t13_buf_free(&hello);
}

/* One init_handshake_secret; its status (and the session, on success). */
static uint8_t open_session(struct lurk_conn *c, struct t13_session *s, uint8_t *designation,
                            uint64_t *id)
{
    struct lurk_tls13_request r;
    struct t13_resp resp;
    uint8_t st;

    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S);
    t13_req_ctx(&r);
    t13_req_context(&r, &hello);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, client.priv, 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    st = t13_call(c, &r, &resp);
    if (designation != NULL)
        *designation = resp.designation;
    if (id != NULL)
        *id = resp.raw.msg.hdr.id;
    if (st == LURK_STATUS_SUCCESS && s != NULL)
        t13_open(s, &r, &resp);
    t13_resp_free(&resp);
    return st;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(per_client_limit_then_expiry)
{
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 1);
    struct lurk_conn *other = dc_connect(tls_addr, 1);
    struct t13_session first;
    uint8_t designation;
    uint64_t id;

    ck_assert_uint_eq(open_session(local, &first, NULL, NULL), LURK_STATUS_SUCCESS);
    for (int i = 1; i < PER_CLIENT; i++)
        ck_assert_uint_eq(open_session(local, NULL, NULL, NULL), LURK_STATUS_SUCCESS);
    /* The 21st: temporary_failure, designation lurk, and the audit line says why. */
    ck_assert_uint_eq(open_session(local, NULL, &designation, &id), LURK_STATUS_TEMPORARY_FAILURE);
    ck_assert_uint_eq(designation, LURK_DESIGNATION_LURK);
    dc_assert_audited(&lurkd, id, "temporary_failure", "per-client session limit reached");
    /* Another client is not affected. */
    ck_assert_uint_eq(open_session(other, NULL, NULL, NULL), LURK_STATUS_SUCCESS);
    /* After session_lifetime the abandoned sessions are gone: new ones open, old ids fail. */
    sleep_ms(1300);
    ck_assert_uint_eq(open_session(local, NULL, NULL, NULL), LURK_STATUS_SUCCESS);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, LURK_TLS13_KR_A_C);
    t13_req_session(&r, &first);
    ck_assert_uint_eq(t13_call(local, &r, &resp), LURK_TLS13_STATUS_INVALID_REQUEST);
    dc_assert_audited(&lurkd, resp.raw.msg.hdr.id, "invalid_request", "unknown session");
    t13_resp_free(&resp);
    lurk_conn_close(local);
    lurk_conn_close(other);
}
END_TEST

START_TEST(table_full)
{
    struct lurk_conn *conns[4] = {dc_connect(lurkd.unix_addr, 1), dc_connect(tls_addr, 1),
                                  dc_connect(tls_addr, 2), dc_connect(tcp_addr, 1)};
    uint8_t designation;
    uint64_t id;
    int opened = 0;

    /* Three clients at their limit (60), the fourth up to the table's size (64). */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < PER_CLIENT; i++, opened++)
            ck_assert_uint_eq(open_session(conns[k], NULL, NULL, NULL), LURK_STATUS_SUCCESS);
    for (; opened < TABLE; opened++)
        ck_assert_uint_eq(open_session(conns[3], NULL, NULL, NULL), LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(open_session(conns[3], NULL, &designation, &id),
                      LURK_STATUS_TEMPORARY_FAILURE);
    ck_assert_uint_eq(designation, LURK_DESIGNATION_LURK);
    dc_assert_audited(&lurkd, id, "temporary_failure", "session table full");
    for (int k = 0; k < 4; k++)
        lurk_conn_close(conns[k]);
}
END_TEST

/* VmRSS of the daemon, in KiB. */
static long rss_kib(pid_t pid)
{
    char path[64], *text, *p;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    text = lurk_test_read_file(path, NULL);
    if (text != NULL && (p = strstr(text, "VmRSS:")) != NULL)
        kib = strtol(p + 6, NULL, 10);
    free(text);
    return kib;
}

/*
 * A flood of opening requests that are never continued: lurkd holds at
 * most the per-client share, refuses the rest, forgets the abandoned ones
 * after session_lifetime, and its memory does not grow with the flood.
 */
START_TEST(flood_of_abandoned_sessions)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    int refused = 0;
    long before, after;

    /* Warm-up: fill, expire, fill again, so allocator pools exist before measuring. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < PER_CLIENT; i++)
            ck_assert_uint_eq(open_session(c, NULL, NULL, NULL), LURK_STATUS_SUCCESS);
        sleep_ms(1200);
    }
    before = rss_kib(lurkd.pid);
    ck_assert_int_gt(before, 0);
    for (int round = 0; round < 3; round++) {
        int ok = 0;
        for (int i = 0; i < 1000; i++) {
            uint8_t st = open_session(c, NULL, NULL, NULL);
            ck_assert(st == LURK_STATUS_SUCCESS || st == LURK_STATUS_TEMPORARY_FAILURE);
            ok += st == LURK_STATUS_SUCCESS;
            refused += st == LURK_STATUS_TEMPORARY_FAILURE;
        }
        /* Never more than the per-client share at once. */
        ck_assert_int_le(ok, PER_CLIENT);
        sleep_ms(1200);
    }
    ck_assert_int_ge(refused, 3000 - 3 * PER_CLIENT);
    after = rss_kib(lurkd.pid);
    printf("flood: %d of 3000 opening requests refused; lurkd RSS %ld KiB before, %ld after\n",
           refused, before, after);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine: RSS says nothing there. */
    (void)after;
#else
    ck_assert_msg(after - before < 2048, "lurkd grew from %ld to %ld KiB under the flood", before,
                  after);
#endif
    lurk_conn_close(c);
}
END_TEST

/* ---- [tls13] and [psk.NAME] errors name file and line ---- */

static struct lurkd_proc conf_proc;

#define MARK " #<" /* the line the error must name; removed before writing */
#define BASE                                                                                       \
    "[lurkd]\nworkers = 1\n[listener.local]\naddress = unix:@DIR@/lurkd.sock\n"                    \
    "[client.local]\nidentity = uid:0\n"
#define PSK                                                                                        \
    "[psk.a]\nidentity = alpha\nsecret = 00112233445566778899aabbccddeeff\nclients = local\n"

static const struct {
    const char *text; /* one line ends with MARK */
    const char *reason;
} bad[] = {
    {BASE "[tls13]\nmax_ticketz = 2" MARK "\n", "unknown setting \"max_ticketz\" in [tls13]"},
    {BASE "[tls13]\nmax_tickets = 17" MARK "\n", "max_tickets must be 0..16"},
    {BASE "[tls13]\nsession_lifetime = 5x" MARK "\n", "session_lifetime must be 1s..24h"},
    {BASE "[tls13]\nclient_early_traffic = maybe" MARK "\n",
     "client_early_traffic must be yes or no"},
    {BASE "[tls13]\nmax_sessions = 10\nmax_sessions_per_client = 100" MARK "\n",
     "max_sessions_per_client (100) is larger than max_sessions (10)"},
    {BASE "[tls13]\nticket_lifetime = 0" MARK "\n", "ticket_lifetime must be 1s..168h"},
    {BASE "[psk.a]" MARK "\nsecret = 00112233\nclients = local\n", "psk \"a\" has no identity"},
    {BASE "[psk.a]" MARK "\nidentity = alpha\nclients = local\n", "psk \"a\" has no secret"},
    {BASE "[psk.a]" MARK "\nidentity = alpha\nsecret = 0011\n", "psk \"a\" lists no clients"},
    {BASE "[psk.a]\nidentity = alpha\nsecret = 00zz" MARK "\nclients = local\n",
     "secret must be 1..64 bytes of hex"},
    {BASE "[psk.a]\nidentity = alpha\nsecret = 0011\nhash = MD5" MARK "\nclients = local\n",
     "hash must be SHA256 or SHA384"},
    {BASE "[psk.a]\nidentity = alpha\nsecret = 0011\nkind = other" MARK "\nclients = local\n",
     "kind must be external or resumption"},
    {BASE "[psk.a]\nidentity = alpha\nsecret = 0011\nclients = nobody" MARK "\n",
     "unknown client \"nobody\""},
    {BASE "[psk.a]\nidentity = alpha\nsecret_file = missing.hex" MARK "\nclients = local\n",
     "cannot open secret_file"},
    {BASE "[psk.a]\nidentity_hex = 0g" MARK "\nsecret = 0011\nclients = local\n",
     "identity_hex must be hex"},
    {BASE PSK "[psk.b]" MARK "\nidentity = alpha\nsecret = 0011\nclients = local\n",
     "has the same identity as psk \"a\""},
    {BASE "[psk.a]\nidentity = alpha\nsecret = 0011\nearly_data = sometimes" MARK
          "\nclients = local\n",
     "early_data must be yes or no"},
};

static void conf_setup(void)
{
    ck_assert(lurk_test_lurkd_init(&conf_proc));
}

static void conf_teardown(void)
{
    lurk_test_lurkd_cleanup(&conf_proc);
}

/* Writes text with @DIR@ expanded and MARK removed; the marked line's number. */
static int write_marked(const char *text)
{
    char buf[4096], *w = buf;
    int line = 1, marked = 0;

    for (const char *p = text; *p != '\0';) {
        if (strncmp(p, "@DIR@", 5) == 0) {
            w += snprintf(w, sizeof(buf) - (size_t)(w - buf), "%s", conf_proc.dir);
            p += 5;
        } else if (strncmp(p, MARK, strlen(MARK)) == 0) {
            marked = line;
            p += strlen(MARK);
        } else {
            line += *p == '\n';
            *w++ = *p++;
        }
    }
    *w = '\0';
    ck_assert(lurk_test_write_file(&conf_proc, "lurkd.conf", buf));
    return marked;
}

START_TEST(config_errors_name_file_and_line)
{
    const char *const check[] = {"--check", "-c", conf_proc.conf, NULL};
    char out[4096], prefix[600];
    int line = write_marked(bad[_i].text);

    ck_assert_int_gt(line, 0);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_proc.conf, line);
    int st = dc_run(&conf_proc, check, out, sizeof(out), 10000);
    ck_assert_msg(st == DC_EXIT_CONFIG, "case %d: exit status %d:\n%s", _i, st, out);
    ck_assert_msg(strstr(out, prefix) != NULL, "case %d: no \"%s\" in:\n%s", _i, prefix, out);
    ck_assert_msg(strstr(out, bad[_i].reason) != NULL, "case %d: no \"%s\" in:\n%s", _i,
                  bad[_i].reason, out);
}
END_TEST

/* Every setting of both sections, with a secret_file, passes. */
START_TEST(config_good_sections)
{
    const char *const check[] = {"--check", "-c", conf_proc.conf, NULL};
    char out[4096];

    ck_assert(
        lurk_test_write_file(&conf_proc, "psk.hex", "00112233 44556677\n8899aabb ccddeeff\n"));
    write_marked(BASE
                 "[tls13]\nsession_resumption = yes\npost_handshake_auth = no\n"
                 "client_early_traffic = no\nearly_exporter = no\nexporter = yes\n"
                 "resumption_delegation = no\nmax_tickets = 0\nticket_lifetime = 2h\n"
                 "max_early_data = 16k\nnull_freshness = no\nmax_sessions = 100\n"
                 "session_lifetime = 30s\nmax_sessions_per_client = 10\npsk_db_size = 1000\n"
                 "[psk.a]\nidentity_hex = 0102\nsecret_file = psk.hex\nhash = SHA384\n"
                 "kind = resumption\nnull_freshness = yes\nearly_data = no\nclients = *\n" MARK);
    int st = dc_run(&conf_proc, check, out, sizeof(out), 10000);
    ck_assert_msg(st == 0, "exit status %d:\n%s", st, out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls13_sessions");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, per_client_limit_then_expiry);
    tcase_add_test(tc, table_full);
    tcase_add_test(tc, flood_of_abandoned_sessions);
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("config");
    tcase_add_checked_fixture(tc2, conf_setup, conf_teardown);
    tcase_set_timeout(tc2, 60);
    tcase_add_loop_test(tc2, config_errors_name_file_and_line, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc2, config_good_sections);
    suite_add_tcase(s, tc2);
    return lurk_test_run(s, CK_FORK_GETENV);
}
