/* TLS 1.2 PRF on EVP_KDF "TLS1-PRF"; see tls12_prf.h. */
#include "lurk/tls12_prf.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>


size_t lurk_tls12_prf_hash_len(uint8_t prf_hash)
{
    switch (prf_hash) {
    case LURK_PRF_HASH_SHA256:
        return 32;
    case LURK_PRF_HASH_SHA384:
        return 48;
    case LURK_PRF_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}

struct seed_part {
    const void *data;
    size_t len;
};

/*
 * P_hash(secret, seed) with seed = the parts concatenated (RFC 5246 §5).
 * The TLS1-PRF KDF concatenates repeated OSSL_KDF_PARAM_SEED parameters in
 * order, so label and randoms need no temporary buffer.
 */
static bool prf_parts(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *secret,
                      size_t secret_len, const struct seed_part *parts, size_t n_parts,
                      uint8_t *out, size_t out_len)
{
    const char *md = lurk_tls12_prf_hash_md_name(prf_hash);
    OSSL_PARAM params[2 + 4 + 1];
    size_t np = 0;
    EVP_KDF *kdf;
    EVP_KDF_CTX *kctx = NULL;
    bool ok = false;

    if (md == NULL || out_len == 0 || n_parts > 4 || (secret == NULL && secret_len != 0))
        return false;
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    params[np++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    for (size_t i = 0; i < n_parts; i++)
        params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)parts[i].data,
                                                         parts[i].len);
    params[np] = OSSL_PARAM_construct_end();

    kdf = EVP_KDF_fetch(libctx, OSSL_KDF_NAME_TLS1_PRF, NULL);
    if (kdf != NULL)
        kctx = EVP_KDF_CTX_new(kdf);
    if (kctx != NULL)
        ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    /* The context keeps a copy of the secret; freeing it cleanses that copy. */
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (!ok)
        OPENSSL_cleanse(out, out_len);
    return ok;
}

bool lurk_tls12_prf(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *secret,
                    size_t secret_len, const char *label, const uint8_t *seed, size_t seed_len,
                    uint8_t *out, size_t out_len)
{
    struct seed_part parts[2] = {{label, label != NULL ? strlen(label) : 0}, {seed, seed_len}};

    if (label == NULL || (seed == NULL && seed_len != 0))
        return false;
    return prf_parts(libctx, prf_hash, secret, secret_len, parts, 2, out, out_len);
}

bool lurk_tls12_master_secret(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *premaster,
                              size_t premaster_len, const uint8_t client_random[LURK_RANDOM_LEN],
                              const uint8_t server_random[LURK_RANDOM_LEN],
                              uint8_t out[LURK_MASTER_LEN])
{
    static const char label[] = "master secret";
    struct seed_part parts[3] = {{label, sizeof(label) - 1},
                                 {client_random, LURK_RANDOM_LEN},
                                 {server_random, LURK_RANDOM_LEN}};

    return prf_parts(libctx, prf_hash, premaster, premaster_len, parts, 3, out, LURK_MASTER_LEN);
}

bool lurk_tls12_extended_master_secret(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                                       const uint8_t *premaster, size_t premaster_len,
                                       const uint8_t *session_hash, size_t session_hash_len,
                                       uint8_t out[LURK_MASTER_LEN])
{
    static const char label[] = "extended master secret";
    struct seed_part parts[2] = {{label, sizeof(label) - 1}, {session_hash, session_hash_len}};

    /* RFC 7627 §3: session_hash is Hash(handshake_messages) with the PRF hash. */
    if (session_hash == NULL || session_hash_len != lurk_tls12_prf_hash_len(prf_hash))
        return false;
    return prf_parts(libctx, prf_hash, premaster, premaster_len, parts, 2, out, LURK_MASTER_LEN);
}

bool lurk_tls12_key_block(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                          const uint8_t master[LURK_MASTER_LEN],
                          const uint8_t server_random[LURK_RANDOM_LEN],
                          const uint8_t client_random[LURK_RANDOM_LEN], uint8_t *out,
                          size_t out_len)
{
    static const char label[] = "key expansion";
    struct seed_part parts[3] = {{label, sizeof(label) - 1},
                                 {server_random, LURK_RANDOM_LEN},
                                 {client_random, LURK_RANDOM_LEN}};

    return prf_parts(libctx, prf_hash, master, LURK_MASTER_LEN, parts, 3, out, out_len);
}

bool lurk_tls12_handshake_hash(OSSL_LIB_CTX *libctx, uint8_t prf_hash, const uint8_t *messages,
                               size_t messages_len, uint8_t *out, size_t *out_len)
{
    const char *name = lurk_tls12_prf_hash_md_name(prf_hash);
    EVP_MD *md;
    unsigned int len = 0;
    bool ok;

    if (name == NULL || (messages == NULL && messages_len != 0))
        return false;
    md = EVP_MD_fetch(libctx, name, NULL);
    ok = md != NULL && EVP_Digest(messages, messages_len, out, &len, md, NULL) == 1 &&
         len == lurk_tls12_prf_hash_len(prf_hash);
    EVP_MD_free(md);
    if (ok)
        *out_len = len;
    return ok;
}

bool lurk_tls12_finished(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                         enum lurk_tls12_finished_sender sender,
                         const uint8_t master[LURK_MASTER_LEN], const uint8_t *handshake_hash,
                         size_t handshake_hash_len, uint8_t out[LURK_FINISHED_LEN])
{
    static const char client_label[] = "client finished";
    static const char server_label[] = "server finished";
    struct seed_part parts[2];

    switch (sender) {
    case LURK_TLS12_FINISHED_CLIENT:
        parts[0] = (struct seed_part){client_label, sizeof(client_label) - 1};
        break;
    case LURK_TLS12_FINISHED_SERVER:
        parts[0] = (struct seed_part){server_label, sizeof(server_label) - 1};
        break;
    default:
        return false;
    }
    if (handshake_hash == NULL || handshake_hash_len != lurk_tls12_prf_hash_len(prf_hash))
        return false;
    parts[1] = (struct seed_part){handshake_hash, handshake_hash_len};
    /* RFC 5246 §7.4.9: verify_data_length is 12 for every TLS 1.2 suite defined. */
    return prf_parts(libctx, prf_hash, master, LURK_MASTER_LEN, parts, 2, out, LURK_FINISHED_LEN);
}

bool lurk_tls12_finished_check(OSSL_LIB_CTX *libctx, uint8_t prf_hash,
                               enum lurk_tls12_finished_sender sender,
                               const uint8_t master[LURK_MASTER_LEN], const uint8_t *handshake_hash,
                               size_t handshake_hash_len,
                               const uint8_t verify_data[LURK_FINISHED_LEN])
{
    uint8_t expected[LURK_FINISHED_LEN];
    bool ok = lurk_tls12_finished(libctx, prf_hash, sender, master, handshake_hash,
                                  handshake_hash_len, expected) &&
              CRYPTO_memcmp(expected, verify_data, LURK_FINISHED_LEN) == 0;

    /* expected is PRF output keyed by the master secret: wipe it like the rest. */
    OPENSSL_cleanse(expected, sizeof(expected));
    return ok;
}
