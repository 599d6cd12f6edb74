/*
 * Attack: a Bleichenbacher oracle by repetition (docs/security.md, "Attacks
 * tried"). A front end that may use RSA key transport sends ciphertexts whose
 * PKCS#1 blocks it chose, each twice to one lurkd and once to a second lurkd
 * holding the same key, and tries to tell well-formed blocks from malformed
 * ones by comparing the answers: equal twice, equal across daemons, the
 * premaster's version bytes, the status, the length. With implicit rejection
 * that returns a fresh random premaster per bad block, "equal twice" alone
 * classifies every ciphertext. With deterministic implicit rejection no rule
 * does better than chance: every answer is the same for good and bad.
 *
 * Exchanges: rsa_premaster, rsa_master and rsa_extended_master (the _with_poh
 * variants decrypt through the same function).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/tls12.h"
#include "rsa_probe.h"

#define N_GOOD         60
#define N_BAD          60
#define CLIENT_VERSION 0x0303

static struct lurkd_proc lurkd_a, lurkd_b;
static char tls_a[128];
static EVP_PKEY *rsa;
static uint8_t key_id[4];

static const char key_section[] = "[key.rsa]\n"
                                  "source = %s\n"
                                  "clients = local, client1\n"
                                  "exchanges = rsa_premaster, rsa_master, rsa_extended_master\n"
                                  "null_freshness = yes\n"
                                  "check_time = no\n";

static void setup(void)
{
    char extra[512];

    rsa = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    dc_key_id(rsa, key_id);
    snprintf(extra, sizeof(extra), key_section, lurk_test_pki("server-rsa2048.key"));
    dc_start(&lurkd_a, NULL, extra, NULL, tls_a, sizeof(tls_a));
    dc_start(&lurkd_b, NULL, extra, NULL, NULL, 0);
}

static void teardown(void)
{
    dc_stop(&lurkd_a);
    dc_stop(&lurkd_b);
    EVP_PKEY_free(rsa);
}

enum exchange { EX_PREMASTER, EX_MASTER, EX_EXTENDED_MASTER, EX_COUNT };
static const char *const ex_names[EX_COUNT] = {"rsa_premaster", "rsa_master",
                                               "rsa_extended_master"};

/*
 * One request of exchange ex carrying ciphertext ct (fixed randoms: the
 * answer depends on ct only); version is rsa_premaster's client_version.
 */
static size_t request(enum exchange ex, uint16_t version, const uint8_t *ct, size_t ct_len,
                      uint8_t *out, size_t cap, uint8_t *type)
{
    static const uint8_t client_random[32] = {1}, s[32] = {2};
    struct lurk_key_id id = {.type = LURK_KEY_ID_TYPE_SHA256_32};
    lurk_cbb cbb;

    memcpy(id.id, key_id, 4);
    lurk_cbb_init_fixed(&cbb, out, cap);
    if (ex == EX_PREMASTER) {
        struct lurk_tls12_rsa_premaster_request r = {.key_id = id, .client_version = version};
        lurk_cbs_init(&r.encrypted_premaster, ct, ct_len);
        ck_assert(lurk_tls12_rsa_premaster_request_encode(&cbb, &r));
        *type = LURK_TLS12_TYPE_RSA_PREMASTER;
    } else if (ex == EX_MASTER) {
        struct lurk_tls12_rsa_master_request r = {
            .key_id = id, .freshness_funct = LURK_FRESHNESS_NULL, .prf_hash = LURK_PRF_HASH_SHA256};
        memcpy(r.client_random, client_random, 32);
        memcpy(r.server_random, s, 32);
        lurk_cbs_init(&r.encrypted_premaster, ct, ct_len);
        ck_assert(lurk_tls12_rsa_master_request_encode(&cbb, &r));
        *type = LURK_TLS12_TYPE_RSA_MASTER;
    } else {
        static uint8_t hs[2048];
        struct lurk_tls12_handshake_request r = {.key_id = id,
                                                 .freshness_funct = LURK_FRESHNESS_NULL};
        size_t hs_len =
            dc_tls12_rsa_handshake(hs, sizeof(hs), client_random, s, 0x009c, true, ct, ct_len);
        lurk_cbs_init(&r.handshake_messages, hs, hs_len);
        ck_assert(lurk_tls12_handshake_request_encode(&cbb, &r));
        *type = LURK_TLS12_TYPE_RSA_EXTENDED_MASTER;
    }
    ck_assert(lurk_cbb_ok(&cbb));
    return lurk_cbb_len(&cbb);
}

