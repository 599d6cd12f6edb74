/*
 * lurk-bench: closed-loop LURK load against lurkd, for scripts/bench.
 *
 *   lurk-bench -s ADDR [--ca F --cert F --key F] --key-id HEX --scheme 0x0804
 *              [-c CONNECTIONS] [-d DEPTH] [-t SECONDS]
 *   lurk-bench -s ADDR ... --idle N      open N idle connections, print, wait for stdin EOF
 *   lurk-bench -s ADDR ... --flood N     pipeline N signs on one connection, read all
 *
 * Each connection has its own thread that keeps DEPTH sign_certificate_verify
 * requests in flight. The output is one line of key=value pairs: operations
 * per second and latency percentiles in microseconds.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "lurk/client.h"
#include "lurk/hex.h"
#include "lurk/tls13.h"

#define MAX_DEPTH 256

struct bench {
    struct lurk_address addr;
    SSL_CTX *tls;
    uint8_t request_payload[64];
    size_t request_len;
    int depth;
    int64_t deadline_ns;
    pthread_mutex_t lock;
    uint64_t *latencies; /* microseconds, all threads */
    size_t n_lat, cap_lat;
    uint64_t ops, errors;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t build_request(const struct bench *b, uint64_t id, uint8_t *out, size_t cap)
{
    struct lurk_header hdr = {
        LURK_DESIGNATION_TLS13, 1, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, id, 0};
    lurk_cbb cbb;
    size_t start;

    lurk_cbb_init_fixed(&cbb, out, cap);
    lurk_message_begin(&cbb, &start, &hdr);
    lurk_cbb_add_bytes(&cbb, b->request_payload, b->request_len);
    lurk_message_end(&cbb, start);
    return lurk_cbb_len(&cbb);
}

static struct lurk_conn *connect_or_die(struct bench *b)
{
    char err[512];
    struct lurk_conn *c = lurk_conn_open(&b->addr, b->tls, 10000, err, sizeof(err));

    if (c == NULL) {
        fprintf(stderr, "lurk-bench: %s: %s\n", b->addr.text, err);
        exit(1);
    }
    return c;
}

static void *worker(void *arg)
{
    struct bench *b = arg;
    struct lurk_conn *c = connect_or_die(b);
    int64_t sent_at[MAX_DEPTH];
    uint64_t *lat = malloc(sizeof(uint64_t) * 1024 * 1024);
    size_t n_lat = 0;
    uint64_t ops = 0, errors = 0, next_id = 0;
    uint8_t msg[128];
    char err[512];

    /* Fill the pipeline; the id's low bits say which slot a response belongs to. */
    for (int i = 0; i < b->depth; i++, next_id++) {
        size_t len = build_request(b, next_id, msg, sizeof(msg));
        sent_at[next_id % MAX_DEPTH] = now_ns();
        if (!lurk_conn_send(c, msg, len, 10000, err, sizeof(err)))
            goto fail;
    }
    while (now_ns() < b->deadline_ns) {
        uint8_t *resp;
        size_t resp_len;
        struct lurk_message m;
        if (!lurk_conn_recv(c, &resp, &resp_len, 10000, err, sizeof(err)))
            goto fail;
        int64_t t = now_ns();
        lurk_message_parse(resp, resp_len, &m);
        if (m.hdr.status == LURK_STATUS_SUCCESS)
            ops++;
        else
            errors++;
        if (n_lat < 1024 * 1024 && lat != NULL)
            lat[n_lat++] = (uint64_t)(t - sent_at[m.hdr.id % MAX_DEPTH]) / 1000;
        free(resp);
        size_t len = build_request(b, next_id, msg, sizeof(msg));
        sent_at[next_id % MAX_DEPTH] = now_ns();
        next_id++;
        if (!lurk_conn_send(c, msg, len, 10000, err, sizeof(err)))
            goto fail;
    }
    lurk_conn_close(c);
    pthread_mutex_lock(&b->lock);
    b->ops += ops;
    b->errors += errors;
    if (b->n_lat + n_lat > b->cap_lat) {
        b->cap_lat = (b->n_lat + n_lat) * 2;
        b->latencies = realloc(b->latencies, b->cap_lat * sizeof(uint64_t));
    }
    memcpy(b->latencies + b->n_lat, lat, n_lat * sizeof(uint64_t));
    b->n_lat += n_lat;
    pthread_mutex_unlock(&b->lock);
    free(lat);
    return NULL;
fail:
    fprintf(stderr, "lurk-bench: %s\n", err);
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(const struct bench *b, double p)
{
    if (b->n_lat == 0)
        return 0;
    size_t i = (size_t)(p * (double)(b->n_lat - 1));
    return b->latencies[i];
}

/* --idle N: hold N connections open (for RSS per connection) until stdin closes. */
static int run_idle(struct bench *b, int n)
{
    struct lurk_conn **conns = calloc((size_t)n, sizeof(*conns));
    char line[16];

    for (int i = 0; i < n; i++)
        conns[i] = connect_or_die(b);
    printf("idle_connections=%d\n", n);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL)
        ;
    for (int i = 0; i < n; i++)
        lurk_conn_close(conns[i]);
    free(conns);
    return 0;
}

struct flood {
    struct lurk_conn *conn;
    int n;
    int answered;
};

static void *flood_reader(void *arg)
{
    struct flood *f = arg;
    char err[512];

    for (; f->answered < f->n; f->answered++) {
        uint8_t *resp;
        size_t len;
        if (!lurk_conn_recv(f->conn, &resp, &len, 30000, err, sizeof(err))) {
            fprintf(stderr, "lurk-bench: %s\n", err);
            break;
        }
        free(resp);
    }
    return NULL;
}

