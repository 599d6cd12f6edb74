/*
 * lurkd's [metrics] endpoint with real parts (docs/deploy.md §8): a real
 * lurkd scraped with curl while a client loads it, every scrape checked by
 * promtool (Debian's prometheus package), the counts compared with the load
 * sent; /healthz and /readyz; 404 and 405; the connection limit and timeout;
 * a port already in use; bad [metrics] values with file:line; reloads that
 * keep the endpoint and count their result.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"

/* Bounds of the load: requests per round, and the time a round may take. */
#define LOAD_SIGNS   300
#define LOAD_UNKNOWN 40
#define LOAD_PINGS   100
#define LOAD_DENIED  25
#define LOAD_SECONDS 60
#define SCRAPES_MAX  40

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];
static int metrics_port;
static bool have_promtool;

/* A loopback port free right now (bound, read, closed). */
static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
              getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* Runs a shell command; its output (stdout and stderr) in out, its exit status returned. */
static int run(const char *cmd, char *out, size_t outlen)
{
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    int st;

    ck_assert_msg(f != NULL, "popen %s", cmd);
    while (n + 1 < outlen) {
        size_t got = fread(out + n, 1, outlen - 1 - n, f);
        if (got == 0)
            break;
        n += got;
    }
    out[n] = '\0';
    /* Whatever did not fit is read and dropped, so the command can finish. */
    char drop[4096];
    while (fread(drop, 1, sizeof(drop), f) > 0)
        ;
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* curl on the metrics port: the HTTP code, the body in body (may be NULL). */
static int http(const char *method, const char *path, char *body, size_t bodylen)
{
    char cmd[512], out[64];
    char file[400];

    snprintf(file, sizeof(file), "%s/http.body", lurkd.dir);
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 10 %s%s -o '%s' -w '%%{http_code}' http://127.0.0.1:%d%s 2>&1",
             /* curl -X HEAD would wait for a body: -I sends HEAD and expects none. */
             strcmp(method, "HEAD") == 0 ? "-I" : "-X ", strcmp(method, "HEAD") == 0 ? "" : method,
             file, metrics_port, path);
    ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
    if (body != NULL) {
        char *text = lurk_test_read_file(file, NULL);
        snprintf(body, bodylen, "%s", text ? text : "");
        free(text);
    }
    return atoi(out);
}

/* One scrape, checked by promtool when it is installed; malloc'd text. */
static char *scrape(void)
{
    char cmd[700], out[8192], file[400];
    char *text;

    snprintf(file, sizeof(file), "%s/scrape.prom", lurkd.dir);
    snprintf(cmd, sizeof(cmd), "curl -s -f --max-time 10 -o '%s' http://127.0.0.1:%d/metrics 2>&1",
             file, metrics_port);
    ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
    if (have_promtool) {
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", file);
        ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "promtool check metrics: %s", out);
        ck_assert_msg(out[0] == '\0', "promtool has remarks: %s", out);
    }
    text = lurk_test_read_file(file, NULL);
    ck_assert(text != NULL);
    /* The same text goes out as lurk stats, which allows printable ASCII only. */
    for (const char *p = text; *p != '\0'; p++)
        ck_assert_msg((*p >= 0x20 && *p < 0x7f) || *p == '\n' || *p == '\t',
                      "byte 0x%02x at offset %zu of the scrape", (unsigned char)*p,
                      (size_t)(p - text));
    return text;
}

/* The value of the sample line "series VALUE", -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static double sample0(const char *text, const char *series)
{
    double v = sample(text, series);
    return v < 0 ? 0 : v;
}

#define METRICS_SECTION "[metrics]\naddress = 127.0.0.1:%d\n"

static void start(const char *metrics_extra)
{
    char extra[2048];

    metrics_port = free_port();
    snprintf(extra, sizeof(extra),
             "[key.p256]\nsource = %s\ncertificate = %s\nclients = *\n"
             "[key.rsa]\nsource = %s\nclients = client2\n" METRICS_SECTION "%s",
             lurk_test_pki("server-p256.key"), lurk_test_pki("server-p256.crt"),
             lurk_test_pki("server-rsa2048.key"), metrics_port, metrics_extra ? metrics_extra : "");
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void setup(void)
{
    char out[256];

    have_promtool = run("command -v promtool", out, sizeof(out)) == 0;
}

static void teardown(void)
{
    dc_stop(&lurkd);
}

/* sign_certificate_verify with key_id; the response status. */
static uint8_t sign_scheme(struct lurk_conn *c, const uint8_t key_id[4], uint16_t scheme)
{
    uint8_t hash[32], payload[64];
    struct lurk_response resp;
    size_t len;
    uint8_t st;

    ck_assert(RAND_bytes(hash, sizeof(hash)) == 1);
    len =
        dc_sign_cv_payload(payload, 0, key_id, scheme, LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    st = dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, payload, len,
                 &resp);
    lurk_response_free(&resp);
    return st;
}

