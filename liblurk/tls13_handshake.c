/* TLS 1.3 handshake messages in handshake_context; see tls13_handshake.h. */
#include "lurk/tls13_handshake.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8446 §4.1.3: the Random of a HelloRetryRequest, SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[LURK_TLS13_HS_RANDOM_LEN] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

#define TLS13_VERSION 0x0304
#define TLS12_VERSION 0x0303

static size_t offset_in(const lurk_cbs *whole, const lurk_cbs *part)
{
    return (size_t)(lurk_cbs_data(part) - lurk_cbs_data(whole));
}

/*
 * A set of 16-bit code points (extension types, groups): repeats are
 * refused (RFC 8446 §4.2: "There MUST NOT be more than one extension of the
 * same type"; §4.2.8: one KeyShareEntry per group) in linear time, whatever
 * a hostile list of 16k entries holds.
 */
struct seen {
    uint8_t bits[65536 / 8];
};

static bool first_time(struct seen *set, uint16_t v)
{
    uint8_t bit = (uint8_t)(1u << (v & 7));

    if (set->bits[v >> 3] & bit)
        return false;
    set->bits[v >> 3] |= bit;
    return true;
}

/* Walks an extension list: the next extension, refusing repeated types. */
struct ext_iter {
    lurk_cbs rest;
    struct seen seen;
};

static void ext_begin(struct ext_iter *it, const lurk_cbs *list)
{
    it->rest = *list;
    memset(&it->seen, 0, sizeof(it->seen));
}

static bool ext_next(struct ext_iter *it, uint16_t *type, lurk_cbs *data, bool *last)
{
    if (!lurk_cbs_get_u16(&it->rest, type) || !lurk_cbs_get_u16_prefixed(&it->rest, data) ||
        !first_time(&it->seen, *type))
        return false;
    *last = lurk_cbs_len(&it->rest) == 0;
    return true;
}

static bool versions_offer_tls13(lurk_cbs data)
{
    lurk_cbs list;
    uint16_t v;

    if (!lurk_cbs_get_u8_prefixed(&data, &list) || lurk_cbs_len(&data) != 0 ||
        lurk_cbs_len(&list) < 2 || lurk_cbs_len(&list) % 2 != 0)
        return false;
    while (lurk_cbs_get_u16(&list, &v))
        if (v == TLS13_VERSION)
            return true;
    return false;
}

/* KeyShareEntry list: well formed, groups not repeated (RFC 8446 §4.2.8). */
static bool key_shares_valid(lurk_cbs list)
{
    struct seen *groups = calloc(1, sizeof(*groups));
    lurk_cbs ke;
    uint16_t group;
    bool ok = groups != NULL;

    while (ok && lurk_cbs_len(&list) > 0)
        ok = lurk_cbs_get_u16(&list, &group) && lurk_cbs_get_u16_prefixed(&list, &ke) &&
             lurk_cbs_len(&ke) > 0 && first_time(groups, group);
    free(groups);
    return ok;
}

/* OfferedPsks (RFC 8446 §4.2.11): as many binders as identities, sizes in range. */
static bool offered_psks(lurk_cbs data, struct lurk_tls13_hs_client_hello *out)
{
    lurk_cbs ids, binders, e;
    size_t n_ids = 0, n_binders = 0;
    uint32_t age;

    if (!lurk_cbs_get_u16_prefixed(&data, &out->identities))
        return false;
    out->truncated_len = offset_in(&out->message, &data);
    if (!lurk_cbs_get_u16_prefixed(&data, &out->binders) || lurk_cbs_len(&data) != 0)
        return false;
    for (ids = out->identities; lurk_cbs_len(&ids) > 0; n_ids++)
        if (!lurk_cbs_get_u16_prefixed(&ids, &e) || lurk_cbs_len(&e) == 0 ||
            !lurk_cbs_get_u32(&ids, &age))
            return false;
    for (binders = out->binders; lurk_cbs_len(&binders) > 0; n_binders++)
        if (!lurk_cbs_get_u8_prefixed(&binders, &e) || lurk_cbs_len(&e) < 32)
            return false;
    return n_ids > 0 && n_ids == n_binders;
}

bool lurk_tls13_hs_parse_client_hello(const lurk_cbs *message,
                                      struct lurk_tls13_hs_client_hello *out)
{
    lurk_cbs m = *message, body, session_id, compression, extensions, data;
    uint8_t type;
    uint16_t legacy_version, ext_type;
    uint32_t len;
    struct ext_iter it;
    bool last = false;

