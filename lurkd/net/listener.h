/*
 * Listening sockets: unix:, tcp:// and tls:// (TLS 1.3, client certificate
 * required, docs/architecture.md §3).
 */
#ifndef LURKD_NET_LISTENER_H
#define LURKD_NET_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/config.h"

struct lurkd_listener {
    int fd;
    struct lurk_address addr;
    SSL_CTX *tls; /* tls:// only */
    /* Open connections accepted here (net/accept.c, net/loop.c), for the metrics. */
    atomic_uint connections;
};

/* Binds and listens; errors name the listener's config line. */
bool lurkd_listener_open(const struct lurkd_listener_conf *conf, struct lurkd_listener *out,
                         char *err, size_t errlen);
/* A TLS server context from the listener's credentials (also used by SIGHUP reloads). */
SSL_CTX *lurkd_listener_tls_ctx(const struct lurkd_listener_conf *conf, char *err, size_t errlen);
void lurkd_listener_close(struct lurkd_listener *l);

#endif
