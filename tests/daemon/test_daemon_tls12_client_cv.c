/*
 * tls12 client_certificate_verify (docs/protocol.md) against a real lurkd
 * over unix, tcp and tls: handshakes recorded from real OpenSSL TLS 1.2
 * clients and servers (tests/support/tls12_client_hs.c) are sent as they
 * are, and lurkd's signatures are verified here with the client key's
 * public key over those bytes. Then what lurkd must refuse, each with its
 * status and audit note: a key not allowed the exchange, a scheme the
 * CertificateRequest did not offer or that does not fit the key, SHA-1, a
 * certificate type the server did not ask for, another key's client
 * Certificate, a reordered or truncated handshake, and the attack this
 * exchange must not open: arbitrary 32- and 48-byte values (a digest)
 * signed through it (docs/security.md, "What lurkd will sign or decrypt").
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"
#include "tls12_client_hs.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

/* Client keys lurkd holds (client_certificate_verify named), and a server key it does not. */
enum { K_P256, K_RSA, K_SERVER, N_KEYS };
static const char *const key_files[N_KEYS] = {"server-p256", "server-rsa2048", "server-p384"};
static EVP_PKEY *pkeys[N_KEYS];
static X509 *certs[N_KEYS];
static uint8_t key_ids[N_KEYS][4];

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    ck_assert_msg(f != NULL, "%s", path);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void setup(void)
{
    char extra[2048], path[64];

    ck_assert(lurk_test_lurkd_init(&lurkd));
    for (int k = 0; k < N_KEYS; k++) {
        snprintf(path, sizeof(path), "%s.key", key_files[k]);
        pkeys[k] = dc_load_key(lurk_test_pki(path));
        snprintf(path, sizeof(path), "%s.crt", key_files[k]);
        certs[k] = load_cert(lurk_test_pki(path));
        dc_key_id(pkeys[k], key_ids[k]);
    }
    /* The server key keeps the default (signing) exchanges, which do not include this one. */
    snprintf(extra, sizeof(extra),
             "[key.client_p256]\nsource = %s\ncertificate = %s\nclients = client1, local, tcp\n"
             "exchanges = client_certificate_verify\n"
             "[key.client_rsa]\nsource = %s\nclients = client1, local, tcp\n"
             "exchanges = client_certificate_verify, ecdhe\n"
             "[key.server]\nsource = %s\nclients = client1, local, tcp\n",
             lurk_test_pki("server-p256.key"), lurk_test_pki("server-p256.crt"),
             lurk_test_pki("server-rsa2048.key"), lurk_test_pki("server-p384.key"));
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    for (int k = 0; k < N_KEYS; k++) {
        EVP_PKEY_free(pkeys[k]);
        X509_free(certs[k]);
        pkeys[k] = NULL;
        certs[k] = NULL;
    }
}

/* A recorded handshake of client key k (sigalgs: the server's CertificateRequest list). */
static uint8_t *record_with(int k, int server, const char *ciphers, const char *sigalgs,
                            size_t *len, uint16_t *sig)
{
    struct lurk_test_tls12_hs o = {.client_key = pkeys[k],
                                   .client_cert = certs[k],
                                   .server_key = server >= 0 ? pkeys[server] : NULL,
                                   .server_cert = server >= 0 ? certs[server] : NULL,
                                   .ciphers = ciphers,
                                   .client_sigalgs = sigalgs};
    uint8_t *m;

    ck_assert_msg(lurk_test_tls12_client_hs(&o, &m, len, sig), "TLS 1.2 handshake %s",
                  ciphers ? ciphers : "");
    return m;
}

/* The same with a P-256 server made for the handshake. */
static uint8_t *record(int k, const char *ciphers, const char *sigalgs, size_t *len, uint16_t *sig)
{
    return record_with(k, -1, ciphers, sigalgs, len, sig);
}

/* Sends a client_certificate_verify and returns its status; the response stays in resp. */
static uint8_t call(struct lurk_conn *c, int k, uint16_t sig, const uint8_t *m, size_t len,
                    struct lurk_response *resp)
{
    struct lurk_tls12_client_cv_request r = {.key_id = {0, {0}}, .sig_and_hash = sig};
    lurk_cbb cbb;
    uint8_t st;

    memcpy(r.key_id.id, key_ids[k], 4);
    lurk_cbs_init(&r.handshake_messages, m, len);
    ck_assert(lurk_cbb_init(&cbb, 256, 1 << 20));
    ck_assert(lurk_tls12_client_cv_request_encode(&cbb, &r));
    st = dc_call(c, LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY,
                 lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), resp);
    lurk_cbb_cleanup(&cbb);
    return st;
}

