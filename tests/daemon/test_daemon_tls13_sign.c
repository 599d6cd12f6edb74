/*
 * tls13 sign_certificate_verify (type 128, docs/architecture.md §3) against a real
 * lurkd over unix, tcp and tls: every signature scheme on a key of the
 * right kind, both roles, both transcript hash sizes, each signature
 * verified here with the public key over the RFC 8446 §4.4.3 content built
 * by the test; and every way a request can be refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/tls13.h"
#include "lurk/names.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

/* The keys lurkd holds (test PKI), loaded here too for their public halves and ids. */
static struct key {
    const char *name;
    EVP_PKEY *pkey;
    uint8_t id[4];
} keys[] = {
    {"rsa2048", NULL, {0}}, {"rsa3072", NULL, {0}}, {"rsapss", NULL, {0}},  {"p256", NULL, {0}},
    {"p384", NULL, {0}},    {"p521", NULL, {0}},    {"ed25519", NULL, {0}}, {"ed448", NULL, {0}},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static struct key *key_named(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    ck_abort_msg("no key %s", name);
    return NULL;
}

static void setup(void)
{
    char extra[4096] = "", section[512], file[64];

    for (size_t i = 0; i < N_KEYS; i++) {
        snprintf(file, sizeof(file), "server-%s.key", keys[i].name);
        keys[i].pkey = dc_load_key(lurk_test_pki(file));
        dc_key_id(keys[i].pkey, keys[i].id);
        snprintf(section, sizeof(section), "[key.%s]\nsource = %s\nclients = client1, local, tcp\n",
                 keys[i].name, lurk_test_pki(file));
        strcat(extra, section);
    }
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    for (size_t i = 0; i < N_KEYS; i++) {
        EVP_PKEY_free(keys[i].pkey);
        keys[i].pkey = NULL;
    }
}

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

struct scheme_case {
    const char *key;
    uint16_t scheme;
    const char *md; /* NULL: EdDSA */
    bool pss;
};

static const struct scheme_case schemes[] = {
    {"rsa2048", 0x0804, "SHA256", true}, /* rsa_pss_rsae_sha256 */
    {"rsa2048", 0x0805, "SHA384", true}, {"rsa2048", 0x0806, "SHA512", true},
    {"rsa3072", 0x0804, "SHA256", true}, {"rsa3072", 0x0805, "SHA384", true},
    {"rsa3072", 0x0806, "SHA512", true}, {"rsapss", 0x0809, "SHA256", true}, /* rsa_pss_pss_* */
    {"rsapss", 0x080a, "SHA384", true},  {"rsapss", 0x080b, "SHA512", true},
    {"p256", 0x0403, "SHA256", false}, /* ecdsa_secp256r1_sha256 */
    {"p384", 0x0503, "SHA384", false},   {"p521", 0x0603, "SHA512", false},
    {"ed25519", 0x0807, NULL, false},    {"ed448", 0x0808, NULL, false},
};

START_TEST(every_scheme_role_and_hash_size_verifies)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);

    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        const struct scheme_case *sc = &schemes[s];
        struct key *k = key_named(sc->key);
        for (uint8_t role = 0; role <= 1; role++) {
            for (size_t hash_len = 32; hash_len <= 48; hash_len += 16) {
                uint8_t hash[48], payload[64], content[200], other[200];
                struct lurk_response resp;
                lurk_cbs in, sig;
                ck_assert(RAND_bytes(hash, sizeof(hash)) == 1);
                size_t len =
                    dc_sign_cv_payload(payload, 0, k->id, sc->scheme, role, hash, hash_len);
                ck_assert_msg(dc_call(c, LURK_DESIGNATION_TLS13,
                                      LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, payload, len,
                                      &resp) == LURK_STATUS_SUCCESS,
                              "%s 0x%04x role %u hash %zu: status %u", sc->key, sc->scheme, role,
                              hash_len, resp.msg.hdr.status);
                /* opaque signature<0..2^16-1> and nothing else */
                in = resp.msg.payload;
                ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
                size_t n = dc_cv_content(content, role, hash, hash_len);
                ck_assert_msg(dc_verify(k->pkey, sc->md, sc->pss, content, n, lurk_cbs_data(&sig),
                                        lurk_cbs_len(&sig)),
                              "%s 0x%04x role %u hash %zu does not verify", sc->key, sc->scheme,
                              role, hash_len);
                /* The role selects the context string: the other one must not verify. */
                n = dc_cv_content(other, (uint8_t)!role, hash, hash_len);
                ck_assert(!dc_verify(k->pkey, sc->md, sc->pss, other, n, lurk_cbs_data(&sig),
                                     lurk_cbs_len(&sig)));
                lurk_response_free(&resp);
            }
        }
    }
    lurk_conn_close(c);
}
END_TEST

