/*
 * Waiting for lurkd inside an OpenSSL ASYNC job (docs/architecture.md §6; haproxy
 * ssl-mode-async, s_server -async): the job pauses and the application
 * polls a wait fd, instead of the thread blocking in poll().
 *
 * The wait fd is an epoll instance of ours, one per ASYNC_WAIT_CTX (that is,
 * per SSL), registered under our key at its first pause and closed by the
 * cleanup callback when the application frees the wait ctx. In it: a
 * timerfd armed to the deadline (so the application's poll wakes up for the
 * timeout too) and the fd waited for, the connection's socket or the pool's
 * "a connection is free" eventfd. Why not register those directly and
 * clear them after each request: a pooled socket serves many SSLs in turn,
 * and haproxy learns of cleared wait fds only at the next pause of the same
 * SSL, so it would still hold a cleared fd (and aborts when the number is
 * added again or reused). One fd per wait ctx, alive until its cleanup, is
 * the contract the engines (afalg, QAT) follow and applications expect.
 *
 * After fork the child shares the epoll instance and the timer with the
 * parent: only the process that made them touches them; a child falls back
 * to blocking.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/crypto.h>

#include "provider.h"

struct lurk_prov_async {
    int epfd;                         /* the wait fd */
    int timerfd;                      /* in epfd, armed while waiting */
    int watched;                      /* the other fd in epfd, -1 for none */
    pid_t pid;                        /* the process that made epfd and timerfd */
    struct lurk_prov_async_hold hold; /* while paused; release is NULL otherwise */
};

/* Our key in every wait ctx: an address nobody else has. */
static const char wait_key;

static void close_fds(struct lurk_prov_async *w)
{
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->timerfd >= 0)
        close(w->timerfd);
}

/*
 * The application freed the wait ctx (SSL_free). If a job was paused in
 * lurk_prov_async_wait it will never resume (haproxy, when a connection
 * times out during the wait, frees its SSL as soon as the wait fd fires,
 * without resuming the job), so what it held is released here, or the pool
 * would lose that connection for good.
 */
static void cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *custom)
{
    struct lurk_prov_async *w = custom;

    (void)ctx;
    (void)key;
    (void)fd;
    close_fds(w); /* in a child, only its copies: the parent's stay open */
    if (w->hold.release != NULL)
        w->hold.release(&w->hold);
    OPENSSL_free(w);
}

bool lurk_prov_async_begin(struct lurk_prov_async_job *job)
{
    ASYNC_JOB *current = ASYNC_get_current_job();

    job->wctx = current != NULL ? ASYNC_get_wait_ctx(current) : NULL;
    job->w = NULL;
    return job->wctx != NULL;
}

bool lurk_prov_async_in_job(void)
{
    return ASYNC_get_current_job() != NULL;
}

/*
 * The wait ctx's waiter, made and registered now if it has none. Only right
 * before a pause: haproxy adds a wait fd to its poller when a pause reports
 * it, and deletes every registered one when it closes the connection, which
 * it must therefore have added.
 */
static struct lurk_prov_async *waiter(struct lurk_prov_async_job *job)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct lurk_prov_async *w;
    OSSL_ASYNC_FD fd;
    void *custom = NULL;

    if (job->w != NULL)
        return job->w;
    if (ASYNC_WAIT_CTX_get_fd(job->wctx, &wait_key, &fd, &custom) == 1) {
        w = custom;
        return job->w = w->pid == getpid() ? w : NULL;
    }
    w = OPENSSL_zalloc(sizeof(*w));
    if (w == NULL)
        return NULL;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->watched = -1;
    w->pid = getpid();
    ev.data.fd = w->timerfd;
    if (w->epfd < 0 || w->timerfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->timerfd, &ev) != 0 ||
        ASYNC_WAIT_CTX_set_wait_fd(job->wctx, &wait_key, w->epfd, w, cleanup) != 1) {
        close_fds(w);
        OPENSSL_free(w);
        return NULL;
    }
    return job->w = w;
}

static bool arm(struct lurk_prov_async *w, int64_t deadline_ms)
{
    struct itimerspec its = {
        .it_value = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000},
    };

    return timerfd_settime(w->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0;
}

bool lurk_prov_async_wait(struct lurk_prov_async_job *job, int fd, bool edge, int64_t deadline_ms,
                          const struct lurk_prov_async_hold *hold)
{
    struct epoll_event ev = {.events = EPOLLIN | (edge ? EPOLLET : 0), .data.fd = fd};
    struct lurk_prov_async *w = waiter(job);
    bool paused;

    if (w == NULL || w->pid != getpid())
        return false;
    if (fd != w->watched) {
        if (w->watched >= 0)
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->watched, NULL);
        w->watched = -1;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            return false;
        w->watched = fd;
    }
    /* An absolute time: a resume before the deadline does not restart it. */
    if (!arm(w, deadline_ms))
        return false;
    w->hold = *hold;
    paused = ASYNC_pause_job() == 1;
    w->hold.release = NULL;
    if (edge) {
        /* Consume the edge, so the wait fd is quiet until the next one. */
        struct epoll_event evs[2];
        epoll_wait(w->epfd, evs, 2, 0);
    }
    return paused;
}

void lurk_prov_async_done(struct lurk_prov_async_job *job)
{
    struct lurk_prov_async *w = job != NULL ? job->w : NULL;

    if (w == NULL || w->pid != getpid())
        return;
    /* Before the caller may close the fd; and a quiet wait fd between requests. */
    if (w->watched >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->watched, NULL);
    w->watched = -1;
    arm(w, 0); /* 0 disarms */
}