    memset(out, 0, sizeof(*out));
    out->message = *message;
    if (!lurk_cbs_get_u8(&m, &type) || type != 1 || !lurk_cbs_get_u24(&m, &len) ||
        !lurk_cbs_get_bytes(&m, &body, len) || lurk_cbs_len(&m) != 0)
        return false;
    if (!lurk_cbs_get_u16(&body, &legacy_version) || legacy_version != TLS12_VERSION)
        return false;
    out->random_off = offset_in(message, &body);
    if (!lurk_cbs_get_bytes(&body, &out->random, LURK_TLS13_HS_RANDOM_LEN) ||
        !lurk_cbs_get_u8_prefixed(&body, &session_id) || lurk_cbs_len(&session_id) > 32 ||
        !lurk_cbs_get_u16_prefixed(&body, &out->cipher_suites) ||
        lurk_cbs_len(&out->cipher_suites) < 2 || lurk_cbs_len(&out->cipher_suites) % 2 != 0 ||
        !lurk_cbs_get_u8_prefixed(&body, &compression) || lurk_cbs_len(&compression) != 1 ||
        !lurk_cbs_get_u16_prefixed(&body, &extensions) || lurk_cbs_len(&body) != 0)
        return false;
    ext_begin(&it, &extensions);
    while (lurk_cbs_len(&it.rest) > 0) {
        if (!ext_next(&it, &ext_type, &data, &last))
            return false;
        switch (ext_type) {
        case LURK_TLS_EXT_SUPPORTED_VERSIONS:
            out->tls13 = versions_offer_tls13(data);
            break;
        case LURK_TLS_EXT_KEY_SHARE:
            if (!lurk_cbs_get_u16_prefixed(&data, &out->key_shares) || lurk_cbs_len(&data) != 0 ||
                !key_shares_valid(out->key_shares))
                return false;
            out->has_key_share = true;
            break;
        case LURK_TLS_EXT_PRE_SHARED_KEY:
            /* RFC 8446 §4.2.11: it MUST be the last extension of the ClientHello. */
            if (!last || !offered_psks(data, out))
                return false;
            out->has_psk = true;
            break;
        case LURK_TLS_EXT_PSK_KEY_EXCHANGE_MODES: {
            lurk_cbs modes;
            uint8_t mode;
            if (!lurk_cbs_get_u8_prefixed(&data, &modes) || lurk_cbs_len(&modes) == 0 ||
                lurk_cbs_len(&data) != 0)
                return false;
            while (lurk_cbs_get_u8(&modes, &mode)) {
                out->psk_ke |= mode == 0;
                out->psk_dhe_ke |= mode == 1;
            }
            out->has_psk_modes = true;
            break;
        }
        case LURK_TLS_EXT_EARLY_DATA:
            if (lurk_cbs_len(&data) != 0)
                return false;
            out->early_data = true;
            break;
        case LURK_TLS_EXT_POST_HANDSHAKE_AUTH:
            if (lurk_cbs_len(&data) != 0)
                return false;
            out->post_handshake_auth = true;
            break;
        case LURK_TLS_EXT_SIGNATURE_ALGORITHMS:
            if (!lurk_cbs_get_u16_prefixed(&data, &out->sig_algs) || lurk_cbs_len(&data) != 0 ||
                lurk_cbs_len(&out->sig_algs) < 2 || lurk_cbs_len(&out->sig_algs) % 2 != 0)
                return false;
            out->has_sig_algs = true;
            break;
        default:
            break;
        }
    }
    /* A TLS 1.3 ClientHello (RFC 8446 §4.2.1); lurkd serves nothing older. */
    return out->tls13;
}

bool lurk_tls13_hs_parse_server_hello(const lurk_cbs *message,
                                      struct lurk_tls13_hs_server_hello *out)
{
    lurk_cbs m = *message, body, random, session_id, extensions, data;
    uint8_t type, compression;
    uint16_t legacy_version, ext_type;
    uint32_t len;
    struct ext_iter it;
    bool last;

