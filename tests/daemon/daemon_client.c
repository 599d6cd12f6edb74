/* Client side of the daemon tests; see daemon_client.h. */
#include "daemon_client.h"

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/names.h"

#ifndef LURKD_PATH
#error "LURKD_PATH must name the lurkd binary under test"
#endif

struct lurk_conn *dc_connect(const char *addr_text, int client)
{
    struct lurk_address addr;
    char err[512], cert[32], key[32];
    SSL_CTX *tls = NULL;
    struct lurk_conn *c;

    ck_assert_msg(lurk_address_parse(addr_text, &addr, err, sizeof(err)), "%s", err);
    if (addr.kind == LURK_ADDRESS_TLS) {
        snprintf(cert, sizeof(cert), "client%d.crt", client);
        snprintf(key, sizeof(key), "client%d.key", client);
        tls = lurk_client_tls_ctx_new(NULL, lurk_test_pki("ca.crt"), lurk_test_pki(cert),
                                      lurk_test_pki(key), err, sizeof(err));
        ck_assert_msg(tls != NULL, "%s", err);
    }
    c = lurk_conn_open(&addr, tls, 5000, err, sizeof(err));
    SSL_CTX_free(tls); /* the connection keeps its own reference */
    ck_assert_msg(c != NULL, "connect %s: %s", addr_text, err);
    return c;
}

uint8_t dc_call(struct lurk_conn *c, uint8_t designation, uint8_t type, const uint8_t *payload,
                size_t len, struct lurk_response *resp)
{
    char err[512];

    ck_assert_msg(lurk_conn_call(c, designation, type, payload, len, resp, 10000, err, sizeof(err)),
                  "%s/%s: %s", lurk_designation_name(designation),
                  lurk_type_name(designation, type), err);
    return resp->msg.hdr.status;
}

bool dc_raw(struct lurk_conn *c, const uint8_t *msg, size_t len, struct lurk_response *resp)
{
    char err[512];

    memset(resp, 0, sizeof(*resp));
    if (!lurk_conn_send(c, msg, len, 5000, err, sizeof(err)) ||
        !lurk_conn_recv(c, &resp->buf, &resp->len, 5000, err, sizeof(err)))
        return false;
    return lurk_message_parse(resp->buf, resp->len, &resp->msg);
}

size_t dc_message(uint8_t *out, size_t cap, uint8_t designation, uint8_t version, uint8_t type,
                  uint8_t status, uint64_t id, const uint8_t *payload, size_t len)
{
    struct lurk_header hdr = {designation, version, type, status, id, 0};
    lurk_cbb cbb;
    size_t start;

    lurk_cbb_init_fixed(&cbb, out, cap);
    ck_assert(lurk_message_begin(&cbb, &start, &hdr));
    ck_assert(lurk_cbb_add_bytes(&cbb, payload, len));
    ck_assert(lurk_message_end(&cbb, start));
    return lurk_cbb_len(&cbb);
}

/* Whether settings (lines of "name = value") set name. */
static bool has_setting(const char *settings, const char *name)
{
    size_t len = strlen(name);

    for (const char *s = settings; s != NULL && *s != '\0';
         s = strchr(s, '\n'), s = s ? s + 1 : s) {
        while (*s == ' ')
            s++;
        if (strncmp(s, name, len) == 0 && (s[len] == ' ' || s[len] == '='))
            return true;
    }
    return false;
}

