/*
 * The remote key object shared by keymgmt, signature and asym cipher: a
 * public key, a LURK key id and optionally the server that holds the
 * private half. Built offline from a key reference (docs/architecture.md §8.2: decoding
 * needs no network, so nginx -t, reloads and the master process never talk
 * to lurkd) or from a certificate lurkd announced (the lurk: store).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lurk/hex.h"
#include "lurk/keyid.h"

#include "provider.h"

static const char *const key_type_names[LURK_KEYREF_KEY_TYPES] = {
    [LURK_KEYREF_KEY_RSA] = "RSA",     [LURK_KEYREF_KEY_RSA_PSS] = "RSA-PSS",
    [LURK_KEYREF_KEY_EC] = "EC",       [LURK_KEYREF_KEY_ED25519] = "ED25519",
    [LURK_KEYREF_KEY_ED448] = "ED448",
};

const char *lurk_prov_key_type_name(enum lurk_keyref_key_type type)
{
    return key_type_names[type];
}

const char *lurk_prov_key_server_text(const struct lurk_prov_key *key)
{
    if (key != NULL && key->has_server)
        return key->server.text;
    if (key != NULL && key->pc->cfg.n_servers > 0)
        return key->pc->cfg.servers[0].text;
    return "(none configured)";
}

/* Takes ownership of pub. */
static struct lurk_prov_key *build(LURK_PROV_CTX *pc, EVP_PKEY *pub, const uint8_t *spki,
                                   size_t spki_len, const uint8_t id[LURK_KEY_ID_LEN],
                                   const char *server)
{
    struct lurk_prov_key *key = OPENSSL_zalloc(sizeof(*key));
    char why[160], id_hex[2 * LURK_KEY_ID_LEN + 1];
    int size;

    lurk_hex_encode(id, LURK_KEY_ID_LEN, id_hex);
    if (key == NULL)
        goto fail;
    key->pc = pc;
    key->pub = pub;
    pub = NULL;
    if (!lurk_keyref_classify_key(key->pub, &key->type, &key->curve, why, sizeof(why))) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_UNSUPPORTED_KEY_TYPE, "key id %s: %s", id_hex, why);
        goto fail;
    }
    size = EVP_PKEY_get_size(key->pub); /* modulus bytes, ECDSA DER maximum, 64 or 114 */
    if (size <= 0) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_UNSUPPORTED_KEY_TYPE, "key id %s: unusable public key",
                        id_hex);
        goto fail;
    }
    key->max_sig_len = (size_t)size;
    /* An RSA-PSS key whose parameters pin the hash signs with that hash only. */
    if (key->type == LURK_KEYREF_KEY_RSA_PSS &&
        EVP_PKEY_get_default_digest_name(key->pub, key->mandatory_md, sizeof(key->mandatory_md)) !=
            2)
        key->mandatory_md[0] = '\0';
    key->spki = OPENSSL_memdup(spki, spki_len);
    if (key->spki == NULL)
        goto fail;
    key->spki_len = spki_len;
    key->key_id.type = LURK_KEY_ID_TYPE_SHA256_32;
    memcpy(key->key_id.id, id, LURK_KEY_ID_LEN);
    memcpy(key->key_id_hex, id_hex, sizeof(id_hex));
    if (server != NULL) {
        char err[256];
        if (!lurk_address_parse(server, &key->server, err, sizeof(err))) {
            LURK_PROV_RAISE(pc, LURK_PROV_R_KEYREF_BAD_SERVER, "key id %s: %s", id_hex, err);
            goto fail;
        }
        key->has_server = true;
    }
    return key;
fail:
    EVP_PKEY_free(pub);
    lurk_prov_key_free(key);
    return NULL;
}

static int keyref_reason(enum lurk_keyref_status st)
{
    switch (st) {
    case LURK_KEYREF_BAD_VERSION:
        return LURK_PROV_R_KEYREF_VERSION;
    case LURK_KEYREF_BAD_KEY_ID_TYPE:
        return LURK_PROV_R_KEYREF_KEY_ID_TYPE;
    case LURK_KEYREF_KEY_ID_MISMATCH:
        return LURK_PROV_R_KEYREF_KEY_ID_MISMATCH;
    case LURK_KEYREF_BAD_SPKI:
        return LURK_PROV_R_KEYREF_BAD_SPKI;
    case LURK_KEYREF_BAD_SERVER:
        return LURK_PROV_R_KEYREF_BAD_SERVER;
    case LURK_KEYREF_TRAILING_DATA:
        return LURK_PROV_R_KEYREF_TRAILING_DATA;
    default:
        return LURK_PROV_R_KEYREF_MALFORMED;
    }
}

/*
 * The settings are checked when a key is loaded (docs/provider.md §1): a
 * bad value, an unknown lurk-* name or link credentials that do not load
 * make `nginx -t`, `haproxy -c` and `apachectl configtest` fail, naming the
 * setting. Whether lurkd answers is not checked: start-up never depends on it.
 */
