/*
 * lurk.so loaded into fresh library contexts (OSSL_PROVIDER_load with the
 * module path, and a config file with lurk-* settings), without lurkd:
 * key references of every key type decode into usable keys, match their
 * certificates, never export a private half, and every private-key
 * operation either finds its LURK exchange (and fails only for want of a
 * server, naming it) or fails with "no LURK exchange for this content".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/keyref.h"
#include "prov_test_util.h"
#include "test_keys.h"

#define R_NO_EXCHANGE "no LURK exchange for this content"
#define R_NO_SERVER   "no lurk-server configured"
#define R_TRANSPORT   "cannot reach lurkd"

#define N_KINDS 7

static struct {
    EVP_PKEY *key, *other;
    X509 *cert, *other_cert;
    char *pem;
    char id_hex[9];
} k[N_KINDS];

static OSSL_LIB_CTX *lctx; /* OSSL_PROVIDER_load, no settings */
static OSSL_LIB_CTX *cctx; /* config file: lurk-server = an absent unix socket */
static char conf_path[256];

#define ABSENT_SOCKET "unix:/nonexistent/lurk-test/lurkd.sock"

static void setup(void)
{
    char errs[1024];

    ck_assert_uint_eq(n_test_key_kinds, N_KINDS);
    lctx = test_libctx_with_lurk();
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(lctx != NULL, "cannot load lurk.so from %s: %s", LURK_PROV_MODULE_DIR, errs);
    cctx = test_libctx_with_config("lurk-server = " ABSENT_SOCKET "\nlurk-timeout-ms = 500\n",
                                   conf_path, sizeof(conf_path));
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(cctx != NULL, "config: %s", errs);
    for (size_t i = 0; i < N_KINDS; i++) {
        uint8_t id[4];
        k[i].key = test_keygen(&test_key_kinds[i]);
        k[i].other = test_keygen(&test_key_kinds[i]);
        ck_assert_ptr_nonnull(k[i].key);
        ck_assert_ptr_nonnull(k[i].other);
        k[i].cert = test_self_signed(k[i].key, "lurk test");
        k[i].other_cert = test_self_signed(k[i].other, "lurk test other");
        ck_assert_ptr_nonnull(k[i].cert);
        ck_assert_ptr_nonnull(k[i].other_cert);
        k[i].pem = test_keyref_pem(k[i].key, NULL);
        ck_assert_ptr_nonnull(k[i].pem);
        ck_assert(lurk_keyid_from_pkey(NULL, k[i].key, id));
        lurk_hex_encode(id, 4, k[i].id_hex);
    }
}

static void teardown(void)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        EVP_PKEY_free(k[i].key);
        EVP_PKEY_free(k[i].other);
        X509_free(k[i].cert);
        X509_free(k[i].other_cert);
        free(k[i].pem);
    }
    test_libctx_free(lctx);
    OSSL_LIB_CTX_free(cctx);
    unlink(conf_path);
}

/* Every test leaves the thread's error queue as it found it: empty. */
static void queue_empty_before(void)
{
    ERR_clear_error();
}

static void queue_empty_after(void)
{
    char errs[1024];

    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(errs[0] == '\0', "stale errors: %s", errs);
}

static bool is_eddsa(size_t i)
{
    return strcmp(test_key_kinds[i].type, "ED25519") == 0 ||
           strcmp(test_key_kinds[i].type, "ED448") == 0;
}

static bool is_rsa(size_t i)
{
    return strncmp(test_key_kinds[i].type, "RSA", 3) == 0;
}

static EVP_PKEY *ref_key(OSSL_LIB_CTX *libctx, size_t i)
{
    char errs[1024];
    EVP_PKEY *key = test_read_key(libctx, k[i].pem);

    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(key != NULL, "%s: %s", test_key_kinds[i].label, errs);
    return key;
}

/* ---- to-be-signed contents libssl produces (RFC 8446 §4.4.3, RFC 5246 §7.4.3) ---- */

static size_t tls13_cv(uint8_t *out, const char *role, size_t hash_len)
{
    char context[64];
    size_t n = 64;

    memset(out, 0x20, 64);
    snprintf(context, sizeof(context), "TLS 1.3, %s CertificateVerify", role);
    memcpy(out + n, context, strlen(context) + 1); /* with the 0x00 */
    n += strlen(context) + 1;
    memset(out + n, 0x42, hash_len);
    return n + hash_len;
}

static size_t tls12_ske(uint8_t *out)
{
    size_t n = 64;

    memset(out, 0x11, 64);
    out[n++] = 3; /* named_curve */
    out[n++] = 0;
    out[n++] = 29; /* x25519 */
    out[n++] = 32;
    memset(out + n, 0x09, 32);
    return n + 32;
}

static size_t tls12_dhe(uint8_t *out)
{
    size_t n = 64;

    memset(out, 0x11, 64);
    out[n++] = 1; /* p<2>: 256 bytes */
    out[n++] = 0;
    memset(out + n, 0xff, 256);
    n += 256;
    out[n++] = 0;
    out[n++] = 1;
    out[n++] = 2; /* g = 2 */
    out[n++] = 1;
    out[n++] = 0;
    memset(out + n, 0x33, 256);
    return n + 256;
}

