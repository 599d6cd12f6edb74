/* Content classifier; see prov_content.h. */
#include "prov_content.h"

#include <stdio.h>
#include <string.h>

#include "lurk/tls12_handshake.h"
#include "lurk/tls13.h"

static const char server_context[] = "TLS 1.3, server CertificateVerify";
static const char client_context[] = "TLS 1.3, client CertificateVerify";

static bool all_spaces(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0x20)
            return false;
    return true;
}

/* RFC 8446 §4.4.3; the transcript hash is SHA-256 or SHA-384 (the TLS 1.3 suites). */
static bool tls13_cv(const uint8_t *tbs, size_t len, struct lurk_prov_content *out)
{
    lurk_cbs in, context;
    uint8_t zero;
    size_t hash_len;

    if (len < LURK_TLS13_CV_SPACES || !all_spaces(tbs, LURK_TLS13_CV_SPACES))
        return false;
    /* From here on it claims to be a CertificateVerify content: say what is wrong. */
    out->why = "TLS 1.3 CertificateVerify content with an unknown context string or hash length";
    lurk_cbs_init(&in, tbs, len);
    if (!lurk_cbs_skip(&in, LURK_TLS13_CV_SPACES) ||
        !lurk_cbs_get_bytes(&in, &context, LURK_TLS13_CV_CONTEXT) || !lurk_cbs_get_u8(&in, &zero) ||
        zero != 0)
        return true;
    if (lurk_cbs_equal(&context, (const uint8_t *)server_context, LURK_TLS13_CV_CONTEXT))
        out->role = LURK_TLS13_ROLE_SERVER;
    else if (lurk_cbs_equal(&context, (const uint8_t *)client_context, LURK_TLS13_CV_CONTEXT))
        out->role = LURK_TLS13_ROLE_CLIENT;
    else
        return true;
    hash_len = lurk_cbs_len(&in);
    if (hash_len != 32 && hash_len != 48)
        return true;
    out->transcript_hash = in;
    out->kind = LURK_CONTENT_TLS13_CERTIFICATE_VERIFY;
    out->why = NULL;
    return true;
}

/* ServerDHParams (RFC 5246 §7.4.3): dh_p<1..2^16-1> dh_g<1..2^16-1> dh_Ys<1..2^16-1>. */
static bool looks_like_dh_params(lurk_cbs params)
{
    lurk_cbs p, g, ys;

    return lurk_cbs_get_u16_prefixed(&params, &p) && lurk_cbs_len(&p) > 0 &&
           lurk_cbs_get_u16_prefixed(&params, &g) && lurk_cbs_len(&g) > 0 &&
           lurk_cbs_get_u16_prefixed(&params, &ys) && lurk_cbs_len(&ys) > 0 &&
           lurk_cbs_len(&params) == 0;
}

/* RFC 5246 §7.4.3 with RFC 8422 §5.4: randoms, then exactly one ServerECDHParams. */
static void tls12_ske(const uint8_t *tbs, size_t len, struct lurk_prov_content *out)
{
    lurk_cbs in, params;

    lurk_cbs_init(&in, tbs, len);
    if (!lurk_cbs_get_bytes(&in, &out->client_random, LURK_RANDOM_LEN) ||
        !lurk_cbs_get_bytes(&in, &out->server_random, LURK_RANDOM_LEN))
        return;
    params = in;
    if (lurk_tls12_ecdh_params_decode(&in, &out->ecdh_params) == LURK_STATUS_SUCCESS &&
        lurk_cbs_len(&in) == 0) {
        lurk_cbs_init(&out->ecdh_params_bytes, lurk_cbs_data(&params), lurk_cbs_len(&params));
        out->kind = LURK_CONTENT_TLS12_SERVER_KEY_EXCHANGE;
        out->why = NULL;
        return;
    }
    if (looks_like_dh_params(params))
        out->why = "TLS 1.2 ServerKeyExchange with DHE parameters (LURK signs only ECDHE "
                   "parameters)";
}

/*
 * RFC 5246 §7.4.8: a client CertificateVerify signs handshake_messages, which
 * start with the ClientHello's handshake header (type 1). Only a whole TLS
 * 1.2 client handshake that lurkd would accept is sent.
 */
static void tls12_client_cv(const uint8_t *tbs, size_t len, struct lurk_prov_content *out)
{
    struct lurk_tls12_client_hs hs;
    const char *why;
    lurk_cbs in;

    if (len == 0 || tbs[0] != LURK_TLS12_HS_CLIENT_HELLO)
        return;
    lurk_cbs_init(&in, tbs, len);
    if (lurk_tls12_client_hs_parse(&in, &hs, &why) != LURK_STATUS_SUCCESS) {
        snprintf(out->why_buf, sizeof(out->why_buf),
                 "TLS 1.2 client CertificateVerify content that is not a TLS 1.2 client "
                 "handshake lurkd accepts: %s",
                 why);
        out->why = out->why_buf;
        return;
    }
    out->handshake_messages = in;
    out->kind = LURK_CONTENT_TLS12_CLIENT_CERTIFICATE_VERIFY;
    out->why = NULL;
}

void lurk_prov_content_classify(const uint8_t *tbs, size_t len, struct lurk_prov_content *out)
{
    static const char neither[] = "data that is neither a TLS 1.3 CertificateVerify, a TLS 1.2 "
                                  "ECDHE ServerKeyExchange nor a TLS 1.2 client CertificateVerify "
                                  "content";

    memset(out, 0, sizeof(*out));
    out->kind = LURK_CONTENT_NONE;
    out->why = neither;
    if (tbs == NULL)
        return;
    /*
     * The first two shapes cannot be confused: byte 64 is 'T' in a CertificateVerify
     * content and curve_type (3) or a DH length byte in a ServerKeyExchange.
     */
    if (tls13_cv(tbs, len, out))
        return;
    tls12_ske(tbs, len, out);
    /*
     * A ServerKeyExchange content starts with a client random, which may
     * begin with 0x01 too; it is recognised first, and its exact structure
     * (64 bytes and one ServerECDHParams) is no handshake message sequence.
     */
    if (out->kind == LURK_CONTENT_NONE && out->why == neither)
        tls12_client_cv(tbs, len, out);
}
