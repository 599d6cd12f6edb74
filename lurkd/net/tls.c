/* The TLS transport; see tls.h. */
#include "net/tls.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ops/log.h"
#include "lurk/hex.h"
#include "ops/metrics.h"

bool lurkd_tls_attach(struct lurkd_conn *c, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        return false;
    }
    SSL_set_accept_state(ssl);
    c->ssl = ssl;
    c->transport = &lurkd_transport_tls;
    return true;
}

/* Who the handshake proved the peer is: the SHA-256 of its certificate's SPKI. */
static void peer_from_certificate(struct lurkd_conn *c)
{
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    unsigned char *der = NULL;
    int len = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    char hex[65];

    c->peer.kind = LURKD_PEER_TLS;
    if (len > 0)
        EVP_Digest(der, (size_t)len, c->peer.spki_sha256, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    lurk_hex_encode(c->peer.spki_sha256, sizeof(c->peer.spki_sha256), hex);
    snprintf(c->peer.text, sizeof(c->peer.text), "spki-sha256:%s", hex);
}

/* SSL_read/SSL_write/SSL_do_handshake returned r: again (want_write set) or an error. */
static ssize_t blocked_or_failed(struct lurkd_conn *c, int r)
{
    int e = SSL_get_error(c->ssl, r);

    /* Every read ends here (want_read); the queue is then usually empty. */
    if (ERR_peek_error() != 0)
        ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want_write = e == SSL_ERROR_WANT_WRITE;
        return LURKD_IO_AGAIN;
    }
    return e == SSL_ERROR_ZERO_RETURN ? 0 : LURKD_IO_ERROR;
}

static ssize_t tls_recv(struct lurkd_conn *c, uint8_t *buf, size_t len)
{
    int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

    return r > 0 ? r : blocked_or_failed(c, r);
}

/* One SSL object is never read and written from two threads: only the I/O thread sends. */
static ssize_t tls_send(struct lurkd_conn *c, const uint8_t *buf, size_t len)
{
    int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

    if (r > 0)
        return r;
    ssize_t st = blocked_or_failed(c, r);
    return st == 0 ? LURKD_IO_ERROR : st;
}

static int tls_handshake(struct lurkd_conn *c)
{
    int r = SSL_do_handshake(c->ssl);

    if (r == 1) {
        c->want_write = false;
        peer_from_certificate(c);
        lurkd_debug("TLS connection from %s", c->peer.text);
        return 1;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        c->want_write = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    unsigned long err = ERR_peek_last_error();
    char reason[256] = "connection closed";
    if (err != 0)
        ERR_error_string_n(err, reason, sizeof(reason));
    ERR_clear_error();
    lurkd_metrics_count(LURKD_COUNTER_TLS_HANDSHAKE_FAILURES);
    lurkd_info("TLS handshake with %s failed: %s", c->peer.text, reason);
    return -1;
}

/* A partial record in OpenSSL's buffer counts as an unfinished message (net/loop.c). */
static bool tls_pending(const struct lurkd_conn *c)
{
    return SSL_has_pending(c->ssl) == 1;
}

static void tls_free(struct lurkd_conn *c)
{
    /* No close_notify: the peer is gone or misbehaving, and it must not block us. */
    SSL_free(c->ssl);
    c->ssl = NULL;
}

const struct lurkd_transport lurkd_transport_tls = {
    .name = "tls",
    .recv = tls_recv,
    .send = tls_send,
    .handshake = tls_handshake,
    .pending = tls_pending,
    .free = tls_free,
    .worker_may_send = false,
};
