/* The [metrics] HTTP endpoint; see metrics_http.h. */
#include "ops/metrics_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "conf/runtime.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "ops/metrics_gauges.h"

/* What a scrape may grow to: a few MiB hold thousands of keys' series. */
#define RENDER_INITIAL (64 * 1024)
#define RENDER_MAX     (16 * 1024 * 1024)
/* Request headers of a scraper fit in far less; more is refused by libmicrohttpd. */
#define REQUEST_MEMORY (16 * 1024)
/*
 * One address may hold this share of max_connections, and at least two (a
 * scraper's kept-alive connection and a health check from one host): the
 * timeout counts silence, not a request's whole time, so bytes trickled
 * faster than it hold a connection for as long as they come (libmicrohttpd
 * has no deadline per request); held from one address, they leave the rest.
 */
#define PER_ADDRESS_SHARE 4
#define PER_ADDRESS_MIN   2

static struct MHD_Daemon *daemon_handle;

int lurkd_metrics_http_bind(const struct lurkd_metrics_conf *mc, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int fd = -1, one = 1, rc;
    const char *at = mc->address_where ? mc->address_where : "[metrics]";

    rc = getaddrinfo(mc->addr.host, mc->addr.port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot listen on metrics address %s:%s: %s", at, mc->addr.host,
                 mc->addr.port, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "%s: cannot listen on metrics address %s:%s: %s", at, mc->addr.host,
                 mc->addr.port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const void *body, size_t len, bool allow_header)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow_header)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned code, const char *msg,
                            bool allow_header)
{
    return reply(conn, code, "text/plain; charset=utf-8", msg, strlen(msg), allow_header);
}

static enum MHD_Result scrape(struct MHD_Connection *conn)
{
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    struct lurkd_gauges g;
    lurk_cbb out;
    enum MHD_Result ret;
    bool ok = lurk_cbb_init(&out, RENDER_INITIAL, RENDER_MAX);

    lurkd_metrics_gauges_read(&g, rt);
    ok = ok && lurkd_metrics_render(&out, &g);
    if (ok)
        ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                    lurk_cbb_data(&out), lurk_cbb_len(&out), false);
    else
        ret = text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics do not fit in 16 MiB\n", false);
    lurk_cbb_cleanup(&out);
    lurkd_metrics_gauges_clear(&g);
    lurkd_runtime_unref(rt);
    return ret;
}

static enum MHD_Result ready(struct MHD_Connection *conn)
{
    struct lurkd_runtime *rt = lurkd_runtime_acquire();
    char why[256], body[300];
    bool ok = lurkd_metrics_ready(rt, why, sizeof(why));

    lurkd_runtime_unref(rt);
    snprintf(body, sizeof(body), "%s\n", why);
    return text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    bool known =
        strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0;

    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (!known)
        return text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n",
                    false);
    /* libmicrohttpd sends HEAD answers without their body. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n", true);
    if (strcmp(url, "/metrics") == 0)
        return scrape(conn);
    if (strcmp(url, "/healthz") == 0)
        return text(conn, MHD_HTTP_OK, "ok\n", false);
    return ready(conn);
}

/* A peer can make libmicrohttpd complain at will: one line a second at most. */
static struct lurkd_log_limit mhd_log_limit = LURKD_LOG_LIMIT_INIT;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], *cut;
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Its error pages are HTML: the status code before them says enough. */
    if ((cut = strstr(msg, " ('<html>")) != NULL) {
        cut[0] = ')';
        cut[1] = '\0';
    }
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    lurkd_log_limited(&mhd_log_limit, LURKD_LOG_WARN, "metrics endpoint: %s", msg);
}

bool lurkd_metrics_http_start(int fd, const struct lurkd_metrics_conf *mc, char *err, size_t errlen)
{
    unsigned per_address = mc->max_connections / PER_ADDRESS_SHARE;

    if (per_address < PER_ADDRESS_MIN)
        per_address = PER_ADDRESS_MIN;

    /*
     * One internal thread polls every connection: scrapes are rare and
     * short. The connection limits and the timeout bound what a peer of
     * the management network can hold (docs/deploy.md §8).
     */
    daemon_handle = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)mc->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)mc->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQUEST_MEMORY,
        MHD_OPTION_END);
    if (daemon_handle == NULL) {
        snprintf(err, errlen, "%s: cannot start the metrics endpoint on %s:%s",
                 mc->address_where ? mc->address_where : "[metrics]", mc->addr.host, mc->addr.port);
        return false;
    }
    return true;
}

void lurkd_metrics_http_stop(void)
{
    if (daemon_handle == NULL)
        return;
    MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
}
