/* TLS 1.3 key schedule on EVP_KDF "HKDF" and EVP_MAC "HMAC"; see tls13_keysched.h. */
#include "lurk/tls13_keysched.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* RFC 8446 §7.1: every label is prefixed with these 6 bytes. */
static const char label_prefix[] = "tls13 ";
#define LABEL_PREFIX_LEN (sizeof(label_prefix) - 1)

/* HkdfLabel: uint16 + label<7..255> + context<0..255>. */
#define HKDF_LABEL_MAX (2 + 1 + 255 + 1 + 255)

const char *lurk_tls13_cipher_suite_md_name(uint16_t cipher_suite)
{
    switch (cipher_suite) {
    case 0x1301: /* TLS_AES_128_GCM_SHA256 */
    case 0x1303: /* TLS_CHACHA20_POLY1305_SHA256 */
    case 0x1304: /* TLS_AES_128_CCM_SHA256 */
    case 0x1305: /* TLS_AES_128_CCM_8_SHA256 */
        return "SHA256";
    case 0x1302: /* TLS_AES_256_GCM_SHA384 */
        return "SHA384";
    default:
        return NULL;
    }
}

static size_t md_len(const EVP_MD *md)
{
    int n = md != NULL ? EVP_MD_get_size(md) : 0;
    return n > 0 ? (size_t)n : 0;
}