/* The answer: status, and the 48 bytes of a success. */
struct answer {
    uint8_t status;
    size_t len;
    uint8_t secret[48];
};

/* Asks ex for ct, rsa_premaster with client_version version; the answer in a. */
static void ask_as(struct lurk_conn *c, enum exchange ex, uint16_t version, const uint8_t *ct,
                   size_t ct_len, struct answer *a)
{
    uint8_t payload[4096], type;
    size_t n = request(ex, version, ct, ct_len, payload, sizeof(payload), &type);
    struct lurk_response resp;

    memset(a, 0, sizeof(*a));
    a->status = dc_call(c, LURK_DESIGNATION_TLS12, type, payload, n, &resp);
    a->len = lurk_cbs_len(&resp.msg.payload);
    if (a->status == LURK_STATUS_SUCCESS && a->len == 48)
        memcpy(a->secret, lurk_cbs_data(&resp.msg.payload), 48);
    lurk_response_free(&resp);
}

static void ask(struct lurk_conn *c, enum exchange ex, const uint8_t *ct, size_t ct_len,
                struct answer *a)
{
    ask_as(c, ex, CLIENT_VERSION, ct, ct_len, a);
}

/* The probe kind of the i-th ciphertext: N_GOOD good ones, then every malformed kind in turn. */
static enum lurk_rsa_probe_kind probe_kind(int i)
{
    return i < N_GOOD ? LURK_RSA_PROBE_GOOD
                      : (enum lurk_rsa_probe_kind)(1 + (i - N_GOOD) % (LURK_RSA_PROBE_COUNT - 1));
}

static bool same(const struct answer *x, const struct answer *y)
{
    return x->status == y->status && x->len == y->len && memcmp(x->secret, y->secret, 48) == 0;
}

/*
 * The attacker's rules, each a guess "well-formed" for one ciphertext; a
 * rule that guesses right for more than half the ciphertexts is an oracle.
 */
enum rule { RULE_REPEAT, RULE_CROSS, RULE_VERSION, RULE_STATUS, RULE_COUNT };
static const char *const rule_names[RULE_COUNT] = {
    "same answer twice", "same answer from both daemons", "version bytes of the premaster",
    "success status"};

static bool guess(enum rule r, enum exchange ex, const struct answer a[3])
{
    switch (r) {
    case RULE_REPEAT:
        return same(&a[0], &a[1]);
    case RULE_CROSS:
        return same(&a[0], &a[2]);
    case RULE_VERSION:
        return ex == EX_PREMASTER && a[0].secret[0] == (CLIENT_VERSION >> 8) &&
               a[0].secret[1] == (CLIENT_VERSION & 0xff);
    default:
        return a[0].status == LURK_STATUS_SUCCESS;
    }
}

