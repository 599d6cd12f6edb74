/*
 * The provider's own log (lurk-log; docs/provider.md §5 "Log"): the lines an
 * operator needs even when the application drops OpenSSL's error data
 * (Apache at its default LogLevel, lighttpd, stunnel, Python): server state
 * changes, rejected link credentials. One line per event per process,
 * "lurk[pid]: ...", to syslog (default), stderr or a file opened at init
 * (before chroot and setuid).
 *
 * Rate-limited by a token bucket (a burst of LOG_BURST lines, then one per
 * LOG_REFILL_MS): a flapping server cannot flood the application's log. The
 * next line that passes says how many were dropped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lurk/clock.h"
#include "provider.h"

#define LOG_BURST     20
#define LOG_REFILL_MS 1000

struct lurk_prov_log {
    int tokens;
    int64_t refilled_ms;
    unsigned long dropped;
};

/*
 * One lock for every instance's bucket, held across fork() by an atfork
 * handler: the health thread may be logging when the application forks,
 * and a child must not inherit the lock taken.
 */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock(void)
{
    pthread_mutex_lock(&log_mu);
}

static void unlock(void)
{
    pthread_mutex_unlock(&log_mu);
}

static void register_atfork(void)
{
    pthread_atfork(lock, unlock, unlock);
}

struct lurk_prov_log *lurk_prov_log_new(void)
{
    struct lurk_prov_log *log;

    if (pthread_once(&atfork_once, register_atfork) != 0)
        return NULL;
    log = OPENSSL_zalloc(sizeof(*log));
    if (log == NULL)
        return NULL;
    log->tokens = LOG_BURST;
    log->refilled_ms = lurk_clock_ms();
    return log;
}

void lurk_prov_log_free(struct lurk_prov_log *log)
{
    OPENSSL_free(log);
}

/* Takes a token; false when the line must be dropped. *dropped: lines dropped before it. */
static bool take(struct lurk_prov_log *log, unsigned long *dropped)
{
    int64_t now = lurk_clock_ms();
    bool ok;

    lock();
    if (now - log->refilled_ms >= LOG_REFILL_MS) {
        int64_t add = (now - log->refilled_ms) / LOG_REFILL_MS;
        log->tokens =
            add >= LOG_BURST
                ? LOG_BURST
                : (log->tokens + (int)add > LOG_BURST ? LOG_BURST : log->tokens + (int)add);
        log->refilled_ms += add * LOG_REFILL_MS;
    }
    ok = log->tokens > 0;
    if (ok) {
        log->tokens--;
        *dropped = log->dropped;
        log->dropped = 0;
    } else {
        log->dropped++;
    }
    unlock();
    return ok;
}

void lurk_prov_log(LURK_PROV_CTX *pc, int prio, const char *fmt, ...)
{
    char msg[1200], line[1400];
    unsigned long dropped = 0;
    va_list ap;
    int n;

    if (pc == NULL || pc->log == NULL || !take(pc->log, &dropped))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (dropped > 0)
        n = snprintf(line, sizeof(line),
                     "lurk[%ld]: %s (%lu earlier lines dropped by the rate limit)\n",
                     (long)getpid(), msg, dropped);
    else
        n = snprintf(line, sizeof(line), "lurk[%ld]: %s\n", (long)getpid(), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    switch (pc->cfg.log_sink) {
    case LURK_PROV_LOG_SYSLOG:
        /* No openlog: the ident and facility stay the application's. */
        syslog(prio, "%.*s", n - 1, line);
        break;
    case LURK_PROV_LOG_STDERR:
        /* One write per line: lines of several workers do not interleave. */
        if (write(STDERR_FILENO, line, (size_t)n) < 0)
            return;
        break;
    case LURK_PROV_LOG_FILE:
        /* O_APPEND: one write per line, whole lines across processes. */
        if (pc->cfg.log_fd >= 0 && write(pc->cfg.log_fd, line, (size_t)n) < 0)
            return;
        break;
    }
}
