/*
 * lurk-bench: closed-loop LURK load against lurkd, for scripts/bench.
 *
 *   lurk-bench -s ADDR [--ca F --cert F --key F] --key-id HEX --scheme 0x0804
 *              [-c CONNECTIONS] [-d DEPTH] [-t SECONDS] [--interval-us N]
 *              [--busy-poll | --poll-us N [--poll-sleep on|off]]
 *   lurk-bench -s ADDR ... --idle N      open N idle connections, print, wait for stdin EOF
 *   lurk-bench -s ADDR ... --flood N     pipeline N signs on one connection, read all
 *   lurk-bench --local KEYFILE --scheme 0x0804 [-c THREADS] [-t SECONDS]
 *
 * Each connection has its own thread that keeps DEPTH sign_certificate_verify
 * requests in flight. The output is one line of key=value pairs: operations
 * per second and latency percentiles in microseconds. --interval-us N makes
 * the load sparse: each connection waits N µs after an answer before it
 * sends its next request (a sleep, with the thread's timer slack at 1 ns so
 * that short intervals are kept), which measures what a server spends per
 * request when requests are far apart (docs/performance.md, "Polling before
 * sleeping"). --busy-poll (unix: and tcp:// only) makes each connection
 * spin on its socket instead of sleeping until its answer comes: the
 * latency is then the server's and the link's, without the wake-up of this
 * client's idle CPU (docs/performance.md, "The tree of 19:00"). Without
 * it, each connection waits for its answer as the provider does: it polls
 * for up to --poll-us N µs before it sleeps (lurk_conn_set_poll; the
 * default is the provider's lurk-poll-us default, 0 sleeps at once), with
 * a learned sleep first for answers longer than that unless --poll-sleep
 * off (docs/performance.md, "Polling for the answer"). The result line
 * then says how the waits ended (poll_polled, poll_woken, poll_slept,
 * poll_unpolled).
 *
 * --local is the same-operation baseline: in this process, THREADS threads
 * build the TLS 1.3 CertificateVerify content (RFC 8446 §4.4.3: 64 spaces,
 * the server context string, 0x00, the transcript hash) and sign it with the
 * key file and scheme, the way lurkd does (a copy of an initialised signing
 * context, then EVP_DigestSign), one signature at a time per thread.
 *
 * Measurement window: every connection (or thread) is set up first; the
 * clock, this process's getrusage and, with --server-pid, the server's
 * /proc accounting (utime and stime of all its threads, voluntary and
 * involuntary context switches summed over /proc/PID/task/\*, and the same
 * per thread) are read when all start and again at the deadline. -n COUNT replaces the deadline by
 * a total number of requests (for instruction counts under callgrind). Each connection makes one
 * request before the window opens (a TLS server finishes the handshake when it reads the client's
 * first record).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "args.h"
#include "lurk/clock.h"
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
    int64_t interval_ns; /* --interval-us: pause between an answer and the next request */
    bool busy_poll;      /* --busy-poll: spin until the answer is readable */
    int poll_us;         /* --poll-us: lurk_conn_set_poll's cap */
    bool poll_sleep;     /* --poll-sleep: its learned sleep */
    int64_t deadline_ns;
    uint64_t per_conn; /* requests per connection or thread; 0: until the deadline */
    pthread_barrier_t ready, go;
    EVP_MD_CTX *local_tmpl; /* --local: the initialised signing context */
    uint8_t tbs[64 + 34 + 64];
    size_t tbs_len;
    pthread_mutex_t lock;
    uint64_t *latencies; /* microseconds, all threads */
    size_t n_lat, cap_lat;
    uint64_t ops, errors;
    uint64_t polled, woken, slept, unpolled; /* lurk_conn_poll_stats, all connections */
};