START_TEST(repeated_ciphertexts_classify_no_better_than_chance)
{
    enum exchange ex = (enum exchange)_i;
    struct lurk_conn *a = dc_connect(lurkd_a.unix_addr, 0), *b = dc_connect(lurkd_b.unix_addr, 0);
    size_t k = (size_t)EVP_PKEY_get_size(rsa);
    unsigned right[RULE_COUNT] = {0}, bad_answers_differ = 0;
    char report[1024];
    size_t used = 0;

    for (int i = 0; i < N_GOOD + N_BAD; i++) {
        bool good = i < N_GOOD;
        enum lurk_rsa_probe_kind kind = probe_kind(i);
        uint8_t ct[LURK_RSA_PROBE_MAX], premaster[48];
        struct answer ans[3];

        ck_assert(lurk_rsa_probe_make(rsa, kind, CLIENT_VERSION, ct, premaster));
        ask(a, ex, ct, k, &ans[0]);
        ask(a, ex, ct, k, &ans[1]);
        ask(b, ex, ct, k, &ans[2]);
        /* Every answer is a success of 48 bytes: status and length tell nothing. */
        for (int j = 0; j < 3; j++)
            ck_assert_msg(ans[j].status == LURK_STATUS_SUCCESS && ans[j].len == 48,
                          "%s, %s ciphertext: status %u, %zu bytes", ex_names[ex],
                          lurk_rsa_probe_kind_name(kind), ans[j].status, ans[j].len);
        if (good && ex == EX_PREMASTER)
            ck_assert_mem_eq(ans[0].secret, premaster, 48);
        if (!good && !(same(&ans[0], &ans[1]) && same(&ans[0], &ans[2])))
            bad_answers_differ++;
        for (int r = 0; r < RULE_COUNT; r++)
            right[r] += guess((enum rule)r, ex, ans) == good;
    }
    for (int r = 0; r < RULE_COUNT; r++)
        used += (size_t)snprintf(report + used, sizeof(report) - used, "\n  %s: %u of %d right",
                                 rule_names[r], right[r], N_GOOD + N_BAD);
    printf("figure: oracle: %s, %d good and %d malformed ciphertexts, each asked twice and of a "
           "second lurkd:%s\n",
           ex_names[ex], N_GOOD, N_BAD, report);
    /*
     * A rule that always guesses "well-formed" is right N_GOOD times; any
     * rule that can tell the two apart does better. Deterministic answers
     * leave every rule at exactly that.
     */
    ck_assert_msg(bad_answers_differ == 0,
                  "%s: %u of %d malformed ciphertexts were answered differently when repeated "
                  "(or by the second lurkd):%s",
                  ex_names[ex], bad_answers_differ, N_BAD, report);
    for (int r = 0; r < RULE_COUNT; r++)
        ck_assert_msg(right[r] <= N_GOOD, "%s: an oracle:%s", ex_names[ex], report);
    lurk_conn_close(a);
    lurk_conn_close(b);
}
END_TEST

/*
 * The Klima-Pokorny-Rosa "bad version" oracle, by asking twice: rsa_premaster
 * lets its caller choose client_version, so the same ciphertext asked with
 * the block's own version and with another one must not answer a real
 * premaster once and a synthetic one the other time (which compared the
 * block's version, and classified 120 of 120 on the tree of 1f9f050). RFC
 * 5246 §7.4.7.1's third case: the premaster is client_version || M[2..47].
 * The other exchanges cannot be asked this way: rsa_master's version is
 * 03 03, and the handshake_messages types hash the ClientHello into the
 * master secret, so two versions always answer differently.
 */