/*
 * --flood N: write N requests as fast as possible while another thread reads
 * the answers (lurkd stops reading a client that does not read). Plain
 * transports only: one TLS object cannot be read and written from two
 * threads at once.
 */
static int run_flood(struct bench *b, int n)
{
    struct flood f = {.conn = connect_or_die(b), .n = n};
    uint8_t msg[128];
    char err[512];
    pthread_t reader;

    if (b->addr.kind == LURK_ADDRESS_TLS) {
        fprintf(stderr, "lurk-bench: --flood needs a unix: or tcp:// address\n");
        return 2;
    }
    pthread_create(&reader, NULL, flood_reader, &f);
    for (int i = 0; i < n; i++) {
        size_t len = build_request(b, (uint64_t)i, msg, sizeof(msg));
        if (!lurk_conn_send(f.conn, msg, len, 30000, err, sizeof(err))) {
            fprintf(stderr, "lurk-bench: %s\n", err);
            break;
        }
    }
    pthread_join(reader, NULL);
    lurk_conn_close(f.conn);
    printf("flood_sent=%d flood_answered=%d\n", n, f.answered);
    return f.answered == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},      {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'C'},        {"key", required_argument, NULL, 'k'},
        {"key-id", required_argument, NULL, 'i'},      {"scheme", required_argument, NULL, 'S'},
        {"connections", required_argument, NULL, 'c'}, {"depth", required_argument, NULL, 'd'},
        {"time", required_argument, NULL, 't'},        {"idle", required_argument, NULL, 'I'},
        {"flood", required_argument, NULL, 'F'},       {NULL, 0, NULL, 0},
    };
    struct bench b = {.depth = 1, .lock = PTHREAD_MUTEX_INITIALIZER};
    const char *server = NULL, *ca = NULL, *cert = NULL, *key = NULL, *key_id = NULL;
    unsigned scheme = 0x0804;
    long scheme_arg;
    int connections = 1, seconds = 5, idle = 0, flood = 0, ch;
    char err[512];

    while ((ch = getopt_long(argc, argv, "s:c:d:t:", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            server = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'i':
            key_id = optarg;
            break;
        case 'S':
            if (!tool_arg_long("lurk-bench", "--scheme", optarg, 0, 0xffff, &scheme_arg))
                return 2;
            scheme = (unsigned)scheme_arg;
            break;
        case 'c':
            if (!tool_arg_int("lurk-bench", "-c", optarg, 1, 10000, &connections))
                return 2;
            break;
        case 'd':
            if (!tool_arg_int("lurk-bench", "-d", optarg, 1, MAX_DEPTH, &b.depth))
                return 2;
            break;
        case 't':
            if (!tool_arg_int("lurk-bench", "-t", optarg, 1, 86400, &seconds))
                return 2;
            break;
        case 'I':
            if (!tool_arg_int("lurk-bench", "--idle", optarg, 1, 1000000, &idle))
                return 2;
            break;
        case 'F':
            if (!tool_arg_int("lurk-bench", "--flood", optarg, 1, 100000000, &flood))
                return 2;
            break;
        default:
            fprintf(stderr, "usage: lurk-bench -s ADDR --key-id HEX [--scheme N] [-c N] [-d N] "
                            "[-t S] [--idle N | --flood N] [--ca F --cert F --key F]\n");
            return 2;
        }
    }
    uint8_t id[4] = {0};
    size_t id_len = 0;
    if (server == NULL || !lurk_address_parse(server, &b.addr, err, sizeof(err))) {
        fprintf(stderr, "lurk-bench: -s ADDR is required and must be unix:, tcp:// or tls://\n");
        return 2;
    }
    /* Idle connections send nothing; every other mode signs with the key. */
    if ((key_id == NULL && idle == 0) ||
        (key_id != NULL && (!lurk_hex_decode(key_id, id, sizeof(id), &id_len) || id_len != 4))) {
        fprintf(stderr, "lurk-bench: --key-id wants the key's 4-byte id in hex (8 digits)\n");
        return 2;
    }
    if (b.addr.kind == LURK_ADDRESS_TLS &&
        (b.tls = lurk_client_tls_ctx_new(NULL, ca, cert, key, err, sizeof(err))) == NULL) {
        fprintf(stderr, "lurk-bench: %s\n", err);
        return 1;
    }
    /* sign_certificate_verify: key_id, scheme, role server, a SHA-256 transcript hash. */
    uint8_t *p = b.request_payload;
    p[0] = 0;
    memcpy(p + 1, id, 4);
    p[5] = (uint8_t)(scheme >> 8);
    p[6] = (uint8_t)scheme;
    p[7] = 0;
    p[8] = 32;
    memset(p + 9, 0xab, 32);
    b.request_len = 41;
    if (idle > 0)
        return run_idle(&b, idle);
    if (flood > 0)
        return run_flood(&b, flood);

    pthread_t *threads = calloc((size_t)connections, sizeof(*threads));
    int64_t start = now_ns();
    b.deadline_ns = start + (int64_t)seconds * 1000000000;
    for (int i = 0; i < connections; i++)
        pthread_create(&threads[i], NULL, worker, &b);
    for (int i = 0; i < connections; i++)
        pthread_join(threads[i], NULL);
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(b.latencies, b.n_lat, sizeof(uint64_t), cmp_u64);
    printf("ops=%" PRIu64 " errors=%" PRIu64 " seconds=%.2f ops_per_s=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64 "\n",
           b.ops, b.errors, elapsed, (double)b.ops / elapsed, percentile(&b, 0.50),
           percentile(&b, 0.99));
    free(threads);
    free(b.latencies);
    SSL_CTX_free(b.tls);
    return b.errors == 0 ? 0 : 1;
}
