/*
 * Designation "tls13" payload codecs; see tls13.h. Section numbers are
 * those of draft-mglt-lurk-tls13-01; decisions the draft leaves open are
 * pinned in docs/protocol.md ("tls13 ambiguities and what we chose").
 */
#include "lurk/tls13.h"

#include <string.h>

#define OK  LURK_STATUS_SUCCESS
#define FMT LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT

/* Returns the status of a sub-decoder when it is not success. */
#define CHECK(expr)                                                                                \
    do {                                                                                           \
        uint8_t st_ = (expr);                                                                      \
        if (st_ != OK)                                                                             \
            return st_;                                                                            \
    } while (0)

/* ---- small helpers ---- */

/* An encoder refusing a struct its decoder would not accept: sticky failure, as in bytes.h. */
static bool refuse(lurk_cbb *cbb)
{
    cbb->failed = true;
    return false;
}

/* A sequence of RFC 8446 Extensions {uint16 type; opaque data<0..2^16-1>}. */
static bool tls_extensions_valid(lurk_cbs exts)
{
    while (lurk_cbs_len(&exts) > 0) {
        uint16_t type;
        lurk_cbs data;
        if (!lurk_cbs_get_u16(&exts, &type) || !lurk_cbs_get_u16_prefixed(&exts, &data))
            return false;
    }
    return true;
}

/* handshake_context<0..2^32-1> (§3.3; uint32 prefix pinned), whole messages only. */
static uint8_t handshake_context_decode(lurk_cbs *cbs, lurk_cbs *out)
{
    if (!lurk_cbs_get_u32_prefixed(cbs, out) || !lurk_tls13_handshake_context_valid(out))
        return FMT;
    return OK;
}

static bool handshake_context_encode(lurk_cbb *cbb, const lurk_cbs *ctx)
{
    lurk_cbb_mark m;

    if (!lurk_tls13_handshake_context_valid(ctx))
        return refuse(cbb);
    lurk_cbb_begin(cbb, &m, 4);
    lurk_cbb_add_cbs(cbb, ctx);
    return lurk_cbb_end(cbb, &m);
}

/* ---- iterators ---- */

enum lurk_tls13_next lurk_tls13_handshake_next(lurk_cbs *ctx, struct lurk_tls13_handshake_msg *out)
{
    lurk_cbs rest = *ctx, body;
    uint8_t msg_type;

    if (lurk_cbs_len(ctx) == 0)
        return LURK_TLS13_NEXT_END;
    /* RFC 8446 §4: msg_type(1), uint24 length, body of that length. */
    if (!lurk_cbs_get_u8(&rest, &msg_type) || !lurk_cbs_get_u24_prefixed(&rest, &body))
        return LURK_TLS13_NEXT_MALFORMED;
    if (!lurk_cbs_get_bytes(ctx, &out->message, lurk_cbs_len(ctx) - lurk_cbs_len(&rest)))
        return LURK_TLS13_NEXT_MALFORMED;
    out->msg_type = msg_type;
    out->body = body;
    return LURK_TLS13_NEXT_OK;
}

bool lurk_tls13_handshake_context_valid(const lurk_cbs *ctx)
{
    lurk_cbs walk = *ctx;
    struct lurk_tls13_handshake_msg msg;
    enum lurk_tls13_next r;

    while ((r = lurk_tls13_handshake_next(&walk, &msg)) == LURK_TLS13_NEXT_OK)
        ;
    return r == LURK_TLS13_NEXT_END;
}

enum lurk_tls13_next lurk_tls13_certificate_entry_next(lurk_cbs *list,
                                                       struct lurk_tls13_certificate_entry *out)
{
    lurk_cbs rest = *list;
    struct lurk_tls13_certificate_entry e;

    if (lurk_cbs_len(list) == 0)
        return LURK_TLS13_NEXT_END;
    /* RFC 8446 §4.4.2: cert_data<1..2^24-1>, extensions<0..2^16-1>. */
    if (!lurk_cbs_get_u24_prefixed(&rest, &e.cert_data) || lurk_cbs_len(&e.cert_data) == 0 ||
        !lurk_cbs_get_u16_prefixed(&rest, &e.extensions) || !tls_extensions_valid(e.extensions))
        return LURK_TLS13_NEXT_MALFORMED;
    *list = rest;
    *out = e;
    return LURK_TLS13_NEXT_OK;
}

/* ---- extensions (§3.4) ---- */

const struct lurk_tls13_extension *
lurk_tls13_extension_find(const struct lurk_tls13_extension_list *list, uint8_t type)
{
    for (size_t i = 0; i < list->n && i < LURK_TLS13_MAX_EXTENSIONS; i++)
        if (list->ext[i].type == type)
            return &list->ext[i];
    return NULL;
}

/* psk_id (§3.4.2): RFC 8446 PskIdentity, filling the extension data exactly. */
static uint8_t psk_id_decode(lurk_cbs *data, struct lurk_tls13_psk_identity *out)
{
    if (!lurk_cbs_get_u16_prefixed(data, &out->identity) || lurk_cbs_len(&out->identity) == 0 ||
        !lurk_cbs_get_u32(data, &out->obfuscated_ticket_age) || lurk_cbs_len(data) != 0)
        return FMT;
    return OK;
}

/* KeyShareEntry (RFC 8446 §4.2.8), filling the EphemeralData secret exactly. */
static uint8_t key_share_decode(lurk_cbs *data, struct lurk_tls13_key_share_entry *out)
{
    if (!lurk_cbs_get_u16(data, &out->group) ||
        !lurk_cbs_get_u16_prefixed(data, &out->key_exchange) ||
        lurk_cbs_len(&out->key_exchange) == 0 || lurk_cbs_len(data) != 0)
        return FMT;
    return OK;
}

/*
 * EphemeralData (§3.4.1): method, then secret<0..2^16-1>. Only the two -01
 * methods exist (else invalid_ephemeral). secret_provided needs a secret
 * and secret_generated must not carry one in a request; the response
 * carries secret_generated with a KeyShareEntry (§3.4.1: "MUST return an
 * Ephemeral extension with the associated public values").
 */
