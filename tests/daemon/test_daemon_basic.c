/*
 * lurkd over unix, tcp and tls: ping and capabilities of every designation,
 * and the header rules of lurk-lurk §5.3 (errors before the payload are
 * answered with designation lurk, type and id copied, lurk_state attached).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

static void setup(void)
{
    char extra[1024];

    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(extra, sizeof(extra),
             "[key.rsa]\nsource = %s\ncertificate = %s\nclients = client1, local, tcp\n"
             "[key.p256]\nsource = %s\nclients = client2\n",
             lurk_test_pki("server-rsa2048.key"), lurk_test_pki("server-rsa2048.crt"),
             lurk_test_pki("server-p256.key"));
    ck_assert(dc_write_config(&lurkd, "stats_clients = client2", extra));
    ck_assert(lurk_test_lurkd_start(&lurkd, NULL));
    ck_assert(lurk_test_lurkd_address(&lurkd, "tcp://", tcp_addr, sizeof(tcp_addr)));
    ck_assert(lurk_test_lurkd_address(&lurkd, "tls://", tls_addr, sizeof(tls_addr)));
}

static void teardown(void)
{
    lurk_test_lurkd_cleanup(&lurkd);
}

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

START_TEST(ping_every_designation)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct lurk_response resp;

    for (uint8_t d = LURK_DESIGNATION_LURK; d <= LURK_DESIGNATION_TLS13; d++) {
        ck_assert_uint_eq(dc_call(c, d, LURK_TYPE_PING, NULL, 0, &resp), LURK_STATUS_SUCCESS);
        ck_assert_uint_eq(resp.msg.hdr.designation, d);
        ck_assert_uint_eq(resp.msg.hdr.length, LURK_HEADER_LEN);
        lurk_response_free(&resp);
    }
    lurk_conn_close(c);
}
END_TEST

START_TEST(capabilities_every_designation)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct lurk_response resp;
    struct lurk_capabilities_response lurk_caps;
    struct lurk_tls12_capabilities_response tls12_caps;
    struct lurk_tls13_capabilities_response tls13_caps;

    ck_assert_uint_eq(dc_call(c, 0, LURK_TYPE_CAPABILITIES, NULL, 0, &resp), 1);
    ck_assert_uint_eq(lurk_capabilities_response_decode(&resp.msg.payload, &lurk_caps), 1);
    ck_assert_uint_eq(lurk_caps.n_extensions, 3);
    lurk_response_free(&resp);

    ck_assert_uint_eq(dc_call(c, 1, LURK_TLS12_TYPE_CAPABILITIES, NULL, 0, &resp), 1);
    ck_assert_uint_eq(lurk_tls12_capabilities_response_decode(&resp.msg.payload, &tls12_caps), 1);
    ck_assert_uint_eq(tls12_caps.n_caps, 7);
    /*
     * Freshness functions only where the request carries one: rsa_premaster
     * and client_certificate_verify have no freshness (and rsa_premaster no
     * PRF hash; protocol.md), rsa_master has both.
     */
    for (size_t i = 0; i < tls12_caps.n_caps; i++) {
        const struct lurk_tls12_capability *cap = &tls12_caps.caps[i];
        bool premaster = cap->type == LURK_TLS12_TYPE_RSA_PREMASTER;
        bool no_freshness = premaster || cap->type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY;
        ck_assert_msg(lurk_cbs_len(&cap->freshness_funct_list) == (no_freshness ? 0 : 1),
                      "type %u announces %zu freshness functions", cap->type,
                      lurk_cbs_len(&cap->freshness_funct_list));
        if (premaster || cap->type == LURK_TLS12_TYPE_RSA_MASTER)
            ck_assert_uint_eq(lurk_cbs_len(&cap->prf_hash_list), premaster ? 0 : 3);
    }
    /* The lurk_state of every designation is the same configuration fingerprint. */
    ck_assert_mem_eq(tls12_caps.state, lurk_caps.state, 4);
    lurk_response_free(&resp);

    ck_assert_uint_eq(dc_call(c, 2, LURK_TLS13_TYPE_CAPABILITIES, NULL, 0, &resp), 1);
    lurk_cbs in = resp.msg.payload;
    ck_assert_uint_eq(lurk_tls13_capabilities_response_decode(&in, &tls13_caps), 1);
    ck_assert_mem_eq(tls13_caps.state, lurk_caps.state, 4);
    lurk_response_free(&resp);
    lurk_conn_close(c);
}
END_TEST

/* Only keys the caller may use are listed (client2 sees the P-256 key, client1 the RSA key). */
START_TEST(capabilities_list_only_usable_keys)
{
    for (int client = 1; client <= 2; client++) {
        struct lurk_conn *c = dc_connect(tls_addr, client);
        struct lurk_response resp;
        struct lurk_tls13_capabilities_response caps;
        struct lurk_tls12_typed_certificate tc;
        size_t n = 0;

        ck_assert_uint_eq(dc_call(c, 2, LURK_TLS13_TYPE_CAPABILITIES, NULL, 0, &resp), 1);
        lurk_cbs in = resp.msg.payload, l;
        ck_assert_uint_eq(lurk_tls13_capabilities_response_decode(&in, &caps), 1);
        for (l = caps.typed_certificates; lurk_tls12_typed_certificate_next(&l, &tc); n++)
            ck_assert_uint_eq(tc.certificate_type, client == 1
                                                       ? LURK_CERTIFICATE_TYPE_X509
                                                       : LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY);
        ck_assert_uint_eq(n, 1);
        lurk_response_free(&resp);
        lurk_conn_close(c);
    }
}
END_TEST

