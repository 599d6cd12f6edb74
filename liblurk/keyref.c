/* LURK key reference DER and PEM; see keyref.h and docs/provider.md. */
#include "lurk/keyref.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lurk/address.h"
#include "lurk/keyid.h"

/*
 * A DER input "claims" to be a key reference when, after the outer SEQUENCE
 * header, it starts with two one-byte INTEGERs and an OCTET STRING: no
 * private or public key format OpenSSL reads starts that way (PKCS#1 and
 * DSA keys follow their version with a multi-byte INTEGER, ECPrivateKey with
 * an OCTET STRING, PKCS#8 and SPKI with a SEQUENCE). Only claimed inputs get
 * an error; anything else is left to the other decoders in silence.
 */
static bool claims_keyref(const uint8_t *der, size_t len)
{
    lurk_cbs in;
    uint8_t tag, l, b[7];

    lurk_cbs_init(&in, der, len);
    if (!lurk_cbs_get_u8(&in, &tag) || tag != LURK_ASN1_SEQUENCE || !lurk_cbs_get_u8(&in, &l))
        return false;
    /* The length may exceed what is there (truncated input): it is not checked here. */
    if ((l & 0x80) != 0 && ((l & 0x7f) == 0 || (l & 0x7f) > 4 || !lurk_cbs_skip(&in, l & 0x7f)))
        return false;
    if (!lurk_cbs_copy_bytes(&in, b, sizeof(b)))
        return false;
    return b[0] == LURK_ASN1_INTEGER && b[1] == 1 && b[3] == LURK_ASN1_INTEGER && b[4] == 1 &&
           b[6] == LURK_ASN1_OCTET_STRING;
}

/* A one-byte non-negative INTEGER (all this format uses); -1 otherwise. */
static int small_integer(const lurk_cbs *content)
{
    uint8_t v;
    lurk_cbs c = *content;

    if (lurk_cbs_len(&c) != 1 || !lurk_cbs_get_u8(&c, &v) || v > 0x7f)
        return -1;
    return v;
}

static enum lurk_keyref_status parse_server(lurk_cbs *seq, struct lurk_keyref *out)
{
    lurk_cbs explicit_content, utf8;
    struct lurk_address addr;
    char err[256];
    size_t n;

    if (!lurk_cbs_get_asn1(seq, &explicit_content, LURK_ASN1_CONTEXT(0)))
        return LURK_KEYREF_MALFORMED;
    if (!lurk_cbs_get_asn1(&explicit_content, &utf8, LURK_ASN1_UTF8STRING) ||
        lurk_cbs_len(&explicit_content) != 0)
        return LURK_KEYREF_BAD_SERVER;
    n = lurk_cbs_len(&utf8);
    if (n == 0 || n > LURK_KEYREF_MAX_SERVER || memchr(lurk_cbs_data(&utf8), '\0', n) != NULL)
        return LURK_KEYREF_BAD_SERVER;
    if (!lurk_cbs_copy_bytes(&utf8, (uint8_t *)out->server, n))
        return LURK_KEYREF_MALFORMED;
    out->server[n] = '\0';
    if (!lurk_address_parse(out->server, &addr, err, sizeof(err)))
        return LURK_KEYREF_BAD_SERVER;
    out->has_server = true;
    return LURK_KEYREF_OK;
}

enum lurk_keyref_status lurk_keyref_parse(const uint8_t *der, size_t len, struct lurk_keyref *out)
{
    lurk_cbs in, seq, version, id_type, key_id;
    int v;

    memset(out, 0, sizeof(*out));
    if (der == NULL || !claims_keyref(der, len))
        return LURK_KEYREF_NOT_KEYREF;
    lurk_cbs_init(&in, der, len);
    if (!lurk_cbs_get_asn1(&in, &seq, LURK_ASN1_SEQUENCE))
        return LURK_KEYREF_MALFORMED;
    if (lurk_cbs_len(&in) != 0)
        return LURK_KEYREF_TRAILING_DATA;

    if (!lurk_cbs_get_asn1(&seq, &version, LURK_ASN1_INTEGER))
        return LURK_KEYREF_MALFORMED;
    if (small_integer(&version) != LURK_KEYREF_VERSION)
        return LURK_KEYREF_BAD_VERSION;

    if (!lurk_cbs_get_asn1(&seq, &id_type, LURK_ASN1_INTEGER))
        return LURK_KEYREF_MALFORMED;
    v = small_integer(&id_type);
    if (v != LURK_KEY_ID_TYPE_SHA256_32)
        return LURK_KEYREF_BAD_KEY_ID_TYPE;
    out->key_id_type = (uint8_t)v;