    memset(out, 0, sizeof(*out));
    out->message = *message;
    if (!lurk_cbs_get_u8(&m, &type) || type != 2 || !lurk_cbs_get_u24(&m, &len) ||
        !lurk_cbs_get_bytes(&m, &body, len) || lurk_cbs_len(&m) != 0)
        return false;
    if (!lurk_cbs_get_u16(&body, &legacy_version) || legacy_version != TLS12_VERSION)
        return false;
    out->random_off = offset_in(message, &body);
    if (!lurk_cbs_get_bytes(&body, &random, LURK_TLS13_HS_RANDOM_LEN) ||
        !lurk_cbs_get_u8_prefixed(&body, &session_id) || lurk_cbs_len(&session_id) > 32 ||
        !lurk_cbs_get_u16(&body, &out->cipher_suite) || !lurk_cbs_get_u8(&body, &compression) ||
        compression != 0)
        return false;
    out->hrr = lurk_cbs_equal(&random, hrr_random, sizeof(hrr_random));
    out->extensions_len_off = offset_in(message, &body);
    if (!lurk_cbs_get_u16_prefixed(&body, &extensions) || lurk_cbs_len(&body) != 0)
        return false;
    out->extensions_len = lurk_cbs_len(&extensions);
    ext_begin(&it, &extensions);
    while (lurk_cbs_len(&it.rest) > 0) {
        if (!ext_next(&it, &ext_type, &data, &last))
            return false;
        switch (ext_type) {
        case LURK_TLS_EXT_SUPPORTED_VERSIONS: {
            uint16_t v;
            if (!lurk_cbs_get_u16(&data, &v) || lurk_cbs_len(&data) != 0)
                return false;
            out->tls13 = v == TLS13_VERSION;
            break;
        }
        case LURK_TLS_EXT_KEY_SHARE:
            out->key_share_len_off = offset_in(message, &data) - 2;
            out->key_share_len = lurk_cbs_len(&data);
            if (!lurk_cbs_get_u16(&data, &out->group))
                return false;
            if (!out->hrr) {
                out->key_exchange_len_off = offset_in(message, &data);
                if (!lurk_cbs_get_u16_prefixed(&data, &out->key_exchange))
                    return false;
            }
            if (lurk_cbs_len(&data) != 0)
                return false;
            out->has_key_share = true;
            break;
        case LURK_TLS_EXT_PRE_SHARED_KEY:
            if (out->hrr || !lurk_cbs_get_u16(&data, &out->selected_identity) ||
                lurk_cbs_len(&data) != 0)
                return false;
            out->has_psk = true;
            break;
        default:
            break;
        }
    }
    return out->tls13;
}

bool lurk_tls13_hs_parse_encrypted_extensions(const lurk_cbs *body, bool *early_data)
{
    lurk_cbs b = *body, extensions, data;
    struct ext_iter it;
    uint16_t type;
    bool last;

    *early_data = false;
    if (!lurk_cbs_get_u16_prefixed(&b, &extensions) || lurk_cbs_len(&b) != 0)
        return false;
    ext_begin(&it, &extensions);
    while (lurk_cbs_len(&it.rest) > 0) {
        if (!ext_next(&it, &type, &data, &last))
            return false;
        if (type == LURK_TLS_EXT_EARLY_DATA) {
            if (lurk_cbs_len(&data) != 0)
                return false;
            *early_data = true;
        }
    }
    return true;
}

bool lurk_tls13_hs_parse_certificate_request(const lurk_cbs *body, lurk_cbs *context,
                                             lurk_cbs *sig_algs)
{
    lurk_cbs b = *body, extensions, data;
    struct ext_iter it;
    uint16_t type;
    bool last, have_sig_algs = false;

    if (!lurk_cbs_get_u8_prefixed(&b, context) || !lurk_cbs_get_u16_prefixed(&b, &extensions) ||
        lurk_cbs_len(&b) != 0)
        return false;
    ext_begin(&it, &extensions);
    while (lurk_cbs_len(&it.rest) > 0) {
        if (!ext_next(&it, &type, &data, &last))
            return false;
        if (type == LURK_TLS_EXT_SIGNATURE_ALGORITHMS) {
            if (!lurk_cbs_get_u16_prefixed(&data, sig_algs) || lurk_cbs_len(&data) != 0 ||
                lurk_cbs_len(sig_algs) < 2 || lurk_cbs_len(sig_algs) % 2 != 0)
                return false;
            have_sig_algs = true;
        }
    }
    /* RFC 8446 §4.3.2: "The "signature_algorithms" extension MUST be specified". */
    return have_sig_algs;
}