bool dc_write_config(struct lurkd_proc *p, const char *lurkd_settings, const char *extra)
{
    char *spki = lurk_test_read_file(lurk_test_pki("client1.spki"), NULL);
    char *spki2 = lurk_test_read_file(lurk_test_pki("client2.spki"), NULL);
    char *text = NULL;
    bool ok;

    ck_assert(spki != NULL && spki2 != NULL);
    spki[strcspn(spki, "\n")] = '\0';
    spki2[strcspn(spki2, "\n")] = '\0';
    ok = asprintf(&text,
                  "[lurkd]\n"
                  "%s"
                  "audit_log = audit.log\n"
                  "%s"
                  "%s"
                  "%s"
                  "%s\n"
                  "[listener.local]\n"
                  "address = %s\n"
                  "[listener.tcp]\n"
                  "address = tcp://127.0.0.1:0\n"
                  "[listener.tls]\n"
                  "address = tls://127.0.0.1:0\n"
                  "certificate = %s\n"
                  "private_key = %s\n"
                  "client_ca = %s\n"
                  "[client.client1]\n"
                  "identity = spki-sha256:%s\n"
                  "[client.client2]\n"
                  "identity = spki-sha256:%s\n"
                  "[client.local]\n"
                  "identity = uid:%u\n"
                  "[client.tcp]\n"
                  "identity = tcp\n"
                  "%s",
                  /* The tests run as root on CI: lurkd stays root unless a test says otherwise. */
                  /* A setting given twice is an error: the defaults give way to the test's. */
                  has_setting(lurkd_settings, "workers") ? "" : "workers = 2\n",
                  has_setting(lurkd_settings, "log_level") ? "" : "log_level = info\n",
                  geteuid() == 0 ? "run_as_root = yes\n" : "",
                  /* The tests look for the audit line of each request, unless they set this. */
                  lurkd_settings && strstr(lurkd_settings, "audit_repeat_interval")
                      ? ""
                      : "audit_repeat_interval = 0\n",
                  lurkd_settings ? lurkd_settings : "", p->unix_addr, lurk_test_pki("lurkd.crt"),
                  lurk_test_pki("lurkd.key"), lurk_test_pki("ca.crt"), spki, spki2,
                  (unsigned)getuid(), extra ? extra : "") > 0 &&
         lurk_test_write_file(p, "lurkd.conf", text);
    free(text);
    free(spki);
    free(spki2);
    return ok;
}

/* ---- lurkd processes ---- */

/* Daemons started by this process, killed if it exits early (a failed check exits). */
#define MAX_PROCS 8
static struct lurkd_proc *procs[MAX_PROCS];

static void kill_leftovers(void)
{
    for (size_t i = 0; i < MAX_PROCS; i++) {
        if (procs[i] != NULL && procs[i]->pid > 0) {
            kill(procs[i]->pid, SIGKILL);
            waitpid(procs[i]->pid, NULL, 0);
            procs[i]->pid = 0;
            lurk_test_lurkd_cleanup(procs[i]);
        }
    }
}

static void track(struct lurkd_proc *p)
{
    static bool registered;

    if (!registered) {
        atexit(kill_leftovers);
        registered = true;
    }
    for (size_t i = 0; i < MAX_PROCS; i++) {
        if (procs[i] == p)
            return;
    }
    for (size_t i = 0; i < MAX_PROCS; i++) {
        if (procs[i] == NULL) {
            procs[i] = p;
            return;
        }
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void dc_start(struct lurkd_proc *p, const char *settings, const char *extra, char *tcp, char *tls,
              size_t addr_len)
{
    if (p->dir[0] == '\0')
        ck_assert(lurk_test_lurkd_init(p));
    track(p);
    ck_assert(dc_write_config(p, settings, extra));
    ck_assert_msg(lurk_test_lurkd_start(p, NULL), "lurkd did not start");
    if (tcp != NULL)
        ck_assert(lurk_test_lurkd_address(p, "tcp://", tcp, addr_len));
    if (tls != NULL)
        ck_assert(lurk_test_lurkd_address(p, "tls://", tls, addr_len));
}

static void assert_no_report(const char *text, const char *where);

bool dc_start_args(struct lurkd_proc *p, const char *const *args)
{
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0)
        return false;
    track(p);
    p->pid = lurk_test_lurkd_spawn(p, args, fd);
    close(fd);
    for (int waited = 0; waited < 10000; waited += 20) {
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return false;
        }
        if (dc_count(p->log, " started:") > 0)
            return true;
        sleep_ms(20);
    }
    return false;
}

