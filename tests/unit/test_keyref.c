/*
 * The key-reference format (liblurk/keyref.c) as a unit: the DER of
 * docs/provider.md "Key reference", every malformed form with its own
 * status, and what does not even claim to be a key reference. No provider
 * is loaded; the provider's use of the format is tests/provider's.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lurk/keyid.h"
#include "lurk/keyref.h"

#include "check_run.h"
#include "test_keys.h"

static EVP_PKEY *p256, *rsa, *dsa;

/* The DER of a good key reference for key (server may be NULL); malloc'd, *len set. */
static uint8_t *keyref_der(EVP_PKEY *key, const char *server, size_t *len)
{
    uint8_t *spki = NULL, id[LURK_KEY_ID_LEN], *out = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    lurk_cbb cbb;

    ck_assert_int_gt(spki_len, 0);
    ck_assert(lurk_keyid_from_spki(NULL, spki, (size_t)spki_len, id));
    ck_assert(lurk_cbb_init(&cbb, 4096, 65536));
    if (lurk_keyref_encode(&cbb, id, spki, (size_t)spki_len, server))
        out = lurk_cbb_release(&cbb, len);
    lurk_cbb_cleanup(&cbb);
    OPENSSL_free(spki);
    return out;
}

static void setup(void)
{
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    dsa = lurk_test_dsa_keygen();
    ck_assert_ptr_nonnull(p256);
    ck_assert_ptr_nonnull(rsa);
}

static void teardown(void)
{
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(dsa);
}

/* Parts of a key reference, each replaceable by a bad one. */
struct parts {
    const uint8_t *version; /* DER INTEGER element */
    size_t version_len;
    const uint8_t *id_type;
    size_t id_type_len;
    const uint8_t *key_id; /* OCTET STRING contents */
    size_t key_id_len;
    const uint8_t *spki; /* element */
    size_t spki_len;
    const uint8_t *tail; /* raw bytes inside the SEQUENCE after the SPKI */
    size_t tail_len;
    const uint8_t *after; /* raw bytes after the SEQUENCE */
    size_t after_len;
};

static const uint8_t v1[] = {0x02, 0x01, 0x01}, v2[] = {0x02, 0x01, 0x02},
                     t0[] = {0x02, 0x01, 0x00}, t1[] = {0x02, 0x01, 0x01};

static uint8_t *build(const struct parts *p, size_t *len)
{
    lurk_cbb cbb;
    lurk_cbb_mark seq, octets;
    uint8_t *out;

    ck_assert(lurk_cbb_init(&cbb, 1024, 65536));
    lurk_cbb_begin_asn1(&cbb, &seq, LURK_ASN1_SEQUENCE);
    lurk_cbb_add_bytes(&cbb, p->version, p->version_len);
    lurk_cbb_add_bytes(&cbb, p->id_type, p->id_type_len);
    lurk_cbb_begin_asn1(&cbb, &octets, LURK_ASN1_OCTET_STRING);
    lurk_cbb_add_bytes(&cbb, p->key_id, p->key_id_len);
    lurk_cbb_end_asn1(&cbb, &octets);
    lurk_cbb_add_bytes(&cbb, p->spki, p->spki_len);
    if (p->tail != NULL)
        lurk_cbb_add_bytes(&cbb, p->tail, p->tail_len);
    lurk_cbb_end_asn1(&cbb, &seq);
    if (p->after != NULL)
        lurk_cbb_add_bytes(&cbb, p->after, p->after_len);
    ck_assert(lurk_cbb_ok(&cbb));
    out = lurk_cbb_release(&cbb, len);
    lurk_cbb_cleanup(&cbb);
    return out;
}

/* A good key reference's parts for key; spki and id stay valid until free_parts. */
static uint8_t *g_spki;
static uint8_t g_id[LURK_KEY_ID_LEN];

static struct parts good_parts(EVP_PKEY *key)
{
    int n;
    struct parts p = {v1,   sizeof(v1), t0,   sizeof(t0), g_id, sizeof(g_id),
                      NULL, 0,          NULL, 0,          NULL, 0};

    OPENSSL_free(g_spki);
    g_spki = NULL;
    n = i2d_PUBKEY(key, &g_spki);
    ck_assert_int_gt(n, 0);
    ck_assert(lurk_keyid_from_spki(NULL, g_spki, (size_t)n, g_id));
    p.spki = g_spki;
    p.spki_len = (size_t)n;
    return p;
}

static enum lurk_keyref_status decode_parts(const struct parts *p)
{
    struct lurk_keyref ref;
    size_t len;
    uint8_t *der = build(p, &len);
    enum lurk_keyref_status st = lurk_keyref_decode(NULL, der, len, &ref, NULL);