struct sign_opts {
    const char *md;      /* NULL: the kind's default (none for EdDSA) */
    int pad;             /* 0: leave */
    const char *saltlen; /* NULL: leave */
    const char *mgf1;    /* NULL: leave */
};

/* EVP_DigestSign as libssl does it; the size query must succeed without network. */
static int sign(OSSL_LIB_CTX *libctx, EVP_PKEY *key, size_t i, const struct sign_opts *o,
                const uint8_t *tbs, size_t len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const char *md = o != NULL && o->md != NULL ? o->md : is_eddsa(i) ? NULL : "SHA256";
    unsigned char sig[1024];
    size_t siglen = 0;
    int ok = 0;

    ck_assert_ptr_nonnull(mctx);
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, md, libctx, NULL, key, NULL), 1);
    /* Our signature implementation, by the 3.0 fallback (default listed first). */
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_CTX_get0_provider(pctx)), "lurk");
    if (o != NULL && o->pad != 0)
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, o->pad), 1);
    if (o != NULL && o->saltlen != NULL) {
        OSSL_PARAM p[] = {
            OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, (char *)o->saltlen, 0),
            OSSL_PARAM_END};
        ck_assert_int_eq(EVP_PKEY_CTX_set_params(pctx, p), 1);
    }
    if (o != NULL && o->mgf1 != NULL)
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, o->mgf1, NULL), 1);
    ck_assert_int_eq(EVP_DigestSign(mctx, NULL, &siglen, tbs, len), 1);
    ck_assert_int_eq((int)siglen, EVP_PKEY_get_size(key));
    ok = EVP_DigestSign(mctx, sig, &siglen, tbs, len);
    EVP_MD_CTX_free(mctx);
    return ok;
}

static void expect_reason(const char *reason, const char *needle1, const char *needle2)
{
    char data[1024];

    ck_assert_msg(test_errors_have_reason(reason, data, sizeof(data)), "no \"%s\" error", reason);
    if (needle1 != NULL)
        ck_assert_msg(strstr(data, needle1) != NULL, "\"%s\" not in \"%s\"", needle1, data);
    if (needle2 != NULL)
        ck_assert_msg(strstr(data, needle2) != NULL, "\"%s\" not in \"%s\"", needle2, data);
}

/* ---- loading and key management ---- */

START_TEST(decode_every_type)
{
    EVP_PKEY *key = ref_key(lctx, (size_t)_i);

    ck_assert(EVP_PKEY_is_a(key, test_key_kinds[_i].type));
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "lurk");
    /* Loading leaves no stale error behind (nginx logs those). */
    ck_assert_uint_eq(ERR_peek_error(), 0);
    EVP_PKEY_free(key);
}
END_TEST

static void same_utf8(EVP_PKEY *a, EVP_PKEY *b, const char *name)
{
    char va[80] = "", vb[80] = "";
    int ra = EVP_PKEY_get_utf8_string_param(a, name, va, sizeof(va), NULL);
    int rb = EVP_PKEY_get_utf8_string_param(b, name, vb, sizeof(vb), NULL);

    ck_assert_int_eq(ra, rb);
    ck_assert_str_eq(va, vb);
}

static void same_octets(EVP_PKEY *a, EVP_PKEY *b, const char *name)
{
    unsigned char va[200], vb[200];
    size_t la = 0, lb = 0;

    int ra = EVP_PKEY_get_octet_string_param(a, name, va, sizeof(va), &la);
    int rb = EVP_PKEY_get_octet_string_param(b, name, vb, sizeof(vb), &lb);

    /* Whatever the default provider answers for the same public key. */
    ck_assert_int_eq(ra, rb);
    ERR_clear_error();
    if (ra == 1) {
        ck_assert_uint_eq(la, lb);
        ck_assert_mem_eq(va, vb, la);
    }
}

static void same_bn(EVP_PKEY *a, EVP_PKEY *b, const char *name)
{
    BIGNUM *va = NULL, *vb = NULL;

    ck_assert_int_eq(EVP_PKEY_get_bn_param(a, name, &va), 1);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(b, name, &vb), 1);
    ck_assert_int_eq(BN_cmp(va, vb), 0);
    BN_free(va);
    BN_free(vb);
}

