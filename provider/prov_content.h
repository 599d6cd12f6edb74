/*
 * What is libssl asking us to sign? (docs/architecture.md §4, pinned.) The signature
 * operation sees only the to-be-signed bytes; this classifier recognises the
 * two shapes a LURK exchange exists for and rejects everything else:
 *
 *   TLS 1.3 CertificateVerify (RFC 8446 §4.4.3): 64 x 0x20, the context
 *   string "TLS 1.3, server CertificateVerify" or "TLS 1.3, client
 *   CertificateVerify", 0x00, the transcript hash (32 or 48 bytes)
 *   -> tls13 sign_certificate_verify.
 *
 *   TLS 1.2 ServerKeyExchange (RFC 5246 §7.4.3, RFC 8422 §5.4):
 *   client_random(32) server_random(32) and exactly one ServerECDHParams
 *   with curve_type named_curve -> tls12 ecdhe.
 *
 *   TLS 1.2 client CertificateVerify (RFC 5246 §7.4.8): the handshake
 *   messages themselves, ClientHello .. ClientKeyExchange, which must parse
 *   as a TLS 1.2 client handshake with a CertificateRequest
 *   (lurk/tls12_handshake.h) -> tls12 client_certificate_verify.
 *
 * ServerDHParams, bare digests and any other data have no LURK exchange.
 */
#ifndef LURK_PROV_CONTENT_H
#define LURK_PROV_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "lurk/tls12.h"

#define LURK_TLS13_CV_SPACES   64
#define LURK_TLS13_CV_CONTEXT  33 /* strlen("TLS 1.3, server CertificateVerify") */
#define LURK_TLS13_CV_PREAMBLE (LURK_TLS13_CV_SPACES + LURK_TLS13_CV_CONTEXT + 1)

enum lurk_prov_content_kind {
    LURK_CONTENT_NONE = 0,
    LURK_CONTENT_TLS13_CERTIFICATE_VERIFY,
    LURK_CONTENT_TLS12_SERVER_KEY_EXCHANGE,
    LURK_CONTENT_TLS12_CLIENT_CERTIFICATE_VERIFY,
};

struct lurk_prov_content {
    enum lurk_prov_content_kind kind;
    /* TLS 1.3: role (lurk_tls13_role) and the transcript hash */
    uint8_t role;
    lurk_cbs transcript_hash;
    /* TLS 1.2: the randoms and the ServerECDHParams, views of the input */
    lurk_cbs client_random;
    lurk_cbs server_random;
    lurk_cbs ecdh_params_bytes;
    struct lurk_tls12_ecdh_params ecdh_params;
    /* TLS 1.2 client CertificateVerify: the handshake messages, the whole input */
    lurk_cbs handshake_messages;
    /* NONE: why, for the error message (may point into why_buf) */
    const char *why;
    char why_buf[192];
};

/* Never fails; out->kind says what it is. The views point into tbs. */
void lurk_prov_content_classify(const uint8_t *tbs, size_t len, struct lurk_prov_content *out);

#endif
