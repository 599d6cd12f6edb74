/*
 * Client identities that scale (docs/deploy.md §2, docs/security.md): a
 * real lurkd with a tls:// listener, front-end certificates made with
 * `openssl ca` (tests/daemon/gen-ident-pki) and lurkctl as the client.
 * identity = ca matches a renewed certificate without a lurkd change, pins
 * keep working, and each refusal (revoked, another CA, names that do not
 * match, expired certificate, expired CRL) happens at the handshake with
 * its alert, an audit line and a lurkctl message saying why. A malformed
 * CRL is a file-named error at start and on SIGHUP, which keeps the old state;
 * a CRL loaded by SIGHUP also cuts off connections opened before it. A name
 * rule that CAs of two tenants could satisfy must say which CA (ca =).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/address.h"
#include "lurk/lurk.h"

static struct lurkd_proc lurkd;
static char tls_addr[128];
static char ipki[256]; /* made once by main() */

static const char *ip(const char *file)
{
    static char path[4][600];
    static int next;

    next = (next + 1) % 4;
    snprintf(path[next], sizeof(path[next]), "%s/%s", ipki, file);
    return path[next];
}

/* [client.fleet]'s ca file; NULL: fleet-ca.crt (fe-ca and chain-root). */
static const char *fleet_ca;

static void setup(void)
{
    fleet_ca = NULL;
    ck_assert(lurk_test_lurkd_init(&lurkd));
}

static void teardown(void)
{
    dc_stop(&lurkd);
}

/*
 * The config: a tls:// listener trusting client_ca (and client_crl when not
 * NULL); [client.fleet] by CA (fe-ca or chain-root) and SAN, [client.pinned] the test PKI's
 * client1 by SPKI pin, [client.spiffe] by the same CAs and URI; one key for fleet and pinned.
 */
static void write_config(const char *client_ca, const char *client_crl)
{
    char *spki = lurk_test_read_file(lurk_test_pki("client1.spki"), NULL), *text = NULL;

    ck_assert_ptr_nonnull(spki);
    spki[strcspn(spki, "\n")] = '\0';
    ck_assert(asprintf(&text,
                       "[lurkd]\n"
                       "workers = 1\n"
                       "audit_log = audit.log\n"
                       "audit_repeat_interval = 0\n"
                       "log_level = info\n"
                       "stats_clients = fleet\n"
                       "%s"
                       "[listener.local]\naddress = %s\n"
                       "[listener.tls]\n"
                       "address = tls://127.0.0.1:0\n"
                       "certificate = %s\nprivate_key = %s\n"
                       "client_ca = %s\n"
                       "%s%s%s"
                       "[client.fleet]\n"
                       "identity = ca\n"
                       "ca = %s\n"
                       "match = san:*.fe.example.net\n"
                       "[client.pinned]\n"
                       "identity = spki-sha256:%s\n"
                       "[client.spiffe]\n"
                       "identity = ca\n"
                       "ca = %s\n"
                       "match = uri:spiffe://example.net/fe/1, cn:fe-never\n"
                       "[client.local]\nidentity = uid:%u\n"
                       "[key.k]\n"
                       "source = %s\n"
                       "clients = fleet, pinned, local\n",
                       geteuid() == 0 ? "run_as_root = yes\n" : "", lurkd.unix_addr,
                       lurk_test_pki("lurkd.crt"), lurk_test_pki("lurkd.key"), client_ca,
                       client_crl ? "client_crl = " : "", client_crl ? client_crl : "",
                       client_crl ? "\n" : "", fleet_ca ? fleet_ca : ip("fleet-ca.crt"), spki,
                       ip("fleet-ca.crt"), (unsigned)getuid(),
                       lurk_test_pki("server-p256.key")) > 0);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    free(spki);
}

static void start(const char *client_ca, const char *client_crl)
{
    write_config(client_ca, client_crl);
    ck_assert_msg(lurk_test_lurkd_start(&lurkd, NULL), "lurkd did not start");
    ck_assert(lurk_test_lurkd_address(&lurkd, "tls://", tls_addr, sizeof(tls_addr)));
}