static void sleep_until(int64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
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

/* Timed runs stop at the deadline, counted runs after per_conn requests. */
static bool more(const struct bench *b, uint64_t done)
{
    return b->per_conn > 0 ? done < b->per_conn : lurk_clock_ns() < b->deadline_ns;
}

/* st: how the connection's waits ended during the window (NULL for --local). */
static void merge(struct bench *b, uint64_t ops, uint64_t errors, const uint64_t *lat, size_t n_lat,
                  const struct lurk_conn_poll_stats *st)
{
    pthread_mutex_lock(&b->lock);
    if (st != NULL) {
        b->polled += st->polled;
        b->woken += st->woken;
        b->slept += st->slept;
        b->unpolled += st->unpolled;
    }
    b->ops += ops;
    b->errors += errors;
    if (b->n_lat + n_lat > b->cap_lat) {
        b->cap_lat = (b->n_lat + n_lat) * 2;
        b->latencies = realloc(b->latencies, b->cap_lat * sizeof(uint64_t));
    }
    if (n_lat > 0)
        memcpy(b->latencies + b->n_lat, lat, n_lat * sizeof(uint64_t));
    b->n_lat += n_lat;
    pthread_mutex_unlock(&b->lock);
}

/* --busy-poll: returns when the connection has bytes to read (or at the deadline). */
static void spin_until_readable(const struct bench *b, const struct lurk_conn *c)
{
    struct pollfd p = {.fd = lurk_conn_fd(c), .events = POLLIN};

    while (poll(&p, 1, 0) == 0 && (b->per_conn > 0 || lurk_clock_ns() < b->deadline_ns))
        ;
}

static void *worker(void *arg)
{
    struct bench *b = arg;
    struct lurk_conn *c = connect_or_die(b);
    int64_t sent_at[MAX_DEPTH];
    struct lurk_conn_poll_stats st0;
    uint64_t *lat = malloc(sizeof(uint64_t) * 1024 * 1024);
    size_t n_lat = 0;
    uint64_t ops = 0, errors = 0, next_id = 0;
    uint8_t msg[128];
    char err[512];

    /*
     * One round trip before the window opens: a TLS server finishes its side
     * of the handshake (the client's certificate) after the client has.
     */
    size_t len0 = build_request(b, 0, msg, sizeof(msg));
    uint8_t *resp0;
    size_t resp0_len;
    if (!lurk_conn_send(c, msg, len0, 10000, err, sizeof(err)) ||
        !lurk_conn_recv(c, &resp0, &resp0_len, 30000, err, sizeof(err)))
        goto fail;
    free(resp0);
    if (!b->busy_poll)
        lurk_conn_set_poll(c, (unsigned)b->poll_us, b->poll_sleep);
    /* The default 50 µs slack would stretch short intervals. */
    if (b->interval_ns > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    pthread_barrier_wait(&b->ready);
    pthread_barrier_wait(&b->go);
    lurk_conn_poll_stats(c, &st0);
    /* Fill the pipeline; the id's low bits say which slot a response belongs to. */
    for (int i = 0; i < b->depth && (b->per_conn == 0 || next_id < b->per_conn); i++, next_id++) {
        size_t len = build_request(b, next_id, msg, sizeof(msg));
        sent_at[next_id % MAX_DEPTH] = lurk_clock_ns();
        if (!lurk_conn_send(c, msg, len, 10000, err, sizeof(err)))
            goto fail;
    }
    while (more(b, ops + errors)) {
        uint8_t *resp;
        size_t resp_len;
        struct lurk_message m;
        if (b->busy_poll)
            spin_until_readable(b, c);
        if (!lurk_conn_recv(c, &resp, &resp_len, 10000, err, sizeof(err)))
            goto fail;
        int64_t t = lurk_clock_ns();
        lurk_message_parse(resp, resp_len, &m);
        if (m.hdr.status == LURK_STATUS_SUCCESS)
            ops++;
        else
            errors++;
        if (n_lat < 1024 * 1024 && lat != NULL)
            lat[n_lat++] = (uint64_t)(t - sent_at[m.hdr.id % MAX_DEPTH]) / 1000;
        free(resp);
        if (b->per_conn > 0 && next_id >= b->per_conn)
            continue;
        if (b->interval_ns > 0)
            sleep_until(t + b->interval_ns);
        size_t len = build_request(b, next_id, msg, sizeof(msg));
        sent_at[next_id % MAX_DEPTH] = lurk_clock_ns();
        next_id++;
        if (!lurk_conn_send(c, msg, len, 10000, err, sizeof(err)))
            goto fail;
    }
    struct lurk_conn_poll_stats st1;
    lurk_conn_poll_stats(c, &st1);
    st1.polled -= st0.polled;
    st1.woken -= st0.woken;
    st1.slept -= st0.slept;
    st1.unpolled -= st0.unpolled;
    merge(b, ops, errors, lat, n_lat, &st1);
    lurk_conn_close(c);
    free(lat);
    return NULL;
fail:
    fprintf(stderr, "lurk-bench: %s\n", err);
    exit(1);
}

/* --local: one signature at a time, lurkd's way, in this process. */
static void *local_worker(void *arg)
{
    struct bench *b = arg;
    uint64_t *lat = malloc(sizeof(uint64_t) * 1024 * 1024);
    size_t n_lat = 0;
    uint64_t ops = 0, errors = 0;
    uint8_t sig[1024];

    pthread_barrier_wait(&b->ready);
    pthread_barrier_wait(&b->go);
    while (more(b, ops + errors)) {
        int64_t t0 = lurk_clock_ns();
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        size_t len = 0;
        if (md != NULL && EVP_MD_CTX_copy_ex(md, b->local_tmpl) == 1 &&
            EVP_DigestSign(md, NULL, &len, b->tbs, b->tbs_len) == 1 && len <= sizeof(sig) &&
            EVP_DigestSign(md, sig, &len, b->tbs, b->tbs_len) == 1)
            ops++;
        else
            errors++;
        EVP_MD_CTX_free(md);
        if (n_lat < 1024 * 1024 && lat != NULL)
            lat[n_lat++] = (uint64_t)(lurk_clock_ns() - t0) / 1000;
    }
    merge(b, ops, errors, lat, n_lat, NULL);
    free(lat);
    return NULL;
}

/* The CertificateVerify content and a signing context for the scheme. */
static bool local_setup(struct bench *b, const char *key_file, unsigned scheme)
{
    static const char context[] = "TLS 1.3, server CertificateVerify";
    const char *md_name = NULL;
    bool pss = false;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    FILE *f = fopen(key_file, "r");

    switch (scheme) {
    case 0x0804:
    case 0x0809:
        pss = true;
        /* fall through */
    case 0x0403:
        md_name = "SHA256";
        break;
    case 0x0805:
    case 0x080a:
        pss = true;
        /* fall through */
    case 0x0503:
        md_name = "SHA384";
        break;
    case 0x0806:
    case 0x080b:
        pss = true;
        /* fall through */
    case 0x0603:
        md_name = "SHA512";
        break;
    case 0x0807:
    case 0x0808:
        break;
    default:
        fprintf(stderr, "lurk-bench: --local does not know scheme 0x%04x\n", scheme);
        if (f != NULL)
            fclose(f);
        return false;
    }
    if (f == NULL || (pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
        fprintf(stderr, "lurk-bench: cannot read a PEM private key from %s\n", key_file);
        if (f != NULL)
            fclose(f);
        return false;
    }
    fclose(f);
    memset(b->tbs, 0x20, 64);
    memcpy(b->tbs + 64, context, sizeof(context)); /* with its 0x00 */
    memset(b->tbs + 64 + sizeof(context), 0xab, 32);
    b->tbs_len = 64 + sizeof(context) + 32;
    b->local_tmpl = EVP_MD_CTX_new();
    if (b->local_tmpl == NULL ||
        EVP_DigestSignInit_ex(b->local_tmpl, &pctx, md_name, NULL, NULL, pkey, NULL) != 1 ||
        (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))) {
        fprintf(stderr, "lurk-bench: the key in %s cannot sign with scheme 0x%04x\n", key_file,
                scheme);
        EVP_PKEY_free(pkey);
        return false;
    }
    EVP_PKEY_free(pkey); /* the context holds a reference */
    return true;
}

/* CPU and context switches of this process, or of another (--server-pid). */
#define MAX_TASKS 64

struct task_usage {
    long tid;
    char comm[16];                   /* the thread's name (/proc/PID/task/TID/comm) */
    unsigned long long utime, stime; /* clock ticks */
    uint64_t csw;                    /* voluntary + involuntary */
};

struct usage {
    double user_s, sys_s;
    uint64_t vcsw, ivcsw;
    struct task_usage tasks[MAX_TASKS]; /* --server-pid: per thread, by thread id */
    size_t n_tasks;
};

static void self_usage(struct usage *u)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    u->user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    u->sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    u->vcsw = (uint64_t)ru.ru_nvcsw;
    u->ivcsw = (uint64_t)ru.ru_nivcsw;
}

/* utime and stime (clock ticks) from a /proc stat file. */
static bool stat_times(const char *path, unsigned long long *utime, unsigned long long *stime)
{
    char buf[1024];
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    /* After ") ": state(3) ... utime(14) stime(15). */
    return p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                               utime, stime) == 2;
}