START_TEST(premaster_asked_with_two_versions_classifies_no_better_than_chance)
{
    static const uint16_t other_versions[] = {0x0302, 0x0301, 0x0300};
    struct lurk_conn *c = dc_connect(lurkd_a.unix_addr, 0);
    size_t k = (size_t)EVP_PKEY_get_size(rsa);
    unsigned right = 0;

    for (int i = 0; i < N_GOOD + N_BAD; i++) {
        bool good = i < N_GOOD;
        enum lurk_rsa_probe_kind kind = probe_kind(i);
        uint16_t other = other_versions[i % 3];
        uint8_t ct[LURK_RSA_PROBE_MAX], premaster[48];
        struct answer mine, theirs;

        ck_assert(lurk_rsa_probe_make(rsa, kind, CLIENT_VERSION, ct, premaster));
        ask(c, EX_PREMASTER, ct, k, &mine);
        ask_as(c, EX_PREMASTER, other, ct, k, &theirs);
        ck_assert(mine.status == LURK_STATUS_SUCCESS && mine.len == 48);
        ck_assert(theirs.status == LURK_STATUS_SUCCESS && theirs.len == 48);
        /* The version bytes are always the asked version's. */
        ck_assert(mine.secret[0] == CLIENT_VERSION >> 8 &&
                  mine.secret[1] == (CLIENT_VERSION & 0xff));
        ck_assert(theirs.secret[0] == other >> 8 && theirs.secret[1] == (other & 0xff));
        if (good)
            ck_assert_mem_eq(mine.secret, premaster, 48);
        /* The attacker's rule: "well formed" when the 46 bytes differ. */
        bool differ = memcmp(mine.secret + 2, theirs.secret + 2, 46) != 0;
        right += differ == good;
        /* Stronger than chance: no ciphertext, of any kind, answers two versions differently. */
        ck_assert_msg(!differ,
                      "%s ciphertext: 46 bytes differ between client_version 0x%04x and "
                      "0x%04x",
                      lurk_rsa_probe_kind_name(kind), CLIENT_VERSION, other);
    }
    printf("figure: oracle: rsa_premaster asked with client_version 0x%04x and with another, "
           "%d good and %d malformed ciphertexts: %u of %d classified right\n",
           CLIENT_VERSION, N_GOOD, N_BAD, right, N_GOOD + N_BAD);
    ck_assert_msg(right <= N_GOOD,
                  "an oracle: %u of %d classified right by asking with two "
                  "client versions",
                  right, N_GOOD + N_BAD);
    lurk_conn_close(c);
}
END_TEST

/*
 * A ciphertext shorter than the modulus is a smaller integer, as OpenSSL
 * reads it (left-padded with zeros): the same answer as its padded form, and
 * the real premaster for a well-formed block whose ciphertext starts with 00.
 */
START_TEST(short_ciphertext_is_the_left_padded_integer)
{
    struct lurk_conn *c = dc_connect(lurkd_a.unix_addr, 0);
    size_t k = (size_t)EVP_PKEY_get_size(rsa);
    uint8_t ct[LURK_RSA_PROBE_MAX], premaster[48];
    struct answer full, stripped;
    int tries = 0;

    /* A well-formed block whose ciphertext happens to start with a zero byte (1 in 256). */
    do {
        ck_assert_int_lt(tries++, 20000);
        ck_assert(lurk_rsa_probe_make(rsa, LURK_RSA_PROBE_GOOD, CLIENT_VERSION, ct, premaster));
    } while (ct[0] != 0);
    for (int ex = 0; ex < EX_COUNT; ex++) {
        ask(c, (enum exchange)ex, ct, k, &full);
        ask(c, (enum exchange)ex, ct + 1, k - 1, &stripped);
        ck_assert_msg(stripped.status == LURK_STATUS_SUCCESS, "%s: status %u for %zu bytes",
                      ex_names[ex], stripped.status, k - 1);
        /* The extended master secret hashes the ClientKeyExchange bytes: it differs. */
        if (ex != EX_EXTENDED_MASTER)
            ck_assert_msg(same(&full, &stripped), "%s: a short ciphertext answers differently",
                          ex_names[ex]);
        if (ex == EX_PREMASTER)
            ck_assert_mem_eq(stripped.secret, premaster, 48);
    }
    /* All zero bytes, of every length down to one: implicit rejection, like any bad block. */
    static const uint8_t zeros[LURK_RSA_PROBE_MAX];
    for (size_t len = 1; len <= k; len += len < 8 ? 1 : 61) {
        ask(c, EX_PREMASTER, zeros, len, &stripped);
        ck_assert_msg(stripped.status == LURK_STATUS_SUCCESS && stripped.len == 48,
                      "%zu zero bytes: status %u", len, stripped.status);
        ask(c, EX_PREMASTER, zeros, k, &full);
        ck_assert(same(&full, &stripped));
    }
    lurk_conn_close(c);
}
END_TEST