/* client_ca: the test PKI's CA (client1, client2), the front ends' CA and the other CA. */
static const char *all_cas(void)
{
    char *a = lurk_test_read_file(lurk_test_pki("ca.crt"), NULL);
    char *b = lurk_test_read_file(ip("both-ca.crt"), NULL), *both = NULL;

    ck_assert(a != NULL && b != NULL && asprintf(&both, "%s%s", a, b) > 0);
    const char *path = dc_write_file(&lurkd, "cas.crt", both);
    static char copy[600];
    snprintf(copy, sizeof(copy), "%s", path);
    free(a);
    free(b);
    free(both);
    return copy;
}

/* A connection to tls_addr with a client context. */
static struct lurk_conn *lurk_conn_open_str(SSL_CTX *tls, char *err, size_t errlen)
{
    struct lurk_address addr;
    struct lurk_conn *c;

    ck_assert_msg(lurk_address_parse(tls_addr, &addr, err, errlen), "%s", err);
    c = lurk_conn_open(&addr, tls, 10000, err, errlen);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * lurkctl -s tls_addr --cert CERT --key KEY COMMAND (cert and key: a name in
 * the ident PKI, or paths); its exit status, output (stdout + stderr) in out.
 */
static int ctl(const char *cert, const char *key, const char *command, char *out, size_t len)
{
    char path[600], c[600], k[600];
    int fd, status = -1;
    pid_t pid;

    snprintf(c, sizeof(c), "%s", cert[0] == '/' ? cert : ip(cert));
    snprintf(k, sizeof(k), "%s", key[0] == '/' ? key : ip(key));
    snprintf(path, sizeof(path), "%s/lurkctl.out", lurkd.dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert(fd >= 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execl(LURKCTL_PATH, "lurkctl", "-s", tls_addr, "--ca", lurk_test_pki("ca.crt"), "--cert", c,
              "--key", k, "--timeout", "10000", command, "lurk", (char *)NULL);
        _exit(127);
    }
    close(fd);
    for (int waited = 0;; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (waited > 30000) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            ck_abort_msg("lurkctl did not finish");
        }
        sleep_ms(10);
    }
    char *text = lurk_test_read_file(path, NULL);
    snprintf(out, len, "%s", text ? text : "");
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void served(const char *who)
{
    char out[2048];
    char crt[200], key[200];

    snprintf(crt, sizeof(crt), "%s.crt", who);
    snprintf(key, sizeof(key), "%s.key", who);
    ck_assert_msg(ctl(crt, key, "ping", out, sizeof(out)) == 0, "%s not served:\n%s", who, out);
    ck_assert_msg(strstr(out, "lurk ping: ok") != NULL, "%s: %s", who, out);
}

/*
 * who is refused at the handshake: lurkctl names the alert and says why,
 * and (audit_note not NULL) one audit line names the peer and the reason.
 */
static void refused(const char *who, const char *alert, const char *words, const char *audit_note)
{
    char out[2048], crt[200], key[200], status[100];

    snprintf(crt, sizeof(crt), "%s.crt", who);
    snprintf(key, sizeof(key), "%s.key", who);
    int before = dc_count(lurkd.audit, audit_note ? audit_note : "\n");
    ck_assert_msg(ctl(crt, key, "ping", out, sizeof(out)) == 1, "%s served:\n%s", who, out);
    ck_assert_msg(strstr(out, "ping: ok") == NULL, "%s: %s", who, out);
    snprintf(status, sizeof(status), "lurkd refused the handshake (%s)", alert);
    ck_assert_msg(strstr(out, status) != NULL, "%s: no \"%s\" in:\n%s", who, status, out);
    ck_assert_msg(strstr(out, words) != NULL, "%s: no \"%s\" in:\n%s", who, words, out);
    ck_assert_msg(strstr(out, "reset by peer") == NULL, "%s: %s", who, out);
    if (audit_note != NULL) {
        char line[300];
        ck_assert_msg(dc_wait_count(lurkd.audit, audit_note, before + 1, 5000),
                      "%s: no audit line with \"%s\"", who, audit_note);
        snprintf(line, sizeof(line), "\"exchange\":\"tls/handshake\",\"status\":\"%s\"", alert);
        ck_assert_msg(dc_count(lurkd.audit, line) >= 1, "%s: no \"%s\" audited", who, line);
    }
}

/* A client TLS context with the identity PKI's NAME.crt and NAME.key. */
static SSL_CTX *client_tls(const char *name)
{
    char crt[200], key[200], err[512];

    snprintf(crt, sizeof(crt), "%s.crt", name);
    snprintf(key, sizeof(key), "%s.key", name);
    /* ip() keeps its last four paths: both stay valid for the call. */
    SSL_CTX *tls =
        lurk_client_tls_ctx_new(NULL, lurk_test_pki("ca.crt"), ip(crt), ip(key), err, sizeof(err));
    ck_assert_msg(tls != NULL, "%s", err);
    return tls;
}

/*
 * One connection with tls that lurkd must refuse: the handshake fails, or
 * (TLS 1.3: the client may finish before lurkd's alert) the first request
 * does; err says why.
 */
static void attempt_refused(SSL_CTX *tls, char *err, size_t errlen)
{
    struct lurk_address addr;
    struct lurk_response resp;

    ck_assert(lurk_address_parse(tls_addr, &addr, err, errlen));
    struct lurk_conn *c = lurk_conn_open(&addr, tls, 10000, err, errlen);
    if (c != NULL) {
        ck_assert(!lurk_conn_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp, 10000,
                                  err, errlen));
        lurk_conn_abandon(c);
    }
}

/* The status of a stats request on an open connection. */
static uint8_t stats_status(struct lurk_conn *c)
{
    struct lurk_response resp;
    uint8_t status = dc_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp);

