/*
 * systemd's readiness protocol through libsystemd's sd_notify (sd_notify(3)):
 * READY=1 once listening with keys, RELOADING=1 (with MONOTONIC_USEC) when a
 * SIGHUP starts, READY=1 again when it ends (whatever its result),
 * STOPPING=1 when SIGTERM starts the drain. Without NOTIFY_SOCKET each call
 * does nothing (docs/deploy.md §3).
 */
#ifndef LURKD_OPS_NOTIFY_H
#define LURKD_OPS_NOTIFY_H

/* status: one line for `systemctl status` (STATUS=). */
void lurkd_notify_ready(const char *status);
void lurkd_notify_reloading(void);
void lurkd_notify_stopping(void);

#endif
