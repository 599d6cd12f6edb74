/*
 * sha256_32 key ids (liblurk/keyid.c). The expected ids were computed
 * independently with the openssl command line, as the first 4 bytes of
 *
 *   openssl x509 -inform DER -in cert.der -pubkey -noout \
 *     | openssl pkey -pubin -outform DER | openssl dgst -sha256
 *
 * for the certificates of the vectors, and of
 *
 *   openssl pkey -in key.pem -pubout -outform DER | openssl dgst -sha256
 *
 * for their private keys (both give the same value for each vector).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "vectors.h"

/* Go crypto/tls testRSACertificate / testRSAPrivateKey (rsa-kx, go_recordings). */
static const uint8_t go_id[LURK_KEY_ID_LEN] = {0xc7, 0xe7, 0x4f, 0xf2};
/* The Illustrated TLS 1.2 Connection server key (ecdhe-signing-vectors.json). */
static const uint8_t illustrated_id[LURK_KEY_ID_LEN] = {0xe9, 0xef, 0xf3, 0x87};
/* RFC 8448 §2/§3 server RSA key and the certificate in its Certificate message. */
static const uint8_t rfc8448_id[LURK_KEY_ID_LEN] = {0x67, 0x3a, 0x6b, 0xda};

/*
 * Keys made for this test with `openssl genpkey` (P-256 and Ed25519); the
 * SPKI hex is `openssl pkey -pubout -outform DER | xxd -p`, the ids as above.
 */
static const char p256_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgd2wFXLK0R3O6zxLj\n"
                               "Vh91fF1GraLqLNGmoniVHGHp0l2hRANCAARdU0xjWIj6rRORFAB9XWPp/x6RTZUn\n"
                               "jmMtcRdmUqyda+PpH+J4R/LtJzvajYmYzKgG2B7J006OnaPmcOhuIZqQ\n"
                               "-----END PRIVATE KEY-----\n";
static const char p256_spki[] =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200045d534c635888faad139114007d5d63e9ff1e91"
    "4d95278e632d71176652ac9d6be3e91fe27847f2ed273bda8d8998cca806d81ec9d34e8e9da3e670e86e219a90";
static const uint8_t p256_id[LURK_KEY_ID_LEN] = {0x4d, 0x9e, 0x41, 0xd0};

static const char ed25519_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIMwo4K6i8FnRWpMYvfbiwvX+nWPurqWZnS0tu79/4t6N\n"
    "-----END PRIVATE KEY-----\n";
static const char ed25519_spki[] =
    "302a300506032b657003210039219efa73989790d8a65b6f57019d6276bb298e297f24234f4b0b519c188330";
static const uint8_t ed25519_id[LURK_KEY_ID_LEN] = {0x09, 0x29, 0x08, 0x2a};

static struct lurk_vectors_pool pool;

static void teardown(void)
{
    lurk_vectors_pool_free(&pool);
}

static json_t *load(const char *name)
{
    json_t *root = lurk_vectors_load(LURK_VECTORS_DIR, name);
    ck_assert_msg(root != NULL, "cannot load %s", name);
    return root;
}

static const uint8_t *hex(const json_t *v, const char *path, size_t *len)
{
    const uint8_t *p = lurk_vectors_pool_hex(&pool, v, path, len);
    ck_assert_msg(p != NULL, "vector field %s", path);
    return p;
}

static EVP_PKEY *pkey_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    ck_assert_ptr_nonnull(bio);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ck_assert_ptr_nonnull(pkey);
    return pkey;
}

static X509 *cert_from_der(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(cert);
    ck_assert_ptr_eq(p, der + len);
    return cert;
}

/*
 * The id of a certificate and of its private key, computed three ways
 * (certificate, private key, the certificate's SPKI bytes), each equal to
 * the independently computed value.
 */
static void check_cert_and_key(const uint8_t *cert_der, size_t cert_len, const char *key_pem,
                               const uint8_t want[LURK_KEY_ID_LEN])
{
    uint8_t id[LURK_KEY_ID_LEN];
    X509 *cert = cert_from_der(cert_der, cert_len);
    EVP_PKEY *pkey = pkey_from_pem(key_pem);

    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_x509(NULL, cert, id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);

    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_pkey(NULL, pkey, id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);

    uint8_t *spki = NULL;
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    ck_assert_int_gt(spki_len, 0);
    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_spki(NULL, spki, (size_t)spki_len, id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);
    OPENSSL_free(spki);

    /* The certificate's public key as an EVP_PKEY gives the same id too. */
    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_pkey(NULL, X509_get0_pubkey(cert), id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);

    EVP_PKEY_free(pkey);
    X509_free(cert);
}

START_TEST(rsa_kx_server_certificate)
{
    json_t *root = load("rsa-kx-vectors.json");
    const json_t *hs = json_object_get(root, "handshakes");

    ck_assert_uint_eq(json_array_size(hs), 2);
    for (size_t i = 0; i < json_array_size(hs); i++) {
        const json_t *h = json_array_get(hs, i);
        size_t len;
        const uint8_t *der = hex(h, "server_certificate_der", &len);
        check_cert_and_key(der, len, lurk_jsondoc_path_string(h, "server_private_key_pem"), go_id);

        /* It is the certificate the server sent: Certificate message, first entry. */
        size_t msg_len;
        const uint8_t *msg = hex(h, "handshake_messages.certificate", &msg_len);
        ck_assert_uint_ge(msg_len, 10 + len);
        ck_assert_mem_eq(msg + 10, der, len);
    }
    json_decref(root);
}
END_TEST

