/* tls12 ecdhe proof of ownership; see tls12_poo.h. */
#include "lurk/tls12_poo.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#define POO_LABEL "tls12 poo"

static int curve_nid(uint16_t named_curve)
{
    switch (named_curve) {
    case 23:
        return NID_X9_62_prime256v1;
    case 24:
        return NID_secp384r1;
    case 25:
        return NID_secp521r1;
    default:
        return NID_undef;
    }
}

size_t lurk_tls12_poo_r_len(uint16_t named_curve)
{
    switch (named_curve) {
    case 23:
        return 32;
    case 24:
        return 48;
    case 25:
        return 66;
    default:
        return 0;
    }
}

static bool digest_item(EVP_MD_CTX *md, const uint8_t *data, size_t len)
{
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};

    return EVP_DigestUpdate(md, prefix, 4) == 1 && EVP_DigestUpdate(md, data, len) == 1;
}

/* c = poo_prf(...) as a BIGNUM (§6.1, pinned framing in tls12_poo.h). */
static BIGNUM *challenge(const EC_GROUP *group, const struct lurk_tls12_ecdhe_request *req,
                         const uint8_t *vg, size_t vg_len, BN_CTX *bn)
{
    uint8_t g[133], user_id[2 * LURK_RANDOM_LEN], digest[32];
    size_t g_len = EC_POINT_point2oct(group, EC_GROUP_get0_generator(group),
                                      POINT_CONVERSION_UNCOMPRESSED, g, sizeof(g), bn);
    size_t bits = req->poo_prf == LURK_POO_PRF_SHA256_128 ? 128 : 256;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    lurk_cbb other;
    BIGNUM *c = NULL;
    bool ok;

    memcpy(user_id, req->client_random, LURK_RANDOM_LEN);
    memcpy(user_id + LURK_RANDOM_LEN, req->server_random, LURK_RANDOM_LEN);
    /* OtherInfo = key_id || freshness_funct || sig_and_hash || ecdhe_params || "tls12 poo" */
    lurk_cbb_init(&other, 256, 1024);
    lurk_key_id_encode(&other, &req->key_id);
    lurk_cbb_add_u8(&other, req->freshness_funct);
    lurk_cbb_add_u16(&other, req->sig_and_hash);
    lurk_cbb_add_cbs(&other, &req->ecdhe_params_bytes);
    lurk_cbb_add_bytes(&other, (const uint8_t *)POO_LABEL, strlen(POO_LABEL));
    ok = g_len > 0 && md != NULL && lurk_cbb_ok(&other) &&
         EVP_DigestInit_ex2(md, EVP_sha256(), NULL) == 1 && digest_item(md, g, g_len) &&
         digest_item(md, vg, vg_len) &&
         digest_item(md, lurk_cbs_data(&req->ecdhe_params.point),
                     lurk_cbs_len(&req->ecdhe_params.point)) &&
         digest_item(md, user_id, sizeof(user_id)) &&
         digest_item(md, lurk_cbb_data(&other), lurk_cbb_len(&other)) &&
         EVP_DigestFinal_ex(md, digest, NULL) == 1;
    if (ok)
        c = BN_bin2bn(digest, (int)(bits / 8), NULL);
    EVP_MD_CTX_free(md);
    lurk_cbb_cleanup(&other);
    return c;
}

static bool poo_supported(const struct lurk_tls12_ecdhe_request *req)
{
    return (req->poo_prf == LURK_POO_PRF_SHA256_128 || req->poo_prf == LURK_POO_PRF_SHA256_256) &&
           curve_nid(req->ecdhe_params.named_curve) != NID_undef;
}

