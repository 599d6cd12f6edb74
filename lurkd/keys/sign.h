/*
 * Signature algorithms lurkd signs with, by TLS code point, and the one
 * signing function every exchange uses. What is signed is always content
 * lurkd built or parsed itself (docs/architecture.md §4); this module only refuses
 * algorithms that do not fit the key.
 */
#ifndef LURKD_KEYS_SIGN_H
#define LURKD_KEYS_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "keys/keystore.h"
#include "lurk/bytes.h"

enum lurkd_sig_padding {
    LURKD_SIG_PLAIN, /* ECDSA, EdDSA */
    LURKD_SIG_PKCS1, /* RSASSA-PKCS1-v1_5 */
    LURKD_SIG_PSS,   /* RSASSA-PSS, salt = hash length, MGF1 with the same hash */
};

struct lurkd_sig_alg {
    uint16_t code;  /* SignatureScheme / SignatureAndHashAlgorithm */
    const char *md; /* NULL for EdDSA (PureEdDSA signs the message) */
    enum lurkd_sig_padding padding;
    enum lurkd_key_kind kind; /* the key type it needs */
    uint16_t ec_group;        /* TLS 1.3 ECDSA: the curve it needs; 0 = any */
};

/* A TLS 1.3 SignatureScheme (RFC 8446 §4.2.3) usable with key, or NULL. */
const struct lurkd_sig_alg *lurkd_sig_alg_tls13(uint16_t scheme, const struct lurkd_key *key);
/* A TLS 1.2 SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1, RFC 8446 code points) for key. */
const struct lurkd_sig_alg *lurkd_sig_alg_tls12(uint16_t sig_and_hash, const struct lurkd_key *key);
/* Every TLS 1.3 scheme lurkd supports, for capabilities. */
extern const struct lurkd_sig_alg lurkd_sig_algs_tls13[];
extern const size_t lurkd_n_sig_algs_tls13;

/*
 * Signs tbs and appends opaque signature<0..2^16-1> to out. A key with a
 * check_key (an RSA key in an HSM) has every signature verified with it
 * first: a faulty RSA-CRT result must not leave lurkd (docs/performance.md,
 * "The provider's RSA verify"); such a signature is not appended (false).
 */
bool lurkd_sign(const struct lurkd_key *key, const struct lurkd_sig_alg *alg, const uint8_t *tbs,
                size_t tbs_len, lurk_cbb *out);
/*
 * Signs the RFC 8446 §4.4.3 CertificateVerify content lurkd builds itself:
 * 64 spaces, the context string of role (enum lurk_tls13_role), 0x00, and
 * the transcript hash. Appends opaque signature<0..2^16-1>.
 */
bool lurkd_sign_certificate_verify(const struct lurkd_key *key, const struct lurkd_sig_alg *alg,
                                   uint8_t role, const uint8_t *transcript_hash, size_t hash_len,
                                   lurk_cbb *out);

#endif