static int cmp_task(const void *a, const void *b)
{
    long x = ((const struct task_usage *)a)->tid, y = ((const struct task_usage *)b)->tid;
    return x < y ? -1 : x > y;
}

/*
 * utime and stime of /proc/PID/stat count all threads; the switches are per
 * task, and so is the per-thread split.
 */
static bool proc_usage(pid_t pid, struct usage *u)
{
    char path[64], buf[1024];
    unsigned long long utime = 0, stime = 0;
    long tck = sysconf(_SC_CLK_TCK);
    FILE *f;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (!stat_times(path, &utime, &stime))
        return false;
    u->user_s = (double)utime / (double)tck;
    u->sys_s = (double)stime / (double)tck;
    u->vcsw = u->ivcsw = 0;
    u->n_tasks = 0;
    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    if ((d = opendir(path)) == NULL)
        return false;
    while ((e = readdir(d)) != NULL) {
        char status[300];
        if (e->d_name[0] == '.')
            continue;
        snprintf(status, sizeof(status), "/proc/%ld/task/%s/status", (long)pid, e->d_name);
        if ((f = fopen(status, "r")) == NULL)
            continue; /* the thread ended */
        struct task_usage *t = u->n_tasks < MAX_TASKS ? &u->tasks[u->n_tasks] : NULL;
        if (t != NULL)
            *t = (struct task_usage){.tid = strtol(e->d_name, NULL, 10)};
        while (fgets(buf, sizeof(buf), f) != NULL) {
            unsigned long long v;
            if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1)
                u->vcsw += v;
            else if (sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                u->ivcsw += v;
            else
                continue;
            if (t != NULL)
                t->csw += v;
        }
        fclose(f);
        snprintf(status, sizeof(status), "/proc/%ld/task/%s/comm", (long)pid, e->d_name);
        if (t != NULL && (f = fopen(status, "r")) != NULL) {
            if (fgets(t->comm, sizeof(t->comm), f) != NULL)
                t->comm[strcspn(t->comm, "\n:,")] = '\0';
            fclose(f);
        }
        snprintf(status, sizeof(status), "/proc/%ld/task/%s/stat", (long)pid, e->d_name);
        if (t != NULL && stat_times(status, &t->utime, &t->stime))
            u->n_tasks++;
    }
    closedir(d);
    qsort(u->tasks, u->n_tasks, sizeof(u->tasks[0]), cmp_task);
    return true;
}

