/* Error log; see log.h. */
#include "ops/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lurk/clock.h"

static atomic_int log_level = LURKD_LOG_INFO;
static atomic_int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

bool lurkd_log_level_parse(const char *name, enum lurkd_log_level *out)
{
    for (int i = 0; i <= LURKD_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum lurkd_log_level)i;
            return true;
        }
    }
    return false;
}

void lurkd_log_set_level(enum lurkd_log_level level)
{
    atomic_store(&log_level, level);
}

bool lurkd_log_open(const char *path)
{
    int fd = STDERR_FILENO, old = atomic_load(&log_fd);

    if (path != NULL && strcmp(path, "stderr") != 0) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return false;
        /*
         * Reopening (SIGUSR1, SIGHUP): the new file takes the old descriptor's
         * number, so a thread writing a line right now never writes to a
         * closed, possibly reused, descriptor.
         */
        if (old != STDERR_FILENO) {
            bool ok = dup3(fd, old, O_CLOEXEC) == old;
            close(fd);
            return ok;
        }
    }
    old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return true;
}

static void log_write(enum lurkd_log_level level, const char *msg)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02dZ lurkd[%d] [%s] %s\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)getpid(), level_names[level], msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* One write per line: lines from several threads never interleave. */
    if (write(atomic_load(&log_fd), line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
}

bool lurkd_log_enabled(enum lurkd_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void lurkd_log(enum lurkd_log_level level, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;

    if (!lurkd_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_write(level, msg);
}

/* ---- rate-limited lines ---- */

#define LIMIT_WINDOW_MS 1000

static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lurkd_log_limit *limits; /* every limit used so far, for the flush */

/* Writes the line left out last, with its count (limit->lock held). */
static void limit_report(struct lurkd_log_limit *limit, int64_t now)
{
    char line[700];

    snprintf(line, sizeof(line), "%s (%lu such lines in the last %.1f s)", limit->last,
             limit->suppressed, (double)(now - limit->window_ms) / 1000.0);
    log_write(limit->level, line);
    limit->suppressed = 0;
    limit->window_ms = now;
}

void lurkd_log_limited(struct lurkd_log_limit *limit, enum lurkd_log_level level, const char *fmt,
                       ...)
{
    int64_t now = lurk_clock_ms();
    char msg[512];
    va_list ap;

    if (!lurkd_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Never one lock inside the other: the flush takes them in the other order. */
    pthread_mutex_lock(&limits_lock);
    if (!limit->registered) {
        limit->next = limits;
        limits = limit;
        limit->registered = true;
    }
    pthread_mutex_unlock(&limits_lock);
    pthread_mutex_lock(&limit->lock);
    if (now - limit->window_ms >= LIMIT_WINDOW_MS) {
        if (limit->suppressed > 0)
            limit_report(limit, now);
        log_write(level, msg);
        limit->window_ms = now;
    } else {
        limit->suppressed++;
        limit->level = level;
        memcpy(limit->last, msg, sizeof(msg));
    }
    pthread_mutex_unlock(&limit->lock);
}

void lurkd_log_limited_flush(void)
{
    int64_t now = lurk_clock_ms();

    pthread_mutex_lock(&limits_lock);
    for (struct lurkd_log_limit *l = limits; l != NULL; l = l->next) {
        pthread_mutex_lock(&l->lock);
        if (l->suppressed > 0 && now - l->window_ms >= LIMIT_WINDOW_MS)
            limit_report(l, now);
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&limits_lock);
}
