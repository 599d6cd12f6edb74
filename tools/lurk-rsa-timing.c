/*
 * lurk-rsa-timing: does lurkd take longer, or less long, to answer an RSA
 * key transport request whose PKCS#1 block is malformed? A timing
 * difference would be a Bleichenbacher oracle of its own (docs/security.md,
 * "Attacks tried"). Not a test: a measurement, with a statistical verdict.
 *
 *   lurk-rsa-timing -s ADDR --pubkey CERT_OR_PUBKEY.pem [--ca F --cert F --key F]
 *                   [--rounds N] [--warmup N] [--exchange premaster|master]
 *
 * Each round sends one request of every class in a fresh random order: a
 * well-formed block, every malformed kind of tools/rsa_probe.h, and a
 * positive control that lurkd refuses before decrypting (a ciphertext not
 * below the modulus, a public check), whose difference the statistics must
 * find, or the run says it had no power. Ciphertexts are made outside the
 * timed span. For each class against "good", paired by round: the median
 * difference with its distribution-free 95% confidence interval (sign-test
 * order statistics), the Wilcoxon signed-rank and the sign test, at 5 %
 * with a Bonferroni correction over the judged classes: the malformed
 * blocks of a secret plaintext. The all-zero ciphertext is reported, not
 * judged: its plaintext is 0 and public, and RSA blinding cannot hide a
 * zero (0 times the blinding factor is 0), so it may well differ without
 * telling an attacker anything.
 *
 * Exit status: 0 no malformed class differs (and the control does), 1 one
 * does, 3 the control showed nothing (no verdict), 2 usage.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "args.h"
#include "lurk/clock.h"
#include "lurk/client.h"
#include "lurk/keyid.h"
#include "lurk/tls12.h"
#include "rsa_probe.h"

#define TOOL      "lurk-rsa-timing"
#define N_CLASSES (LURK_RSA_PROBE_COUNT + 1)
#define CONTROL   LURK_RSA_PROBE_COUNT /* the class after the probe kinds */

static const char *class_name(int c)
{
    return c == CONTROL ? "control: above modulus" : lurk_rsa_probe_kind_name(c);
}

/* The classes whose plaintext is secret: a difference there is an oracle. */
static bool judged(int c)
{
    return c != LURK_RSA_PROBE_GOOD && c != LURK_RSA_PROBE_ZERO_CIPHERTEXT && c != CONTROL;
}
#define N_JUDGED (LURK_RSA_PROBE_COUNT - 2)

static EVP_PKEY *load_public_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pkey = NULL;
    X509 *cert;

    if (f == NULL)
        return NULL;
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    if (cert != NULL) {
        pkey = X509_get_pubkey(cert);
        X509_free(cert);
    } else {
        rewind(f);
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    return pkey;
}

/* The ciphertext of class c (k bytes). */
static bool make_ciphertext(EVP_PKEY *pub, int c, uint8_t *ct)
{
    size_t k = (size_t)EVP_PKEY_get_size(pub);

    if (c == CONTROL) {
        memset(ct, 0xff, k);
        return true;
    }
    return lurk_rsa_probe_make(pub, (enum lurk_rsa_probe_kind)c, 0x0303, ct, NULL);
}

