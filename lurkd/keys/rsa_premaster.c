/* RSA key transport decryption with deterministic implicit rejection; see rsa_premaster.h. */
#include "keys/rsa_premaster.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "lurk/ct.h"

#define REJECTION_KEY_LEN 32       /* SHA-256 */
#define SYNTHETIC_MAC     "SHA384" /* 48 bytes: one MAC gives the 46 random premaster bytes */

struct lurkd_rsa_kx {
    uint8_t rejection_key[REJECTION_KEY_LEN];
    size_t k;         /* modulus length in bytes */
    uint8_t *modulus; /* n, big-endian, k bytes: the public range check */
};

struct lurkd_rsa_kx *lurkd_rsa_kx_new(EVP_PKEY *rsa)
{
    struct lurkd_rsa_kx *kx = calloc(1, sizeof(*kx));
    BIGNUM *d = NULL, *n = NULL;
    uint8_t *d_bytes = NULL;
    bool ok = false;

    if (kx == NULL)
        return NULL;
    kx->k = (size_t)EVP_PKEY_get_size(rsa);
    /*
     * The secret is the private exponent itself (draft-irtf-cfrg-rsa-guidance,
     * implicit rejection: KDK from SHA-256 of d as k bytes), so that every
     * process holding the key derives the same synthetic premasters.
     */
    if (EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_D, &d) != 1 ||
        EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n) != 1)
        goto out;
    d_bytes = OPENSSL_secure_malloc(kx->k);
    kx->modulus = malloc(kx->k);
    if (d_bytes == NULL || kx->modulus == NULL ||
        BN_bn2binpad(d, d_bytes, (int)kx->k) != (int)kx->k ||
        BN_bn2binpad(n, kx->modulus, (int)kx->k) != (int)kx->k ||
        EVP_Digest(d_bytes, kx->k, kx->rejection_key, NULL, EVP_sha256(), NULL) != 1)
        goto out;
    ok = true;
out:
    if (d_bytes != NULL)
        OPENSSL_secure_clear_free(d_bytes, kx->k);
    BN_clear_free(d);
    BN_free(n);
    ERR_clear_error();
    if (!ok) {
        lurkd_rsa_kx_free(kx);
        return NULL;
    }
    return kx;
}

void lurkd_rsa_kx_free(struct lurkd_rsa_kx *kx)
{
    if (kx == NULL)
        return;
    free(kx->modulus);
    OPENSSL_cleanse(kx, sizeof(*kx));
    free(kx);
}

/*
 * The premaster of a malformed block: client_version, then 46 bytes of
 * HMAC-SHA-384 keyed with the rejection secret over the ciphertext (k bytes).
 * Its first two bytes are the version a good block must carry, so they tell
 * nothing either.
 */
static bool synthetic_premaster(const struct lurkd_rsa_kx *kx, uint16_t client_version,
                                const uint8_t *c, uint8_t out[LURK_PREMASTER_LEN])
{
    uint8_t mac[48];
    size_t mac_len = 0;
    bool ok = EVP_Q_mac(NULL, "HMAC", NULL, SYNTHETIC_MAC, NULL, kx->rejection_key,
                        sizeof(kx->rejection_key), c, kx->k, mac, sizeof(mac), &mac_len) != NULL &&
              mac_len == sizeof(mac);

    out[0] = (uint8_t)(client_version >> 8);
    out[1] = (uint8_t)client_version;
    memcpy(out + 2, mac, LURK_PREMASTER_LEN - 2);
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/*
 * RFC 5246 §7.4.7.1 on the decrypted block em (k bytes), in constant time:
 * where em is 00 02, k - 51 nonzero padding bytes, 00 and 48 bytes M, the
 * premaster is client_version || M[2..47]; elsewhere it is synthetic (which
 * starts with client_version too). M's own version bytes are never compared:
 * the RFC's third case already makes a rolled-back version give another
 * premaster, and an answer that changed with that comparison would tell a
 * caller who chooses client_version (rsa_premaster's field, the ClientHello
 * of the handshake_messages types) which blocks are well formed: the
 * Klima-Pokorny-Rosa "bad version" oracle, here by asking twice.
 */
static void select_premaster(const uint8_t *em, size_t k,
                             const uint8_t synthetic[LURK_PREMASTER_LEN],
                             uint8_t out[LURK_PREMASTER_LEN])
{
    const uint8_t *msg = em + k - LURK_PREMASTER_LEN;
    uint32_t good = lurk_ct_is_zero(em[0]) & lurk_ct_eq(em[1], 2);

    for (size_t i = 2; i < k - LURK_PREMASTER_LEN - 1; i++)
        good &= ~lurk_ct_is_zero(em[i]);
    good &= lurk_ct_is_zero(em[k - LURK_PREMASTER_LEN - 1]);
    out[0] = synthetic[0];
    out[1] = synthetic[1];
    for (size_t i = 2; i < LURK_PREMASTER_LEN; i++)
        out[i] = lurk_ct_select_u8(good, msg[i], synthetic[i]);
}

/* Raw RSA, private key: the block inside c (k bytes, below n). */
static bool raw_decrypt(EVP_PKEY *rsa, const uint8_t *c, size_t k, uint8_t *em)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
    size_t len = k;
    bool ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
              EVP_PKEY_decrypt(ctx, em, &len, c, k) == 1 && len == k;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

uint8_t lurkd_rsa_premaster_decrypt(EVP_PKEY *rsa, const struct lurkd_rsa_kx *kx,
                                    uint16_t client_version, const lurk_cbs *ciphertext,
                                    uint8_t premaster[LURK_PREMASTER_LEN], const char **note)
{
    size_t k = kx->k, len = lurk_cbs_len(ciphertext);
    uint8_t c[1024], em[1024], synthetic[LURK_PREMASTER_LEN];
    uint8_t st = LURK_TLS12_STATUS_UNDEFINED_ERROR;

    /* Public checks: they depend on the ciphertext and the modulus only. */
    if (len == 0 || len > k || k > sizeof(c) || k < LURK_PREMASTER_LEN + 11) {
        *note = "encrypted premaster is longer than the RSA modulus (or empty)";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    /* A shorter ciphertext is the same integer with leading zero bytes (RFC 8017 §4.2). */
    memset(c, 0, k - len);
    memcpy(c + k - len, lurk_cbs_data(ciphertext), len);
    if (memcmp(c, kx->modulus, k) >= 0) {
        *note = "encrypted premaster is not below the RSA modulus";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    /* Both candidates are computed for every ciphertext: one code path. */
    if (!synthetic_premaster(kx, client_version, c, synthetic) || !raw_decrypt(rsa, c, k, em)) {
        *note = "RSA decryption failed";
        goto out;
    }
    select_premaster(em, k, synthetic, premaster);
    st = LURK_STATUS_SUCCESS;
out:
    ERR_clear_error();
    OPENSSL_cleanse(em, sizeof(em));
    OPENSSL_cleanse(synthetic, sizeof(synthetic));
    return st;
}
