/*
 * lurkctl: the operator's client for lurkd.
 *
 *   lurkctl [-s ADDR] [--ca F --cert F --key F] [--timeout MS] ping [DESIGNATION...]
 *   lurkctl ... capabilities [DESIGNATION...]
 *   lurkctl ... stats
 *   lurkctl keyref --cert CERT | --pubkey PUB [--server ADDR] [-o OUT]
 *   lurkctl ... tls13 server|client TRACE.json...
 *
 * Exit status: 0 when every request succeeded, 1 when lurkd answered an
 * error or could not be reached, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "args.h"
#include "lurk/client.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"
#include "lurk/names.h"
#include "lurkctl.h"

struct ctl {
    struct lurk_address addr;
    SSL_CTX *tls;
    struct lurk_conn *conn;
    int timeout_ms;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lurkctl [-s ADDR] [--ca FILE --cert FILE --key FILE] [--timeout MS] COMMAND\n"
            "\n"
            "commands:\n"
            "  ping [lurk|tls12|tls13]...          check that lurkd answers (default: all)\n"
            "  capabilities [lurk|tls12|tls13]...  what lurkd offers this client\n"
            "  stats                               lurkd's counters (Prometheus text)\n"
            "  keyref --cert CERT|--pubkey PUB [--server ADDR] [-o OUT]\n"
            "                                      write a key reference for the lurk provider\n"
            "  tls13 server|client TRACE.json...   replay recorded TLS 1.3 handshakes through\n"
            "                                      the tls13 exchanges of that role\n"
            "\n"
            "  -s, --server ADDR   unix:/path, tcp://host:port or tls://host:port\n"
            "                      (default: $LURK_SERVER)\n"
            "      --ca FILE       CA of lurkd's certificate (tls://)\n"
            "      --cert FILE     client certificate (tls://)\n"
            "      --key FILE      client key (tls://)\n"
            "      --timeout MS    per request (default 5000)\n");
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static bool designation_parse(const char *name, uint8_t *out)
{
    static const char *const names[] = {"lurk", "tls12", "tls13"};

    for (uint8_t i = 0; i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* The TLS alerts lurkd sends when it refuses a client certificate (net/tls.c), in words. */
static const struct {
    int reason; /* SSL_R_*: OpenSSL's error for the alert received */
    const char *text;
} refusals[] = {
    {SSL_R_TLSV1_ALERT_UNKNOWN_CA,
     "lurkd refused the handshake (unknown_ca): this certificate is not from a CA in lurkd's "
     "client_ca, or lurkd's client_crl has no CRL for its CA"},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED,
     "lurkd refused the handshake (certificate_revoked): this certificate is revoked in lurkd's "
     "client_crl"},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED,
     "lurkd refused the handshake (certificate_expired): this certificate has expired, or lurkd's "
     "client_crl is past its nextUpdate"},
    {SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE,
     "lurkd refused the handshake (handshake_failure): this certificate is not allowed (it "
     "matches no [client.NAME] of lurkd), or lurkd and lurkctl share no TLS 1.3 parameters"},
    {SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
     "lurkd refused the handshake (bad_certificate): this certificate is not valid yet or "
     "unusable"},
    {SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
     "lurkd refused the handshake (certificate_required): give a client certificate with --cert "
     "and --key"},
    {SSL_R_TLSV1_ALERT_ACCESS_DENIED, "lurkd refused the handshake (access_denied)"},
    {SSL_R_TLSV1_ALERT_DECRYPT_ERROR,
     "lurkd refused the handshake (decrypt_error): a signature (certificate or CRL) did not "
     "verify"},
};

/*
 * A transport error as an operator reads it: an alert from lurkd says why it
 * refused this certificate; the library's text is kept after it.
 */
static const char *explain(const char *err)
{
    static char out[1024];

    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const char *r = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, refusals[i].reason));
        if (r != NULL && strstr(err, r) != NULL) {
            snprintf(out, sizeof(out), "%s [%s]", refusals[i].text, err);
            return out;
        }
    }
    return err;
}