START_TEST(params_match_the_public_key)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i), *orig = k[i].key;
    char da[64] = "", db[64] = "";
    unsigned char *sa = NULL, *sb = NULL;
    int la, lb;

    ck_assert_int_eq(EVP_PKEY_get_bits(ref), EVP_PKEY_get_bits(orig));
    ck_assert_int_eq(EVP_PKEY_get_security_bits(ref), EVP_PKEY_get_security_bits(orig));
    /* max-size: modulus bytes, ECDSA DER maximum, 64/114 for EdDSA. */
    ck_assert_int_eq(EVP_PKEY_get_size(ref), EVP_PKEY_get_size(orig));
    ck_assert_int_gt(EVP_PKEY_get_size(ref), 0);
    ck_assert_int_eq(EVP_PKEY_get_default_digest_name(ref, da, sizeof(da)),
                     EVP_PKEY_get_default_digest_name(orig, db, sizeof(db)));
    ck_assert_str_eq(da, db);
    if (is_rsa(i)) {
        same_bn(ref, orig, OSSL_PKEY_PARAM_RSA_N);
        same_bn(ref, orig, OSSL_PKEY_PARAM_RSA_E);
    } else if (strcmp(test_key_kinds[i].type, "EC") == 0) {
        same_utf8(ref, orig, OSSL_PKEY_PARAM_GROUP_NAME);
        same_utf8(ref, orig, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT);
        same_octets(ref, orig, OSSL_PKEY_PARAM_PUB_KEY);
        same_octets(ref, orig, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    } else {
        same_utf8(ref, orig, OSSL_PKEY_PARAM_MANDATORY_DIGEST);
        same_octets(ref, orig, OSSL_PKEY_PARAM_PUB_KEY);
        same_octets(ref, orig, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    }
    /* The public half encodes exactly like the original (public export). */
    la = i2d_PUBKEY(ref, &sa);
    lb = i2d_PUBKEY(orig, &sb);
    ck_assert_int_gt(la, 0);
    ck_assert_int_eq(la, lb);
    ck_assert_mem_eq(sa, sb, (size_t)la);
    OPENSSL_free(sa);
    OPENSSL_free(sb);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(matches_its_certificate_only)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);

    ck_assert_int_eq(X509_check_private_key(k[i].cert, ref), 1);
    ck_assert_uint_eq(ERR_peek_error(), 0);
    ck_assert_int_eq(X509_check_private_key(k[i].other_cert, ref), 0);
    ERR_clear_error();
    ck_assert_int_eq(EVP_PKEY_eq(ref, k[i].key), 1);
    ck_assert_int_ne(EVP_PKEY_eq(ref, k[i].other), 1);
    ERR_clear_error();
    /* After the public export the comparison cached, signing is still ours. */
    uint8_t data[16] = {0};
    ck_assert_int_eq(sign(lctx, ref, i, NULL, data, sizeof(data)), 0);
    expect_reason(R_NO_EXCHANGE, k[i].id_hex, NULL);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(ssl_ctx_accepts_the_key)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    SSL_CTX *ctx = SSL_CTX_new_ex(lctx, NULL, TLS_server_method());

    /* nginx: certificate, then key. */
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, k[i].cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, ref), 1);
    ck_assert_int_eq(SSL_CTX_check_private_key(ctx), 1);
    SSL_CTX_free(ctx);
    /* haproxy: key, then certificate. */
    ctx = SSL_CTX_new_ex(lctx, NULL, TLS_server_method());
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, ref), 1);
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, k[i].cert), 1);
    ck_assert_int_eq(SSL_CTX_check_private_key(ctx), 1);
    ck_assert_uint_eq(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);
    /* A mismatching certificate is refused, as with a local key. */
    ctx = SSL_CTX_new_ex(lctx, NULL, TLS_server_method());
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, k[i].other_cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, ref), 0);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(no_private_export)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    OSSL_PARAM *params = NULL;
    BIO *bio = BIO_new(BIO_s_mem());

    ck_assert_int_eq(EVP_PKEY_todata(ref, EVP_PKEY_KEYPAIR, &params), 0);
    ck_assert_ptr_null(params);
    ck_assert_int_eq(EVP_PKEY_todata(ref, EVP_PKEY_PUBLIC_KEY, &params), 1);
    OSSL_PARAM_free(params);
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, ref, NULL, NULL, 0, NULL, NULL), 0);
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, ref), 1);
    ERR_clear_error();
    /* Our keymgmt makes no keys: generation by name goes to the default provider. */
    EVP_PKEY *gen = EVP_PKEY_Q_keygen(lctx, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(gen);
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(gen)), "default");
    EVP_PKEY_free(gen);
    BIO_free(bio);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(dup_and_compare)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i), *again = ref_key(lctx, i), *dup = EVP_PKEY_dup(ref);

    ck_assert_ptr_nonnull(dup);
    ck_assert_int_eq(EVP_PKEY_eq(ref, dup), 1);
    ck_assert_int_eq(EVP_PKEY_eq(ref, again), 1);
    EVP_PKEY_free(dup);
    EVP_PKEY_free(again);
    EVP_PKEY_free(ref);
}
END_TEST

/* ---- what signing becomes ---- */

