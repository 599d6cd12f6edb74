/* Metrics; see metrics.h. */
#include "ops/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/names.h"

#define DESIGNATIONS 3
#define TYPE_SLOTS   16 /* types 0..14, and 128 in slot 15 */
#define STATUSES     32
#define PRIVATE_SLOT 15

/* Latency buckets, in microseconds (Prometheus "le" in seconds). */
static const uint64_t buckets_us[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000};
#define BUCKETS (sizeof(buckets_us) / sizeof(buckets_us[0]))

static struct {
    atomic_uint_fast64_t counters[LURKD_COUNTER_COUNT];
    /* [request designation][type slot][response in designation lurk][status] */
    atomic_uint_fast64_t requests[DESIGNATIONS][TYPE_SLOTS][2][STATUSES];
    atomic_uint_fast64_t latency[DESIGNATIONS][TYPE_SLOTS][BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us[DESIGNATIONS][TYPE_SLOTS];
} m;

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
    {"lurkd_reloads_total", NULL, "Successful configuration reloads."},
    {"lurkd_reload_failures_total", NULL, "Reloads refused because the new configuration was bad."},
    {"lurkd_audit_refusals_aggregated_total", NULL,
     "Refused requests counted in an aggregate audit line instead of a line of their own."},
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
    add(out, "# HELP lurkd_keys Keys loaded.\n# TYPE lurkd_keys gauge\nlurkd_keys %u\n", g->keys);

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