/*
 * srv_threads=TID:NAME:CPU:SYS:CSW,... per operation (microseconds, switches),
 * in thread id order, for the threads present at both ends of the window
 * (NAME: the thread's name, "lurkd-io" or "lurkd-worker" for lurkd's).
 */
static void print_threads_delta(const struct usage *a, const struct usage *z, uint64_t ops)
{
    double n = ops > 0 ? (double)ops : 1, tck = (double)sysconf(_SC_CLK_TCK);
    const char *sep = "";

    printf(" srv_threads=");
    for (size_t i = 0; i < z->n_tasks; i++) {
        const struct task_usage *t1 = &z->tasks[i], *t0 = NULL;
        for (size_t j = 0; j < a->n_tasks && t0 == NULL; j++)
            if (a->tasks[j].tid == t1->tid)
                t0 = &a->tasks[j];
        if (t0 == NULL)
            continue;
        double cpu = (double)(t1->utime + t1->stime - t0->utime - t0->stime) / tck;
        double sys = (double)(t1->stime - t0->stime) / tck;
        printf("%s%ld:%s:%.2f:%.2f:%.3f", sep, t1->tid, t1->comm, cpu * 1e6 / n, sys * 1e6 / n,
               (double)(t1->csw - t0->csw) / n);
        sep = ",";
    }
}