    if (!lurk_cbs_get_asn1(&seq, &key_id, LURK_ASN1_OCTET_STRING))
        return LURK_KEYREF_MALFORMED;
    if (lurk_cbs_len(&key_id) != LURK_KEY_ID_LEN ||
        !lurk_cbs_copy_bytes(&key_id, out->key_id, LURK_KEY_ID_LEN))
        return LURK_KEYREF_BAD_KEY_ID;

    if (!lurk_cbs_peek_asn1_tag(&seq, LURK_ASN1_SEQUENCE))
        return lurk_cbs_len(&seq) == 0 ? LURK_KEYREF_MALFORMED : LURK_KEYREF_BAD_SPKI;
    if (!lurk_cbs_get_asn1_element(&seq, &out->spki, LURK_ASN1_SEQUENCE))
        return LURK_KEYREF_MALFORMED;

    if (lurk_cbs_peek_asn1_tag(&seq, LURK_ASN1_CONTEXT(0))) {
        enum lurk_keyref_status st = parse_server(&seq, out);
        if (st != LURK_KEYREF_OK)
            return st;
    }
    if (lurk_cbs_len(&seq) != 0)
        return LURK_KEYREF_TRAILING_DATA;
    return LURK_KEYREF_OK;
}

enum lurk_keyref_status lurk_keyref_decode(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t len,
                                           struct lurk_keyref *out, EVP_PKEY **pub)
{
    enum lurk_keyref_status st = lurk_keyref_parse(der, len, out);
    const unsigned char *p;
    size_t spki_len;
    uint8_t id[LURK_KEY_ID_LEN];
    EVP_PKEY *pkey;

    if (pub != NULL)
        *pub = NULL;
    if (st != LURK_KEYREF_OK)
        return st;
    p = lurk_cbs_data(&out->spki);
    spki_len = lurk_cbs_len(&out->spki);
    if (spki_len > LONG_MAX)
        return LURK_KEYREF_BAD_SPKI;
    /* The SPKI decodes in the caller's context (the provider's private one). */
    pkey = d2i_PUBKEY_ex(NULL, &p, (long)spki_len, libctx, NULL);
    if (pkey == NULL || p != lurk_cbs_data(&out->spki) + spki_len) {
        EVP_PKEY_free(pkey);
        return LURK_KEYREF_BAD_SPKI;
    }
    /* The id is the hash of the SPKI bytes as written, the bytes lurkd hashed too. */
    if (!lurk_keyid_from_spki(libctx, lurk_cbs_data(&out->spki), spki_len, id)) {
        EVP_PKEY_free(pkey);
        return LURK_KEYREF_BAD_SPKI;
    }
    if (CRYPTO_memcmp(id, out->key_id, LURK_KEY_ID_LEN) != 0) {
        EVP_PKEY_free(pkey);
        return LURK_KEYREF_KEY_ID_MISMATCH;
    }
    if (pub != NULL)
        *pub = pkey;
    else
        EVP_PKEY_free(pkey);
    return LURK_KEYREF_OK;
}

bool lurk_keyref_encode(lurk_cbb *cbb, const uint8_t key_id[LURK_KEY_ID_LEN], const uint8_t *spki,
                        size_t spki_len, const char *server)
{
    lurk_cbb_mark seq, octets, tagged, utf8;

    lurk_cbb_begin_asn1(cbb, &seq, LURK_ASN1_SEQUENCE);
    lurk_cbb_add_bytes(cbb, (const uint8_t[]){LURK_ASN1_INTEGER, 1, LURK_KEYREF_VERSION}, 3);
    lurk_cbb_add_bytes(cbb, (const uint8_t[]){LURK_ASN1_INTEGER, 1, LURK_KEY_ID_TYPE_SHA256_32}, 3);
    lurk_cbb_begin_asn1(cbb, &octets, LURK_ASN1_OCTET_STRING);
    lurk_cbb_add_bytes(cbb, key_id, LURK_KEY_ID_LEN);
    lurk_cbb_end_asn1(cbb, &octets);
    lurk_cbb_add_bytes(cbb, spki, spki_len);
    if (server != NULL) {
        if (strlen(server) == 0 || strlen(server) > LURK_KEYREF_MAX_SERVER)
            return false;
        lurk_cbb_begin_asn1(cbb, &tagged, LURK_ASN1_CONTEXT(0));
        lurk_cbb_begin_asn1(cbb, &utf8, LURK_ASN1_UTF8STRING);
        lurk_cbb_add_bytes(cbb, (const uint8_t *)server, strlen(server));
        lurk_cbb_end_asn1(cbb, &utf8);
        lurk_cbb_end_asn1(cbb, &tagged);
    }
    lurk_cbb_end_asn1(cbb, &seq);
    return lurk_cbb_ok(cbb);
}

