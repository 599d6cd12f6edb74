/*
 * lurkd's signals with real processes: SIGHUP reloads configuration and
 * keys without dropping connections (and keeps the old ones when the new
 * file is broken, saying why with file:line), SIGTERM answers every
 * request sent before it and exits 0, SIGUSR1 reopens the logs.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

enum { K_P256, K_P384, K_RSA, N_KEYS };
static const char *const key_files[N_KEYS] = {"server-p256.key", "server-p384.key",
                                              "server-rsa2048.key"};
static const uint16_t key_schemes[N_KEYS] = {0x0403, 0x0503, 0x0804};
static const char *const key_mds[N_KEYS] = {"SHA256", "SHA384", "SHA256"};
static EVP_PKEY *pkeys[N_KEYS];
static uint8_t key_ids[N_KEYS][4];

static void setup(void)
{
    for (int k = 0; k < N_KEYS; k++) {
        pkeys[k] = dc_load_key(lurk_test_pki(key_files[k]));
        dc_key_id(pkeys[k], key_ids[k]);
    }
}

static void teardown(void)
{
    dc_stop(&lurkd);
    for (int k = 0; k < N_KEYS; k++) {
        EVP_PKEY_free(pkeys[k]);
        pkeys[k] = NULL;
    }
}

/* A [key.NAME] section for key k usable by clients. */
static void key_section(char *out, size_t len, int k, const char *clients)
{
    static const char *const names[N_KEYS] = {"p256", "p384", "rsa"};
    size_t at = strlen(out);

    snprintf(out + at, len - at, "[key.%s]\nsource = %s\nclients = %s\n", names[k],
             lurk_test_pki(key_files[k]), clients);
}

/* sign_certificate_verify with key k: its status; on success the signature must verify. */
static uint8_t sign(struct lurk_conn *c, int k, struct lurk_response *resp)
{
    uint8_t hash[32], payload[64], content[160];
    lurk_cbs in, sig;
    size_t len, n;

    ck_assert(RAND_bytes(hash, sizeof(hash)) == 1);
    len = dc_sign_cv_payload(payload, 0, key_ids[k], key_schemes[k], LURK_TLS13_ROLE_SERVER, hash,
                             sizeof(hash));
    uint8_t st = dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                         payload, len, resp);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    in = resp->msg.payload;
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig));
    ck_assert(dc_verify(pkeys[k], key_mds[k], k == K_RSA, content, n, lurk_cbs_data(&sig),
                        lurk_cbs_len(&sig)));
    return st;
}

static void expect_sign(struct lurk_conn *c, int k, uint8_t status)
{
    struct lurk_response resp;

    ck_assert_uint_eq(sign(c, k, &resp), status);
    lurk_response_free(&resp);
}

/* lurk_state as lurk capabilities announce it. */
static void capabilities_state(struct lurk_conn *c, uint8_t state[4])
{
    struct lurk_response resp;
    struct lurk_capabilities_response caps;

    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_CAPABILITIES, NULL, 0, &resp),
                      LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(lurk_capabilities_response_decode(&resp.msg.payload, &caps),
                      LURK_STATUS_SUCCESS);
    memcpy(state, caps.state, 4);
    lurk_response_free(&resp);
}

/* lurk_state as an error payload carries it (an unknown type, answered by designation lurk). */
static void error_state(struct lurk_conn *c, uint8_t state[4])
{
    struct lurk_response resp;

    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS12, 99, NULL, 0, &resp),
                      LURK_STATUS_INVALID_TYPE);
    ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 4);
    memcpy(state, lurk_cbs_data(&resp.msg.payload), 4);
    lurk_response_free(&resp);
}

/* The number of keys tls13 capabilities list for this connection's client. */
static size_t usable_keys(struct lurk_conn *c)
{
    struct lurk_response resp;
    struct lurk_tls13_capabilities_response caps;
    struct lurk_tls12_typed_certificate tc;
    size_t n = 0;

    ck_assert_uint_eq(
        dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_CAPABILITIES, NULL, 0, &resp),
        LURK_STATUS_SUCCESS);
    lurk_cbs in = resp.msg.payload, l;
    ck_assert_uint_eq(lurk_tls13_capabilities_response_decode(&in, &caps), LURK_STATUS_SUCCESS);
    for (l = caps.typed_certificates; lurk_tls12_typed_certificate_next(&l, &tc); n++)
        ;
    lurk_response_free(&resp);
    return n;
}

