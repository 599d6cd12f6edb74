/*
 * Ciphertexts for attacking RSA key transport the way Bleichenbacher does:
 * a well-formed PKCS#1 v1.5 type 2 block holding a 48-byte TLS premaster
 * (RFC 5246 §7.4.7.1), and every kind of malformed block, each encrypted
 * with raw RSA on the public key so that the block under test is exactly
 * what the server decrypts. Used by lurk-rsa-timing and the attack tests.
 */
#ifndef LURK_TOOLS_RSA_PROBE_H
#define LURK_TOOLS_RSA_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Largest modulus the probes handle, in bytes (RSA-8192). */
#define LURK_RSA_PROBE_MAX 1024

enum lurk_rsa_probe_kind {
    LURK_RSA_PROBE_GOOD,            /* 00 02 PS 00 version(2) random(46) */
    LURK_RSA_PROBE_FIRST_BYTE,      /* 01 02 ...: the first byte is not zero */
    LURK_RSA_PROBE_BLOCK_TYPE_1,    /* 00 01 FF..FF 00 premaster: a signature block */
    LURK_RSA_PROBE_NO_SEPARATOR,    /* 00 02 and no zero byte after the padding */
    LURK_RSA_PROBE_SHORT_PADDING,   /* a zero byte in the first 8 padding bytes */
    LURK_RSA_PROBE_LONG_MESSAGE,    /* separator one byte early: a 49-byte message */
    LURK_RSA_PROBE_SHORT_MESSAGE,   /* separator one byte late: a 47-byte message */
    LURK_RSA_PROBE_WRONG_VERSION,   /* well formed, version 03 00 instead of the client's */
    LURK_RSA_PROBE_ZERO_CIPHERTEXT, /* the ciphertext is all zero bytes */
    LURK_RSA_PROBE_COUNT,
};

/* A short name of the kind ("good", "no-separator", ...). */
const char *lurk_rsa_probe_kind_name(enum lurk_rsa_probe_kind kind);

/*
 * Makes a ciphertext of the given kind for pub (an RSA public key) and the
 * ClientHello version client_version: writes k = EVP_PKEY_get_size(pub)
 * bytes to out. For LURK_RSA_PROBE_GOOD, premaster (when not NULL) receives
 * the 48 bytes the server must recover. False on an OpenSSL failure.
 */
bool lurk_rsa_probe_make(EVP_PKEY *pub, enum lurk_rsa_probe_kind kind, uint16_t client_version,
                         uint8_t *out, uint8_t premaster[48]);

/* Raw RSA on the public key: block (k bytes, below n) to its ciphertext (k bytes). */
bool lurk_rsa_probe_encrypt_raw(EVP_PKEY *pub, const uint8_t *block, uint8_t *out);

#endif