static uint8_t sign(struct lurk_conn *c, const uint8_t key_id[4])
{
    return sign_scheme(c, key_id, 0x0403);
}

/*
 * The load, in a child process so that the parent scrapes meanwhile:
 * LOAD_SIGNS signatures on tcp, LOAD_UNKNOWN requests naming an unknown key,
 * LOAD_PINGS tls12 pings on unix; bounded in count and in time.
 */
static void load(const uint8_t key_id[4], const uint8_t rsa_id[4])
{
    static const uint8_t unknown[4] = {0xde, 0xad, 0xbe, 0xef};
    struct lurk_conn *tcp = dc_connect(tcp_addr, 1), *local = dc_connect(lurkd.unix_addr, 1);
    time_t deadline = time(NULL) + LOAD_SECONDS;
    struct lurk_response resp;

    for (int i = 0; i < LOAD_SIGNS && time(NULL) < deadline; i++)
        ck_assert_uint_eq(sign(tcp, key_id), LURK_STATUS_SUCCESS);
    for (int i = 0; i < LOAD_UNKNOWN && time(NULL) < deadline; i++)
        ck_assert_uint_eq(sign(tcp, unknown), LURK_TLS13_STATUS_INVALID_KEY_ID);
    /* client "tcp" may not use the rsa key (clients = client2). */
    for (int i = 0; i < LOAD_DENIED && time(NULL) < deadline; i++)
        ck_assert_uint_eq(sign_scheme(tcp, rsa_id, 0x0804), LURK_TLS13_STATUS_INVALID_KEY_ID);
    for (int i = 0; i < LOAD_PINGS && time(NULL) < deadline; i++) {
        ck_assert_uint_eq(dc_call(local, LURK_DESIGNATION_TLS12, LURK_TYPE_PING, NULL, 0, &resp),
                          LURK_STATUS_SUCCESS);
        lurk_response_free(&resp);
    }
    ck_assert_msg(time(NULL) < deadline, "load took over %d s", LOAD_SECONDS);
    lurk_conn_close(tcp);
    lurk_conn_close(local);
}

#define SIGN_SUCCESS                                                                               \
    "lurkd_requests_total{designation=\"tls13\",type=\"sign_certificate_verify\","                 \
    "status=\"success\"}"
#define SIGN_COUNT                                                                                 \
    "lurkd_request_duration_seconds_count{designation=\"tls13\",type=\"sign_certificate_verify\"}"
#define REFUSED(reason) "lurkd_requests_refused_total{reason=\"" reason "\"}"
#define PING_SUCCESS    "lurkd_requests_total{designation=\"tls12\",type=\"ping\",status=\"success\"}"