    lurk_response_free(&resp);
    return status;
}

/* Rewrites the config with client_ca and client_crl, and waits for the SIGHUP to take it. */
static void reload_with(const char *client_ca, const char *client_crl)
{
    write_config(client_ca, client_crl);
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    ck_assert(dc_wait_count(lurkd.log, "configuration reloaded", 1, 10000));
}

/* A front end's certificate matched by CA and SAN; its renewal too; pins as before. */
START_TEST(ca_identity_matches_renewed_certificates_and_pins_keep_working)
{
    char out[4096];

    start(all_cas(), NULL);
    served("fe1");
    served("fe1b"); /* renewed: new key, same names, no lurkd change */
    ck_assert_int_eq(
        ctl(lurk_test_pki("client1.crt"), lurk_test_pki("client1.key"), "ping", out, sizeof(out)),
        0);
    /* The key is usable by fleet: capabilities list it for the renewed certificate. */
    ck_assert_int_eq(ctl("fe1b.crt", "fe1b.key", "capabilities", out, sizeof(out)), 0);
    /* fleet may read stats; pinned may not, and lurkctl says what to change. */
    ck_assert_int_eq(ctl("fe1.crt", "fe1.key", "stats", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "lurkd_requests_total") != NULL, "%s", out);
    ck_assert_int_eq(
        ctl(lurk_test_pki("client1.crt"), lurk_test_pki("client1.key"), "stats", out, sizeof(out)),
        1);
    ck_assert_msg(strstr(out, "not allowed: add this client to stats_clients") != NULL, "%s", out);
}
END_TEST