int dc_run(const struct lurkd_proc *p, const char *const *args, char *out, size_t outlen,
           int timeout_ms)
{
    char path[600];
    int fd, status = -1;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/run.out", p->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert(fd >= 0);
    pid = lurk_test_lurkd_spawn(p, args, fd);
    close(fd);
    ck_assert(pid > 0);
    for (int waited = 0;; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            status = -1;
            break;
        }
        sleep_ms(10);
    }
    char *text = lurk_test_read_file(path, NULL);
    assert_no_report(text, path);
    if (out != NULL)
        snprintf(out, outlen, "%s", text ? text : "");
    free(text);
    if (status == -1)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int dc_wait_exit(struct lurkd_proc *p, int timeout_ms)
{
    int status;

    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    return -1;
}

static void assert_no_report(const char *text, const char *where)
{
    static const char *const markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                          "runtime error:", "WARNING: ThreadSanitizer"};

    for (size_t i = 0; text != NULL && i < sizeof(markers) / sizeof(markers[0]); i++)
        ck_assert_msg(strstr(text, markers[i]) == NULL, "sanitizer report in %s:\n%s", where, text);
}

void dc_assert_no_sanitizer_report(const char *log_path)
{
    char *log = lurk_test_read_file(log_path, NULL);

    assert_no_report(log, log_path);
    free(log);
}

void dc_stop(struct lurkd_proc *p)
{
    if (p->pid > 0) {
        int st = lurk_test_lurkd_signal(p, SIGTERM);
        if (st != 0) {
            char *log = lurk_test_read_file(p->log, NULL);
            fprintf(stderr, "lurkd exit status %d, log:\n%s\n", st, log ? log : "");
            free(log);
        }
        ck_assert_int_eq(st, 0);
    }
    if (p->dir[0] != '\0')
        dc_assert_no_sanitizer_report(p->log);
    lurk_test_lurkd_cleanup(p);
    p->dir[0] = '\0';
}

/* ---- logs ---- */

int dc_count(const char *path, const char *needle)
{
    char *text = lurk_test_read_file(path, NULL);
    int n = 0;

    for (const char *at = text; at != NULL && (at = strstr(at, needle)) != NULL;
         at += strlen(needle))
        n++;
    free(text);
    return n;
}

bool dc_wait_count(const char *path, const char *needle, int n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (dc_count(path, needle) >= n)
            return true;
        sleep_ms(20);
    }
    return false;
}

/* The line of text holding needle, malloc'd without its newline; NULL if none. */
static char *line_with(const char *text, const char *needle)
{
    const char *at = text ? strstr(text, needle) : NULL, *start = at;

    if (at == NULL)
        return NULL;
    while (start > text && start[-1] != '\n')
        start--;
    return strndup(start, (size_t)(at - start) + strcspn(at, "\n"));
}

static void id_needle(char *out, size_t len, uint64_t id)
{
    snprintf(out, len, "\"id\":\"%016" PRIx64 "\"", id);
}

char *dc_audit_line(const struct lurkd_proc *p, uint64_t id)
{
    char needle[64], *text, *line;

    id_needle(needle, sizeof(needle), id);
    if (!lurk_test_wait_for(p->audit, needle, 5000))
        return NULL;
    text = lurk_test_read_file(p->audit, NULL);
    line = line_with(text, needle);
    free(text);
    return line;
}

static void check_line(const char *line, uint64_t id, const char *status_name, const char *note)
{
    char status[96], want_note[256];

    ck_assert_msg(line != NULL, "no audit line for request %016" PRIx64, id);
    snprintf(status, sizeof(status), "\"status\":\"%s\"", status_name);
    snprintf(want_note, sizeof(want_note), "\"note\":\"%s", note ? note : "");
    ck_assert_msg(strstr(line, status) != NULL, "audit line without %s: %s", status, line);
    if (note != NULL)
        ck_assert_msg(strstr(line, want_note) != NULL, "audit line without note \"%s\": %s", note,
                      line);
    else
        ck_assert_msg(strstr(line, "\"note\":\"") != NULL, "audit line says no reason: %s", line);
}

