/* Accepting connections; see accept.h. */
#include "net/accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ops/log.h"
#include "lurk/clock.h"
#include "ops/metrics.h"
#include "net/peer_limit.h"
#include "net/tls.h"

/* Refusals and exhausted descriptors are logged once a second at most (log.h). */
static struct lurkd_log_limit refused_log = LURKD_LOG_LIMIT_INIT;
static struct lurkd_log_limit accept_log = LURKD_LOG_LIMIT_INIT;

bool lurkd_accept_listen(struct lurkd_loop *loop)
{
    for (size_t k = 0; k < lurkd_io.n_listeners; k++) {
        /* Every loop waits on every listener; one of them wakes per connection. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                 .data.ptr = &loop->listen_tags[k]};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, lurkd_io.listeners[k].fd, &ev) != 0 &&
            errno != EEXIST)
            return false;
    }
    loop->listening = true;
    loop->accept_resume_ms = 0;
    return true;
}

void lurkd_accept_unlisten(struct lurkd_loop *loop)
{
    /* EPOLLEXCLUSIVE registrations cannot be modified, only removed. */
    for (size_t k = 0; k < lurkd_io.n_listeners; k++)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, lurkd_io.listeners[k].fd, NULL);
    loop->listening = false;
}

/* Who is connecting, for logs and the policy: uid on unix:, address on tcp:// and tls://. */
static void identify(struct lurkd_conn *c, const struct lurkd_listener *l,
                     const struct sockaddr_storage *ss)
{
    if (l->addr.kind == LURK_ADDRESS_UNIX) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        c->peer.kind = LURKD_PEER_UNIX;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            c->peer.uid = cred.uid;
            c->peer.pid = cred.pid;
        } else {
            c->peer.uid = (uid_t)-1;
        }
        snprintf(c->peer.text, sizeof(c->peer.text), "uid:%u", (unsigned)c->peer.uid);
        lurkd_peer_key_uid(&c->limit_key, c->peer.uid);
        return;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    c->peer.kind = LURKD_PEER_TCP;
    snprintf(c->peer.text, sizeof(c->peer.text), "%s:%s:%u",
             l->addr.kind == LURK_ADDRESS_TLS ? "tls" : "tcp", host, port);
    lurkd_peer_key_ip(&c->limit_key, ss);
}

/* accept4 failed with err: what the loop does about it. */
static void accept_failed(struct lurkd_loop *loop, const struct lurkd_listener *l, int err)
{
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        /*
         * The backlog stays readable, so a level-triggered listener would wake
         * the loop again at once, forever: stop watching it for a moment.
         */
        lurkd_accept_unlisten(loop);
        loop->descriptor_freed = false;
        loop->accept_resume_ms = lurk_clock_ms() + LURKD_ACCEPT_BACKOFF_MS;
        lurkd_metrics_count(LURKD_COUNTER_ACCEPT_NO_DESCRIPTORS);
        lurkd_log_limited(&accept_log, LURKD_LOG_ERROR,
                          "accept on %s: %s: not accepting until a descriptor frees", l->addr.text,
                          strerror(err));
        return;
    }
    lurkd_log_limited(&accept_log, LURKD_LOG_WARN, "accept on %s: %s", l->addr.text, strerror(err));
}

/* Refuses a connection accepted on fd: counted, logged at most once a second, closed. */
static void refuse(int fd, const struct lurkd_listener *l, enum lurkd_counter reason,
                   const char *why, const char *peer)
{
    lurkd_metrics_count(reason);
    lurkd_log_limited(&refused_log, LURKD_LOG_WARN, "refusing a connection from %s on %s: %s", peer,
                      l->addr.text, why);
    close(fd);
}

static struct lurkd_loop *least_loaded_other(const struct lurkd_loop *self);