    free(der);
    return st;
}

START_TEST(roundtrip)
{
    static const char *servers[] = {NULL, "unix:/run/lurkd.sock", "tls://lurkd.example:9400",
                                    "tcp://127.0.0.1:9400"};
    EVP_PKEY *keys[] = {p256, rsa};

    for (size_t k = 0; k < 2; k++) {
        for (size_t s = 0; s < 4; s++) {
            struct lurk_keyref ref;
            EVP_PKEY *pub = NULL;
            size_t len;
            uint8_t *der = keyref_der(keys[k], servers[s], &len), *spki = NULL;
            int spki_len = i2d_PUBKEY(keys[k], &spki);

            ck_assert_ptr_nonnull(der);
            ck_assert_int_eq(lurk_keyref_decode(NULL, der, len, &ref, &pub), LURK_KEYREF_OK);
            ck_assert_int_eq(ref.key_id_type, 0);
            ck_assert(lurk_cbs_equal(&ref.spki, spki, (size_t)spki_len));
            ck_assert_int_eq(ref.has_server, servers[s] != NULL);
            if (servers[s] != NULL)
                ck_assert_str_eq(ref.server, servers[s]);
            ck_assert_int_eq(EVP_PKEY_eq(pub, keys[k]), 1);
            EVP_PKEY_free(pub);
            OPENSSL_free(spki);
            free(der);
        }
    }
}
END_TEST

/* The exact bytes docs/provider.md shows: SEQUENCE { 1, 0, OCTET STRING(4), SPKI }. */
START_TEST(layout)
{
    size_t len;
    uint8_t *der = keyref_der(p256, NULL, &len), *spki = NULL;
    int spki_len = i2d_PUBKEY(p256, &spki);

    ck_assert_ptr_nonnull(der);
    ck_assert_uint_eq(len, 2 + 3 + 3 + 6 + (size_t)spki_len);
    ck_assert_int_eq(der[0], 0x30);
    ck_assert_int_eq(der[1], len - 2);
    ck_assert_mem_eq(der + 2, ((uint8_t[]){2, 1, 1, 2, 1, 0, 4, 4}), 8);
    ck_assert_mem_eq(der + 14, spki, (size_t)spki_len);
    OPENSSL_free(spki);
    free(der);
}
END_TEST

START_TEST(bad_version_and_id_type)
{
    struct parts p = good_parts(p256);

    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_OK);
    p.version = v2;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_VERSION);
    p = good_parts(p256);
    p.id_type = t1;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_KEY_ID_TYPE);
}
END_TEST

START_TEST(bad_key_id)
{
    struct parts p = good_parts(p256);
    uint8_t five[5] = {1, 2, 3, 4, 5}, wrong[4];

    p.key_id = five;
    p.key_id_len = 5;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_KEY_ID);
    p = good_parts(p256);
    memcpy(wrong, g_id, 4);
    wrong[3] ^= 1;
    p.key_id = wrong;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_KEY_ID_MISMATCH);
}
END_TEST

START_TEST(bad_spki)
{
    struct parts p = good_parts(p256);
    uint8_t junk[] = {0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07};
    uint8_t *spki = OPENSSL_memdup(g_spki, p.spki_len);

    /* A SEQUENCE that is no SubjectPublicKeyInfo. */
    p.spki = junk;
    p.spki_len = sizeof(junk);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SPKI);
    /* A point that is not on the curve. */
    p = good_parts(p256);
    spki[p.spki_len - 1] ^= 0x01;
    p.spki = spki;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SPKI);
    /* Not even a SEQUENCE. */
    p = good_parts(p256);
    p.spki = (const uint8_t[]){0x04, 0x01, 0x00};
    p.spki_len = 3;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SPKI);
    OPENSSL_free(spki);
}
END_TEST

START_TEST(bad_server)
{
    struct parts p = good_parts(p256);
    static const uint8_t not_address[] = {0xa0, 0x07, 0x0c, 0x05, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t not_utf8[] = {0xa0, 0x07, 0x04, 0x05, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t empty[] = {0xa0, 0x02, 0x0c, 0x00};
    static const uint8_t nul[] = {0xa0, 0x09, 0x0c, 0x07, 'u', 'n', 'i', 'x', ':', '/', 0};

    p.tail = not_address;
    p.tail_len = sizeof(not_address);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SERVER);
    p.tail = not_utf8;
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SERVER);
    p.tail = empty;
    p.tail_len = sizeof(empty);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SERVER);
    p.tail = nul;
    p.tail_len = sizeof(nul);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_BAD_SERVER);
}
END_TEST

