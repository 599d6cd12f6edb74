/* (EC)DHE for the ephemeral extension; see tls13_ephemeral.h. */
#include "tls13/ephemeral.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "lurk/ecx.h"
#include "lurk/tls13.h"

/* RFC 8446 §4.2.7 NamedGroup code points. */
#define GROUP_SECP256R1 23
#define GROUP_SECP384R1 24
#define GROUP_SECP521R1 25
#define GROUP_X25519    29
#define GROUP_X448      30

struct group {
    uint16_t code;
    const char *name; /* OpenSSL key type (X25519, X448) or curve name (EC) */
    int nid;          /* EC curves: for the point arithmetic */
    bool ec;
    size_t len; /* private key / coordinate / shared secret length */
};

static const struct group groups[] = {
    {GROUP_X25519, "X25519", NID_undef, false, 32},
    {GROUP_X448, "X448", NID_undef, false, 56},
    {GROUP_SECP256R1, "P-256", NID_X9_62_prime256v1, true, 32},
    {GROUP_SECP384R1, "P-384", NID_secp384r1, true, 48},
    {GROUP_SECP521R1, "P-521", NID_secp521r1, true, 66},
};

const uint16_t lurkd_tls13_groups[] = {GROUP_X25519, GROUP_X448, GROUP_SECP256R1, GROUP_SECP384R1,
                                       GROUP_SECP521R1};
const size_t lurkd_tls13_n_groups = sizeof(lurkd_tls13_groups) / sizeof(lurkd_tls13_groups[0]);

static const struct group *group_find(uint16_t code)
{
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (groups[i].code == code)
            return &groups[i];
    return NULL;
}

bool lurkd_tls13_group_supported(uint16_t group)
{
    return group_find(group) != NULL;
}

/* An EC key from an uncompressed point (RFC 8446 §4.2.8.2) and, optionally, the private scalar. */
static EVP_PKEY *ec_key(const struct group *g, const uint8_t *point, size_t point_len,
                        const BIGNUM *priv)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, g->name, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len) ||
        (priv != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* The peer's key share as a public key; NULL when it is not a valid key of the group. */
static EVP_PKEY *peer_key(const struct group *g, const lurk_cbs *share)
{
    const uint8_t *p = lurk_cbs_data(share);
    size_t n = lurk_cbs_len(share);
    EVP_PKEY *pkey;

    if (!g->ec) {
        /* A small-order key share leaves no secret (RFC 8446 §7.4.2). */
        if (n != g->len || lurk_ecx_small_order(g->code, p, n))
            return NULL;
        return EVP_PKEY_new_raw_public_key_ex(NULL, g->name, NULL, p, n);
    }
    /* Uncompressed points only (RFC 8446 §4.2.8.2); oct2point checks the curve equation. */
    if (n != 1 + 2 * g->len || p[0] != 0x04)
        return NULL;
    pkey = ec_key(g, p, n, NULL);
    return pkey;
}

/*
 * The uncompressed point priv * G, written to out (1 + 2 * len bytes); false
 * for a scalar outside [1, order - 1], which is no private key of the curve.
 */
static bool ec_public_of(const struct group *g, const BIGNUM *priv, uint8_t *out)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name_ex(NULL, NULL, g->nid);
    EC_POINT *pub = group ? EC_POINT_new(group) : NULL;
    BN_CTX *bn = BN_CTX_new();
    size_t n = 1 + 2 * g->len;
    bool ok = group != NULL && pub != NULL && bn != NULL && !BN_is_zero(priv) &&
              BN_cmp(priv, EC_GROUP_get0_order(group)) < 0 &&
              EC_POINT_mul(group, pub, priv, NULL, NULL, bn) == 1 &&
              EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, out, n, bn) == n;

    BN_CTX_free(bn);
    EC_POINT_free(pub);
    EC_GROUP_free(group);
    return ok;
}