/* Certificates of a trusted CA whose names match no rule, or of the other CA: refused. */
START_TEST(names_that_do_not_match_and_other_cas_are_refused)
{
    start(all_cas(), NULL);
    /* SAN a3.fe.example.net matches the rule, but the issuer is other-ca, not fleet's ca. */
    refused("stranger", "handshake_failure", "not allowed", "subject /CN=fe3");
    /* "*" is one label: x.a1.fe.example.net is two. */
    refused("deep", "handshake_failure", "matches no [client.NAME]", "subject /CN=deep");
    refused("nomatch", "handshake_failure", "not allowed", "subject /CN=nomatch");
    refused("expired", "certificate_expired", "has expired", "certificate has expired");
    /* The test PKI's client2: a trusted CA, no [client.NAME] for it. */
    char out[2048];
    ck_assert_int_eq(
        ctl(lurk_test_pki("client2.crt"), lurk_test_pki("client2.key"), "ping", out, sizeof(out)),
        1);
    ck_assert_msg(strstr(out, "(handshake_failure)") != NULL, "%s", out);
    /* A self-made certificate with a matching SAN: unknown_ca, no audit line (anyone can). */
    refused("selfmade", "unknown_ca", "not from a CA in lurkd's client_ca", NULL);
    ck_assert_int_eq(dc_count(lurkd.audit, "selfmade"), 0);
}
END_TEST

/* client_crl in PEM (loop 0) and DER (loop 1): the revoked certificate is refused and audited. */
START_TEST(revoked_certificate_is_refused_at_the_handshake)
{
    start(ip("fe-ca.crt"), ip(_i == 0 ? "crl.pem" : "crl.der"));
    served("fe1");
    refused("fe2", "certificate_revoked", "revoked in lurkd's client_crl", "subject /CN=fe2");
    ck_assert(dc_count(lurkd.audit, "certificate revoked; subject /CN=fe2, serial 1002") == 1);
    /* other-ca is not in client_ca: unknown_ca, not audited. */
    refused("stranger", "unknown_ca", "not from a CA in lurkd's client_ca", NULL);
    ck_assert_int_eq(dc_count(lurkd.audit, "CN=fe3"), 0);
}
END_TEST

/*
 * A forgery naming fe-ca as issuer with fe2's revoked serial: OpenSSL checks
 * revocation before signatures, so it would fail as "revoked". It is refused
 * as a signature that does not verify, with no audit line (its subject is the
 * forger's choice) and none of the audit rate limit: fe2's own refusal right
 * after a burst of forgeries is audited with its subject.
 */
START_TEST(forged_certificate_naming_a_ca_is_not_audited)
{
    enum { N = 30 };
    char err[512], out[2048];

    start(ip("fe-ca.crt"), ip("crl.pem"));
    ck_assert_int_eq(ctl("forged.crt", "forged.key", "ping", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "(decrypt_error)") != NULL, "%s", out);
    SSL_CTX *tls = client_tls("forged");
    for (int i = 0; i < N; i++) {
        attempt_refused(tls, err, sizeof(err));
        ck_assert_msg(strstr(err, "revoked") == NULL, "%d: %s", i, err);
    }
    SSL_CTX_free(tls);
    refused("fe2", "certificate_revoked", "revoked in lurkd's client_crl", "subject /CN=fe2");
    sleep_ms(300); /* the audit buffer is written every 100 ms */
    ck_assert_int_eq(dc_count(lurkd.audit, "forged-victim"), 0);
    ck_assert_int_eq(dc_count(lurkd.audit, "tls/handshake"), 1);
    ck_assert_int_eq(dc_count(lurkd.log, "forged-victim"), 0);
}
END_TEST

/*
 * root -> intermediate -> leaf: the root's CRL revokes an intermediate CA,
 * and its leaves are refused at the handshake and, on a connection opened
 * before the CRL was loaded, at their next request.
 */
START_TEST(revoked_intermediate_ca_refuses_its_leaves)
{
    char err[512];

    start(ip("chain-cas.crt"), ip("crl-chain.pem"));
    served("midok1");
    refused("midbad1", "certificate_revoked", "revoked in lurkd's client_crl",
            "certificate revoked; subject /CN=lurk test intermediate revoked");
    dc_stop(&lurkd);

    ck_assert(lurk_test_lurkd_init(&lurkd));
    start(ip("chain-cas.crt"), ip("crl-chain0.pem"));
    served("midbad1");
    SSL_CTX *tls = client_tls("midbad1");
    struct lurk_conn *open_conn = lurk_conn_open_str(tls, err, sizeof(err));
    ck_assert_uint_eq(stats_status(open_conn), LURK_STATUS_SUCCESS);
    reload_with(ip("chain-cas.crt"), ip("crl-chain.pem"));
    ck_assert_uint_eq(stats_status(open_conn), LURK_STATUS_NOT_ALLOWED);
    lurk_conn_close(open_conn);
    SSL_CTX_free(tls);
    refused("midbad1", "certificate_revoked", "revoked", "subject /CN=lurk test intermediate");
    served("midok1");
}
END_TEST

