/*
 * Designation "tls13", version 1: draft-mglt-lurk-tls13-01 (pinned,
 * docs/architecture.md §3, docs/protocol.md "tls13").
 *
 * Decoders take the payload of a message (or, for the sub-structures, the
 * front of a reader) and fill a struct whose variable parts are views into
 * that payload: nothing is allocated and every list has a fixed maximum.
 * They check fields in wire order and return LURK_STATUS_SUCCESS or the
 * first TLS13Status the server must answer with. Encoders append exactly
 * what the decoders read (decode then encode gives the input back) and
 * return false when the cbb failed; like tls12's, they refuse a struct their
 * decoder would not accept (false, and the cbb is left failed).
 *
 * Semantic rules that need state or keys (session, cookie, key existence,
 * handshake contents) belong to lurkd; the per-exchange tables of the draft
 * (Figures 3, 5-8) are exported here as data with checker functions.
 */
#ifndef LURK_TLS13_H
#define LURK_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/tls12.h"

/* TLS13Type (-01 §2), plus the project's sign_certificate_verify. */
enum lurk_tls13_type {
    LURK_TLS13_TYPE_CAPABILITIES = 0,
    LURK_TLS13_TYPE_PING = 1,
    LURK_TLS13_TYPE_BINDER_KEY = 2,
    LURK_TLS13_TYPE_EARLY_SECRET = 3,
    LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET = 4,
    LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET = 5,
    LURK_TLS13_TYPE_HANDSHAKE_SECRET = 6,
    LURK_TLS13_TYPE_APP_SECRET = 7,
    LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY = 8,
    LURK_TLS13_TYPE_CERTIFICATE_VERIFY = 9,
    LURK_TLS13_TYPE_POST_HANDSHAKE = 10,
    LURK_TLS13_TYPE_NEW_SESSION_TICKET = 11,
    LURK_TLS13_TYPE_REGISTER_SESSION_TICKET = 12,
    LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY = 128,
};

/* TLS13Status (-01 §2): the draft gives names only; numbered 4..19 in order. */
enum lurk_tls13_status {
    LURK_TLS13_STATUS_UNDEFINED_ERROR = 2,
    LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT = 3,
    LURK_TLS13_STATUS_INVALID_PSK = 4,
    LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT = 5,
    LURK_TLS13_STATUS_INVALID_H_OPAQUE = 6,
    LURK_TLS13_STATUS_INVALID_CTX_TYPE = 7,
    LURK_TLS13_STATUS_INVALID_REQUEST = 8,
    LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE = 9,
    LURK_TLS13_STATUS_INVALID_KEY_ID = 10,
    LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME = 11,
    LURK_TLS13_STATUS_INVALID_CERTIFICATE_TYPE = 12,
    LURK_TLS13_STATUS_INVALID_CERTIFICATE = 13,
    LURK_TLS13_STATUS_INVALID_CERTIFICATE_VERIFY = 14,
    LURK_TLS13_STATUS_INVALID_KEY_REQUEST = 15,
    LURK_TLS13_STATUS_INVALID_HANDSHAKE = 16,
    LURK_TLS13_STATUS_INVALID_EXTENSION = 17,
    LURK_TLS13_STATUS_INVALID_EPHEMERAL = 18,
    LURK_TLS13_STATUS_INVALID_COOKIE_H = 19,
};

/*
 * Which end of TLS the Cryptographic Service works for (-01 §3, Figure 1).
 * Type 3 (early_secret) exists for both with different rules, so the tables
 * below are keyed by (type, role). The values are also the role byte of
 * sign_certificate_verify (protocol.md, pinned).
 */
enum lurk_tls13_role {
    LURK_TLS13_ROLE_SERVER = 0,
    LURK_TLS13_ROLE_CLIENT = 1,
};

/*
 * key_request (-01 §3.1, Figure 2): bit 0 is the most significant bit of the
 * uint16 (pinned, MSB-first as in IETF bit numbering and pylurk). Bits 9-15
 * are reserved and must be zero.
 */
