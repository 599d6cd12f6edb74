/* Audit log; see audit.h. */
#include "ops/audit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/names.h"
#include "ops/metrics.h"

#define AUDIT_BUFFER 65536

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
/* audit_fd >= 0, readable without the lock: most deployments log no audit. */
static atomic_bool audit_enabled;
static char audit_buf[AUDIT_BUFFER];
static size_t audit_len;

static void flush_locked(void)
{
    size_t off = 0;

    while (off < audit_len) {
        ssize_t n = write(audit_fd, audit_buf + off, audit_len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    audit_len = 0;
}

bool lurkd_audit_enabled(void)
{
    return atomic_load_explicit(&audit_enabled, memory_order_relaxed);
}

bool lurkd_audit_open(const char *path)
{
    int fd = -1;

    if (path != NULL) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return false;
    }
    pthread_mutex_lock(&audit_lock);
    if (audit_fd >= 0) {
        flush_locked();
        close(audit_fd);
    }
    audit_fd = fd;
    atomic_store(&audit_enabled, fd >= 0);
    pthread_mutex_unlock(&audit_lock);
    return true;
}

/* ts as 2026-11-22T06:00:00.123456Z. */
static void iso_time(const struct timespec *ts, char *out, size_t cap)
{
    struct tm tm;

    gmtime_r(&ts->tv_sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
}

/* Values here are names, hex and peer descriptions; escape anyway. */
static size_t json_string(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return (size_t)snprintf(out, cap, "null");
    if (cap < 3)
        return cap;
    out[n++] = '"';
    for (; *s != '\0' && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* One JSON line for ev at ts, with "repeated" and "since" when count > 0; its length or 0. */
static size_t format_line(char *line, size_t cap, const struct lurkd_audit_event *ev,
                          const struct timespec *ts, unsigned long count,
                          const struct timespec *since)
{
    char peer[200], client[160], key[160], note[200], when[64], first[64], extra[128] = "";
    char key_id[2 * LURK_KEY_ID_LEN + 1] = "";
    int n;

    iso_time(ts, when, sizeof(when));
    if (ev->key_id != NULL)
        lurk_hex_encode(ev->key_id, LURK_KEY_ID_LEN, key_id);
    json_string(peer, sizeof(peer), ev->peer);
    json_string(client, sizeof(client), ev->client);
    json_string(key, sizeof(key), ev->key);
    json_string(note, sizeof(note), ev->note);
    if (count > 0) {
        iso_time(since, first, sizeof(first));
        snprintf(extra, sizeof(extra), ",\"repeated\":%lu,\"since\":\"%s\"", count, first);
    }
    n = snprintf(line, cap,
                 "{\"time\":\"%s\",\"peer\":%s,\"client\":%s,"
                 "\"key_id\":\"%s\",\"key\":%s,\"exchange\":\"%s/%s\",\"status\":\"%s\","
                 "\"us\":%" PRIu64 ",\"id\":\"%016" PRIx64 "\",\"note\":%s%s}\n",
                 when, peer, client, key_id, key, lurk_designation_name(ev->designation),
                 lurk_type_name(ev->designation, ev->type),
                 lurk_status_name(ev->designation, ev->status), ev->micros, ev->request_id, note,
                 extra);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Appends a line to the buffer (audit_lock held). */
static void append_locked(const char *line, size_t n)
{
    if (audit_fd < 0 || n == 0)
        return;
    if (audit_len + n > sizeof(audit_buf))
        flush_locked();
    memcpy(audit_buf + audit_len, line, n);
    audit_len += n;
}

/* ---- refusals that repeat ---- */

/*
 * A refusal is logged at once; the same refusal again (same peer, exchange,
 * status and reason) within aggregate_ms is only counted, and one line says
 * how many there were when the interval ends. A peer that floods refused
 * requests thus writes a few lines per interval, not one per request.
 * Successful operations are always logged one by one.
 */
#define AGGREGATE_SLOTS 256

static int64_t aggregate_ms = 10000; /* audit_lock */

void lurkd_audit_set_repeat_interval(unsigned seconds)
{
    pthread_mutex_lock(&audit_lock);
    aggregate_ms = (int64_t)seconds * 1000;
    pthread_mutex_unlock(&audit_lock);
}

struct repeat {
    bool used;
    char peer[96], client[64], key[64], note[128];
    uint8_t key_id[LURK_KEY_ID_LEN];
    struct lurkd_audit_event ev; /* the last one, its strings pointing into this slot */
    struct timespec since;       /* the first one counted */
    int64_t start_ms;
    unsigned long count;
};

static struct repeat repeats[AGGREGATE_SLOTS];
/* Refusals when every slot is taken: counted here, said in one line per interval. */
static unsigned long overflow;
static int64_t overflow_start_ms;

static int64_t now_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* The peer as aggregation sees it: a tcp peer without its source port. */
static void peer_key(const char *peer, char *out, size_t cap)
{
    const char *colon = peer ? strrchr(peer, ':') : NULL;

    if (peer != NULL && strncmp(peer, "tcp:", 4) == 0 && colon != NULL && colon > peer + 4)
        snprintf(out, cap, "%.*s", (int)(colon - peer), peer);
    else
        snprintf(out, cap, "%s", peer ? peer : "");
}

static bool same_refusal(const struct repeat *r, const char *peer,
                         const struct lurkd_audit_event *ev)
{
    return strcmp(r->peer, peer) == 0 && r->ev.designation == ev->designation &&
           r->ev.type == ev->type && r->ev.status == ev->status &&
           strcmp(r->note, ev->note ? ev->note : "") == 0;
}

static void copy_event(struct repeat *r, const struct lurkd_audit_event *ev)
{
    snprintf(r->client, sizeof(r->client), "%s", ev->client ? ev->client : "");
    if (ev->key_id != NULL)
        memcpy(r->key_id, ev->key_id, LURK_KEY_ID_LEN);
    snprintf(r->key, sizeof(r->key), "%s", ev->key ? ev->key : "");
    snprintf(r->note, sizeof(r->note), "%s", ev->note ? ev->note : "");
    r->ev = *ev;
    r->ev.peer = r->peer;
    r->ev.client = ev->client ? r->client : NULL;
    r->ev.key_id = ev->key_id ? r->key_id : NULL;
    r->ev.key = ev->key ? r->key : NULL;
    r->ev.note = ev->note ? r->note : NULL;
}

/* Ends the intervals that are over at now: their count lines (audit_lock held). */
static void end_intervals_locked(const struct timespec *now)
{
    char line[1200];

    for (size_t i = 0; i < AGGREGATE_SLOTS; i++) {
        struct repeat *r = &repeats[i];
        if (!r->used || now_ms(now) - r->start_ms < aggregate_ms)
            continue;
        if (r->count > 0)
            append_locked(line, format_line(line, sizeof(line), &r->ev, now, r->count, &r->since));
        r->used = false;
    }
    if (overflow > 0 && now_ms(now) - overflow_start_ms >= aggregate_ms) {
        int n = snprintf(line, sizeof(line),
                         "{\"note\":\"refusals of more peers than the audit log tracks "
                         "separately\",\"repeated\":%lu}\n",
                         overflow);
        append_locked(line, (size_t)n);
        overflow = 0;
    }
}

/* True when ev is a repeat within its interval: counted, not logged (audit_lock held). */
static bool aggregated_locked(const struct lurkd_audit_event *ev, const struct timespec *ts)
{
    struct repeat *free_slot = NULL;
    char peer[96];

    peer_key(ev->peer, peer, sizeof(peer));
    for (size_t i = 0; i < AGGREGATE_SLOTS; i++) {
        struct repeat *r = &repeats[i];
        if (!r->used) {
            if (free_slot == NULL)
                free_slot = r;
            continue;
        }
        if (!same_refusal(r, peer, ev))
            continue;
        if (r->count++ == 0)
            r->since = *ts;
        copy_event(r, ev);
        return true;
    }
    if (free_slot == NULL) {
        if (overflow++ == 0)
            overflow_start_ms = now_ms(ts);
        return true;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    snprintf(free_slot->peer, sizeof(free_slot->peer), "%s", peer);
    copy_event(free_slot, ev);
    free_slot->start_ms = now_ms(ts);
    return false;
}

void lurkd_audit_log(const struct lurkd_audit_event *ev)
{
    char line[1200];
    struct timespec ts;
    size_t n;

    if (!lurkd_audit_enabled())
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    n = format_line(line, sizeof(line), ev, &ts, 0, NULL);
    pthread_mutex_lock(&audit_lock);
    if (ev->status == LURK_STATUS_SUCCESS || aggregate_ms == 0 || !aggregated_locked(ev, &ts))
        append_locked(line, n);
    else
        lurkd_metrics_count(LURKD_COUNTER_AUDIT_LINES_AGGREGATED);
    pthread_mutex_unlock(&audit_lock);
}

/*
 * Handshake refusals: at most this many lines a second; the ones beyond are
 * counted and the count ("suppressed") rides on the next line written. One
 * holder of a revoked certificate cannot fill the disk by reconnecting.
 */
#define HANDSHAKE_LINES_PER_SECOND 10

static int64_t handshake_second;           /* audit_lock */
static unsigned handshake_lines;           /* audit_lock: written in that second */
static unsigned long handshake_suppressed; /* audit_lock */

void lurkd_audit_handshake_refused(const char *peer, const char *alert, const char *note)
{
    char line[1200], p[200], a[80], n[600], when[64], extra[64] = "";
    struct timespec ts;
    int len;

    if (!lurkd_audit_enabled())
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    iso_time(&ts, when, sizeof(when));
    json_string(p, sizeof(p), peer);
    json_string(a, sizeof(a), alert);
    json_string(n, sizeof(n), note);
    pthread_mutex_lock(&audit_lock);
    if (ts.tv_sec != handshake_second) {
        handshake_second = ts.tv_sec;
        handshake_lines = 0;
    }
    if (handshake_lines >= HANDSHAKE_LINES_PER_SECOND) {
        handshake_suppressed++;
        lurkd_metrics_count(LURKD_COUNTER_AUDIT_LINES_AGGREGATED);
        pthread_mutex_unlock(&audit_lock);
        return;
    }
    handshake_lines++;
    if (handshake_suppressed > 0)
        snprintf(extra, sizeof(extra), ",\"suppressed\":%lu", handshake_suppressed);
    handshake_suppressed = 0;
    len = snprintf(line, sizeof(line),
                   "{\"time\":\"%s\",\"peer\":%s,\"client\":null,\"key_id\":\"\",\"key\":null,"
                   "\"exchange\":\"tls/handshake\",\"status\":%s,\"us\":0,"
                   "\"id\":\"0000000000000000\",\"note\":%s%s}\n",
                   when, p, a, n, extra);
    append_locked(line, len > 0 && (size_t)len < sizeof(line) ? (size_t)len : 0);
    pthread_mutex_unlock(&audit_lock);
}

void lurkd_audit_flush(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&audit_lock);
    end_intervals_locked(&ts);
    if (audit_fd >= 0 && audit_len > 0)
        flush_locked();
    pthread_mutex_unlock(&audit_lock);
}

void lurkd_audit_close(void)
{
    lurkd_audit_open(NULL);
}
