/*
 * lurk-https-load: an HTTPS client on libcurl for the end-to-end tests, the
 * demo and the handshake benchmark. Every request is a new connection with
 * a full handshake (no connection reuse, no TLS session resumption), with
 * certificate verification against --cacert, and the TLS version pinned.
 *
 *   lurk-https-load --url URL --cacert CA [--tls 1.2|1.3] [--ciphers LIST]
 *                   [--requests N | --duration S] [--parallel P] [--log FILE]
 *                   [--resolve HOST:PORT:ADDR] [--show]
 *
 * Prints one summary line (key=value): ok, failed, handshakes per second,
 * handshake latency p50/p99 in microseconds, the first and last failure
 * times (ms since start). --show prints protocol, cipher and the server's
 * signature algorithm of the first successful request. --log writes one line
 * per request: start_ms end_ms result. Exit status 0 when nothing failed.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/objects.h>
#include <openssl/ssl.h>

#include "args.h"

struct result {
    int64_t start_ms, end_ms;
    int64_t handshake_us;
    bool ok;
};

static struct {
    const char *url, *cacert, *ciphers, *resolve, *log;
    long tls_version;
    long requests;
    int duration_s;
    int parallel;
    bool show;
    int64_t t0_ms, deadline_ms;
    atomic_long next;
    pthread_mutex_t lock;
    struct result *results;
    size_t n_results, cap_results;
    char shown[512];
} load = {.parallel = 1, .lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void describe(CURL *h, char *out, size_t outlen);

/* The body is discarded; while it arrives the TLS connection is still there to describe. */
static size_t on_body(char *ptr, size_t size, size_t n, void *user)
{
    (void)ptr;
    if (load.show) {
        pthread_mutex_lock(&load.lock);
        if (load.shown[0] == '\0')
            describe(user, load.shown, sizeof(load.shown));
        pthread_mutex_unlock(&load.lock);
    }
    return size * n;
}

static const char *signature_name(int nid)
{
    switch (nid) {
    case NID_rsaEncryption:
        return "RSA-PKCS1";
    case NID_rsassaPss:
        return "RSA-PSS";
    case NID_X9_62_id_ecPublicKey:
        return "ECDSA";
    case NID_ED25519:
        return "Ed25519";
    case NID_ED448:
        return "Ed448";
    default:
        return nid == NID_undef ? "?" : OBJ_nid2sn(nid);
    }
}

/* Protocol, cipher and signature algorithm of the handshake, from the SSL object. */
static void describe(CURL *h, char *out, size_t outlen)
{
    struct curl_tlssessioninfo *info = NULL;
    SSL *ssl;
    int sig_type = NID_undef, sig_md = NID_undef;

    if (curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
        info->backend != CURLSSLBACKEND_OPENSSL || (ssl = info->internals) == NULL) {
        snprintf(out, outlen, "protocol=? cipher=? signature=?");
        return;
    }
    SSL_get_peer_signature_type_nid(ssl, &sig_type);
    SSL_get_peer_signature_nid(ssl, &sig_md);
    snprintf(out, outlen, "protocol=%s cipher=%s signature=%s%s%s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), signature_name(sig_type), sig_md == NID_undef ? "" : "+",
             sig_md == NID_undef ? "" : OBJ_nid2sn(sig_md));
}

static bool keep_going(void)
{
    if (load.duration_s > 0)
        return now_ms() < load.deadline_ms;
    return atomic_fetch_add(&load.next, 1) < load.requests;
}

