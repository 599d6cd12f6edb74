/*
 * A TLS 1.2 client's handshake messages, ClientHello .. ClientKeyExchange,
 * as a full handshake with client authentication sends and receives them
 * (RFC 5246 §7.3, §7.4): what a client CertificateVerify signs (§7.4.8) and
 * lurkd checks before it signs it (docs/protocol.md,
 * "tls12 client_certificate_verify").
 *
 *   ClientHello, ServerHello (TLS 1.2 exactly), Certificate,
 *   [CertificateStatus (RFC 6066 §8, when the ServerHello has status_request)],
 *   ServerKeyExchange (ECDHE and DHE suites only), CertificateRequest,
 *   ServerHelloDone, Certificate (the client's, not empty), ClientKeyExchange
 *
 * Each message is read through the bounded reader and must fill its
 * handshake length exactly; nothing may follow the ClientKeyExchange.
 */
#ifndef LURK_TLS12_HANDSHAKE_H
#define LURK_TLS12_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"

/* HandshakeType (RFC 5246 §7.4, RFC 6066 §8). */
enum lurk_tls12_hs_type {
    LURK_TLS12_HS_CLIENT_HELLO = 1,
    LURK_TLS12_HS_SERVER_HELLO = 2,
    LURK_TLS12_HS_CERTIFICATE = 11,
    LURK_TLS12_HS_SERVER_KEY_EXCHANGE = 12,
    LURK_TLS12_HS_CERTIFICATE_REQUEST = 13,
    LURK_TLS12_HS_SERVER_HELLO_DONE = 14,
    LURK_TLS12_HS_CERTIFICATE_VERIFY = 15,
    LURK_TLS12_HS_CLIENT_KEY_EXCHANGE = 16,
    LURK_TLS12_HS_CERTIFICATE_STATUS = 22,
};

/* ClientCertificateType (RFC 5246 §7.4.4, RFC 8422 §5.5). */
#define LURK_TLS12_CERT_TYPE_RSA_SIGN   1
#define LURK_TLS12_CERT_TYPE_ECDSA_SIGN 64

/* The key exchange of the negotiated cipher suite: it decides the server's
 * ServerKeyExchange and the ClientKeyExchange's structure. */
enum lurk_tls12_kx {
    LURK_TLS12_KX_RSA = 1,
    LURK_TLS12_KX_DHE,
    LURK_TLS12_KX_ECDHE,
};

struct lurk_tls12_client_hs {
    uint16_t cipher_suite;
    enum lurk_tls12_kx kx;
    lurk_cbs certificate_types;    /* CertificateRequest: ClientCertificateType, 1 byte each */
    lurk_cbs signature_algorithms; /* CertificateRequest: SignatureAndHashAlgorithm, 2 each */
    lurk_cbs client_certificate;   /* the client's end-entity ASN.1Cert (DER) */
};

/*
 * Parses messages (views into it go to out). Returns LURK_STATUS_SUCCESS, or
 * the TLS12Status to answer with *why saying what is wrong (a static
 * string): invalid_cipher_or_prf_hash for a cipher suite that is not a TLS
 * 1.2 certificate-authenticated RSA, DHE or ECDHE suite, and
 * invalid_payload_format for everything else.
 */
uint8_t lurk_tls12_client_hs_parse(const lurk_cbs *messages, struct lurk_tls12_client_hs *out,
                                   const char **why);

/* Whether the CertificateRequest lists sig_and_hash. */
bool lurk_tls12_client_hs_offers_sig(const struct lurk_tls12_client_hs *hs, uint16_t sig_and_hash);
/* Whether the CertificateRequest lists certificate_type. */
bool lurk_tls12_client_hs_offers_cert_type(const struct lurk_tls12_client_hs *hs,
                                           uint8_t certificate_type);

#endif
