/* Provider test helpers; see prov_test_util.h. */
#include "prov_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "lurk/keyid.h"
#include "lurk/keyref.h"

const struct test_key_kind test_key_kinds[] = {
    {"RSA-2048", "RSA", NULL, 2048, "RSA"}, {"RSA-PSS-2048", "RSA-PSS", NULL, 2048, "RSA"},
    {"P-256", "EC", "P-256", 0, "ECDSA"},   {"P-384", "EC", "P-384", 0, "ECDSA"},
    {"P-521", "EC", "P-521", 0, "ECDSA"},   {"Ed25519", "ED25519", NULL, 0, "ED25519"},
    {"Ed448", "ED448", NULL, 0, "ED448"},
};
const size_t n_test_key_kinds = sizeof(test_key_kinds) / sizeof(test_key_kinds[0]);

EVP_PKEY *test_keygen(const struct test_key_kind *kind)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, kind->type, NULL);
    EVP_PKEY *key = NULL;

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
        goto out;
    if (kind->bits > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, kind->bits) <= 0)
        goto out;
    if (kind->curve != NULL && EVP_PKEY_CTX_set_group_name(ctx, kind->curve) <= 0)
        goto out;
    if (EVP_PKEY_generate(ctx, &key) <= 0)
        key = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    return key;
}

X509 *test_self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    const char *md = EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : "SHA256";

    if (x == NULL || name == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_version(x, X509_VERSION_3) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
        !X509_set_pubkey(x, key) || X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
        X509_sign(x, key, md != NULL ? EVP_get_digestbyname(md) : NULL) <= 0) {
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(name);
    return x;
}

char *test_keyref_pem(EVP_PKEY *key, const char *server)
{
    char err[256];
    char *pem = lurk_keyref_pem_from_pkey(NULL, key, server, err, sizeof(err));
    char *copy;

    if (pem == NULL) {
        fprintf(stderr, "keyref: %s\n", err);
        return NULL;
    }
    copy = strdup(pem);
    OPENSSL_free(pem);
    return copy;
}

char *test_pem_wrap(const uint8_t *der, size_t len, const char *label)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem, *out = NULL;
    long n;

    if (bio != NULL && PEM_write_bio(bio, label, "", der, (long)len) > 0) {
        n = BIO_get_mem_data(bio, &mem);
        out = malloc((size_t)n + 1);
        if (out != NULL) {
            memcpy(out, mem, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

uint8_t *test_keyref_der(EVP_PKEY *key, const char *server, size_t *len)
{
    uint8_t *spki = NULL, id[LURK_KEY_ID_LEN], *out = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    lurk_cbb cbb;

    if (spki_len <= 0 || !lurk_keyid_from_spki(NULL, spki, (size_t)spki_len, id))
        goto done;
    if (lurk_cbb_init(&cbb, 4096, 65536) &&
        lurk_keyref_encode(&cbb, id, spki, (size_t)spki_len, server))
        out = lurk_cbb_release(&cbb, len);
    lurk_cbb_cleanup(&cbb);
done:
    OPENSSL_free(spki);
    return out;
}

/* OSSL_PROVIDER_load handles must be unloaded, or the providers outlive their context. */
static struct {
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *prov[2];
} loaded[8];

OSSL_LIB_CTX *test_libctx_with_lurk(void)
{
    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *deflt = NULL, *lurk = NULL;

    /* default first, as docs/provider.md asks of openssl.cnf */
    if (libctx == NULL || (deflt = OSSL_PROVIDER_load(libctx, "default")) == NULL ||
        !OSSL_PROVIDER_set_default_search_path(libctx, LURK_PROV_MODULE_DIR) ||
        (lurk = OSSL_PROVIDER_load(libctx, "lurk")) == NULL) {
        OSSL_PROVIDER_unload(deflt);
        OSSL_LIB_CTX_free(libctx);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(loaded) / sizeof(loaded[0]); i++) {
        if (loaded[i].libctx == NULL) {
            loaded[i].libctx = libctx;
            loaded[i].prov[0] = lurk;
            loaded[i].prov[1] = deflt;
            break;
        }
    }
    return libctx;
}

void test_libctx_free(OSSL_LIB_CTX *libctx)
{
    for (size_t i = 0; libctx != NULL && i < sizeof(loaded) / sizeof(loaded[0]); i++) {
        if (loaded[i].libctx == libctx) {
            OSSL_PROVIDER_unload(loaded[i].prov[0]);
            OSSL_PROVIDER_unload(loaded[i].prov[1]);
            loaded[i].libctx = NULL;
        }
    }
    OSSL_LIB_CTX_free(libctx);
}

bool test_write_config(const char *path, const char *lurk_settings)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return false;
    fprintf(f,
            "openssl_conf = openssl_init\n"
            "[openssl_init]\n"
            "providers = provider_sect\n"
            "[provider_sect]\n"
            "default = default_sect\n"
            "lurk = lurk_sect\n"
            "[default_sect]\n"
            "activate = 1\n"
            "[lurk_sect]\n"
            "module = %s/lurk.so\n"
            "activate = 1\n"
            "%s\n",
            LURK_PROV_MODULE_DIR, lurk_settings != NULL ? lurk_settings : "");
    return fclose(f) == 0;
}

OSSL_LIB_CTX *test_libctx_with_config(const char *lurk_settings, char *conf_path,
                                      size_t conf_path_len)
{
    OSSL_LIB_CTX *libctx;
    char tmpl[] = "/tmp/lurk-prov-test-XXXXXX";
    int fd = mkstemp(tmpl);

    if (fd < 0)
        return NULL;
    close(fd);
    snprintf(conf_path, conf_path_len, "%s", tmpl);
    if (!test_write_config(tmpl, lurk_settings))
        return NULL;
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, tmpl)) {
        OSSL_LIB_CTX_free(libctx);
        return NULL;
    }
    return libctx;
}

EVP_PKEY *test_read_key(OSSL_LIB_CTX *libctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = NULL;

    if (bio != NULL)
        key = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, libctx, NULL);
    BIO_free(bio);
    return key;
}

bool test_errors_have_reason(const char *reason, char *data, size_t datalen)
{
    const char *file, *func, *d;
    int line, flags;
    unsigned long e;
    bool found = false;

    while ((e = ERR_get_error_all(&file, &line, &func, &d, &flags)) != 0) {
        const char *r = ERR_reason_error_string(e);
        if (!found && r != NULL && strcmp(r, reason) == 0) {
            found = true;
            if (data != NULL)
                snprintf(data, datalen, "%s", (flags & ERR_TXT_STRING) && d != NULL ? d : "");
        }
    }
    return found;
}

void test_errors_text(char *buf, size_t len)
{
    const char *file, *func, *d;
    int line, flags;
    unsigned long e;
    size_t used = 0;

    buf[0] = '\0';
    while ((e = ERR_get_error_all(&file, &line, &func, &d, &flags)) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof(one));
        if (used + 1 < len)
            used += (size_t)snprintf(buf + used, len - used, "[%s%s%s] ", one,
                                     (flags & ERR_TXT_STRING) ? " " : "",
                                     (flags & ERR_TXT_STRING) && d != NULL ? d : "");
    }
}