void dc_assert_audited(const struct lurkd_proc *p, uint64_t id, const char *status_name,
                       const char *note)
{
    char *line = dc_audit_line(p, id);

    check_line(line, id, status_name, note);
    free(line);
}

static struct {
    uint64_t id;
    const char *status, *note;
} expected[1024];
static size_t n_expected;

void dc_expect_audit(uint64_t id, const char *status_name, const char *note)
{
    ck_assert_uint_lt(n_expected, sizeof(expected) / sizeof(expected[0]));
    expected[n_expected].id = id;
    expected[n_expected].status = status_name;
    expected[n_expected].note = note;
    n_expected++;
}

void dc_check_audits(const struct lurkd_proc *p)
{
    size_t n = n_expected;
    char needle[64], *text;

    n_expected = 0;
    if (n == 0)
        return;
    /* Lines are written in batches: once the last one is there, all are. */
    free(dc_audit_line(p, expected[n - 1].id));
    text = lurk_test_read_file(p->audit, NULL);
    for (size_t i = 0; i < n; i++) {
        id_needle(needle, sizeof(needle), expected[i].id);
        char *line = line_with(text, needle);
        if (line == NULL)
            free(text);
        check_line(line, expected[i].id, expected[i].status, expected[i].note);
        free(line);
    }
    free(text);
}

/* ---- raw pipelining ---- */

void dc_send(struct lurk_conn *c, const uint8_t *buf, size_t len)
{
    char err[512];

    ck_assert_msg(lurk_conn_send(c, buf, len, 10000, err, sizeof(err)), "send: %s", err);
}

bool dc_recv(struct lurk_conn *c, struct lurk_response *resp, int timeout_ms)
{
    char err[512];

    memset(resp, 0, sizeof(*resp));
    if (!lurk_conn_recv(c, &resp->buf, &resp->len, timeout_ms, err, sizeof(err)))
        return false;
    return lurk_message_parse(resp->buf, resp->len, &resp->msg);
}

/* ---- keys and signatures ---- */

EVP_PKEY *dc_load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pkey;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(pkey != NULL, "no private key in %s", path);
    return pkey;
}

EVP_PKEY *dc_key_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    ck_assert(pkey != NULL);
    return pkey;
}

void dc_key_id(EVP_PKEY *pkey, uint8_t id[4])
{
    unsigned char *der = NULL, digest[32];
    int len = i2d_PUBKEY(pkey, &der);

    ck_assert_int_gt(len, 0);
    ck_assert(EVP_Digest(der, (size_t)len, digest, NULL, EVP_sha256(), NULL) == 1);
    OPENSSL_free(der);
    memcpy(id, digest, 4);
}