/* Scrapes while a child loads lurkd; the counts grow by exactly what was sent. */
START_TEST(scrape_under_load_counts_what_was_sent)
{
    EVP_PKEY *pkey = dc_load_key(lurk_test_pki("server-p256.key"));
    EVP_PKEY *rsa = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    uint8_t key_id[4], rsa_id[4];
    char hex[9], rsa_hex[9], key_sign[256], key_unknown[256], key_denied[256], listener[256];
    char *before, *after;
    int scrapes = 0, status;
    pid_t child;

    start(NULL);
    dc_key_id(pkey, key_id);
    dc_key_id_hex(pkey, hex);
    EVP_PKEY_free(pkey);
    dc_key_id(rsa, rsa_id);
    dc_key_id_hex(rsa, rsa_hex);
    EVP_PKEY_free(rsa);
    snprintf(key_denied, sizeof(key_denied),
             "lurkd_key_requests_total{key=\"rsa\",key_id=\"%s\",designation=\"tls13\","
             "type=\"sign_certificate_verify\",status=\"invalid_key_id\"}",
             rsa_hex);
    snprintf(key_sign, sizeof(key_sign),
             "lurkd_key_requests_total{key=\"p256\",key_id=\"%s\",designation=\"tls13\","
             "type=\"sign_certificate_verify\",status=\"success\"}",
             hex);
    snprintf(key_unknown, sizeof(key_unknown),
             "lurkd_key_requests_total{key=\"\",key_id=\"unknown\",designation=\"tls13\","
             "type=\"sign_certificate_verify\",status=\"invalid_key_id\"}");
    before = scrape();

    child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        load(key_id, rsa_id);
        _exit(0);
    }
    /* Scrapes during the load: each one a valid exposition, counters never going back. */
    double last = sample0(before, SIGN_SUCCESS);
    while (scrapes < SCRAPES_MAX && waitpid(child, &status, WNOHANG) == 0) {
        char *during = scrape();
        double now = sample0(during, SIGN_SUCCESS);
        ck_assert_msg(now >= last, "counter went from %g to %g", last, now);
        last = now;
        free(during);
        scrapes++;
    }
    if (scrapes == SCRAPES_MAX)
        ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "load failed: %d", status);
    ck_assert_int_gt(scrapes, 0);

    after = scrape();
    ck_assert_double_eq(sample0(after, SIGN_SUCCESS) - sample0(before, SIGN_SUCCESS), LOAD_SIGNS);
    /* The requests that named an unknown key are requests too, with their status. */
    ck_assert_double_eq(sample0(after, SIGN_COUNT) - sample0(before, SIGN_COUNT),
                        LOAD_SIGNS + LOAD_UNKNOWN + LOAD_DENIED);
    ck_assert_double_eq(sample0(after, PING_SUCCESS) - sample0(before, PING_SUCCESS), LOAD_PINGS);
    ck_assert_double_eq(sample0(after, key_sign) - sample0(before, key_sign), LOAD_SIGNS);
    ck_assert_double_eq(sample0(after, key_unknown) - sample0(before, key_unknown), LOAD_UNKNOWN);
    ck_assert_double_eq(sample0(after, key_denied) - sample0(before, key_denied), LOAD_DENIED);
    /* Refusals by reason. */
    ck_assert_double_eq(sample0(after, REFUSED("unknown_key")) -
                            sample0(before, REFUSED("unknown_key")),
                        LOAD_UNKNOWN);
    ck_assert_double_eq(sample0(after, REFUSED("key_not_allowed")) -
                            sample0(before, REFUSED("key_not_allowed")),
                        LOAD_DENIED);
    ck_assert_double_eq(sample(after, "lurkd_request_duration_seconds_bucket{designation=\"tls13\","
                                      "type=\"sign_certificate_verify\",le=\"+Inf\"}"),
                        sample(after, SIGN_COUNT));
    /* Both load connections were accepted and are closed again. */
    ck_assert_double_eq(sample(after, "lurkd_connections_accepted_total") -
                            sample(before, "lurkd_connections_accepted_total"),
                        2);
    snprintf(listener, sizeof(listener), "lurkd_listener_connections{listener=\"%s\"}", tcp_addr);
    ck_assert_double_eq(sample(after, listener), 0);
    ck_assert_double_eq(sample(after, "lurkd_keys"), 2);
    ck_assert_double_eq(sample(after, "lurkd_queue_limit"), 4096);
    ck_assert(strstr(after, "lurkd_build_info{version=\"0.1.0\",openssl=\"OpenSSL 3.") != NULL);
    free(before);
    free(after);
}
END_TEST

/*
 * Requests naming made-up key ids, 5000 of them (more than the 4096 series
 * of the per-key table): they share one series, and a real key's requests
 * afterwards still get theirs; no series is dropped.
 */
START_TEST(unknown_key_ids_do_not_fill_the_key_series)
{
    enum { UNKNOWN = 5000 };
    EVP_PKEY *pkey = dc_load_key(lurk_test_pki("server-p256.key"));
    uint8_t key_id[4];
    char hex[9], key_sign[256];
    time_t deadline = time(NULL) + LOAD_SECONDS;

    start(NULL);
    dc_key_id(pkey, key_id);
    dc_key_id_hex(pkey, hex);
    EVP_PKEY_free(pkey);
    struct lurk_conn *tcp = dc_connect(tcp_addr, 1);
    int sent = 0;
    for (; sent < UNKNOWN && time(NULL) < deadline; sent++) {
        uint8_t id[4];
        ck_assert(RAND_bytes(id, sizeof(id)) == 1);
        if (memcmp(id, key_id, sizeof(id)) == 0)
            id[0] ^= 1;
        ck_assert_uint_eq(sign(tcp, id), LURK_TLS13_STATUS_INVALID_KEY_ID);
    }
    ck_assert_msg(sent == UNKNOWN, "%d requests in %d s", sent, LOAD_SECONDS);
    ck_assert_uint_eq(sign(tcp, key_id), LURK_STATUS_SUCCESS);
    lurk_conn_close(tcp);

    char *text = scrape();
    snprintf(key_sign, sizeof(key_sign),
             "lurkd_key_requests_total{key=\"p256\",key_id=\"%s\",designation=\"tls13\","
             "type=\"sign_certificate_verify\",status=\"success\"}",
             hex);
    ck_assert_msg(sample(text, key_sign) == 1, "no %s in the scrape", key_sign);
    ck_assert_double_eq(sample(text, "lurkd_key_requests_total{key=\"\",key_id=\"unknown\","
                                     "designation=\"tls13\",type=\"sign_certificate_verify\","
                                     "status=\"invalid_key_id\"}"),
                        UNKNOWN);
    ck_assert_double_eq(sample(text, "lurkd_key_series_dropped_total"), 0);
    int series = 0;
    for (const char *p = text; (p = strstr(p, "\nlurkd_key_requests_total{")) != NULL; p++)
        series++;
    ck_assert_int_eq(series, 2);
    free(text);
}
END_TEST