START_TEST(arbitrary_data_has_no_exchange)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    static const uint8_t data[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

    ck_assert_int_eq(sign(lctx, ref, i, NULL, data, sizeof(data)), 0);
    expect_reason(R_NO_EXCHANGE, k[i].id_hex, "neither");
    /* Same through a configured provider: the content is refused before any network. */
    EVP_PKEY *cref = ref_key(cctx, i);
    ck_assert_int_eq(sign(cctx, cref, i, NULL, data, sizeof(data)), 0);
    expect_reason(R_NO_EXCHANGE, ABSENT_SOCKET, k[i].id_hex);
    EVP_PKEY_free(cref);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(update_final_is_bounded_and_refused)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    static uint8_t chunk[4096];
    unsigned char sig[1024];
    size_t siglen = 0;

    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, NULL, "SHA256", lctx, NULL, ref, NULL), 1);
    ck_assert_int_eq(EVP_DigestSignUpdate(mctx, chunk, 100), 1);
    ck_assert_int_eq(EVP_DigestSignFinal(mctx, NULL, &siglen), 1);
    ck_assert_int_eq((int)siglen, EVP_PKEY_get_size(ref));
    ck_assert_int_eq(EVP_DigestSignFinal(mctx, sig, &siglen), 0);
    expect_reason(R_NO_EXCHANGE, k[i].id_hex, NULL);
    /* More than 64 KiB is refused while streaming. */
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, NULL, "SHA256", lctx, NULL, ref, NULL), 1);
    int ok = 1;
    for (int n = 0; n < 20 && ok; n++)
        ok = EVP_DigestSignUpdate(mctx, chunk, sizeof(chunk));
    ck_assert_int_eq(ok, 0);
    expect_reason(R_NO_EXCHANGE, "65536", NULL);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(bare_digest_has_no_exchange)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lctx, ref, NULL);
    unsigned char digest[32] = {1}, sig[1024];
    size_t siglen = 0;

    ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_sign(ctx, NULL, &siglen, digest, sizeof(digest)), 1);
    ck_assert_int_eq((int)siglen, EVP_PKEY_get_size(ref));
    ck_assert_int_le(EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof(digest)), 0);
    expect_reason(R_NO_EXCHANGE, "bare digest", k[i].id_hex);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(ref);
}
END_TEST

/*
 * X.509 signing (openssl req, x509 -CAkey, X509_sign_ctx) asks the signature
 * context for its AlgorithmIdentifier first: refused there with the reason.
 * Answering without setting it made OpenSSL 3.0's ASN1_item_sign_ctx decode
 * an uninitialised buffer and abort ("free(): invalid pointer").
 */
START_TEST(x509_signing_has_no_exchange)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    X509 *x = X509_new();
    uint8_t aid[128];
    OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid)),
        OSSL_PARAM_END,
    };
    const char *md = is_eddsa(i) ? NULL : "SHA256";

    ck_assert_ptr_nonnull(x);
    ck_assert(X509_set_pubkey(x, k[i].key));
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, NULL, md, lctx, NULL, ref, NULL), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_get_params(EVP_MD_CTX_get_pkey_ctx(mctx), params), 0);
    expect_reason(R_NO_EXCHANGE, "X.509", k[i].id_hex);
    ck_assert_int_le(X509_sign_ctx(x, mctx), 0);
    expect_reason(R_NO_EXCHANGE, "X.509", k[i].id_hex);
    X509_free(x);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(ref);
}
END_TEST

/* libssl probes every sigalg with digest_sign_init: refusals must happen there. */
/* One EVP_DigestSignInit_ex on a fresh context, as libssl's sigalg probe does. */
static int init_with(EVP_PKEY *key, const char *md)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok = EVP_DigestSignInit_ex(mctx, NULL, md, lctx, NULL, key, NULL);

    EVP_MD_CTX_free(mctx);
    return ok;
}

START_TEST(unusable_digests_refused_at_init)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);

    if (is_eddsa(i)) {
        ck_assert_int_eq(init_with(ref, "SHA256"), 0);
        ck_assert(test_errors_have_reason("digest not usable with this LURK key", NULL, 0));
        ck_assert_int_eq(init_with(ref, NULL), 1);
    } else {
        /* SHA-1, the fallback for a TLS 1.2 client without signature_algorithms, by name. */
        char data[512];
        ck_assert_int_eq(init_with(ref, "SHA1"), 0);
        ck_assert(
            test_errors_have_reason("digest not usable with this LURK key", data, sizeof(data)));
        ck_assert_msg(strstr(data, "SHA-1 signatures are refused") != NULL, "%s", data);
        ck_assert_int_eq(init_with(ref, "SHA224"), 0);
        ck_assert_int_eq(init_with(ref, "SHA384"), 1);
        ck_assert_int_eq(init_with(ref, "SHA2-512"), 1);
        ck_assert_int_eq(init_with(ref, "SHA256"), 1);
    }
    ERR_clear_error();
    EVP_PKEY_free(ref);
}
END_TEST

/* The right options for a TLS 1.3 CertificateVerify with kind i. */
static struct sign_opts tls13_opts(size_t i)
{
    struct sign_opts o = {0};