/* One HKDF call (RFC 5869) in the given mode; key is the IKM or the PRK. */
static bool hkdf(OSSL_LIB_CTX *libctx, const EVP_MD *md, int mode, const uint8_t *key,
                 size_t key_len, const uint8_t *salt, size_t salt_len, const uint8_t *info,
                 size_t info_len, uint8_t *out, size_t out_len)
{
    OSSL_PARAM params[6];
    size_t np = 0;
    EVP_KDF *kdf;
    EVP_KDF_CTX *kctx = NULL;
    bool ok = false;

    if (md == NULL || key == NULL || key_len == 0 || out_len == 0)
        return false;
    params[np++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[np++] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    /* No salt at all is HMAC with an empty key, the same as hash_len zeros (RFC 5869 §2.2). */
    if (salt_len > 0)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[np] = OSSL_PARAM_construct_end();

    kdf = EVP_KDF_fetch(libctx, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf != NULL)
        kctx = EVP_KDF_CTX_new(kdf);
    if (kctx != NULL)
        ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    /* Freeing the context cleanses its copies of key and salt. */
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (!ok)
        OPENSSL_cleanse(out, out_len);
    return ok;
}

bool lurk_tls13_hkdf_extract(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *salt,
                             size_t salt_len, const uint8_t *ikm, size_t ikm_len, uint8_t *out)
{
    if (salt == NULL && salt_len != 0)
        return false;
    return hkdf(libctx, md, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0,
                out, md_len(md));
}

bool lurk_tls13_hkdf_expand_label(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *secret,
                                  size_t secret_len, const char *label, const uint8_t *context,
                                  size_t context_len, uint8_t *out, size_t out_len)
{
    uint8_t info[HKDF_LABEL_MAX];
    size_t label_len = label != NULL ? strlen(label) : 0;
    size_t n = 0;

    /* RFC 8446 §7.1: opaque label<7..255> including the prefix, context<0..255>. */
    if (label == NULL || LABEL_PREFIX_LEN + label_len > 255 || context_len > 255 ||
        (context == NULL && context_len != 0) || out_len > 0xffff)
        return false;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(LABEL_PREFIX_LEN + label_len);
    memcpy(info + n, label_prefix, LABEL_PREFIX_LEN);
    n += LABEL_PREFIX_LEN;
    memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = (uint8_t)context_len;
    if (context_len > 0)
        memcpy(info + n, context, context_len);
    n += context_len;

    /* The context may be a ticket nonce or transcript hash: not secret, nothing to wipe. */
    return hkdf(libctx, md, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, secret_len, NULL, 0, info, n,
                out, out_len);
}

bool lurk_tls13_derive_secret(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *secret,
                              const char *label, const uint8_t *transcript_hash, uint8_t *out)
{
    size_t hl = md_len(md);

    if (transcript_hash == NULL)
        return false;
    return lurk_tls13_hkdf_expand_label(libctx, md, secret, hl, label, transcript_hash, hl, out,
                                        hl);
}

bool lurk_tls13_empty_hash(const EVP_MD *md, uint8_t *out)
{
    unsigned int len = 0;

    return md != NULL && EVP_Digest("", 0, out, &len, md, NULL) == 1 && len == md_len(md);
}

bool lurk_tls13_finished_key(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *base_key,
                             uint8_t *out)
{
    size_t hl = md_len(md);

    return lurk_tls13_hkdf_expand_label(libctx, md, base_key, hl, "finished", NULL, 0, out, hl);
}

/* HMAC(key, data) with md, hash_len bytes of output. */
static bool hmac(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *key, size_t key_len,
                 const uint8_t *data, size_t data_len, uint8_t *out)
{
    OSSL_PARAM params[2];
    EVP_MAC *mac;
    EVP_MAC_CTX *mctx = NULL;
    size_t outl = 0, hl = md_len(md);
    bool ok = false;

    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(libctx, OSSL_MAC_NAME_HMAC, NULL);
    if (mac != NULL)
        mctx = EVP_MAC_CTX_new(mac);
    if (mctx != NULL)
        ok = EVP_MAC_init(mctx, key, key_len, params) == 1 &&
             EVP_MAC_update(mctx, data, data_len) == 1 &&
             EVP_MAC_final(mctx, out, &outl, hl) == 1 && outl == hl;
    /* Freeing the context cleanses the key schedule it derived from key. */
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    return ok;
}

bool lurk_tls13_finished(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *base_key,
                         const uint8_t *transcript_hash, uint8_t *out)
{
    uint8_t finished_key[LURK_TLS13_MAX_HASH_LEN];
    size_t hl = md_len(md);
    bool ok;

    if (hl == 0 || hl > sizeof(finished_key) || transcript_hash == NULL)
        return false;
    /* RFC 8446 §4.4.4: verify_data = HMAC(finished_key, Transcript-Hash(...)). */
    ok = lurk_tls13_finished_key(libctx, md, base_key, finished_key) &&
         hmac(libctx, md, finished_key, hl, transcript_hash, hl, out);
    OPENSSL_cleanse(finished_key, sizeof(finished_key));
    return ok;
}

bool lurk_tls13_psk_binder(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *binder_key,
                           const uint8_t *truncated_ch_hash, uint8_t *out)
{
    /* RFC 8446 §4.2.11.2: "computed in the same way as the Finished message". */
    return lurk_tls13_finished(libctx, md, binder_key, truncated_ch_hash, out);
}

bool lurk_tls13_resumption_psk(OSSL_LIB_CTX *libctx, const EVP_MD *md,
                               const uint8_t *resumption_master_secret, const uint8_t *nonce,
                               size_t nonce_len, uint8_t *out)
{
    size_t hl = md_len(md);

    return lurk_tls13_hkdf_expand_label(libctx, md, resumption_master_secret, hl, "resumption",
                                        nonce, nonce_len, out, hl);
}

/* ---- the schedule ---- */

bool lurk_tls13_keysched_init(struct lurk_tls13_keysched *ks, OSSL_LIB_CTX *libctx,
                              const char *md_name)
{
    memset(ks, 0, sizeof(*ks));
    ks->stage = LURK_TLS13_KS_FAILED;
    if (md_name == NULL)
        return false;
    ks->md = EVP_MD_fetch(libctx, md_name, NULL);
    ks->hash_len = md_len(ks->md);
    if (ks->hash_len == 0 || ks->hash_len > LURK_TLS13_MAX_HASH_LEN) {
        EVP_MD_free(ks->md);
        ks->md = NULL;
        ks->hash_len = 0;
        return false;
    }
    ks->libctx = libctx;
    ks->stage = LURK_TLS13_KS_INIT;
    return true;
}

bool lurk_tls13_keysched_init_suite(struct lurk_tls13_keysched *ks, OSSL_LIB_CTX *libctx,
                                    uint16_t cipher_suite)
{
    return lurk_tls13_keysched_init(ks, libctx, lurk_tls13_cipher_suite_md_name(cipher_suite));
}

void lurk_tls13_keysched_cleanup(struct lurk_tls13_keysched *ks)
{
    if (ks == NULL)
        return;
    EVP_MD_free(ks->md);
    OPENSSL_cleanse(ks, sizeof(*ks));
    ks->stage = LURK_TLS13_KS_FAILED;
}

size_t lurk_tls13_keysched_hash_len(const struct lurk_tls13_keysched *ks)
{
    return ks->hash_len;
}

const EVP_MD *lurk_tls13_keysched_md(const struct lurk_tls13_keysched *ks)
{
    return ks->md;
}

enum lurk_tls13_ks_stage lurk_tls13_keysched_stage(const struct lurk_tls13_keysched *ks)
{
    return ks->stage;
}

const uint8_t *lurk_tls13_keysched_secret(const struct lurk_tls13_keysched *ks)
{
    switch (ks->stage) {
    case LURK_TLS13_KS_EARLY:
    case LURK_TLS13_KS_HANDSHAKE:
    case LURK_TLS13_KS_MASTER:
        return ks->secret;
    default:
        return NULL;
    }
}

/*
 * One extract step: secret = HKDF-Extract(salt, ikm), where salt is
 * Derive-Secret(current, "derived", "") except for the Early Secret (salt
 * 0), and a missing ikm is hash_len zeros (RFC 8446 §7.1).
 */
static bool extract_step(struct lurk_tls13_keysched *ks, enum lurk_tls13_ks_stage from,
                         enum lurk_tls13_ks_stage to, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t zeros[LURK_TLS13_MAX_HASH_LEN] = {0};
    uint8_t salt[LURK_TLS13_MAX_HASH_LEN] = {0};
    uint8_t empty_hash[LURK_TLS13_MAX_HASH_LEN];
    uint8_t next[LURK_TLS13_MAX_HASH_LEN];
    bool ok = true;

    if (ks->stage != from || (ikm == NULL && ikm_len != 0))
        return false;
    if (ikm == NULL) {
        ikm = zeros;
        ikm_len = ks->hash_len;
    }
    if (from != LURK_TLS13_KS_INIT)
        ok = lurk_tls13_empty_hash(ks->md, empty_hash) &&
             lurk_tls13_derive_secret(ks->libctx, ks->md, ks->secret, "derived", empty_hash, salt);
    ok = ok && lurk_tls13_hkdf_extract(ks->libctx, ks->md, salt, ks->hash_len, ikm, ikm_len, next);
    if (ok) {
        memcpy(ks->secret, next, ks->hash_len);
        ks->stage = to;
    } else {
        /* A half-done schedule must not be used: the old secret goes too. */
        OPENSSL_cleanse(ks->secret, sizeof(ks->secret));
        ks->stage = LURK_TLS13_KS_FAILED;
    }
    OPENSSL_cleanse(salt, sizeof(salt));
    OPENSSL_cleanse(next, sizeof(next));
    return ok;
}

bool lurk_tls13_keysched_extract_early(struct lurk_tls13_keysched *ks, const uint8_t *psk,
                                       size_t psk_len)
{
    return extract_step(ks, LURK_TLS13_KS_INIT, LURK_TLS13_KS_EARLY, psk, psk_len);
}

bool lurk_tls13_keysched_extract_handshake(struct lurk_tls13_keysched *ks, const uint8_t *shared,
                                           size_t shared_len)
{
    return extract_step(ks, LURK_TLS13_KS_EARLY, LURK_TLS13_KS_HANDSHAKE, shared, shared_len);
}

bool lurk_tls13_keysched_extract_master(struct lurk_tls13_keysched *ks)
{
    return extract_step(ks, LURK_TLS13_KS_HANDSHAKE, LURK_TLS13_KS_MASTER, NULL, 0);
}

/* Derive-Secret(current secret, label, transcript_hash), only in stage. */
static bool derive_in(const struct lurk_tls13_keysched *ks, enum lurk_tls13_ks_stage stage,
                      const char *label, const uint8_t *transcript_hash, uint8_t *out)
{
    if (ks->stage != stage || transcript_hash == NULL || out == NULL)
        return false;
    return lurk_tls13_derive_secret(ks->libctx, ks->md, ks->secret, label, transcript_hash, out);
}

bool lurk_tls13_keysched_binder_key(const struct lurk_tls13_keysched *ks,
                                    enum lurk_tls13_binder_kind kind, uint8_t *out)
{
    uint8_t empty_hash[LURK_TLS13_MAX_HASH_LEN];
    const char *label;

    switch (kind) {
    case LURK_TLS13_BINDER_EXTERNAL:
        label = "ext binder";
        break;
    case LURK_TLS13_BINDER_RESUMPTION:
        label = "res binder";
        break;
    default:
        return false;
    }
    return ks->md != NULL && lurk_tls13_empty_hash(ks->md, empty_hash) &&
           derive_in(ks, LURK_TLS13_KS_EARLY, label, empty_hash, out);
}

bool lurk_tls13_keysched_client_early_traffic(const struct lurk_tls13_keysched *ks,
                                              const uint8_t *th_ch, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_EARLY, "c e traffic", th_ch, out);
}