#define LURK_TLS13_KR_B        0x8000 /* binder_key */
#define LURK_TLS13_KR_E_S      0x4000 /* client_early_traffic_secret ("e_c" in Figure 3) */
#define LURK_TLS13_KR_E_X      0x2000 /* early_exporter_master_secret */
#define LURK_TLS13_KR_H_C      0x1000 /* client_handshake_traffic_secret */
#define LURK_TLS13_KR_H_S      0x0800 /* server_handshake_traffic_secret */
#define LURK_TLS13_KR_A_C      0x0400 /* client_application_traffic_secret_0 */
#define LURK_TLS13_KR_A_S      0x0200 /* server_application_traffic_secret_0 */
#define LURK_TLS13_KR_X        0x0100 /* exporter_master_secret */
#define LURK_TLS13_KR_R        0x0080 /* resumption_master_secret */
#define LURK_TLS13_KR_RESERVED 0x007f
/* The key_request bit of a SecretType: SecretType t is bit t of Figure 2. */
#define LURK_TLS13_KR_BIT(secret_type) ((uint16_t)(0x8000u >> (secret_type)))

/* SecretType (-01 §3.2); the draft's "esumption_master_secret" is a typo. */
enum lurk_tls13_secret_type {
    LURK_TLS13_SECRET_BINDER_KEY = 0,
    LURK_TLS13_SECRET_CLIENT_EARLY_TRAFFIC_SECRET = 1,
    LURK_TLS13_SECRET_EARLY_EXPORTER_MASTER_SECRET = 2,
    LURK_TLS13_SECRET_CLIENT_HANDSHAKE_TRAFFIC_SECRET = 3,
    LURK_TLS13_SECRET_SERVER_HANDSHAKE_TRAFFIC_SECRET = 4,
    LURK_TLS13_SECRET_CLIENT_APPLICATION_TRAFFIC_SECRET_0 = 5,
    LURK_TLS13_SECRET_SERVER_APPLICATION_TRAFFIC_SECRET_0 = 6,
    LURK_TLS13_SECRET_EXPORTER_MASTER_SECRET = 7,
    LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET = 8,
};

/* ExtensionType (-01 §3.4). */
enum lurk_tls13_extension_type {
    LURK_TLS13_EXT_PSK_ID = 1,
    LURK_TLS13_EXT_EPHEMERAL = 2,
    LURK_TLS13_EXT_FRESHNESS = 3,
};

/* EphemeralData.method (-01 §3.4.1). */
enum lurk_tls13_ephemeral_method {
    LURK_TLS13_EPHEMERAL_SECRET_PROVIDED = 0,
    LURK_TLS13_EPHEMERAL_SECRET_GENERATED = 1,
};

/* LURKCertificateType (-01 §3.6). */
enum lurk_tls13_lurk_certificate_type {
    LURK_TLS13_LURK_CERTIFICATE_TLS13 = 0,
    LURK_TLS13_LURK_CERTIFICATE_SHA256_32 = 1,
};

/* HandshakeType (RFC 8446 §4), for walking a handshake_context. */
enum lurk_tls13_handshake_type {
    LURK_TLS13_HS_CLIENT_HELLO = 1,
    LURK_TLS13_HS_SERVER_HELLO = 2,
    LURK_TLS13_HS_NEW_SESSION_TICKET = 4,
    LURK_TLS13_HS_END_OF_EARLY_DATA = 5,
    LURK_TLS13_HS_ENCRYPTED_EXTENSIONS = 8,
    LURK_TLS13_HS_CERTIFICATE = 11,
    LURK_TLS13_HS_CERTIFICATE_REQUEST = 13,
    LURK_TLS13_HS_CERTIFICATE_VERIFY = 15,
    LURK_TLS13_HS_FINISHED = 20,
    LURK_TLS13_HS_KEY_UPDATE = 24,
    LURK_TLS13_HS_MESSAGE_HASH = 254,
};

/* Fixed maxima of decoded lists (pinned, protocol.md); more is invalid_payload_format. */
#define LURK_TLS13_MAX_SECRETS    9  /* one per SecretType */
#define LURK_TLS13_MAX_EXTENSIONS 3  /* one per ExtensionType */
#define LURK_TLS13_MAX_TICKETS    16 /* NewSessionTickets in one ticket_list */