    if (is_rsa(i)) {
        o.pad = RSA_PKCS1_PSS_PADDING;
        o.saltlen = "digest";
    }
    if (strcmp(test_key_kinds[i].label, "P-384") == 0)
        o.md = "SHA384";
    if (strcmp(test_key_kinds[i].label, "P-521") == 0)
        o.md = "SHA512";
    return o;
}

START_TEST(tls13_certificate_verify_goes_to_lurkd)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i), *cref = ref_key(cctx, i);
    struct sign_opts o = tls13_opts(i);
    uint8_t tbs[200];
    size_t n;

    /* No server anywhere: the request was built, only the destination is missing. */
    n = tls13_cv(tbs, "server", 32);
    ck_assert_int_eq(sign(lctx, ref, i, &o, tbs, n), 0);
    expect_reason(R_NO_SERVER, k[i].id_hex, NULL);
    n = tls13_cv(tbs, "client", 48);
    ck_assert_int_eq(sign(lctx, ref, i, &o, tbs, n), 0);
    expect_reason(R_NO_SERVER, k[i].id_hex, NULL);
    /* lurk-server set but lurkd absent: the error names the server, key id and cause. */
    n = tls13_cv(tbs, "server", 48);
    ck_assert_int_eq(sign(cctx, cref, i, &o, tbs, n), 0);
    expect_reason(R_TRANSPORT, "server " ABSENT_SOCKET ", key id ", "No such file");
    EVP_PKEY_free(cref);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(tls12_server_key_exchange_goes_to_lurkd)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(lctx, i);
    uint8_t tbs[200];
    size_t n = tls12_ske(tbs);
    struct sign_opts pss = {.pad = RSA_PKCS1_PSS_PADDING, .saltlen = "digest"};

    ck_assert_int_eq(sign(lctx, ref, i, NULL, tbs, n), 0);
    expect_reason(R_NO_SERVER, k[i].id_hex, NULL);
    if (is_rsa(i)) {
        ck_assert_int_eq(sign(lctx, ref, i, &pss, tbs, n), 0);
        expect_reason(R_NO_SERVER, NULL, NULL);
    }
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(tls12_dhe_has_no_exchange)
{
    size_t i = (size_t)_i;
    EVP_PKEY *ref = ref_key(cctx, i);
    uint8_t tbs[700];
    size_t n = tls12_dhe(tbs);

    ck_assert_int_eq(sign(cctx, ref, i, NULL, tbs, n), 0);
    expect_reason(R_NO_EXCHANGE, "DHE", k[i].id_hex);
    EVP_PKEY_free(ref);
}
END_TEST

START_TEST(tls13_needs_matching_parameters)
{
    uint8_t tbs[200];
    size_t n = tls13_cv(tbs, "server", 32);
    EVP_PKEY *rsa = ref_key(lctx, 0), *p256 = ref_key(lctx, 2);
    struct sign_opts o = {.pad = RSA_PKCS1_PSS_PADDING, .saltlen = "max"};

    /* TLS: PSS salt = hash length, MGF1 = the signature hash. */
    ck_assert_int_eq(sign(lctx, rsa, 0, &o, tbs, n), 0);
    expect_reason("PSS salt length must equal the digest length", NULL, NULL);
    o.saltlen = "32";
    ck_assert_int_eq(sign(lctx, rsa, 0, &o, tbs, n), 0);
    expect_reason(R_NO_SERVER, NULL, NULL);
    o.saltlen = "digest";
    o.mgf1 = "SHA384";
    ck_assert_int_eq(sign(lctx, rsa, 0, &o, tbs, n), 0);
    expect_reason("bad parameter", "MGF1", NULL);
    /* PKCS#1 v1.5 does not exist in TLS 1.3. */
    ck_assert_int_eq(sign(lctx, rsa, 0, NULL, tbs, n), 0);
    expect_reason(R_NO_EXCHANGE, "PKCS#1", NULL);
    /* ecdsa_secp256r1_sha256 only. */
    struct sign_opts sha384 = {.md = "SHA384"};
    ck_assert_int_eq(sign(lctx, p256, 2, &sha384, tbs, n), 0);
    expect_reason(R_NO_EXCHANGE, "curve", NULL);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
}
END_TEST

START_TEST(never_raw_rsa)
{
    EVP_PKEY *rsa = ref_key(lctx, 0), *pss = ref_key(lctx, 1);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new(), *mctx2 = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, "SHA256", lctx, NULL, rsa, NULL), 1);
    ck_assert_int_le(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_NO_PADDING), 0);
    ck_assert(test_errors_have_reason("padding not usable with this LURK key", NULL, 0));
    ck_assert_int_le(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_X931_PADDING), 0);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    /* RSA-PSS keys: PSS only. */
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx2, &pctx, "SHA256", lctx, NULL, pss, NULL), 1);
    ck_assert_int_le(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 0);
    ck_assert(test_errors_have_reason("padding not usable with this LURK key", NULL, 0));
    EVP_MD_CTX_free(mctx);
    EVP_MD_CTX_free(mctx2);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(pss);
}
END_TEST

/* The ctrl->param translation passes ints or strings (docs/architecture.md §8.3): both work, both
 * read back. */
