/*
 * Audit log: one JSON line per private-key operation (docs/architecture.md §5):
 *   {"time":"...","peer":"...","client":"...","key_id":"...","key":"...",
 *    "exchange":"tls12/ecdhe","status":"success","us":123,"id":"...","note":"..."}
 * Lines are buffered and written by lurkd_audit_flush (the main loop calls
 * it several times a second) so signing threads do not wait on the disk.
 *
 * A refusal that repeats (same peer, its tcp source port aside, exchange,
 * status and reason) within the repeat interval (audit_repeat_interval,
 * 10 s by default) is counted instead of logged; the end of the interval
 * writes one line with "repeated":N and "since":TIME, so a flood of refused
 * requests cannot fill the disk (docs/security.md). Successful operations
 * are always one line each.
 */
#ifndef LURKD_OPS_AUDIT_H
#define LURKD_OPS_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/tls12.h" /* LURK_KEY_ID_LEN */

struct lurkd_audit_event {
    const char *peer;
    const char *client;    /* NULL when the peer matches no [client.NAME] */
    const uint8_t *key_id; /* LURK_KEY_ID_LEN bytes as requested, NULL when none */
    const char *key;       /* key section name, NULL when unknown */
    uint8_t designation;
    uint8_t type;
    uint8_t status;
    uint64_t request_id;
    uint64_t micros;
    const char *note; /* why access was refused, or NULL */
};

/* The repeat interval in seconds; 0 logs every refusal on its own line. */
void lurkd_audit_set_repeat_interval(unsigned seconds);
/* NULL path turns auditing off. False (errno set) when the file cannot be opened. */
bool lurkd_audit_open(const char *path);
/* True when lines are written: callers gather an event's fields only then. */
bool lurkd_audit_enabled(void);
void lurkd_audit_log(const struct lurkd_audit_event *ev);
/*
 * A client certificate refused at the TLS handshake (net/tls.c): a line of
 * the same fields, "exchange":"tls/handshake", "status" the TLS alert sent
 * and "note" why (subject, serial, reason). At most 10 lines a second; a
 * line after refusals left out says how many ("suppressed":N).
 */
void lurkd_audit_handshake_refused(const char *peer, const char *alert, const char *note);
/* Writes the buffered lines, and the count lines of the intervals that are over. */
void lurkd_audit_flush(void);
void lurkd_audit_close(void);

#endif