/*
 * connection_queue_limit = 1: RSA signatures pipelined on one connection go
 * to the workers, and those that arrive while one is in flight are refused
 * with temporary_failure. The metric counts exactly the refusals received.
 */
START_TEST(queue_refusals_are_counted_by_reason)
{
    enum { N = 40, FRAME = 128 };
    EVP_PKEY *rsa = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    uint8_t rsa_id[4], hash[32], payload[64], all[N * FRAME];
    size_t len, at = 0;
    struct lurk_conn *c;
    char extra[2048], *before, *after;
    int refused = 0, answered = 0;

    dc_key_id(rsa, rsa_id);
    EVP_PKEY_free(rsa);
    metrics_port = free_port();
    snprintf(extra, sizeof(extra), "[key.rsa]\nsource = %s\nclients = *\n" METRICS_SECTION,
             lurk_test_pki("server-rsa2048.key"), metrics_port);
    dc_start(&lurkd, "connection_queue_limit = 1\n", extra, tcp_addr, tls_addr, sizeof(tcp_addr));
    before = scrape();
    c = dc_connect(tcp_addr, 1);
    memset(hash, 7, sizeof(hash));
    len =
        dc_sign_cv_payload(payload, 0, rsa_id, 0x0804, LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    /* One write: the reader sees them together, while the first is being signed. */
    for (int i = 0; i < N; i++)
        at += dc_message(all + at, sizeof(all) - at, LURK_DESIGNATION_TLS13, 1,
                         LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, 1000 + (uint64_t)i, payload,
                         len);
    dc_send(c, all, at);
    for (int i = 0; i < N; i++) {
        struct lurk_response resp;
        ck_assert_msg(dc_recv(c, &resp, 10000), "response %d missing", i);
        if (resp.msg.hdr.designation == LURK_DESIGNATION_LURK &&
            resp.msg.hdr.status == LURK_STATUS_TEMPORARY_FAILURE)
            refused++;
        else if (resp.msg.hdr.status == LURK_STATUS_SUCCESS)
            answered++;
        lurk_response_free(&resp);
    }
    lurk_conn_close(c);
    ck_assert_int_eq(refused + answered, N);
    ck_assert_int_gt(refused, 0);
    after = scrape();
    ck_assert_double_eq(sample0(after, REFUSED("connection_queue_limit")) -
                            sample0(before, REFUSED("connection_queue_limit")),
                        refused);
    ck_assert_double_eq(sample0(after, "lurkd_requests_total{designation=\"tls13\",type=\"sign_"
                                       "certificate_verify\",status=\"temporary_failure\"}"),
                        refused);
    printf("connection_queue_limit = 1: %d of %d pipelined RSA signatures refused, %d signed; "
           "lurkd_requests_refused_total{reason=\"connection_queue_limit\"} %g\n",
           refused, N, answered, sample0(after, REFUSED("connection_queue_limit")));
    free(before);
    free(after);
}
END_TEST

/* Connections by listener while they are open; the certificate's notAfter per key. */
START_TEST(listener_connections_and_certificate_expiry)
{
    struct lurk_conn *c[3];
    char series[512], *text;
    FILE *f;
    X509 *cert;
    struct tm tm;
    EVP_PKEY *pkey = dc_load_key(lurk_test_pki("server-p256.key"));
    char hex[9];

    start(NULL);
    dc_key_id_hex(pkey, hex);
    EVP_PKEY_free(pkey);
    c[0] = dc_connect(tcp_addr, 1);
    c[1] = dc_connect(tcp_addr, 1);
    c[2] = dc_connect(tls_addr, 1);
    /* A TLS connection counts once its handshake is done: a call makes sure it is. */
    for (int i = 0; i < 3; i++) {
        struct lurk_response resp;
        ck_assert_uint_eq(dc_call(c[i], LURK_DESIGNATION_LURK, LURK_TYPE_PING, NULL, 0, &resp),
                          LURK_STATUS_SUCCESS);
        lurk_response_free(&resp);
    }
    text = scrape();
    snprintf(series, sizeof(series), "lurkd_listener_connections{listener=\"%s\"}", tcp_addr);
    ck_assert_double_eq(sample(text, series), 2);
    snprintf(series, sizeof(series), "lurkd_listener_connections{listener=\"%s\"}", tls_addr);
    ck_assert_double_eq(sample(text, series), 1);
    snprintf(series, sizeof(series), "lurkd_listener_connections{listener=\"%s\"}",
             lurkd.unix_addr);
    ck_assert_double_eq(sample(text, series), 0);
    ck_assert_double_eq(sample(text, "lurkd_connections"), 3);

    /* notAfter, computed here with OpenSSL from the same certificate file. */
    f = fopen(lurk_test_pki("server-p256.crt"), "r");
    ck_assert(f != NULL);
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert(cert != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1);
    X509_free(cert);
    snprintf(series, sizeof(series),
             "lurkd_key_certificate_expiry_timestamp_seconds{key=\"p256\",key_id=\"%s\"}", hex);
    ck_assert_double_eq(sample(text, series), (double)timegm(&tm));
    free(text);
    for (int i = 0; i < 3; i++)
        lurk_conn_close(c[i]);
}
END_TEST

/* /healthz, /readyz, HEAD; other paths 404, other methods 405. */
START_TEST(health_ready_and_other_requests)
{
    char body[512];

    start(NULL);
    ck_assert_int_eq(http("GET", "/healthz", body, sizeof(body)), 200);
    ck_assert_str_eq(body, "ok\n");
    ck_assert_int_eq(http("GET", "/readyz", body, sizeof(body)), 200);
    ck_assert_msg(strstr(body, "ready: 2 keys, 3 listeners") != NULL, "%s", body);
    ck_assert_int_eq(http("HEAD", "/metrics", NULL, 0), 200);
    ck_assert_int_eq(http("GET", "/", body, sizeof(body)), 404);
    ck_assert_int_eq(http("GET", "/metrics/x", NULL, 0), 404);
    ck_assert_int_eq(http("POST", "/metrics", body, sizeof(body)), 405);
    ck_assert_int_eq(http("DELETE", "/healthz", NULL, 0), 405);
    ck_assert_int_eq(http("PUT", "/readyz", NULL, 0), 405);
    /* The Allow header says what is allowed. */
    char cmd[256], out[2048];
    snprintf(cmd, sizeof(cmd), "curl -s -i --max-time 10 -X POST http://127.0.0.1:%d/metrics",
             metrics_port);
    ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "Allow: GET, HEAD") != NULL, "%s", out);
    /* Headers over 16 KiB: 431, five times, logged at most once a second. */
    snprintf(cmd, sizeof(cmd),
             "for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%%{http_code} ' --max-time 10 "
             "-H \"X-Big: $(head -c 20000 /dev/zero | tr '\\0' x)\" "
             "http://127.0.0.1:%d/metrics; done",
             metrics_port);
    ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "431 431 431 431 431 ");
    ck_assert(dc_wait_count(lurkd.log, "metrics endpoint: ", 1, 5000));
    ck_assert_int_le(dc_count(lurkd.log, "metrics endpoint: "), 2);
    ck_assert_int_eq(dc_count(lurkd.log, "<html>"), 0);
    /* A request line no HTTP server accepts: an error answer, and lurkd still serves. */
    snprintf(cmd, sizeof(cmd),
             "printf 'BAD\\r\\n\\r\\n' | curl -s --max-time 5 telnet://127.0.0.1:%d >/dev/null",
             metrics_port);
    run(cmd, out, sizeof(out));
    ck_assert_int_eq(http("GET", "/healthz", NULL, 0), 200);
}
END_TEST