/* One request; prints transport failures and error statuses. */
static bool call(struct ctl *ctl, uint8_t designation, uint8_t type, struct lurk_response *resp,
                 double *ms)
{
    char err[256];
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!lurk_conn_call(ctl->conn, designation, type, NULL, 0, resp, ctl->timeout_ms, err,
                        sizeof(err))) {
        fprintf(stderr, "lurkctl: %s %s: %s\n", lurk_designation_name(designation),
                lurk_type_name(designation, type), explain(err));
        return false;
    }
    *ms = ms_since(&t0);
    if (resp->msg.hdr.status != LURK_STATUS_SUCCESS) {
        printf("%s %s: error %s (%s/%u)\n", lurk_designation_name(designation),
               lurk_type_name(designation, type),
               lurk_status_name(resp->msg.hdr.designation, resp->msg.hdr.status),
               lurk_designation_name(resp->msg.hdr.designation), resp->msg.hdr.status);
        lurk_response_free(resp);
        return false;
    }
    return true;
}

/* lurk stats (project type 128): counters and latency histograms, as lurkd renders them. */
static bool cmd_stats(struct ctl *ctl)
{
    struct lurk_response resp;
    lurk_cbs text;

    char err[256];

    if (!lurk_conn_call(ctl->conn, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp,
                        ctl->timeout_ms, err, sizeof(err))) {
        fprintf(stderr, "lurkctl: lurk stats: %s\n", explain(err));
        return false;
    }
    if (resp.msg.hdr.designation == LURK_DESIGNATION_LURK &&
        resp.msg.hdr.status == LURK_STATUS_NOT_ALLOWED) {
        fprintf(stderr, "lurkctl: lurk stats: not allowed: add this client to stats_clients in "
                        "lurkd's [lurkd] section\n");
        lurk_response_free(&resp);
        return false;
    }
    if (resp.msg.hdr.status != LURK_STATUS_SUCCESS) {
        printf("lurk stats: error %s (%s/%u)\n",
               lurk_status_name(resp.msg.hdr.designation, resp.msg.hdr.status),
               lurk_designation_name(resp.msg.hdr.designation), resp.msg.hdr.status);
        lurk_response_free(&resp);
        return false;
    }

    bool ok = lurk_stats_response_decode(&resp.msg.payload, &text) == LURK_STATUS_SUCCESS;
    if (ok)
        fwrite(lurk_cbs_data(&text), 1, lurk_cbs_len(&text), stdout);
    else
        printf("lurk stats: malformed response\n");
    lurk_response_free(&resp);
    return ok;
}

static bool cmd_ping(struct ctl *ctl, uint8_t designation)
{
    struct lurk_response resp;
    double ms;

    if (!call(ctl, designation, LURK_TYPE_PING, &resp, &ms))
        return false;
    printf("%s ping: ok (%.3f ms)\n", lurk_designation_name(designation), ms);
    lurk_response_free(&resp);
    return true;
}

static void print_u8_list(const char *label, const lurk_cbs *list, const char *(*name)(uint8_t))
{
    lurk_cbs l = *list;
    uint8_t v;

    printf("    %s:", label);
    while (lurk_cbs_get_u8(&l, &v))
        if (name != NULL)
            printf(" %s", name(v));
        else
            printf(" %u", v);
    printf("\n");
}

static void print_u16_list(const char *label, const lurk_cbs *list)
{
    lurk_cbs l = *list;
    uint16_t v;

    printf("    %s:", label);
    while (lurk_cbs_get_u16(&l, &v))
        printf(" 0x%04x", v);
    printf("\n");
}

static const char *freshness_name(uint8_t v)
{
    return v == LURK_FRESHNESS_SHA256 ? "sha256" : v == LURK_FRESHNESS_NULL ? "null" : "?";
}

