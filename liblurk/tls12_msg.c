/*
 * Designation "tls12" payload codecs; see tls12.h and docs/protocol.md
 * ("Designation tls12") for the byte layouts they implement.
 *
 * Decoders read every byte through a lurk_cbs and check fields in wire
 * order, so the first problem in the payload decides the status. Encoders
 * check the struct against the same rules before writing: what they accept
 * the decoders accept, and decoding gives back the struct.
 */
#include "lurk/tls12.h"

#include <string.h>

/* opaque<1..2^8-1> (ECPoint, RFC 8422 §5.4) and the <0..255> lists (-05 §7.2). */
#define U8_VECTOR_MAX 0xff
/* opaque<..2^16-1>: ecdhe signature (pinned) and rsa_premaster's encrypted_premaster. */
#define U16_VECTOR_MAX 0xffff
/* opaque<1..2^24-1>: TypedCertificate data and the pinned typed_certificate_list prefix. */
#define U24_VECTOR_MAX 0xffffff

static bool refuse(lurk_cbb *cbb)
{
    /* Same sticky failure as a write that does not fit (bytes.h). */
    cbb->failed = true;
    return false;
}

static bool key_id_type_known(uint8_t v)
{
    return v == LURK_KEY_ID_TYPE_SHA256_32;
}

static bool freshness_known(uint8_t v)
{
    return v == LURK_FRESHNESS_SHA256 || v == LURK_FRESHNESS_NULL;
}

static bool prf_hash_known(uint8_t v)
{
    return v == LURK_PRF_HASH_SHA256 || v == LURK_PRF_HASH_SHA384 || v == LURK_PRF_HASH_SHA512;
}

static bool poo_prf_known(uint8_t v)
{
    return v == LURK_POO_PRF_NULL || v == LURK_POO_PRF_SHA256_128 || v == LURK_POO_PRF_SHA256_256;
}

static bool certificate_type_known(uint8_t v)
{
    return v == LURK_CERTIFICATE_TYPE_X509 || v == LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY;
}

static bool is_rsa_type(uint8_t type)
{
    return type == LURK_TLS12_TYPE_RSA_MASTER || type == LURK_TLS12_TYPE_RSA_MASTER_WITH_POH ||
           type == LURK_TLS12_TYPE_RSA_EXTENDED_MASTER ||
           type == LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH ||
           type == LURK_TLS12_TYPE_RSA_PREMASTER;
}

/*
 * Records with the TLS12ECDHECapability body: ecdhe, and the project's
 * client_certificate_verify, whose sig_and_hash_list and ecdsa_curves_list
 * say what lurkd signs with (docs/protocol.md).
 */
static bool is_ecdhe_body_type(uint8_t type)
{
    return type == LURK_TLS12_TYPE_ECDHE || type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY;
}

/* A list of this profile's own one-byte enums: every entry must be a known value. */
static bool enum_list_ok(const lurk_cbs *list, bool (*known)(uint8_t))
{
    lurk_cbs l = *list;
    uint8_t v;

    if (lurk_cbs_len(&l) > U8_VECTOR_MAX)
        return false;
    while (lurk_cbs_get_u8(&l, &v))
        if (!known(v))
            return false;
    return true;
}

/* A list of uint16 TLS code points (<0..255> bytes): whole entries, any value. */
static bool u16_list_ok(const lurk_cbs *list)
{
    return lurk_cbs_len(list) <= U8_VECTOR_MAX && lurk_cbs_len(list) % 2 == 0;
}

static bool typed_certificate_list_ok(const lurk_cbs *list)
{
    lurk_cbs l = *list;
    struct lurk_tls12_typed_certificate c;

    if (lurk_cbs_len(&l) > U24_VECTOR_MAX)
        return false;
    while (lurk_tls12_typed_certificate_next(&l, &c))
        ;
    /* next stops at the end or at the first malformed entry. */
    return lurk_cbs_len(&l) == 0;
}

bool lurk_tls12_typed_certificate_next(lurk_cbs *list, struct lurk_tls12_typed_certificate *out)
{
    lurk_cbs l = *list;

    /* certificate_type(1) then opaque<1..2^24-1> for both X509 and RawPublicKey (-05 §7.2). */
    if (!lurk_cbs_get_u8(&l, &out->certificate_type) ||
        !certificate_type_known(out->certificate_type) ||
        !lurk_cbs_get_u24_prefixed(&l, &out->data) || lurk_cbs_len(&out->data) == 0)
        return false;
    *list = l;
    return true;
}