static void print_usage_delta(const char *prefix, const struct usage *a, const struct usage *z,
                              uint64_t ops)
{
    double n = ops > 0 ? (double)ops : 1;
    double user = z->user_s - a->user_s, sys = z->sys_s - a->sys_s;

    printf(" %s_user_s=%.3f %s_sys_s=%.3f %s_cpu_us_per_op=%.2f %s_sys_us_per_op=%.2f"
           " %s_vcsw_per_op=%.3f %s_ivcsw_per_op=%.3f",
           prefix, user, prefix, sys, prefix, (user + sys) * 1e6 / n, prefix, sys * 1e6 / n, prefix,
           (double)(z->vcsw - a->vcsw) / n, prefix, (double)(z->ivcsw - a->ivcsw) / n);
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

struct options {
    const char *server, *ca, *cert, *key, *key_id, *local;
    long count, server_pid;
    unsigned scheme;
    int connections, seconds, idle, flood, interval_us;
};

static void usage(void)
{
    fprintf(stderr, "usage: lurk-bench -s ADDR --key-id HEX [--scheme N] [-c N] [-d N] "
                    "[-t S | -n COUNT] [--interval-us N] "
                    "[--busy-poll | --poll-us N [--poll-sleep on|off]] [--server-pid PID] "
                    "[--idle N | --flood N] "
                    "[--ca F --cert F --key F]\n"
                    "       lurk-bench --local KEYFILE [--scheme N] [-c THREADS] "
                    "[-t S | -n COUNT]\n");
}

/* The command line into o (and b->depth); false after a message (exit status 2). */
static bool parse_args(int argc, char **argv, struct options *o, struct bench *b)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},      {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'C'},        {"key", required_argument, NULL, 'k'},
        {"key-id", required_argument, NULL, 'i'},      {"scheme", required_argument, NULL, 'S'},
        {"connections", required_argument, NULL, 'c'}, {"depth", required_argument, NULL, 'd'},
        {"time", required_argument, NULL, 't'},        {"idle", required_argument, NULL, 'I'},
        {"flood", required_argument, NULL, 'F'},       {"local", required_argument, NULL, 'L'},
        {"count", required_argument, NULL, 'n'},       {"server-pid", required_argument, NULL, 'P'},
        {"interval-us", required_argument, NULL, 'W'}, /* sparse loads */
        {"busy-poll", no_argument, NULL, 'B'},         {"poll-us", required_argument, NULL, 'U'},
        {"poll-sleep", required_argument, NULL, 'Z'},  {NULL, 0, NULL, 0},
    };
    long scheme;
    int ch;
    bool ok = true, poll_given = false;

    *o = (struct options){.scheme = 0x0804, .connections = 1, .seconds = 5};
    while (ok && (ch = getopt_long(argc, argv, "s:c:d:t:n:", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o->server = optarg;
            break;
        case 'a':
            o->ca = optarg;
            break;
        case 'C':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'i':
            o->key_id = optarg;
            break;
        case 'S':
            ok = tool_arg_long("lurk-bench", "--scheme", optarg, 0, 0xffff, &scheme);
            o->scheme = (unsigned)scheme;
            break;
        case 'c':
            ok = tool_arg_int("lurk-bench", "-c", optarg, 1, 10000, &o->connections);
            break;
        case 'd':
            ok = tool_arg_int("lurk-bench", "-d", optarg, 1, MAX_DEPTH, &b->depth);
            break;
        case 't':
            ok = tool_arg_int("lurk-bench", "-t", optarg, 1, 86400, &o->seconds);
            break;
        case 'I':
            ok = tool_arg_int("lurk-bench", "--idle", optarg, 1, 1000000, &o->idle);
            break;
        case 'F':
            ok = tool_arg_int("lurk-bench", "--flood", optarg, 1, 100000000, &o->flood);
            break;
        case 'L':
            o->local = optarg;
            break;
        case 'n':
            ok = tool_arg_long("lurk-bench", "-n", optarg, 1, 1000000000, &o->count);
            break;
        case 'P':
            ok = tool_arg_long("lurk-bench", "--server-pid", optarg, 1, 0x7fffffff, &o->server_pid);
            break;
        case 'B':
            b->busy_poll = true;
            break;
        case 'U':
            ok = tool_arg_int("lurk-bench", "--poll-us", optarg, 0, LURK_CLIENT_POLL_US_MAX,
                              &b->poll_us);
            poll_given = true;
            break;
        case 'Z':
            ok = strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0;
            if (!ok)
                fprintf(stderr, "lurk-bench: --poll-sleep is on or off, not \"%s\"\n", optarg);
            b->poll_sleep = strcmp(optarg, "on") == 0;
            poll_given = true;
            break;
        case 'W':
            ok = tool_arg_int("lurk-bench", "--interval-us", optarg, 0, 10000000, &o->interval_us);
            b->interval_ns = (int64_t)o->interval_us * 1000;
            break;
        default:
            usage();
            return false;
        }
    }
    if (ok && o->interval_us > 0 && (o->local != NULL || o->idle > 0 || o->flood > 0)) {
        fprintf(stderr, "lurk-bench: --interval-us applies to closed-loop runs against a server\n");
        return false;
    }
    if (ok && b->busy_poll && (o->local != NULL || o->idle > 0 || o->flood > 0)) {
        fprintf(stderr, "lurk-bench: --busy-poll applies to closed-loop runs against a server\n");
        return false;
    }
    if (ok && poll_given && (o->local != NULL || o->idle > 0 || o->flood > 0)) {
        fprintf(stderr,
                "lurk-bench: --poll-us and --poll-sleep apply to closed-loop runs against a "
                "server\n");
        return false;
    }
    if (ok && poll_given && b->busy_poll) {
        fprintf(stderr, "lurk-bench: --busy-poll spins until the answer: no --poll-us or "
                        "--poll-sleep with it\n");
        return false;
    }
    if (ok && o->count > 0 && o->count < o->connections) {
        fprintf(stderr, "lurk-bench: -n must be at least -c\n");
        return false;
    }
    return ok;
}