START_TEST(ctx_params_int_and_string)
{
    EVP_PKEY *rsa = ref_key(lctx, 0);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int pad = 0, saltlen = 0;
    char text[32] = "", md[32] = "";

    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, "SHA2-384", lctx, NULL, rsa, NULL), 1);
    OSSL_PARAM set_str[] = {OSSL_PARAM_utf8_string("pad-mode", "pss", 0),
                            OSSL_PARAM_utf8_string("saltlen", "48", 0), OSSL_PARAM_END};
    ck_assert_int_eq(EVP_PKEY_CTX_set_params(pctx, set_str), 1);
    OSSL_PARAM get_int[] = {OSSL_PARAM_int("pad-mode", &pad), OSSL_PARAM_int("saltlen", &saltlen),
                            OSSL_PARAM_utf8_string("digest", md, sizeof(md)), OSSL_PARAM_END};
    ck_assert_int_eq(EVP_PKEY_CTX_get_params(pctx, get_int), 1);
    ck_assert_int_eq(pad, RSA_PKCS1_PSS_PADDING);
    ck_assert_int_eq(saltlen, 48);
    ck_assert_str_eq(md, "SHA384");
    int digest_len = RSA_PSS_SALTLEN_DIGEST;
    OSSL_PARAM set_int[] = {OSSL_PARAM_int("saltlen", &digest_len), OSSL_PARAM_END};
    ck_assert_int_eq(EVP_PKEY_CTX_set_params(pctx, set_int), 1);
    OSSL_PARAM get_str[] = {OSSL_PARAM_utf8_string("saltlen", text, sizeof(text)), OSSL_PARAM_END};
    ck_assert_int_eq(EVP_PKEY_CTX_get_params(pctx, get_str), 1);
    ck_assert_str_eq(text, "digest");
    ck_assert_int_gt(EVP_PKEY_CTX_get_rsa_padding(pctx, &pad), 0);
    ck_assert_int_eq(pad, RSA_PKCS1_PSS_PADDING);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(rsa_decrypt_only_tls_premaster)
{
    EVP_PKEY *rsa = ref_key(lctx, 0);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lctx, rsa, NULL);
    unsigned char in[256] = {0}, out[256];
    size_t outlen = sizeof(out);
    unsigned int version = 0x0303;
    OSSL_PARAM p[] = {OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &version),
                      OSSL_PARAM_END};

    ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
    ck_assert_int_le(EVP_PKEY_decrypt(ctx, out, &outlen, in, sizeof(in)), 0);
    expect_reason(R_NO_EXCHANGE, "premaster", NULL);
    ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_WITH_TLS_PADDING), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_params(ctx, p), 1);
    outlen = 0;
    ck_assert_int_eq(EVP_PKEY_decrypt(ctx, NULL, &outlen, in, sizeof(in)), 1);
    ck_assert_uint_eq(outlen, 48);
    outlen = sizeof(out);
    ck_assert_int_le(EVP_PKEY_decrypt(ctx, out, &outlen, in, sizeof(in)), 0);
    expect_reason(R_NO_SERVER, NULL, NULL);
    EVP_PKEY_CTX_free(ctx);
    /* RSA-PSS keys cannot decrypt at all. */
    EVP_PKEY *pss = ref_key(lctx, 1);
    ctx = EVP_PKEY_CTX_new_from_pkey(lctx, pss, NULL);
    ck_assert_int_le(EVP_PKEY_decrypt_init(ctx), 0);
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pss);
    EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(key_reference_names_its_server)
{
    char *pem = test_keyref_pem(k[2].key, "unix:/nonexistent/lurk-test/other.sock");
    EVP_PKEY *ref = test_read_key(cctx, pem);
    uint8_t tbs[200];
    size_t n = tls13_cv(tbs, "server", 32);

    ck_assert_ptr_nonnull(ref);
    ck_assert_int_eq(sign(cctx, ref, 2, NULL, tbs, n), 0);
    expect_reason(R_TRANSPORT, "server unix:/nonexistent/lurk-test/other.sock", k[2].id_hex);
    EVP_PKEY_free(ref);
    free(pem);
}
END_TEST

/* ---- malformed key references ---- */

static void expect_bad_pem(const char *pem, const char *reason, const char *needle)
{
    EVP_PKEY *key = test_read_key(lctx, pem);

    ck_assert_ptr_null(key);
    expect_reason(reason, needle, NULL);
}

static char *wrap_modified(size_t i, size_t cut, const uint8_t *append, size_t append_len,
                           size_t flip_at)
{
    size_t len;
    uint8_t *der = test_keyref_der(k[i].key, NULL, &len), *mod;
    char *pem;

    ck_assert_ptr_nonnull(der);
    mod = malloc(len + append_len);
    memcpy(mod, der, len);
    if (flip_at > 0)
        mod[flip_at] ^= 0x01;
    if (append_len > 0)
        memcpy(mod + len, append, append_len);
    pem = test_pem_wrap(mod, len - cut + append_len, "LURK KEY REFERENCE");
    free(der);
    free(mod);
    return pem;
}