static void expect_refusal(struct lurk_conn *c, int k, uint16_t sig, const uint8_t *m, size_t len,
                           uint8_t status, const char *note)
{
    struct lurk_response resp = {0};

    ck_assert_uint_eq(call(c, k, sig, m, len, &resp), status);
    ck_assert_uint_eq(resp.msg.hdr.designation, LURK_DESIGNATION_TLS12);
    dc_assert_audited(&lurkd, resp.msg.hdr.id, lurk_tls12_status_name(status), note);
    lurk_response_free(&resp);
}

/* Real handshakes of each key, scheme and key exchange, signed and verified, on each transport. */
START_TEST(signs_real_handshakes)
{
    static const struct {
        int key, server; /* server: -1 for a P-256 server, or the RSA key's certificate */
        const char *ciphers, *sigalgs, *md;
        bool pss;
    } cases[] = {
        {K_P256, -1, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA+SHA256", "SHA256", false},
        {K_P256, K_RSA, "AES256-GCM-SHA384", "ECDSA+SHA384:RSA+SHA256", "SHA384", false},
        {K_RSA, K_RSA, "ECDHE-RSA-AES256-GCM-SHA384", "RSA+SHA384", "SHA384", false},
        {K_RSA, K_RSA, "DHE-RSA-AES128-GCM-SHA256", "rsa_pss_rsae_sha256", "SHA256", true},
        {K_RSA, -1, "ECDHE-ECDSA-CHACHA20-POLY1305", "RSA+SHA512", "SHA512", false},
    };
    struct lurk_conn *c = dc_connect(transport(_i), 1);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lurk_response resp = {0};
        struct lurk_tls12_ecdhe_response out;
        size_t len;
        uint16_t sig;
        uint8_t *m = record_with(cases[i].key, cases[i].server, cases[i].ciphers, cases[i].sigalgs,
                                 &len, &sig);

        ck_assert_msg(call(c, cases[i].key, sig, m, len, &resp) == LURK_STATUS_SUCCESS,
                      "case %zu: status %u", i, resp.msg.hdr.status);
        ck_assert_uint_eq(lurk_tls12_ecdhe_response_decode(&resp.msg.payload, &out),
                          LURK_STATUS_SUCCESS);
        ck_assert_msg(dc_verify(pkeys[cases[i].key], cases[i].md, cases[i].pss, m, len,
                                lurk_cbs_data(&out.signature), lurk_cbs_len(&out.signature)),
                      "case %zu: the signature does not verify over the handshake messages", i);
        char *line = dc_audit_line(&lurkd, resp.msg.hdr.id);
        ck_assert_ptr_nonnull(line);
        ck_assert_ptr_nonnull(strstr(line, "\"exchange\":\"tls12/client_certificate_verify\""));
        ck_assert_ptr_nonnull(strstr(line, "\"status\":\"success\""));
        free(line);
        lurk_response_free(&resp);
        free(m);
    }
    lurk_conn_close(c);
}
END_TEST