/* Rewrites the config with these keys and sends SIGHUP; waits for the n-th outcome line. */
static void reload(const char *keys, const char *outcome, int n)
{
    ck_assert(dc_write_config(&lurkd, NULL, keys));
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    ck_assert_msg(dc_wait_count(lurkd.log, outcome, n, 10000), "no %d x \"%s\" in the log", n,
                  outcome);
}

/* A broken new config: lurkd says why (file:line) and serves on with the old keys. */
START_TEST(sighup_with_broken_config_keeps_serving)
{
    char keys[2048] = "", broken[2048], want[600];
    uint8_t before[4], after[4];

    key_section(keys, sizeof(keys), K_P256, "client1, local");
    dc_start(&lurkd, NULL, keys, tcp_addr, tls_addr, sizeof(tcp_addr));
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 0), *tls = dc_connect(tls_addr, 1);
    expect_sign(local, K_P256, LURK_STATUS_SUCCESS);
    capabilities_state(tls, before);

    /* 1: a setting that does not exist (on the config's last line) */
    snprintf(broken, sizeof(broken), "%sbogus = 1\n", keys);
    reload(broken, "reload failed, still serving the previous configuration", 1);
    char *conf = lurk_test_read_file(lurkd.conf, NULL);
    int lines = 0;
    for (const char *p = conf; *p; p++)
        lines += *p == '\n';
    free(conf);
    snprintf(want, sizeof(want), "previous configuration: %s:%d: unknown setting \"bogus\"",
             lurkd.conf, lines);
    ck_assert_msg(lurk_test_wait_for(lurkd.log, want, 1000), "no \"%s\" in the log", want);
    /* 2: a key file that cannot be read: the new key set is not half-installed */
    snprintf(broken, sizeof(broken), "%s[key.gone]\nclients = local\nsource = %s/gone.key\n", keys,
             lurkd.dir);
    reload(broken, "reload failed, still serving the previous configuration", 2);
    snprintf(want, sizeof(want), "previous configuration: %s:%d: key \"gone\"", lurkd.conf,
             lines + 2);
    ck_assert_msg(lurk_test_wait_for(lurkd.log, want, 1000), "no \"%s\" in the log", want);

    /* The same connections, and new ones, are served with the old keys. */
    expect_sign(local, K_P256, LURK_STATUS_SUCCESS);
    expect_sign(tls, K_P256, LURK_STATUS_SUCCESS);
    capabilities_state(tls, after);
    ck_assert_mem_eq(before, after, 4);
    struct lurk_conn *fresh = dc_connect(tcp_addr, 0);
    expect_sign(fresh, K_P256, LURK_TLS13_STATUS_INVALID_KEY_ID); /* tcp is not listed */
    lurk_conn_close(fresh);
    lurk_conn_close(local);
    lurk_conn_close(tls);
}
END_TEST

/*
 * A good new config takes effect for the next request on the connections
 * already open: a new key, a key whose clients changed; lurk_state changes
 * with it (and only when something changed).
 */
