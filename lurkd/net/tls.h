/*
 * The TLS transport of tls:// listeners (TLS 1.3, client certificate
 * required; docs/architecture.md §3): an OpenSSL SSL object over
 * the connection's socket, the handshake, and the peer identity it proves.
 */
#ifndef LURKD_NET_TLS_H
#define LURKD_NET_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "conf/config.h"
#include "net/conn.h"

/*
 * lurkd_tls_attach gives c a server-side SSL object of ctx on its socket and
 * the TLS transport; false (nothing attached) on failure.
 */
bool lurkd_tls_attach(struct lurkd_conn *c, SSL_CTX *ctx);
/*
 * How a tls:// listener's ctx checks client certificates (docs/deploy.md
 * §2): the chain against client_ca, the CRLs of client_crl when set
 * (refused with certificate_revoked, audited), and the certificate against
 * the [client.NAME] identities in force: one that matches none is refused at
 * the handshake (handshake_failure, audited). No session resumption (tickets
 * are ignored): every connection is checked against the CRLs in force. False with a message
 * naming conf->where and the file on error.
 */
bool lurkd_tls_verify_setup(SSL_CTX *ctx, const struct lurkd_listener_conf *conf, char *err,
                            size_t errlen);

#endif