struct header_case {
    uint8_t designation, version, type, status;
    uint8_t want_status; /* answered with designation lurk */
};

START_TEST(header_errors_answer_with_designation_lurk)
{
    static const struct header_case cases[] = {
        {5, 1, 1, 0, LURK_STATUS_INVALID_EXTENSION}, /* unknown designation */
        {1, 2, 1, 0, LURK_STATUS_INVALID_EXTENSION}, /* unknown version */
        {1, 1, 1, 1, LURK_STATUS_INVALID_STATUS},    /* a response sent as a request */
        {2, 1, 1, 9, LURK_STATUS_INVALID_STATUS},
        {0, 1, 7, 0, LURK_STATUS_INVALID_TYPE}, /* unknown type */
        {1, 1, 99, 0, LURK_STATUS_INVALID_TYPE},
        {2, 1, 200, 0, LURK_STATUS_INVALID_TYPE},
    };
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct lurk_response caps, resp;
    uint8_t msg[64];

    ck_assert_uint_eq(dc_call(c, 0, LURK_TYPE_CAPABILITIES, NULL, 0, &caps), 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct header_case *hc = &cases[i];
        uint64_t id = 0x1122334455667700ULL + i;
        size_t len = dc_message(msg, sizeof(msg), hc->designation, hc->version, hc->type,
                                hc->status, id, NULL, 0);
        ck_assert(dc_raw(c, msg, len, &resp));
        ck_assert_uint_eq(resp.msg.hdr.designation, LURK_DESIGNATION_LURK);
        ck_assert_uint_eq(resp.msg.hdr.version, 1);
        ck_assert_uint_eq(resp.msg.hdr.type, hc->type);
        ck_assert_uint_eq(resp.msg.hdr.status, hc->want_status);
        ck_assert(resp.msg.hdr.id == id);
        /* Error payload: the 4-byte lurk_state, the one capabilities announced. */
        ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 4);
        ck_assert_mem_eq(lurk_cbs_data(&resp.msg.payload),
                         lurk_cbs_data(&caps.msg.payload) + lurk_cbs_len(&caps.msg.payload) - 4, 4);
        lurk_response_free(&resp);
    }
    lurk_response_free(&caps);
    lurk_conn_close(c);
}
END_TEST

START_TEST(ping_with_payload_is_a_format_error)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct lurk_response resp;
    static const uint8_t junk[3] = {1, 2, 3};

    for (uint8_t d = 0; d <= 2; d++) {
        ck_assert_uint_eq(dc_call(c, d, 1, junk, sizeof(junk), &resp), 3);
        ck_assert_uint_eq(resp.msg.hdr.designation, d);
        lurk_response_free(&resp);
    }
    lurk_conn_close(c);
}
END_TEST

/* The value of one sample line of the Prometheus text, -1 when absent. */
static long long sample(const lurk_cbs *text, const char *series)
{
    char *copy = strndup((const char *)lurk_cbs_data(text), lurk_cbs_len(text));
    char needle[256];
    char *at;
    long long v = -1;

    /* A sample line starts the line and is followed by a space and the value. */
    snprintf(needle, sizeof(needle), "\n%s ", series);
    if (copy != NULL && (at = strstr(copy, needle)) != NULL)
        v = atoll(at + strlen(needle));
    free(copy);
    return v;
}

/*
 * lurk stats (type 128): the local operator (unix socket, this uid) and
 * stats_clients (client2) read the counters; client1 gets not_allowed (docs/protocol.md).
 */
START_TEST(stats_counts_requests_for_allowed_peers)
{
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 1);
    struct lurk_conn *c1 = dc_connect(tls_addr, 1), *c2 = dc_connect(tls_addr, 2);
    struct lurk_response resp;
    lurk_cbs text;

    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(dc_call(c1, LURK_DESIGNATION_TLS12, LURK_TYPE_PING, NULL, 0, &resp), 1);
        lurk_response_free(&resp);
    }
    ck_assert_uint_eq(dc_call(c1, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp),
                      LURK_STATUS_NOT_ALLOWED);
    lurk_response_free(&resp);
    for (int i = 0; i < 2; i++) {
        struct lurk_conn *c = i == 0 ? local : c2;
        ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_LURK, LURK_TYPE_STATS, NULL, 0, &resp), 1);
        ck_assert_uint_eq(lurk_stats_response_decode(&resp.msg.payload, &text), 1);
        ck_assert_int_eq(
            sample(&text,
                   "lurkd_requests_total{designation=\"tls12\",type=\"ping\",status=\"success\"}"),
            5);
        ck_assert_int_eq(sample(&text, "lurkd_requests_total{designation=\"lurk\",type=\"stats\","
                                       "status=\"not_allowed\"}"),
                         1);
        ck_assert_int_eq(sample(&text, "lurkd_keys"), 2);
        ck_assert_int_ge(sample(&text, "lurkd_connections"), 3);
        lurk_response_free(&resp);
    }
    lurk_conn_close(local);
    lurk_conn_close(c1);
    lurk_conn_close(c2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_basic");
    TCase *tc = tcase_create("transports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, ping_every_designation, 0, 3);
    tcase_add_loop_test(tc, capabilities_every_designation, 0, 3);
    tcase_add_test(tc, capabilities_list_only_usable_keys);
    tcase_add_loop_test(tc, header_errors_answer_with_designation_lurk, 0, 3);
    tcase_add_loop_test(tc, ping_with_payload_is_a_format_error, 0, 3);
    tcase_add_test(tc, stats_counts_requests_for_allowed_peers);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
