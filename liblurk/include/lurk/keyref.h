/*
 * LURK key reference: the small file nginx, haproxy and s_server are given
 * instead of a private key (docs/provider.md "Key reference").
 *
 *   LurkKeyReference ::= SEQUENCE {
 *       version               INTEGER (1),
 *       keyIdType             INTEGER (0),          -- sha256_32
 *       keyId                 OCTET STRING (SIZE(4)), -- SHA-256(SPKI DER)[0..3]
 *       subjectPublicKeyInfo  SubjectPublicKeyInfo,
 *       server            [0] EXPLICIT UTF8String OPTIONAL -- a lurk address
 *   }
 *
 * PEM label "LURK KEY REFERENCE". A file format, so it lives in liblurk:
 * the provider decodes it, lurkctl writes it (docs/provider.md "lurkctl
 * keyref"). The DER is read only through the lurk_cbs reader; nothing here
 * talks to lurkd.
 */
#ifndef LURK_KEYREF_H
#define LURK_KEYREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/bytes.h"
#include "lurk/tls12.h"

/* The PEM label of a key reference. */
#define LURK_KEYREF_PEM_LABEL "LURK KEY REFERENCE"
/* The only version this format has. */
#define LURK_KEYREF_VERSION 1
/*
 * The ASN.1 type name, which the provider's decoders also use as the
 * DATA_STRUCTURE between their PEM->DER and DER->key stages.
 */
#define LURK_KEYREF_STRUCTURE "LurkKeyReference"
/* An RSA-16384 SPKI is about 2 KiB; anything near this bound is not ours. */
#define LURK_KEYREF_MAX_DER 16384
/* struct lurk_address keeps 400 bytes of text, NUL included. */
#define LURK_KEYREF_MAX_SERVER 399

/* What lurk_keyref_parse and lurk_keyref_decode make of their input. */
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

/* The key types a key reference may carry: those the provider offers. */
enum lurk_keyref_key_type {
    LURK_KEYREF_KEY_RSA = 0,
    LURK_KEYREF_KEY_RSA_PSS,
    LURK_KEYREF_KEY_EC,
    LURK_KEYREF_KEY_ED25519,
    LURK_KEYREF_KEY_ED448,
    LURK_KEYREF_KEY_TYPES
};

/* The curves TLS 1.3 has ECDSA schemes for (RFC 8446 §4.2.3); NONE for other types. */
enum lurk_keyref_curve {
    LURK_KEYREF_CURVE_NONE = 0,
    LURK_KEYREF_CURVE_P256,
    LURK_KEYREF_CURVE_P384,
    LURK_KEYREF_CURVE_P521,
};

/*
 * The type of a public key; false (with a reason in why) for key types and
 * curves the provider does not offer (RFC 8446 §4.2.3 lists the ECDSA
 * curves; lurkd signs with nothing else either).
 */
bool lurk_keyref_classify_key(const EVP_PKEY *pkey, enum lurk_keyref_key_type *type,
                              enum lurk_keyref_curve *curve, char *why, size_t whylen);

/* A parsed key reference; the SPKI is a view of the parsed bytes. */
struct lurk_keyref {
    uint8_t key_id_type;
    uint8_t key_id[LURK_KEY_ID_LEN];
    lurk_cbs spki; /* view of the input: the SPKI element, header included */
    bool has_server;
    char server[LURK_KEYREF_MAX_SERVER + 1];
};

/*
 * Checks the structure of len bytes of DER and fills out. Structure only,
 * every byte through lurk_cbs; no cryptography. Input that does not even
 * start like a key reference gives LURK_KEYREF_NOT_KEYREF, so a decoder can
 * leave it to others without an error.
 */
enum lurk_keyref_status lurk_keyref_parse(const uint8_t *der, size_t len, struct lurk_keyref *out);

/*
 * lurk_keyref_parse, then decodes the SPKI with d2i_PUBKEY_ex in libctx
 * (NULL: the default library context) and checks the key id against it. On
 * success *pub (if not NULL) receives the public key, owned by the caller.
 */
enum lurk_keyref_status lurk_keyref_decode(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t len,
                                           struct lurk_keyref *out, EVP_PKEY **pub);

/*
 * Appends the DER of a key reference to cbb: key_id and the spki_len bytes
 * of SPKI DER as given; server (a lurk address) may be NULL. False when cbb
 * failed or server is empty or too long.
 */
bool lurk_keyref_encode(lurk_cbb *cbb, const uint8_t key_id[LURK_KEY_ID_LEN], const uint8_t *spki,
                        size_t spki_len, const char *server);

/*
 * The PEM text of a key reference for a public key (or a certificate's
 * key), computing the key id in libctx; server may be NULL. Returns a
 * NUL-terminated string the caller frees with OPENSSL_free, or NULL with a
 * reason in err.
 */
char *lurk_keyref_pem_from_pkey(OSSL_LIB_CTX *libctx, const EVP_PKEY *pkey, const char *server,
                                char *err, size_t errlen);

/* One-line description of a status, for messages. */
const char *lurk_keyref_status_text(enum lurk_keyref_status st);

#endif