static uint8_t ephemeral_decode(lurk_cbs *data, bool response, struct lurk_tls13_ephemeral *out)
{
    if (!lurk_cbs_get_u8(data, &out->method))
        return FMT;
    if (out->method != LURK_TLS13_EPHEMERAL_SECRET_PROVIDED &&
        out->method != LURK_TLS13_EPHEMERAL_SECRET_GENERATED)
        return LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    if (response && out->method != LURK_TLS13_EPHEMERAL_SECRET_GENERATED)
        return LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    if (!lurk_cbs_get_u16_prefixed(data, &out->secret) || lurk_cbs_len(data) != 0)
        return FMT;
    if (response) {
        lurk_cbs ks = out->secret;
        lurk_cbs_init(&out->secret, NULL, 0);
        return key_share_decode(&ks, &out->key_share);
    }
    if ((out->method == LURK_TLS13_EPHEMERAL_SECRET_PROVIDED) != (lurk_cbs_len(&out->secret) > 0))
        return LURK_TLS13_STATUS_INVALID_EPHEMERAL;
    return OK;
}

/*
 * freshness (§3.4.3): one PFSAlgorithm byte: sha256 (0), or the project's
 * null (255), which lurkd accepts only where policy allows (protocol.md T11).
 */
static uint8_t freshness_decode(lurk_cbs *data, uint8_t *out)
{
    if (!lurk_cbs_get_u8(data, out))
        return FMT;
    if (*out != LURK_FRESHNESS_SHA256 && *out != LURK_FRESHNESS_NULL)
        return LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT;
    return lurk_cbs_len(data) == 0 ? OK : FMT;
}

uint8_t lurk_tls13_extension_list_decode(lurk_cbs *cbs, bool response,
                                         struct lurk_tls13_extension_list *out)
{
    lurk_cbs list;

    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u16_prefixed(cbs, &list))
        return FMT;
    while (lurk_cbs_len(&list) > 0) {
        struct lurk_tls13_extension *e;
        lurk_cbs data;
        uint8_t type;

        lurk_cbs_get_u8(&list, &type);
        /*
         * Unknown, repeated, or (in a response) anything but ephemeral:
         * invalid_extension. At most one of each type also bounds the list.
         */
        if (type < LURK_TLS13_EXT_PSK_ID || type > LURK_TLS13_EXT_FRESHNESS ||
            lurk_tls13_extension_find(out, type) != NULL ||
            (response && type != LURK_TLS13_EXT_EPHEMERAL) || out->n >= LURK_TLS13_MAX_EXTENSIONS)
            return LURK_TLS13_STATUS_INVALID_EXTENSION;
        if (!lurk_cbs_get_u16_prefixed(&list, &data))
            return FMT;
        e = &out->ext[out->n];
        e->type = type;
        switch (type) {
        case LURK_TLS13_EXT_PSK_ID:
            CHECK(psk_id_decode(&data, &e->psk_id));
            break;
        case LURK_TLS13_EXT_EPHEMERAL:
            CHECK(ephemeral_decode(&data, response, &e->ephemeral));
            break;
        default:
            CHECK(freshness_decode(&data, &e->freshness));
            break;
        }
        out->n++;
    }
    return OK;
}

static bool ephemeral_encode(lurk_cbb *cbb, bool response, const struct lurk_tls13_ephemeral *in)
{
    lurk_cbb_mark m;

    if (response) {
        if (in->method != LURK_TLS13_EPHEMERAL_SECRET_GENERATED ||
            lurk_cbs_len(&in->key_share.key_exchange) == 0)
            return refuse(cbb);
        lurk_cbb_add_u8(cbb, in->method);
        lurk_cbb_begin(cbb, &m, 2);
        lurk_cbb_add_u16(cbb, in->key_share.group);
        lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->key_share.key_exchange),
                              lurk_cbs_len(&in->key_share.key_exchange));
        return lurk_cbb_end(cbb, &m);
    }
    if (in->method == LURK_TLS13_EPHEMERAL_SECRET_PROVIDED) {
        if (lurk_cbs_len(&in->secret) == 0)
            return refuse(cbb);
    } else if (in->method != LURK_TLS13_EPHEMERAL_SECRET_GENERATED ||
               lurk_cbs_len(&in->secret) != 0) {
        return refuse(cbb);
    }
    lurk_cbb_add_u8(cbb, in->method);
    return lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->secret), lurk_cbs_len(&in->secret));
}

static bool extension_encode(lurk_cbb *cbb, bool response, const struct lurk_tls13_extension *e)
{
    lurk_cbb_mark m;

    if (response && e->type != LURK_TLS13_EXT_EPHEMERAL)
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, e->type);
    lurk_cbb_begin(cbb, &m, 2);
    switch (e->type) {
    case LURK_TLS13_EXT_PSK_ID:
        if (lurk_cbs_len(&e->psk_id.identity) == 0)
            return refuse(cbb);
        lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&e->psk_id.identity),
                              lurk_cbs_len(&e->psk_id.identity));
        lurk_cbb_add_u32(cbb, e->psk_id.obfuscated_ticket_age);
        break;
    case LURK_TLS13_EXT_EPHEMERAL:
        if (!ephemeral_encode(cbb, response, &e->ephemeral))
            return refuse(cbb);
        break;
    case LURK_TLS13_EXT_FRESHNESS:
        if (e->freshness != LURK_FRESHNESS_SHA256 && e->freshness != LURK_FRESHNESS_NULL)
            return refuse(cbb);
        lurk_cbb_add_u8(cbb, e->freshness);
        break;
    default:
        return refuse(cbb);
    }
    return lurk_cbb_end(cbb, &m);
}

