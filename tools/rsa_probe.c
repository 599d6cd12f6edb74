/* Bleichenbacher probes; see rsa_probe.h. */
#include "rsa_probe.h"

#include <string.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>

#define PREMASTER_LEN 48
#define MIN_PADDING   8 /* RFC 8017 §7.2.1: PS is at least 8 bytes */

static const char *const names[LURK_RSA_PROBE_COUNT] = {
    "good",         "first-byte",    "block-type-1",  "no-separator",    "short-padding",
    "long-message", "short-message", "wrong-version", "zero-ciphertext",
};

const char *lurk_rsa_probe_kind_name(enum lurk_rsa_probe_kind kind)
{
    return (unsigned)kind < LURK_RSA_PROBE_COUNT ? names[kind] : "?";
}

/* Nonzero random bytes: PKCS#1 v1.5 padding string. */
static bool nonzero_random(uint8_t *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1)
        return false;
    for (size_t i = 0; i < n; i++)
        while (p[i] == 0)
            if (RAND_bytes(&p[i], 1) != 1)
                return false;
    return true;
}

/* 00 02 PS 00 message, with the message message_len bytes long (k bytes in all). */
static bool type2_block(uint8_t *block, size_t k, const uint8_t *message, size_t message_len)
{
    size_t ps = k - 3 - message_len;

    block[0] = 0x00;
    block[1] = 0x02;
    if (!nonzero_random(block + 2, ps))
        return false;
    block[2 + ps] = 0x00;
    memcpy(block + 3 + ps, message, message_len);
    return true;
}

bool lurk_rsa_probe_encrypt_raw(EVP_PKEY *pub, const uint8_t *block, uint8_t *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    size_t k = (size_t)EVP_PKEY_get_size(pub), out_len = k;
    bool ok = ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
              EVP_PKEY_encrypt(ctx, out, &out_len, block, k) == 1 && out_len == k;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

bool lurk_rsa_probe_make(EVP_PKEY *pub, enum lurk_rsa_probe_kind kind, uint16_t client_version,
                         uint8_t *out, uint8_t premaster[48])
{
    size_t k = (size_t)EVP_PKEY_get_size(pub);
    uint8_t block[LURK_RSA_PROBE_MAX], message[PREMASTER_LEN + 1];
    bool ok;

    if (k < 3 + MIN_PADDING + PREMASTER_LEN + 1 || k > sizeof(block))
        return false;
    if (kind == LURK_RSA_PROBE_ZERO_CIPHERTEXT) {
        memset(out, 0, k);
        return true;
    }
    if (RAND_bytes(message, sizeof(message)) != 1)
        return false;
    message[0] = (uint8_t)(client_version >> 8);
    message[1] = (uint8_t)client_version;
    switch (kind) {
    case LURK_RSA_PROBE_GOOD:
        ok = type2_block(block, k, message, PREMASTER_LEN);
        if (ok && premaster != NULL)
            memcpy(premaster, message, PREMASTER_LEN);
        break;
    case LURK_RSA_PROBE_FIRST_BYTE:
        ok = type2_block(block, k, message, PREMASTER_LEN);
        block[0] = 0x01; /* still below n: a 2048-bit modulus starts with 0x80 or more */
        break;
    case LURK_RSA_PROBE_BLOCK_TYPE_1:
        block[0] = 0x00;
        block[1] = 0x01;
        memset(block + 2, 0xff, k - 3 - PREMASTER_LEN);
        block[k - 1 - PREMASTER_LEN] = 0x00;
        memcpy(block + k - PREMASTER_LEN, message, PREMASTER_LEN);
        ok = true;
        break;
    case LURK_RSA_PROBE_NO_SEPARATOR:
        block[0] = 0x00;
        block[1] = 0x02;
        ok = nonzero_random(block + 2, k - 2);
        break;
    case LURK_RSA_PROBE_SHORT_PADDING:
        ok = type2_block(block, k, message, PREMASTER_LEN);
        block[2 + MIN_PADDING - 1] = 0x00; /* the separator before 8 bytes of padding */
        break;
    case LURK_RSA_PROBE_LONG_MESSAGE:
        ok = type2_block(block, k, message, PREMASTER_LEN + 1);
        break;
    case LURK_RSA_PROBE_SHORT_MESSAGE:
        ok = type2_block(block, k, message, PREMASTER_LEN - 1);
        break;
    case LURK_RSA_PROBE_WRONG_VERSION:
        message[0] = 0x03;
        message[1] = client_version == 0x0300 ? 0x01 : 0x00;
        ok = type2_block(block, k, message, PREMASTER_LEN);
        break;
    default:
        return false;
    }
    ok = ok && lurk_rsa_probe_encrypt_raw(pub, block, out);
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(message, sizeof(message));
    return ok;
}
