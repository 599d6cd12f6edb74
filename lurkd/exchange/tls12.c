/*
 * Designation tls12: capabilities (-05 §7), and the freshness checks the
 * other exchanges share (ex_tls12.h).
 */
#include "exchange/tls12.h"

#include <string.h>
#include <time.h>

#include "lurk/freshness.h"
#include "keys/sign.h"

uint8_t lurkd_tls12_server_random(struct lurkd_request *req, const struct lurkd_key *key,
                                  uint8_t freshness_funct, const uint8_t s[LURK_RANDOM_LEN],
                                  uint8_t server_hello_random[LURK_RANDOM_LEN])
{
    if (freshness_funct == LURK_FRESHNESS_NULL && !key->conf->null_freshness) {
        req->note = "null freshness not allowed for this key";
        return LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT;
    }
    /* §4.4 step 4; OpenSSL's server randoms carry no time, hence check_time = no. */
    if (key->conf->check_time &&
        !lurk_freshness_tls12_time_ok(s, (int64_t)time(NULL), key->conf->time_window)) {
        req->note = "gmt_unix_time outside the time window";
        return LURK_TLS12_STATUS_INVALID_TLS_RANDOM;
    }
    if (!lurk_freshness_tls12_server_random(NULL, freshness_funct, s, server_hello_random)) {
        req->note = "freshness function failed";
        return LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT;
    }
    return LURK_STATUS_SUCCESS;
}

/* What each record announces; certificates are the peer's usable keys'. */
static const uint8_t key_id_types[] = {LURK_KEY_ID_TYPE_SHA256_32};
static const uint8_t prf_hashes[] = {LURK_PRF_HASH_SHA256, LURK_PRF_HASH_SHA384,
                                     LURK_PRF_HASH_SHA512};
static const uint8_t poo_prfs[] = {LURK_POO_PRF_NULL, LURK_POO_PRF_SHA256_128,
                                   LURK_POO_PRF_SHA256_256};
/* RSA key exchange suites whose PRF lurkd derives from a ServerHello. */
static const uint8_t rsa_suites[] = {0x00, 0x2f, 0x00, 0x35, 0x00, 0x3c,
                                     0x00, 0x3d, 0x00, 0x9c, 0x00, 0x9d};
static const uint8_t ecdhe_suites[] = {0xc0, 0x2b, 0xc0, 0x2c, 0xc0, 0x2f, 0xc0, 0x30, 0xcc, 0xa8,
                                       0xcc, 0xa9, 0xc0, 0x09, 0xc0, 0x0a, 0xc0, 0x13, 0xc0, 0x14,
                                       0xc0, 0x23, 0xc0, 0x24, 0xc0, 0x27, 0xc0, 0x28};
/* Suites whose handshakes client_certificate_verify parses (liblurk/tls12_handshake.c). */
static const uint8_t cv_suites[] = {
    0x00, 0x2f, 0x00, 0x35, 0x00, 0x3c, 0x00, 0x3d, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x33,
    0x00, 0x39, 0x00, 0x67, 0x00, 0x6b, 0x00, 0x9e, 0x00, 0x9f, 0xcc, 0xaa, 0xc0, 0x2b,
    0xc0, 0x2c, 0xc0, 0x2f, 0xc0, 0x30, 0xcc, 0xa8, 0xcc, 0xa9, 0xc0, 0x09, 0xc0, 0x0a,
    0xc0, 0x13, 0xc0, 0x14, 0xc0, 0x23, 0xc0, 0x24, 0xc0, 0x27, 0xc0, 0x28};
static const uint8_t ecdhe_curves[] = {0x00, 23, 0x00, 24, 0x00, 25, 0x00, 29, 0x00, 30};
static const uint8_t tls12_sig_and_hash[] = {4, 1, 5, 1, 6, 1, 4, 3,  5, 3,  6, 3, 8, 4,
                                             8, 5, 8, 6, 8, 9, 8, 10, 8, 11, 8, 7, 8, 8};

static const struct {
    uint8_t type;
    enum lurkd_exchange ex;
} records[] = {
    {LURK_TLS12_TYPE_RSA_MASTER, LURKD_EX_RSA_MASTER},
    {LURK_TLS12_TYPE_RSA_MASTER_WITH_POH, LURKD_EX_RSA_MASTER_WITH_POH},
    {LURK_TLS12_TYPE_RSA_EXTENDED_MASTER, LURKD_EX_RSA_EXTENDED_MASTER},
    {LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH, LURKD_EX_RSA_EXTENDED_MASTER_WITH_POH},
    {LURK_TLS12_TYPE_ECDHE, LURKD_EX_ECDHE},
    {LURK_TLS12_TYPE_RSA_PREMASTER, LURKD_EX_RSA_PREMASTER},
    {LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY, LURKD_EX_CLIENT_CERTIFICATE_VERIFY},
};