START_TEST(malformed_key_references)
{
    static const uint8_t trailer[] = {0x05, 0x00};
    char *pem;

    /* Truncated. */
    pem = wrap_modified(2, 7, NULL, 0, 0);
    expect_bad_pem(pem, "malformed LURK key reference", "truncated");
    free(pem);
    /* version 2: byte 4 of a short-form SEQUENCE (30 len 02 01 vv). */
    pem = wrap_modified(2, 0, NULL, 0, 4);
    expect_bad_pem(pem, "unsupported LURK key reference version", NULL);
    free(pem);
    /* key id type 1. */
    pem = wrap_modified(2, 0, NULL, 0, 7);
    expect_bad_pem(pem, "unsupported LURK key id type", NULL);
    free(pem);
    /* A key id bit flipped. */
    pem = wrap_modified(2, 0, NULL, 0, 11);
    expect_bad_pem(pem, "LURK key id does not match the public key", NULL);
    free(pem);
    /* The last byte of the EC point flipped: off the curve. */
    size_t len;
    uint8_t *der = test_keyref_der(k[2].key, NULL, &len);
    free(der);
    pem = wrap_modified(2, 0, NULL, 0, len - 1);
    expect_bad_pem(pem, "bad public key in LURK key reference", NULL);
    free(pem);
    /* Trailing data after the SEQUENCE. */
    pem = wrap_modified(2, 0, trailer, sizeof(trailer), 0);
    expect_bad_pem(pem, "trailing data after LURK key reference", NULL);
    free(pem);
}
END_TEST

START_TEST(bad_server_and_key_type)
{
    /* A server that is not a lurk address: built by hand ([0] { UTF8String "http://x" }). */
    size_t len;
    uint8_t *der = test_keyref_der(k[2].key, "unix:/a", &len);
    char *pem;

    ck_assert_ptr_nonnull(der);
    /* "unix:/a" -> "unix#/a": same length, no longer an address. */
    uint8_t *colon = memchr(der + len - 7, ':', 7);
    ck_assert_ptr_nonnull(colon);
    *colon = '#';
    pem = test_pem_wrap(der, len, "LURK KEY REFERENCE");
    expect_bad_pem(pem, "bad server address in LURK key reference", NULL);
    free(pem);
    free(der);

    /* A DSA key: a well-formed reference to a key type we do not offer. */
    EVP_PKEY *dsa = lurk_test_dsa_keygen();
    uint8_t *spki = NULL, id[4];
    int n;
    lurk_cbb cbb;
    ck_assert_ptr_nonnull(dsa);
    n = i2d_PUBKEY(dsa, &spki);
    ck_assert(lurk_keyid_from_spki(NULL, spki, (size_t)n, id));
    ck_assert(lurk_cbb_init(&cbb, 2048, 65536));
    ck_assert(lurk_keyref_encode(&cbb, id, spki, (size_t)n, NULL));
    pem = test_pem_wrap(lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), "LURK KEY REFERENCE");
    expect_bad_pem(pem, "key type not supported by the lurk provider", "DSA");
    free(pem);
    lurk_cbb_cleanup(&cbb);
    OPENSSL_free(spki);
    EVP_PKEY_free(dsa);
}
END_TEST

/* ---- bundles and stores ---- */

static char *concat(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 1);

    strcpy(out, a);
    strcat(out, b);
    return out;
}

static char *cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem, *out;
    long n;

    PEM_write_bio_X509(bio, x);
    n = BIO_get_mem_data(bio, &mem);
    out = malloc((size_t)n + 1);
    memcpy(out, mem, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* haproxy reads the key from the start of its crt bundle (docs/architecture.md §8.1). */
START_TEST(bundle_key_reference_first)
{
    char *c = cert_pem(k[2].cert), *bundle = concat(k[2].pem, c);
    EVP_PKEY *key = test_read_key(lctx, bundle);

    ck_assert_ptr_nonnull(key);
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "lurk");
    EVP_PKEY_free(key);
    free(bundle);
    /* Certificate first: PEM_read_bio_PrivateKey skips it and still finds the reference. */
    bundle = concat(c, k[2].pem);
    key = test_read_key(lctx, bundle);
    ck_assert_ptr_nonnull(key);
    EVP_PKEY_free(key);
    ERR_clear_error();
    free(bundle);
    free(c);
}
END_TEST