/*
 * The server, its TLS context and the one request every connection sends:
 * sign_certificate_verify with key_id, scheme, role server and a SHA-256
 * transcript hash. Returns -1 to go on, else the exit status.
 */
static int remote_setup(const struct options *o, struct bench *b)
{
    uint8_t id[4] = {0}, *p = b->request_payload;
    size_t id_len = 0;
    char err[512];

    if (o->server == NULL || !lurk_address_parse(o->server, &b->addr, err, sizeof(err))) {
        fprintf(stderr, "lurk-bench: -s ADDR is required and must be unix:, tcp:// or tls://\n");
        return 2;
    }
    /* A TLS answer may already wait in OpenSSL's buffer, where poll does not see it. */
    if (b->busy_poll && b->addr.kind == LURK_ADDRESS_TLS) {
        fprintf(stderr, "lurk-bench: --busy-poll needs a unix: or tcp:// address\n");
        return 2;
    }
    /* Idle connections send nothing; every other mode signs with the key. */
    if ((o->key_id == NULL && o->idle == 0) ||
        (o->key_id != NULL &&
         (!lurk_hex_decode(o->key_id, id, sizeof(id), &id_len) || id_len != 4))) {
        fprintf(stderr, "lurk-bench: --key-id wants the key's 4-byte id in hex (8 digits)\n");
        return 2;
    }
    if (b->addr.kind == LURK_ADDRESS_TLS &&
        (b->tls = lurk_client_tls_ctx_new(NULL, o->ca, o->cert, o->key, err, sizeof(err))) ==
            NULL) {
        fprintf(stderr, "lurk-bench: %s\n", err);
        return 1;
    }
    p[0] = 0;
    memcpy(p + 1, id, 4);
    p[5] = (uint8_t)(o->scheme >> 8);
    p[6] = (uint8_t)o->scheme;
    p[7] = 0;
    p[8] = 32;
    memset(p + 9, 0xab, 32);
    b->request_len = 41;
    return -1;
}

