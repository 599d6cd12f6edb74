/*
 * Designation tls13: capabilities (project format, protocol.md). The
 * key-schedule exchanges of -01 are served by their own files
 * (ex_tls13_server.c, ex_tls13_client.c).
 */
#include <string.h>

#include "exchange/exchange.h"
#include "lurk/tls13.h"
#include "keys/sign.h"
#include "tls13/ephemeral.h"

static const uint8_t types[] = {
    LURK_TLS13_TYPE_CAPABILITIES,
    LURK_TLS13_TYPE_PING,
    LURK_TLS13_TYPE_BINDER_KEY,
    LURK_TLS13_TYPE_EARLY_SECRET,
    LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET,
    LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET,
    LURK_TLS13_TYPE_HANDSHAKE_SECRET,
    LURK_TLS13_TYPE_APP_SECRET,
    LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY,
    LURK_TLS13_TYPE_CERTIFICATE_VERIFY,
    LURK_TLS13_TYPE_POST_HANDSHAKE,
    LURK_TLS13_TYPE_NEW_SESSION_TICKET,
    LURK_TLS13_TYPE_REGISTER_SESSION_TICKET,
    LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
};
/* null (255) where a key's or PSK's null_freshness allows it (protocol.md T11). */
static const uint8_t freshness[] = {LURK_FRESHNESS_SHA256, LURK_FRESHNESS_NULL};
static const uint8_t cookie_hs[] = {LURK_FRESHNESS_SHA256};
static const uint8_t ephemeral_methods[] = {LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                                            LURK_TLS13_EPHEMERAL_SECRET_GENERATED};

static bool tls13_usable(const struct lurkd_runtime *rt, const struct lurkd_key *k,
                         const struct lurkd_peer *peer)
{
    const char *why;

    return lurkd_policy_allows(rt->cfg, k, peer, LURKD_EX_SIGN_CERTIFICATE_VERIFY, &why) ||
           lurkd_policy_allows(rt->cfg, k, peer, LURKD_EX_TLS13, &why);
}

uint8_t lurkd_ex_tls13_capabilities(struct lurkd_request *req, lurk_cbb *out)
{
    const struct lurkd_runtime *rt = req->rt;
    struct lurk_tls13_capabilities_response caps = {0};
    uint8_t schemes[2 * 16], groups[2 * 8];
    size_t n_schemes = 0, n_groups = 0;
    lurk_cbb certs;
    uint8_t st = LURK_STATUS_SUCCESS;

    if (lurk_cbs_len(&req->payload) != 0)
        return LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT;
    if (!lurk_cbb_init(&certs, 1024, 1024 * 1024))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    /* The schemes the caller's keys can sign with. */
    for (size_t s = 0; s < lurkd_n_sig_algs_tls13; s++) {
        const struct lurkd_sig_alg *a = &lurkd_sig_algs_tls13[s];
        for (size_t i = 0; i < rt->keys->n_keys; i++) {
            const struct lurkd_key *k = &rt->keys->keys[i];
            if (tls13_usable(rt, k, req->peer) && lurkd_sig_alg_tls13(a->code, k) != NULL) {
                schemes[n_schemes++] = (uint8_t)(a->code >> 8);
                schemes[n_schemes++] = (uint8_t)a->code;
                break;
            }
        }
    }
    for (size_t i = 0; i < rt->keys->n_keys; i++) {
        const struct lurkd_key *k = &rt->keys->keys[i];
        if (tls13_usable(rt, k, req->peer) && !lurkd_key_encode_typed_certificate(k, &certs))
            st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
    lurk_cbs_init(&caps.types, types, sizeof(types));
    lurk_cbs_init(&caps.signature_schemes, schemes, n_schemes);
    lurk_cbs_init(&caps.freshness_functs, freshness, sizeof(freshness));
    lurk_cbs_init(&caps.cookie_hs, cookie_hs, sizeof(cookie_hs));
    /* The groups of the ephemeral extension (-01 §3.4.1). */
    for (size_t g = 0; g < lurkd_tls13_n_groups && n_groups + 2 <= sizeof(groups); g++) {
        groups[n_groups++] = (uint8_t)(lurkd_tls13_groups[g] >> 8);
        groups[n_groups++] = (uint8_t)lurkd_tls13_groups[g];
    }
    lurk_cbs_init(&caps.ephemeral_methods, ephemeral_methods, sizeof(ephemeral_methods));
    lurk_cbs_init(&caps.named_groups, groups, n_groups);
    lurk_cbs_init(&caps.typed_certificates, lurk_cbb_data(&certs), lurk_cbb_len(&certs));
    memcpy(caps.state, rt->state, LURK_STATE_LEN);
    if (st == LURK_STATUS_SUCCESS &&
        (!lurk_cbb_ok(&certs) || !lurk_tls13_capabilities_response_encode(out, &caps)))
        st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    lurk_cbb_cleanup(&certs);
    return st;
}