static bool derive(EVP_PKEY *own, EVP_PKEY *peer, const struct group *g, uint8_t *shared,
                   size_t *shared_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    size_t len = LURKD_TLS13_MAX_SHARED;
    bool ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
              EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) == 1 &&
              EVP_PKEY_derive(ctx, shared, &len) == 1 && len == g->len;

    EVP_PKEY_CTX_free(ctx);
    *shared_len = ok ? len : 0;
    if (!ok)
        OPENSSL_cleanse(shared, LURKD_TLS13_MAX_SHARED);
    return ok;
}

uint8_t lurkd_tls13_ecdhe_provided(uint16_t group, const lurk_cbs *own_private,
                                   const lurk_cbs *own_share, const lurk_cbs *peer_share,
                                   uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len)
{
    const struct group *g = group_find(group);
    uint8_t own_public[LURKD_TLS13_MAX_SHARE];
    size_t own_public_len = 0;
    EVP_PKEY *own = NULL, *peer = NULL;
    BIGNUM *priv = NULL;
    uint8_t st = LURK_TLS13_STATUS_INVALID_EPHEMERAL;

    *shared_len = 0;
    /* T9: the private key at the group's length (RFC 7748 bytes, or the big-endian scalar). */
    if (g == NULL || lurk_cbs_len(own_private) != g->len)
        return LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    if (!g->ec) {
        own = EVP_PKEY_new_raw_private_key_ex(NULL, g->name, NULL, lurk_cbs_data(own_private),
                                              g->len);
        own_public_len = g->len;
        if (own == NULL || EVP_PKEY_get_raw_public_key(own, own_public, &own_public_len) != 1)
            goto out;
    } else {
        priv = BN_secure_new();
        if (priv == NULL || BN_bin2bn(lurk_cbs_data(own_private), (int)g->len, priv) == NULL)
            goto out;
        own_public_len = 1 + 2 * g->len;
        if (!ec_public_of(g, priv, own_public))
            goto out;
        own = ec_key(g, own_public, own_public_len, priv);
        if (own == NULL)
            goto out;
    }
    /* The private key must be the one whose share the handshake carries. */
    if (!lurk_cbs_equal(own_share, own_public, own_public_len))
        goto out;
    st = LURK_TLS13_STATUS_INVALID_HANDSHAKE;
    if ((peer = peer_key(g, peer_share)) == NULL)
        goto out;
    /* x25519/x448 refuse an all-zero result (a small-order peer key): the peer's fault too. */
    if (derive(own, peer, g, shared, shared_len))
        st = LURK_STATUS_SUCCESS;
out:
    ERR_clear_error();
    BN_clear_free(priv);
    EVP_PKEY_free(own);
    EVP_PKEY_free(peer);
    OPENSSL_cleanse(own_public, sizeof(own_public));
    return st;
}

uint8_t lurkd_tls13_ecdhe_generate(uint16_t group, const lurk_cbs *peer_share,
                                   uint8_t share[LURKD_TLS13_MAX_SHARE], size_t *share_len,
                                   uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len)
{
    const struct group *g = group_find(group);
    EVP_PKEY *own = NULL, *peer = NULL;
    uint8_t st = LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    size_t n = LURKD_TLS13_MAX_SHARE;

    *shared_len = 0;
    *share_len = 0;
    if (g == NULL)
        return LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    st = LURK_TLS13_STATUS_INVALID_HANDSHAKE;
    if ((peer = peer_key(g, peer_share)) == NULL)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    own = g->ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", g->name)
                : EVP_PKEY_Q_keygen(NULL, NULL, g->name);
    if (own == NULL)
        goto out;
    if (g->ec ? EVP_PKEY_get_octet_string_param(own, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, share, n,
                                                &n) != 1
              : EVP_PKEY_get_raw_public_key(own, share, &n) != 1)
        goto out;
    if (n != (g->ec ? 1 + 2 * g->len : g->len))
        goto out;
    if (!derive(own, peer, g, shared, shared_len)) {
        st = LURK_TLS13_STATUS_INVALID_HANDSHAKE;
        goto out;
    }
    *share_len = n;
    st = LURK_STATUS_SUCCESS;
out:
    ERR_clear_error();
    EVP_PKEY_free(own);
    EVP_PKEY_free(peer);
    return st;
}
