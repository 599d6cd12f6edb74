/* Key loading and lookup; see keystore.h. */
#include "keys/keystore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>

#include "keys/engine_key.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "keys/rsa_premaster.h"
#include "keys/secret_file.h"
#include "keys/sign_cache.h"

static void openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s", r ? r : "no details");
    ERR_clear_error();
}

/* The first private key found at uri (OSSL_STORE: file path or provider URI). */
static EVP_PKEY *load_private_key(const char *uri, char *why, size_t whylen)
{
    /* No passphrase prompt from a daemon: encrypted keys need a provider URI (pkcs11:). */
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, NULL, NULL, UI_null(), NULL, NULL, NULL, NULL);
    EVP_PKEY *pkey = NULL;

    if (store == NULL) {
        /* A plain path that cannot be read says so (OSSL_STORE often gives no reason). */
        if (strchr(uri, ':') == NULL && access(uri, R_OK) != 0) {
            ERR_clear_error();
            snprintf(why, whylen, "cannot read %s: %s", uri, strerror(errno));
        } else {
            openssl_reason(why, whylen);
        }
        return NULL;
    }
    OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
    while (pkey == NULL && !OSSL_STORE_eof(store)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);
        if (info == NULL)
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    if (pkey == NULL) {
        if (ERR_peek_last_error() != 0)
            openssl_reason(why, whylen);
        else
            snprintf(why, whylen, "no private key found");
    }
    OSSL_STORE_close(store);
    return pkey;
}

static X509 *load_certificate(const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    X509 *cert;

    if (f == NULL) {
        snprintf(why, whylen, "cannot open certificate %s", path);
        return NULL;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL)
        openssl_reason(why, whylen);
    return cert;
}

/* Key types and curves lurkd signs with (TLS 1.2 and 1.3 server keys). */
static bool classify(struct lurkd_key *k, char *why, size_t whylen)
{
    EVP_PKEY *p = k->pkey;

    k->bits = EVP_PKEY_get_bits(p);
    if (EVP_PKEY_is_a(p, "RSA")) {
        k->kind = LURKD_KEY_RSA;
    } else if (EVP_PKEY_is_a(p, "RSA-PSS")) {
        k->kind = LURKD_KEY_RSA_PSS;
    } else if (EVP_PKEY_is_a(p, "ED25519")) {
        k->kind = LURKD_KEY_ED25519;
    } else if (EVP_PKEY_is_a(p, "ED448")) {
        k->kind = LURKD_KEY_ED448;
    } else if (EVP_PKEY_is_a(p, "EC")) {
        char group[64] = "";
        k->kind = LURKD_KEY_EC;
        EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            k->ec_group = 23;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            k->ec_group = 24;
        else if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
            k->ec_group = 25;
        else {
            snprintf(why, whylen, "unsupported EC curve %s (P-256, P-384 and P-521 only)", group);
            return false;
        }
    } else {
        snprintf(why, whylen, "unsupported key type %s", EVP_PKEY_get0_type_name(p));
        return false;
    }
    /* 1024-bit keys only load for replaying old captures; lurkd warns about them. */
    if ((k->kind == LURKD_KEY_RSA || k->kind == LURKD_KEY_RSA_PSS) && k->bits < 1024) {
        snprintf(why, whylen, "RSA key of %d bits is too small", k->bits);
        return false;
    }
    return true;
}

/*
 * The exchanges of the section this key can do. RSA key transport is only
 * there when the section names it (config.h) and needs an rsaEncryption key
 * whose private exponent lurkd holds: its implicit rejection derives the
 * synthetic premasters from it (rsa_premaster.h). A token behind an engine
 * decrypts plain PKCS#1 v1.5 at best, a padding oracle: naming RSA key
 * transport for an engine key is an error.
 */