/*
 * The closed-loop run: connections (threads) are set up before the window
 * opens ("ready" when all are), then the start is sampled and "go"
 * releases them. Prints the result line; returns the exit status.
 */
static int run_closed_loop(const struct options *o, struct bench *b)
{
    pthread_t *threads = calloc((size_t)o->connections, sizeof(*threads));
    struct usage self0 = {0}, self1 = {0}, srv0 = {0}, srv1 = {0};
    bool srv_ok = true;
    int64_t start, end;

    if (threads == NULL)
        return 1;
    pthread_barrier_init(&b->ready, NULL, (unsigned)o->connections + 1);
    pthread_barrier_init(&b->go, NULL, (unsigned)o->connections + 1);
    for (int i = 0; i < o->connections; i++)
        if (pthread_create(&threads[i], NULL, o->local != NULL ? local_worker : worker, b) != 0) {
            fprintf(stderr, "lurk-bench: cannot start thread %d\n", i);
            return 1;
        }
    pthread_barrier_wait(&b->ready);
    if (o->server_pid > 0)
        srv_ok = proc_usage((pid_t)o->server_pid, &srv0);
    self_usage(&self0);
    start = lurk_clock_ns();
    b->deadline_ns = start + (int64_t)o->seconds * 1000000000;
    pthread_barrier_wait(&b->go);
    /* A timed run is sampled at the deadline, before the connections close. */
    if (o->count == 0)
        sleep_until(b->deadline_ns);
    else
        for (int i = 0; i < o->connections; i++)
            pthread_join(threads[i], NULL);
    end = lurk_clock_ns();
    self_usage(&self1);
    if (o->server_pid > 0 && srv_ok)
        srv_ok = proc_usage((pid_t)o->server_pid, &srv1);
    if (o->count == 0)
        for (int i = 0; i < o->connections; i++)
            pthread_join(threads[i], NULL);
    double elapsed = (double)(end - start) / 1e9;
    qsort(b->latencies, b->n_lat, sizeof(uint64_t), cmp_u64);
    printf("ops=%" PRIu64 " errors=%" PRIu64 " seconds=%.2f ops_per_s=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64,
           b->ops, b->errors, elapsed, (double)b->ops / elapsed, percentile(b, 0.50),
           percentile(b, 0.99));
    print_usage_delta("self", &self0, &self1, b->ops);
    if (o->local == NULL)
        printf(" poll_us=%d poll_sleep=%s poll_polled=%" PRIu64 " poll_woken=%" PRIu64
               " poll_slept=%" PRIu64 " poll_unpolled=%" PRIu64,
               b->busy_poll ? -1 : b->poll_us, b->poll_sleep ? "on" : "off", b->polled, b->woken,
               b->slept, b->unpolled);
    if (o->server_pid > 0 && srv_ok) {
        print_usage_delta("srv", &srv0, &srv1, b->ops);
        print_threads_delta(&srv0, &srv1, b->ops);
    }
    printf("\n");
    if (o->server_pid > 0 && !srv_ok)
        fprintf(stderr, "lurk-bench: cannot read /proc/%ld accounting\n", o->server_pid);
    free(threads);
    return b->errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct bench b = {.depth = 1,
                      .lock = PTHREAD_MUTEX_INITIALIZER,
                      .poll_us = LURK_CLIENT_POLL_US_DEFAULT,
                      .poll_sleep = true};
    struct options o;
    int rc = -1;

    if (!parse_args(argc, argv, &o, &b))
        return 2;
    b.per_conn = (uint64_t)o.count / (uint64_t)o.connections;
    if (o.local != NULL && !local_setup(&b, o.local, o.scheme))
        return 1;
    if (o.local == NULL && (rc = remote_setup(&o, &b)) < 0) {
        if (o.idle > 0)
            rc = run_idle(&b, o.idle);
        else if (o.flood > 0)
            rc = run_flood(&b, o.flood);
    }
    if (rc < 0)
        rc = run_closed_loop(&o, &b);
    free(b.latencies);
    SSL_CTX_free(b.tls);
    EVP_MD_CTX_free(b.local_tmpl);
    return rc;
}
