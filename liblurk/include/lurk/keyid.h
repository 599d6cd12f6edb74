/*
 * Key identifiers: KeyPairID of type sha256_32 (draft-mglt-lurk-tls12 §4.1,
 * reused by draft-mglt-lurk-tls13 -01 §3).
 *
 * The id is the first 4 bytes of SHA-256 over the DER SubjectPublicKeyInfo
 * of the key, for every key type (pinned, docs/architecture.md §5; the draft's RSA text
 * suggests the PKCS#1 RSAPublicKey, but pylurk and this project hash the
 * SPKI, i2d_PUBKEY, uniformly). lurkd computes it from the private key it
 * loads, the provider and lurkctl from the SPKI in a key reference or from a
 * certificate: all three must agree, so all three hash the same DER.
 *
 * libctx is where SHA-256 (and, for SPKI bytes, the key decoder) are
 * fetched; NULL means the default library context.
 */
#ifndef LURK_KEYID_H
#define LURK_KEYID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/tls12.h" /* LURK_KEY_ID_LEN, LURK_KEY_ID_TYPE_SHA256_32 */

/* The id of a key (public or private): SPKI DER from i2d_PUBKEY, hashed. */
bool lurk_keyid_from_pkey(OSSL_LIB_CTX *libctx, const EVP_PKEY *pkey, uint8_t out[LURK_KEY_ID_LEN]);

/*
 * The id of a DER SubjectPublicKeyInfo. The bytes are first decoded, so
 * anything that is not exactly one SPKI of a key type OpenSSL knows is
 * refused; the id is then the hash of the bytes as given.
 */
bool lurk_keyid_from_spki(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t len,
                          uint8_t out[LURK_KEY_ID_LEN]);

/* The id of a certificate's subject key: its SubjectPublicKeyInfo, hashed. */
bool lurk_keyid_from_x509(OSSL_LIB_CTX *libctx, const X509 *cert, uint8_t out[LURK_KEY_ID_LEN]);

#endif