void dc_key_id_hex(EVP_PKEY *pkey, char hex[9])
{
    uint8_t id[4];

    dc_key_id(pkey, id);
    snprintf(hex, 9, "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
}

bool dc_verify(EVP_PKEY *pkey, const char *md, bool pss, const uint8_t *msg, size_t len,
               const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = ctx != NULL && EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL) == 1;

    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    else if (ok && EVP_PKEY_is_a(pkey, "RSA"))
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    ok = ok && EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

size_t dc_sign_cv_payload(uint8_t *out, uint8_t key_id_type, const uint8_t key_id[4],
                          uint16_t scheme, uint8_t role, const uint8_t *hash, size_t hash_len)
{
    size_t n = 0;

    out[n++] = key_id_type;
    memcpy(out + n, key_id, 4);
    n += 4;
    out[n++] = (uint8_t)(scheme >> 8);
    out[n++] = (uint8_t)scheme;
    out[n++] = role;
    out[n++] = (uint8_t)hash_len;
    memcpy(out + n, hash, hash_len);
    return n + hash_len;
}

size_t dc_cv_content(uint8_t *out, uint8_t role, const uint8_t *hash, size_t hash_len)
{
    const char *ctx =
        role == 0 ? "TLS 1.3, server CertificateVerify" : "TLS 1.3, client CertificateVerify";
    size_t n = strlen(ctx);

    memset(out, 0x20, 64);
    memcpy(out + 64, ctx, n);
    out[64 + n] = 0x00;
    memcpy(out + 65 + n, hash, hash_len);
    return 65 + n + hash_len;
}

const char *dc_write_file(const struct lurkd_proc *p, const char *name, const char *text)
{
    static char path[600];

    ck_assert(lurk_test_write_file(p, name, text));
    snprintf(path, sizeof(path), "%s/%s", p->dir, name);
    return path;
}

long long dc_stat(struct lurk_conn *c, const char *series)
{
    struct lurk_response resp;
    lurk_cbs text;
    char needle[256], *copy, *at;
    long long v = -1;

    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp),
                      LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(lurk_stats_response_decode(&resp.msg.payload, &text), LURK_STATUS_SUCCESS);
    copy = strndup((const char *)lurk_cbs_data(&text), lurk_cbs_len(&text));
    /* A sample line starts the line and is followed by a space and the value. */
    snprintf(needle, sizeof(needle), "\n%s ", series);
    if (copy != NULL && (at = strstr(copy, needle)) != NULL)
        v = atoll(at + strlen(needle));
    free(copy);
    lurk_response_free(&resp);
    return v;
}

/* ---- synthetic TLS 1.2 RSA handshakes ---- */

static void hs_message(lurk_cbb *b, uint8_t type, const uint8_t *body, size_t len)
{
    lurk_cbb_add_u8(b, type);
    lurk_cbb_add_prefixed(b, 3, body, len);
}

size_t dc_tls12_rsa_handshake(uint8_t *out, size_t cap, const uint8_t cr[32], const uint8_t s[32],
                              uint16_t suite, bool ems, const uint8_t *epms, size_t epms_len)
{
    static const uint8_t ems_ext[] = {0x00, 0x17, 0x00, 0x00};
    uint8_t body[1100];
    lurk_cbb b, m;

    lurk_cbb_init_fixed(&b, out, cap);
    /* ClientHello: 0303, random, no session id, one suite, null compression, extensions */
    lurk_cbb_init_fixed(&m, body, sizeof(body));
    lurk_cbb_add_u16(&m, 0x0303);
    lurk_cbb_add_bytes(&m, cr, 32);
    lurk_cbb_add_u8(&m, 0);
    lurk_cbb_add_u16(&m, 2);
    lurk_cbb_add_u16(&m, suite);
    lurk_cbb_add_u8(&m, 1);
    lurk_cbb_add_u8(&m, 0);
    lurk_cbb_add_prefixed(&m, 2, ems_ext, ems ? sizeof(ems_ext) : 0);
    hs_message(&b, 1, body, lurk_cbb_len(&m));
    /* ServerHello: 0303, S, no session id, the suite, null compression, extensions */
    lurk_cbb_init_fixed(&m, body, sizeof(body));
    lurk_cbb_add_u16(&m, 0x0303);
    lurk_cbb_add_bytes(&m, s, 32);
    lurk_cbb_add_u8(&m, 0);
    lurk_cbb_add_u16(&m, suite);
    lurk_cbb_add_u8(&m, 0);
    lurk_cbb_add_prefixed(&m, 2, ems_ext, ems ? sizeof(ems_ext) : 0);
    hs_message(&b, 2, body, lurk_cbb_len(&m));
    hs_message(&b, 14, NULL, 0);
    /* ClientKeyExchange: EncryptedPreMasterSecret with its 2-byte length */
    lurk_cbb_init_fixed(&m, body, sizeof(body));
    lurk_cbb_add_prefixed(&m, 2, epms, epms_len);
    hs_message(&b, 16, body, lurk_cbb_len(&m));
    ck_assert(lurk_cbb_ok(&m) && lurk_cbb_ok(&b));
    return lurk_cbb_len(&b);
}