static const char *prf_name(uint8_t v)
{
    const char *n = lurk_tls12_prf_hash_md_name(v);
    return n ? n : "?";
}

static const char *poo_name(uint8_t v)
{
    static const char *const names[] = {"null", "sha256_128", "sha256_256"};
    return v < 3 ? names[v] : "?";
}

/* One line per certificate: its key id, type and subject. */
static void print_certificates(const lurk_cbs *list)
{
    lurk_cbs l = *list;
    struct lurk_tls12_typed_certificate tc;

    printf("    certificates:%s\n", lurk_cbs_len(&l) == 0 ? " none for this client" : "");
    while (lurk_tls12_typed_certificate_next(&l, &tc)) {
        const unsigned char *p = lurk_cbs_data(&tc.data);
        uint8_t id[LURK_KEY_ID_LEN];
        char hex[9] = "????????", subject[256] = "raw public key";
        EVP_PKEY *pub = NULL;
        if (tc.certificate_type == LURK_CERTIFICATE_TYPE_X509) {
            X509 *x = d2i_X509(NULL, &p, (long)lurk_cbs_len(&tc.data));
            if (x != NULL) {
                X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
                pub = X509_get_pubkey(x);
                X509_free(x);
            }
        } else {
            pub = d2i_PUBKEY(NULL, &p, (long)lurk_cbs_len(&tc.data));
        }
        if (pub != NULL && lurk_keyid_from_pkey(NULL, pub, id))
            lurk_hex_encode(id, sizeof(id), hex);
        printf("      key id %s  %s-%d  %s\n", hex, pub ? EVP_PKEY_get0_type_name(pub) : "?",
               pub ? EVP_PKEY_get_bits(pub) : 0, subject);
        EVP_PKEY_free(pub);
    }
    ERR_clear_error();
}

static bool print_tls12_capabilities(const lurk_cbs *payload)
{
    struct lurk_tls12_capabilities_response caps;
    uint8_t st = lurk_tls12_capabilities_response_decode(payload, &caps);

    if (st != LURK_STATUS_SUCCESS) {
        printf("tls12 capabilities: malformed response (%s)\n", lurk_tls12_status_name(st));
        return false;
    }
    printf("tls12 capabilities (state %02x%02x%02x%02x):\n", caps.state[0], caps.state[1],
           caps.state[2], caps.state[3]);
    for (size_t i = 0; i < caps.n_caps; i++) {
        const struct lurk_tls12_capability *c = &caps.caps[i];
        printf("  %s\n", lurk_tls12_type_name(c->type));
        print_u8_list("freshness", &c->freshness_funct_list, freshness_name);
        if (lurk_cbs_len(&c->cipher_suite_list) > 0)
            print_u16_list("cipher suites", &c->cipher_suite_list);
        /* client_certificate_verify shares the ecdhe record's body (protocol.md). */
        if (c->type == LURK_TLS12_TYPE_ECDHE ||
            c->type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY) {
            print_u16_list("sig_and_hash", &c->sig_and_hash_list);
            print_u16_list("ecdsa curves", &c->ecdsa_curves_list);
            print_u16_list("ecdhe curves", &c->ecdhe_curves_list);
            print_u8_list("poo", &c->poo_prf_list, poo_name);
        } else if (lurk_cbs_len(&c->prf_hash_list) > 0) {
            print_u8_list("prf hash", &c->prf_hash_list, prf_name);
        }
        print_certificates(&c->typed_certificate_list);
    }
    return true;
}

