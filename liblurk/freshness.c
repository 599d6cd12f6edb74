/* Freshness functions; see freshness.h. */
#include "lurk/freshness.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Labels are the ASCII bytes only, without a terminating NUL. */
static const char tls12_label[] = "tls12 pfs";
static const char tls13_label_srv[] = "tls13 pfs srv";
static const char tls13_label_clt[] = "tls13 pfs clt";

/* SHA-256(random || label) into out (32 bytes). */
static bool sha256_random_label(OSSL_LIB_CTX *libctx, const uint8_t random[LURK_RANDOM_LEN],
                                const char *label, size_t label_len, uint8_t out[32])
{
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = md != NULL && ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
              EVP_DigestUpdate(ctx, random, LURK_RANDOM_LEN) == 1 &&
              EVP_DigestUpdate(ctx, label, label_len) == 1 &&
              EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 32;

    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return ok;
}

bool lurk_freshness_tls12_server_random(OSSL_LIB_CTX *libctx, uint8_t funct,
                                        const uint8_t s[LURK_RANDOM_LEN],
                                        uint8_t out[LURK_RANDOM_LEN])
{
    uint8_t h[32];

    switch (funct) {
    case LURK_FRESHNESS_SHA256:
        if (!sha256_random_label(libctx, s, tls12_label, sizeof(tls12_label) - 1, h))
            return false;
        /* §4.1.1: keep gmt_unix_time (S[0..3]), replace the 28 random bytes. */
        memmove(out, s, 4);
        memcpy(out + 4, h + 4, LURK_RANDOM_LEN - 4);
        OPENSSL_cleanse(h, sizeof(h));
        return true;
    case LURK_FRESHNESS_NULL:
        memmove(out, s, LURK_RANDOM_LEN);
        return true;
    default:
        return false;
    }
}

uint32_t lurk_freshness_tls12_gmt_unix_time(const uint8_t random[LURK_RANDOM_LEN])
{
    return (uint32_t)random[0] << 24 | (uint32_t)random[1] << 16 | (uint32_t)random[2] << 8 |
           (uint32_t)random[3];
}

bool lurk_freshness_tls12_time_ok(const uint8_t s[LURK_RANDOM_LEN], int64_t now, uint32_t window)
{
    /*
     * |t - now| <= window, written as bounds on now: t and window are both
     * below 2^32, so t +/- window cannot overflow whatever now is.
     */
    int64_t t = (int64_t)lurk_freshness_tls12_gmt_unix_time(s);

    return now >= t - (int64_t)window && now <= t + (int64_t)window;
}

bool lurk_freshness_tls13_random(OSSL_LIB_CTX *libctx, uint8_t funct, enum lurk_freshness_role role,
                                 const uint8_t in[LURK_RANDOM_LEN], uint8_t out[LURK_RANDOM_LEN])
{
    const char *label;
    uint8_t h[32];

    if (funct != LURK_FRESHNESS_SHA256 && funct != LURK_FRESHNESS_NULL)
        return false;
    if (role != LURK_FRESHNESS_ROLE_SERVER && role != LURK_FRESHNESS_ROLE_CLIENT)
        return false;
    /* null: the pre-image is the random (protocol.md T11; the caller's policy allowed it). */
    if (funct == LURK_FRESHNESS_NULL) {
        memmove(out, in, LURK_RANDOM_LEN);
        return true;
    }
    switch (role) {
    case LURK_FRESHNESS_ROLE_SERVER:
        label = tls13_label_srv;
        break;
    case LURK_FRESHNESS_ROLE_CLIENT:
        /* -01 writes server_random here too: a typo, the client's random is meant. */
        label = tls13_label_clt;
        break;
    default:
        return false;
    }
    /* Both labels are 13 characters; hash into h so out may alias in. */
    if (!sha256_random_label(libctx, in, label, sizeof(tls13_label_srv) - 1, h))
        return false;
    memcpy(out, h, LURK_RANDOM_LEN);
    OPENSSL_cleanse(h, sizeof(h));
    return true;
}
