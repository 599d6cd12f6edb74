/*
 * lurkctl tls13 (tools/lurkctl_tls13.c) against a fake lurkd that answers
 * the first exchange of a replay with what a broken or hostile server may
 * send, and with traces whose secrets have lengths no TLS 1.3 hash has:
 *   - a secret longer than any hash (secret_data<0..2^8-1> allows 255 bytes)
 *     is printed whole;
 *   - a secret and the trace's value both longer than a hash, on the server
 *     role where lurkctl also compares with its own recomputed key schedule;
 *   - a trace whose master secret is neither 32 nor 48 bytes.
 * lurkctl must print, compare and exit normally. The buffers involved are on
 * the stack: scripts/test runs this suite under AddressSanitizer, which
 * reports the overflows these cases once caused.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "lurk/client.h"
#include "lurk/hex.h"
#include "lurk/tls13.h"
#include "proc.h"

#ifndef LURKCTL_PATH
#error "LURKCTL_PATH must name the lurkctl binary"
#endif

struct fake {
    char dir[32];
    char sock[64];
    char trace[64];
    char out[64];
    int listener;
};

static void fake_open(struct fake *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    snprintf(f->dir, sizeof(f->dir), "/tmp/lurkctl-tls13-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/fake.sock", f->dir);
    snprintf(f->trace, sizeof(f->trace), "%s/trace.json", f->dir);
    snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
    f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(f->listener, 0);
    ck_assert_int_eq(bind(f->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(f->listener, 1), 0);
}

static void fake_close(struct fake *f)
{
    close(f->listener);
    unlink(f->sock);
    unlink(f->trace);
    unlink(f->out);
    rmdir(f->dir);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    ck_assert_int_eq(fclose(fp), 0);
}

static char *hex_of(const uint8_t *data, size_t len)
{
    char *hex = malloc(2 * len + 1);

    ck_assert_ptr_nonnull(hex);
    lurk_hex_encode(data, len, hex);
    return hex;
}

static char *repeated_hex(uint8_t byte, size_t len)
{
    uint8_t buf[256];

    ck_assert_uint_le(len, sizeof(buf));
    memset(buf, byte, len);
    return hex_of(buf, len);
}

static bool read_exact(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, 10000) != 1 || (n = read(fd, buf, len)) <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * Accepts lurkctl's connection, checks its first request is of type want,
 * answers it with resp (success, same id), then hangs up: the replay stops
 * at its next exchange.
 */
static void answer_first_request(struct fake *f, uint8_t want, struct lurk_tls13_response *resp)
{
    struct pollfd p = {.fd = f->listener, .events = POLLIN};
    uint8_t head[LURK_HEADER_LEN], *req;
    struct lurk_message m;
    struct lurk_header hdr;
    lurk_cbs cbs;
    lurk_cbb cbb;
    size_t start, len;
    int conn;

    ck_assert_msg(poll(&p, 1, 10000) == 1, "lurkctl did not connect");
    conn = accept(f->listener, NULL, NULL);
    ck_assert_int_ge(conn, 0);
    ck_assert(read_exact(conn, head, sizeof(head)));
    lurk_cbs_init(&cbs, head, sizeof(head));
    ck_assert(lurk_header_parse(&cbs, &hdr));
    ck_assert_uint_ge(hdr.length, LURK_HEADER_LEN);
    ck_assert_uint_le(hdr.length, 1u << 20);
    len = hdr.length;
    req = malloc(len);
    ck_assert_ptr_nonnull(req);
    memcpy(req, head, sizeof(head));
    ck_assert(read_exact(conn, req + sizeof(head), len - sizeof(head)));
    ck_assert(lurk_message_parse(req, len, &m));
    ck_assert_uint_eq(m.hdr.designation, LURK_DESIGNATION_TLS13);
    ck_assert_uint_eq(m.hdr.type, want);

    hdr = m.hdr;
    hdr.status = LURK_STATUS_SUCCESS;
    resp->type = want;
    ck_assert(lurk_cbb_init(&cbb, 1024, 1u << 20));
    ck_assert(lurk_message_begin(&cbb, &start, &hdr));
    ck_assert(lurk_tls13_response_encode(&cbb, resp));
    ck_assert(lurk_message_end(&cbb, start));
    ck_assert_int_eq(write(conn, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb)),
                     (ssize_t)lurk_cbb_len(&cbb));
    lurk_cbb_cleanup(&cbb);
    free(req);
    close(conn);
}

