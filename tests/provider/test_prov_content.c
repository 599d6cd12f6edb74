/*
 * The content classifier (provider/prov_content.c) as a unit: what libssl
 * hands the signature operation, and which LURK exchange it becomes
 * (docs/architecture.md §4). Shapes from RFC 8446 §4.4.3 and RFC 5246 §7.4.3 / RFC
 * 8422 §5.4.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check_run.h"
#include "lurk/tls13.h"
#include "prov_content.h"
#include "tls12_client_hs.h"

static size_t cv(uint8_t *out, const char *context, size_t hash_len)
{
    size_t n = 0;

    memset(out, 0x20, 64);
    n = 64;
    memcpy(out + n, context, strlen(context));
    n += strlen(context);
    out[n++] = 0;
    for (size_t i = 0; i < hash_len; i++)
        out[n++] = (uint8_t)(0xa0 + i);
    return n;
}

START_TEST(tls13_server_and_client)
{
    static const size_t lens[] = {32, 48};
    uint8_t buf[256];
    struct lurk_prov_content c;

    for (size_t i = 0; i < 2; i++) {
        size_t n = cv(buf, "TLS 1.3, server CertificateVerify", lens[i]);
        ck_assert_uint_eq(n, 98 + lens[i]);
        lurk_prov_content_classify(buf, n, &c);
        ck_assert_int_eq(c.kind, LURK_CONTENT_TLS13_CERTIFICATE_VERIFY);
        ck_assert_int_eq(c.role, LURK_TLS13_ROLE_SERVER);
        ck_assert_uint_eq(lurk_cbs_len(&c.transcript_hash), lens[i]);
        ck_assert_ptr_eq(lurk_cbs_data(&c.transcript_hash), buf + 98);

        n = cv(buf, "TLS 1.3, client CertificateVerify", lens[i]);
        lurk_prov_content_classify(buf, n, &c);
        ck_assert_int_eq(c.kind, LURK_CONTENT_TLS13_CERTIFICATE_VERIFY);
        ck_assert_int_eq(c.role, LURK_TLS13_ROLE_CLIENT);
    }
}
END_TEST

START_TEST(tls13_wrong_shapes)
{
    uint8_t buf[256];
    struct lurk_prov_content c;
    size_t n;

    /* SHA-512 transcript hash: no TLS 1.3 suite uses it. */
    n = cv(buf, "TLS 1.3, server CertificateVerify", 64);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    ck_assert_ptr_nonnull(strstr(c.why, "TLS 1.3"));
    /* Other context strings (e.g. a TLS 1.3 exporter or a made-up one). */
    n = cv(buf, "TLS 1.3, server CertificateVerifx", 32);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* The 0x00 separator missing. */
    n = cv(buf, "TLS 1.3, server CertificateVerify", 32);
    buf[97] = 1;
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* 63 spaces only. */
    n = cv(buf, "TLS 1.3, server CertificateVerify", 32);
    buf[63] = 0x21;
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* Truncated in the context string. */
    lurk_prov_content_classify(buf, 80, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* One byte of hash too many or too few. */
    n = cv(buf, "TLS 1.3, server CertificateVerify", 33);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    n = cv(buf, "TLS 1.3, server CertificateVerify", 31);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
}
END_TEST

/* client_random(32) server_random(32) || params */
static size_t ske(uint8_t *out, const uint8_t *params, size_t len)
{
    for (size_t i = 0; i < 64; i++)
        out[i] = (uint8_t)(i * 7 + 1);
    memcpy(out + 64, params, len);
    return 64 + len;
}

static size_t ecdh_params(uint8_t *out, uint8_t curve_type, uint16_t group, size_t point_len)
{
    out[0] = curve_type;
    out[1] = (uint8_t)(group >> 8);
    out[2] = (uint8_t)group;
    out[3] = (uint8_t)point_len;
    for (size_t i = 0; i < point_len; i++)
        out[4 + i] = (uint8_t)(i == 0 ? 4 : i);
    return 4 + point_len;
}

START_TEST(tls12_ecdhe_shapes)
{
    static const struct {
        uint16_t group;
        size_t point;
    } groups[] = {{23, 65}, {24, 97}, {25, 133}, {29, 32}, {30, 56}};
    uint8_t params[300], buf[400];
    struct lurk_prov_content c;

    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        size_t p = ecdh_params(params, 3, groups[i].group, groups[i].point);
        size_t n = ske(buf, params, p);
        lurk_prov_content_classify(buf, n, &c);
        ck_assert_int_eq(c.kind, LURK_CONTENT_TLS12_SERVER_KEY_EXCHANGE);
        ck_assert_ptr_eq(lurk_cbs_data(&c.client_random), buf);
        ck_assert_ptr_eq(lurk_cbs_data(&c.server_random), buf + 32);
        ck_assert_ptr_eq(lurk_cbs_data(&c.ecdh_params_bytes), buf + 64);
        ck_assert_uint_eq(lurk_cbs_len(&c.ecdh_params_bytes), p);
        ck_assert_uint_eq(c.ecdh_params.named_curve, groups[i].group);
        ck_assert_uint_eq(lurk_cbs_len(&c.ecdh_params.point), groups[i].point);
    }
}
END_TEST