/* openssl s_server -key keyref.pem goes through the file: store. */
START_TEST(file_store_loads_the_reference)
{
    char path[] = "/tmp/lurk-keyref-XXXXXX";
    int fd = mkstemp(path);
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info;
    EVP_PKEY *key = NULL;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, k[0].pem, strlen(k[0].pem)), (ssize_t)strlen(k[0].pem));
    close(fd);
    store = OSSL_STORE_open_ex(path, lctx, NULL, NULL, NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(store);
    ck_assert_int_eq(OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY), 1);
    while (key == NULL && !OSSL_STORE_eof(store) && (info = OSSL_STORE_load(store)) != NULL) {
        key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    unlink(path);
    ck_assert_ptr_nonnull(key);
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "lurk");
    ck_assert_int_eq(X509_check_private_key(k[0].cert, key), 1);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(lurk_store_uri)
{
    OSSL_STORE_CTX *store;

    /* Not a key id: refused at open. */
    store = OSSL_STORE_open_ex("lurk:not-hex!", lctx, NULL, NULL, NULL, NULL, NULL, NULL);
    ck_assert_ptr_null(store);
    ck_assert(test_errors_have_reason("bad lurk: URI", NULL, 0));
    /* A key id, but no lurkd to ask: one clear error, then the end. */
    store = OSSL_STORE_open_ex("lurk:1a2b3c4d", cctx, NULL, NULL, NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(store);
    ck_assert_ptr_null(OSSL_STORE_load(store));
    ck_assert_int_eq(OSSL_STORE_error(store), 1);
    ck_assert_int_eq(OSSL_STORE_eof(store), 1);
    expect_reason(R_TRANSPORT, ABSENT_SOCKET, "1a2b3c4d");
    OSSL_STORE_close(store);
}
END_TEST

START_TEST(provider_params)
{
    OSSL_PROVIDER *prov = OSSL_PROVIDER_load(lctx, "lurk");
    const char *name = NULL, *version = NULL;
    int status = 0;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, &name, 0),
                      OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, &version, 0),
                      OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, &status), OSSL_PARAM_END};

    ck_assert_ptr_nonnull(prov);
    ck_assert_int_eq(OSSL_PROVIDER_get_params(prov, p), 1);
    ck_assert_ptr_nonnull(strstr(name, "lurk"));
    ck_assert_ptr_nonnull(version);
    ck_assert_int_eq(status, 1);
    ck_assert(OSSL_PROVIDER_available(lctx, "lurk"));
    OSSL_PROVIDER_unload(prov);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("provider");
    TCase *keys = tcase_create("keys"), *sig = tcase_create("sign"), *refs = tcase_create("refs");

    tcase_add_unchecked_fixture(keys, setup, teardown);
    tcase_add_unchecked_fixture(sig, setup, teardown);
    tcase_add_unchecked_fixture(refs, setup, teardown);
    tcase_add_checked_fixture(keys, queue_empty_before, queue_empty_after);
    tcase_add_checked_fixture(sig, queue_empty_before, queue_empty_after);
    tcase_add_checked_fixture(refs, queue_empty_before, queue_empty_after);
    tcase_set_timeout(keys, 60);
    tcase_set_timeout(sig, 60);
    tcase_set_timeout(refs, 60);

    tcase_add_loop_test(keys, decode_every_type, 0, N_KINDS);
    tcase_add_loop_test(keys, params_match_the_public_key, 0, N_KINDS);
    tcase_add_loop_test(keys, matches_its_certificate_only, 0, N_KINDS);
    tcase_add_loop_test(keys, ssl_ctx_accepts_the_key, 0, N_KINDS);
    tcase_add_loop_test(keys, no_private_export, 0, N_KINDS);
    tcase_add_loop_test(keys, dup_and_compare, 0, N_KINDS);
    tcase_add_test(keys, provider_params);

    tcase_add_loop_test(sig, arbitrary_data_has_no_exchange, 0, N_KINDS);
    tcase_add_loop_test(sig, update_final_is_bounded_and_refused, 0, 5);
    tcase_add_loop_test(sig, bare_digest_has_no_exchange, 0, N_KINDS);
    tcase_add_loop_test(sig, x509_signing_has_no_exchange, 0, N_KINDS);
    tcase_add_loop_test(sig, unusable_digests_refused_at_init, 0, N_KINDS);
    tcase_add_loop_test(sig, tls13_certificate_verify_goes_to_lurkd, 0, N_KINDS);
    tcase_add_loop_test(sig, tls12_server_key_exchange_goes_to_lurkd, 0, N_KINDS);
    tcase_add_loop_test(sig, tls12_dhe_has_no_exchange, 0, N_KINDS);
    tcase_add_test(sig, tls13_needs_matching_parameters);
    tcase_add_test(sig, never_raw_rsa);
    tcase_add_test(sig, ctx_params_int_and_string);
    tcase_add_test(sig, rsa_decrypt_only_tls_premaster);
    tcase_add_test(sig, key_reference_names_its_server);

    tcase_add_test(refs, malformed_key_references);
    tcase_add_test(refs, bad_server_and_key_type);
    tcase_add_test(refs, bundle_key_reference_first);
    tcase_add_test(refs, file_store_loads_the_reference);
    tcase_add_test(refs, lurk_store_uri);

    suite_add_tcase(s, keys);
    suite_add_tcase(s, sig);
    suite_add_tcase(s, refs);
    return s;
}

int main(void)
{
    return lurk_test_run(suite(), CK_FORK_GETENV);
}