/*
 * Tenants' intermediates under one shared root, client_ca holding only the
 * root (docs/deploy.md §2): a client's ca = names its own intermediate,
 * which its certificates bring in their chain. lurkd accepts that ca =
 * (it refused to start on it on the tree of 2026-12-07 19:00), serves that
 * intermediate's leaf and refuses the other intermediate's, whose name
 * matches the same rule.
 */
START_TEST(ca_may_name_an_intermediate_under_the_root)
{
    fleet_ca = ip("mid-ok.crt");
    start(ip("chain-root.crt"), NULL);
    served("midok1");
    refused("midbad1", "handshake_failure", "not allowed", "subject /CN=midbad1");
}
END_TEST

/* Every CA of the chain needs its CRL (docs/deploy.md §2): without the intermediate's, refused. */
START_TEST(intermediate_without_crl_refuses_its_leaves)
{
    start(ip("chain-cas.crt"), ip("crl-chain-nomid.pem"));
    refused("midok1", "unknown_ca", "has no CRL for its CA", "unable to get certificate CRL");
}
END_TEST

/* A CRL past its nextUpdate: lurkd warns, and refuses the CA's certificates (fail closed). */
START_TEST(expired_crl_refuses_everyone_of_its_ca)
{
    start(ip("fe-ca.crt"), ip("crl-expired.pem"));
    ck_assert(dc_count(lurkd.log, "past its nextUpdate") >= 1);
    refused("fe1", "certificate_expired", "past its nextUpdate", "CRL has expired");
}
END_TEST

/* --check names the CRL file; so does a SIGHUP, which keeps the CRL in force. */
START_TEST(malformed_crl_is_a_named_error_at_start_and_on_reload)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char out[4096];

    write_config(ip("fe-ca.crt"), ip("crl-bad.pem"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "client_crl") && strstr(out, "crl-bad.pem: no CRL in it"), "%s", out);
    write_config(ip("fe-ca.crt"), ip("crl-other.pem"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, "crl-other.pem: CRL 1 (issuer /CN=lurk test other CA) is not "
                              "signed by a CA of client_ca"),
                  "%s", out);

    /*
     * Serving without a CRL: fe2 is in, and keeps a connection open. SIGHUP
     * with the CRL: fe2's new connections are refused at the handshake, and
     * its open connection is nobody from its next request on.
     */
    start(ip("fe-ca.crt"), NULL);
    served("fe2");
    char err[512];
    SSL_CTX *tls = client_tls("fe2");
    struct lurk_conn *open_conn = lurk_conn_open_str(tls, err, sizeof(err));
    ck_assert_uint_eq(stats_status(open_conn), LURK_STATUS_SUCCESS);
    reload_with(ip("fe-ca.crt"), ip("crl.pem"));
    refused("fe2", "certificate_revoked", "revoked", "subject /CN=fe2");
    ck_assert_uint_eq(stats_status(open_conn), LURK_STATUS_NOT_ALLOWED);
    lurk_conn_close(open_conn);
    SSL_CTX_free(tls);
    /* A damaged CRL on reload: named, and the CRL in force stays. */
    write_config(ip("fe-ca.crt"), ip("crl-bad.pem"));
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    ck_assert(dc_wait_count(lurkd.log, "reload failed, still serving the previous configuration", 1,
                            10000));
    ck_assert(dc_count(lurkd.log, "crl-bad.pem: no CRL in it") >= 1);
    refused("fe2", "certificate_revoked", "revoked", "subject /CN=fe2");
    served("fe1");
}
END_TEST

