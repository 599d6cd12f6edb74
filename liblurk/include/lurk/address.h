/*
 * LURK service addresses, as written in configs and on command lines:
 *   unix:/path/to/socket
 *   tcp://host:port      plain TCP (loopback, or an explicit insecure setting)
 *   tls://host:port      TLS 1.3 with mutual authentication
 * host may be a name, an IPv4 address or a bracketed IPv6 address.
 */
#ifndef LURK_ADDRESS_H
#define LURK_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

enum lurk_address_kind {
    LURK_ADDRESS_UNIX,
    LURK_ADDRESS_TCP,
    LURK_ADDRESS_TLS,
};

struct lurk_address {
    enum lurk_address_kind kind;
    char path[108]; /* unix: sun_path */
    char host[256]; /* tcp, tls: without brackets */
    char port[8];
    char text[400]; /* as given, for messages */
    /*
     * tcp, tls: a numeric address to connect to instead of resolving host
     * (the provider resolves names itself, docs/provider.md §4); host is still
     * the name lurkd's certificate must carry. Empty: resolve host.
     */
    char dial[64];
};

/* False with a one-line reason in err on anything malformed. */
bool lurk_address_parse(const char *text, struct lurk_address *out, char *err, size_t errlen);
/* True for unix sockets and for tcp/tls hosts that are loopback literals or "localhost". */
bool lurk_address_is_loopback(const struct lurk_address *addr);

#endif