/* sign_certificate_verify: the transcript hash of a SHA-256 or SHA-384 suite. */
#define LURK_TLS13_TRANSCRIPT_HASH_SHA256_LEN 32
#define LURK_TLS13_TRANSCRIPT_HASH_SHA384_LEN 48

#define LURK_TLS13_CTX_REQUEST_LEN  9 /* cookie_h(1) session_id(4) cookie_init(4) */
#define LURK_TLS13_CTX_RESPONSE_LEN 8 /* session_id(4) cookie_init(4) */
#define LURK_TLS13_STATE_LEN        4

/* Result of the list iterators below. */
enum lurk_tls13_next {
    LURK_TLS13_NEXT_MALFORMED = -1, /* the list is not well formed; the reader is unchanged */
    LURK_TLS13_NEXT_END = 0,        /* nothing left */
    LURK_TLS13_NEXT_OK = 1,         /* one element read */
};

/* ---- extensions (-01 §3.4) ---- */

/* psk_id: RFC 8446 §4.2.11 PskIdentity {identity<1..2^16-1>, uint32 obfuscated_ticket_age}. */
struct lurk_tls13_psk_identity {
    lurk_cbs identity;
    uint32_t obfuscated_ticket_age;
};

/* KeyShareEntry (RFC 8446 §4.2.8): NamedGroup group, key_exchange<1..2^16-1>. */
struct lurk_tls13_key_share_entry {
    uint16_t group;
    lurk_cbs key_exchange;
};

/*
 * ephemeral: EphemeralData {uint8 method; opaque secret<0..2^16-1>} (pinned
 * uint16 length). Requests: secret_provided carries the raw ephemeral
 * private key of the LURK client's own TLS endpoint (non-empty),
 * secret_generated an empty secret. Responses carry only secret_generated,
 * whose secret holds exactly one KeyShareEntry (decoded into key_share).
 */
struct lurk_tls13_ephemeral {
    uint8_t method;
    lurk_cbs secret;                             /* requests */
    struct lurk_tls13_key_share_entry key_share; /* responses */
};

struct lurk_tls13_extension {
    uint8_t type; /* enum lurk_tls13_extension_type; selects the member */
    union {
        struct lurk_tls13_psk_identity psk_id;
        struct lurk_tls13_ephemeral ephemeral;
        uint8_t freshness; /* freshness_funct: sha256 (0), or the project's null (255, T11) */
    };
};

/* extension_list (pinned uint16 length), in wire order; at most one of each type. */
struct lurk_tls13_extension_list {
    struct lurk_tls13_extension ext[LURK_TLS13_MAX_EXTENSIONS];
    size_t n;
};

/* The extension of that type, or NULL. */
const struct lurk_tls13_extension *
lurk_tls13_extension_find(const struct lurk_tls13_extension_list *list, uint8_t type);

/* ---- secrets (-01 §3.2, §3.4) ---- */

struct lurk_tls13_secret {
    uint8_t type;  /* enum lurk_tls13_secret_type */
    lurk_cbs data; /* secret_data<0..2^8-1> */
};

/* secret_list<0..2^16-1>; at most one secret of each type. */
struct lurk_tls13_secret_list {
    struct lurk_tls13_secret s[LURK_TLS13_MAX_SECRETS];
    size_t n;
};

/*
 * SecretsRequest {uint16 key_request; handshake_context<0..2^32-1> (pinned
 * uint32 length); extension_list}. handshake_context is a view of whole RFC
 * 8446 Handshake messages (walk it with lurk_tls13_handshake_next).
 *
 * The exchanges 10..12 carry a bare key_request (11, 12) and
 * handshake_context (10..12) instead of a SecretsRequest; struct
 * lurk_tls13_request keeps them here too, so lurkd reads them in one place
 * (extensions is then empty, and key_request is 0 for 10).
 */
struct lurk_tls13_secrets_request {
    uint16_t key_request;
    lurk_cbs handshake_context;
    struct lurk_tls13_extension_list extensions;
};