/*
 * Two tenants, two tls:// listeners: tenant_a (127.0.0.1) trusts fe-ca,
 * tenant_b (::1: lurkd.crt names both addresses) trusts other-ca (both_ca:
 * one tls:// listener trusting both-ca.crt instead).
 * [client.fe1] names fe-ca's front end fe1 by cn:fe1, with ca = ca_file
 * (none when NULL). Returns the line of the [client.fe1] header (of its ca
 * setting when ca_file is set).
 */
static int write_tenants_config(bool both_ca, const char *ca_file)
{
    char *text = NULL, listeners[2000];

    if (both_ca)
        snprintf(listeners, sizeof(listeners),
                 "[listener.tenants]\naddress = tls://127.0.0.1:0\ncertificate = %s\n"
                 "private_key = %s\nclient_ca = %s\n",
                 lurk_test_pki("lurkd.crt"), lurk_test_pki("lurkd.key"), ip("both-ca.crt"));
    else
        snprintf(listeners, sizeof(listeners),
                 "[listener.tenant_a]\naddress = tls://127.0.0.1:0\ncertificate = %s\n"
                 "private_key = %s\nclient_ca = %s\n"
                 "[listener.tenant_b]\naddress = tls://[::1]:0\ncertificate = %s\n"
                 "private_key = %s\nclient_ca = %s\n",
                 lurk_test_pki("lurkd.crt"), lurk_test_pki("lurkd.key"), ip("fe-ca.crt"),
                 lurk_test_pki("lurkd.crt"), lurk_test_pki("lurkd.key"), ip("other-ca.crt"));
    ck_assert(asprintf(&text,
                       "[lurkd]\n"
                       "workers = 1\n"
                       "audit_log = audit.log\n"
                       "audit_repeat_interval = 0\n"
                       "log_level = info\n"
                       "stats_clients = fe1\n"
                       "%s"
                       "[listener.local]\naddress = %s\n"
                       "%s"
                       "[client.fe1]\n"
                       "identity = ca\n"
                       "%s%s%s"
                       "match = cn:fe1\n"
                       "[client.local]\nidentity = uid:%u\n"
                       "[key.k]\n"
                       "source = %s\n"
                       "clients = fe1, local\n",
                       geteuid() == 0 ? "run_as_root = yes\n" : "", lurkd.unix_addr, listeners,
                       ca_file ? "ca = " : "", ca_file ? ca_file : "", ca_file ? "\n" : "",
                       (unsigned)getuid(), lurk_test_pki("server-p256.key")) > 0);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    const char *at = strstr(text, ca_file ? "\nca = " : "\n[client.fe1]") + 1;
    int line = 1;
    for (const char *c = text; c < at; c++)
        line += *c == '\n';
    free(text);
    return line;
}

/* The n-th tls:// address lurkd logged (listeners in file order), into tls_addr. */
static void use_tls_listener(int n)
{
    char *log = lurk_test_read_file(lurkd.log, NULL);
    const char *at = log;

    ck_assert_ptr_nonnull(log);
    for (int i = 0; i <= n; i++) {
        at = strstr(at, "listening on tls://");
        ck_assert_msg(at != NULL, "no tls:// listener %d in the log", n);
        at += strlen("listening on ");
    }
    size_t len = strcspn(at, " \n");
    ck_assert_uint_lt(len, sizeof(tls_addr));
    memcpy(tls_addr, at, len);
    tls_addr[len] = '\0';
    free(log);
}

/*
 * The attack: another tenant's CA (other-ca) issues a certificate named
 * fe1, and [client.fe1] names its front end by cn:fe1 alone. Before, lurkd
 * started and served it as fe1 on the listener trusting other-ca (ping,
 * stats, the key). Now a name rule that CAs of more than one listener (or
 * of one client_ca) could satisfy is a configuration error, at start and
 * at --check, naming the client and the CAs; a ca = no client_ca holds is
 * one too. With ca = fe-ca.crt, the impostor is refused at the handshake
 * with an audit line, fe1 served; a SIGHUP back to the ambiguous file
 * fails and keeps that state.
 */
