/*
 * The TLS transport of tls:// listeners (TLS 1.3, client certificate
 * required; docs/architecture.md §3): an OpenSSL SSL object over
 * the connection's socket, the handshake, and the peer identity it proves.
 */
#ifndef LURKD_NET_TLS_H
#define LURKD_NET_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "net/conn.h"

/*
 * lurkd_tls_attach gives c a server-side SSL object of ctx on its socket and
 * the TLS transport; false (nothing attached) on failure.
 */
bool lurkd_tls_attach(struct lurkd_conn *c, SSL_CTX *ctx);

#endif
