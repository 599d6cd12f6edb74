/* The TLS transport; see tls.h. */
#include "net/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf/policy.h"
#include "conf/runtime.h"
#include "ops/audit.h"
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
    SSL_set_app_data(ssl, c); /* for verify_peer */
    c->ssl = ssl;
    c->transport = &lurkd_transport_tls;
    return true;
}

static void spki_sha256(X509 *cert, uint8_t out[32])
{
    unsigned char *der = NULL;
    int len = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;

    if (len > 0)
        EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
}

/*
 * Who the handshake proved the peer is: the SHA-256 of its certificate's
 * SPKI, and its names and issuers (kept by verify_peer).
 */
static void peer_from_certificate(struct lurkd_conn *c)
{
    char hex[65];

    c->peer.kind = LURKD_PEER_TLS;
    spki_sha256(SSL_get0_peer_certificate(c->ssl), c->peer.spki_sha256);
    lurk_hex_encode(c->peer.spki_sha256, sizeof(c->peer.spki_sha256), hex);
    snprintf(c->peer.text, sizeof(c->peer.text), "spki-sha256:%s", hex);
}

/* Errors that mean the chain did not reach a client_ca CA: anyone can cause them, not audited. */
static bool unknown_issuer(int err)
{
    switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_INVALID_CA:
        return true;
    default:
        return false;
    }
}

/* The alert OpenSSL sends for a verification error (RFC 8446 §6.2), for the audit line. */
static const char *alert_for(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_REVOKED:
        return "certificate_revoked";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
        return "certificate_expired";
    case X509_V_ERR_APPLICATION_VERIFICATION:
        return "handshake_failure";
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
        return "unknown_ca";
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
        return "decrypt_error";
    default:
        return "bad_certificate";
    }
}

/* One audit line per refused certificate of a known CA: who (address, subject, serial) and why. */
static void audit_refusal(const struct lurkd_conn *c, X509 *cert, int err)
{
    char subject[256] = "?", serial[80] = "?", note[600];
    BIGNUM *bn = cert ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;

    if (cert != NULL)
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    if (hex != NULL)
        snprintf(serial, sizeof(serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    snprintf(note, sizeof(note), "client certificate refused: %s; subject %s, serial %s",
             err == X509_V_ERR_APPLICATION_VERIFICATION ? "matches no [client.NAME]"
                                                        : X509_verify_cert_error_string(err),
             subject, serial);
    lurkd_audit_handshake_refused(c->peer.text, alert_for(err), note);
    /* A holder of a refused certificate can reconnect in a loop (docs/security.md). */
    static struct lurkd_log_limit refusals = LURKD_LOG_LIMIT_INIT;
    lurkd_log_limited(&refusals, LURKD_LOG_NOTICE, "TLS handshake with %s refused: %s",
                      c->peer.text, note);
}

/*
 * Whether the chain OpenSSL built is really a client_ca CA's: each
 * certificate's signature verifies with the key of the one above it, and
 * the top one is in client_ca. OpenSSL checks revocation (and chain
 * constraints) before signatures, so a forged certificate that only names
 * a CA as its issuer fails with certificate_revoked or unable_to_get_crl:
 * such a certificate is an unknown issuer's, never audited (its subject is
 * the forger's choice, and the audit rate limit is shared).
 */
static bool chain_from_client_ca(X509_STORE_CTX *xs)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xs);
    int n = sk_X509_num(chain);
    bool genuine = n > 0;

    for (int i = 0; genuine && i + 1 < n; i++) {
        EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(chain, i + 1));
        genuine = key != NULL && X509_verify(sk_X509_value(chain, i), key) == 1;
    }
    if (genuine) {
        X509 *top = sk_X509_value(chain, n - 1);
        STACK_OF(X509) *anchors = X509_STORE_CTX_get1_certs(xs, X509_get_subject_name(top));
        genuine = false;
        for (int i = 0; !genuine && i < sk_X509_num(anchors); i++)
            genuine = X509_cmp(sk_X509_value(anchors, i), top) == 0;
        sk_X509_pop_free(anchors, X509_free);
    }
    ERR_clear_error();
    return genuine;
}

/*
 * OpenSSL's verify callback: after its own checks (chain, validity, CRL) it
 * calls this once per certificate with ok = 1, the leaf last (depth 0).
 */
