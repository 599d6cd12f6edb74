/*
 * Real lurkd processes for the daemon and provider suites: a private
 * directory, a config written by the test, the daemon started in the
 * foreground, its log and audit log readable, signals and exit status.
 */
#ifndef LURK_TEST_PROC_H
#define LURK_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lurkd_proc {
    pid_t pid;
    char dir[256];       /* private directory, removed by lurk_test_lurkd_cleanup */
    char conf[320];      /* dir/lurkd.conf */
    char log[320];       /* dir/lurkd.log: the daemon's stderr */
    char audit[320];     /* dir/audit.log, for configs that set audit_log = audit.log */
    char unix_addr[340]; /* "unix:" dir/lurkd.sock */
};

/* The test PKI made by scripts/gen-pki at build time (LURK_TEST_PKI). */
const char *lurk_test_pki(const char *file);
/* A new private directory and the paths above; config not yet written. */
bool lurk_test_lurkd_init(struct lurkd_proc *p);
/* Writes text as the config file (relative paths resolve against dir), mode 0600. */
bool lurk_test_write_file(const struct lurkd_proc *p, const char *name, const char *text);
/*
 * Starts lurkd -f -c conf (plus extra args, NULL-terminated) and waits until
 * it logs that it started; false (with the log on stderr) if it exits first.
 */
bool lurk_test_lurkd_start(struct lurkd_proc *p, const char *const *extra_args);
/* Starts lurkd args... in p->dir with stdout and stderr on out_fd; the pid, or -1. */
pid_t lurk_test_lurkd_spawn(const struct lurkd_proc *p, const char *const *args, int out_fd);
/* Runs lurkd to completion (e.g. --check); returns its exit status, output in out. */
int lurk_test_lurkd_run(const struct lurkd_proc *p, const char *const *args, char *out,
                        size_t outlen);
/* The address a listener reports in the log ("listening on tcp://127.0.0.1:NNN"). */
bool lurk_test_lurkd_address(const struct lurkd_proc *p, const char *scheme, char *out,
                             size_t outlen);
/* Waits until the log (or audit log) contains needle; false after timeout_ms. */
bool lurk_test_wait_for(const char *path, const char *needle, int timeout_ms);
/* Sends sig; for SIGTERM/SIGKILL waits and returns the exit status (-1 on timeout). */
int lurk_test_lurkd_signal(struct lurkd_proc *p, int sig);
/* Stops a running daemon (SIGTERM, then SIGKILL) and removes the directory. */
void lurk_test_lurkd_cleanup(struct lurkd_proc *p);
/* Whole file into a NUL-terminated malloc'd buffer, or NULL. */
char *lurk_test_read_file(const char *path, size_t *len);
/* text with every occurrence of from replaced by to (malloc'd; aborts when out of memory). */
char *lurk_test_replace_all(const char *text, const char *from, const char *to);

#endif
