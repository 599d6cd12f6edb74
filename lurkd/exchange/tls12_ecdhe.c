/*
 * tls12 ecdhe (-05 §6): sign ServerKeyExchange parameters. lurkd signs
 * client_random || ServerHello.random || ServerECDHParams (RFC 8422 §5.4)
 * only after checking that the parameters are a named curve it supports, a
 * valid point of that curve, a signature algorithm that fits the key, and,
 * when asked, a proof that the client owns the ECDHE private key.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "exchange/tls12.h"
#include "lurk/ecx.h"
#include "lurk/tls12_poo.h"
#include "keys/sign.h"

/* TLS NamedGroup (RFC 8422 §5.1.1, RFC 7748) -> OpenSSL group and point length. */
static const struct {
    uint16_t group;
    const char *name;
    size_t point_len; /* uncompressed SEC1, or the X25519/X448 u-coordinate */
} curves[] = {
    {23, "P-256", 65}, {24, "P-384", 97}, {25, "P-521", 133}, {29, "X25519", 32}, {30, "X448", 56},
};

/*
 * True when point is a public key of the named curve (not the identity, on
 * the curve); small-order X25519 and X448 points are refused before this,
 * with the same status (docs/protocol.md).
 */
static bool point_valid(uint16_t group, const lurk_cbs *point)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];
    size_t i;
    bool ok = false;

    for (i = 0; i < sizeof(curves) / sizeof(curves[0]) && curves[i].group != group; i++)
        ;
    if (i == sizeof(curves) / sizeof(curves[0]) || lurk_cbs_len(point) != curves[i].point_len)
        return false;
    if (group == LURK_GROUP_X25519 || group == LURK_GROUP_X448)
        return true; /* any other u-coordinate is a public key (RFC 7748 §5) */
    /* RFC 8422 §5.4: uncompressed points only. */
    if (lurk_cbs_data(point)[0] != 0x04)
        return false;
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curves[i].name, 0);
    params[1] = OSSL_PARAM_construct_octet_string(
        OSSL_PKEY_PARAM_PUB_KEY, (void *)lurk_cbs_data(point), lurk_cbs_len(point));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1) {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = check != NULL && EVP_PKEY_public_check(check) == 1;
        EVP_PKEY_CTX_free(check);
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static bool curve_supported(uint16_t group)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        if (curves[i].group == group)
            return true;
    return false;
}

uint8_t lurkd_ex_tls12_ecdhe(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_tls12_ecdhe_request r;
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;
    uint8_t tbs[2 * LURK_RANDOM_LEN + 4 + 255];
    size_t tbs_len;
    uint8_t st = lurk_tls12_ecdhe_request_decode(&req->payload, &r);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    /* §6.4 step 1 = §4.4 steps 1-6 */
    if ((key = lurkd_request_key(req, &r.key_id, LURKD_EX_ECDHE)) == NULL)
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    uint8_t shr[LURK_RANDOM_LEN];
    st = lurkd_tls12_server_random(req, key, r.freshness_funct, r.server_random, shr);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /* §6.4 step 2 */
    if (!curve_supported(r.ecdhe_params.named_curve)) {
        req->note = "unsupported curve";
        return LURK_TLS12_STATUS_INVALID_EC_CURVE;
    }
    if (lurk_ecx_small_order(r.ecdhe_params.named_curve, lurk_cbs_data(&r.ecdhe_params.point),
                             lurk_cbs_len(&r.ecdhe_params.point))) {
        req->note = "ECDHE public key is a point of small order";
        return LURK_TLS12_STATUS_INVALID_EC_CURVE;
    }
    if (!point_valid(r.ecdhe_params.named_curve, &r.ecdhe_params.point)) {
        req->note = "ECDHE public key is not a point of the curve";
        return LURK_TLS12_STATUS_INVALID_EC_CURVE;
    }
    /* The draft has no status for this; protocol.md pins invalid_payload_format. */
    if ((alg = lurkd_sig_alg_tls12(r.sig_and_hash, key)) == NULL) {
        /* HashAlgorithm md5(1), sha1(2) (RFC 5246 §7.4.1.4.1): never signed, said by name. */
        req->note = (r.sig_and_hash >> 8) == 1 || (r.sig_and_hash >> 8) == 2
                        ? "SHA-1 and MD5 signatures are refused"
                        : "sig_and_hash does not fit the key";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    /* §6.4 step 3 */
    if (r.poo_prf != LURK_POO_PRF_NULL) {
        if (lurk_tls12_poo_r_len(r.ecdhe_params.named_curve) == 0) {
            req->note = "proof of ownership is only supported on P-256, P-384 and P-521";
            return LURK_TLS12_STATUS_INVALID_POO_PRF;
        }
        if (!lurk_tls12_poo_verify(&r)) {
            req->note = "proof of ownership does not verify";
            return LURK_TLS12_STATUS_INVALID_POO;
        }
    }
    /* §6.4 step 5: RFC 8422 §5.4 signed_params. */
    memcpy(tbs, r.client_random, LURK_RANDOM_LEN);
    memcpy(tbs + LURK_RANDOM_LEN, shr, LURK_RANDOM_LEN);
    tbs_len = 2 * LURK_RANDOM_LEN + lurk_cbs_len(&r.ecdhe_params_bytes);
    if (tbs_len > sizeof(tbs)) {
        req->note = "ServerECDHParams too long";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    memcpy(tbs + 2 * LURK_RANDOM_LEN, lurk_cbs_data(&r.ecdhe_params_bytes),
           lurk_cbs_len(&r.ecdhe_params_bytes));
    if (!lurkd_sign(key, alg, tbs, tbs_len, out)) {
        req->note = "signing failed";
        return LURK_TLS12_STATUS_UNDEFINED_ERROR;
    }
    return LURK_STATUS_SUCCESS;
}