bool lurk_tls13_extension_list_encode(lurk_cbb *cbb, bool response,
                                      const struct lurk_tls13_extension_list *in)
{
    lurk_cbb_mark m;

    if (in->n > LURK_TLS13_MAX_EXTENSIONS)
        return refuse(cbb);
    lurk_cbb_begin(cbb, &m, 2);
    for (size_t i = 0; i < in->n; i++) {
        for (size_t j = 0; j < i; j++)
            if (in->ext[j].type == in->ext[i].type)
                return refuse(cbb);
        if (!extension_encode(cbb, response, &in->ext[i]))
            return refuse(cbb);
    }
    return lurk_cbb_end(cbb, &m);
}

/* ---- secrets (§3.1, §3.2, §3.4) ---- */

uint8_t lurk_tls13_key_request_decode(lurk_cbs *cbs, uint16_t *out)
{
    if (!lurk_cbs_get_u16(cbs, out))
        return FMT;
    /* Figure 2: bits 9-15 "reserved and set to zero". */
    if (*out & LURK_TLS13_KR_RESERVED)
        return LURK_TLS13_STATUS_INVALID_KEY_REQUEST;
    return OK;
}

uint8_t lurk_tls13_secrets_request_decode(lurk_cbs *cbs, struct lurk_tls13_secrets_request *out)
{
    memset(out, 0, sizeof(*out));
    CHECK(lurk_tls13_key_request_decode(cbs, &out->key_request));
    CHECK(handshake_context_decode(cbs, &out->handshake_context));
    return lurk_tls13_extension_list_decode(cbs, false, &out->extensions);
}

bool lurk_tls13_secrets_request_encode(lurk_cbb *cbb, const struct lurk_tls13_secrets_request *in)
{
    if (in->key_request & LURK_TLS13_KR_RESERVED)
        return refuse(cbb);
    lurk_cbb_add_u16(cbb, in->key_request);
    return handshake_context_encode(cbb, &in->handshake_context) &&
           lurk_tls13_extension_list_encode(cbb, false, &in->extensions);
}

uint8_t lurk_tls13_secret_list_decode(lurk_cbs *cbs, struct lurk_tls13_secret_list *out)
{
    lurk_cbs list;
    uint16_t seen = 0;

    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u16_prefixed(cbs, &list))
        return FMT;
    while (lurk_cbs_len(&list) > 0) {
        struct lurk_tls13_secret *s;
        uint8_t type;

        lurk_cbs_get_u8(&list, &type);
        /* -01 names no status for these: an unknown or repeated secret is a format error. */
        if (type > LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET || (seen & LURK_TLS13_KR_BIT(type)) ||
            out->n >= LURK_TLS13_MAX_SECRETS)
            return FMT;
        seen |= LURK_TLS13_KR_BIT(type);
        s = &out->s[out->n];
        s->type = type;
        if (!lurk_cbs_get_u8_prefixed(&list, &s->data))
            return FMT;
        out->n++;
    }
    return OK;
}

bool lurk_tls13_secret_list_encode(lurk_cbb *cbb, const struct lurk_tls13_secret_list *in)
{
    lurk_cbb_mark m;
    uint16_t seen = 0;

    if (in->n > LURK_TLS13_MAX_SECRETS)
        return refuse(cbb);
    lurk_cbb_begin(cbb, &m, 2);
    for (size_t i = 0; i < in->n; i++) {
        const struct lurk_tls13_secret *s = &in->s[i];
        if (s->type > LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET ||
            (seen & LURK_TLS13_KR_BIT(s->type)))
            return refuse(cbb);
        seen |= LURK_TLS13_KR_BIT(s->type);
        lurk_cbb_add_u8(cbb, s->type);
        lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&s->data), lurk_cbs_len(&s->data));
    }
    return lurk_cbb_end(cbb, &m);
}

uint8_t lurk_tls13_secrets_response_decode(lurk_cbs *cbs, struct lurk_tls13_secrets_response *out)
{
    memset(out, 0, sizeof(*out));
    CHECK(lurk_tls13_secret_list_decode(cbs, &out->secrets));
    return lurk_tls13_extension_list_decode(cbs, true, &out->extensions);
}

bool lurk_tls13_secrets_response_encode(lurk_cbb *cbb, const struct lurk_tls13_secrets_response *in)
{
    return lurk_tls13_secret_list_encode(cbb, &in->secrets) &&
           lurk_tls13_extension_list_encode(cbb, true, &in->extensions);
}

/* ---- context agreement and sessions (§3.5, §4.3) ---- */

uint8_t lurk_tls13_ctx_request_decode(lurk_cbs *cbs, struct lurk_tls13_ctx_request *out)
{
    if (!lurk_cbs_get_u8(cbs, &out->cookie_h))
        return FMT;
    /* cookie_h is a PFSAlgorithm; -01 defines sha256 (0) only. */
    if (out->cookie_h != LURK_FRESHNESS_SHA256)
        return LURK_TLS13_STATUS_INVALID_COOKIE_H;
    if (!lurk_cbs_get_u32(cbs, &out->lurk_client_session_id) ||
        !lurk_cbs_get_u32(cbs, &out->lurk_client_cookie_init))
        return FMT;
    return OK;
}

bool lurk_tls13_ctx_request_encode(lurk_cbb *cbb, const struct lurk_tls13_ctx_request *in)
{
    if (in->cookie_h != LURK_FRESHNESS_SHA256)
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, in->cookie_h);
    lurk_cbb_add_u32(cbb, in->lurk_client_session_id);
    lurk_cbb_add_u32(cbb, in->lurk_client_cookie_init);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls13_ctx_response_decode(lurk_cbs *cbs, struct lurk_tls13_ctx_response *out)
{
    if (!lurk_cbs_get_u32(cbs, &out->crypto_service_session_id) ||
        !lurk_cbs_get_u32(cbs, &out->crypto_service_cookie_init))
        return FMT;
    return OK;
}