/* How many of needles (46 bytes each) lurkd's writable memory holds, read as root. */
static size_t secrets_in_memory(pid_t pid, uint8_t (*needles)[46], size_t n)
{
    char path[64], line[512];
    bool *found = calloc(n, sizeof(*found));
    size_t hits = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int mem = open(path, O_RDONLY);
    ck_assert(found != NULL && maps != NULL && mem >= 0);
    while (fgets(line, sizeof(line), maps) != NULL) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
            perms[1] != 'w' || hi - lo > (512ul << 20))
            continue;
        uint8_t *buf = malloc(hi - lo);
        ssize_t got = buf != NULL ? pread(mem, buf, hi - lo, (off_t)lo) : -1;
        for (size_t k = 0; got > 46 && k < n; k++)
            if (!found[k] && memmem(buf, (size_t)got, needles[k], 46) != NULL) {
                found[k] = true;
                hits++;
                printf("  %zu of %zu found in %s", k + 1, n, line);
            }
        free(buf);
    }
    fclose(maps);
    close(mem);
    free(found);
    return hits;
}

/*
 * "Secrets are wiped after use" (docs/security.md), by reading lurkd's
 * memory: 20 rsa_premaster answers, over unix (_i = 0) and tls:// (_i = 1),
 * each on its own connection, all closed but the last, which stays open as
 * a front end's pooled connection does; then every writable mapping of
 * lurkd is searched for the 46 random bytes of each premaster. On the tree
 * of 1f9f050, the open tls:// connection's last answer stayed in its output
 * buffer (1 of 20 found). Root only: lurkd is not dumpable.
 */
START_TEST(premasters_do_not_stay_in_memory)
{
    enum { K = 20 };
    static uint8_t secrets[K][46];
    size_t k = (size_t)EVP_PKEY_get_size(rsa);
    struct lurk_conn *c = NULL;

    if (geteuid() != 0) {
        printf("SKIP: reading lurkd's memory needs root\n");
        return;
    }
    for (int i = 0; i < K; i++) {
        uint8_t ct[LURK_RSA_PROBE_MAX], premaster[48];
        struct answer a;
        if (c != NULL)
            lurk_conn_close(c);
        c = _i == 0 ? dc_connect(lurkd_a.unix_addr, 0) : dc_connect(tls_a, 1);
        ck_assert(lurk_rsa_probe_make(rsa, LURK_RSA_PROBE_GOOD, CLIENT_VERSION, ct, premaster));
        ask(c, EX_PREMASTER, ct, k, &a);
        ck_assert_mem_eq(a.secret, premaster, 48);
        memcpy(secrets[i], premaster + 2, 46);
    }
    usleep(300 * 1000);
    /* The control: 46 bytes of the public modulus, which lurkd holds, are found. */
    static uint8_t modulus[1][46];
    BIGNUM *n = NULL;
    uint8_t n_bytes[512];
    ck_assert(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
              BN_bn2binpad(n, n_bytes, (int)k) == (int)k);
    BN_free(n);
    memcpy(modulus[0], n_bytes + 100, 46);
    ck_assert_msg(secrets_in_memory(lurkd_a.pid, modulus, 1) == 1,
                  "the search does not find the modulus lurkd holds");
    size_t hits = secrets_in_memory(lurkd_a.pid, secrets, K);
    printf("figure: secrets: %zu of %d premasters answered over %s found in lurkd's memory (the "
           "last connection open)\n",
           hits, K, _i == 0 ? "unix" : "tls://");
    lurk_conn_close(c);
    ck_assert_msg(hits == 0, "%zu of %d premasters left in lurkd's memory", hits, K);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attack_rsa_oracle");
    TCase *tc = tcase_create("oracle");

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, repeated_ciphertexts_classify_no_better_than_chance, 0, EX_COUNT);
    tcase_add_test(tc, short_ciphertext_is_the_left_padded_integer);
    tcase_add_test(tc, premaster_asked_with_two_versions_classifies_no_better_than_chance);
    tcase_add_loop_test(tc, premasters_do_not_stay_in_memory, 0, 2);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_NOFORK);
}
