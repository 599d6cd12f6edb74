/* TLS 1.3 transcript hash; see tls13_transcript.h. */
#include "lurk/tls13_transcript.h"

#include <string.h>

#include <openssl/evp.h>

#include "lurk/tls13_keysched.h" /* LURK_TLS13_MAX_HASH_LEN */

/* HandshakeType message_hash (RFC 8446 §4). */
#define MESSAGE_HASH_TYPE 254

bool lurk_tls13_transcript_init(struct lurk_tls13_transcript *t, const EVP_MD *md)
{
    int n = md != NULL ? EVP_MD_get_size(md) : 0;

    t->ctx = NULL;
    t->hash_len = 0;
    if (n <= 0 || n > LURK_TLS13_MAX_HASH_LEN)
        return false;
    t->ctx = EVP_MD_CTX_new();
    if (t->ctx == NULL || EVP_DigestInit_ex(t->ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(t->ctx);
        t->ctx = NULL;
        return false;
    }
    t->hash_len = (size_t)n;
    return true;
}

void lurk_tls13_transcript_cleanup(struct lurk_tls13_transcript *t)
{
    if (t == NULL)
        return;
    EVP_MD_CTX_free(t->ctx);
    t->ctx = NULL;
    t->hash_len = 0;
}

bool lurk_tls13_transcript_copy(struct lurk_tls13_transcript *dst,
                                const struct lurk_tls13_transcript *src)
{
    dst->ctx = NULL;
    dst->hash_len = 0;
    if (src->ctx == NULL || (dst->ctx = EVP_MD_CTX_new()) == NULL)
        return false;
    if (EVP_MD_CTX_copy_ex(dst->ctx, src->ctx) != 1) {
        EVP_MD_CTX_free(dst->ctx);
        dst->ctx = NULL;
        return false;
    }
    dst->hash_len = src->hash_len;
    return true;
}

size_t lurk_tls13_transcript_hash_len(const struct lurk_tls13_transcript *t)
{
    return t->hash_len;
}

bool lurk_tls13_transcript_update(struct lurk_tls13_transcript *t, const uint8_t *data, size_t len)
{
    if (t->ctx == NULL || (data == NULL && len != 0))
        return false;
    return len == 0 || EVP_DigestUpdate(t->ctx, data, len) == 1;
}

bool lurk_tls13_transcript_hash(const struct lurk_tls13_transcript *t, uint8_t *out)
{
    EVP_MD_CTX *snap;
    unsigned int len = 0;
    bool ok;

    if (t->ctx == NULL)
        return false;
    /* Finalise a copy so the running transcript can keep growing. */
    snap = EVP_MD_CTX_new();
    ok = snap != NULL && EVP_MD_CTX_copy_ex(snap, t->ctx) == 1 &&
         EVP_DigestFinal_ex(snap, out, &len) == 1 && len == t->hash_len;
    EVP_MD_CTX_free(snap);
    return ok;
}

bool lurk_tls13_transcript_hello_retry(struct lurk_tls13_transcript *t)
{
    uint8_t msg[4 + LURK_TLS13_MAX_HASH_LEN];
    EVP_MD_CTX *fresh;
    bool ok;

    if (t->ctx == NULL)
        return false;
    /* RFC 8446 §4.4.1: Handshake{message_hash, uint24 Hash.length, Hash(ClientHello1)}. */
    msg[0] = MESSAGE_HASH_TYPE;
    msg[1] = 0;
    msg[2] = 0;
    msg[3] = (uint8_t)t->hash_len;
    if (!lurk_tls13_transcript_hash(t, msg + 4))
        return false;
    /* Build the replacement on the side so a failure leaves t as it was. */
    fresh = EVP_MD_CTX_new();
    ok = fresh != NULL && EVP_DigestInit_ex(fresh, EVP_MD_CTX_get0_md(t->ctx), NULL) == 1 &&
         EVP_DigestUpdate(fresh, msg, 4 + t->hash_len) == 1;
    if (!ok) {
        EVP_MD_CTX_free(fresh);
        return false;
    }
    EVP_MD_CTX_free(t->ctx);
    t->ctx = fresh;
    return true;
}