void lurkd_accept(struct lurkd_loop *loop, struct lurkd_listener *l, bool all)
{
    while (atomic_load(&lurkd_io.accepting) && (loop->listening || all)) {
        /* Leave the rest to a loop with fewer connections (lurkd_accept_balance). */
        struct lurkd_loop *other = all ? NULL : least_loaded_other(loop);
        if (other != NULL && atomic_load(&loop->n_conns) > atomic_load(&other->n_conns))
            return;
        struct sockaddr_storage ss = {0};
        socklen_t sslen = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                accept_failed(loop, l, errno);
            return;
        }
        struct lurkd_io_limits lim = lurkd_io_limits_get();
        struct lurkd_conn *c = lurkd_conn_new(fd, loop, &loop->flushq, &lurkd_transport_plain);
        if (c == NULL) {
            close(fd);
            continue;
        }
        identify(c, l, &ss);
        if (atomic_fetch_add(&lurkd_io.n_conns, 1) >= lim.max_connections) {
            atomic_fetch_sub(&lurkd_io.n_conns, 1);
            refuse(fd, l, LURKD_COUNTER_REFUSED_MAX_CONNECTIONS, "max_connections reached",
                   c->peer.text);
            lurkd_conn_unref(c);
            continue;
        }
        if (!lurkd_peer_limit_acquire(LURKD_PEER_CONNECTIONS, &c->limit_key,
                                      lim.max_connections_per_peer)) {
            atomic_fetch_sub(&lurkd_io.n_conns, 1);
            refuse(fd, l, LURKD_COUNTER_REFUSED_PER_PEER, "max_connections_per_peer reached",
                   c->peer.text);
            lurkd_conn_unref(c);
            continue;
        }
        bool ok = true;
        if (l->addr.kind != LURK_ADDRESS_UNIX) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (l->addr.kind == LURK_ADDRESS_TLS) {
            pthread_mutex_lock(&lurkd_io.tls_lock);
            ok = l->tls != NULL && lurkd_tls_attach(c, l->tls);
            pthread_mutex_unlock(&lurkd_io.tls_lock);
        }
        /* A plain connection has nothing to negotiate: it is idle from the start. */
        c->handshake_done = l->addr.kind != LURK_ADDRESS_TLS;
        c->accepted_ms = c->active_ms = lurk_clock_ms();
        if (!ok || !lurkd_loop_add_conn(loop, c)) {
            /* Not in the loop yet: undo by hand what accepting did. */
            lurkd_peer_limit_release(LURKD_PEER_CONNECTIONS, &c->limit_key);
            atomic_fetch_sub(&lurkd_io.n_conns, 1);
            c->transport->free(c);
            close(fd);
            lurkd_conn_unref(c);
            continue;
        }
        lurkd_metrics_count(LURKD_COUNTER_CONNECTIONS_ACCEPTED);
        /* Only this loop closes c (net/loop.c), so the count cannot go below zero. */
        c->listener = l;
        atomic_fetch_add(&l->connections, 1);
        lurkd_debug("connection from %s on %s", c->peer.text, l->addr.text);
    }
}

/* The loop other than self with the fewest connections (NULL with one loop). */
static struct lurkd_loop *least_loaded_other(const struct lurkd_loop *self)
{
    struct lurkd_loop *best = NULL;
    unsigned best_n = 0;

    for (unsigned i = 0; i < lurkd_io.n_loops; i++) {
        struct lurkd_loop *l = &lurkd_io.loops[i];
        unsigned n = atomic_load(&l->n_conns);
        if (l != self && (best == NULL || n < best_n)) {
            best = l;
            best_n = n;
        }
    }
    return best;
}

void lurkd_accept_balance(struct lurkd_loop *loop)
{
    struct lurkd_loop *other = least_loaded_other(loop);

    /* Out of descriptors (accept_resume_ms) or draining: the other rules apply. */
    if (other == NULL || loop->accept_resume_ms != 0 || !atomic_load(&lurkd_io.accepting))
        return;
    unsigned mine = atomic_load(&loop->n_conns), theirs = atomic_load(&other->n_conns);
    if (!loop->balanced_out && mine > theirs) {
        lurkd_accept_unlisten(loop);
        loop->balanced_out = true;
        /* It may be balanced out itself and asleep: it listens again when it looks. */
        lurkd_flush_queue_wake(&other->flushq);
    } else if (loop->balanced_out && mine <= theirs && lurkd_accept_listen(loop)) {
        loop->balanced_out = false;
        /* SIGTERM may have stopped the accepting meanwhile (lurkd_io_stop_accepting). */
        if (!atomic_load(&lurkd_io.accepting))
            lurkd_accept_unlisten(loop);
    }
}

bool lurkd_accept_authenticated(struct lurkd_conn *c)
{
    struct lurkd_peer_key identity;

    lurkd_peer_key_identity(&identity, c->peer.spki_sha256);
    if (!lurkd_peer_limit_acquire(LURKD_PEER_CONNECTIONS, &identity,
                                  lurkd_io_limits_get().max_connections_per_peer)) {
        lurkd_metrics_count(LURKD_COUNTER_REFUSED_PER_PEER);
        lurkd_log_limited(&refused_log, LURKD_LOG_WARN,
                          "closing a connection from %s: max_connections_per_peer reached",
                          c->peer.text);
        return false;
    }
    lurkd_peer_limit_release(LURKD_PEER_CONNECTIONS, &c->limit_key);
    c->limit_key = identity;
    return true;
}