static void *worker(void *arg)
{
    struct curl_slist *resolve = NULL;
    char errbuf[CURL_ERROR_SIZE];

    (void)arg;
    if (load.resolve != NULL)
        resolve = curl_slist_append(NULL, load.resolve);
    /*
     * One easy handle per thread, reused: it keeps libcurl's parsed CA store
     * between requests, so the client does not reload the CA file for every
     * handshake. Connections are still new each time (FRESH_CONNECT, FORBID_REUSE).
     */
    CURL *h = curl_easy_init();
    while (keep_going()) {
        struct result r = {.start_ms = now_ms() - load.t0_ms};
        long code = 0;
        curl_easy_setopt(h, CURLOPT_URL, load.url);
        curl_easy_setopt(h, CURLOPT_CAINFO, load.cacert);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        /* A new connection and a full handshake every time. */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
        curl_easy_setopt(h, CURLOPT_SSLVERSION, load.tls_version | (load.tls_version << 16));
        if (load.ciphers != NULL) {
            curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, load.ciphers);
            curl_easy_setopt(h, CURLOPT_TLS13_CIPHERS, load.ciphers);
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, h);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        if (resolve != NULL)
            curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
        errbuf[0] = '\0';
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        r.ok = rc == CURLE_OK && code == 200;
        curl_off_t connect_us = 0, appconnect_us = 0;
        curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
        curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
        r.handshake_us = appconnect_us - connect_us;
        r.end_ms = now_ms() - load.t0_ms;
        pthread_mutex_lock(&load.lock);
        if (!r.ok && load.log == NULL)
            fprintf(stderr, "lurk-https-load: %s: %s (HTTP %ld)\n", load.url,
                    errbuf[0] ? errbuf : curl_easy_strerror(rc), code);
        if (load.n_results == load.cap_results) {
            load.cap_results = load.cap_results ? load.cap_results * 2 : 1024;
            load.results = realloc(load.results, load.cap_results * sizeof(*load.results));
        }
        load.results[load.n_results++] = r;
        pthread_mutex_unlock(&load.lock);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(resolve);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"cacert", required_argument, NULL, 'a'},
        {"tls", required_argument, NULL, 'v'},
        {"ciphers", required_argument, NULL, 'C'},
        {"requests", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"parallel", required_argument, NULL, 'p'},
        {"log", required_argument, NULL, 'l'},
        {"resolve", required_argument, NULL, 'r'},
        {"show", no_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    load.tls_version = CURL_SSLVERSION_TLSv1_3;
    load.requests = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            load.url = optarg;
            break;
        case 'a':
            load.cacert = optarg;
            break;
        case 'v':
            if (strcmp(optarg, "1.2") == 0)
                load.tls_version = CURL_SSLVERSION_TLSv1_2;
            else if (strcmp(optarg, "1.3") == 0)
                load.tls_version = CURL_SSLVERSION_TLSv1_3;
            else {
                fprintf(stderr, "lurk-https-load: --tls is 1.2 or 1.3, not \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'C':
            load.ciphers = optarg;
            break;
        case 'n':
            if (!tool_arg_long("lurk-https-load", "--requests", optarg, 1, 1000000000,
                               &load.requests))
                return 2;
            break;
        case 'd':
            if (!tool_arg_int("lurk-https-load", "--duration", optarg, 1, 86400, &load.duration_s))
                return 2;
            break;
        case 'p':
            if (!tool_arg_int("lurk-https-load", "--parallel", optarg, 1, 256, &load.parallel))
                return 2;
            break;
        case 'l':
            load.log = optarg;
            break;
        case 'r':
            load.resolve = optarg;
            break;
        case 's':
            load.show = true;
            break;
        default:
            fprintf(stderr, "usage: lurk-https-load --url URL --cacert CA [--tls 1.2|1.3] "
                            "[--requests N | --duration S] [--parallel P] [--log FILE] [--show]\n");
            return 2;
        }
    }
    if (load.url == NULL || load.cacert == NULL || load.parallel < 1 || load.parallel > 256) {
        fprintf(stderr, "lurk-https-load: --url and --cacert are required\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t *threads = calloc((size_t)load.parallel, sizeof(*threads));
    load.t0_ms = now_ms();
    load.deadline_ms = load.t0_ms + (int64_t)load.duration_s * 1000;
    for (int i = 0; i < load.parallel; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < load.parallel; i++)
        pthread_join(threads[i], NULL);
    int64_t elapsed = now_ms() - load.t0_ms;

    size_t ok = 0, failed = 0;
    int64_t first_fail = -1, last_fail = -1;
    int64_t *hs = calloc(load.n_results + 1, sizeof(int64_t));
    FILE *log = load.log ? fopen(load.log, "w") : NULL;
    for (size_t i = 0; i < load.n_results; i++) {
        const struct result *r = &load.results[i];
        if (r->ok) {
            hs[ok++] = r->handshake_us;
        } else {
            failed++;
            if (first_fail < 0 || r->start_ms < first_fail)
                first_fail = r->start_ms;
            if (r->end_ms > last_fail)
                last_fail = r->end_ms;
        }
        if (log != NULL)
            fprintf(log, "%" PRId64 " %" PRId64 " %s\n", r->start_ms, r->end_ms,
                    r->ok ? "ok" : "fail");
    }
    if (log != NULL)
        fclose(log);
    qsort(hs, ok, sizeof(int64_t), cmp_i64);
    if (load.show)
        printf("%s\n", load.shown[0] ? load.shown : "protocol=? (no successful request)");
    printf("requests=%zu ok=%zu failed=%zu seconds=%.2f handshakes_per_s=%.1f "
           "handshake_p50_us=%" PRId64 " handshake_p99_us=%" PRId64 " first_fail_ms=%" PRId64
           " last_fail_ms=%" PRId64 "\n",
           load.n_results, ok, failed, (double)elapsed / 1000.0,
           elapsed > 0 ? (double)ok * 1000.0 / (double)elapsed : 0.0, ok ? hs[ok / 2] : 0,
           ok ? hs[(size_t)((double)(ok - 1) * 0.99)] : 0, first_fail, last_fail);
    free(hs);
    free(threads);
    free(load.results);
    curl_global_cleanup();
    return failed == 0 && ok > 0 ? 0 : 1;
}
