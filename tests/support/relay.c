/*
 * lurk-test-relay: a TCP relay for the fleet test and benchmark
 * (docs/architecture.md §7). The kernel of the test machines has no netem,
 * so the delay of a data-centre network between front ends and lurkd is made
 * here: every chunk read from one side is written to the other side a fixed
 * time after it was read, in each direction. On command it stalls (accepts,
 * keeps the connections open, forwards nothing: a server that never answers)
 * or drops every connection with a reset.
 *
 *   lurk-test-relay --listen ADDR:PORT --upstream ADDR:PORT [--delay-ms N]
 *                   [--control PATH] [--max-connections N]
 *   lurk-test-relay --control PATH COMMAND     (sends COMMAND, prints the reply)
 *
 * Commands on the control socket, one line each: "delay MS", "stall",
 * "resume", "drop", "stats". Replies start with "ok" or "error:".
 *
 * Bounded: at most --max-connections relayed connections (more are reset at
 * accept), at most RELAY_MAX_QUEUED bytes queued per direction (a full queue
 * stops reading that side), one control command per control connection,
 * read with a one-second timeout. SIGTERM or SIGINT frees everything and
 * exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RELAY_CHUNK        16384
#define RELAY_MAX_QUEUED   (1024 * 1024)
#define RELAY_MAX_CONNS    4096
#define RELAY_MAX_DELAY_MS 60000
#define RELAY_CMD_MAX      128

struct chunk {
    struct chunk *next;
    uint64_t due_ns; /* when it may be written */
    size_t len, off;
    bool eof; /* the source side closed: shut the destination's write side */
    unsigned char data[];
};

/* One direction of a connection: bytes read from src, queued, written to dst. */
struct direction {
    struct chunk *head, *tail;
    size_t queued;
    bool eof_read; /* src returned end of file */
    bool eof_sent; /* dst was shut for writing */
};

struct conn {
    int cfd, ufd;              /* client side, upstream side */
    bool connecting;           /* upstream connect() in progress */
    struct direction up, down; /* client to upstream, upstream to client */
};

struct relay {
    int lfd, ctl_fd;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    uint64_t delay_ns;
    bool stalled;
    size_t max_conns, nconns;
    struct conn **conns;
    unsigned long long accepted, refused, upstream_failed, bytes_up, bytes_down;
};

static volatile sig_atomic_t relay_stop;

static void on_signal(int sig)
{
    (void)sig;
    relay_stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: lurk-test-relay --listen ADDR:PORT --upstream ADDR:PORT "
                    "[--delay-ms N] [--control PATH] [--max-connections N]\n"
                    "       lurk-test-relay --control PATH delay MS|stall|resume|drop|stats\n");
}

/* "ADDR:PORT" or "[ADDR]:PORT", numeric only: the test knows its addresses. */
static bool parse_addr(const char *opt, const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(s, ':');
    struct addrinfo hints = {0}, *res = NULL;
    size_t hl;
    int rc;

    if (colon == NULL || colon == s || colon[1] == '\0') {
        fprintf(stderr, "lurk-test-relay: %s: expected ADDR:PORT, got '%s'\n", opt, s);
        return false;
    }
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        fprintf(stderr, "lurk-test-relay: %s: address too long\n", opt);
        return false;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "lurk-test-relay: %s: '%s': %s\n", opt, s, gai_strerror(rc));
        return false;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static bool parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > max) {
        fprintf(stderr, "lurk-test-relay: %s: expected a number 0..%lu, got '%s'\n", opt, max, s);
        return false;
    }
    *out = v;
    return true;
}

static void dir_free(struct direction *d)
{
    struct chunk *c = d->head, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    memset(d, 0, sizeof(*d));
}

static bool dir_push(struct direction *d, const void *data, size_t len, bool eof, uint64_t due)
{
    struct chunk *c = malloc(sizeof(*c) + len);

    if (c == NULL)
        return false;
    c->next = NULL;
    c->due_ns = due;
    c->len = len;
    c->off = 0;
    c->eof = eof;
    if (len > 0)
        memcpy(c->data, data, len);
    if (d->tail != NULL)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += len;
    return true;
}

static void dir_pop(struct direction *d)
{
    struct chunk *c = d->head;

    d->head = c->next;
    if (d->head == NULL)
        d->tail = NULL;
    d->queued -= c->len;
    free(c);
}