/* The capabilities record of type 129 lists the client keys, not the server key. */
START_TEST(announced_in_capabilities)
{
    struct lurk_conn *c = dc_connect(transport(0), 1);
    struct lurk_response resp = {0};
    struct lurk_tls12_capabilities_response caps;
    const struct lurk_tls12_capability *cv = NULL;

    ck_assert_uint_eq(
        dc_call(c, LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CAPABILITIES, NULL, 0, &resp),
        LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(lurk_tls12_capabilities_response_decode(&resp.msg.payload, &caps),
                      LURK_STATUS_SUCCESS);
    for (size_t i = 0; i < caps.n_caps; i++)
        if (caps.caps[i].type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY)
            cv = &caps.caps[i];
    ck_assert_ptr_nonnull(cv);
    ck_assert_uint_eq(lurk_cbs_len(&cv->freshness_funct_list), 0);
    ck_assert_uint_gt(lurk_cbs_len(&cv->sig_and_hash_list), 0);
    ck_assert_uint_gt(lurk_cbs_len(&cv->cipher_suite_list), 0);
    /* Two certificates: client_p256's X.509 and client_rsa's raw public key. */
    lurk_cbs list = cv->typed_certificate_list;
    struct lurk_tls12_typed_certificate tc;
    int n = 0, x509 = 0;
    while (lurk_tls12_typed_certificate_next(&list, &tc)) {
        n++;
        x509 += tc.certificate_type == LURK_CERTIFICATE_TYPE_X509;
    }
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(x509, 1);
    lurk_response_free(&resp);
    lurk_conn_close(c);
}
END_TEST

START_TEST(refusals)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    size_t len;
    uint16_t sig;
    uint8_t *m = record(K_P256, NULL, "ECDSA+SHA256:RSA+SHA256:ECDSA+SHA1", &len, &sig);
    uint8_t *t = malloc(len + 1);

    /* The server key: its policy does not name the exchange. */
    expect_refusal(c, K_SERVER, sig, m, len, LURK_TLS12_STATUS_INVALID_KEY_ID,
                   "exchange not allowed for this key");
    /* Not offered by the CertificateRequest. */
    expect_refusal(c, K_P256, 0x0503, m, len, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "sig_and_hash is not in the CertificateRequest");
    /* Offered, but an RSA scheme for an EC key. */
    expect_refusal(c, K_P256, 0x0401, m, len, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "sig_and_hash does not fit the key");
    /* Offered, but SHA-1. */
    expect_refusal(c, K_P256, 0x0203, m, len, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "SHA-1 and MD5 signatures are refused");
    /* The P-256 client's handshake under the RSA key's id: another key's Certificate. */
    expect_refusal(c, K_RSA, 0x0401, m, len, LURK_TLS12_STATUS_INVALID_KEY_ID,
                   "the client Certificate does not hold the key's public key");
    /* Truncated, and one byte too many. */
    expect_refusal(c, K_P256, sig, m, len - 1, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "a handshake message is longer than the bytes left");
    memcpy(t, m, len);
    t[len] = 0;
    expect_refusal(c, K_P256, sig, t, len + 1, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "bytes after the ClientKeyExchange");
    /* Only the ClientHello: no CertificateRequest, nothing signed. */
    size_t ch = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);
    expect_refusal(c, K_P256, sig, m, ch, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "the ClientHello is not followed by a ServerHello");
    /* certificate_types rewritten to dss_sign (2) only: not the key's type. */
    size_t at = 0;
    while (m[at] != 13)
        at += 4 + ((size_t)m[at + 1] << 16 | (size_t)m[at + 2] << 8 | m[at + 3]);
    memcpy(t, m, len);
    memset(t + at + 5, 2, t[at + 4]);
    expect_refusal(c, K_P256, sig, t, len, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "the CertificateRequest's certificate_types do not include the key's type");
    /* A TLS 1.3 ServerHello version. */
    memcpy(t, m, len);
    size_t sh = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);
    t[sh + 5] = 0x04;
    expect_refusal(c, K_P256, sig, t, len, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                   "ServerHello.server_version is not TLS 1.2");
    free(t);
    free(m);
    lurk_conn_close(c);
}
END_TEST

/*
 * docs/security.md: no caller-chosen digest is ever signed. A caller who
 * wants a signature over an arbitrary 32- or 48-byte value (what a digest
 * signing server would sign) sends it as handshake_messages, with every
 * scheme the key has: each is refused and no signature comes back.
 */
START_TEST(attack_arbitrary_digest)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    static const uint16_t schemes[] = {0x0403, 0x0503, 0x0401, 0x0501, 0x0804};
    uint8_t v[48];

    for (int fill = 0; fill < 4; fill++) {
        memset(v, 0x5a + fill, sizeof(v));
        if (fill == 1)
            v[0] = 0x01; /* starts like a ClientHello header */
        if (fill == 2)
            memcpy(v, "\x01\x00\x00\x2c\x03\x03", 6); /* a ClientHello of 44 bytes, alone */
        for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
            for (size_t n = 32; n <= 48; n += 16) {
                struct lurk_response resp = {0};
                int k = schemes[s] >> 8 == 4 && (schemes[s] & 0xff) == 3 ? K_P256 : K_RSA;
                ck_assert_uint_eq(call(c, k, schemes[s], v, n, &resp),
                                  LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT);
                ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 4); /* the state, no signature */
                lurk_response_free(&resp);
            }
        }
    }
    lurk_conn_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_tls12_client_cv");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, signs_real_handshakes, 0, 3);
    tcase_add_test(tc, announced_in_capabilities);
    tcase_add_loop_test(tc, refusals, 0, 3);
    tcase_add_loop_test(tc, attack_arbitrary_digest, 0, 3);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