START_TEST(illustrated_tls12_certificate)
{
    json_t *root = load("ecdhe-signing-vectors.json");
    const json_t *h = lurk_jsondoc_path(root, "handshakes.0");
    size_t len;
    const uint8_t *der = hex(h, "server_certificate_der", &len);

    check_cert_and_key(der, len, lurk_jsondoc_path_string(h, "server_rsa_private_key_pem"),
                       illustrated_id);
    /* The Go recordings in the same file use the Go test key. */
    const json_t *go = lurk_jsondoc_path(root, "go_recordings.handshakes.0");
    der = hex(go, "server_certificate_der", &len);
    check_cert_and_key(der, len,
                       lurk_jsondoc_path_string(root, "go_recordings.go_test_rsa_private_key_pem"),
                       go_id);
    json_decref(root);
}
END_TEST

START_TEST(rfc8448_certificate)
{
    json_t *root = load("rfc8448-simple-1rtt.json");
    size_t len;
    const uint8_t *msg = hex(root, "messages.certificate", &len);

    /*
     * RFC 8446 §4.4.2: type(1) len(3) context<0..255>(1 + 0) list<0..2^24-1>(3)
     * then the first CertificateEntry: cert_data<1..2^24-1>(3).
     */
    ck_assert_uint_ge(len, 11);
    size_t cert_len = (size_t)msg[8] << 16 | (size_t)msg[9] << 8 | msg[10];
    ck_assert_uint_ge(len, 11 + cert_len);
    check_cert_and_key(msg + 11, cert_len,
                       lurk_jsondoc_path_string(root, "server_rsa_key.pem_pkcs8"), rfc8448_id);
    /* The PKCS#1 encoding of the same key gives the same id. */
    EVP_PKEY *pkey = pkey_from_pem(lurk_jsondoc_path_string(root, "server_rsa_key.pem_pkcs1"));
    uint8_t id[LURK_KEY_ID_LEN];
    ck_assert(lurk_keyid_from_pkey(NULL, pkey, id));
    ck_assert_mem_eq(id, rfc8448_id, LURK_KEY_ID_LEN);
    EVP_PKEY_free(pkey);
    json_decref(root);
}
END_TEST

static void check_key_and_spki(const char *pem, const char *spki_hex,
                               const uint8_t want[LURK_KEY_ID_LEN])
{
    uint8_t spki[256], id[LURK_KEY_ID_LEN];
    size_t spki_len;
    EVP_PKEY *pkey = pkey_from_pem(pem);

    ck_assert(lurk_hex_decode(spki_hex, spki, sizeof(spki), &spki_len));
    ck_assert(lurk_keyid_from_pkey(NULL, pkey, id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);
    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_spki(NULL, spki, spki_len, id));
    ck_assert_mem_eq(id, want, LURK_KEY_ID_LEN);

    /* Not exactly one SPKI: a byte too many, a byte too few, nothing. */
    uint8_t longer[257];
    memcpy(longer, spki, spki_len);
    longer[spki_len] = 0;
    ck_assert(!lurk_keyid_from_spki(NULL, longer, spki_len + 1, id));
    ck_assert(!lurk_keyid_from_spki(NULL, spki, spki_len - 1, id));
    ck_assert(!lurk_keyid_from_spki(NULL, spki, 0, id));
    ck_assert(!lurk_keyid_from_spki(NULL, NULL, spki_len, id));
    EVP_PKEY_free(pkey);
}

START_TEST(ec_and_ed25519_keys)
{
    check_key_and_spki(p256_pem, p256_spki, p256_id);
    check_key_and_spki(ed25519_pem, ed25519_spki, ed25519_id);
}
END_TEST

START_TEST(bad_input)
{
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    uint8_t id[LURK_KEY_ID_LEN];

    ck_assert(!lurk_keyid_from_pkey(NULL, NULL, id));
    ck_assert(!lurk_keyid_from_x509(NULL, NULL, id));
    /* A well-formed DER SEQUENCE that is not a SubjectPublicKeyInfo. */
    ck_assert(!lurk_keyid_from_spki(NULL, junk, sizeof(junk), id));
}
END_TEST

START_TEST(library_context_is_used)
{
    uint8_t spki[256], id[LURK_KEY_ID_LEN];
    size_t spki_len;
    EVP_PKEY *pkey = pkey_from_pem(p256_pem);

    ck_assert(lurk_hex_decode(p256_spki, spki, sizeof(spki), &spki_len));

    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *prov = OSSL_PROVIDER_load(libctx, "default");
    ck_assert_ptr_nonnull(prov);
    ck_assert(lurk_keyid_from_pkey(libctx, pkey, id));
    ck_assert_mem_eq(id, p256_id, LURK_KEY_ID_LEN);
    memset(id, 0, sizeof(id));
    ck_assert(lurk_keyid_from_spki(libctx, spki, spki_len, id));
    ck_assert_mem_eq(id, p256_id, LURK_KEY_ID_LEN);
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);

    /* No SHA-256 (nor EC key management) in a base-only context: refused. */
    libctx = OSSL_LIB_CTX_new();
    prov = OSSL_PROVIDER_load(libctx, "base");
    ck_assert_ptr_nonnull(prov);
    ck_assert(!lurk_keyid_from_pkey(libctx, pkey, id));
    ck_assert(!lurk_keyid_from_spki(libctx, spki, spki_len, id));
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);
    EVP_PKEY_free(pkey);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keyid");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, rsa_kx_server_certificate);
    tcase_add_test(tc, illustrated_tls12_certificate);
    tcase_add_test(tc, rfc8448_certificate);
    tcase_add_test(tc, ec_and_ed25519_keys);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, library_context_is_used);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