/* The request payload for ct: rsa_premaster, or rsa_master with fixed randoms. */
static size_t make_payload(bool master, const uint8_t id[4], const uint8_t *ct, size_t k,
                           uint8_t *out, size_t cap)
{
    struct lurk_key_id key_id = {.type = LURK_KEY_ID_TYPE_SHA256_32};
    lurk_cbb cbb;

    memcpy(key_id.id, id, 4);
    lurk_cbb_init_fixed(&cbb, out, cap);
    if (master) {
        struct lurk_tls12_rsa_master_request r = {.key_id = key_id,
                                                  .freshness_funct = LURK_FRESHNESS_NULL,
                                                  .prf_hash = LURK_PRF_HASH_SHA256};
        memset(r.client_random, 1, sizeof(r.client_random));
        memset(r.server_random, 2, sizeof(r.server_random));
        lurk_cbs_init(&r.encrypted_premaster, ct, k);
        lurk_tls12_rsa_master_request_encode(&cbb, &r);
    } else {
        struct lurk_tls12_rsa_premaster_request r = {.key_id = key_id, .client_version = 0x0303};
        lurk_cbs_init(&r.encrypted_premaster, ct, k);
        lurk_tls12_rsa_premaster_request_encode(&cbb, &r);
    }
    return lurk_cbb_ok(&cbb) ? lurk_cbb_len(&cbb) : 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Two-sided p of a standard normal z. */
static double p_normal(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

struct verdict {
    double median_good, median_class, median_diff, ci_low, ci_high, p_wilcoxon, p_sign;
};

static int cmp_abs(const void *a, const void *b)
{
    double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
    return (x > y) - (x < y);
}

/* Paired differences d[i] = class[i] - good[i] (n rounds, nanoseconds). */
static void compare(const double *good, const double *cls, size_t n, struct verdict *v)
{
    double *d = malloc(n * sizeof(*d)), *g = malloc(n * sizeof(*g)), *c = malloc(n * sizeof(*c));
    size_t nz = 0, pos = 0;
    double w_plus = 0, ties = 0;

    memcpy(g, good, n * sizeof(*g));
    memcpy(c, cls, n * sizeof(*c));
    v->median_good = median(g, n);
    v->median_class = median(c, n);
    for (size_t i = 0; i < n; i++)
        if (cls[i] != good[i]) {
            d[nz++] = cls[i] - good[i];
            pos += cls[i] > good[i];
        }
    /* The median difference and its 95 % interval: order statistics of the sign test. */
    qsort(d, nz, sizeof(*d), cmp_double);
    v->median_diff = nz ? (nz % 2 ? d[nz / 2] : (d[nz / 2 - 1] + d[nz / 2]) / 2) : 0;
    long lo = (long)floor(nz / 2.0 - 1.96 * sqrt((double)nz) / 2.0);
    if (lo < 0)
        lo = 0;
    v->ci_low = nz ? d[lo] : 0;
    v->ci_high = nz ? d[nz - 1 - (size_t)lo] : 0;
    v->p_sign = nz ? p_normal((pos - nz / 2.0) / sqrt(nz / 4.0)) : 1;
    /* Wilcoxon signed-rank: ranks of |d| (ties averaged), W+ against its normal approximation. */
    qsort(d, nz, sizeof(*d), cmp_abs);
    for (size_t i = 0; i < nz;) {
        size_t j = i;
        while (j + 1 < nz && fabs(d[j + 1]) == fabs(d[i]))
            j++;
        double rank = (double)(i + j) / 2.0 + 1.0, t = (double)(j - i + 1);
        for (size_t k = i; k <= j; k++)
            if (d[k] > 0)
                w_plus += rank;
        ties += t * t * t - t;
        i = j + 1;
    }
    double mean = nz * (nz + 1) / 4.0, var = nz * (nz + 1) * (2.0 * nz + 1) / 24.0 - ties / 48.0;
    v->p_wilcoxon = var > 0 ? p_normal((w_plus - mean) / sqrt(var)) : 1;
    free(d);
    free(g);
    free(c);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: " TOOL " -s ADDR --pubkey CERT_OR_PUBKEY.pem [--ca F --cert F --key F]\n"
               "       [--rounds N] [--warmup N] [--exchange premaster|master]\n");
}

struct options {
    const char *server, *pubkey, *ca, *cert, *key;
    long rounds, warmup;
    bool master;
};

/* The command line into o; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'}, {"pubkey", required_argument, NULL, 'p'},
        {"ca", required_argument, NULL, 'A'},     {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'K'},    {"rounds", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'}, {"exchange", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int ch;

    *o = (struct options){.rounds = 5000, .warmup = 200};
    while ((ch = getopt_long(argc, argv, "s:p:n:w:x:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o->server = optarg;
            break;
        case 'p':
            o->pubkey = optarg;
            break;
        case 'A':
            o->ca = optarg;
            break;
        case 'C':
            o->cert = optarg;
            break;
        case 'K':
            o->key = optarg;
            break;
        case 'n':
            if (!tool_arg_long(TOOL, "--rounds", optarg, 10, 10000000, &o->rounds))
                return 2;
            break;
        case 'w':
            if (!tool_arg_long(TOOL, "--warmup", optarg, 0, 1000000, &o->warmup))
                return 2;
            break;
        case 'x':
            if (strcmp(optarg, "master") != 0 && strcmp(optarg, "premaster") != 0) {
                fprintf(stderr, TOOL ": --exchange is premaster or master, not \"%s\"\n", optarg);
                return 2;
            }
            o->master = strcmp(optarg, "master") == 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->server == NULL || o->pubkey == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* A connection to o->server (*tls holds its TLS context, if any); NULL after a message. */
static struct lurk_conn *connect_server(const struct options *o, SSL_CTX **tls)
{
    struct lurk_address addr;
    struct lurk_conn *conn;
    char err[512];

    *tls = NULL;
    if (!lurk_address_parse(o->server, &addr, err, sizeof(err))) {
        fprintf(stderr, TOOL ": %s\n", err);
        return NULL;
    }
    if (addr.kind == LURK_ADDRESS_TLS &&
        (*tls = lurk_client_tls_ctx_new(NULL, o->ca, o->cert, o->key, err, sizeof(err))) == NULL) {
        fprintf(stderr, TOOL ": %s\n", err);
        return NULL;
    }
    conn = lurk_conn_open(&addr, *tls, 5000, err, sizeof(err));
    if (conn == NULL)
        fprintf(stderr, TOOL ": %s: %s\n", o->server, err);
    return conn;
}

/* A random order of the classes for one round (interleaving cancels drift). */
static void shuffled_classes(int order[N_CLASSES])
{
    uint8_t shuffle[N_CLASSES];

    for (int c = 0; c < N_CLASSES; c++)
        order[c] = c;
    RAND_bytes(shuffle, sizeof(shuffle));
    for (int c = N_CLASSES - 1; c > 0; c--) {
        int j = shuffle[c] % (c + 1), tmp = order[c];
        order[c] = order[j];
        order[j] = tmp;
    }
}

/*
 * Runs warm-up and measured rounds, each sending one ciphertext of every
 * class in random order; the measured times go to t[class][round]. Counts
 * answers with an unexpected status in *failures. False on a transport error.
 */
static bool measure(const struct options *o, struct lurk_conn *conn, EVP_PKEY *pub,
                    const uint8_t id[4], double *t[N_CLASSES], unsigned *failures)
{
    size_t k = (size_t)EVP_PKEY_get_size(pub), total = (size_t)(o->warmup + o->rounds);
    uint8_t type = o->master ? LURK_TLS12_TYPE_RSA_MASTER : LURK_TLS12_TYPE_RSA_PREMASTER;
    char err[512];

    *failures = 0;
    for (size_t r = 0; r < total; r++) {
        int order[N_CLASSES];
        shuffled_classes(order);
        for (int i = 0; i < N_CLASSES; i++) {
            int c = order[i];
            uint8_t ct[LURK_RSA_PROBE_MAX], payload[LURK_RSA_PROBE_MAX + 128];
            struct lurk_response resp;
            if (!make_ciphertext(pub, c, ct))
                return false;
            size_t len = make_payload(o->master, id, ct, k, payload, sizeof(payload));
            int64_t t0 = lurk_clock_ns();
            bool ok = lurk_conn_call(conn, LURK_DESIGNATION_TLS12, type, payload, len, &resp, 10000,
                                     err, sizeof(err));
            int64_t dt = lurk_clock_ns() - t0;
            if (!ok) {
                fprintf(stderr, TOOL ": %s\n", err);
                return false;
            }
            /* Every class but the control must be answered success (implicit rejection). */
            if ((resp.msg.hdr.status == LURK_STATUS_SUCCESS) != (c != CONTROL))
                (*failures)++;
            lurk_response_free(&resp);
            if (r >= (size_t)o->warmup)
                t[c][r - (size_t)o->warmup] = (double)dt;
        }
    }
    return true;
}

/* Prints the verdict of every class against the well-formed one; returns the exit status. */
static int report(const struct options *o, EVP_PKEY *pub, double *t[N_CLASSES], unsigned failures)
{
    double load[3] = {-1, -1, -1}, alpha = 0.05 / N_JUDGED;
    bool differs = false, control_seen = false;
    FILE *la = fopen("/proc/loadavg", "r");

    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = -1;
        fclose(la);
    }
    printf("lurk-rsa-timing: %s, RSA-%d, %s, %ld rounds (after %ld warm-up) of %d classes, "
           "load average %.2f %.2f %.2f\n",
           o->server, EVP_PKEY_get_bits(pub), o->master ? "rsa_master" : "rsa_premaster", o->rounds,
           o->warmup, N_CLASSES, load[0], load[1], load[2]);
    if (failures > 0)
        printf("%u answers had an unexpected status (a malformed block must get success)\n",
               failures);
    printf("%-24s %10s %10s %10s %21s %10s %10s  %s\n", "class", "median ns", "good ns", "diff ns",
           "95% CI of diff ns", "Wilcoxon p", "sign p", "verdict");
    for (int c = 1; c < N_CLASSES; c++) {
        struct verdict v;
        compare(t[LURK_RSA_PROBE_GOOD], t[c], (size_t)o->rounds, &v);
        bool diff = v.p_wilcoxon < alpha && (v.ci_low > 0 || v.ci_high < 0);
        if (c == CONTROL)
            control_seen = diff;
        else if (judged(c))
            differs |= diff;
        printf("%-24s %10.0f %10.0f %10.0f [%9.0f, %9.0f] %10.3g %10.3g  %s%s\n", class_name(c),
               v.median_class, v.median_good, v.median_diff, v.ci_low, v.ci_high, v.p_wilcoxon,
               v.p_sign, diff ? "DIFFERS" : "no difference detected",
               judged(c) ? "" : " (public, not judged)");
    }
    printf("alpha %.4f per class (5 %% Bonferroni over %d judged classes); the control %s\n", alpha,
           N_JUDGED,
           control_seen ? "differs, as it must: the test can see a difference"
                        : "shows nothing: this run has no power, no verdict");
    if (!control_seen)
        return 3;
    return differs || failures > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    double *t[N_CLASSES] = {NULL};
    struct lurk_conn *conn = NULL;
    SSL_CTX *tls = NULL;
    EVP_PKEY *pub;
    unsigned failures;
    uint8_t id[4];
    int rc = parse_args(argc, argv, &o);

    if (rc >= 0)
        return rc;
    pub = load_public_key(o.pubkey);
    if (pub == NULL || !EVP_PKEY_is_a(pub, "RSA") || !lurk_keyid_from_pkey(NULL, pub, id)) {
        fprintf(stderr, TOOL ": %s holds no RSA public key\n", o.pubkey);
        EVP_PKEY_free(pub);
        return 2;
    }
    rc = 2;
    for (int c = 0; c < N_CLASSES; c++)
        if ((t[c] = calloc((size_t)o.rounds, sizeof(double))) == NULL)
            goto out;
    if ((conn = connect_server(&o, &tls)) != NULL && measure(&o, conn, pub, id, t, &failures))
        rc = report(&o, pub, t, failures);
out:
    lurk_conn_close(conn);
    SSL_CTX_free(tls);
    EVP_PKEY_free(pub);
    for (int c = 0; c < N_CLASSES; c++)
        free(t[c]);
    return rc;
}