/* Also in lurk-log, once per process: some applications drop OpenSSL's error data. */
static void log_once(LURK_PROV_CTX *pc, const char *why)
{
    static atomic_int logged_pid;
    int pid = (int)getpid();

    if (atomic_exchange(&logged_pid, pid) != pid)
        lurk_prov_log(pc, LOG_ERR, "bad lurk provider setting: %s", why);
}

static bool settings_usable(LURK_PROV_CTX *pc, const char *id_hex)
{
    bool tls = pc->cfg.ca_pem != NULL || pc->cfg.cert_pem != NULL || pc->cfg.key_pem != NULL;
    char err[300] = "";
    SSL_CTX *ctx;

    if (pc->cfg.error[0] != '\0') {
        LURK_PROV_RAISE(pc, LURK_PROV_R_CONFIG, "key id %s: %s", id_hex, pc->cfg.error);
        log_once(pc, pc->cfg.error);
        return false;
    }
    for (size_t i = 0; i < pc->cfg.n_servers; i++)
        tls |= pc->cfg.servers[i].kind == LURK_ADDRESS_TLS;
    if (!tls)
        return true;
    ctx = lurk_prov_pool_tls(pc, err, sizeof(err));
    if (ctx == NULL) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_CONFIG, "key id %s: %s", id_hex, err);
        log_once(pc, err);
        return false;
    }
    SSL_CTX_free(ctx);
    return true;
}

struct lurk_prov_key *lurk_prov_key_from_keyref(LURK_PROV_CTX *pc, const uint8_t *der, size_t len,
                                                bool *not_ours)
{
    struct lurk_keyref ref;
    enum lurk_keyref_status st;
    OSSL_LIB_CTX *libctx;
    EVP_PKEY *pub = NULL;

    *not_ours = false;
    st = lurk_keyref_parse(der, len, &ref);
    if (st == LURK_KEYREF_NOT_KEYREF) {
        *not_ours = true;
        return NULL;
    }
    if (st == LURK_KEYREF_OK) {
        if ((libctx = lurk_prov_libctx(pc)) == NULL)
            return NULL;
        /* d2i_PUBKEY_ex may leave errors for a bad SPKI: ours says it better. */
        ERR_set_mark();
        st = lurk_keyref_decode(libctx, der, len, &ref, &pub);
        ERR_pop_to_mark();
    }
    if (st != LURK_KEYREF_OK) {
        char id_hex[2 * LURK_KEY_ID_LEN + 1];
        lurk_hex_encode(ref.key_id, LURK_KEY_ID_LEN, id_hex);
        if (st == LURK_KEYREF_KEY_ID_MISMATCH || st == LURK_KEYREF_BAD_SPKI ||
            st == LURK_KEYREF_BAD_SERVER || st == LURK_KEYREF_TRAILING_DATA)
            LURK_PROV_RAISE(pc, keyref_reason(st), "key reference with key id %s: %s", id_hex,
                            lurk_keyref_status_text(st));
        else
            LURK_PROV_RAISE(pc, keyref_reason(st), "key reference: %s",
                            lurk_keyref_status_text(st));
        return NULL;
    }
    {
        char id_hex[2 * LURK_KEY_ID_LEN + 1];
        lurk_hex_encode(ref.key_id, LURK_KEY_ID_LEN, id_hex);
        if (!settings_usable(pc, id_hex)) {
            EVP_PKEY_free(pub);
            return NULL;
        }
    }
    return build(pc, pub, lurk_cbs_data(&ref.spki), lurk_cbs_len(&ref.spki), ref.key_id,
                 ref.has_server ? ref.server : NULL);
}

struct lurk_prov_key *lurk_prov_key_from_spki(LURK_PROV_CTX *pc, const uint8_t *spki, size_t len,
                                              const struct lurk_address *server)
{
    OSSL_LIB_CTX *libctx = lurk_prov_libctx(pc);
    const unsigned char *p = spki;
    uint8_t id[LURK_KEY_ID_LEN];
    EVP_PKEY *pub;

    if (libctx == NULL)
        return NULL;
    ERR_set_mark();
    pub = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, NULL);
    if (pub == NULL || p != spki + len || !lurk_keyid_from_spki(libctx, spki, len, id)) {
        ERR_pop_to_mark();
        EVP_PKEY_free(pub);
        LURK_PROV_RAISE(pc, LURK_PROV_R_KEYREF_BAD_SPKI, "public key announced by lurkd");
        return NULL;
    }
    ERR_pop_to_mark();
    return build(pc, pub, spki, len, id, server != NULL ? server->text : NULL);
}

struct lurk_prov_key *lurk_prov_key_dup(const struct lurk_prov_key *key)
{
    struct lurk_prov_key *dup = OPENSSL_memdup(key, sizeof(*key));

    if (dup == NULL)
        return NULL;
    dup->spki = OPENSSL_memdup(key->spki, key->spki_len);
    if (dup->spki == NULL || !EVP_PKEY_up_ref(key->pub)) {
        OPENSSL_free(dup->spki);
        OPENSSL_free(dup);
        return NULL;
    }
    return dup;
}

void lurk_prov_key_free(struct lurk_prov_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pub);
    OPENSSL_free(key->spki);
    OPENSSL_free(key);
}