/* Without a key lurkd is alive but not ready. */
START_TEST(readyz_without_keys_is_503)
{
    char text[512], body[256];

    ck_assert(lurk_test_lurkd_init(&lurkd));
    metrics_port = free_port();
    snprintf(text, sizeof(text),
             "[lurkd]\n%s[listener.local]\naddress = %s\n" /* no key */
             "[metrics]\naddress = 127.0.0.1:%d\n",
             geteuid() == 0 ? "run_as_root = yes\n" : "", lurkd.unix_addr, metrics_port);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    ck_assert(lurk_test_lurkd_start(&lurkd, NULL));
    ck_assert_int_eq(http("GET", "/healthz", NULL, 0), 200);
    ck_assert_int_eq(http("GET", "/readyz", body, sizeof(body)), 503);
    ck_assert_str_eq(body, "no key loaded\n");
}
END_TEST

/* An idle connection until it is closed: seconds waited, or -1 after limit_s. */
static int closed_after(int fd, int limit_s)
{
    time_t t0 = time(NULL);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char b;

    while (time(NULL) - t0 < limit_s) {
        if (poll(&pfd, 1, 200) == 1 && recv(fd, &b, 1, 0) <= 0)
            return (int)(time(NULL) - t0);
    }
    return -1;
}

/* A connection to the metrics port from source (a loopback address: 127.0.0.N). */
static int connect_metrics_from(const char *source)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)metrics_port)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert(fd >= 0 && inet_pton(AF_INET, source, &src.sin_addr) == 1 &&
              bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
              connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    return fd;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until the peer closes or timeout_s pass; what was read in buf, seconds taken in *secs. */
static size_t read_answer(int fd, char *buf, size_t len, int timeout_s, int *secs)
{
    time_t t0 = time(NULL);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t n = 0;

    while (n + 1 < len && time(NULL) - t0 < timeout_s) {
        if (poll(&pfd, 1, 200) != 1)
            continue;
        ssize_t got = recv(fd, buf + n, len - 1 - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *secs = (int)(time(NULL) - t0);
    return n;
}

/*
 * max_connections: with the limit taken, another connection is not served
 * (it waits in the listen backlog); timeout: connections that send nothing
 * or half a request are closed, and the waiting one is served then. Holding
 * the port costs an attacker a connection per slot, renewed every timeout.
 */
START_TEST(connections_are_bounded_in_number_and_time)
{
    static const char request[] = "GET /healthz HTTP/1.0\r\n\r\n";
    int held[2], extra, waited, w0, w1;
    char answer[1024];
    struct pollfd pfd;

    /* From three addresses, as a scraper and health checks would come. */
    start("max_connections = 2\ntimeout = 2s\n");
    held[0] = connect_metrics_from("127.0.0.1");
    held[1] = connect_metrics_from("127.0.0.2");
    ck_assert(send(held[1], "GET /metr", 9, 0) == 9); /* half a request line */
    usleep(300 * 1000);
    long long t0 = now_ms();
    extra = connect_metrics_from("127.0.0.3");
    ck_assert(send(extra, request, strlen(request), 0) == (ssize_t)strlen(request));
    pfd = (struct pollfd){.fd = extra, .events = POLLIN};
    ck_assert_msg(poll(&pfd, 1, 1000) == 0, "served over max_connections");
    /* The held connections time out; then the waiting request is answered. */
    read_answer(extra, answer, sizeof(answer), 20, &waited);
    long long answered = now_ms() - t0;
    ck_assert_msg(strncmp(answer, "HTTP/1.", 7) == 0 && strstr(answer, " 200 ") != NULL,
                  "no answer after %d s: \"%s\"", waited, answer);
    close(extra);
    w0 = closed_after(held[0], 30);
    w1 = closed_after(held[1], 30);
    ck_assert_msg(w0 >= 0 && w1 >= 0, "held connections not closed: %d %d", w0, w1);
    close(held[0]);
    close(held[1]);
    printf("metrics port, max_connections = 2, timeout = 2s: a third request not served while "
           "both are held, answered %lld ms after it connected, once they timed out\n",
           answered);
    ck_assert_int_eq(http("GET", "/healthz", NULL, 0), 200);
}
END_TEST

/*
 * Trickled bytes: libmicrohttpd's timeout counts silence only, so a request
 * line sent a byte a second (under timeout = 2s) holds its connection for
 * as long as it comes. Four such connections from one address, against
 * max_connections = 4: two are held (a quarter per address, at least two),
 * the others are closed at once, and a scrape from another address is
 * answered while the trickle goes on. On the tree of 1f9f050 the four held every connection
 * and /healthz went unanswered for as long as they trickled.
 */
START_TEST(trickled_bytes_from_one_address_leave_the_rest)
{
    enum { TRICKLERS = 4 };
    static const char request[] = "GET /healthz HTTP/1.0\r\n\r\n";
    static const char line[] = "GET /metrics HTTP/1.0\r\n";
    int fds[TRICKLERS], other = -1, held = 0;
    char answer[1024] = "";
    size_t got = 0;
    long long asked = 0, answered = -1;

    start("max_connections = 4\ntimeout = 2s\n");
    for (int i = 0; i < TRICKLERS; i++)
        fds[i] = connect_metrics_from("127.0.0.1");
    /*
     * A byte a second for 6 s, never silent as long as the timeout; after
     * 3 s, a scrape from another address, which must be answered before
     * the trickle stops (not because a trickler timed out).
     */
    for (int tick = 0; tick < 60; tick++) {
        if (tick % 10 == 0)
            for (int i = 0; i < TRICKLERS; i++)
                if (fds[i] >= 0 && send(fds[i], &line[tick / 10], 1, MSG_NOSIGNAL) != 1) {
                    close(fds[i]);
                    fds[i] = -1;
                }
        if (tick == 30) {
            other = connect_metrics_from("127.0.0.2");
            ck_assert(send(other, request, strlen(request), 0) == (ssize_t)strlen(request));
            asked = now_ms();
        }
        if (other >= 0 && answered < 0) {
            struct pollfd pfd = {.fd = other, .events = POLLIN};
            ssize_t n =
                poll(&pfd, 1, 0) == 1 ? recv(other, answer + got, sizeof(answer) - 1 - got, 0) : -1;
            if (n > 0)
                got += (size_t)n;
            if (strstr(answer, "\r\n") != NULL)
                answered = now_ms() - asked;
        }
        usleep(100 * 1000);
    }
    if (other >= 0)
        close(other);
    for (int i = 0; i < TRICKLERS; i++)
        if (fds[i] >= 0) {
            held += send(fds[i], "\r", 1, MSG_NOSIGNAL) == 1;
            close(fds[i]);
        }
    printf("metrics port, max_connections = 4, timeout = 2s: %d of %d connections trickling a "
           "byte a second from one address held after 6 s; a scrape from another answered in "
           "%lld ms (-1: not while they trickled)\n",
           held, TRICKLERS, answered);
    ck_assert_msg(answered >= 0 && strncmp(answer, "HTTP/1.", 7) == 0 && strstr(answer, " 200 "),
                  "a scrape from another address was not answered while one address trickled: "
                  "\"%s\"",
                  answer);
    ck_assert_int_le(held, 2);
}
END_TEST

/* A metrics port in use: a clear error at start, exit status 1, nothing left listening. */
START_TEST(port_in_use_is_a_clear_error)
{
    const char *const args[] = {"-f", "-c", lurkd.conf, NULL};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int busy = socket(AF_INET, SOCK_STREAM, 0), line;
    char extra[1024], out[4096], want[600], *conf;
    struct stat st;

    ck_assert(busy >= 0 && bind(busy, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
              listen(busy, 1) == 0 && getsockname(busy, (struct sockaddr *)&sin, &len) == 0);
    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\nclients = *\n" METRICS_SECTION,
             lurk_test_pki("server-p256.key"), ntohs(sin.sin_port));
    ck_assert(dc_write_config(&lurkd, NULL, extra));
    conf = lurk_test_read_file(lurkd.conf, NULL);
    line = 1;
    for (const char *p = conf; p < strstr(conf, "address = 127.0.0.1:"); p++)
        line += *p == '\n';
    free(conf);
    ck_assert_int_eq(dc_run(&lurkd, args, out, sizeof(out), 10000), 1);
    snprintf(want, sizeof(want),
             "lurkd: %s:%d: cannot listen on metrics address 127.0.0.1:%d: Address already in use",
             lurkd.conf, line, ntohs(sin.sin_port));
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    ck_assert_msg(stat(lurkd.unix_addr + strlen("unix:"), &st) != 0, "unix socket left behind");
    close(busy);
}
END_TEST

#define MARK "<<"

static const struct {
    const char *text, *reason;
} bad[] = {
    {"[metrics]\naddress = 127.0.0.1" MARK "\n", "address must be HOST:PORT"},
    {"[metrics]\naddress = http://127.0.0.1:9273" MARK "\n", "address must be HOST:PORT"},
    {"[metrics]\naddress = unix:/run/m.sock" MARK "\n", "address must be HOST:PORT"},
    {"[metrics]\naddress = 127.0.0.1:0" MARK "\n", "address needs a port other than 0"},
    {"[metrics]\naddress = 127.0.0.1:99999" MARK "\n", "address must be HOST:PORT"},
    {"[metrics]\naddress = 127.0.0.1:9273\nmax_connections = 0" MARK "\n",
     "max_connections must be 1..1024"},
    {"[metrics]\naddress = 127.0.0.1:9273\nmax_connections = lots" MARK "\n",
     "max_connections must be 1..1024"},
    {"[metrics]\naddress = 127.0.0.1:9273\ntimeout = 0" MARK "\n", "timeout must be 1s..5m"},
    {"[metrics]\naddress = 127.0.0.1:9273\ntimeout = 1h" MARK "\n", "timeout must be 1s..5m"},
    {"[metrics]\naddress = 127.0.0.1:9273\nport = 9273" MARK "\n",
     "unknown setting \"port\" in [metrics]"},
    {"[metrics]" MARK "\nmax_connections = 4\n", "[metrics] has no address"},
    {"[metrics]\naddress = no such host:9273" MARK "\n", "address must be HOST:PORT"},
};

/* Each bad [metrics] value: exit status 78 (configuration error) and file:line, in both modes. */
START_TEST(bad_metrics_values_name_file_and_line)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    const char *const runf[] = {"-f", "-c", lurkd.conf, NULL};
    const char *const *modes[] = {check, runf};
    char extra[1024], out[4096], prefix[600], *text, *mark;
    int line = 1;

    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\nclients = *\n%s",
             lurk_test_pki("server-p256.key"), bad[_i].text);
    ck_assert(dc_write_config(&lurkd, NULL, extra));
    text = lurk_test_read_file(lurkd.conf, NULL);
    mark = strstr(text, MARK);
    ck_assert(mark != NULL);
    for (const char *p = text; p < mark; p++)
        line += *p == '\n';
    memmove(mark, mark + strlen(MARK), strlen(mark + strlen(MARK)) + 1);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    snprintf(prefix, sizeof(prefix), "lurkd: %s:%d: ", lurkd.conf, line);
    for (int m = 0; m < 2; m++) {
        int st = dc_run(&lurkd, modes[m], out, sizeof(out), 10000);
        ck_assert_msg(st == DC_EXIT_CONFIG, "case %d (%s): exit status %d:\n%s", _i, modes[m][0],
                      st, out);
        ck_assert_msg(strstr(out, prefix) != NULL, "case %d: no \"%s\" in:\n%s", _i, prefix, out);
        ck_assert_msg(strstr(out, bad[_i].reason) != NULL, "case %d: no \"%s\" in:\n%s", _i,
                      bad[_i].reason, out);
    }
}
END_TEST

/* Every setting at its bounds, an IPv6 address: --check passes (and binds nothing). */
START_TEST(good_metrics_sections_pass_check)
{
    static const char *const sections[] = {
        "[metrics]\naddress = [::1]:9273\nmax_connections = 1024\ntimeout = 5m\n",
        "[metrics]\naddress = 127.0.0.1:65535\nmax_connections = 1\ntimeout = 1s\n",
        "[metrics]\naddress = localhost:9273\n",
    };
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char extra[1024], out[4096];

    ck_assert(lurk_test_lurkd_init(&lurkd));
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\nclients = *\n%s",
                 lurk_test_pki("server-p256.key"), sections[i]);
        ck_assert(dc_write_config(&lurkd, NULL, extra));
        int st = dc_run(&lurkd, check, out, sizeof(out), 10000);
        ck_assert_msg(st == 0, "%s: exit status %d:\n%s", sections[i], st, out);
    }
}
END_TEST

