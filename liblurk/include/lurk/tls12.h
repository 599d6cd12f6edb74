/*
 * Designation "tls12", version 1: draft-mglt-lurk-tls12 with the exchanges of
 * -01 and the type numbers and payloads of -05 (pinned, docs/architecture.md §3,
 * docs/protocol.md "tls12").
 *
 * Decoders take the payload of a message and fill a struct whose variable
 * parts are views into that payload (no allocation). They return
 * LURK_STATUS_SUCCESS or the TLS12Status the server must answer with.
 * Encoders append to a lurk_cbb and return false if it failed.
 * An encoder also refuses (returns false and leaves the builder failed) a
 * struct its decoder would not accept, so whatever it writes decodes back to
 * the same struct.
 */
#ifndef LURK_TLS12_H
#define LURK_TLS12_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "lurk/header.h"

/*
 * TLS12Type (-05 §3), plus the project's rsa_premaster and
 * client_certificate_verify in the private range (docs/protocol.md).
 */
enum lurk_tls12_type {
    LURK_TLS12_TYPE_CAPABILITIES = 0,
    LURK_TLS12_TYPE_PING = 1,
    LURK_TLS12_TYPE_RSA_MASTER = 2,
    LURK_TLS12_TYPE_RSA_MASTER_WITH_POH = 3,
    LURK_TLS12_TYPE_RSA_EXTENDED_MASTER = 4,
    LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH = 5,
    LURK_TLS12_TYPE_ECDHE = 6,
    LURK_TLS12_TYPE_RSA_PREMASTER = 128,
    LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY = 129,
};

/* TLS12Status (-05 §3; 14 from -02 onward). */
enum lurk_tls12_status {
    LURK_TLS12_STATUS_UNDEFINED_ERROR = 2,
    LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT = 3,
    LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE = 4,
    LURK_TLS12_STATUS_INVALID_KEY_ID = 5,
    LURK_TLS12_STATUS_INVALID_TLS_RANDOM = 6,
    LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT = 7,
    LURK_TLS12_STATUS_INVALID_ENCRYPTED_PREMASTER = 8,
    LURK_TLS12_STATUS_INVALID_FINISHED = 9,
    LURK_TLS12_STATUS_INVALID_EC_TYPE = 10,
    LURK_TLS12_STATUS_INVALID_EC_CURVE = 11,
    LURK_TLS12_STATUS_INVALID_POO_PRF = 12,
    LURK_TLS12_STATUS_INVALID_POO = 13,
    LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH = 14,
};

/* KeyPairIdType (-05 §4.1). */
enum lurk_key_id_type {
    LURK_KEY_ID_TYPE_SHA256_32 = 0,
};

/* FreshnessFunct (-05 §4.1); null (255) is the project's, pinned in protocol.md. */
enum lurk_freshness_funct {
    LURK_FRESHNESS_SHA256 = 0,
    LURK_FRESHNESS_NULL = 255,
};

/* PRFHash (-05 §4.1). */
enum lurk_prf_hash {
    LURK_PRF_HASH_SHA256 = 0,
    LURK_PRF_HASH_SHA384 = 1,
    LURK_PRF_HASH_SHA512 = 2,
};

/* POOPRF (-05 §6.1). */
enum lurk_poo_prf {
    LURK_POO_PRF_NULL = 0,
    LURK_POO_PRF_SHA256_128 = 1,
    LURK_POO_PRF_SHA256_256 = 2,
};

/* ECCurveType (RFC 8422 §5.4): only named_curve is accepted. */
#define LURK_EC_CURVE_TYPE_NAMED_CURVE 3

/* CertificateType (RFC 7250 §3) for TypedCertificate. */
enum lurk_certificate_type {
    LURK_CERTIFICATE_TYPE_X509 = 0,
    LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY = 2,
};

#define LURK_KEY_ID_LEN    4
#define LURK_RANDOM_LEN    32
#define LURK_MASTER_LEN    48
#define LURK_PREMASTER_LEN 48
#define LURK_FINISHED_LEN  12

/* handshake_messages<2..2^16-2> of types 3, 4 and 5 (-05 §4.1, §5.1). */
#define LURK_TLS12_HANDSHAKE_MESSAGES_MIN 2
#define LURK_TLS12_HANDSHAKE_MESSAGES_MAX 0xfffe