/*
 * SecretsResponse {secret_list<0..2^16-1>; extension_list}. Responses 11
 * and 12 carry only a secret list (pinned); extensions is then empty.
 */
struct lurk_tls13_secrets_response {
    struct lurk_tls13_secret_list secrets;
    struct lurk_tls13_extension_list extensions;
};

/* ---- context agreement and sessions (-01 §3.5, §4.3) ---- */

/* ContextAgreementRequest: 9 bytes. cookie_h is a PFSAlgorithm: sha256 (0) only. */
struct lurk_tls13_ctx_request {
    uint8_t cookie_h;
    uint32_t lurk_client_session_id;
    uint32_t lurk_client_cookie_init;
};

/* ContextAgreementResponse: 8 bytes. */
struct lurk_tls13_ctx_response {
    uint32_t crypto_service_session_id;
    uint32_t crypto_service_cookie_init;
};

/*
 * The uint32 session_id, uint32 cookie that open the payload of the
 * exchanges inside a session (4, 6, 7, 9..12): crypto_service_session_id
 * and crypto_service_cookie in requests, lurk_client_session_id and
 * lurk_client_cookie in responses (cookie derivation: protocol.md).
 */
struct lurk_tls13_session {
    uint32_t session_id;
    uint32_t cookie;
};

/* ---- signing (-01 §3.6) ---- */

/*
 * LURKCertificate. tls13: an RFC 8446 §4.4.2 Certificate
 * {certificate_request_context<0..255>, certificate_list<0..2^24-1>};
 * sha256_32: uint32 hash_cert = the first 4 bytes, big-endian, of SHA-256
 * over that Certificate body (no handshake header; pinned).
 *
 * For tls13, certificate is the whole Certificate body as sent: what the
 * encoder writes and what lurkd puts behind the handshake header. Decoding
 * also splits it into request_context and certificate_list (walk with
 * lurk_tls13_certificate_entry_next).
 */
struct lurk_tls13_lurk_certificate {
    uint8_t type; /* enum lurk_tls13_lurk_certificate_type */
    uint32_t hash_cert;
    lurk_cbs certificate;
    lurk_cbs request_context;  /* output of decode only */
    lurk_cbs certificate_list; /* output of decode only */
};

/* CertificateEntry (RFC 8446 §4.4.2); extensions are whole RFC 8446 Extensions. */
struct lurk_tls13_certificate_entry {
    lurk_cbs cert_data;  /* <1..2^24-1> */
    lurk_cbs extensions; /* <0..2^16-1> */
};
enum lurk_tls13_next lurk_tls13_certificate_entry_next(lurk_cbs *list,
                                                       struct lurk_tls13_certificate_entry *out);

/* SigningRequest {KeyPairID key_id (tls12); SignatureScheme sig_algo; LURKCertificate}. */
struct lurk_tls13_signing_request {
    struct lurk_key_id key_id;
    uint16_t sig_algo;
    struct lurk_tls13_lurk_certificate certificate;
};

/* SigningResponse {opaque signature<0..2^16-1>}; also the response of type 128. */
struct lurk_tls13_signing_response {
    lurk_cbs signature;
};

/* ---- tickets (RFC 8446 §4.6.1) ---- */

struct lurk_tls13_new_session_ticket {
    uint32_t ticket_lifetime;
    uint32_t ticket_age_add;
    lurk_cbs ticket_nonce; /* <0..255> */
    lurk_cbs ticket;       /* <1..2^16-1> */
    lurk_cbs extensions;   /* <0..2^16-2>, whole RFC 8446 Extensions */
};

/* NewSessionTicket ticket_list<0..2^16-1>. */
struct lurk_tls13_ticket_list {
    struct lurk_tls13_new_session_ticket t[LURK_TLS13_MAX_TICKETS];
    size_t n;
};

/* ---- project messages ---- */

/*
 * sign_certificate_verify (128) request (docs/architecture.md §3): KeyPairID key_id,
 * SignatureScheme sig_algo, uint8 role (enum lurk_tls13_role),
 * opaque transcript_hash<32..48> (uint8 length, 32 or 48 only).
 */