bool lurk_tls12_typed_certificate_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_typed_certificate *in)
{
    if (!certificate_type_known(in->certificate_type) || lurk_cbs_len(&in->data) == 0 ||
        lurk_cbs_len(&in->data) > U24_VECTOR_MAX)
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, in->certificate_type);
    lurk_cbb_add_prefixed(cbb, 3, lurk_cbs_data(&in->data), lurk_cbs_len(&in->data));
    return lurk_cbb_ok(cbb);
}

/*
 * KeyPairID (-05 §4.1): the type says how long the data is, so an unknown
 * type is answered before the data is looked at (§4.4 step 1).
 */
uint8_t lurk_key_id_decode(lurk_cbs *cbs, struct lurk_key_id *out)
{
    if (!lurk_cbs_get_u8(cbs, &out->type))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (!key_id_type_known(out->type))
        return LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE;
    if (!lurk_cbs_copy_bytes(cbs, out->id, LURK_KEY_ID_LEN))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_key_id_encode(lurk_cbb *cbb, const struct lurk_key_id *in)
{
    if (!key_id_type_known(in->type))
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, in->type);
    lurk_cbb_add_bytes(cbb, in->id, LURK_KEY_ID_LEN);
    return lurk_cbb_ok(cbb);
}

/* FreshnessFunct (-05 §4.1, plus the pinned null): §4.4 step 2. */
static uint8_t freshness_decode(lurk_cbs *cbs, uint8_t *out)
{
    if (!lurk_cbs_get_u8(cbs, out))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (!freshness_known(*out))
        return LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT;
    return LURK_STATUS_SUCCESS;
}

/* key_id then freshness_funct: the common head of every key-using request. */
static uint8_t head_decode(lurk_cbs *cbs, struct lurk_key_id *key_id, uint8_t *freshness)
{
    uint8_t st = lurk_key_id_decode(cbs, key_id);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    return freshness_decode(cbs, freshness);
}

static bool head_encode(lurk_cbb *cbb, const struct lurk_key_id *key_id, uint8_t freshness)
{
    if (!freshness_known(freshness))
        return refuse(cbb);
    return lurk_key_id_encode(cbb, key_id) && lurk_cbb_add_u8(cbb, freshness);
}