START_TEST(trailing_data)
{
    struct parts p = good_parts(p256);
    static const uint8_t extra[] = {0x05, 0x00};

    p.tail = extra;
    p.tail_len = sizeof(extra);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_TRAILING_DATA);
    p = good_parts(p256);
    p.after = extra;
    p.after_len = sizeof(extra);
    ck_assert_int_eq(decode_parts(&p), LURK_KEYREF_TRAILING_DATA);
}
END_TEST

START_TEST(truncated)
{
    struct lurk_keyref ref;
    size_t len;
    uint8_t *der = keyref_der(rsa, "unix:/x", &len);

    /* Every cut that keeps the first elements claims to be ours and is refused. */
    for (size_t cut = 11; cut < len; cut++)
        ck_assert_int_eq(lurk_keyref_parse(der, cut, &ref), LURK_KEYREF_MALFORMED);
    /* Too short to claim anything. */
    ck_assert_int_eq(lurk_keyref_parse(der, 5, &ref), LURK_KEYREF_NOT_KEYREF);
    ck_assert_int_eq(lurk_keyref_parse(der, 0, &ref), LURK_KEYREF_NOT_KEYREF);
    free(der);
}
END_TEST

static enum lurk_keyref_status parse_i2d(int (*i2d)(const EVP_PKEY *, unsigned char **),
                                         EVP_PKEY *key)
{
    struct lurk_keyref ref;
    unsigned char *der = NULL;
    int n = i2d(key, &der);
    enum lurk_keyref_status st;

    ck_assert_int_gt(n, 0);
    st = lurk_keyref_parse(der, (size_t)n, &ref);
    OPENSSL_free(der);
    return st;
}

static int i2d_pkcs8(const EVP_PKEY *key, unsigned char **out)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, out);

    PKCS8_PRIV_KEY_INFO_free(p8);
    return n;
}

/* Other DER key formats are not ours: left to other decoders without an error. */
START_TEST(other_formats_not_claimed)
{
    ck_assert_int_eq(parse_i2d(i2d_PrivateKey, rsa), LURK_KEYREF_NOT_KEYREF);  /* PKCS#1 */
    ck_assert_int_eq(parse_i2d(i2d_PrivateKey, p256), LURK_KEYREF_NOT_KEYREF); /* ECPrivateKey */
    ck_assert_int_eq(parse_i2d(i2d_PUBKEY, rsa), LURK_KEYREF_NOT_KEYREF);
    ck_assert_int_eq(parse_i2d(i2d_pkcs8, p256), LURK_KEYREF_NOT_KEYREF);
    ck_assert_ptr_nonnull(dsa);
    ck_assert_int_eq(parse_i2d(i2d_PrivateKey, dsa), LURK_KEYREF_NOT_KEYREF);
}
END_TEST

START_TEST(pem_and_key_types)
{
    char err[256];
    char *pem = lurk_keyref_pem_from_pkey(NULL, p256, "unix:/run/l.sock", err, sizeof(err));
    enum lurk_keyref_key_type type;
    enum lurk_keyref_curve curve;

    ck_assert_ptr_nonnull(pem);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN LURK KEY REFERENCE-----"));
    OPENSSL_free(pem);
    /* Bad server, unsupported key types and curves are refused with a reason. */
    ck_assert_ptr_null(lurk_keyref_pem_from_pkey(NULL, p256, "http://x", err, sizeof(err)));
    ck_assert_ptr_null(lurk_keyref_pem_from_pkey(NULL, dsa, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "DSA"));
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    ck_assert_ptr_nonnull(k1);
    ck_assert(!lurk_keyref_classify_key(k1, &type, &curve, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "secp256k1"));
    EVP_PKEY_free(k1);
    ck_assert(lurk_keyref_classify_key(p256, &type, &curve, err, sizeof(err)));
    ck_assert_int_eq(type, LURK_KEYREF_KEY_EC);
    ck_assert_int_eq(curve, LURK_KEYREF_CURVE_P256);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("keyref");
    TCase *tc = tcase_create("keyref");

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, layout);
    tcase_add_test(tc, bad_version_and_id_type);
    tcase_add_test(tc, bad_key_id);
    tcase_add_test(tc, bad_spki);
    tcase_add_test(tc, bad_server);
    tcase_add_test(tc, trailing_data);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, other_formats_not_claimed);
    tcase_add_test(tc, pem_and_key_types);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lurk_test_run(suite(), CK_FORK_GETENV);
}