struct lurk_tls13_sign_cv_request {
    struct lurk_key_id key_id;
    uint16_t sig_algo;
    uint8_t role;
    lurk_cbs transcript_hash;
};

/*
 * capabilities (0) response (the draft defines none; project format pinned
 * in protocol.md): seven lists, then a 4-byte lurk_state.
 *   types              <1..255>       uint8 prefix, TLS13Type, 1 byte each
 *   signature_schemes  <0..2^16-2>    uint16 prefix, SignatureScheme, 2 bytes each
 *   freshness_functs   <0..255>       uint8 prefix, 1 byte each
 *   cookie_hs          <0..255>       uint8 prefix, 1 byte each
 *   ephemeral_methods  <0..255>       uint8 prefix, 1 byte each
 *   named_groups       <0..2^16-2>    uint16 prefix, NamedGroup, 2 bytes each
 *   typed_certificates <0..2^24-1>    uint24 prefix, TypedCertificate (tls12.h:
 *                                     walk it with lurk_tls12_typed_certificate_next)
 *   state              4 bytes
 * The lists are views of the wire bytes.
 */
struct lurk_tls13_capabilities_response {
    lurk_cbs types;
    lurk_cbs signature_schemes;
    lurk_cbs freshness_functs;
    lurk_cbs cookie_hs;
    lurk_cbs ephemeral_methods;
    lurk_cbs named_groups;
    lurk_cbs typed_certificates;
    uint8_t state[LURK_TLS13_STATE_LEN];
};

/* ---- whole payloads ---- */

/*
 * A request payload of any tls13 type; which members are on the wire
 * depends on type (-01 §4, §5; digest §3.3; protocol.md):
 *
 *   2  binder_key                secrets
 *   3  early_secret              ctx, secrets
 *   4  handshake_and_app_secret  session, secrets
 *   5  init_handshake_secret     ctx, secrets
 *   6  handshake_secret          session, secrets
 *   7  app_secret                session, secrets
 *   8  init_certificate_verify   ctx, secrets, signing
 *   9  certificate_verify        session, secrets, signing
 *   10 post_handshake            session, handshake_context, app_n, signing
 *   11 new_session_ticket        session, ticket_nbr, key_request, handshake_context
 *   12 register_session_ticket   session, handshake_context, tickets, key_request
 *   128 sign_certificate_verify  sign_cv
 *   0, 1                         nothing
 *
 * For 10..12, key_request and handshake_context are secrets.key_request
 * and secrets.handshake_context.
 */
struct lurk_tls13_request {
    uint8_t type;
    struct lurk_tls13_ctx_request ctx;
    struct lurk_tls13_session session;
    struct lurk_tls13_secrets_request secrets;
    struct lurk_tls13_signing_request signing;
    uint16_t app_n; /* -01 writes "int16"; pinned unsigned */
    uint8_t ticket_nbr;
    struct lurk_tls13_ticket_list tickets;
    struct lurk_tls13_sign_cv_request sign_cv;
};

/*
 * A success response payload of any tls13 type:
 *
 *   0  capabilities              capabilities
 *   2  binder_key                secrets
 *   3, 5                         ctx, secrets
 *   4, 6, 7                      session, secrets
 *   8  init_certificate_verify   ctx, secrets, signing
 *   9  certificate_verify        session, secrets, signing
 *   10 post_handshake            session, signing
 *   11 new_session_ticket        session, tickets, secrets.secrets
 *   12 register_session_ticket   session, secrets.secrets
 *   128 sign_certificate_verify  signing
 *   1                            nothing
 *
 * Error responses carry the lurk error payload (lurk.h) instead.
 */
struct lurk_tls13_response {
    uint8_t type;
    struct lurk_tls13_ctx_response ctx;
    struct lurk_tls13_session session;
    struct lurk_tls13_secrets_response secrets;
    struct lurk_tls13_signing_response signing;
    struct lurk_tls13_ticket_list tickets;
    struct lurk_tls13_capabilities_response capabilities;
};

/* True for the types above (0..12, 128). */
bool lurk_tls13_type_known(uint8_t type);