bool lurk_tls12_poo_verify(const struct lurk_tls12_ecdhe_request *req)
{
    EC_GROUP *group;
    BN_CTX *bn;
    EC_POINT *bg = NULL, *vg = NULL, *sum = NULL;
    BIGNUM *c = NULL, *r = NULL;
    bool ok = false;

    if (!poo_supported(req) ||
        lurk_cbs_len(&req->poo_r) != lurk_tls12_poo_r_len(req->ecdhe_params.named_curve))
        return false;
    group = EC_GROUP_new_by_curve_name(curve_nid(req->ecdhe_params.named_curve));
    bn = BN_CTX_new();
    if (group == NULL || bn == NULL)
        goto out;
    bg = EC_POINT_new(group);
    vg = EC_POINT_new(group);
    sum = EC_POINT_new(group);
    r = BN_bin2bn(lurk_cbs_data(&req->poo_r), (int)lurk_cbs_len(&req->poo_r), NULL);
    /* oct2point rejects points that are not on the curve. */
    if (bg == NULL || vg == NULL || sum == NULL || r == NULL ||
        EC_POINT_oct2point(group, bg, lurk_cbs_data(&req->ecdhe_params.point),
                           lurk_cbs_len(&req->ecdhe_params.point), bn) != 1 ||
        EC_POINT_oct2point(group, vg, lurk_cbs_data(&req->poo_vg), lurk_cbs_len(&req->poo_vg),
                           bn) != 1 ||
        BN_cmp(r, EC_GROUP_get0_order(group)) >= 0)
        goto out;
    c = challenge(group, req, lurk_cbs_data(&req->poo_vg), lurk_cbs_len(&req->poo_vg), bn);
    ok = c != NULL && EC_POINT_mul(group, sum, r, bg, c, bn) == 1 &&
         EC_POINT_cmp(group, sum, vg, bn) == 0;
out:
    EC_POINT_free(bg);
    EC_POINT_free(vg);
    EC_POINT_free(sum);
    BN_free(c);
    BN_free(r);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return ok;
}

bool lurk_tls12_poo_prove(struct lurk_tls12_ecdhe_request *req, const BIGNUM *b, uint8_t *vg_buf,
                          uint8_t *r_buf)
{
    EC_GROUP *group;
    BN_CTX *bn;
    EC_POINT *vg = NULL;
    BIGNUM *v = NULL, *c = NULL, *r = NULL;
    size_t vg_len = 0, r_len = lurk_tls12_poo_r_len(req->ecdhe_params.named_curve);
    bool ok = false;

    if (!poo_supported(req))
        return false;
    group = EC_GROUP_new_by_curve_name(curve_nid(req->ecdhe_params.named_curve));
    bn = BN_CTX_new();
    v = BN_new();
    r = BN_new();
    if (group == NULL || bn == NULL || v == NULL || r == NULL ||
        (vg = EC_POINT_new(group)) == NULL)
        goto out;
    /* v uniform in [1, n-1]; r = v - b*c mod n (RFC 8235 §2.2). */
    if (BN_priv_rand_range(v, EC_GROUP_get0_order(group)) != 1 || BN_is_zero(v) ||
        EC_POINT_mul(group, vg, v, NULL, NULL, bn) != 1)
        goto out;
    vg_len = EC_POINT_point2oct(group, vg, POINT_CONVERSION_UNCOMPRESSED, vg_buf, 133, bn);
    if (vg_len == 0 || (c = challenge(group, req, vg_buf, vg_len, bn)) == NULL)
        goto out;
    if (BN_mod_mul(r, b, c, EC_GROUP_get0_order(group), bn) != 1 ||
        BN_mod_sub(r, v, r, EC_GROUP_get0_order(group), bn) != 1 ||
        BN_bn2binpad(r, r_buf, (int)r_len) != (int)r_len)
        goto out;
    lurk_cbs_init(&req->poo_vg, vg_buf, vg_len);
    lurk_cbs_init(&req->poo_r, r_buf, r_len);
    ok = true;
out:
    EC_POINT_free(vg);
    BN_clear_free(v);
    BN_free(c);
    BN_clear_free(r);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return ok;
}