bool lurk_tls13_hs_parse_certificate(const lurk_cbs *body, bool *empty)
{
    lurk_cbs b = *body, context, list, cert, ext;

    if (!lurk_cbs_get_u8_prefixed(&b, &context) || !lurk_cbs_get_u24_prefixed(&b, &list) ||
        lurk_cbs_len(&b) != 0)
        return false;
    *empty = lurk_cbs_len(&list) == 0;
    while (lurk_cbs_len(&list) > 0)
        if (!lurk_cbs_get_u24_prefixed(&list, &cert) || lurk_cbs_len(&cert) == 0 ||
            !lurk_cbs_get_u16_prefixed(&list, &ext))
            return false;
    return true;
}

bool lurk_tls13_hs_ticket_max_early_data(const lurk_cbs *extensions, uint32_t *max)
{
    struct ext_iter it;
    lurk_cbs data;
    uint16_t type;
    bool last;

    *max = 0;
    ext_begin(&it, extensions);
    while (lurk_cbs_len(&it.rest) > 0) {
        if (!ext_next(&it, &type, &data, &last))
            return false;
        if (type == LURK_TLS_EXT_EARLY_DATA &&
            (!lurk_cbs_get_u32(&data, max) || lurk_cbs_len(&data) != 0))
            return false;
    }
    return true;
}

bool lurk_tls13_hs_client_key_share(const struct lurk_tls13_hs_client_hello *ch, uint16_t group,
                                    lurk_cbs *key_exchange)
{
    lurk_cbs list = ch->key_shares;
    uint16_t g;

    while (lurk_cbs_len(&list) > 0) {
        if (!lurk_cbs_get_u16(&list, &g) || !lurk_cbs_get_u16_prefixed(&list, key_exchange))
            return false;
        if (g == group)
            return true;
    }
    return false;
}

int lurk_tls13_hs_client_psk_index(const struct lurk_tls13_hs_client_hello *ch,
                                   const lurk_cbs *identity, uint32_t *obfuscated_ticket_age)
{
    lurk_cbs ids = ch->identities, id;
    uint32_t age;

    for (int i = 0; lurk_cbs_len(&ids) > 0 && i < 0xffff; i++) {
        if (!lurk_cbs_get_u16_prefixed(&ids, &id) || !lurk_cbs_get_u32(&ids, &age))
            return -1;
        if (lurk_cbs_equal(&id, lurk_cbs_data(identity), lurk_cbs_len(identity))) {
            *obfuscated_ticket_age = age;
            return i;
        }
    }
    return -1;
}

bool lurk_tls13_hs_client_psk_binder(const struct lurk_tls13_hs_client_hello *ch, unsigned index,
                                     lurk_cbs *binder)
{
    lurk_cbs binders = ch->binders;

    for (unsigned i = 0; lurk_cbs_get_u8_prefixed(&binders, binder); i++)
        if (i == index)
            return true;
    return false;
}

bool lurk_tls13_hs_scheme_listed(const lurk_cbs *sig_algs, uint16_t scheme)
{
    lurk_cbs l = *sig_algs;
    uint16_t s;

    while (lurk_cbs_get_u16(&l, &s))
        if (s == scheme)
            return true;
    return false;
}

static void put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

bool lurk_tls13_hs_server_hello_fill_share(const struct lurk_tls13_hs_server_hello *sh,
                                           const uint8_t *share, size_t share_len, uint8_t *out,
                                           size_t cap, size_t *out_len)
{
    const uint8_t *m = lurk_cbs_data(&sh->message);
    size_t len = lurk_cbs_len(&sh->message), at = sh->key_exchange_len_off + 2;
    size_t body_len = len - 4 + share_len;

    /* The parser recorded each length and where it is: rewrite them, copy the rest. */
    if (!sh->has_key_share || sh->hrr || lurk_cbs_len(&sh->key_exchange) != 0 ||
        len + share_len > cap || body_len > 0xffffff || sh->extensions_len + share_len > 0xffff)
        return false;
    memcpy(out, m, at);
    memcpy(out + at, share, share_len);
    memcpy(out + at + share_len, m + at, len - at);
    out[1] = (uint8_t)(body_len >> 16);
    out[2] = (uint8_t)(body_len >> 8);
    out[3] = (uint8_t)body_len;
    put_u16(out + sh->extensions_len_off, sh->extensions_len + share_len);
    put_u16(out + sh->key_share_len_off, sh->key_share_len + share_len);
    put_u16(out + sh->key_exchange_len_off, share_len);
    *out_len = len + share_len;
    return true;
}