/*
 * The whole payload must be consumed. An unknown type gives undefined_error
 * (the dispatcher answers those before decoding). On success out->type is
 * type; on failure out is unspecified.
 */
uint8_t lurk_tls13_request_decode(uint8_t type, const lurk_cbs *payload,
                                  struct lurk_tls13_request *out);
bool lurk_tls13_request_encode(lurk_cbb *cbb, const struct lurk_tls13_request *in);
uint8_t lurk_tls13_response_decode(uint8_t type, const lurk_cbs *payload,
                                   struct lurk_tls13_response *out);
bool lurk_tls13_response_encode(lurk_cbb *cbb, const struct lurk_tls13_response *in);

/*
 * Sub-structure codecs: decoders read from the front of cbs and leave the
 * rest; encoders append. Statuses as above.
 */
uint8_t lurk_tls13_key_request_decode(lurk_cbs *cbs, uint16_t *out);
uint8_t lurk_tls13_secrets_request_decode(lurk_cbs *cbs, struct lurk_tls13_secrets_request *out);
bool lurk_tls13_secrets_request_encode(lurk_cbb *cbb, const struct lurk_tls13_secrets_request *in);
uint8_t lurk_tls13_secrets_response_decode(lurk_cbs *cbs, struct lurk_tls13_secrets_response *out);
bool lurk_tls13_secrets_response_encode(lurk_cbb *cbb,
                                        const struct lurk_tls13_secrets_response *in);
uint8_t lurk_tls13_secret_list_decode(lurk_cbs *cbs, struct lurk_tls13_secret_list *out);
bool lurk_tls13_secret_list_encode(lurk_cbb *cbb, const struct lurk_tls13_secret_list *in);
/* response selects the direction: responses carry only ephemeral (secret_generated). */
uint8_t lurk_tls13_extension_list_decode(lurk_cbs *cbs, bool response,
                                         struct lurk_tls13_extension_list *out);
bool lurk_tls13_extension_list_encode(lurk_cbb *cbb, bool response,
                                      const struct lurk_tls13_extension_list *in);
uint8_t lurk_tls13_ctx_request_decode(lurk_cbs *cbs, struct lurk_tls13_ctx_request *out);
bool lurk_tls13_ctx_request_encode(lurk_cbb *cbb, const struct lurk_tls13_ctx_request *in);
uint8_t lurk_tls13_ctx_response_decode(lurk_cbs *cbs, struct lurk_tls13_ctx_response *out);
bool lurk_tls13_ctx_response_encode(lurk_cbb *cbb, const struct lurk_tls13_ctx_response *in);
uint8_t lurk_tls13_session_decode(lurk_cbs *cbs, struct lurk_tls13_session *out);
bool lurk_tls13_session_encode(lurk_cbb *cbb, const struct lurk_tls13_session *in);
uint8_t lurk_tls13_lurk_certificate_decode(lurk_cbs *cbs, struct lurk_tls13_lurk_certificate *out);
bool lurk_tls13_lurk_certificate_encode(lurk_cbb *cbb,
                                        const struct lurk_tls13_lurk_certificate *in);
uint8_t lurk_tls13_signing_request_decode(lurk_cbs *cbs, struct lurk_tls13_signing_request *out);
bool lurk_tls13_signing_request_encode(lurk_cbb *cbb, const struct lurk_tls13_signing_request *in);
uint8_t lurk_tls13_signing_response_decode(lurk_cbs *cbs, struct lurk_tls13_signing_response *out);
bool lurk_tls13_signing_response_encode(lurk_cbb *cbb,
                                        const struct lurk_tls13_signing_response *in);
uint8_t lurk_tls13_new_session_ticket_decode(lurk_cbs *cbs,
                                             struct lurk_tls13_new_session_ticket *out);
bool lurk_tls13_new_session_ticket_encode(lurk_cbb *cbb,
                                          const struct lurk_tls13_new_session_ticket *in);