uint8_t lurkd_ex_tls12_capabilities(struct lurkd_request *req, lurk_cbb *out)
{
    const struct lurkd_runtime *rt = req->rt;
    struct lurk_tls12_capabilities_response resp = {0};
    lurk_cbb certs[sizeof(records) / sizeof(records[0])];
    uint8_t freshness[sizeof(records) / sizeof(records[0])][2];
    uint8_t ecdsa_curves[6];
    size_t n_curves = 0;
    uint8_t status = LURK_STATUS_SUCCESS;

    if (lurk_tls12_empty_payload_decode(&req->payload) != LURK_STATUS_SUCCESS)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    for (size_t i = 0; i < rt->keys->n_keys; i++) {
        const struct lurkd_key *k = &rt->keys->keys[i];
        uint8_t hi = 0, lo = (uint8_t)k->ec_group;
        bool seen = false;
        if (k->kind != LURKD_KEY_EC || !lurkd_policy_visible(rt->cfg, k, req->peer))
            continue;
        for (size_t c = 0; c < n_curves; c += 2)
            seen |= ecdsa_curves[c + 1] == lo;
        if (!seen && n_curves < sizeof(ecdsa_curves)) {
            ecdsa_curves[n_curves++] = hi;
            ecdsa_curves[n_curves++] = lo;
        }
    }
    for (size_t r = 0; r < sizeof(records) / sizeof(records[0]); r++) {
        struct lurk_tls12_capability *cap = &resp.caps[resp.n_caps++];
        bool null_ok = false;
        lurk_cbb_init(&certs[r], 1024, 1024 * 1024);
        for (size_t i = 0; i < rt->keys->n_keys; i++) {
            const struct lurkd_key *k = &rt->keys->keys[i];
            const char *why;
            if (!lurkd_policy_allows(rt->cfg, k, req->peer, records[r].ex, &why))
                continue;
            null_ok |= k->conf->null_freshness;
            if (!lurkd_key_encode_typed_certificate(k, &certs[r]))
                status = LURK_TLS12_STATUS_UNDEFINED_ERROR;
        }
        freshness[r][0] = LURK_FRESHNESS_SHA256;
        freshness[r][1] = LURK_FRESHNESS_NULL;
        cap->type = records[r].type;
        lurk_cbs_init(&cap->key_id_type_list, key_id_types, sizeof(key_id_types));
        lurk_cbs_init(&cap->typed_certificate_list, lurk_cbb_data(&certs[r]),
                      lurk_cbb_len(&certs[r]));
        /* rsa_premaster and client_certificate_verify have no freshness field (protocol.md). */
        if (records[r].type == LURK_TLS12_TYPE_RSA_PREMASTER ||
            records[r].type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY)
            lurk_cbs_init(&cap->freshness_funct_list, NULL, 0);
        else
            lurk_cbs_init(&cap->freshness_funct_list, freshness[r], null_ok ? 2 : 1);
        if (records[r].type == LURK_TLS12_TYPE_ECDHE) {
            lurk_cbs_init(&cap->cipher_suite_list, ecdhe_suites, sizeof(ecdhe_suites));
            lurk_cbs_init(&cap->sig_and_hash_list, tls12_sig_and_hash, sizeof(tls12_sig_and_hash));
            lurk_cbs_init(&cap->ecdsa_curves_list, ecdsa_curves, n_curves);
            lurk_cbs_init(&cap->ecdhe_curves_list, ecdhe_curves, sizeof(ecdhe_curves));
            lurk_cbs_init(&cap->poo_prf_list, poo_prfs, sizeof(poo_prfs));
        } else if (records[r].type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY) {
            /* The ECDHE body: the suites it parses, what it signs with, the curves of its keys. */
            lurk_cbs_init(&cap->cipher_suite_list, cv_suites, sizeof(cv_suites));
            lurk_cbs_init(&cap->sig_and_hash_list, tls12_sig_and_hash, sizeof(tls12_sig_and_hash));
            lurk_cbs_init(&cap->ecdsa_curves_list, ecdsa_curves, n_curves);
        } else if (records[r].type != LURK_TLS12_TYPE_RSA_PREMASTER) {
            lurk_cbs_init(&cap->cipher_suite_list, rsa_suites, sizeof(rsa_suites));
            /* rsa_master carries its prf_hash; the others take it from the cipher suite. */
            lurk_cbs_init(&cap->prf_hash_list, prf_hashes,
                          records[r].type == LURK_TLS12_TYPE_RSA_MASTER ? 3 : 2);
        }
    }
    memcpy(resp.state, rt->state, LURK_STATE_LEN);
    if (status == LURK_STATUS_SUCCESS && !lurk_tls12_capabilities_response_encode(out, &resp))
        status = LURK_TLS12_STATUS_UNDEFINED_ERROR;
    for (size_t r = 0; r < resp.n_caps; r++)
        lurk_cbb_cleanup(&certs[r]);
    return status;
}
