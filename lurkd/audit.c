/* Audit log; see audit.h. */
#include "audit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lurk/header.h"

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

void lurkd_audit_log(const struct lurkd_audit_event *ev)
{
    char line[1024], peer[200], client[160], key[160], note[200];
    struct timespec ts;
    struct tm tm;
    int n;

    if (!atomic_load_explicit(&audit_enabled, memory_order_relaxed))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    json_string(peer, sizeof(peer), ev->peer);
    json_string(client, sizeof(client), ev->client);
    json_string(key, sizeof(key), ev->key);
    json_string(note, sizeof(note), ev->note);
    n = snprintf(line, sizeof(line),
                 "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"peer\":%s,\"client\":%s,"
                 "\"key_id\":\"%s\",\"key\":%s,\"exchange\":\"%s/%s\",\"status\":\"%s\","
                 "\"us\":%" PRIu64 ",\"id\":\"%016" PRIx64 "\",\"note\":%s}\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000, peer, client, ev->key_id ? ev->key_id : "", key,
                 lurk_designation_name(ev->designation), lurk_type_name(ev->designation, ev->type),
                 lurk_status_name(ev->designation, ev->status), ev->micros, ev->request_id, note);
    if (n <= 0 || (size_t)n >= sizeof(line))
        return;
    pthread_mutex_lock(&audit_lock);
    if (audit_fd >= 0) {
        if (audit_len + (size_t)n > sizeof(audit_buf))
            flush_locked();
        memcpy(audit_buf + audit_len, line, (size_t)n);
        audit_len += (size_t)n;
    }
    pthread_mutex_unlock(&audit_lock);
}

void lurkd_audit_flush(void)
{
    pthread_mutex_lock(&audit_lock);
    if (audit_fd >= 0 && audit_len > 0)
        flush_locked();
    pthread_mutex_unlock(&audit_lock);
}

void lurkd_audit_close(void)
{
    lurkd_audit_open(NULL);
}