bool lurk_tls13_ctx_response_encode(lurk_cbb *cbb, const struct lurk_tls13_ctx_response *in)
{
    lurk_cbb_add_u32(cbb, in->crypto_service_session_id);
    lurk_cbb_add_u32(cbb, in->crypto_service_cookie_init);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls13_session_decode(lurk_cbs *cbs, struct lurk_tls13_session *out)
{
    if (!lurk_cbs_get_u32(cbs, &out->session_id) || !lurk_cbs_get_u32(cbs, &out->cookie))
        return FMT;
    return OK;
}

bool lurk_tls13_session_encode(lurk_cbb *cbb, const struct lurk_tls13_session *in)
{
    lurk_cbb_add_u32(cbb, in->session_id);
    lurk_cbb_add_u32(cbb, in->cookie);
    return lurk_cbb_ok(cbb);
}

/* ---- signing (§3.6) ---- */

/* RFC 8446 §4.4.2 Certificate body: request context<0..255>, entries<0..2^24-1>. */
static bool certificate_body_parse(lurk_cbs *cbs, lurk_cbs *request_context, lurk_cbs *list)
{
    lurk_cbs walk;
    struct lurk_tls13_certificate_entry e;
    enum lurk_tls13_next r;

    if (!lurk_cbs_get_u8_prefixed(cbs, request_context) || !lurk_cbs_get_u24_prefixed(cbs, list))
        return false;
    walk = *list;
    while ((r = lurk_tls13_certificate_entry_next(&walk, &e)) == LURK_TLS13_NEXT_OK)
        ;
    return r == LURK_TLS13_NEXT_END;
}

uint8_t lurk_tls13_lurk_certificate_decode(lurk_cbs *cbs, struct lurk_tls13_lurk_certificate *out)
{
    lurk_cbs start;

    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u8(cbs, &out->type))
        return FMT;
    switch (out->type) {
    case LURK_TLS13_LURK_CERTIFICATE_SHA256_32:
        return lurk_cbs_get_u32(cbs, &out->hash_cert) ? OK : FMT;
    case LURK_TLS13_LURK_CERTIFICATE_TLS13:
        start = *cbs;
        if (!certificate_body_parse(cbs, &out->request_context, &out->certificate_list))
            return FMT;
        /* The body as sent: what the reader moved over. */
        if (!lurk_cbs_get_bytes(&start, &out->certificate,
                                lurk_cbs_len(&start) - lurk_cbs_len(cbs)))
            return FMT;
        return OK;
    default:
        return LURK_TLS13_STATUS_INVALID_CERTIFICATE_TYPE;
    }
}

bool lurk_tls13_lurk_certificate_encode(lurk_cbb *cbb, const struct lurk_tls13_lurk_certificate *in)
{
    lurk_cbs body, ctx, list;

    switch (in->type) {
    case LURK_TLS13_LURK_CERTIFICATE_SHA256_32:
        lurk_cbb_add_u8(cbb, in->type);
        return lurk_cbb_add_u32(cbb, in->hash_cert);
    case LURK_TLS13_LURK_CERTIFICATE_TLS13:
        /* Only a body the decoder accepts, with nothing after it. */
        body = in->certificate;
        if (!certificate_body_parse(&body, &ctx, &list) || lurk_cbs_len(&body) != 0)
            return refuse(cbb);
        lurk_cbb_add_u8(cbb, in->type);
        return lurk_cbb_add_cbs(cbb, &in->certificate);
    default:
        return refuse(cbb);
    }
}

/* KeyPairID (tls12 §4.1): the tls12 codec, its statuses mapped to TLS13Status. */
static uint8_t key_id_decode(lurk_cbs *cbs, struct lurk_key_id *out)
{
    uint8_t st = lurk_key_id_decode(cbs, out);

    if (st == OK)
        return OK;
    return st == LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE ? LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE
                                                       : FMT;
}

uint8_t lurk_tls13_signing_request_decode(lurk_cbs *cbs, struct lurk_tls13_signing_request *out)
{
    memset(out, 0, sizeof(*out));
    CHECK(key_id_decode(cbs, &out->key_id));
    if (!lurk_cbs_get_u16(cbs, &out->sig_algo))
        return FMT;
    return lurk_tls13_lurk_certificate_decode(cbs, &out->certificate);
}

bool lurk_tls13_signing_request_encode(lurk_cbb *cbb, const struct lurk_tls13_signing_request *in)
{
    return lurk_key_id_encode(cbb, &in->key_id) && lurk_cbb_add_u16(cbb, in->sig_algo) &&
           lurk_tls13_lurk_certificate_encode(cbb, &in->certificate);
}

uint8_t lurk_tls13_signing_response_decode(lurk_cbs *cbs, struct lurk_tls13_signing_response *out)
{
    return lurk_cbs_get_u16_prefixed(cbs, &out->signature) ? OK : FMT;
}

bool lurk_tls13_signing_response_encode(lurk_cbb *cbb, const struct lurk_tls13_signing_response *in)
{
    return lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->signature),
                                 lurk_cbs_len(&in->signature));
}

/* ---- tickets (RFC 8446 §4.6.1) ---- */

uint8_t lurk_tls13_new_session_ticket_decode(lurk_cbs *cbs,
                                             struct lurk_tls13_new_session_ticket *out)
{
    if (!lurk_cbs_get_u32(cbs, &out->ticket_lifetime) ||
        !lurk_cbs_get_u32(cbs, &out->ticket_age_add) ||
        !lurk_cbs_get_u8_prefixed(cbs, &out->ticket_nonce) ||
        !lurk_cbs_get_u16_prefixed(cbs, &out->ticket) || lurk_cbs_len(&out->ticket) == 0 ||
        !lurk_cbs_get_u16_prefixed(cbs, &out->extensions) ||
        lurk_cbs_len(&out->extensions) > 0xfffe || !tls_extensions_valid(out->extensions))
        return FMT;
    return OK;
}