/* Rewrites lurkd's config with the [metrics] section text (and the same key). */
static void rewrite(const char *metrics)
{
    char extra[2048];

    snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\ncertificate = %s\nclients = *\n%s",
             lurk_test_pki("server-p256.key"), lurk_test_pki("server-p256.crt"), metrics);
    ck_assert(dc_write_config(&lurkd, NULL, extra));
}

/*
 * SIGHUP: a broken [metrics] keeps the old configuration and the endpoint,
 * and is counted as a failed reload; a changed address takes effect at
 * restart (the endpoint stays where it is); a good reload is counted too.
 */
START_TEST(reloads_keep_the_endpoint_and_count_their_result)
{
    char section[256], *text;
    int port = 0;

    start(NULL);
    port = metrics_port;
    /* Broken: timeout out of range. */
    snprintf(section, sizeof(section), "[metrics]\naddress = 127.0.0.1:%d\ntimeout = 0\n", port);
    rewrite(section);
    ck_assert(kill(lurkd.pid, SIGHUP) == 0);
    ck_assert(dc_wait_count(lurkd.log, "reload failed, still serving the previous configuration", 1,
                            10000));
    ck_assert(dc_wait_count(lurkd.log, "timeout must be 1s..5m", 1, 1000));
    text = scrape();
    ck_assert_double_eq(sample(text, "lurkd_reloads_total{result=\"failure\"}"), 1);
    ck_assert_double_eq(sample(text, "lurkd_reloads_total{result=\"success\"}"), 0);
    ck_assert_double_eq(sample(text, "lurkd_config_last_reload_successful"), 0);
    /* The old configuration (two keys) still serves; the broken one had one. */
    ck_assert_double_eq(sample(text, "lurkd_keys"), 2);
    free(text);
    /* A new address: warned about, the endpoint stays on the old one until restart. */
    snprintf(section, sizeof(section), "[metrics]\naddress = 127.0.0.1:%d\n", free_port());
    rewrite(section);
    ck_assert(kill(lurkd.pid, SIGHUP) == 0);
    ck_assert(dc_wait_count(lurkd.log, "configuration reloaded", 1, 10000));
    ck_assert(dc_wait_count(lurkd.log, "[metrics] changes take effect at restart", 1, 1000));
    text = scrape();
    ck_assert_double_eq(sample(text, "lurkd_reloads_total{result=\"success\"}"), 1);
    ck_assert_double_eq(sample(text, "lurkd_config_last_reload_successful"), 1);
    ck_assert_double_eq(sample(text, "lurkd_keys"), 1);
    ck_assert(sample(text, "lurkd_config_last_reload_success_timestamp_seconds") >=
              sample(text, "lurkd_start_time_seconds"));
    ck_assert(sample(text, "lurkd_start_time_seconds") > 1.7e9);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_metrics");
    TCase *tc = tcase_create("metrics");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, scrape_under_load_counts_what_was_sent);
    tcase_add_test(tc, unknown_key_ids_do_not_fill_the_key_series);
    tcase_add_test(tc, queue_refusals_are_counted_by_reason);
    tcase_add_test(tc, listener_connections_and_certificate_expiry);
    tcase_add_test(tc, health_ready_and_other_requests);
    tcase_add_test(tc, readyz_without_keys_is_503);
    tcase_add_test(tc, connections_are_bounded_in_number_and_time);
    tcase_add_test(tc, trickled_bytes_from_one_address_leave_the_rest);
    tcase_add_test(tc, port_in_use_is_a_clear_error);
    tcase_add_loop_test(tc, bad_metrics_values_name_file_and_line, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, good_metrics_sections_pass_check);
    tcase_add_test(tc, reloads_keep_the_endpoint_and_count_their_result);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