/* Sends one request and checks the tls13 status; its audit line is checked by dc_check_audits. */
static void expect_refused(struct lurk_conn *c, const uint8_t *payload, size_t len, uint8_t status,
                           const char *note, const char *what)
{
    struct lurk_response resp;

    ck_assert_msg(dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                          payload, len, &resp) == status,
                  "%s: status %u, expected %u", what, resp.msg.hdr.status, status);
    ck_assert_uint_eq(resp.msg.hdr.designation, LURK_DESIGNATION_TLS13);
    ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 4); /* lurk_state */
    dc_expect_audit(resp.msg.hdr.id, lurk_status_name(LURK_DESIGNATION_TLS13, status), note);
    lurk_response_free(&resp);
}

/* TLS 1.3 ties a scheme to one key type, and ECDSA to one curve (RFC 8446 §4.2.3). */
START_TEST(scheme_must_fit_the_key)
{
    static const struct {
        const char *key;
        uint16_t scheme;
    } cases[] = {
        {"p256", 0x0503},    {"p256", 0x0603},    {"p384", 0x0403},    {"p521", 0x0503},
        {"rsa2048", 0x0403}, {"rsa2048", 0x0809}, {"rsapss", 0x0804},  {"ed25519", 0x0808},
        {"ed448", 0x0807},   {"p256", 0x0807},    {"rsa2048", 0x0401}, {"p256", 0x0203},
    };
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    uint8_t hash[32] = {1}, payload[64];
    char what[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = dc_sign_cv_payload(payload, 0, key_named(cases[i].key)->id, cases[i].scheme, 0,
                                        hash, sizeof(hash));
        snprintf(what, sizeof(what), "%s with 0x%04x", cases[i].key, cases[i].scheme);
        expect_refused(c, payload, len, LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME,
                       "signature scheme does not fit the key", what);
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

START_TEST(malformed_payloads)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    const uint8_t *id = key_named("p256")->id;
    uint8_t hash[65] = {0}, good[128], bad[128];
    size_t good_len = dc_sign_cv_payload(good, 0, id, 0x0403, 0, hash, 32), len;
    char what[64];

    /* Every truncation. */
    for (size_t cut = 0; cut < good_len; cut++) {
        snprintf(what, sizeof(what), "truncated to %zu bytes", cut);
        expect_refused(c, good, cut, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT, NULL, what);
    }
    /* Roles other than server (0) and client (1). */
    for (unsigned role = 2; role <= 255; role += 253) {
        len = dc_sign_cv_payload(bad, 0, id, 0x0403, (uint8_t)role, hash, 32);
        expect_refused(c, bad, len, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT, NULL, "bad role");
    }
    /* Transcript hashes of any size but 32 and 48. */
    static const size_t sizes[] = {0, 1, 31, 33, 47, 49, 64};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len = dc_sign_cv_payload(bad, 0, id, 0x0403, 0, hash, sizes[i]);
        snprintf(what, sizeof(what), "hash of %zu bytes", sizes[i]);
        expect_refused(c, bad, len, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT, NULL, what);
    }
    /* A trailing byte. */
    memcpy(bad, good, good_len);
    bad[good_len] = 0;
    expect_refused(c, bad, good_len + 1, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT, NULL,
                   "trailing byte");
    /* A length byte that claims more than there is. */
    memcpy(bad, good, good_len);
    bad[8] = 48;
    expect_refused(c, bad, good_len, LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT, NULL,
                   "hash length over the payload");
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

START_TEST(unknown_key_and_key_id_type)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    uint8_t hash[32] = {2}, payload[64], id[4];
    size_t len;

    memcpy(id, key_named("p256")->id, 4);
    id[3] ^= 0x01;
    len = dc_sign_cv_payload(payload, 0, id, 0x0403, 0, hash, sizeof(hash));
    expect_refused(c, payload, len, LURK_TLS13_STATUS_INVALID_KEY_ID, "unknown key", "unknown key");
    for (unsigned type = 1; type <= 255; type += 127) {
        len = dc_sign_cv_payload(payload, (uint8_t)type, key_named("p256")->id, 0x0403, 0, hash,
                                 sizeof(hash));
        expect_refused(c, payload, len, LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE, NULL, "key id type");
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/* client2 authenticates fine but no key lists it. */
START_TEST(client_not_allowed)
{
    struct lurk_conn *c = dc_connect(tls_addr, 2);
    uint8_t hash[32] = {3}, payload[64];

    for (size_t k = 0; k < N_KEYS; k++) {
        size_t len = dc_sign_cv_payload(payload, 0, keys[k].id, schemes[0].scheme, 0, hash, 32);
        expect_refused(c, payload, len, LURK_TLS13_STATUS_INVALID_KEY_ID,
                       "client not allowed to use this key", keys[k].name);
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/* One sign_certificate_verify for key id on c, refused: its round trip in ns. */
static int64_t refused_round_trip(struct lurk_conn *c, const uint8_t id[4], uint64_t request_id)
{
    uint8_t hash[32] = {4}, payload[64], frame[128];
    struct lurk_response resp;
    struct timespec t0, t1;
    size_t n = dc_sign_cv_payload(payload, 0, id, 0x0403, 0, hash, sizeof(hash));

    n = dc_message(frame, sizeof(frame), LURK_DESIGNATION_TLS13, 1,
                   LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, request_id, payload, n);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert(dc_raw(c, frame, n, &resp));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_uint_eq(resp.msg.hdr.status, LURK_TLS13_STATUS_INVALID_KEY_ID);
    lurk_response_free(&resp);
    return (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
}

/*
 * "A client that may not use a key gets invalid_key_id, exactly like an
 * unknown key" (docs/security.md), by the clock: client2, which no key
 * lists, asks in turn for a key lurkd holds (each kind in turn: RSA, which
 * a loop signs in its turn, and ECDSA and EdDSA, which it signs at once)
 * and for a made-up id. On the tree of 1f9f050 the made-up id went through
 * a worker and the held key did not: the held one was the faster in 560 to
 * 586 pairs of 600. Both are now answered at once; what is left is the
 * audit line's own content (the key's name, the reason), which makes the
 * held key the faster in about 45 pairs of 100 here. The bounds, a quarter
 * either side of a coin, catch a hand-off of either kind, not that.
 */
START_TEST(not_allowed_takes_as_long_as_unknown)
{
    enum { PAIRS = 600 };
    struct lurk_conn *c = dc_connect(tls_addr, 2);
    unsigned held_faster = 0;
    int64_t held_total = 0, made_up_total = 0;

    for (int i = 0; i < PAIRS; i++) {
        uint8_t made_up[4];
        ck_assert(RAND_bytes(made_up, sizeof(made_up)) == 1);
        /* Alternate which goes first, so that neither always follows the other. */
        int64_t held, other;
        if (i % 2 == 0) {
            held = refused_round_trip(c, keys[i % N_KEYS].id, 2 * (uint64_t)i);
            other = refused_round_trip(c, made_up, 2 * (uint64_t)i + 1);
        } else {
            other = refused_round_trip(c, made_up, 2 * (uint64_t)i + 1);
            held = refused_round_trip(c, keys[i % N_KEYS].id, 2 * (uint64_t)i);
        }
        held_faster += held < other;
        held_total += held;
        made_up_total += other;
    }
    printf("figure: invalid_key_id for client2 over tls, %d pairs: a held key's round trip "
           "faster in %u (mean %lld ns against %lld ns for a made-up id)\n",
           PAIRS, held_faster, (long long)(held_total / PAIRS), (long long)(made_up_total / PAIRS));
    ck_assert_msg(held_faster > PAIRS / 4 && held_faster < PAIRS * 3 / 4,
                  "a client that may not use a key tells it exists by the clock: faster in %u of "
                  "%d pairs",
                  held_faster, PAIRS);
    lurk_conn_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_tls13_sign");
    TCase *tc = tcase_create("sign_certificate_verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, every_scheme_role_and_hash_size_verifies, 0, 3);
    tcase_add_loop_test(tc, scheme_must_fit_the_key, 0, 3);
    tcase_add_loop_test(tc, malformed_payloads, 0, 3);
    tcase_add_loop_test(tc, unknown_key_and_key_id_type, 0, 3);
    tcase_add_test(tc, client_not_allowed);
    tcase_add_test(tc, not_allowed_takes_as_long_as_unknown);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