bool lurk_tls13_new_session_ticket_encode(lurk_cbb *cbb,
                                          const struct lurk_tls13_new_session_ticket *in)
{
    if (lurk_cbs_len(&in->ticket) == 0 || lurk_cbs_len(&in->extensions) > 0xfffe ||
        !tls_extensions_valid(in->extensions))
        return refuse(cbb);
    lurk_cbb_add_u32(cbb, in->ticket_lifetime);
    lurk_cbb_add_u32(cbb, in->ticket_age_add);
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->ticket_nonce),
                          lurk_cbs_len(&in->ticket_nonce));
    lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->ticket), lurk_cbs_len(&in->ticket));
    return lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->extensions),
                                 lurk_cbs_len(&in->extensions));
}

uint8_t lurk_tls13_ticket_list_decode(lurk_cbs *cbs, struct lurk_tls13_ticket_list *out)
{
    lurk_cbs list;

    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u16_prefixed(cbs, &list))
        return FMT;
    while (lurk_cbs_len(&list) > 0) {
        if (out->n >= LURK_TLS13_MAX_TICKETS)
            return FMT;
        CHECK(lurk_tls13_new_session_ticket_decode(&list, &out->t[out->n]));
        out->n++;
    }
    return OK;
}

bool lurk_tls13_ticket_list_encode(lurk_cbb *cbb, const struct lurk_tls13_ticket_list *in)
{
    lurk_cbb_mark m;

    if (in->n > LURK_TLS13_MAX_TICKETS)
        return refuse(cbb);
    lurk_cbb_begin(cbb, &m, 2);
    for (size_t i = 0; i < in->n; i++)
        if (!lurk_tls13_new_session_ticket_encode(cbb, &in->t[i]))
            return refuse(cbb);
    return lurk_cbb_end(cbb, &m);
}

/* ---- project messages ---- */

uint8_t lurk_tls13_sign_cv_request_decode(lurk_cbs *cbs, struct lurk_tls13_sign_cv_request *out)
{
    size_t n;

    memset(out, 0, sizeof(*out));
    CHECK(key_id_decode(cbs, &out->key_id));
    if (!lurk_cbs_get_u16(cbs, &out->sig_algo) || !lurk_cbs_get_u8(cbs, &out->role))
        return FMT;
    if (out->role != LURK_TLS13_ROLE_SERVER && out->role != LURK_TLS13_ROLE_CLIENT)
        return FMT;
    if (!lurk_cbs_get_u8_prefixed(cbs, &out->transcript_hash))
        return FMT;
    n = lurk_cbs_len(&out->transcript_hash);
    if (n != LURK_TLS13_TRANSCRIPT_HASH_SHA256_LEN && n != LURK_TLS13_TRANSCRIPT_HASH_SHA384_LEN)
        return FMT;
    return OK;
}

bool lurk_tls13_sign_cv_request_encode(lurk_cbb *cbb, const struct lurk_tls13_sign_cv_request *in)
{
    size_t n = lurk_cbs_len(&in->transcript_hash);

    if ((in->role != LURK_TLS13_ROLE_SERVER && in->role != LURK_TLS13_ROLE_CLIENT) ||
        (n != LURK_TLS13_TRANSCRIPT_HASH_SHA256_LEN && n != LURK_TLS13_TRANSCRIPT_HASH_SHA384_LEN))
        return refuse(cbb);
    return lurk_key_id_encode(cbb, &in->key_id) && lurk_cbb_add_u16(cbb, in->sig_algo) &&
           lurk_cbb_add_u8(cbb, in->role) &&
           lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->transcript_hash), n);
}

/* The same TypedCertificate as tls12: its iterator stops early on a malformed entry. */
static bool typed_certificates_valid(lurk_cbs list)
{
    struct lurk_tls12_typed_certificate c;

    while (lurk_tls12_typed_certificate_next(&list, &c))
        ;
    return lurk_cbs_len(&list) == 0;
}

uint8_t lurk_tls13_capabilities_response_decode(lurk_cbs *cbs,
                                                struct lurk_tls13_capabilities_response *out)
{
    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u8_prefixed(cbs, &out->types) || lurk_cbs_len(&out->types) == 0 ||
        !lurk_cbs_get_u16_prefixed(cbs, &out->signature_schemes) ||
        lurk_cbs_len(&out->signature_schemes) % 2 != 0 ||
        !lurk_cbs_get_u8_prefixed(cbs, &out->freshness_functs) ||
        !lurk_cbs_get_u8_prefixed(cbs, &out->cookie_hs) ||
        !lurk_cbs_get_u8_prefixed(cbs, &out->ephemeral_methods) ||
        !lurk_cbs_get_u16_prefixed(cbs, &out->named_groups) ||
        lurk_cbs_len(&out->named_groups) % 2 != 0 ||
        !lurk_cbs_get_u24_prefixed(cbs, &out->typed_certificates) ||
        !typed_certificates_valid(out->typed_certificates) ||
        !lurk_cbs_copy_bytes(cbs, out->state, LURK_TLS13_STATE_LEN))
        return FMT;
    return OK;
}

bool lurk_tls13_capabilities_response_encode(lurk_cbb *cbb,
                                             const struct lurk_tls13_capabilities_response *in)
{
    if (lurk_cbs_len(&in->types) == 0 || lurk_cbs_len(&in->signature_schemes) % 2 != 0 ||
        lurk_cbs_len(&in->named_groups) % 2 != 0 ||
        !typed_certificates_valid(in->typed_certificates))
        return refuse(cbb);
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->types), lurk_cbs_len(&in->types));
    lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->signature_schemes),
                          lurk_cbs_len(&in->signature_schemes));
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->freshness_functs),
                          lurk_cbs_len(&in->freshness_functs));
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->cookie_hs), lurk_cbs_len(&in->cookie_hs));
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->ephemeral_methods),
                          lurk_cbs_len(&in->ephemeral_methods));
    lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->named_groups),
                          lurk_cbs_len(&in->named_groups));
    lurk_cbb_add_prefixed(cbb, 3, lurk_cbs_data(&in->typed_certificates),
                          lurk_cbs_len(&in->typed_certificates));
    return lurk_cbb_add_bytes(cbb, in->state, LURK_TLS13_STATE_LEN);
}

/* ---- whole payloads ---- */

