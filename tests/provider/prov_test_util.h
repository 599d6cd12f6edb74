/*
 * Helpers for the provider tests: keys and self-signed certificates made in
 * the test (nothing generated is committed), key references, library
 * contexts with lurk.so loaded, and error-queue inspection.
 */
#ifndef LURK_PROV_TEST_UTIL_H
#define LURK_PROV_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The key kinds the provider offers, with what the tests expect of them. */
struct test_key_kind {
    const char *label;   /* for messages */
    const char *type;    /* keymgmt name */
    const char *curve;   /* EC only */
    int bits;            /* RSA only */
    const char *sig_alg; /* signature algorithm our keymgmt announces */
};

extern const struct test_key_kind test_key_kinds[];
extern const size_t n_test_key_kinds;

/* A fresh key pair in the default library context. */
EVP_PKEY *test_keygen(const struct test_key_kind *kind);
/* A self-signed certificate for key (its own signer). */
X509 *test_self_signed(EVP_PKEY *key, const char *cn);

/* PEM text of a key reference for key (server may be NULL); malloc'd. */
char *test_keyref_pem(EVP_PKEY *key, const char *server);
/* PEM-wraps arbitrary DER under the key-reference label; malloc'd. */
char *test_pem_wrap(const uint8_t *der, size_t len, const char *label);
/* The DER of a key reference built from parts; malloc'd, *len set. */
uint8_t *test_keyref_der(EVP_PKEY *key, const char *server, size_t *len);

/* A private library context with "default" and lurk.so (module path set), no settings. */
OSSL_LIB_CTX *test_libctx_with_lurk(void);
/* Unloads what test_libctx_with_lurk loaded, then frees the context. */
void test_libctx_free(OSSL_LIB_CTX *libctx);
/* Same, through a config file holding the lurk-* settings given (may be NULL). */
OSSL_LIB_CTX *test_libctx_with_config(const char *lurk_settings, char *conf_path,
                                      size_t conf_path_len);
/* Writes an openssl.cnf loading default then lurk with extra lurk_settings lines. */
bool test_write_config(const char *path, const char *lurk_settings);

/* PEM_read_bio_PrivateKey_ex on a string, in libctx. */
EVP_PKEY *test_read_key(OSSL_LIB_CTX *libctx, const char *pem);

/*
 * Drains the error queue; true if an error with this reason string was in
 * it. If data is not NULL, the data string of that error is copied there.
 */
bool test_errors_have_reason(const char *reason, char *data, size_t datalen);
/* Drains the queue into one printable line (for failure messages). */
void test_errors_text(char *buf, size_t len);

#endif