static uint8_t randoms_decode(lurk_cbs *cbs, uint8_t *client_random, uint8_t *server_random)
{
    if (!lurk_cbs_copy_bytes(cbs, client_random, LURK_RANDOM_LEN) ||
        !lurk_cbs_copy_bytes(cbs, server_random, LURK_RANDOM_LEN))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

/* A fixed-size secret that must be the whole payload (master, premaster). */
static uint8_t fixed_decode(const lurk_cbs *payload, uint8_t *out, size_t len)
{
    lurk_cbs in = *payload;

    if (lurk_cbs_len(&in) != len || !lurk_cbs_copy_bytes(&in, out, len))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

uint8_t lurk_tls12_rsa_master_request_decode(const lurk_cbs *payload,
                                             struct lurk_tls12_rsa_master_request *out)
{
    lurk_cbs in = *payload;
    uint8_t st;

    memset(out, 0, sizeof(*out));
    st = head_decode(&in, &out->key_id, &out->freshness_funct);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    if (!lurk_cbs_get_u8(&in, &out->prf_hash))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (!prf_hash_known(out->prf_hash))
        return LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH;
    st = randoms_decode(&in, out->client_random, out->server_random);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /*
     * EncryptedPreMasterSecret: the rest of the payload, raw (pinned). Its
     * length against the RSA modulus is the daemon's check (§4.4 step 6).
     */
    if (lurk_cbs_len(&in) == 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    out->encrypted_premaster = in;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_rsa_master_request_encode(lurk_cbb *cbb,
                                          const struct lurk_tls12_rsa_master_request *in)
{
    if (!prf_hash_known(in->prf_hash) || lurk_cbs_len(&in->encrypted_premaster) == 0)
        return refuse(cbb);
    head_encode(cbb, &in->key_id, in->freshness_funct);
    lurk_cbb_add_u8(cbb, in->prf_hash);
    lurk_cbb_add_bytes(cbb, in->client_random, LURK_RANDOM_LEN);
    lurk_cbb_add_bytes(cbb, in->server_random, LURK_RANDOM_LEN);
    lurk_cbb_add_cbs(cbb, &in->encrypted_premaster);
    return lurk_cbb_ok(cbb);
}

static bool handshake_messages_len_ok(size_t len)
{
    return len >= LURK_TLS12_HANDSHAKE_MESSAGES_MIN && len <= LURK_TLS12_HANDSHAKE_MESSAGES_MAX;
}

uint8_t lurk_tls12_handshake_request_decode(uint8_t type, const lurk_cbs *payload,
                                            struct lurk_tls12_handshake_request *out)
{
    lurk_cbs in = *payload;
    uint8_t st;

    memset(out, 0, sizeof(*out));
    if (type != LURK_TLS12_TYPE_RSA_MASTER_WITH_POH &&
        type != LURK_TLS12_TYPE_RSA_EXTENDED_MASTER &&
        type != LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH)
        return LURK_TLS12_STATUS_UNDEFINED_ERROR; /* the caller's mistake, not the peer's */
    st = head_decode(&in, &out->key_id, &out->freshness_funct);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /* handshake_messages<2..2^16-2> (-05 §4.1, §5.1). */
    if (!lurk_cbs_get_u16_prefixed(&in, &out->handshake_messages) ||
        !handshake_messages_len_ok(lurk_cbs_len(&out->handshake_messages)))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    /* Finished = the 12 bytes of verify_data, no handshake header (pinned). */
    out->has_finished = type != LURK_TLS12_TYPE_RSA_EXTENDED_MASTER;
    if (out->has_finished && !lurk_cbs_copy_bytes(&in, out->finished, LURK_FINISHED_LEN))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (lurk_cbs_len(&in) != 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_handshake_request_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_handshake_request *in)
{
    if (!handshake_messages_len_ok(lurk_cbs_len(&in->handshake_messages)))
        return refuse(cbb);
    head_encode(cbb, &in->key_id, in->freshness_funct);
    lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->handshake_messages),
                          lurk_cbs_len(&in->handshake_messages));
    if (in->has_finished)
        lurk_cbb_add_bytes(cbb, in->finished, LURK_FINISHED_LEN);
    return lurk_cbb_ok(cbb);
}

/* opaque master[0..47]: exactly 48 bytes (-05 §4.2). */
uint8_t lurk_tls12_master_response_decode(const lurk_cbs *payload,
                                          struct lurk_tls12_master_response *out)
{
    memset(out, 0, sizeof(*out));
    return fixed_decode(payload, out->master, LURK_MASTER_LEN);
}

bool lurk_tls12_master_response_encode(lurk_cbb *cbb, const struct lurk_tls12_master_response *in)
{
    return lurk_cbb_add_bytes(cbb, in->master, LURK_MASTER_LEN);
}

/* ServerECDHParams (RFC 8422 §5.4): the ECParameters check is -05 §6.4 step 2. */
uint8_t lurk_tls12_ecdh_params_decode(lurk_cbs *cbs, struct lurk_tls12_ecdh_params *out)
{
    if (!lurk_cbs_get_u8(cbs, &out->curve_type))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (out->curve_type != LURK_EC_CURVE_TYPE_NAMED_CURVE)
        return LURK_TLS12_STATUS_INVALID_EC_TYPE;
    /* Which named curves are served is the daemon's question (invalid_ec_curve). */
    if (!lurk_cbs_get_u16(cbs, &out->named_curve) || !lurk_cbs_get_u8_prefixed(cbs, &out->point) ||
        lurk_cbs_len(&out->point) == 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

static bool ecdh_params_encode(lurk_cbb *cbb, const struct lurk_tls12_ecdh_params *in)
{
    size_t n = lurk_cbs_len(&in->point);

    if (in->curve_type != LURK_EC_CURVE_TYPE_NAMED_CURVE || n == 0 || n > U8_VECTOR_MAX)
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, in->curve_type);
    lurk_cbb_add_u16(cbb, in->named_curve);
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->point), n);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls12_ecdhe_request_decode(const lurk_cbs *payload,
                                        struct lurk_tls12_ecdhe_request *out)
{
    lurk_cbs in = *payload, params_start;
    uint8_t st;

    memset(out, 0, sizeof(*out));
    st = head_decode(&in, &out->key_id, &out->freshness_funct);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    st = randoms_decode(&in, out->client_random, out->server_random);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /* SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1): hash byte, then signature byte. */
    if (!lurk_cbs_get_u16(&in, &out->sig_and_hash))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    params_start = in;
    st = lurk_tls12_ecdh_params_decode(&in, &out->ecdhe_params);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /* The params are signed as sent: keep a view of exactly the bytes just read. */
    lurk_cbs_get_bytes(&params_start, &out->ecdhe_params_bytes,
                       lurk_cbs_len(&params_start) - lurk_cbs_len(&in));
    /* TLS12POOParams (-05 §6.1, Schnorr): poo_prf, then vG and r unless null. */
    if (!lurk_cbs_get_u8(&in, &out->poo_prf))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    if (!poo_prf_known(out->poo_prf))
        return LURK_TLS12_STATUS_INVALID_POO_PRF;
    if (out->poo_prf == LURK_POO_PRF_NULL)
        return lurk_cbs_len(&in) == 0 ? LURK_STATUS_SUCCESS
                                      : LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    /*
     * r = v - b*c mod n is as long as the curve order, which the draft's
     * R[16]/R[32] cannot hold (pinned in protocol.md): r is the rest of the
     * payload and its length is checked against the curve with the proof.
     */
    if (!lurk_cbs_get_u8_prefixed(&in, &out->poo_vg) || lurk_cbs_len(&out->poo_vg) == 0 ||
        lurk_cbs_len(&in) == 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    out->poo_r = in;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_ecdhe_request_encode(lurk_cbb *cbb, const struct lurk_tls12_ecdhe_request *in)
{
    size_t params_at, vg_len = lurk_cbs_len(&in->poo_vg), r_len = lurk_cbs_len(&in->poo_r);
    lurk_cbs written;

    if (!poo_prf_known(in->poo_prf))
        return refuse(cbb);
    if (in->poo_prf == LURK_POO_PRF_NULL ? vg_len != 0 || r_len != 0
                                         : vg_len == 0 || vg_len > U8_VECTOR_MAX || r_len == 0)
        return refuse(cbb);
    head_encode(cbb, &in->key_id, in->freshness_funct);
    lurk_cbb_add_bytes(cbb, in->client_random, LURK_RANDOM_LEN);
    lurk_cbb_add_bytes(cbb, in->server_random, LURK_RANDOM_LEN);
    lurk_cbb_add_u16(cbb, in->sig_and_hash);
    params_at = lurk_cbb_len(cbb);
    if (!ecdh_params_encode(cbb, &in->ecdhe_params))
        return false;
    /* ecdhe_params is the source; ecdhe_params_bytes, when set, must say the same. */
    lurk_cbs_init(&written, lurk_cbb_data(cbb) + params_at, lurk_cbb_len(cbb) - params_at);
    if (lurk_cbs_len(&in->ecdhe_params_bytes) != 0 &&
        !lurk_cbs_equal(&written, lurk_cbs_data(&in->ecdhe_params_bytes),
                        lurk_cbs_len(&in->ecdhe_params_bytes)))
        return refuse(cbb);
    lurk_cbb_add_u8(cbb, in->poo_prf);
    if (in->poo_prf != LURK_POO_PRF_NULL) {
        lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(&in->poo_vg), vg_len);
        lurk_cbb_add_cbs(cbb, &in->poo_r);
    }
    return lurk_cbb_ok(cbb);
}

/* opaque signature<0..2^16-1> (pinned, as pylurk: no SignatureAndHashAlgorithm). */
uint8_t lurk_tls12_ecdhe_response_decode(const lurk_cbs *payload,
                                         struct lurk_tls12_ecdhe_response *out)
{
    lurk_cbs in = *payload;

    memset(out, 0, sizeof(*out));
    if (!lurk_cbs_get_u16_prefixed(&in, &out->signature) || lurk_cbs_len(&in) != 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_ecdhe_response_encode(lurk_cbb *cbb, const struct lurk_tls12_ecdhe_response *in)
{
    if (lurk_cbs_len(&in->signature) > U16_VECTOR_MAX)
        return refuse(cbb);
    return lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->signature),
                                 lurk_cbs_len(&in->signature));
}

/* rsa_premaster (project type 128, docs/protocol.md): no freshness, no randoms. */
uint8_t lurk_tls12_rsa_premaster_request_decode(const lurk_cbs *payload,
                                                struct lurk_tls12_rsa_premaster_request *out)
{
    lurk_cbs in = *payload;
    uint8_t st;

    memset(out, 0, sizeof(*out));
    st = lurk_key_id_decode(&in, &out->key_id);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    if (!lurk_cbs_get_u16(&in, &out->client_version) ||
        !lurk_cbs_get_u16_prefixed(&in, &out->encrypted_premaster) ||
        lurk_cbs_len(&out->encrypted_premaster) == 0 || lurk_cbs_len(&in) != 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_rsa_premaster_request_encode(lurk_cbb *cbb,
                                             const struct lurk_tls12_rsa_premaster_request *in)
{
    size_t n = lurk_cbs_len(&in->encrypted_premaster);

    if (n == 0 || n > U16_VECTOR_MAX)
        return refuse(cbb);
    lurk_key_id_encode(cbb, &in->key_id);
    lurk_cbb_add_u16(cbb, in->client_version);
    lurk_cbb_add_prefixed(cbb, 2, lurk_cbs_data(&in->encrypted_premaster), n);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls12_premaster_response_decode(const lurk_cbs *payload,
                                             struct lurk_tls12_premaster_response *out)
{
    memset(out, 0, sizeof(*out));
    return fixed_decode(payload, out->premaster, LURK_PREMASTER_LEN);
}

bool lurk_tls12_premaster_response_encode(lurk_cbb *cbb,
                                          const struct lurk_tls12_premaster_response *in)
{
    return lurk_cbb_add_bytes(cbb, in->premaster, LURK_PREMASTER_LEN);
}

/*
 * One TLS12Capability body (-05 §7.2, list prefixes pinned in protocol.md):
 * the lists of TLS12RSACapability or TLS12ECDHECapability, in order.
 */
static bool capability_body_decode(lurk_cbs *body, struct lurk_tls12_capability *cap)
{
    bool ecdhe = is_ecdhe_body_type(cap->type);

    if (!is_rsa_type(cap->type) && !ecdhe)
        return false;
    if (!lurk_cbs_get_u8_prefixed(body, &cap->key_id_type_list) ||
        !enum_list_ok(&cap->key_id_type_list, key_id_type_known) ||
        !lurk_cbs_get_u24_prefixed(body, &cap->typed_certificate_list) ||
        !typed_certificate_list_ok(&cap->typed_certificate_list) ||
        !lurk_cbs_get_u8_prefixed(body, &cap->freshness_funct_list) ||
        !enum_list_ok(&cap->freshness_funct_list, freshness_known) ||
        !lurk_cbs_get_u8_prefixed(body, &cap->cipher_suite_list) ||
        !u16_list_ok(&cap->cipher_suite_list))
        return false;
    if (!ecdhe)
        return lurk_cbs_get_u8_prefixed(body, &cap->prf_hash_list) &&
               enum_list_ok(&cap->prf_hash_list, prf_hash_known);
    return lurk_cbs_get_u8_prefixed(body, &cap->sig_and_hash_list) &&
           u16_list_ok(&cap->sig_and_hash_list) &&
           lurk_cbs_get_u8_prefixed(body, &cap->ecdsa_curves_list) &&
           u16_list_ok(&cap->ecdsa_curves_list) &&
           lurk_cbs_get_u8_prefixed(body, &cap->ecdhe_curves_list) &&
           u16_list_ok(&cap->ecdhe_curves_list) &&
           lurk_cbs_get_u8_prefixed(body, &cap->poo_prf_list) &&
           enum_list_ok(&cap->poo_prf_list, poo_prf_known);
}

uint8_t lurk_tls12_capabilities_response_decode(const lurk_cbs *payload,
                                                struct lurk_tls12_capabilities_response *out)
{
    lurk_cbs in = *payload, record;

    memset(out, 0, sizeof(*out));
    /* Records until only the 4-byte state is left; the payload length delimits them. */
    while (lurk_cbs_len(&in) > sizeof(out->state)) {
        struct lurk_tls12_capability *cap;

        if (out->n_caps == LURK_TLS12_MAX_CAPABILITIES)
            return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
        cap = &out->caps[out->n_caps];
        /* uint32 length covering type and body: they must agree exactly. */
        if (!lurk_cbs_get_u32_prefixed(&in, &record) || !lurk_cbs_get_u8(&record, &cap->type) ||
            !capability_body_decode(&record, cap) || lurk_cbs_len(&record) != 0)
            return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
        out->n_caps++;
    }
    if (out->n_caps == 0 || lurk_cbs_len(&in) != sizeof(out->state) ||
        !lurk_cbs_copy_bytes(&in, out->state, sizeof(out->state)))
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

static bool capability_ok(const struct lurk_tls12_capability *cap)
{
    bool ecdhe = is_ecdhe_body_type(cap->type);

    if (!is_rsa_type(cap->type) && !ecdhe)
        return false;
    if (!enum_list_ok(&cap->key_id_type_list, key_id_type_known) ||
        !typed_certificate_list_ok(&cap->typed_certificate_list) ||
        !enum_list_ok(&cap->freshness_funct_list, freshness_known) ||
        !u16_list_ok(&cap->cipher_suite_list))
        return false;
    /* A list the record's type does not carry would be lost: refuse it. */
    if (!ecdhe)
        return enum_list_ok(&cap->prf_hash_list, prf_hash_known) &&
               lurk_cbs_len(&cap->sig_and_hash_list) == 0 &&
               lurk_cbs_len(&cap->ecdsa_curves_list) == 0 &&
               lurk_cbs_len(&cap->ecdhe_curves_list) == 0 && lurk_cbs_len(&cap->poo_prf_list) == 0;
    return lurk_cbs_len(&cap->prf_hash_list) == 0 && u16_list_ok(&cap->sig_and_hash_list) &&
           u16_list_ok(&cap->ecdsa_curves_list) && u16_list_ok(&cap->ecdhe_curves_list) &&
           enum_list_ok(&cap->poo_prf_list, poo_prf_known);
}

static void add_u8_list(lurk_cbb *cbb, const lurk_cbs *list)
{
    lurk_cbb_add_prefixed(cbb, 1, lurk_cbs_data(list), lurk_cbs_len(list));
}

bool lurk_tls12_capabilities_response_encode(lurk_cbb *cbb,
                                             const struct lurk_tls12_capabilities_response *in)
{
    if (in->n_caps == 0 || in->n_caps > LURK_TLS12_MAX_CAPABILITIES)
        return refuse(cbb);
    for (size_t i = 0; i < in->n_caps; i++)
        if (!capability_ok(&in->caps[i]))
            return refuse(cbb);
    for (size_t i = 0; i < in->n_caps; i++) {
        const struct lurk_tls12_capability *cap = &in->caps[i];
        lurk_cbb_mark record;

        lurk_cbb_begin(cbb, &record, 4);
        lurk_cbb_add_u8(cbb, cap->type);
        add_u8_list(cbb, &cap->key_id_type_list);
        lurk_cbb_add_prefixed(cbb, 3, lurk_cbs_data(&cap->typed_certificate_list),
                              lurk_cbs_len(&cap->typed_certificate_list));
        add_u8_list(cbb, &cap->freshness_funct_list);
        add_u8_list(cbb, &cap->cipher_suite_list);
        if (is_ecdhe_body_type(cap->type)) {
            add_u8_list(cbb, &cap->sig_and_hash_list);
            add_u8_list(cbb, &cap->ecdsa_curves_list);
            add_u8_list(cbb, &cap->ecdhe_curves_list);
            add_u8_list(cbb, &cap->poo_prf_list);
        } else {
            add_u8_list(cbb, &cap->prf_hash_list);
        }
        lurk_cbb_end(cbb, &record);
    }
    lurk_cbb_add_bytes(cbb, in->state, sizeof(in->state));
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_tls12_empty_payload_decode(const lurk_cbs *payload)
{
    return lurk_cbs_len(payload) == 0 ? LURK_STATUS_SUCCESS
                                      : LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
}

const char *lurk_tls12_type_name(uint8_t type)
{
    static const char *const names[] = {
        "capabilities",
        "ping",
        "rsa_master",
        "rsa_master_with_poh",
        "rsa_extended_master",
        "rsa_extended_master_with_poh",
        "ecdhe",
    };
    if (type < sizeof(names) / sizeof(names[0]))
        return names[type];
    if (type == LURK_TLS12_TYPE_RSA_PREMASTER)
        return "rsa_premaster";
    return type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY ? "client_certificate_verify"
                                                             : "unknown";
}

const char *lurk_tls12_status_name(uint8_t status)
{
    static const char *const names[] = {
        "request",
        "success",
        "undefined_error",
        "invalid_payload_format",
        "invalid_key_id_type",
        "invalid_key_id",
        "invalid_tls_random",
        "invalid_freshness_funct",
        "invalid_encrypted_premaster",
        "invalid_finished",
        "invalid_ec_type",
        "invalid_ec_curve",
        "invalid_poo_prf",
        "invalid_poo",
        "invalid_cipher_or_prf_hash",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}

/* PRFHash (-05 §4.1) to the OpenSSL digest name the TLS 1.2 PRF is run with. */
const char *lurk_tls12_prf_hash_md_name(uint8_t prf_hash)
{
    switch (prf_hash) {
    case LURK_PRF_HASH_SHA256:
        return "SHA256";
    case LURK_PRF_HASH_SHA384:
        return "SHA384";
    case LURK_PRF_HASH_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}
