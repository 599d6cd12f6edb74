/*
 * TLS 1.2 PRF and the secrets lurkd derives with it (RFC 5246, RFC 7627).
 *
 * The hash is named by its tls12 PRFHash code point (tls12.h): sha256 (0),
 * sha384 (1), sha512 (2). TLS 1.2 suites only ever use SHA-256 or SHA-384
 * (RFC 5246 §5, RFC 5289); SHA-512 is in the draft's enum, so it is here.
 *
 * Every function computes through EVP_KDF "TLS1-PRF" fetched from libctx
 * (NULL = default context) and returns false on an unknown prf_hash, a
 * length that does not match the hash, or an OpenSSL failure; on failure
 * nothing meaningful is left in out.
 */
#ifndef LURK_TLS12_PRF_H
#define LURK_TLS12_PRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/tls12.h" /* enum lurk_prf_hash, LURK_MASTER_LEN, LURK_RANDOM_LEN, LURK_FINISHED_LEN */

/* The output length of the PRF hash (32, 48, 64), 0 for an unknown prf_hash. */
size_t lurk_tls12_prf_hash_len(uint8_t prf_hash);

/*
 * PRF(secret, label, seed) = P_hash(secret, label || seed), first out_len
 * bytes (RFC 5246 §5). label is ASCII and hashed without its NUL. OpenSSL
 * 3.0's TLS1-PRF refuses an empty secret, an empty label || seed, and a
 * label || seed over 1024 bytes; no TLS 1.2 derivation comes near those.
 */
bool lurk_tls12_prf(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *secret,
                    size_t secret_len, const char *label, const uint8_t *seed, size_t seed_len,
                    uint8_t *out, size_t out_len);

/*
 * master_secret = PRF(pre_master_secret, "master secret",
 *                     ClientHello.random || ServerHello.random)[0..47]
 * (RFC 5246 §8.1). server_random is the value on the wire, i.e. after the
 * freshness function, never the LURK pre-image S.
 */
bool lurk_tls12_master_secret(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *premaster,
                              size_t premaster_len, const uint8_t client_random[LURK_RANDOM_LEN],
                              const uint8_t server_random[LURK_RANDOM_LEN],
                              uint8_t out[LURK_MASTER_LEN]);

/*
 * master_secret = PRF(pre_master_secret, "extended master secret",
 *                     session_hash)[0..47]
 * (RFC 7627 §4). session_hash_len must be the PRF hash length.
 */
bool lurk_tls12_extended_master_secret(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                                       const uint8_t *premaster, size_t premaster_len,
                                       const uint8_t *session_hash, size_t session_hash_len,
                                       uint8_t out[LURK_MASTER_LEN]);

/*
 * key_block = PRF(master_secret, "key expansion",
 *                 server_random || client_random), out_len bytes
 * (RFC 5246 §6.3; note the randoms are in the other order here).
 */
bool lurk_tls12_key_block(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                          const uint8_t master[LURK_MASTER_LEN],
                          const uint8_t server_random[LURK_RANDOM_LEN],
                          const uint8_t client_random[LURK_RANDOM_LEN], uint8_t *out,
                          size_t out_len);

/*
 * Hash(messages) with the PRF hash: the handshake hash that Finished and
 * the extended master secret take (RFC 5246 §7.4.9, RFC 7627 §3; for
 * session_hash, messages = ClientHello .. ClientKeyExchange). out must hold
 * lurk_tls12_prf_hash_len(prf_hash) bytes; *out_len is set to that.
 */
bool lurk_tls12_handshake_hash(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *messages,
                               size_t messages_len, uint8_t *out, size_t *out_len);

/* Which Finished message: it selects the label (RFC 5246 §7.4.9). */
enum lurk_tls12_finished_sender {
    LURK_TLS12_FINISHED_CLIENT, /* "client finished" */
    LURK_TLS12_FINISHED_SERVER, /* "server finished" */
};

/*
 * verify_data = PRF(master_secret, finished_label,
 *                   Hash(handshake_messages))[0..11]
 * (RFC 5246 §7.4.9). handshake_hash is that hash (from
 * lurk_tls12_handshake_hash); its length must be the PRF hash length. For
 * the server Finished the messages include the client Finished.
 */
bool lurk_tls12_finished(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                         enum lurk_tls12_finished_sender sender,
                         const uint8_t master[LURK_MASTER_LEN], const uint8_t *handshake_hash,
                         size_t handshake_hash_len, uint8_t out[LURK_FINISHED_LEN]);

/*
 * Recomputes verify_data and compares it with the received one in constant
 * time: the proof-of-handshake check of rsa_master_with_poh and
 * rsa_extended_master_with_poh (draft-mglt-lurk-tls12). False on
 * a mismatch or a failure.
 */
bool lurk_tls12_finished_check(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                               enum lurk_tls12_finished_sender sender,
                               const uint8_t master[LURK_MASTER_LEN], const uint8_t *handshake_hash,
                               size_t handshake_hash_len,
                               const uint8_t verify_data[LURK_FINISHED_LEN]);

#endif
