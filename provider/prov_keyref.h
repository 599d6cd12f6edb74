/*
 * LURK key reference: the small file nginx, haproxy and s_server are given
 * instead of a private key (DESIGN.md §6, docs/provider.md "Key reference").
 *
 *   LurkKeyReference ::= SEQUENCE {
 *       version               INTEGER (1),
 *       keyIdType             INTEGER (0),          -- sha256_32
 *       keyId                 OCTET STRING (SIZE(4)), -- SHA-256(SPKI DER)[0..3]
 *       subjectPublicKeyInfo  SubjectPublicKeyInfo,
 *       server            [0] EXPLICIT UTF8String OPTIONAL -- a lurk address
 *   }
 *
 * PEM label "LURK KEY REFERENCE". Shared by the provider and lurkctl; no
 * provider state here.
 */
#ifndef LURK_PROV_KEYREF_H
#define LURK_PROV_KEYREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/bytes.h"
#include "lurk/tls12.h"

#define LURK_KEYREF_PEM_LABEL "LURK KEY REFERENCE"
#define LURK_KEYREF_VERSION   1
/* The decoder's DATA_STRUCTURE between our PEM->DER and DER->key stages. */
#define LURK_KEYREF_STRUCTURE "LurkKeyReference"
/* An RSA-16384 SPKI is about 2 KiB; anything near this bound is not ours. */
#define LURK_KEYREF_MAX_DER 16384
/* struct lurk_address keeps 400 bytes of text, NUL included. */
#define LURK_KEYREF_MAX_SERVER 399

enum lurk_keyref_status {
    LURK_KEYREF_OK = 0,
    LURK_KEYREF_NOT_KEYREF,      /* does not even look like one: let other decoders try */
    LURK_KEYREF_MALFORMED,       /* truncated or not DER */
    LURK_KEYREF_BAD_VERSION,     /* version other than 1 */
    LURK_KEYREF_BAD_KEY_ID_TYPE, /* keyIdType other than sha256_32 */
    LURK_KEYREF_BAD_KEY_ID,      /* keyId not 4 bytes */
    LURK_KEYREF_BAD_SPKI,        /* not a SubjectPublicKeyInfo OpenSSL can decode */
    LURK_KEYREF_KEY_ID_MISMATCH, /* keyId != SHA-256(SPKI)[0..3] */
    LURK_KEYREF_BAD_SERVER,      /* server not a lurk address */
    LURK_KEYREF_TRAILING_DATA,   /* bytes after an element or after the SEQUENCE */
};

/* Key types the provider offers, and the curves TLS 1.3 has ECDSA schemes for. */
enum lurk_prov_key_type {
    LURK_PROV_KEY_RSA = 0,
    LURK_PROV_KEY_RSA_PSS,
    LURK_PROV_KEY_EC,
    LURK_PROV_KEY_ED25519,
    LURK_PROV_KEY_ED448,
    LURK_PROV_KEY_TYPES
};

enum lurk_prov_curve {
    LURK_PROV_CURVE_NONE = 0,
    LURK_PROV_CURVE_P256,
    LURK_PROV_CURVE_P384,
    LURK_PROV_CURVE_P521,
};

/*
 * The type of a public key; false (with a reason in why) for key types and
 * curves the provider does not offer (RFC 8446 §4.2.3 lists the ECDSA
 * curves; lurkd signs with nothing else either).
 */
bool lurk_prov_keyref_key_type(const EVP_PKEY *pkey, enum lurk_prov_key_type *type,
                               enum lurk_prov_curve *curve, char *why, size_t whylen);

struct lurk_keyref {
    uint8_t key_id_type;
    uint8_t key_id[LURK_KEY_ID_LEN];
    lurk_cbs spki; /* view of the input: the SPKI element, header included */
    bool has_server;
    char server[LURK_KEYREF_MAX_SERVER + 1];
};

/* Structure only, every byte through lurk_cbs; no cryptography. */
enum lurk_keyref_status lurk_prov_keyref_parse(const uint8_t *der, size_t len,
                                               struct lurk_keyref *out);

/*
 * parse, then decode the SPKI with d2i_PUBKEY_ex in libctx and check the
 * key id against it. On success *pub (if not NULL) receives the public key.
 */
enum lurk_keyref_status lurk_prov_keyref_decode(OSSL_LIB_CTX *libctx, const uint8_t *der,
                                                size_t len, struct lurk_keyref *out,
                                                EVP_PKEY **pub);

/* Appends the DER of a key reference; server may be NULL. */
bool lurk_prov_keyref_encode(lurk_cbb *cbb, const uint8_t key_id[LURK_KEY_ID_LEN],
                             const uint8_t *spki, size_t spki_len, const char *server);

/*
 * The PEM text of a key reference for a public key (or a certificate's
 * key), computing the key id in libctx. Returns a malloc'd NUL-terminated
 * string, or NULL with a reason in err.
 */
char *lurk_prov_keyref_pem_from_pkey(OSSL_LIB_CTX *libctx, const EVP_PKEY *pkey, const char *server,
                                     char *err, size_t errlen);

/* One-line description of a status, for messages. */
const char *lurk_prov_keyref_status_text(enum lurk_keyref_status st);

#endif