START_TEST(sighup_with_good_config_takes_effect)
{
    char keys[2048] = "";
    uint8_t s1[4], s1_err[4], s2[4], s2_err[4], s3[4];

    key_section(keys, sizeof(keys), K_P256, "client1, local");
    dc_start(&lurkd, NULL, keys, tcp_addr, tls_addr, sizeof(tcp_addr));
    struct lurk_conn *c1 = dc_connect(tls_addr, 1), *c2 = dc_connect(tls_addr, 2);
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 0);
    expect_sign(c1, K_P256, LURK_STATUS_SUCCESS);
    expect_sign(c2, K_P256, LURK_TLS13_STATUS_INVALID_KEY_ID);
    expect_sign(c1, K_P384, LURK_TLS13_STATUS_INVALID_KEY_ID);
    ck_assert_uint_eq(usable_keys(c2), 0);
    capabilities_state(c1, s1);
    error_state(c2, s1_err);
    ck_assert_mem_eq(s1, s1_err, 4);

    /* p256 moves from client1 to client2; p384 is new. */
    keys[0] = '\0';
    key_section(keys, sizeof(keys), K_P256, "client2, local");
    key_section(keys, sizeof(keys), K_P384, "client1, client2");
    reload(keys, "configuration reloaded", 1);
    expect_sign(c1, K_P256, LURK_TLS13_STATUS_INVALID_KEY_ID);
    expect_sign(c2, K_P256, LURK_STATUS_SUCCESS);
    expect_sign(c1, K_P384, LURK_STATUS_SUCCESS);
    expect_sign(c2, K_P384, LURK_STATUS_SUCCESS);
    expect_sign(local, K_P256, LURK_STATUS_SUCCESS);
    expect_sign(local, K_P384, LURK_TLS13_STATUS_INVALID_KEY_ID);
    ck_assert_uint_eq(usable_keys(c2), 2);
    ck_assert_uint_eq(usable_keys(c1), 1);
    capabilities_state(c2, s2);
    error_state(c1, s2_err);
    ck_assert_mem_eq(s2, s2_err, 4);
    ck_assert_msg(memcmp(s1, s2, 4) != 0, "lurk_state did not change");

    /* The same config again: nothing changed, neither does lurk_state. */
    reload(keys, "configuration reloaded", 2);
    capabilities_state(c1, s3);
    ck_assert_mem_eq(s2, s3, 4);
    /* Only a client list changes: lurk_state does. */
    keys[0] = '\0';
    key_section(keys, sizeof(keys), K_P256, "client2, local");
    key_section(keys, sizeof(keys), K_P384, "client1");
    reload(keys, "configuration reloaded", 3);
    expect_sign(c2, K_P384, LURK_TLS13_STATUS_INVALID_KEY_ID);
    capabilities_state(c1, s3);
    ck_assert_msg(memcmp(s2, s3, 4) != 0, "lurk_state did not change with the client list");
    /* Only a [tls13] policy knob changes (what tls13 sessions may do): so does lurk_state. */
    strcat(keys, "[tls13]\npost_handshake_auth = no\n");
    reload(keys, "configuration reloaded", 4);
    capabilities_state(c1, s2);
    ck_assert_msg(memcmp(s2, s3, 4) != 0, "lurk_state did not change with [tls13]");
    lurk_conn_close(c1);
    lurk_conn_close(c2);
    lurk_conn_close(local);
}
END_TEST

/*
 * SIGTERM with requests in flight on every transport (the last one sent
 * just before the signal): every request is answered, lurkd exits 0 and
 * removes its unix socket.
 */