static bool cmd_capabilities(struct ctl *ctl, uint8_t designation)
{
    struct lurk_response resp;
    double ms;
    bool ok = true;

    if (!call(ctl, designation, LURK_TYPE_CAPABILITIES, &resp, &ms))
        return false;
    if (designation == LURK_DESIGNATION_LURK) {
        struct lurk_capabilities_response caps;
        if (lurk_capabilities_response_decode(&resp.msg.payload, &caps) != LURK_STATUS_SUCCESS) {
            printf("lurk capabilities: malformed response\n");
            ok = false;
        } else {
            printf("lurk capabilities: extensions");
            for (size_t i = 0; i < caps.n_extensions; i++)
                printf(" %s/%u", lurk_designation_name(caps.extensions[i].designation),
                       caps.extensions[i].version);
            printf(", lurk_state %02x%02x%02x%02x\n", caps.state[0], caps.state[1], caps.state[2],
                   caps.state[3]);
        }
    } else if (designation == LURK_DESIGNATION_TLS12) {
        ok = print_tls12_capabilities(&resp.msg.payload);
    } else {
        ok = lurkctl_print_tls13_capabilities(&resp.msg.payload);
    }
    lurk_response_free(&resp);
    return ok;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server = getenv("LURK_SERVER"), *ca = NULL, *cert = NULL, *key = NULL;
    struct ctl ctl = {.timeout_ms = 5000};
    char err[512];
    int ch;

    /* keyref works offline and has its own options. */
    if (argc > 1 && strcmp(argv[1], "keyref") == 0)
        return lurkctl_keyref_main(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            server = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 't':
            if (!tool_arg_int("lurkctl", "--timeout", optarg, 1, 3600000, &ctl.timeout_ms))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    if (strcmp(cmd, "keyref") == 0)
        return lurkctl_keyref_main(argc - optind + 1, argv + optind - 1);
    bool ping = strcmp(cmd, "ping") == 0, tls13 = strcmp(cmd, "tls13") == 0;
    bool stats = strcmp(cmd, "stats") == 0;
    if (tls13 && !lurkctl_tls13_usage(argc - optind, argv + optind)) {
        usage(stderr);
        return 2;
    }
    if (!ping && !tls13 && !stats && strcmp(cmd, "capabilities") != 0) {
        fprintf(stderr, "lurkctl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    uint8_t designations[3] = {0, 1, 2};
    size_t n = 3;
    if (!tls13 && !stats && optind < argc) {
        for (n = 0; optind < argc && n < 3; n++) {
            if (!designation_parse(argv[optind++], &designations[n])) {
                fprintf(stderr, "lurkctl: unknown designation \"%s\"\n", argv[optind - 1]);
                return 2;
            }
        }
    }
    if (server == NULL) {
        fprintf(stderr, "lurkctl: no server (use -s ADDR or set LURK_SERVER)\n");
        return 2;
    }
    if (!lurk_address_parse(server, &ctl.addr, err, sizeof(err))) {
        fprintf(stderr, "lurkctl: %s\n", err);
        return 2;
    }
    if (ctl.addr.kind == LURK_ADDRESS_TLS &&
        (ctl.tls = lurk_client_tls_ctx_new(NULL, ca, cert, key, err, sizeof(err))) == NULL) {
        fprintf(stderr, "lurkctl: %s\n", err);
        return 1;
    }
    ctl.conn = lurk_conn_open(&ctl.addr, ctl.tls, ctl.timeout_ms, err, sizeof(err));
    if (ctl.conn == NULL) {
        fprintf(stderr, "lurkctl: cannot reach lurkd at %s: %s\n", ctl.addr.text, explain(err));
        SSL_CTX_free(ctl.tls);
        return 1;
    }
    if (tls13) {
        int rc = lurkctl_tls13_main(ctl.conn, ctl.timeout_ms, argc - optind, argv + optind);
        lurk_conn_close(ctl.conn);
        SSL_CTX_free(ctl.tls);
        return rc;
    }
    bool ok = true;
    if (stats)
        ok = cmd_stats(&ctl);
    for (size_t i = 0; !stats && i < n; i++)
        ok &= ping ? cmd_ping(&ctl, designations[i]) : cmd_capabilities(&ctl, designations[i]);
    lurk_conn_close(ctl.conn);
    SSL_CTX_free(ctl.tls);
    return ok ? 0 : 1;
}
