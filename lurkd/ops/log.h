/*
 * lurkd's error log: one line per event, "2026-11-22T06:00:00Z [level] message",
 * to stderr or a file (reopened on SIGHUP/SIGUSR1 like nginx's error_log).
 */
#ifndef LURKD_OPS_LOG_H
#define LURKD_OPS_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum lurkd_log_level {
    LURKD_LOG_ERROR = 0,
    LURKD_LOG_WARN,
    LURKD_LOG_NOTICE,
    LURKD_LOG_INFO,
    LURKD_LOG_DEBUG,
};

/* Parses "error", "warn", "notice", "info", "debug". */
bool lurkd_log_level_parse(const char *name, enum lurkd_log_level *out);
void lurkd_log_set_level(enum lurkd_log_level level);
/* NULL or "stderr" logs to stderr; false with errno set if the file cannot be opened. */
bool lurkd_log_open(const char *path);
void lurkd_log(enum lurkd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* lurkd_log_enabled is true when a line at level would be written (skip work for it otherwise). */
bool lurkd_log_enabled(enum lurkd_log_level level);

/*
 * A line that an attacker can make repeat (refused connections, exhausted
 * descriptors): lurkd_log_limited writes at most one per second for each
 * limit; the lines left out are counted, and the next line, or
 * lurkd_log_limited_flush (the main loop calls it several times a second),
 * says how many there were. Declare each limit static with
 * LURKD_LOG_LIMIT_INIT.
 */
struct lurkd_log_limit {
    pthread_mutex_t lock;
    bool registered;
    int64_t window_ms;        /* when the last line was written */
    unsigned long suppressed; /* lines left out since */
    enum lurkd_log_level level;
    char last[512]; /* the last line left out */
    struct lurkd_log_limit *next;
};
#define LURKD_LOG_LIMIT_INIT                                                                       \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

void lurkd_log_limited(struct lurkd_log_limit *limit, enum lurkd_log_level level, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
/* lurkd_log_limited_flush writes the count of every limit whose second has passed. */
void lurkd_log_limited_flush(void);

#define lurkd_error(...)  lurkd_log(LURKD_LOG_ERROR, __VA_ARGS__)
#define lurkd_warn(...)   lurkd_log(LURKD_LOG_WARN, __VA_ARGS__)
#define lurkd_notice(...) lurkd_log(LURKD_LOG_NOTICE, __VA_ARGS__)
#define lurkd_info(...)   lurkd_log(LURKD_LOG_INFO, __VA_ARGS__)
#define lurkd_debug(...)  lurkd_log(LURKD_LOG_DEBUG, __VA_ARGS__)

#endif
