/*
 * Real TLS 1.2 client handshakes for the tests of tls12
 * client_certificate_verify: an OpenSSL client and server run a handshake
 * with client authentication in memory, and the handshake messages the
 * client signs in its CertificateVerify (ClientHello .. ClientKeyExchange,
 * RFC 5246 §7.4.8) are recorded from libssl's message callback.
 */
#ifndef LURK_TEST_TLS12_CLIENT_HS_H
#define LURK_TEST_TLS12_CLIENT_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct lurk_test_tls12_hs {
    EVP_PKEY *client_key; /* the client certificate's key */
    X509 *client_cert;
    EVP_PKEY *server_key; /* NULL: a P-256 key and certificate made here */
    X509 *server_cert;
    const char *ciphers;        /* TLS 1.2 cipher list, NULL: OpenSSL's default */
    const char *client_sigalgs; /* the server's CertificateRequest list, NULL: default */
};

/*
 * Runs the handshake; *msgs (malloc'd) gets the signed handshake messages and
 * *sig_and_hash the SignatureAndHashAlgorithm the client's CertificateVerify
 * used. False if the handshake or the recording failed.
 */
bool lurk_test_tls12_client_hs(const struct lurk_test_tls12_hs *o, uint8_t **msgs, size_t *len,
                               uint16_t *sig_and_hash);

/* A self-signed certificate for key (CN=name), for handshakes only. */
X509 *lurk_test_self_signed(EVP_PKEY *key, const char *name);

#endif