bool lurk_keyref_classify_key(const EVP_PKEY *pkey, enum lurk_keyref_key_type *type,
                              enum lurk_keyref_curve *curve, char *why, size_t whylen)
{
    char group[64];
    size_t glen = 0;
    int nid;

    *curve = LURK_KEYREF_CURVE_NONE;
    if (EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        *type = LURK_KEYREF_KEY_RSA_PSS;
    } else if (EVP_PKEY_is_a(pkey, "RSA")) {
        *type = LURK_KEYREF_KEY_RSA;
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *type = LURK_KEYREF_KEY_ED25519;
    } else if (EVP_PKEY_is_a(pkey, "ED448")) {
        *type = LURK_KEYREF_KEY_ED448;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        *type = LURK_KEYREF_KEY_EC;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            &glen)) {
            snprintf(why, whylen, "EC key without a named curve");
            return false;
        }
        nid = OBJ_txt2nid(group);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(group);
        if (nid == NID_X9_62_prime256v1)
            *curve = LURK_KEYREF_CURVE_P256;
        else if (nid == NID_secp384r1)
            *curve = LURK_KEYREF_CURVE_P384;
        else if (nid == NID_secp521r1)
            *curve = LURK_KEYREF_CURVE_P521;
        else {
            snprintf(why, whylen, "EC curve %s (only P-256, P-384 and P-521)", group);
            return false;
        }
    } else {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        snprintf(why, whylen, "key type %s (only RSA, RSA-PSS, EC, Ed25519 and Ed448)",
                 name != NULL ? name : "unknown");
        return false;
    }
    return true;
}

char *lurk_keyref_pem_from_pkey(OSSL_LIB_CTX *libctx, const EVP_PKEY *pkey, const char *server,
                                char *err, size_t errlen)
{
    enum lurk_keyref_key_type type;
    enum lurk_keyref_curve curve;
    struct lurk_address addr;
    uint8_t *spki = NULL, id[LURK_KEY_ID_LEN];
    char *pem = NULL, *mem;
    int spki_len;
    long pem_len;
    lurk_cbb cbb;
    BIO *bio = NULL;

    if (!lurk_keyref_classify_key(pkey, &type, &curve, err, errlen))
        return NULL;
    if (server != NULL && !lurk_address_parse(server, &addr, err, errlen))
        return NULL;
    spki_len = i2d_PUBKEY(pkey, &spki);
    if (spki_len <= 0) {
        snprintf(err, errlen, "cannot encode the public key");
        return NULL;
    }
    if (!lurk_keyid_from_spki(libctx, spki, (size_t)spki_len, id)) {
        snprintf(err, errlen, "cannot compute the key id");
        OPENSSL_free(spki);
        return NULL;
    }
    if (!lurk_cbb_init(&cbb, (size_t)spki_len + 512, LURK_KEYREF_MAX_DER) ||
        !lurk_keyref_encode(&cbb, id, spki, (size_t)spki_len, server)) {
        snprintf(err, errlen, "cannot encode the key reference");
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio(bio, LURK_KEYREF_PEM_LABEL, "", lurk_cbb_data(&cbb),
                                     (long)lurk_cbb_len(&cbb)) <= 0) {
        snprintf(err, errlen, "cannot write PEM");
        goto out;
    }
    pem_len = BIO_get_mem_data(bio, &mem);
    pem = OPENSSL_malloc((size_t)pem_len + 1);
    if (pem == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(pem, mem, (size_t)pem_len);
    pem[pem_len] = '\0';
out:
    BIO_free(bio);
    lurk_cbb_cleanup(&cbb);
    OPENSSL_free(spki);
    return pem;
}

const char *lurk_keyref_status_text(enum lurk_keyref_status st)
{
    switch (st) {
    case LURK_KEYREF_OK:
        return "ok";
    case LURK_KEYREF_NOT_KEYREF:
        return "not a LURK key reference";
    case LURK_KEYREF_MALFORMED:
        return "truncated or malformed DER";
    case LURK_KEYREF_BAD_VERSION:
        return "version is not 1";
    case LURK_KEYREF_BAD_KEY_ID_TYPE:
        return "key id type is not sha256_32 (0)";
    case LURK_KEYREF_BAD_KEY_ID:
        return "key id is not 4 bytes";
    case LURK_KEYREF_BAD_SPKI:
        return "the SubjectPublicKeyInfo does not decode";
    case LURK_KEYREF_KEY_ID_MISMATCH:
        return "key id is not SHA-256(SubjectPublicKeyInfo)[0..3]";
    case LURK_KEYREF_BAD_SERVER:
        return "server is not unix:/path, tcp://host:port or tls://host:port";
    case LURK_KEYREF_TRAILING_DATA:
        return "trailing data";
    }
    return "unknown";
}