static bool usable_exchanges(struct lurkd_key *k, char *why, size_t whylen, const char **at)
{
    const struct lurkd_key_conf *conf = k->conf;

    k->exchanges = conf->exchanges;
    if (k->engine != NULL && k->kind == LURKD_KEY_RSA &&
        (conf->exchanges & LURKD_EX_RSA_KEY_TRANSPORT) != 0) {
        snprintf(why, whylen,
                 "an engine key cannot do the RSA key transport exchanges (rsa_master*, "
                 "rsa_premaster): their implicit rejection needs the private key in lurkd");
        *at = conf->exchanges_where ? conf->exchanges_where : conf->where;
        return false;
    }
    if (k->kind != LURKD_KEY_RSA || k->engine != NULL)
        k->exchanges &= ~(uint32_t)LURKD_EX_RSA_KEY_TRANSPORT;
    if ((k->exchanges & LURKD_EX_RSA_KEY_TRANSPORT) != 0 &&
        (k->rsa_kx = lurkd_rsa_kx_new(k->pkey)) == NULL) {
        snprintf(why, whylen, "cannot derive the implicit rejection secret of this RSA key");
        *at = conf->exchanges_where ? conf->exchanges_where : conf->where;
        return false;
    }
    return true;
}

/* On failure *at is where the setting at fault is configured ("file:line"). */
static bool load_one(const struct lurkd_config *cfg, const struct lurkd_key_conf *conf,
                     struct lurkd_key *k, char *why, size_t whylen, const char **at)
{
    k->conf = conf;
    *at = conf->source_where ? conf->source_where : conf->where;
    if ((k->sign_cache = lurkd_sign_cache_new()) == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    if (lurkd_key_source_is_engine(conf->source))
        k->pkey = lurkd_engine_load_key(cfg, conf, &k->engine, why, whylen, at);
    else
        k->pkey = lurkd_secret_file_private(conf->source, why, whylen)
                      ? load_private_key(conf->source, why, whylen)
                      : NULL;
    if (k->pkey == NULL || !classify(k, why, whylen) || !usable_exchanges(k, why, whylen, at))
        return false;
    if (!lurk_keyid_from_pkey(NULL, k->pkey, k->id)) {
        openssl_reason(why, whylen);
        return false;
    }
    lurk_hex_encode(k->id, sizeof(k->id), k->id_hex);
    int spki_len = i2d_PUBKEY(k->pkey, &k->spki_der);
    if (spki_len <= 0) {
        openssl_reason(why, whylen);
        return false;
    }
    k->spki_der_len = (size_t)spki_len;
    const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(k->pkey);
    const char *prov_name = prov != NULL ? OSSL_PROVIDER_get0_name(prov) : NULL;
    k->in_memory = k->engine == NULL && prov_name != NULL &&
                   (strcmp(prov_name, "default") == 0 || strcmp(prov_name, "fips") == 0);
    /*
     * OpenSSL checks every RSA-CRT result of a key in memory before it
     * leaves libcrypto; a token behind an engine or another provider is on
     * its own, so lurkd checks its signatures with the public key (a faulty
     * one reveals the key's factors to whoever verifies it).
     */
    if (!k->in_memory && (k->kind == LURKD_KEY_RSA || k->kind == LURKD_KEY_RSA_PSS)) {
        const uint8_t *p = k->spki_der;
        if ((k->check_key = d2i_PUBKEY(NULL, &p, spki_len)) == NULL) {
            openssl_reason(why, whylen);
            return false;
        }
    }
    if (conf->certificate != NULL) {
        *at = conf->certificate_where ? conf->certificate_where : conf->where;
        k->cert = load_certificate(conf->certificate, why, whylen);
        if (k->cert == NULL)
            return false;
        if (X509_check_private_key(k->cert, k->pkey) != 1) {
            ERR_clear_error();
            snprintf(why, whylen, "certificate %s does not match the key", conf->certificate);
            return false;
        }
        int len = i2d_X509(k->cert, &k->cert_der);
        if (len <= 0) {
            openssl_reason(why, whylen);
            return false;
        }
        k->cert_der_len = (size_t)len;
    }
    return true;
}

/* The source as errors show it: a PIN put into a pkcs11 URI stays out of the logs. */
static void shown_source(const char *source, char *buf, size_t len)
{
    const char *pin = strstr(source, "pin-value=");

    if (pin == NULL)
        snprintf(buf, len, "%s", source);
    else
        snprintf(buf, len, "%.*spin-value=...", (int)(pin - source), source);
}

static void key_clear(struct lurkd_key *k)
{
    lurkd_sign_cache_free(k->sign_cache);
    EVP_PKEY_free(k->check_key);
    lurkd_rsa_kx_free(k->rsa_kx);
    EVP_PKEY_free(k->pkey);
    lurkd_engine_release(k->engine); /* after the key, which uses it */
    X509_free(k->cert);
    OPENSSL_free(k->cert_der);
    OPENSSL_free(k->spki_der);
    memset(k, 0, sizeof(*k));
}

struct lurkd_keystore *lurkd_keystore_load(const struct lurkd_config *cfg, char *err, size_t errlen)
{
    struct lurkd_keystore *ks = calloc(1, sizeof(*ks));

