/* Metrics; see metrics.h. */
#include "ops/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "keys/keystore.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/names.h"

#define DESIGNATIONS 3
#define TYPE_SLOTS   16 /* types 0..14, and 128 in slot 15 */
#define STATUSES     32
#define PRIVATE_SLOT 15
/*
 * Per-key request series (key x exchange x status). A fixed table keeps
 * memory bounded whatever clients send: 4096 series hold 100 keys doing a
 * dozen exchanges with a few statuses each; the probe bound keeps an
 * insertion short when it is nearly full.
 */
#define KEY_SERIES 4096
#define KEY_PROBES 64

/* Latency buckets, in microseconds (Prometheus "le" in seconds). */
static const uint64_t buckets_us[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000};
#define BUCKETS (sizeof(buckets_us) / sizeof(buckets_us[0]))

static struct {
    atomic_uint_fast64_t counters[LURKD_COUNTER_COUNT];
    /* [request designation][type slot][response in designation lurk][status] */
    atomic_uint_fast64_t requests[DESIGNATIONS][TYPE_SLOTS][2][STATUSES];
    atomic_uint_fast64_t latency[DESIGNATIONS][TYPE_SLOTS][BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us[DESIGNATIONS][TYPE_SLOTS];
    /* Per-key series: tag (key_series_tag) and count, open addressing. */
    struct {
        atomic_uint_fast64_t tag, count;
    } keys[KEY_SERIES];
    atomic_uint_fast64_t keys_dropped;
    atomic_int_fast64_t started, last_reload; /* seconds since the epoch */
    atomic_bool last_reload_ok;
} m = {.last_reload_ok = true};

static const char *build_version = "unknown";

/* Counters of one name with different labels are consecutive: HELP and TYPE come once. */
static const struct {
    const char *name, *label, *help;
} counters[LURKD_COUNTER_COUNT] = {
    {"lurkd_connections_accepted_total", NULL, "Connections accepted."},
    {"lurkd_connections_refused_total", "reason=\"max_connections\"",
     "Connections refused, by reason (docs/security.md)."},
    {"lurkd_connections_refused_total", "reason=\"max_connections_per_peer\"", NULL},
    {"lurkd_connections_refused_total", "reason=\"descriptors_exhausted\"", NULL},
    {"lurkd_connections_closed_total", "reason=\"bad_frame\"",
     "Connections closed by lurkd, by reason."},
    {"lurkd_connections_closed_total", "reason=\"request_timeout\"", NULL},
    {"lurkd_connections_closed_total", "reason=\"idle_timeout\"", NULL},
    {"lurkd_tls_handshake_failures_total", NULL, "Failed TLS handshakes on tls:// listeners."},
    {"lurkd_reloads_total", "result=\"success\"",
     "Configuration reloads (SIGHUP), by result; a failed one keeps the previous configuration."},
    {"lurkd_reloads_total", "result=\"failure\"", NULL},
    {"lurkd_audit_refusals_aggregated_total", NULL,
     "Refused requests counted in an aggregate audit line instead of a line of their own."},
    {"lurkd_requests_refused_total", "reason=\"unknown_key\"", "Requests refused, by reason."},
    {"lurkd_requests_refused_total", "reason=\"key_not_allowed\"", NULL},
    {"lurkd_requests_refused_total", "reason=\"connection_queue_limit\"", NULL},
    {"lurkd_requests_refused_total", "reason=\"queue_limit\"", NULL},
    {"lurkd_requests_refused_total", "reason=\"peer_queue_limit\"", NULL},
};

static int type_slot(uint8_t type)
{
    if (type < PRIVATE_SLOT)
        return type;
    return type == LURK_TYPE_PRIVATE_MIN ? PRIVATE_SLOT : -1;
}

static uint8_t slot_type(int slot)
{
    return slot == PRIVATE_SLOT ? LURK_TYPE_PRIVATE_MIN : (uint8_t)slot;
}

void lurkd_metrics_count(enum lurkd_counter counter)
{
    atomic_fetch_add_explicit(&m.counters[counter], 1, memory_order_relaxed);
}

void lurkd_metrics_request(uint8_t designation, uint8_t type, uint8_t response_designation,
                           uint8_t status, uint64_t micros)
{
    int slot = type_slot(type);
    size_t b = 0;

    /* The project's lurk status not_allowed (128) takes the last slot. */
    if (response_designation == LURK_DESIGNATION_LURK && status == LURK_STATUS_NOT_ALLOWED)
        status = STATUSES - 1;
    if (designation >= DESIGNATIONS || slot < 0 || status >= STATUSES)
        return;
    atomic_fetch_add_explicit(
        &m.requests[designation][slot][response_designation == LURK_DESIGNATION_LURK][status], 1,
        memory_order_relaxed);
    while (b < BUCKETS && micros > buckets_us[b])
        b++;
    atomic_fetch_add_explicit(&m.latency[designation][slot][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.latency_sum_us[designation][slot], micros, memory_order_relaxed);
}

/*
 * Bit 63 marks a used slot, bit 62 the series of unknown key ids (id NULL);
 * the rest is key id, designation, type, lurk flag, status.
 */
#define KEY_UNKNOWN (1ull << 62)

static uint64_t key_series_tag(const uint8_t id[4], uint8_t designation, uint8_t slot, bool lurk,
                               uint8_t status)
{
    if (id == NULL)
        return 1ull << 63 | KEY_UNKNOWN | (uint64_t)designation << 16 | (uint64_t)slot << 8 |
               (uint64_t)lurk << 7 | status;
    return 1ull << 63 | (uint64_t)id[0] << 48 | (uint64_t)id[1] << 40 | (uint64_t)id[2] << 32 |
           (uint64_t)id[3] << 24 | (uint64_t)designation << 16 | (uint64_t)slot << 8 |
           (uint64_t)lurk << 7 | status;
}

void lurkd_metrics_key_request(const uint8_t key_id[4], uint8_t designation, uint8_t type,
                               uint8_t response_designation, uint8_t status)
{
    int slot = type_slot(type);
    uint64_t tag, h;

    if (designation >= DESIGNATIONS || slot < 0 || status >= STATUSES)
        return;
    tag = key_series_tag(key_id, designation, (uint8_t)slot,
                         response_designation == LURK_DESIGNATION_LURK, status);
    h = (tag * 0x9e3779b97f4a7c15ull) >> 52; /* 12 bits: KEY_SERIES */
    for (unsigned i = 0; i < KEY_PROBES; i++) {
        size_t at = (size_t)((h + i) % KEY_SERIES);
        uint_fast64_t seen = atomic_load_explicit(&m.keys[at].tag, memory_order_acquire);
        /* A free slot becomes ours, unless another thread took it first (seen: its tag). */
        if (seen == 0 &&
            atomic_compare_exchange_strong_explicit(&m.keys[at].tag, &seen, tag,
                                                    memory_order_acq_rel, memory_order_acquire))
            seen = tag;
        if (seen == tag) {
            atomic_fetch_add_explicit(&m.keys[at].count, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&m.keys_dropped, 1, memory_order_relaxed);
}

void lurkd_metrics_started(const char *version)
{
    build_version = version;
    atomic_store(&m.started, (int_fast64_t)time(NULL));
}

void lurkd_metrics_reload(bool ok)
{
    lurkd_metrics_count(ok ? LURKD_COUNTER_RELOADS : LURKD_COUNTER_RELOAD_FAILURES);
    atomic_store(&m.last_reload_ok, ok);
    if (ok)
        atomic_store(&m.last_reload, (int_fast64_t)time(NULL));
}

static void add(lurk_cbb *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(lurk_cbb *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(line))
        lurk_cbb_add_bytes(out, (const uint8_t *)line, (size_t)n);
}

static uint64_t get(atomic_uint_fast64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/*
 * A label value in the text format: backslash, double quote and newline
 * escaped, and any byte that is not printable ASCII (a unix socket path may
 * hold one) as '?': the stats response carries printable ASCII only
 * (docs/protocol.md, lurk stats).
 */
static void label_value(char *out, size_t cap, const char *v)
{
    size_t n = 0;

    for (; v != NULL && *v != '\0' && n + 3 < cap; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[n++] = '\\';
            out[n++] = *v == '\n' ? 'n' : *v;
        } else {
            out[n++] = *v >= 0x20 && *v < 0x7f ? *v : '?';
        }
    }
    out[n] = '\0';
}

static void render_listeners(lurk_cbb *out, const struct lurkd_gauges *g)
{
    char address[512];

    add(out, "# HELP lurkd_listener_connections Open client connections, by listener.\n"
             "# TYPE lurkd_listener_connections gauge\n");
    for (size_t i = 0; i < g->n_listeners; i++) {
        label_value(address, sizeof(address), g->listeners[i].address);
        add(out, "lurkd_listener_connections{listener=\"%s\"} %u\n", address,
            g->listeners[i].connections);
    }
}

static void render_process(lurk_cbb *out)
{
    char version[64], openssl[128];

    label_value(version, sizeof(version), build_version);
    label_value(openssl, sizeof(openssl), OpenSSL_version(OPENSSL_VERSION));
    add(out,
        "# HELP lurkd_build_info lurkd's version and the OpenSSL it runs with.\n"
        "# TYPE lurkd_build_info gauge\nlurkd_build_info{version=\"%s\",openssl=\"%s\"} 1\n",
        version, openssl);
    add(out,
        "# HELP lurkd_start_time_seconds Start time of the process since the epoch.\n"
        "# TYPE lurkd_start_time_seconds gauge\nlurkd_start_time_seconds %lld\n",
        (long long)atomic_load(&m.started));
    add(out,
        "# HELP lurkd_config_last_reload_successful Whether the last reload succeeded (1 before "
        "any).\n"
        "# TYPE lurkd_config_last_reload_successful gauge\n"
        "lurkd_config_last_reload_successful %d\n",
        atomic_load(&m.last_reload_ok) ? 1 : 0);
    add(out,
        "# HELP lurkd_config_last_reload_success_timestamp_seconds Time of the last successful "
        "reload (0: none yet).\n"
        "# TYPE lurkd_config_last_reload_success_timestamp_seconds gauge\n"
        "lurkd_config_last_reload_success_timestamp_seconds %lld\n",
        (long long)atomic_load(&m.last_reload));
}

/* notAfter of the key's certificate, in seconds since the epoch; false without one. */
static bool certificate_expiry(const struct lurkd_key *k, long long *out)
{
    struct tm tm;

    if (k->cert == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(k->cert), &tm) != 1)
        return false;
    *out = (long long)timegm(&tm);
    return true;
}

static void render_key_certificates(lurk_cbb *out, const struct lurkd_keystore *ks)
{
    char name[256];
    long long t;

    add(out, "# HELP lurkd_key_certificate_expiry_timestamp_seconds notAfter of each key's "
             "certificate, since the epoch.\n"
             "# TYPE lurkd_key_certificate_expiry_timestamp_seconds gauge\n");
    for (size_t i = 0; ks != NULL && i < ks->n_keys; i++) {
        const struct lurkd_key *k = &ks->keys[i];
        if (!certificate_expiry(k, &t))
            continue;
        label_value(name, sizeof(name), k->conf->name);
        add(out, "lurkd_key_certificate_expiry_timestamp_seconds{key=\"%s\",key_id=\"%s\"} %lld\n",
            name, k->id_hex, t);
    }
}

/* Series of keys no longer loaded keep counting under key="" (their key_id says which). */
static void render_key_requests(lurk_cbb *out, const struct lurkd_keystore *ks)
{
    char name[256];

    add(out, "# HELP lurkd_key_requests_total Requests naming a key, by key, exchange and status.\n"
             "# TYPE lurkd_key_requests_total counter\n");
    for (size_t i = 0; i < KEY_SERIES; i++) {
        uint64_t tag = get(&m.keys[i].tag), count = get(&m.keys[i].count);
        uint8_t id[4] = {(uint8_t)(tag >> 48), (uint8_t)(tag >> 40), (uint8_t)(tag >> 32),
                         (uint8_t)(tag >> 24)};
        uint8_t d = (uint8_t)(tag >> 16), slot = (uint8_t)(tag >> 8), st = tag & 0x7f;
        bool lurk = (tag >> 7) & 1;
        bool unknown = (tag & KEY_UNKNOWN) != 0;
        const struct lurkd_key *k = ks && !unknown ? lurkd_keystore_find(ks, id) : NULL;
        char id_text[9] = "unknown";

        if (tag == 0 || count == 0)
            continue;
        label_value(name, sizeof(name), k ? k->conf->name : "");
        if (!unknown)
            snprintf(id_text, sizeof(id_text), "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
        add(out,
            "lurkd_key_requests_total{key=\"%s\",key_id=\"%s\",designation=\"%s\","
            "type=\"%s\",status=\"%s\"} %llu\n",
            name, id_text, lurk_designation_name(d), lurk_type_name(d, slot_type(slot)),
            lurk_status_name(lurk ? LURK_DESIGNATION_LURK : d, st), (unsigned long long)count);
    }
    add(out,
        "# HELP lurkd_key_series_dropped_total Key requests not counted by key: the series table "
        "was full.\n"
        "# TYPE lurkd_key_series_dropped_total counter\nlurkd_key_series_dropped_total %llu\n",
        (unsigned long long)get(&m.keys_dropped));
}

bool lurkd_metrics_render(lurk_cbb *out, const struct lurkd_gauges *g)
{
    for (int c = 0; c < LURKD_COUNTER_COUNT; c++) {
        if (counters[c].help != NULL)
            add(out, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
                counters[c].name);
        add(out, "%s%s%s%s %llu\n", counters[c].name, counters[c].label ? "{" : "",
            counters[c].label ? counters[c].label : "", counters[c].label ? "}" : "",
            (unsigned long long)get(&m.counters[c]));
    }
    add(out,
        "# HELP lurkd_connections Open client connections.\n"
        "# TYPE lurkd_connections gauge\nlurkd_connections %u\n",
        g->connections);
    add(out,
        "# HELP lurkd_queued_requests Requests waiting for a worker.\n"
        "# TYPE lurkd_queued_requests gauge\nlurkd_queued_requests %u\n",
        g->queued);
    add(out,
        "# HELP lurkd_queued_peers Peers with requests waiting for a worker (peer_queue_limit).\n"
        "# TYPE lurkd_queued_peers gauge\nlurkd_queued_peers %u\n",
        g->queued_peers);
    add(out,
        "# HELP lurkd_queue_limit Requests the workers' queue holds before temporary_failure.\n"
        "# TYPE lurkd_queue_limit gauge\nlurkd_queue_limit %u\n",
        g->queue_limit);
    add(out, "# HELP lurkd_keys Keys loaded.\n# TYPE lurkd_keys gauge\nlurkd_keys %u\n", g->keys);
    render_listeners(out, g);
    render_process(out);
    render_key_certificates(out, g->keystore);
    render_key_requests(out, g->keystore);

    add(out, "# HELP lurkd_requests_total Requests answered, by exchange and status.\n"
             "# TYPE lurkd_requests_total counter\n");
    for (int d = 0; d < DESIGNATIONS; d++)
        for (int t = 0; t < TYPE_SLOTS; t++)
            for (int l = 0; l < 2; l++)
                for (int s = 0; s < STATUSES; s++) {
                    uint64_t v = get(&m.requests[d][t][l][s]);
                    if (v == 0)
                        continue;
                    add(out,
                        "lurkd_requests_total{designation=\"%s\",type=\"%s\",status=\"%s\"} "
                        "%llu\n",
                        lurk_designation_name((uint8_t)d), lurk_type_name((uint8_t)d, slot_type(t)),
                        lurk_status_name(l ? LURK_DESIGNATION_LURK : (uint8_t)d,
                                         l && s == STATUSES - 1 ? LURK_STATUS_NOT_ALLOWED
                                                                : (uint8_t)s),
                        (unsigned long long)v);
                }

    add(out, "# HELP lurkd_request_duration_seconds Time from dispatch to response.\n"
             "# TYPE lurkd_request_duration_seconds histogram\n");
    for (int d = 0; d < DESIGNATIONS; d++)
        for (int t = 0; t < TYPE_SLOTS; t++) {
            uint64_t count = 0;
            for (size_t b = 0; b <= BUCKETS; b++)
                count += get(&m.latency[d][t][b]);
            if (count == 0)
                continue;
            const char *dn = lurk_designation_name((uint8_t)d);
            const char *tn = lurk_type_name((uint8_t)d, slot_type(t));
            uint64_t cumulative = 0;
            for (size_t b = 0; b <= BUCKETS; b++) {
                cumulative += get(&m.latency[d][t][b]);
                if (b < BUCKETS)
                    add(out,
                        "lurkd_request_duration_seconds_bucket{designation=\"%s\",type=\"%s\","
                        "le=\"%g\"} %llu\n",
                        dn, tn, (double)buckets_us[b] / 1e6, (unsigned long long)cumulative);
                else
                    add(out,
                        "lurkd_request_duration_seconds_bucket{designation=\"%s\",type=\"%s\","
                        "le=\"+Inf\"} %llu\n",
                        dn, tn, (unsigned long long)cumulative);
            }
            add(out,
                "lurkd_request_duration_seconds_sum{designation=\"%s\",type=\"%s\"} %.6f\n"
                "lurkd_request_duration_seconds_count{designation=\"%s\",type=\"%s\"} %llu\n",
                dn, tn, (double)get(&m.latency_sum_us[d][t]) / 1e6, dn, tn,
                (unsigned long long)count);
        }
    return lurk_cbb_ok(out);
}