/* The parts of a payload, in wire order (tls13.h, protocol.md). */
enum field {
    F_END = 0,
    F_CTX,          /* ContextAgreementRequest / Response */
    F_SESSION,      /* uint32 session_id, uint32 cookie */
    F_SECRETS,      /* SecretsRequest / SecretsResponse */
    F_SIGNING,      /* SigningRequest / SigningResponse */
    F_HS_CONTEXT,   /* handshake_context<0..2^32-1> (10..12) */
    F_APP_N,        /* uint16 app_n (10) */
    F_TICKET_NBR,   /* uint8 ticket_nbr (11) */
    F_KEY_REQUEST,  /* uint16 key_request (11, 12) */
    F_TICKETS,      /* NewSessionTicket ticket_list<0..2^16-1> (11 response, 12 request) */
    F_SECRET_LIST,  /* Secret secret_list<0..2^16-1> (11, 12 responses; pinned) */
    F_SIGN_CV,      /* sign_certificate_verify request (128) */
    F_CAPABILITIES, /* capabilities response (0) */
};

#define MAX_FIELDS 4

struct layout {
    uint8_t request[MAX_FIELDS + 1];
    uint8_t response[MAX_FIELDS + 1];
};

/* Indexed by type; the last entry is type 128. */
static const struct layout layouts[] = {
    [LURK_TLS13_TYPE_CAPABILITIES] = {{F_END}, {F_CAPABILITIES}},
    [LURK_TLS13_TYPE_PING] = {{F_END}, {F_END}},
    [LURK_TLS13_TYPE_BINDER_KEY] = {{F_SECRETS}, {F_SECRETS}},
    [LURK_TLS13_TYPE_EARLY_SECRET] = {{F_CTX, F_SECRETS}, {F_CTX, F_SECRETS}},
    [LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET] = {{F_SESSION, F_SECRETS}, {F_SESSION, F_SECRETS}},
    /* §5.4: the optional SigningRequest is not carried (protocol.md). */
    [LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET] = {{F_CTX, F_SECRETS}, {F_CTX, F_SECRETS}},
    [LURK_TLS13_TYPE_HANDSHAKE_SECRET] = {{F_SESSION, F_SECRETS}, {F_SESSION, F_SECRETS}},
    [LURK_TLS13_TYPE_APP_SECRET] = {{F_SESSION, F_SECRETS}, {F_SESSION, F_SECRETS}},
    [LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY] = {{F_CTX, F_SECRETS, F_SIGNING},
                                                 {F_CTX, F_SECRETS, F_SIGNING}},
    /* §5.6 has no session_id/cookie: pinned in front, as in the other session exchanges. */
    [LURK_TLS13_TYPE_CERTIFICATE_VERIFY] = {{F_SESSION, F_SECRETS, F_SIGNING},
                                            {F_SESSION, F_SECRETS, F_SIGNING}},
    /* §5.8 has no signature: pinned SigningRequest / SigningResponse at the end. */
    [LURK_TLS13_TYPE_POST_HANDSHAKE] = {{F_SESSION, F_HS_CONTEXT, F_APP_N, F_SIGNING},
                                        {F_SESSION, F_SIGNING}},
    /* §4.4, §5.7: responses get a secret list for r (pinned). */
    [LURK_TLS13_TYPE_NEW_SESSION_TICKET] = {{F_SESSION, F_TICKET_NBR, F_KEY_REQUEST, F_HS_CONTEXT},
                                            {F_SESSION, F_TICKETS, F_SECRET_LIST}},
    [LURK_TLS13_TYPE_REGISTER_SESSION_TICKET] = {{F_SESSION, F_HS_CONTEXT, F_TICKETS,
                                                  F_KEY_REQUEST},
                                                 {F_SESSION, F_SECRET_LIST}},
    {{F_SIGN_CV}, {F_SIGNING}},
};

static const struct layout *layout_of(uint8_t type)
{
    if (type <= LURK_TLS13_TYPE_REGISTER_SESSION_TICKET)
        return &layouts[type];
    if (type == LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY)
        return &layouts[LURK_TLS13_TYPE_REGISTER_SESSION_TICKET + 1];
    return NULL;
}

bool lurk_tls13_type_known(uint8_t type)
{
    return layout_of(type) != NULL;
}