    if (ks == NULL ||
        (cfg->n_keys > 0 && (ks->keys = calloc(cfg->n_keys, sizeof(*ks->keys))) == NULL)) {
        free(ks);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const struct lurkd_key_conf *conf = &cfg->keys[i];
        struct lurkd_key *k = &ks->keys[i];
        char why[512], source[512];
        const char *at;
        ks->n_keys = i + 1;
        if (!load_one(cfg, conf, k, why, sizeof(why), &at)) {
            shown_source(conf->source, source, sizeof(source));
            snprintf(err, errlen, "%s: key \"%s\" (%s): %s", at, conf->name, source, why);
            goto fail;
        }
        /* docs/architecture.md §5: two keys with the same id would make requests ambiguous. */
        for (size_t j = 0; j < i; j++) {
            if (memcmp(ks->keys[j].id, k->id, sizeof(k->id)) == 0) {
                const struct lurkd_key_conf *first = ks->keys[j].conf;
                snprintf(err, errlen, "%s: key \"%s\" has the same key id %s as key \"%s\" (%s)",
                         conf->source_where ? conf->source_where : conf->where, conf->name,
                         k->id_hex, first->name,
                         first->source_where ? first->source_where : first->where);
                goto fail;
            }
        }
    }
    return ks;
fail:
    lurkd_keystore_free(ks);
    return NULL;
}

void lurkd_keystore_free(struct lurkd_keystore *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n_keys; i++)
        key_clear(&ks->keys[i]);
    free(ks->keys);
    free(ks);
}

const struct lurkd_key *lurkd_keystore_find(const struct lurkd_keystore *ks,
                                            const uint8_t id[LURK_KEY_ID_LEN])
{
    /* A handful of keys per daemon: a linear scan beats a hash table here. */
    for (size_t i = 0; i < ks->n_keys; i++)
        if (memcmp(ks->keys[i].id, id, LURK_KEY_ID_LEN) == 0)
            return &ks->keys[i];
    return NULL;
}

const char *lurkd_key_kind_name(const struct lurkd_key *key)
{
    static const char *const names[] = {"RSA", "RSA-PSS", "EC", "ED25519", "ED448"};
    return names[key->kind];
}

bool lurkd_key_encode_typed_certificate(const struct lurkd_key *key, lurk_cbb *out)
{
    struct lurk_tls12_typed_certificate tc;

    if (key->cert_der != NULL) {
        tc.certificate_type = LURK_CERTIFICATE_TYPE_X509;
        lurk_cbs_init(&tc.data, key->cert_der, key->cert_der_len);
    } else {
        tc.certificate_type = LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY;
        lurk_cbs_init(&tc.data, key->spki_der, key->spki_der_len);
    }
    return lurk_tls12_typed_certificate_encode(out, &tc);
}
