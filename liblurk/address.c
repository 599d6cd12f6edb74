/* Parsing of unix:, tcp:// and tls:// service addresses; see address.h. */
#include "lurk/address.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(char *err, size_t errlen, const char *text, const char *why)
{
    snprintf(err, errlen, "bad address \"%s\": %s", text, why);
    return false;
}

static bool parse_host_port(const char *text, const char *hp, struct lurk_address *out, char *err,
                            size_t errlen)
{
    const char *colon, *host = hp;
    size_t host_len;

    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (close == NULL || close[1] != ':')
            return fail(err, errlen, text, "expected [ipv6]:port");
        host = hp + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL)
            return fail(err, errlen, text, "missing :port");
        host_len = (size_t)(colon - hp);
        if (memchr(hp, ':', host_len) != NULL)
            return fail(err, errlen, text, "IPv6 addresses go in brackets");
    }
    if (host_len == 0 || host_len >= sizeof(out->host))
        return fail(err, errlen, text, "empty or too long host");
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';

    const char *port = colon + 1;
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
        return fail(err, errlen, text, "port must be 0..65535 (0: any free port, for listeners)");
    snprintf(out->port, sizeof(out->port), "%ld", p);
    return true;
}

bool lurk_address_parse(const char *text, struct lurk_address *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || strlen(text) >= sizeof(out->text))
        return fail(err, errlen, text ? text : "", "missing or too long");
    strcpy(out->text, text);

    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        out->kind = LURK_ADDRESS_UNIX;
        if (path[0] == '\0')
            return fail(err, errlen, text, "empty socket path");
        if (strlen(path) >= sizeof(out->path))
            return fail(err, errlen, text, "socket path longer than 107 bytes");
        strcpy(out->path, path);
        return true;
    }
    if (strncmp(text, "tcp://", 6) == 0) {
        out->kind = LURK_ADDRESS_TCP;
        return parse_host_port(text, text + 6, out, err, errlen);
    }
    if (strncmp(text, "tls://", 6) == 0) {
        out->kind = LURK_ADDRESS_TLS;
        return parse_host_port(text, text + 6, out, err, errlen);
    }
    return fail(err, errlen, text, "expected unix:/path, tcp://host:port or tls://host:port");
}

bool lurk_address_is_loopback(const struct lurk_address *addr)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (addr->kind == LURK_ADDRESS_UNIX)
        return true;
    if (strcmp(addr->host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, addr->host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr->host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}
