/*
 * lurkd's error log: one line per event, "2026-11-22T06:00:00Z [level] message",
 * to stderr or a file (reopened on SIGHUP/SIGUSR1 like nginx's error_log).
 */
#ifndef LURKD_LOG_H
#define LURKD_LOG_H

#include <stdbool.h>

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

#define lurkd_error(...)  lurkd_log(LURKD_LOG_ERROR, __VA_ARGS__)
#define lurkd_warn(...)   lurkd_log(LURKD_LOG_WARN, __VA_ARGS__)
#define lurkd_notice(...) lurkd_log(LURKD_LOG_NOTICE, __VA_ARGS__)
#define lurkd_info(...)   lurkd_log(LURKD_LOG_INFO, __VA_ARGS__)
#define lurkd_debug(...)  lurkd_log(LURKD_LOG_DEBUG, __VA_ARGS__)

#endif