bool lurk_tls13_keysched_early_exporter_master(const struct lurk_tls13_keysched *ks,
                                               const uint8_t *th_ch, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_EARLY, "e exp master", th_ch, out);
}

bool lurk_tls13_keysched_client_handshake_traffic(const struct lurk_tls13_keysched *ks,
                                                  const uint8_t *th_sh, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_HANDSHAKE, "c hs traffic", th_sh, out);
}

bool lurk_tls13_keysched_server_handshake_traffic(const struct lurk_tls13_keysched *ks,
                                                  const uint8_t *th_sh, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_HANDSHAKE, "s hs traffic", th_sh, out);
}

bool lurk_tls13_keysched_client_application_traffic(const struct lurk_tls13_keysched *ks,
                                                    const uint8_t *th_sfin, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_MASTER, "c ap traffic", th_sfin, out);
}

bool lurk_tls13_keysched_server_application_traffic(const struct lurk_tls13_keysched *ks,
                                                    const uint8_t *th_sfin, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_MASTER, "s ap traffic", th_sfin, out);
}

bool lurk_tls13_keysched_exporter_master(const struct lurk_tls13_keysched *ks,
                                         const uint8_t *th_sfin, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_MASTER, "exp master", th_sfin, out);
}

bool lurk_tls13_keysched_resumption_master(const struct lurk_tls13_keysched *ks,
                                           const uint8_t *th_cfin, uint8_t *out)
{
    return derive_in(ks, LURK_TLS13_KS_MASTER, "res master", th_cfin, out);
}
