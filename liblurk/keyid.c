/* sha256_32 key identifiers; see keyid.h. */
#include "lurk/keyid.h"

#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* First 4 bytes of SHA-256(der) (draft-mglt-lurk-tls12 §4.1, KeyPairID sha256_32). */
static bool hash_spki(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t len,
                      uint8_t out[LURK_KEY_ID_LEN])
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA256", NULL);
    bool ok =
        md != NULL && EVP_Digest(der, len, digest, &dlen, md, NULL) == 1 && dlen >= LURK_KEY_ID_LEN;

    if (ok)
        memcpy(out, digest, LURK_KEY_ID_LEN);
    EVP_MD_free(md);
    return ok;
}

bool lurk_keyid_from_pkey(OSSL_LIB_CTX *libctx, const EVP_PKEY *pkey, uint8_t out[LURK_KEY_ID_LEN])
{
    uint8_t *der = NULL;
    int len;

    if (pkey == NULL)
        return false;
    /* For a private key this writes the public part only (SubjectPublicKeyInfo). */
    len = i2d_PUBKEY(pkey, &der);
    if (len <= 0)
        return false;
    bool ok = hash_spki(libctx, der, (size_t)len, out);
    OPENSSL_free(der);
    return ok;
}

bool lurk_keyid_from_spki(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t len,
                          uint8_t out[LURK_KEY_ID_LEN])
{
    const unsigned char *p = der;
    EVP_PKEY *pkey;

    if (der == NULL || len == 0 || len > LONG_MAX)
        return false;
    /* Decoding proves the bytes are one whole SPKI, not a prefix of something else. */
    pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, NULL);
    if (pkey == NULL)
        return false;
    bool ok = p == der + len && hash_spki(libctx, der, len, out);
    EVP_PKEY_free(pkey);
    return ok;
}

bool lurk_keyid_from_x509(OSSL_LIB_CTX *libctx, const X509 *cert, uint8_t out[LURK_KEY_ID_LEN])
{
    uint8_t *der = NULL;
    int len;

    if (cert == NULL)
        return false;
    /* The SPKI exactly as the certificate carries it (RFC 5280 §4.1.2.7). */
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (len <= 0)
        return false;
    bool ok = hash_spki(libctx, der, (size_t)len, out);
    OPENSSL_free(der);
    return ok;
}
