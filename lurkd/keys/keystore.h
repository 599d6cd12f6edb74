/*
 * The private keys lurkd holds: loaded through OSSL_STORE (a file path or
 * any provider URI such as pkcs11:) or from an OpenSSL engine (engine_key.h),
 * identified by key id (docs/architecture.md §5: SHA-256 of the SubjectPublicKeyInfo
 * DER, first 4 bytes), with their optional certificate and the policy of
 * their [key.NAME] section.
 */
#ifndef LURKD_KEYS_KEYSTORE_H
#define LURKD_KEYS_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf/config.h"
#include "lurk/tls12.h"

enum lurkd_key_kind {
    LURKD_KEY_RSA,
    LURKD_KEY_RSA_PSS,
    LURKD_KEY_EC,
    LURKD_KEY_ED25519,
    LURKD_KEY_ED448,
};

struct lurkd_key {
    const struct lurkd_key_conf *conf;
    uint8_t id[LURK_KEY_ID_LEN];
    char id_hex[2 * LURK_KEY_ID_LEN + 1];
    EVP_PKEY *pkey;
    ENGINE *engine; /* an engine key: the engine holding it, NULL otherwise */
    /*
     * The private key is in lurkd's memory (OpenSSL's default or FIPS
     * provider), not in a token behind an engine or another provider
     * (pkcs11:, a TPM): only such keys are signed on the I/O threads, and
     * only their RSA-CRT results are checked inside libcrypto.
     */
    bool in_memory;
    enum lurkd_key_kind kind;
    uint32_t exchanges; /* the section's exchanges that this kind of key can do */
    uint16_t ec_group;  /* TLS NamedGroup of an EC key: 23, 24 or 25 */
    int bits;
    X509 *cert;        /* NULL when the key section names no certificate */
    uint8_t *cert_der; /* DER of cert */
    size_t cert_der_len;
    uint8_t *spki_der; /* SubjectPublicKeyInfo DER: the key id input, the raw public key */
    size_t spki_der_len;
    /* An RSA key not in memory: its public key, which checks every signature (keys/sign.h). */
    EVP_PKEY *check_key;
    struct lurkd_sign_cache *sign_cache; /* keys/sign_cache.h */
    struct lurkd_rsa_kx *rsa_kx;         /* RSA key transport enabled: rsa_premaster.h; else NULL */
};

struct lurkd_keystore {
    struct lurkd_key *keys;
    size_t n_keys;
};

/* Loads every key of cfg; on error returns NULL with "where: message" in err. */
struct lurkd_keystore *lurkd_keystore_load(const struct lurkd_config *cfg, char *err,
                                           size_t errlen);
void lurkd_keystore_free(struct lurkd_keystore *ks);
const struct lurkd_key *lurkd_keystore_find(const struct lurkd_keystore *ks,
                                            const uint8_t id[LURK_KEY_ID_LEN]);
const char *lurkd_key_kind_name(const struct lurkd_key *key);
/*
 * Appends the key's TypedCertificate for capabilities: its X.509 certificate,
 * or its raw public key (RFC 7250) when the key section names none.
 */
bool lurkd_key_encode_typed_certificate(const struct lurkd_key *key, lurk_cbb *out);

#endif