/* Starts lurkctl tls13 ROLE on the trace against the fake, stdout and stderr into f->out. */
static pid_t start_lurkctl(const struct fake *f, const char *role)
{
    char addr[160];
    pid_t pid;

    snprintf(addr, sizeof(addr), "unix:%s", f->sock);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *out = freopen(f->out, "w", stdout);
        if (out == NULL || dup2(fileno(stdout), STDERR_FILENO) < 0)
            _exit(127);
        execl(LURKCTL_PATH, "lurkctl", "-s", addr, "--timeout", "5000", "tls13", role, f->trace,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits for lurkctl: its exit status, its output in *out (malloc'd); a crash fails the test. */
static int finish_lurkctl(const struct fake *f, pid_t pid, char **out)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *out = lurk_test_read_file(f->out, NULL);
    ck_assert_ptr_nonnull(*out);
    if (strstr(*out, "Sanitizer") != NULL || !WIFEXITED(status)) {
        fputs(*out, stderr); /* a sanitizer report is too long for a Check message */
        ck_abort_msg("lurkctl failed (status 0x%x), its output is above", status);
    }
    return WEXITSTATUS(status);
}

/*
 * A trace that is not strict JSON (here a repeated key, which a lenient
 * reader would resolve silently) stops lurkctl before any exchange, with
 * the file, line and column named.
 */
START_TEST(malformed_trace_names_line_and_column)
{
    struct fake f;
    char *out, where[96];
    pid_t pid;

    fake_open(&f);
    write_text(f.trace, "{\"messages\": {\"client_hello\": \"01000000\",\n"
                        "  \"client_hello\": \"02000000\"}}\n");
    pid = start_lurkctl(&f, "client");
    ck_assert_int_eq(finish_lurkctl(&f, pid, &out), 1);
    snprintf(where, sizeof(where), "lurkctl: %s: line 2 column ", f.trace);
    ck_assert_msg(strstr(out, where) != NULL && strstr(out, "duplicate") != NULL, "%s", out);
    free(out);
    fake_close(&f);
}
END_TEST

START_TEST(client_role_prints_a_255_byte_secret)
{
    struct lurk_tls13_response resp;
    struct fake f;
    uint8_t secret[255];
    char *out, *hex;
    pid_t pid;

    fake_open(&f);
    /* No pre_shared_key in the ClientHello: an ECDHE replay, init_handshake_secret first. */
    write_text(f.trace, "{\"messages\": {\"client_hello\": \"01000000\", "
                        "\"server_hello\": \"02000000\"}}\n");
    pid = start_lurkctl(&f, "client");
    memset(&resp, 0, sizeof(resp));
    memset(secret, 0xab, sizeof(secret));
    resp.ctx.crypto_service_session_id = 1;
    resp.ctx.crypto_service_cookie_init = 2;
    resp.secrets.secrets.n = 1;
    resp.secrets.secrets.s[0].type = LURK_TLS13_SECRET_CLIENT_HANDSHAKE_TRAFFIC_SECRET;
    lurk_cbs_init(&resp.secrets.secrets.s[0].data, secret, sizeof(secret));
    answer_first_request(&f, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, &resp);
    /* The trace stops the replay after this exchange (no EncryptedExtensions): no failure. */
    ck_assert_int_eq(finish_lurkctl(&f, pid, &out), 0);
    hex = hex_of(secret, sizeof(secret));
    ck_assert_msg(strstr(out, hex) != NULL, "the secret is not printed whole: %s", out);
    free(hex);
    free(out);
    fake_close(&f);
}
END_TEST

/* An RFC 8446 Certificate message holding the test PKI's P-256 server certificate, as hex. */
static char *certificate_message_hex(void)
{
    FILE *fp = fopen(lurk_test_pki("server-p256.crt"), "r");
    X509 *x;
    uint8_t *der = NULL, *msg;
    int der_len;
    size_t body, n;
    char *hex;

    ck_assert_ptr_nonnull(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    ck_assert_ptr_nonnull(x);
    der_len = i2d_X509(x, &der);
    X509_free(x);
    ck_assert_int_gt(der_len, 0);
    /* context<0> || certificate_list<3 + cert + 2> */
    body = 1 + 3 + 3 + (size_t)der_len + 2;
    msg = malloc(4 + body);
    ck_assert_ptr_nonnull(msg);
    n = 0;
    msg[n++] = 11;
    msg[n++] = (uint8_t)(body >> 16), msg[n++] = (uint8_t)(body >> 8), msg[n++] = (uint8_t)body;
    msg[n++] = 0;
    msg[n++] = (uint8_t)((body - 4) >> 16), msg[n++] = (uint8_t)((body - 4) >> 8);
    msg[n++] = (uint8_t)(body - 4);
    msg[n++] = (uint8_t)(der_len >> 16), msg[n++] = (uint8_t)(der_len >> 8);
    msg[n++] = (uint8_t)der_len;
    memcpy(msg + n, der, (size_t)der_len);
    n += (size_t)der_len;
    msg[n++] = 0, msg[n++] = 0;
    hex = hex_of(msg, n);
    OPENSSL_free(der);
    free(msg);
    return hex;
}

/*
 * Server role, ECDHE: lurkd signs its own CertificateVerify and lurkctl
 * recomputes the key schedule after it from the trace's master secret.
 * _i = 0: a 32-byte master secret (the recomputation runs) and a 64-byte
 * resumption secret in both the trace and the answer; _i = 1: a 64-byte
 * master secret, which no TLS 1.3 hash has.
 */
START_TEST(server_role_odd_secret_lengths)
{
    size_t ms_len = _i == 0 ? 32 : 64;
    struct lurk_tls13_response resp;
    struct fake f;
    uint8_t secret[64], sig[8];
    char *cert = certificate_message_hex(), *ms = repeated_hex(0x33, ms_len);
    char *res = repeated_hex(0x11, sizeof(secret)), *trace = NULL, *out;
    pid_t pid;

    fake_open(&f);
    ck_assert_int_gt(asprintf(&trace,
                              "{\"messages\": {\"client_hello\": \"01000000\", "
                              "\"server_hello\": \"02000000\", "
                              "\"encrypted_extensions\": \"080000020000\", "
                              "\"certificate\": \"%s\", "
                              "\"certificate_verify\": \"0f00000404030000\"}, "
                              "\"secrets\": {\"master_secret\": \"%s\", "
                              "\"server_handshake_traffic_secret\": \"%s\", "
                              "\"resumption_master_secret\": \"%s\"}}\n",
                              cert, ms, ms, res),
                     0);
    write_text(f.trace, trace);
    pid = start_lurkctl(&f, "server");
    memset(&resp, 0, sizeof(resp));
    memset(secret, 0x22, sizeof(secret));
    memset(sig, 0x44, sizeof(sig));
    resp.ctx.crypto_service_session_id = 1;
    resp.ctx.crypto_service_cookie_init = 2;
    resp.secrets.secrets.n = 1;
    resp.secrets.secrets.s[0].type = LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET;
    lurk_cbs_init(&resp.secrets.secrets.s[0].data, secret, sizeof(secret));
    lurk_cbs_init(&resp.signing.signature, sig, sizeof(sig));
    answer_first_request(&f, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, &resp);
    /* One secret compared, and it is not the trace's: status 1. */
    ck_assert_int_eq(finish_lurkctl(&f, pid, &out), 1);
    ck_assert_msg(strstr(out, "DOES NOT VERIFY") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "resumption_master_secret") != NULL &&
                      strstr(out, "DIFFERS from the trace") != NULL,
                  "%s", out);
    free(out);
    free(trace);
    free(res);
    free(ms);
    free(cert);
    fake_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lurkctl_tls13");
    TCase *tc = tcase_create("fake lurkd");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, malformed_trace_names_line_and_column);
    tcase_add_test(tc, client_role_prints_a_255_byte_secret);
    tcase_add_loop_test(tc, server_role_odd_secret_lengths, 0, 2);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
