/*
 * The one RSA private-key decryption lurkd performs: the premaster of a TLS
 * 1.2 RSA key exchange (RFC 5246 §7.4.7.1), for rsa_master*, and
 * rsa_premaster (docs/protocol.md). Raw RSA stays inside this module.
 *
 * Implicit rejection, deterministic (docs/protocol.md, "RSA key transport:
 * implicit rejection"): the premaster is the client's version followed by
 * the block's last 46 bytes when the PKCS#1 v1.5 block is well formed and
 * holds 48 bytes, and otherwise the client's version followed by 46 bytes
 * derived from the ciphertext and a secret derived from the private key
 * itself, chosen in constant time. The same ciphertext thus always gets the
 * same answer, from every lurkd holding the key, whatever client version it
 * is asked with, and a malformed block is answered exactly like a
 * well-formed one: same status, same length, same code path.
 */
#ifndef LURKD_KEYS_RSA_PREMASTER_H
#define LURKD_KEYS_RSA_PREMASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lurk/bytes.h"
#include "lurk/tls12.h"

/* What a key that does RSA key transport keeps beside its EVP_PKEY. */
struct lurkd_rsa_kx;

/*
 * Derives the rejection secret of an RSA key (SHA-256 of its private
 * exponent as k bytes) and keeps its modulus for the public range check.
 * NULL when the key holds no private exponent (an engine key).
 */
struct lurkd_rsa_kx *lurkd_rsa_kx_new(EVP_PKEY *rsa);
/* Wipes and frees; NULL is fine. */
void lurkd_rsa_kx_free(struct lurkd_rsa_kx *kx);

/*
 * Decrypts ciphertext (1 to k bytes, k the modulus length; a shorter one is
 * the left-padded integer, as OpenSSL reads it) into the 48-byte premaster,
 * whose first two bytes are client_version (RFC 5246 §7.4.7.1, never the
 * block's own). Returns success, or
 * invalid_payload_format for what is public: an empty or over-long
 * ciphertext, or an integer not below the modulus; *note says which.
 */
uint8_t lurkd_rsa_premaster_decrypt(EVP_PKEY *rsa, const struct lurkd_rsa_kx *kx,
                                    uint16_t client_version, const lurk_cbs *ciphertext,
                                    uint8_t premaster[LURK_PREMASTER_LEN], const char **note);

#endif