uint8_t lurk_tls13_ticket_list_decode(lurk_cbs *cbs, struct lurk_tls13_ticket_list *out);
bool lurk_tls13_ticket_list_encode(lurk_cbb *cbb, const struct lurk_tls13_ticket_list *in);
uint8_t lurk_tls13_sign_cv_request_decode(lurk_cbs *cbs, struct lurk_tls13_sign_cv_request *out);
bool lurk_tls13_sign_cv_request_encode(lurk_cbb *cbb, const struct lurk_tls13_sign_cv_request *in);
uint8_t lurk_tls13_capabilities_response_decode(lurk_cbs *cbs,
                                                struct lurk_tls13_capabilities_response *out);
bool lurk_tls13_capabilities_response_encode(lurk_cbb *cbb,
                                             const struct lurk_tls13_capabilities_response *in);

/* ---- handshake_context (-01 §3.3) ---- */

/* One RFC 8446 Handshake message: msg_type(1) uint24 length, body. */
struct lurk_tls13_handshake_msg {
    uint8_t msg_type;
    lurk_cbs body;
    lurk_cbs message; /* header and body: the bytes a transcript hash takes */
};

/* Reads the next message; a truncated one is MALFORMED and consumes nothing. */
enum lurk_tls13_next lurk_tls13_handshake_next(lurk_cbs *ctx, struct lurk_tls13_handshake_msg *out);
/* True when ctx is a sequence of whole messages (the empty sequence included). */
bool lurk_tls13_handshake_context_valid(const lurk_cbs *ctx);

/* ---- per-exchange rules (-01 Figures 3, 5-8) ---- */

enum lurk_tls13_presence {
    LURK_TLS13_FORBIDDEN = 0, /* "-" (and Figure 8's blank cell, see protocol.md) */
    LURK_TLS13_OPTIONAL = 1,  /* "*" */
    LURK_TLS13_MANDATORY = 2, /* "M" */
};

/*
 * One row of Figures 3, 5, 6, 7 and 8. The permitted key_request bits are
 * mandatory_keys | optional_keys. ctx_agreement is implied by the payload
 * layout of the type (decoding enforces it); it is here for completeness.
 */
struct lurk_tls13_exchange_rule {
    uint8_t type;
    uint8_t role;
    uint16_t mandatory_keys;
    uint16_t optional_keys;
    uint8_t ephemeral;     /* Figure 5 */
    uint8_t psk_id;        /* Figure 6 */
    uint8_t freshness;     /* Figure 7 */
    uint8_t ctx_agreement; /* Figure 8 */
};

#define LURK_TLS13_EXCHANGE_RULES 12
extern const struct lurk_tls13_exchange_rule lurk_tls13_exchange_rules[LURK_TLS13_EXCHANGE_RULES];

/* The row of (type, role), or NULL (types 0, 1, 128, or a type of the other role). */
const struct lurk_tls13_exchange_rule *lurk_tls13_exchange_rule_find(uint8_t type, uint8_t role);

/*
 * The role of a request: Figure 1 gives one per type, except early_secret
 * (3), which the wire does not mark: server when key_request has b (it is
 * mandatory on the server side and forbidden on the client side), client
 * otherwise (pinned, protocol.md). -1 for types without a row (0, 1, 128).
 */
int lurk_tls13_exchange_role(uint8_t type, uint16_t key_request);

/*
 * -01 §3.1: every mandatory secret requested and nothing outside the
 * permitted set (reserved bits included), else invalid_key_request. A
 * (type, role) without a row gives invalid_request.
 */
uint8_t lurk_tls13_key_request_check(uint8_t type, uint8_t role, uint16_t key_request);

/*
 * -01 Figures 5-7: extensions present where forbidden, in wire order, give
 * invalid_payload_format for psk_id (§3.4.2 "invalid_format") and
 * invalid_extension for the others; then a missing mandatory extension
 * (psk_id, ephemeral, freshness in that order) gives invalid_extension. A
 * (type, role) without a row gives invalid_request.
 */
uint8_t lurk_tls13_extensions_check(uint8_t type, uint8_t role,
                                    const struct lurk_tls13_extension_list *extensions);

const char *lurk_tls13_type_name(uint8_t type);
const char *lurk_tls13_status_name(uint8_t status);

#endif
