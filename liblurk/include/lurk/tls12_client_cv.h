/*
 * tls12 client_certificate_verify (project type 129, docs/protocol.md): a
 * TLS 1.2 client CertificateVerify signature (RFC 5246 §7.4.8) over the
 * handshake messages themselves, ClientHello .. ClientKeyExchange, which
 * lurkd parses (lurk/tls12_handshake.h) before it signs them.
 *
 * Request: key_id, sig_and_hash (the SignatureAndHashAlgorithm the client
 * chose), opaque handshake_messages<4..2^24-1>. Response: the ecdhe
 * response format, opaque signature<0..2^16-1> (lurk/tls12.h).
 */
#ifndef LURK_TLS12_CLIENT_CV_H
#define LURK_TLS12_CLIENT_CV_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "lurk/tls12.h"

/* The smallest handshake_messages is one empty handshake header. */
#define LURK_TLS12_CLIENT_CV_MESSAGES_MIN 4
#define LURK_TLS12_CLIENT_CV_MESSAGES_MAX 0xffffff

struct lurk_tls12_client_cv_request {
    struct lurk_key_id key_id;
    uint16_t sig_and_hash; /* hash << 8 | signature; RFC 8446 code points for PSS, EdDSA */
    lurk_cbs handshake_messages;
};

/* LURK_STATUS_SUCCESS or the TLS12Status to answer (lurk/tls12.h conventions). */
uint8_t lurk_tls12_client_cv_request_decode(const lurk_cbs *payload,
                                            struct lurk_tls12_client_cv_request *out);
bool lurk_tls12_client_cv_request_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_client_cv_request *in);

#endif