static uint8_t request_field_decode(uint8_t f, lurk_cbs *in, struct lurk_tls13_request *out)
{
    switch (f) {
    case F_CTX:
        return lurk_tls13_ctx_request_decode(in, &out->ctx);
    case F_SESSION:
        return lurk_tls13_session_decode(in, &out->session);
    case F_SECRETS:
        return lurk_tls13_secrets_request_decode(in, &out->secrets);
    case F_SIGNING:
        return lurk_tls13_signing_request_decode(in, &out->signing);
    case F_HS_CONTEXT:
        return handshake_context_decode(in, &out->secrets.handshake_context);
    case F_APP_N:
        return lurk_cbs_get_u16(in, &out->app_n) ? OK : FMT;
    case F_TICKET_NBR:
        return lurk_cbs_get_u8(in, &out->ticket_nbr) ? OK : FMT;
    case F_KEY_REQUEST:
        return lurk_tls13_key_request_decode(in, &out->secrets.key_request);
    case F_TICKETS:
        return lurk_tls13_ticket_list_decode(in, &out->tickets);
    case F_SIGN_CV:
        return lurk_tls13_sign_cv_request_decode(in, &out->sign_cv);
    default:
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
}

static bool request_field_encode(uint8_t f, lurk_cbb *cbb, const struct lurk_tls13_request *in)
{
    switch (f) {
    case F_CTX:
        return lurk_tls13_ctx_request_encode(cbb, &in->ctx);
    case F_SESSION:
        return lurk_tls13_session_encode(cbb, &in->session);
    case F_SECRETS:
        return lurk_tls13_secrets_request_encode(cbb, &in->secrets);
    case F_SIGNING:
        return lurk_tls13_signing_request_encode(cbb, &in->signing);
    case F_HS_CONTEXT:
        return handshake_context_encode(cbb, &in->secrets.handshake_context);
    case F_APP_N:
        return lurk_cbb_add_u16(cbb, in->app_n);
    case F_TICKET_NBR:
        return lurk_cbb_add_u8(cbb, in->ticket_nbr);
    case F_KEY_REQUEST:
        if (in->secrets.key_request & LURK_TLS13_KR_RESERVED)
            return refuse(cbb);
        return lurk_cbb_add_u16(cbb, in->secrets.key_request);
    case F_TICKETS:
        return lurk_tls13_ticket_list_encode(cbb, &in->tickets);
    case F_SIGN_CV:
        return lurk_tls13_sign_cv_request_encode(cbb, &in->sign_cv);
    default:
        return refuse(cbb);
    }
}

static uint8_t response_field_decode(uint8_t f, lurk_cbs *in, struct lurk_tls13_response *out)
{
    switch (f) {
    case F_CTX:
        return lurk_tls13_ctx_response_decode(in, &out->ctx);
    case F_SESSION:
        return lurk_tls13_session_decode(in, &out->session);
    case F_SECRETS:
        return lurk_tls13_secrets_response_decode(in, &out->secrets);
    case F_SIGNING:
        return lurk_tls13_signing_response_decode(in, &out->signing);
    case F_TICKETS:
        return lurk_tls13_ticket_list_decode(in, &out->tickets);
    case F_SECRET_LIST:
        return lurk_tls13_secret_list_decode(in, &out->secrets.secrets);
    case F_CAPABILITIES:
        return lurk_tls13_capabilities_response_decode(in, &out->capabilities);
    default:
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
}

static bool response_field_encode(uint8_t f, lurk_cbb *cbb, const struct lurk_tls13_response *in)
{
    switch (f) {
    case F_CTX:
        return lurk_tls13_ctx_response_encode(cbb, &in->ctx);
    case F_SESSION:
        return lurk_tls13_session_encode(cbb, &in->session);
    case F_SECRETS:
        return lurk_tls13_secrets_response_encode(cbb, &in->secrets);
    case F_SIGNING:
        return lurk_tls13_signing_response_encode(cbb, &in->signing);
    case F_TICKETS:
        return lurk_tls13_ticket_list_encode(cbb, &in->tickets);
    case F_SECRET_LIST:
        return lurk_tls13_secret_list_encode(cbb, &in->secrets.secrets);
    case F_CAPABILITIES:
        return lurk_tls13_capabilities_response_encode(cbb, &in->capabilities);
    default:
        return refuse(cbb);
    }
}

uint8_t lurk_tls13_request_decode(uint8_t type, const lurk_cbs *payload,
                                  struct lurk_tls13_request *out)
{
    const struct layout *l = layout_of(type);
    lurk_cbs in = *payload;

    memset(out, 0, sizeof(*out));
    if (l == NULL)
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    out->type = type;
    for (const uint8_t *f = l->request; *f != F_END; f++)
        CHECK(request_field_decode(*f, &in, out));
    return lurk_cbs_len(&in) == 0 ? OK : FMT;
}

bool lurk_tls13_request_encode(lurk_cbb *cbb, const struct lurk_tls13_request *in)
{
    const struct layout *l = layout_of(in->type);

    if (l == NULL)
        return refuse(cbb);
    /* 10..12 carry only parts of the SecretsRequest: refuse what would be dropped. */
    if (in->type >= LURK_TLS13_TYPE_POST_HANDSHAKE &&
        in->type <= LURK_TLS13_TYPE_REGISTER_SESSION_TICKET &&
        (in->secrets.extensions.n != 0 ||
         (in->type == LURK_TLS13_TYPE_POST_HANDSHAKE && in->secrets.key_request != 0)))
        return refuse(cbb);
    for (const uint8_t *f = l->request; *f != F_END; f++)
        if (!request_field_encode(*f, cbb, in))
            return refuse(cbb);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls13_response_decode(uint8_t type, const lurk_cbs *payload,
                                   struct lurk_tls13_response *out)
{
    const struct layout *l = layout_of(type);
    lurk_cbs in = *payload;

    memset(out, 0, sizeof(*out));
    if (l == NULL)
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    out->type = type;
    for (const uint8_t *f = l->response; *f != F_END; f++)
        CHECK(response_field_decode(*f, &in, out));
    return lurk_cbs_len(&in) == 0 ? OK : FMT;
}

bool lurk_tls13_response_encode(lurk_cbb *cbb, const struct lurk_tls13_response *in)
{
    const struct layout *l = layout_of(in->type);

    if (l == NULL)
        return refuse(cbb);
    /* 11 and 12 carry a bare secret list: refuse extensions that would be dropped. */
    if ((in->type == LURK_TLS13_TYPE_NEW_SESSION_TICKET ||
         in->type == LURK_TLS13_TYPE_REGISTER_SESSION_TICKET) &&
        in->secrets.extensions.n != 0)
        return refuse(cbb);
    for (const uint8_t *f = l->response; *f != F_END; f++)
        if (!response_field_encode(*f, cbb, in))
            return refuse(cbb);
    return lurk_cbb_ok(cbb);
}

/* ---- per-exchange rules (Figures 3, 5, 6, 7, 8) ---- */

#define S  LURK_TLS13_ROLE_SERVER
#define C  LURK_TLS13_ROLE_CLIENT
#define NO LURK_TLS13_FORBIDDEN
#define OP LURK_TLS13_OPTIONAL
#define MA LURK_TLS13_MANDATORY

/* Rows in the order of the draft's figures. */
const struct lurk_tls13_exchange_rule lurk_tls13_exchange_rules[LURK_TLS13_EXCHANGE_RULES] = {
    /* type, role, mandatory keys, optional keys, ephemeral, psk_id, freshness, ctx */
    {LURK_TLS13_TYPE_EARLY_SECRET, S, LURK_TLS13_KR_B, LURK_TLS13_KR_E_S | LURK_TLS13_KR_E_X, NO,
     MA, NO, MA},
    {LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, S, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S,
     LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S | LURK_TLS13_KR_X, MA, NO, MA, MA},
    {LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET, S, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S,
     LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S | LURK_TLS13_KR_X, OP, NO, MA, NO},
    {LURK_TLS13_TYPE_NEW_SESSION_TICKET, S, 0, LURK_TLS13_KR_R, NO, NO, NO, NO},
    {LURK_TLS13_TYPE_BINDER_KEY, C, LURK_TLS13_KR_B, 0, OP, MA, NO, NO},
    {LURK_TLS13_TYPE_EARLY_SECRET, C, 0, LURK_TLS13_KR_E_S | LURK_TLS13_KR_E_X, NO, MA, MA, MA},
    {LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, C, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S, 0, OP, OP, MA,
     MA},
    /* Figure 8 leaves ctx_agreement blank here: type 6 carries session_id and cookie instead. */
    {LURK_TLS13_TYPE_HANDSHAKE_SECRET, C, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S, 0, OP, NO, NO, NO},
    {LURK_TLS13_TYPE_APP_SECRET, C, 0, LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S | LURK_TLS13_KR_X, NO,
     NO, NO, NO},
    {LURK_TLS13_TYPE_CERTIFICATE_VERIFY, C, 0,
     LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S | LURK_TLS13_KR_X, NO, NO, NO, NO},
    {LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, C, 0, LURK_TLS13_KR_R, NO, NO, NO, NO},
    {LURK_TLS13_TYPE_POST_HANDSHAKE, C, 0, 0, NO, NO, NO, NO},
};

#undef S
#undef C
#undef NO
#undef OP
#undef MA

const struct lurk_tls13_exchange_rule *lurk_tls13_exchange_rule_find(uint8_t type, uint8_t role)
{
    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++)
        if (lurk_tls13_exchange_rules[i].type == type && lurk_tls13_exchange_rules[i].role == role)
            return &lurk_tls13_exchange_rules[i];
    return NULL;
}

int lurk_tls13_exchange_role(uint8_t type, uint16_t key_request)
{
    if (type == LURK_TLS13_TYPE_EARLY_SECRET)
        return (key_request & LURK_TLS13_KR_B) ? LURK_TLS13_ROLE_SERVER : LURK_TLS13_ROLE_CLIENT;
    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++)
        if (lurk_tls13_exchange_rules[i].type == type)
            return lurk_tls13_exchange_rules[i].role;
    return -1;
}

uint8_t lurk_tls13_key_request_check(uint8_t type, uint8_t role, uint16_t key_request)
{
    const struct lurk_tls13_exchange_rule *r = lurk_tls13_exchange_rule_find(type, role);

    if (r == NULL)
        return LURK_TLS13_STATUS_INVALID_REQUEST;
    /* §3.1: all mandatory secrets, nothing outside the permitted set. */
    if ((key_request & r->mandatory_keys) != r->mandatory_keys ||
        (key_request & ~(r->mandatory_keys | r->optional_keys)) != 0)
        return LURK_TLS13_STATUS_INVALID_KEY_REQUEST;
    return OK;
}

static uint8_t presence_of(const struct lurk_tls13_exchange_rule *r, uint8_t ext_type)
{
    switch (ext_type) {
    case LURK_TLS13_EXT_PSK_ID:
        return r->psk_id;
    case LURK_TLS13_EXT_EPHEMERAL:
        return r->ephemeral;
    case LURK_TLS13_EXT_FRESHNESS:
        return r->freshness;
    default:
        return LURK_TLS13_FORBIDDEN;
    }
}

uint8_t lurk_tls13_extensions_check(uint8_t type, uint8_t role,
                                    const struct lurk_tls13_extension_list *extensions)
{
    const struct lurk_tls13_exchange_rule *r = lurk_tls13_exchange_rule_find(type, role);

    if (r == NULL)
        return LURK_TLS13_STATUS_INVALID_REQUEST;
    for (size_t i = 0; i < extensions->n && i < LURK_TLS13_MAX_EXTENSIONS; i++) {
        uint8_t t = extensions->ext[i].type;
        if (presence_of(r, t) == LURK_TLS13_FORBIDDEN)
            /* §3.4.2 first says invalid_format for a misplaced psk_id. */
            return t == LURK_TLS13_EXT_PSK_ID ? FMT : LURK_TLS13_STATUS_INVALID_EXTENSION;
    }
    for (uint8_t t = LURK_TLS13_EXT_PSK_ID; t <= LURK_TLS13_EXT_FRESHNESS; t++)
        if (presence_of(r, t) == LURK_TLS13_MANDATORY &&
            lurk_tls13_extension_find(extensions, t) == NULL)
            return LURK_TLS13_STATUS_INVALID_EXTENSION;
    return OK;
}

/* ---- names ---- */

const char *lurk_tls13_type_name(uint8_t type)
{
    static const char *const names[] = {
        "capabilities",
        "ping",
        "binder_key",
        "early_secret",
        "handshake_and_app_secret",
        "init_handshake_secret",
        "handshake_secret",
        "app_secret",
        "init_certificate_verify",
        "certificate_verify",
        "post_handshake",
        "new_session_ticket",
        "register_session_ticket",
    };
    if (type < sizeof(names) / sizeof(names[0]))
        return names[type];
    return type == LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY ? "sign_certificate_verify" : "unknown";
}

const char *lurk_tls13_status_name(uint8_t status)
{
    static const char *const names[] = {
        "request",
        "success",
        "undefined_error",
        "invalid_payload_format",
        "invalid_psk",
        "invalid_freshness_funct",
        "invalid_h_opaque",
        "invalid_ctx_type",
        "invalid_request",
        "invalid_key_id_type",
        "invalid_key_id",
        "invalid_signature_scheme",
        "invalid_certificate_type",
        "invalid_certificate",
        "invalid_certificate_verify",
        "invalid_key_request",
        "invalid_handshake",
        "invalid_extension",
        "invalid_ephemeral",
        "invalid_cookie_h",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}
