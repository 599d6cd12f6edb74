/* Listening sockets; see listener.h. */
#include "net/listener.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>

#include "keys/secret_file.h"
#include "net/tls.h"

static void ssl_reason(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char r[256] = "";

    if (e != 0)
        ERR_error_string_n(e, r, sizeof(r));
    snprintf(buf, len, "%s%s%s", what, e ? ": " : "", r);
    ERR_clear_error();
}

SSL_CTX *lurkd_listener_tls_ctx(const struct lurkd_listener_conf *conf, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char what[600];

    if (ctx == NULL) {
        ssl_reason(err, errlen, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /*
     * One read() for every record the socket holds, not two per record
     * (header, then body): pipelined requests cost 2.4 reads each without
     * it (docs/performance.md, "Syscalls per request"). The I/O thread reads
     * until OpenSSL wants more, so nothing stays buffered unseen by epoll.
     */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Mutual authentication: no client certificate, no connection. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, conf->certificate) != 1) {
        snprintf(what, sizeof(what), "%s: certificate %s", conf->where, conf->certificate);
        goto fail;
    }
    if (!lurkd_secret_file_private(conf->private_key, err, errlen)) {
        char why[600];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "%s: private_key %s", conf->where, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, conf->private_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof(what), "%s: private_key %s", conf->where, conf->private_key);
        goto fail;
    }
    if (SSL_CTX_load_verify_file(ctx, conf->client_ca) != 1) {
        snprintf(what, sizeof(what), "%s: client_ca %s", conf->where, conf->client_ca);
        goto fail;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->client_ca);
    if (names != NULL)
        SSL_CTX_set_client_CA_list(ctx, names);
    if (!lurkd_tls_verify_setup(ctx, conf, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
fail:
    ssl_reason(err, errlen, what);
    SSL_CTX_free(ctx);
    return NULL;
}

/* Where a listener's address is configured, for errors about it. */
static const char *address_where(const struct lurkd_listener_conf *conf)
{
    return conf->address_where ? conf->address_where : conf->where;
}

static int listen_unix(const struct lurkd_listener_conf *conf, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct stat st;

    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", address_where(conf), strerror(errno));
        return -1;
    }
    memcpy(sun.sun_path, conf->addr.path, strlen(conf->addr.path) + 1);
    /* A socket file left by a previous run is replaced; any other file is not. */
    if (lstat(conf->addr.path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: %s exists and is not a socket", address_where(conf),
                     conf->addr.path);
            close(fd);
            return -1;
        }
        unlink(conf->addr.path);
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        chmod(conf->addr.path, conf->mode) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "%s: cannot listen on %s: %s", address_where(conf), conf->addr.text,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Port 0 asks the kernel for a free port: report the one it chose (tests use it). */
static void bound_port(int fd, struct lurk_address *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    unsigned port = 0;
    const char *scheme = addr->kind == LURK_ADDRESS_TLS ? "tls" : "tcp";
    bool v6 = strchr(addr->host, ':') != NULL;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(addr->port, sizeof(addr->port), "%u", port);
    snprintf(addr->text, sizeof(addr->text), "%s://%s%s%s:%u", scheme, v6 ? "[" : "", addr->host,
             v6 ? "]" : "", port);
}

static int listen_inet(const struct lurkd_listener_conf *conf, struct lurk_address *addr, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res;
    const char *host = strcmp(conf->addr.host, "*") == 0 ? NULL : conf->addr.host;
    int rc = getaddrinfo(host, conf->addr.port, &hints, &res), fd = -1;

    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot resolve %s: %s", address_where(conf), conf->addr.text,
                 gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            snprintf(err, errlen, "%s: cannot listen on %s: %s", address_where(conf),
                     conf->addr.text, strerror(errno));
            close(fd);
            fd = -1;
        } else if (strcmp(addr->port, "0") == 0) {
            bound_port(fd, addr);
        }
    } else {
        snprintf(err, errlen, "%s: socket: %s", address_where(conf), strerror(errno));
    }
    freeaddrinfo(res);
    return fd;
}

bool lurkd_listener_open(const struct lurkd_listener_conf *conf, struct lurkd_listener *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->addr = conf->addr;
    if (conf->addr.kind == LURK_ADDRESS_TLS) {
        out->tls = lurkd_listener_tls_ctx(conf, err, errlen);
        if (out->tls == NULL)
            return false;
    }
    out->fd = conf->addr.kind == LURK_ADDRESS_UNIX ? listen_unix(conf, err, errlen)
                                                   : listen_inet(conf, &out->addr, err, errlen);
    if (out->fd < 0) {
        SSL_CTX_free(out->tls);
        out->tls = NULL;
        return false;
    }
    return true;
}

void lurkd_listener_close(struct lurkd_listener *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        if (l->addr.kind == LURK_ADDRESS_UNIX)
            unlink(l->addr.path);
    }
    SSL_CTX_free(l->tls);
    l->fd = -1;
    l->tls = NULL;
}