/* KeyPairID: type(1) + data whose length the type gives (4 for sha256_32). */
struct lurk_key_id {
    uint8_t type;
    uint8_t id[LURK_KEY_ID_LEN];
};

/* rsa_master request (-05 §4.1). */
struct lurk_tls12_rsa_master_request {
    struct lurk_key_id key_id;
    uint8_t freshness_funct;
    uint8_t prf_hash;
    uint8_t client_random[LURK_RANDOM_LEN];
    uint8_t server_random[LURK_RANDOM_LEN];
    /* Pinned: the rest of the payload, no length prefix (see protocol.md). */
    lurk_cbs encrypted_premaster;
};

/*
 * rsa_master_with_poh (3), rsa_extended_master (4) and
 * rsa_extended_master_with_poh (5) requests (-05 §4.1, §5.1): key_id,
 * freshness_funct, handshake_messages<2..2^16-2>, and for the _with_poh
 * types the client Finished verify_data (12 bytes, no handshake header).
 */
struct lurk_tls12_handshake_request {
    struct lurk_key_id key_id;
    uint8_t freshness_funct;
    lurk_cbs handshake_messages;
    bool has_finished;
    uint8_t finished[LURK_FINISHED_LEN];
};

/* Response of types 2..5: the 48-byte master secret (-05 §4.2). */
struct lurk_tls12_master_response {
    uint8_t master[LURK_MASTER_LEN];
};

/* ServerECDHParams (RFC 8422 §5.4), named_curve only. */
struct lurk_tls12_ecdh_params {
    uint8_t curve_type;
    uint16_t named_curve;
    lurk_cbs point; /* ECPoint, opaque point<1..2^8-1> */
};

/* ecdhe request (-05 §6.1). */
struct lurk_tls12_ecdhe_request {
    struct lurk_key_id key_id;
    uint8_t freshness_funct;
    uint8_t client_random[LURK_RANDOM_LEN];
    uint8_t server_random[LURK_RANDOM_LEN];
    uint16_t sig_and_hash;       /* SignatureAndHashAlgorithm: hash << 8 | signature */
    lurk_cbs ecdhe_params_bytes; /* the ServerECDHParams exactly as sent (they are signed) */
    /*
     * Encoding writes ecdhe_params; ecdhe_params_bytes may be left empty, and
     * if it is set it must equal that encoding (else the encoder refuses).
     */
    struct lurk_tls12_ecdh_params ecdhe_params;
    uint8_t poo_prf;
    lurk_cbs poo_vg; /* ECPoint vG (1-byte length), Schnorr PoO only */
    /*
     * r, Schnorr PoO only: the rest of the payload, as long as the curve
     * order (pinned in protocol.md; the draft's R[16]/R[32] cannot hold it).
     */
    lurk_cbs poo_r;
};

/* ecdhe response (-05 §6.2, pinned): opaque signature<0..2^16-1>. */
struct lurk_tls12_ecdhe_response {
    lurk_cbs signature;
};

/*
 * rsa_premaster request (project type 128, protocol.md): key_id,
 * client_version (the ClientHello's, for the version check of RFC 5246
 * §7.4.7.1), opaque encrypted_premaster<1..2^16-1>.
 */
struct lurk_tls12_rsa_premaster_request {
    struct lurk_key_id key_id;
    uint16_t client_version;
    lurk_cbs encrypted_premaster;
};

/* rsa_premaster response: the 48-byte premaster secret. */
struct lurk_tls12_premaster_response {
    uint8_t premaster[LURK_PREMASTER_LEN];
};

/*
 * capabilities response (-05 §7.2, pinned list format in protocol.md): a
 * sequence of TLS12Capability records (uint32 length covering type and body,
 * TLS12Type, body) followed by a 4-byte state. Lists are views; iterate them
 * with the lurk_tls12_*_next helpers.
 */
#define LURK_TLS12_MAX_CAPABILITIES 8

struct lurk_tls12_capability {
    uint8_t type;
    lurk_cbs key_id_type_list;       /* KeyPairIdType, 1 byte each */
    lurk_cbs typed_certificate_list; /* TypedCertificate, see below */
    lurk_cbs freshness_funct_list;   /* 1 byte each */
    lurk_cbs cipher_suite_list;      /* uint16 each */
    /* RSA types (2..5, 128) */
    lurk_cbs prf_hash_list; /* 1 byte each */
    /* ecdhe (6) */
    lurk_cbs sig_and_hash_list; /* uint16 each */
    lurk_cbs ecdsa_curves_list; /* uint16 each */
    lurk_cbs ecdhe_curves_list; /* uint16 each */
    lurk_cbs poo_prf_list;      /* 1 byte each */
};