/* Closes with a reset (SO_LINGER 0): the peer sees the failure at once, as after a crash. */
static void close_reset(int fd)
{
    struct linger lg = {1, 0};

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void conn_free(struct relay *r, size_t i, bool reset)
{
    struct conn *c = r->conns[i];

    if (reset) {
        close_reset(c->cfd);
        close_reset(c->ufd);
    } else {
        close(c->cfd);
        close(c->ufd);
    }
    dir_free(&c->up);
    dir_free(&c->down);
    free(c);
    r->conns[i] = r->conns[--r->nconns];
}

static void relay_accept(struct relay *r)
{
    struct conn *c;
    int cfd, ufd, one = 1;

    cfd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    if (r->nconns >= r->max_conns) {
        r->refused++;
        close_reset(cfd);
        return;
    }
    ufd = socket(r->upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c = calloc(1, sizeof(*c));
    if (ufd < 0 || c == NULL) {
        r->refused++;
        if (ufd >= 0)
            close(ufd);
        free(c);
        close_reset(cfd);
        return;
    }
    /* Small LURK frames: without TCP_NODELAY Nagle adds its own delay to ours. */
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->cfd = cfd;
    c->ufd = ufd;
    if (connect(ufd, (struct sockaddr *)&r->upstream, r->upstream_len) != 0) {
        if (errno != EINPROGRESS) {
            r->upstream_failed++;
            close(ufd);
            close_reset(cfd);
            free(c);
            return;
        }
        c->connecting = true;
    }
    r->accepted++;
    r->conns[r->nconns++] = c;
}

/* Reads what src has into d; false when the connection must be reset. */
static bool relay_read(struct relay *r, int src, struct direction *d, unsigned long long *count)
{
    unsigned char buf[RELAY_CHUNK];
    ssize_t n = recv(src, buf, sizeof(buf), 0);

    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
        d->eof_read = true;
        return dir_push(d, NULL, 0, true, now_ns() + r->delay_ns);
    }
    *count += (unsigned long long)n;
    return dir_push(d, buf, (size_t)n, false, now_ns() + r->delay_ns);
}

/* Writes the chunks of d that are due to dst; false when the connection must be reset. */
static bool relay_write(int dst, struct direction *d, uint64_t now)
{
    while (d->head != NULL && d->head->due_ns <= now) {
        struct chunk *c = d->head;
        ssize_t n;

        if (c->eof) {
            shutdown(dst, SHUT_WR);
            d->eof_sent = true;
            dir_pop(d);
            continue;
        }
        n = send(dst, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->off += (size_t)n;
        if (c->off < c->len)
            return true;
        dir_pop(d);
    }
    return true;
}

static void relay_reply(int fd, const char *text)
{
    size_t off = 0, len = strlen(text);

    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* One command line from a control connection (blocking, one-second timeout). */
static void relay_control(struct relay *r)
{
    char cmd[RELAY_CMD_MAX + 1], reply[256];
    struct timeval tv = {1, 0};
    size_t len = 0;
    unsigned long ms;
    int fd = accept4(r->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (len < RELAY_CMD_MAX && memchr(cmd, '\n', len) == NULL) {
        ssize_t n = recv(fd, cmd + len, RELAY_CMD_MAX - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    cmd[len] = '\0';
    cmd[strcspn(cmd, "\r\n")] = '\0';
    if (strcmp(cmd, "stall") == 0) {
        r->stalled = true;
        relay_reply(fd, "ok stalled\n");
    } else if (strcmp(cmd, "resume") == 0) {
        r->stalled = false;
        relay_reply(fd, "ok resumed\n");
    } else if (strcmp(cmd, "drop") == 0) {
        size_t n = r->nconns;
        while (r->nconns > 0)
            conn_free(r, r->nconns - 1, true);
        snprintf(reply, sizeof(reply), "ok dropped=%zu\n", n);
        relay_reply(fd, reply);
    } else if (strncmp(cmd, "delay ", 6) == 0 &&
               parse_uint("delay", cmd + 6, RELAY_MAX_DELAY_MS, &ms)) {
        r->delay_ns = (uint64_t)ms * 1000000ULL;
        relay_reply(fd, "ok\n");
    } else if (strcmp(cmd, "stats") == 0) {
        snprintf(reply, sizeof(reply),
                 "ok accepted=%llu active=%zu refused=%llu upstream_failed=%llu "
                 "bytes_up=%llu bytes_down=%llu stalled=%d delay_ms=%llu\n",
                 r->accepted, r->nconns, r->refused, r->upstream_failed, r->bytes_up, r->bytes_down,
                 r->stalled ? 1 : 0, (unsigned long long)(r->delay_ns / 1000000ULL));
        relay_reply(fd, reply);
    } else {
        relay_reply(fd, "error: unknown command (delay MS, stall, resume, drop, stats)\n");
    }
    close(fd);
}

/* Adds fd to the poll set; returns its index. */
static size_t add_pfd(struct pollfd *p, size_t *n, int fd, short events)
{
    /* Nothing wanted: a negative fd, so that POLLHUP of a half-closed side does not spin. */
    p[*n].fd = events != 0 ? fd : -1;
    p[*n].events = events;
    p[*n].revents = 0;
    return (*n)++;
}

static bool conn_done(const struct conn *c)
{
    return c->up.eof_sent && c->down.eof_sent;
}

/* Handles the events of connection c; false when it must be reset. */
static bool conn_events(struct relay *r, struct conn *c, short cev, short uev)
{
    if (c->connecting) {
        int err = 0;
        socklen_t el = sizeof(err);

        if (!(uev & (POLLOUT | POLLERR | POLLHUP)))
            goto client;
        if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            r->upstream_failed++;
            return false;
        }
        c->connecting = false;
        uev = 0; /* the readiness was the connect's */
    }
    if (!r->stalled) {
        if ((uev & (POLLIN | POLLHUP)) && !c->down.eof_read &&
            !relay_read(r, c->ufd, &c->down, &r->bytes_down))
            return false;
        if (!relay_write(c->ufd, &c->up, now_ns()))
            return false;
    }
client:
    if (!r->stalled) {
        if ((cev & (POLLIN | POLLHUP)) && !c->up.eof_read &&
            !relay_read(r, c->cfd, &c->up, &r->bytes_up))
            return false;
        if (!relay_write(c->cfd, &c->down, now_ns()))
            return false;
    }
    if ((cev & POLLERR) || (!c->connecting && (uev & POLLERR)))
        return false;
    return true;
}

/* The poll events for one side, and the earliest time a queued chunk falls due. */
static short side_events(const struct relay *r, const struct direction *in,
                         const struct direction *out, uint64_t now, uint64_t *wake)
{
    short ev = 0;

    if (r->stalled)
        return 0;
    if (!in->eof_read && in->queued < RELAY_MAX_QUEUED)
        ev |= POLLIN;
    if (out->head != NULL) {
        if (out->head->due_ns <= now)
            ev |= POLLOUT;
        else if (out->head->due_ns < *wake)
            *wake = out->head->due_ns;
    }
    return ev;
}

static int relay_run(struct relay *r)
{
    size_t cap = 2 + 2 * r->max_conns;
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));
    sigset_t none;

    if (pfd == NULL)
        return 1;
    sigemptyset(&none);
    while (!relay_stop) {
        uint64_t now = now_ns(), wake = UINT64_MAX;
        struct timespec ts, *tsp = NULL;
        size_t n = 0, i, base;

        add_pfd(pfd, &n, r->lfd, POLLIN);
        add_pfd(pfd, &n, r->ctl_fd, r->ctl_fd >= 0 ? POLLIN : 0);
        base = n;
        for (i = 0; i < r->nconns; i++) {
            struct conn *c = r->conns[i];
            short cev = side_events(r, &c->up, &c->down, now, &wake);
            short uev = c->connecting ? POLLOUT : side_events(r, &c->down, &c->up, now, &wake);
            add_pfd(pfd, &n, c->cfd, cev);
            add_pfd(pfd, &n, c->ufd, uev);
        }
        if (wake != UINT64_MAX) {
            uint64_t d = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(d / 1000000000ULL);
            ts.tv_nsec = (long)(d % 1000000000ULL);
            tsp = &ts;
        }
        if (ppoll(pfd, n, tsp, &none) < 0) {
            if (errno == EINTR)
                continue;
            perror("lurk-test-relay: ppoll");
            break;
        }
        /* Connections first, by the indexes of this round, before accepts change the array. */
        for (i = r->nconns; i-- > 0;) {
            struct conn *c = r->conns[i];
            if (!conn_events(r, c, pfd[base + 2 * i].revents, pfd[base + 2 * i + 1].revents))
                conn_free(r, i, true);
            else if (conn_done(c))
                conn_free(r, i, false);
        }
        if (pfd[1].revents & POLLIN)
            relay_control(r);
        if (pfd[0].revents & POLLIN)
            relay_accept(r);
    }
    free(pfd);
    return 0;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
    int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 512) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool unix_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        fprintf(stderr, "lurk-test-relay: --control: path longer than %zu bytes\n",
                sizeof(sun->sun_path) - 1);
        return false;
    }
    memcpy(sun->sun_path, path, strlen(path));
    return true;
}

/* Client mode: sends one command, prints the reply; 0 when it starts with "ok". */
static int control_client(const char *path, int argc, char **argv)
{
    char cmd[RELAY_CMD_MAX + 1] = "", reply[512];
    struct sockaddr_un sun;
    struct timeval tv = {5, 0};
    size_t len = 0;
    int fd, i;

    for (i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (len + l + 2 > sizeof(cmd)) {
            fprintf(stderr, "lurk-test-relay: command too long\n");
            return 2;
        }
        if (i > 0)
            cmd[len++] = ' ';
        memcpy(cmd + len, argv[i], l);
        len += l;
    }
    cmd[len++] = '\n';
    cmd[len] = '\0';
    if (!unix_addr(path, &sun))
        return 2;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "lurk-test-relay: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    relay_reply(fd, cmd);
    len = 0;
    for (;;) {
        ssize_t n = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);
        if (n <= 0 || (len += (size_t)n) == sizeof(reply) - 1)
            break;
    }
    close(fd);
    reply[len] = '\0';
    fputs(reply, stdout);
    return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct relay r = {.lfd = -1, .ctl_fd = -1, .max_conns = 256};
    struct sockaddr_storage lss;
    socklen_t llen = 0;
    const char *control = NULL;
    bool have_listen = false, have_up = false;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    struct sockaddr_un sun;
    struct sigaction sa = {0};
    unsigned long v;
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0) {
            usage();
            return 0;
        }
        if (strncmp(opt, "--", 2) != 0)
            break;
        if (i + 1 >= argc) {
            fprintf(stderr, "lurk-test-relay: %s needs a value\n", opt);
            return 2;
        }
        if (strcmp(opt, "--listen") == 0) {
            if (!parse_addr(opt, argv[++i], &lss, &llen))
                return 2;
            have_listen = true;
        } else if (strcmp(opt, "--upstream") == 0) {
            if (!parse_addr(opt, argv[++i], &r.upstream, &r.upstream_len))
                return 2;
            have_up = true;
        } else if (strcmp(opt, "--delay-ms") == 0) {
            if (!parse_uint(opt, argv[++i], RELAY_MAX_DELAY_MS, &v))
                return 2;
            r.delay_ns = (uint64_t)v * 1000000ULL;
        } else if (strcmp(opt, "--max-connections") == 0) {
            if (!parse_uint(opt, argv[++i], RELAY_MAX_CONNS, &v))
                return 2;
            if (v == 0) {
                fprintf(stderr, "lurk-test-relay: %s: must be at least 1\n", opt);
                return 2;
            }
            r.max_conns = v;
        } else if (strcmp(opt, "--control") == 0) {
            control = argv[++i];
        } else {
            fprintf(stderr, "lurk-test-relay: unknown option %s\n", opt);
            usage();
            return 2;
        }
    }
    if (i < argc) {
        if (control == NULL || have_listen || have_up) {
            fprintf(stderr, "lurk-test-relay: a command needs --control PATH and nothing else\n");
            return 2;
        }
        return control_client(control, argc - i, argv + i);
    }
    if (!have_listen || !have_up) {
        fprintf(stderr, "lurk-test-relay: --listen and --upstream are required\n");
        usage();
        return 2;
    }

    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    r.lfd = listen_on(&lss, llen);
    if (r.lfd < 0) {
        fprintf(stderr, "lurk-test-relay: --listen: %s\n", strerror(errno));
        return 1;
    }
    if (control != NULL) {
        if (!unix_addr(control, &sun)) {
            close(r.lfd);
            return 2;
        }
        unlink(control);
        r.ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (r.ctl_fd < 0 || bind(r.ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
            listen(r.ctl_fd, 16) != 0) {
            fprintf(stderr, "lurk-test-relay: --control %s: %s\n", control, strerror(errno));
            if (r.ctl_fd >= 0)
                close(r.ctl_fd);
            close(r.lfd);
            return 1;
        }
    }
    r.conns = calloc(r.max_conns, sizeof(*r.conns));
    if (r.conns == NULL) {
        close(r.lfd);
        if (r.ctl_fd >= 0)
            close(r.ctl_fd);
        return 1;
    }
    /* The bound address (port 0 picks one): the caller reads this line to find the relay. */
    llen = sizeof(lss);
    getsockname(r.lfd, (struct sockaddr *)&lss, &llen);
    getnameinfo((struct sockaddr *)&lss, llen, host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("listening on %s%s%s:%s\n", lss.ss_family == AF_INET6 ? "[" : "", host,
           lss.ss_family == AF_INET6 ? "]" : "", serv);
    fflush(stdout);

    rc = relay_run(&r);
    while (r.nconns > 0)
        conn_free(&r, r.nconns - 1, true);
    free(r.conns);
    close(r.lfd);
    if (r.ctl_fd >= 0) {
        close(r.ctl_fd);
        unlink(control);
    }
    return rc;
}
