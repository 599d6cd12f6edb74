/*
 * TLS 1.3 transcript hash (RFC 8446 §4.4.1): the running hash of the
 * handshake messages (each with its 4-byte Handshake header), fed as they
 * arrive and read at any point without disturbing the running state, since
 * the key schedule needs the hash after ClientHello, ServerHello, server
 * Finished and client Finished of one and the same transcript.
 */
#ifndef LURK_TLS13_TRANSCRIPT_H
#define LURK_TLS13_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* Fields are private: use the functions below. */
struct lurk_tls13_transcript {
    EVP_MD_CTX *ctx;
    size_t hash_len;
};

/* Starts an empty transcript with md (e.g. lurk_tls13_keysched_md()). */
bool lurk_tls13_transcript_init(struct lurk_tls13_transcript *t, const EVP_MD *md);
/* Frees the hash state; safe on a zeroed struct. */
void lurk_tls13_transcript_cleanup(struct lurk_tls13_transcript *t);
/*
 * Starts dst as an independent copy of src's running state (dst must not
 * hold a state yet), so a caller can hash messages it has not accepted yet,
 * or fork the transcript (each post-handshake CertificateVerify covers the
 * handshake plus its own CertificateRequest and Certificate, RFC 8446
 * §4.4.1), and keep src as it was. False (dst zeroed) on failure.
 */
bool lurk_tls13_transcript_copy(struct lurk_tls13_transcript *dst,
                                const struct lurk_tls13_transcript *src);

size_t lurk_tls13_transcript_hash_len(const struct lurk_tls13_transcript *t);
/* Appends handshake bytes: whole messages, or any split of them. */
bool lurk_tls13_transcript_update(struct lurk_tls13_transcript *t, const uint8_t *data, size_t len);
/*
 * The hash of everything appended so far, hash_len bytes, taken from a copy
 * of the hash state (EVP_MD_CTX_copy_ex): the transcript continues.
 */
bool lurk_tls13_transcript_hash(const struct lurk_tls13_transcript *t, uint8_t *out);
/*
 * HelloRetryRequest (RFC 8446 §4.4.1): replaces what was appended so far,
 * which must be exactly ClientHello1, by the synthetic message
 *   message_hash(254) || 00 00 || hash_len || Hash(ClientHello1).
 * Call it before appending the HelloRetryRequest.
 */
bool lurk_tls13_transcript_hello_retry(struct lurk_tls13_transcript *t);

#endif