struct lurk_tls12_capabilities_response {
    struct lurk_tls12_capability caps[LURK_TLS12_MAX_CAPABILITIES];
    size_t n_caps;
    uint8_t state[4];
};

/* TypedCertificate: certificate_type(1) opaque data<1..2^24-1>. */
struct lurk_tls12_typed_certificate {
    uint8_t certificate_type;
    lurk_cbs data;
};
/*
 * Iterates a typed_certificate_list; false at the end or on malformed input
 * (then list is left at the entry that failed, so a non-empty list after the
 * last call means malformed). Certificate types other than X509 and
 * RawPublicKey, and empty data, are malformed.
 */
bool lurk_tls12_typed_certificate_next(lurk_cbs *list, struct lurk_tls12_typed_certificate *out);
bool lurk_tls12_typed_certificate_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_typed_certificate *in);

uint8_t lurk_key_id_decode(lurk_cbs *cbs, struct lurk_key_id *out);
bool lurk_key_id_encode(lurk_cbb *cbb, const struct lurk_key_id *in);
/* Parses ServerECDHParams from the front of cbs; named_curve only. */
uint8_t lurk_tls12_ecdh_params_decode(lurk_cbs *cbs, struct lurk_tls12_ecdh_params *out);

uint8_t lurk_tls12_rsa_master_request_decode(const lurk_cbs *payload,
                                             struct lurk_tls12_rsa_master_request *out);
bool lurk_tls12_rsa_master_request_encode(lurk_cbb *cbb,
                                          const struct lurk_tls12_rsa_master_request *in);
/*
 * type is 3, 4 or 5; it says whether a Finished follows (any other type is
 * the caller's error: LURK_TLS12_STATUS_UNDEFINED_ERROR). The encoder writes
 * the Finished when has_finished is set.
 */
uint8_t lurk_tls12_handshake_request_decode(uint8_t type, const lurk_cbs *payload,
                                            struct lurk_tls12_handshake_request *out);
bool lurk_tls12_handshake_request_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_handshake_request *in);
uint8_t lurk_tls12_master_response_decode(const lurk_cbs *payload,
                                          struct lurk_tls12_master_response *out);
bool lurk_tls12_master_response_encode(lurk_cbb *cbb, const struct lurk_tls12_master_response *in);
uint8_t lurk_tls12_ecdhe_request_decode(const lurk_cbs *payload,
                                        struct lurk_tls12_ecdhe_request *out);
bool lurk_tls12_ecdhe_request_encode(lurk_cbb *cbb, const struct lurk_tls12_ecdhe_request *in);
uint8_t lurk_tls12_ecdhe_response_decode(const lurk_cbs *payload,
                                         struct lurk_tls12_ecdhe_response *out);
bool lurk_tls12_ecdhe_response_encode(lurk_cbb *cbb, const struct lurk_tls12_ecdhe_response *in);
uint8_t lurk_tls12_rsa_premaster_request_decode(const lurk_cbs *payload,
                                                struct lurk_tls12_rsa_premaster_request *out);
bool lurk_tls12_rsa_premaster_request_encode(lurk_cbb *cbb,
                                             const struct lurk_tls12_rsa_premaster_request *in);
uint8_t lurk_tls12_premaster_response_decode(const lurk_cbs *payload,
                                             struct lurk_tls12_premaster_response *out);
bool lurk_tls12_premaster_response_encode(lurk_cbb *cbb,
                                          const struct lurk_tls12_premaster_response *in);
uint8_t lurk_tls12_capabilities_response_decode(const lurk_cbs *payload,
                                                struct lurk_tls12_capabilities_response *out);
bool lurk_tls12_capabilities_response_encode(lurk_cbb *cbb,
                                             const struct lurk_tls12_capabilities_response *in);

/* Ping and capabilities requests, and ping responses, are empty. */
uint8_t lurk_tls12_empty_payload_decode(const lurk_cbs *payload);

const char *lurk_tls12_type_name(uint8_t type);
const char *lurk_tls12_status_name(uint8_t status);
/* SHA-256 -> "SHA256" etc., NULL for an unknown prf_hash. */
const char *lurk_tls12_prf_hash_md_name(uint8_t prf_hash);

#endif