START_TEST(tls12_not_one_ecdh_params)
{
    uint8_t params[300], buf[400];
    struct lurk_prov_content c;
    size_t p, n;

    /* A trailing byte: not exactly one ServerECDHParams. */
    p = ecdh_params(params, 3, 23, 65);
    params[p++] = 0;
    n = ske(buf, params, p);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* Truncated point. */
    p = ecdh_params(params, 3, 23, 65);
    n = ske(buf, params, p - 1);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* explicit_prime (1) and explicit_char2 (2) curve types. */
    p = ecdh_params(params, 1, 23, 65);
    n = ske(buf, params, p);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* Empty point. */
    p = ecdh_params(params, 3, 23, 0);
    n = ske(buf, params, p);
    lurk_prov_content_classify(buf, n, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    /* Randoms only. */
    lurk_prov_content_classify(buf, 64, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    lurk_prov_content_classify(buf, 10, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    lurk_prov_content_classify(NULL, 0, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    ck_assert_ptr_nonnull(c.why);
}
END_TEST

/* ServerDHParams: dh_p<1..2^16-1> dh_g<1..2^16-1> dh_Ys<1..2^16-1>. */
START_TEST(tls12_dhe_params_refused)
{
    static const size_t p_lens[] = {256, 384, 768, 1024};
    uint8_t *params = malloc(4096), *buf = malloc(4200);
    struct lurk_prov_content c;

    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < sizeof(p_lens) / sizeof(p_lens[0]); i++) {
        size_t n = 0, plen = p_lens[i];
        params[n++] = (uint8_t)(plen >> 8);
        params[n++] = (uint8_t)plen;
        for (size_t j = 0; j < plen; j++)
            params[n++] = 0xff;
        params[n++] = 0;
        params[n++] = 1;
        params[n++] = 2;
        params[n++] = (uint8_t)(plen >> 8);
        params[n++] = (uint8_t)plen;
        for (size_t j = 0; j < plen; j++)
            params[n++] = (uint8_t)j;
        size_t total = ske(buf, params, n);
        lurk_prov_content_classify(buf, total, &c);
        ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
        ck_assert_ptr_nonnull(strstr(c.why, "DHE"));
    }
    free(params);
    free(buf);
}
END_TEST

START_TEST(arbitrary_data)
{
    uint8_t buf[512];
    struct lurk_prov_content c;

    /* A bare SHA-256 digest, a TLS 1.2 client CertificateVerify's handshake buffer, text. */
    memset(buf, 0x5a, sizeof(buf));
    lurk_prov_content_classify(buf, 32, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    lurk_prov_content_classify(buf, sizeof(buf), &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    lurk_prov_content_classify((const uint8_t *)"hello", 5, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    ck_assert_ptr_nonnull(strstr(c.why, "neither"));
}
END_TEST

/*
 * RFC 5246 §7.4.8: the handshake messages of a real OpenSSL TLS 1.2 client
 * (tests/support/tls12_client_hs.c) become client_certificate_verify, whole;
 * cut or extended they are refused with the parser's reason.
 */
START_TEST(tls12_client_certificate_verify)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = lurk_test_self_signed(key, "client");
    struct lurk_test_tls12_hs o = {.client_key = key, .client_cert = cert};
    struct lurk_prov_content c;
    uint8_t *m, *t;
    size_t len;
    uint16_t sig;

    ck_assert(lurk_test_tls12_client_hs(&o, &m, &len, &sig));
    lurk_prov_content_classify(m, len, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_TLS12_CLIENT_CERTIFICATE_VERIFY);
    ck_assert_ptr_eq(lurk_cbs_data(&c.handshake_messages), m);
    ck_assert_uint_eq(lurk_cbs_len(&c.handshake_messages), len);
    ck_assert_ptr_null(c.why);

    lurk_prov_content_classify(m, len - 1, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    ck_assert_ptr_nonnull(strstr(c.why, "not a TLS 1.2 client handshake lurkd accepts: "));
    ck_assert_ptr_nonnull(strstr(c.why, "longer than the bytes left"));
    t = malloc(len + 1);
    memcpy(t, m, len);
    t[len] = 0;
    lurk_prov_content_classify(t, len + 1, &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_NONE);
    ck_assert_ptr_nonnull(strstr(c.why, "bytes after the ClientKeyExchange"));
    free(t);
    free(m);
    X509_free(cert);
    EVP_PKEY_free(key);
}
END_TEST

/* A ServerKeyExchange whose client_random starts with 0x01 is still one. */
START_TEST(tls12_ske_starting_like_a_client_hello)
{
    uint8_t buf[64 + 4 + 32];
    struct lurk_prov_content c;

    memset(buf, 0x01, 64);
    memcpy(buf + 64, "\x03\x00\x1d\x20", 4);
    memset(buf + 68, 0x42, 32);
    lurk_prov_content_classify(buf, sizeof(buf), &c);
    ck_assert_int_eq(c.kind, LURK_CONTENT_TLS12_SERVER_KEY_EXCHANGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prov_content");
    TCase *tc = tcase_create("classify");

    tcase_add_test(tc, tls13_server_and_client);
    tcase_add_test(tc, tls13_wrong_shapes);
    tcase_add_test(tc, tls12_ecdhe_shapes);
    tcase_add_test(tc, tls12_not_one_ecdh_params);
    tcase_add_test(tc, tls12_dhe_params_refused);
    tcase_add_test(tc, arbitrary_data);
    tcase_add_test(tc, tls12_client_certificate_verify);
    tcase_add_test(tc, tls12_ske_starting_like_a_client_hello);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lurk_test_run(suite(), CK_FORK_GETENV);
}
