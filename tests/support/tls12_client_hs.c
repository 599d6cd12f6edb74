/* In-memory TLS 1.2 handshakes with client authentication; see tls12_client_hs.h. */
#include "tls12_client_hs.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct record {
    uint8_t *buf;
    size_t len, cap;
    bool done, failed;
    uint16_t sig_and_hash;
};

/* Every handshake message the client sends or receives, until its CertificateVerify. */
static void on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    struct record *r = arg;
    const uint8_t *b = buf;

    (void)version;
    (void)ssl;
    if (content_type != SSL3_RT_HANDSHAKE || r->done || len < 4)
        return;
    if (b[0] == SSL3_MT_CERTIFICATE_VERIFY && write_p) {
        r->sig_and_hash = (uint16_t)(len >= 6 ? b[4] << 8 | b[5] : 0);
        r->done = true;
        return;
    }
    if (r->len + len > r->cap) {
        size_t cap = (r->len + len) * 2;
        uint8_t *n = realloc(r->buf, cap);
        if (n == NULL) {
            r->failed = true;
            return;
        }
        r->buf = n;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, buf, len);
    r->len += len;
}

static int accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1;
}

X509 *lurk_test_self_signed(EVP_PKEY *key, const char *name)
{
    X509 *x = X509_new();
    X509_NAME *n;

    if (x == NULL)
        return NULL;
    n = X509_get_subject_name(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, n);
    if (X509_set_pubkey(x, key) != 1 ||
        X509_sign(x, key,
                  EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")
                      ? NULL
                      : EVP_sha256()) == 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

bool lurk_test_tls12_client_hs(const struct lurk_test_tls12_hs *o, uint8_t **msgs, size_t *len,
                               uint16_t *sig_and_hash)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method()), *sctx = SSL_CTX_new(TLS_server_method());
    SSL *c = NULL, *s = NULL;
    BIO *cb = NULL, *sb = NULL;
    EVP_PKEY *skey = o->server_key;
    X509 *scert = o->server_cert;
    struct record r = {0};
    bool ok = false;

    if (skey == NULL) {
        skey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        scert = skey != NULL ? lurk_test_self_signed(skey, "server") : NULL;
    }
    if (cctx == NULL || sctx == NULL || skey == NULL || scert == NULL)
        goto out;
    SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
    SSL_CTX_set_security_level(cctx, 0);
    SSL_CTX_set_security_level(sctx, 0);
    SSL_CTX_set_dh_auto(sctx, 1);
    if (o->ciphers != NULL && (SSL_CTX_set_cipher_list(cctx, o->ciphers) != 1 ||
                               SSL_CTX_set_cipher_list(sctx, o->ciphers) != 1))
        goto out;
    if (o->client_sigalgs != NULL && SSL_CTX_set1_client_sigalgs_list(sctx, o->client_sigalgs) != 1)
        goto out;
    if (SSL_CTX_use_certificate(sctx, scert) != 1 || SSL_CTX_use_PrivateKey(sctx, skey) != 1 ||
        SSL_CTX_use_certificate(cctx, o->client_cert) != 1 ||
        SSL_CTX_use_PrivateKey(cctx, o->client_key) != 1)
        goto out;
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
    c = SSL_new(cctx);
    s = SSL_new(sctx);
    if (c == NULL || s == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
        goto out;
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_msg_callback(c, on_msg);
    SSL_set_msg_callback_arg(c, &r);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    /* Bounded: a TLS 1.2 handshake takes a few rounds. */
    for (int i = 0; i < 50; i++) {
        int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
        if (rc == 1 && rs == 1) {
            ok = true;
            break;
        }
        if ((rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
            (rs != 1 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
            break;
    }
    ok = ok && r.done && !r.failed && SSL_version(c) == TLS1_2_VERSION;
out:
    if (!ok)
        ERR_print_errors_fp(stderr);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    if (o->server_key == NULL) {
        EVP_PKEY_free(skey);
        X509_free(scert);
    }
    if (!ok) {
        free(r.buf);
        return false;
    }
    *msgs = r.buf;
    *len = r.len;
    *sig_and_hash = r.sig_and_hash;
    return true;
}