static int verify_peer(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct lurkd_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    int err = X509_STORE_CTX_get_error(xs);

    if (c == NULL)
        return 0;
    if (!ok) {
        if (unknown_issuer(err))
            return 0;
        /* A forgery naming a CA: refused for what it is, a signature that does not verify. */
        if (!chain_from_client_ca(xs)) {
            X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_SIGNATURE_FAILURE);
            return 0;
        }
        audit_refusal(c, X509_STORE_CTX_get_current_cert(xs), err);
        return 0;
    }
    if (X509_STORE_CTX_get_error_depth(xs) != 0)
        return 1;
    /* Which [client.NAME] is it? The one in force now decides (conf/policy.h). */
    struct lurkd_peer peer = c->peer;
    X509 *leaf = X509_STORE_CTX_get_current_cert(xs);
    peer.kind = LURKD_PEER_TLS;
    spki_sha256(leaf, peer.spki_sha256);
    peer.cert = calloc(1, sizeof(*peer.cert));
    if (peer.cert == NULL) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_OUT_OF_MEM);
        return 0;
    }
    lurkd_cert_identity_from_chain(peer.cert, X509_STORE_CTX_get0_chain(xs));
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    bool known = rt != NULL && lurkd_policy_known(rt->cfg, &peer);
    if (rt != NULL)
        lurkd_runtime_unref(rt);
    if (!known) {
        lurkd_cert_identity_free(peer.cert);
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        audit_refusal(c, leaf, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    /* verified once per connection; never twice, but never leak */
    lurkd_cert_identity_free(c->peer.cert);
    c->peer.cert = peer.cert;
    return 1;
}

/* client_crl: every CRL in the file (PEM, or one DER), each signed by a CA of client_ca. */
static bool load_crls(SSL_CTX *ctx, const struct lurkd_listener_conf *conf, char *err,
                      size_t errlen)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_CRL) *crls = NULL;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    char why[256];
    bool ok = false;

    if (!lurkd_crl_file_load(conf->client_crl, &crls, why, sizeof(why))) {
        snprintf(err, errlen, "%s: client_crl %s: %s", conf->where, conf->client_crl, why);
        return false;
    }
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *c = sk_X509_CRL_value(crls, i);
        bool signed_by_ca = false;
        for (int k = 0; !signed_by_ca && k < sk_X509_OBJECT_num(objs); k++) {
            X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, k));
            signed_by_ca = ca != NULL &&
                           X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(c)) == 0 &&
                           X509_CRL_verify(c, X509_get0_pubkey(ca)) == 1;
        }
        ERR_clear_error();
        if (!signed_by_ca) {
            char issuer[256];
            X509_NAME_oneline(X509_CRL_get_issuer(c), issuer, sizeof(issuer));
            snprintf(err, errlen,
                     "%s: client_crl %s: CRL %d (issuer %s) is not signed by a CA of client_ca %s",
                     conf->where, conf->client_crl, i + 1, issuer, conf->client_ca);
            goto out;
        }
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(c);
        if (next != NULL && X509_cmp_time(next, NULL) < 0)
            lurkd_warn("%s: client_crl %s: CRL %d is past its nextUpdate: every client certificate "
                       "of its CA is refused until a fresh CRL is loaded (SIGHUP)",
                       conf->where, conf->client_crl, i + 1);
        if (X509_STORE_add_crl(store, c) != 1) {
            ERR_clear_error();
            snprintf(err, errlen, "%s: client_crl %s: cannot use CRL %d", conf->where,
                     conf->client_crl, i + 1);
            goto out;
        }
    }
    /*
     * Every certificate of the chain is checked, intermediate CAs too
     * (docs/deploy.md §2): each CA's CRL must be there (a missing one
     * refuses, unknown_ca).
     */
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    ok = true;
out:
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return ok;
}

/* Every ticket a client offers: ignored, so the handshake is a full one. */
static SSL_TICKET_RETURN ignore_ticket(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
                                       size_t keyname_length, SSL_TICKET_STATUS status, void *arg)
{
    (void)s;
    (void)ss;
    (void)keyname;
    (void)keyname_length;
    (void)status;
    (void)arg;
    return SSL_TICKET_RETURN_IGNORE_RENEW;
}

bool lurkd_tls_verify_setup(SSL_CTX *ctx, const struct lurkd_listener_conf *conf, char *err,
                            size_t errlen)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_peer);
    /*
     * A resumed session skips verification: a revoked certificate would
     * come back through it. Tickets are still issued, as before (clients
     * expect them), but never honoured.
     */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_ticket_cb(ctx, NULL, ignore_ticket, NULL);
    return conf->client_crl == NULL || load_crls(ctx, conf, err, errlen);
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
    long verify = SSL_get_verify_result(c->ssl);
    char reason[384] = "connection closed";
    if (err != 0)
        ERR_error_string_n(err, reason, sizeof(reason));
    if (verify != X509_V_OK) {
        size_t used = strlen(reason);
        snprintf(reason + used, sizeof(reason) - used, " (client certificate: %s)",
                 verify == X509_V_ERR_APPLICATION_VERIFICATION
                     ? "matches no [client.NAME]"
                     : X509_verify_cert_error_string(verify));
    }
    ERR_clear_error();
    lurkd_metrics_count(LURKD_COUNTER_TLS_HANDSHAKE_FAILURES);
    /* Anyone who can connect can fail handshakes in a loop: one line a second, then a count. */
    static struct lurkd_log_limit failures = LURKD_LOG_LIMIT_INIT;
    lurkd_log_limited(&failures, LURKD_LOG_INFO, "TLS handshake with %s failed: %s", c->peer.text,
                      reason);
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