START_TEST(name_rule_across_cas_must_say_which_ca)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    const char *const run[] = {"-f", "-c", lurkd.conf, NULL};
    char out[4096], want[200];

    for (int both = 0; both < 2; both++) {
        int line = write_tenants_config(both, NULL);
        snprintf(want, sizeof(want),
                 "lurkd.conf:%d: [client.fe1]: identity = ca without ca =", line);
        ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
        ck_assert_msg(strstr(out, want) && strstr(out, "any of the 2 CAs of client_ca") &&
                          strstr(out, "\"/CN=lurk test front-end CA\"") &&
                          strstr(out, "\"/CN=lurk test other CA\""),
                      "%s", out);
        /* Not started: refused with the same words (were it served, this would time out). */
        ck_assert_int_eq(dc_run(&lurkd, run, out, sizeof(out), 20000), DC_EXIT_CONFIG);
        ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    }
    /* A ca = that no listener trusts: fe1 could never match. */
    int line = write_tenants_config(false, ip("chain-root.crt"));
    snprintf(want, sizeof(want), "lurkd.conf:%d: [client.fe1]: ca %s: no certificate in it is a CA",
             line, ip("chain-root.crt"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);

    /* A ca = holding both CAs: a rollover's setting, allowed, but lurkd says what it means. */
    line = write_tenants_config(false, ip("both-ca.crt"));
    snprintf(want, sizeof(want), "lurkd.conf:%d: [client.fe1]: ca %s lets in every one of the 2 CAs",
             line, ip("both-ca.crt"));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), 0);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);

    /* ca = fe-ca.crt: the impostor is refused where other-ca is trusted, fe1 served. */
    write_tenants_config(false, ip("fe-ca.crt"));
    ck_assert_msg(lurk_test_lurkd_start(&lurkd, NULL), "lurkd did not start");
    use_tls_listener(1); /* tenant_b: other-ca */
    refused("impostor", "handshake_failure", "not allowed", "subject /CN=fe1");
    use_tls_listener(0); /* tenant_a: fe-ca */
    served("fe1");
    refused("impostor", "unknown_ca", "not from a CA in lurkd's client_ca", NULL);

    /* SIGHUP to the ambiguous file: refused, named, and the state in force stays. */
    write_tenants_config(false, NULL);
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    ck_assert(dc_wait_count(lurkd.log, "reload failed, still serving the previous configuration", 1,
                            10000));
    ck_assert(dc_count(lurkd.log, "[client.fe1]: identity = ca without ca =") >= 1);
    use_tls_listener(1);
    refused("impostor", "handshake_failure", "not allowed", "subject /CN=fe1");
    use_tls_listener(0);
    served("fe1");
}
END_TEST

/* The "suppressed":N counts of the audit file, summed. */
static long suppressed_total(void)
{
    char *text = lurk_test_read_file(lurkd.audit, NULL);
    long total = 0;

    for (const char *at = text; at != NULL && (at = strstr(at, "\"suppressed\":")) != NULL; at++)
        total += atol(at + strlen("\"suppressed\":"));
    free(text);
    return total;
}

/*
 * A holder of a revoked certificate reconnecting in a loop: at most 10
 * audit lines a second, and every refusal is accounted for, written or
 * counted in a later line's "suppressed".
 */