START_TEST(sigterm_answers_every_request_sent_before_it)
{
    enum { PER_CONN = 40, N_CONNS = 3 };
    char keys[2048] = "";
    struct lurk_conn *c[N_CONNS + 1];
    static uint8_t buf[N_CONNS][PER_CONN * 80];
    size_t len[N_CONNS] = {0};
    uint64_t ids[N_CONNS][PER_CONN];
    struct lurk_response resp;
    uint8_t payload[64], hash[32] = {0}, last[16];
    struct stat st;

    key_section(keys, sizeof(keys), K_RSA, "*");
    dc_start(&lurkd, "workers = 2\n", keys, tcp_addr, tls_addr, sizeof(tcp_addr));
    const char *addrs[N_CONNS + 1] = {lurkd.unix_addr, tcp_addr, tls_addr, lurkd.unix_addr};
    for (int i = 0; i <= N_CONNS; i++)
        c[i] = dc_connect(addrs[i], 1);
    size_t payload_len = dc_sign_cv_payload(payload, 0, key_ids[K_RSA], 0x0804,
                                            LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    for (int i = 0; i < N_CONNS; i++) {
        for (int r = 0; r < PER_CONN; r++) {
            ids[i][r] = ((uint64_t)i << 32) | (uint64_t)r;
            len[i] += dc_message(buf[i] + len[i], sizeof(buf[i]) - len[i], LURK_DESIGNATION_TLS13,
                                 1, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, ids[i][r], payload,
                                 payload_len);
        }
        dc_send(c[i], buf[i], len[i]);
    }
    size_t last_len =
        dc_message(last, sizeof(last), LURK_DESIGNATION_LURK, 1, LURK_TYPE_PING, 0, 7777, NULL, 0);
    dc_send(c[N_CONNS], last, last_len);
    ck_assert_int_eq(kill(lurkd.pid, SIGTERM), 0);

    for (int i = 0; i < N_CONNS; i++) {
        bool seen[PER_CONN] = {false};
        for (int r = 0; r < PER_CONN; r++) {
            ck_assert_msg(dc_recv(c[i], &resp, 20000), "%s: answer %d of %d missing", addrs[i], r,
                          PER_CONN);
            ck_assert_uint_eq(resp.msg.hdr.status, LURK_STATUS_SUCCESS);
            uint64_t at = resp.msg.hdr.id & 0xffffffffu;
            ck_assert(resp.msg.hdr.id >> 32 == (uint64_t)i && at < PER_CONN && !seen[at]);
            seen[at] = true;
            lurk_response_free(&resp);
        }
    }
    ck_assert_msg(dc_recv(c[N_CONNS], &resp, 20000), "the request sent last was not answered");
    ck_assert(resp.msg.hdr.id == 7777 && resp.msg.hdr.status == LURK_STATUS_SUCCESS);
    lurk_response_free(&resp);
    ck_assert_int_eq(dc_wait_exit(&lurkd, 20000), 0);
    ck_assert_msg(stat(lurkd.unix_addr + 5, &st) != 0, "unix socket left behind");
    ck_assert(lurk_test_wait_for(lurkd.log, "SIGTERM: finishing in-flight requests", 1000));
    ck_assert(lurk_test_wait_for(lurkd.log, "] exiting", 1000));
    for (int i = 0; i <= N_CONNS; i++)
        lurk_conn_close(c[i]);
}
END_TEST

/*
 * SIGTERM when drain_timeout runs out (0 here) while the workers are still
 * signing for tls:// connections (whose responses always go through the
 * I/O thread's flush list): lurkd stops the workers before the I/O threads,
 * so no worker hands a response to a loop that is gone. It exits 0, with
 * no sanitizer report.
 */
START_TEST(sigterm_after_drain_timeout_with_busy_workers)
{
    enum { PER_CONN = 150, N_CONNS = 3 };
    char keys[2048] = "";
    struct lurk_conn *c[N_CONNS];
    static uint8_t buf[PER_CONN * 80];
    uint8_t payload[64], hash[32] = {0};
    struct lurk_response resp;
    size_t len = 0;

    key_section(keys, sizeof(keys), K_RSA, "*");
    dc_start(&lurkd, "workers = 4\ndrain_timeout = 0\nconnection_queue_limit = 1000\n", keys,
             tcp_addr, tls_addr, sizeof(tcp_addr));
    size_t payload_len = dc_sign_cv_payload(payload, 0, key_ids[K_RSA], 0x0804,
                                            LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    for (int r = 0; r < PER_CONN; r++)
        len += dc_message(buf + len, sizeof(buf) - len, LURK_DESIGNATION_TLS13, 1,
                          LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, (uint64_t)r, payload,
                          payload_len);
    for (int i = 0; i < N_CONNS; i++) {
        c[i] = dc_connect(tls_addr, 1);
        dc_send(c[i], buf, len);
    }
    /* The workers are busy: answers are coming back on every connection. */
    for (int i = 0; i < N_CONNS; i++) {
        ck_assert(dc_recv(c[i], &resp, 20000));
        lurk_response_free(&resp);
    }
    ck_assert_int_eq(kill(lurkd.pid, SIGTERM), 0);
    ck_assert_int_eq(dc_wait_exit(&lurkd, 30000), 0);
    ck_assert(lurk_test_wait_for(lurkd.log, "drain_timeout reached with work in flight", 1000));
    dc_assert_no_sanitizer_report(lurkd.log);
    for (int i = 0; i < N_CONNS; i++)
        lurk_conn_close(c[i]);
}
END_TEST

/*
 * SIGTERM while connections keep arriving on the tls:// listener: an I/O
 * thread may be setting up a connection it has just accepted while the
 * main thread closes the listener and drops its TLS context. lurkd exits
 * 0, with no sanitizer report.
 */
START_TEST(sigterm_while_tls_connections_arrive)
{
    char keys[2048] = "", err[256];
    struct lurk_address addr;
    struct sockaddr_in sin = {.sin_family = AF_INET};

    key_section(keys, sizeof(keys), K_P256, "*");
    dc_start(&lurkd, "io_threads = 2\ndrain_timeout = 0\n", keys, tcp_addr, tls_addr,
             sizeof(tcp_addr));
    ck_assert_msg(lurk_address_parse(tls_addr, &addr, err, sizeof(err)), "%s", err);
    ck_assert(inet_pton(AF_INET, addr.host, &sin.sin_addr) == 1);
    sin.sin_port = htons((uint16_t)atoi(addr.port));
    pid_t storm = fork();
    ck_assert(storm >= 0);
    if (storm == 0) {
        /* Connects (lurkd sets up TLS on accept) until lurkd is gone, 5000 times at most. */
        for (int i = 0; i < 5000; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
            if (fd >= 0)
                close(fd);
            if (!ok)
                _exit(0);
        }
        _exit(0);
    }
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    ck_assert_int_eq(kill(lurkd.pid, SIGTERM), 0);
    int status = dc_wait_exit(&lurkd, 30000);
    kill(storm, SIGKILL);
    waitpid(storm, NULL, 0);
    ck_assert_int_eq(status, 0);
    dc_assert_no_sanitizer_report(lurkd.log);
}
END_TEST

/* SIGUSR1 after logrotate moved the files: new lines go to new files. */
START_TEST(sigusr1_reopens_the_logs)
{
    char keys[2048] = "", settings[600], rotated[400], audit_rotated[400];
    struct lurk_response resp;

    ck_assert(lurk_test_lurkd_init(&lurkd));
    key_section(keys, sizeof(keys), K_P256, "*");
    snprintf(settings, sizeof(settings), "error_log = %s\n", lurkd.log);
    dc_start(&lurkd, settings, keys, tcp_addr, tls_addr, sizeof(tcp_addr));
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    ck_assert_uint_eq(sign(c, K_P256, &resp), LURK_STATUS_SUCCESS);
    free(dc_audit_line(&lurkd, resp.msg.hdr.id));
    lurk_response_free(&resp);

    snprintf(rotated, sizeof(rotated), "%s.1", lurkd.log);
    snprintf(audit_rotated, sizeof(audit_rotated), "%s.1", lurkd.audit);
    ck_assert(rename(lurkd.log, rotated) == 0 && rename(lurkd.audit, audit_rotated) == 0);
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGUSR1), 0);
    ck_assert_msg(lurk_test_wait_for(lurkd.log, "SIGUSR1: log files reopened", 5000),
                  "no new error log");

    /* An audit line and an error log line after the reopen land in the new files. */
    ck_assert_uint_eq(sign(c, K_P256, &resp), LURK_STATUS_SUCCESS);
    char *line = dc_audit_line(&lurkd, resp.msg.hdr.id);
    ck_assert_msg(line != NULL, "no audit line in the new audit log");
    free(line);
    lurk_response_free(&resp);
    struct lurk_conn *bad = dc_connect(lurkd.unix_addr, 0);
    static const uint8_t garbage[16] = {0, 1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 3};
    dc_send(bad, garbage, sizeof(garbage));
    ck_assert(lurk_test_wait_for(lurkd.log, "garbage header", 5000));
    ck_assert_int_eq(dc_count(rotated, "garbage header"), 0);
    ck_assert_int_eq(dc_count(audit_rotated, "\"status\":\"success\""), 1);
    lurk_conn_close(bad);
    lurk_conn_close(c);
    dc_assert_no_sanitizer_report(rotated);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_signals");
    TCase *tc = tcase_create("signals");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sighup_with_broken_config_keeps_serving);
    tcase_add_test(tc, sighup_with_good_config_takes_effect);
    tcase_add_test(tc, sigterm_answers_every_request_sent_before_it);
    tcase_add_test(tc, sigterm_after_drain_timeout_with_busy_workers);
    tcase_add_test(tc, sigterm_while_tls_connections_arrive);
    tcase_add_test(tc, sigusr1_reopens_the_logs);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