START_TEST(refused_handshake_flood_is_bounded_in_the_audit_log)
{
    enum { N = 100 };
    char err[512];
    struct timespec t0, t1;

    start(ip("fe-ca.crt"), ip("crl.pem"));
    SSL_CTX *tls = client_tls("fe2");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i <= N; i++) {
        if (i == N)
            sleep_ms(1100); /* a new second: the last line carries the count */
        attempt_refused(tls, err, sizeof(err));
        ck_assert_msg(strstr(err, "certificate revoked") != NULL, "%d: %s", i, err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    SSL_CTX_free(tls);
    long seconds = t1.tv_sec - t0.tv_sec + 1;
    ck_assert(dc_wait_count(lurkd.audit, "subject /CN=fe2", 1, 5000));
    sleep_ms(300); /* the audit buffer is written every 100 ms */
    int lines = dc_count(lurkd.audit, "subject /CN=fe2");
    long suppressed = suppressed_total();
    printf("figure: %d refused handshakes in %ld s: %d audit lines, %ld counted in "
           "\"suppressed\"\n",
           N + 1, seconds, lines, suppressed);
    ck_assert_int_le(lines, 10 * (seconds + 1));
    ck_assert_int_eq(lines + suppressed, N + 1);
}
END_TEST

/*
 * No session resumption: a resumed session would skip the certificate
 * check, and so the CRL a reload installed. openssl s_client saves the
 * session with its tickets; offering it again gives a full handshake.
 */
START_TEST(no_session_resumption_around_the_crl)
{
    char cmd[3000], sess[600], out_path[600];

    start(ip("fe-ca.crt"), ip("crl.pem"));
    snprintf(sess, sizeof(sess), "%s/sess.pem", lurkd.dir);
    snprintf(out_path, sizeof(out_path), "%s/s_client.out", lurkd.dir);
    for (int round = 0; round < 2; round++) {
        snprintf(cmd, sizeof(cmd),
                 "sleep 1 | timeout 20 openssl s_client -connect %s -CAfile '%s' -cert '%s' "
                 "-key '%s' %s '%s' >'%s' 2>&1",
                 tls_addr + strlen("tls://"), lurk_test_pki("ca.crt"), ip("fe1.crt"), ip("fe1.key"),
                 round == 0 ? "-sess_out" : "-sess_in", sess, out_path);
        if (round == 1)
            ck_assert_int_eq(access(sess, F_OK), 0);
        int st = system(cmd); /* its status aside: the session line says it all */
        ck_assert_int_ne(st, -1);
        char *out = lurk_test_read_file(out_path, NULL);
        ck_assert_ptr_nonnull(out);
        ck_assert_msg(strstr(out, "New, TLSv1.3") != NULL && strstr(out, "Reused") == NULL &&
                          strstr(out, " alert ") == NULL,
                      "%s", out);
        free(out);
    }
}
END_TEST

int main(void)
{
    char cmd[1200];

    snprintf(ipki, sizeof(ipki), "/tmp/lurk-ident-pki-XXXXXX");
    if (mkdtemp(ipki) == NULL)
        return 1;
    snprintf(cmd, sizeof(cmd), "'%s/tests/daemon/gen-ident-pki' '%s' >/dev/null", LURK_SOURCE_ROOT,
             ipki);
    if (system(cmd) != 0) {
        fprintf(stderr, "gen-ident-pki failed\n");
        return 1;
    }
    Suite *s = suite_create("daemon_identity");
    TCase *tc = tcase_create("identity");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ca_identity_matches_renewed_certificates_and_pins_keep_working);
    tcase_add_test(tc, names_that_do_not_match_and_other_cas_are_refused);
    tcase_add_loop_test(tc, revoked_certificate_is_refused_at_the_handshake, 0, 2);
    tcase_add_test(tc, forged_certificate_naming_a_ca_is_not_audited);
    tcase_add_test(tc, revoked_intermediate_ca_refuses_its_leaves);
    tcase_add_test(tc, intermediate_without_crl_refuses_its_leaves);
    tcase_add_test(tc, expired_crl_refuses_everyone_of_its_ca);
    tcase_add_test(tc, malformed_crl_is_a_named_error_at_start_and_on_reload);
    tcase_add_test(tc, no_session_resumption_around_the_crl);
    tcase_add_test(tc, refused_handshake_flood_is_bounded_in_the_audit_log);
    tcase_add_test(tc, name_rule_across_cas_must_say_which_ca);
    tcase_add_test(tc, ca_may_name_an_intermediate_under_the_root);
    suite_add_tcase(s, tc);
    int rc = lurk_test_run(s, CK_FORK_GETENV);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ipki);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
