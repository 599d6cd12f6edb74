/*
 * Freshness functions (liblurk/freshness.c). No published vectors exist, so
 * the expected values were computed independently with the openssl command
 * line on the concatenated bytes, e.g. for TLS 1.2:
 *
 *   S=5f5e1000101112131415161718191a1b1c1d1e1f202122232425262728292a2b
 *   { printf %s $S | xxd -r -p; printf 'tls12 pfs'; } | openssl dgst -sha256
 *   -> befcc79f1b32102c7779fc5ec9bca4adc0750d6c57d6a61b123d716616c91cab
 *
 * and the ServerHello.random is S[0..3] followed by bytes 4..31 of that hash
 * (draft-mglt-lurk-tls12 §4.1.1).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "check_run.h"
#include "lurk/freshness.h"
#include "lurk/hex.h"

/* gmt_unix_time 0x5f5e1000 = 1600000000 (2020-09-13T12:26:40Z). */
#define S_HEX  "5f5e1000101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
#define S_TIME 1600000000
#define TLS12_SHA256                                                                               \
    "5f5e1000"                                                                                     \
    "1b32102c7779fc5ec9bca4adc0750d6c57d6a61b123d716616c91cab"

/*
 * TLS 1.3 pre-image a0..bf; expected values from
 *   { printf %s $IN | xxd -r -p; printf 'tls13 pfs srv'; } | openssl dgst -sha256
 * and the same with 'tls13 pfs clt' (45 bytes hashed in both cases).
 */
#define T13_IN_HEX "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define T13_SRV    "2269167d70b1fe01f1128013315ad715cc4610aef8270489b92f09f91a901856"
#define T13_CLT    "10bba620da8c51168967b1b92038eb8bba0aa83d7cf40da86c8040da67448b0f"

static void from_hex(const char *hex, uint8_t out[LURK_RANDOM_LEN])
{
    size_t len;
    ck_assert(lurk_hex_decode(hex, out, LURK_RANDOM_LEN, &len));
    ck_assert_uint_eq(len, LURK_RANDOM_LEN);
}

START_TEST(tls12_sha256_known_answer)
{
    uint8_t s[LURK_RANDOM_LEN], want[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(S_HEX, s);
    from_hex(TLS12_SHA256, want);
    ck_assert(lurk_freshness_tls12_server_random(NULL, LURK_FRESHNESS_SHA256, s, out));
    ck_assert_mem_eq(out, want, LURK_RANDOM_LEN);
    /* gmt_unix_time survives, so the TLS peer's time check still works on it. */
    ck_assert_mem_eq(out, s, 4);

    /* In place. */
    ck_assert(lurk_freshness_tls12_server_random(NULL, LURK_FRESHNESS_SHA256, s, s));
    ck_assert_mem_eq(s, want, LURK_RANDOM_LEN);
}
END_TEST

START_TEST(tls12_null_is_passthrough)
{
    uint8_t s[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(S_HEX, s);
    memset(out, 0xee, sizeof(out));
    ck_assert(lurk_freshness_tls12_server_random(NULL, LURK_FRESHNESS_NULL, s, out));
    ck_assert_mem_eq(out, s, LURK_RANDOM_LEN);
    ck_assert(lurk_freshness_tls12_server_random(NULL, LURK_FRESHNESS_NULL, s, s));
    from_hex(S_HEX, out);
    ck_assert_mem_eq(out, s, LURK_RANDOM_LEN);
}
END_TEST

START_TEST(tls12_unknown_function_rejected)
{
    static const uint8_t unknown[] = {1, 2, 127, 128, 254};
    uint8_t s[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(S_HEX, s);
    for (size_t i = 0; i < sizeof(unknown); i++)
        ck_assert_msg(!lurk_freshness_tls12_server_random(NULL, unknown[i], s, out),
                      "freshness_funct %u accepted", unknown[i]);
}
END_TEST

START_TEST(tls12_time_window_edges)
{
    uint8_t s[LURK_RANDOM_LEN];
    const uint32_t w = 300;

    from_hex(S_HEX, s);
    ck_assert_uint_eq(lurk_freshness_tls12_gmt_unix_time(s), S_TIME);
    ck_assert(lurk_freshness_tls12_time_ok(s, S_TIME, w));
    /* Bounds are inclusive on both sides. */
    ck_assert(lurk_freshness_tls12_time_ok(s, S_TIME + w, w));
    ck_assert(lurk_freshness_tls12_time_ok(s, S_TIME - w, w));
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME + w + 1, w));
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME - w - 1, w));
    /* A zero window wants the exact second. */
    ck_assert(lurk_freshness_tls12_time_ok(s, S_TIME, 0));
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME + 1, 0));
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME - 1, 0));
    /* Extremes of now and window do not wrap. */
    ck_assert(!lurk_freshness_tls12_time_ok(s, INT64_MAX, UINT32_MAX));
    ck_assert(!lurk_freshness_tls12_time_ok(s, INT64_MIN, UINT32_MAX));
    ck_assert(lurk_freshness_tls12_time_ok(s, 0, UINT32_MAX));

    /* A time of 0 and of 0xffffffff (2106), as OpenSSL's all-random server_random may give. */
    memset(s, 0, 4);
    ck_assert_uint_eq(lurk_freshness_tls12_gmt_unix_time(s), 0);
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME, w));
    ck_assert(lurk_freshness_tls12_time_ok(s, w, w));
    memset(s, 0xff, 4);
    ck_assert_uint_eq(lurk_freshness_tls12_gmt_unix_time(s), UINT32_MAX);
    ck_assert(!lurk_freshness_tls12_time_ok(s, S_TIME, w));
    ck_assert(lurk_freshness_tls12_time_ok(s, (int64_t)UINT32_MAX + w, w));
}
END_TEST

START_TEST(tls13_known_answers)
{
    uint8_t in[LURK_RANDOM_LEN], want[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(T13_IN_HEX, in);
    from_hex(T13_SRV, want);
    ck_assert(lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_SHA256, LURK_FRESHNESS_ROLE_SERVER,
                                          in, out));
    ck_assert_mem_eq(out, want, LURK_RANDOM_LEN);

    from_hex(T13_CLT, want);
    ck_assert(lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_SHA256, LURK_FRESHNESS_ROLE_CLIENT,
                                          in, out));
    ck_assert_mem_eq(out, want, LURK_RANDOM_LEN);

    /* In place. */
    ck_assert(lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_SHA256, LURK_FRESHNESS_ROLE_CLIENT,
                                          in, in));
    ck_assert_mem_eq(in, want, LURK_RANDOM_LEN);
}
END_TEST

START_TEST(tls13_rejects_other_functions)
{
    uint8_t in[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(T13_IN_HEX, in);
    /* -01 defines sha256 only; null (255) is the project's (below). */
    ck_assert(!lurk_freshness_tls13_random(NULL, 1, LURK_FRESHNESS_ROLE_SERVER, in, out));
    ck_assert(!lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_SHA256, (enum lurk_freshness_role)2,
                                           in, out));
}
END_TEST

/* null (255), the project's (protocol.md T11): the random is the pre-image itself. */
START_TEST(tls13_null_keeps_the_random)
{
    uint8_t in[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];

    from_hex(T13_IN_HEX, in);
    for (int role = LURK_FRESHNESS_ROLE_SERVER; role <= LURK_FRESHNESS_ROLE_CLIENT; role++) {
        memset(out, 0xaa, sizeof(out));
        ck_assert(lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_NULL,
                                              (enum lurk_freshness_role)role, in, out));
        ck_assert_mem_eq(out, in, LURK_RANDOM_LEN);
        ck_assert(lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_NULL,
                                              (enum lurk_freshness_role)role, out, out));
        ck_assert_mem_eq(out, in, LURK_RANDOM_LEN);
    }
    ck_assert(!lurk_freshness_tls13_random(NULL, LURK_FRESHNESS_NULL, (enum lurk_freshness_role)2,
                                           in, out));
}
END_TEST

START_TEST(library_context_is_used)
{
    uint8_t s[LURK_RANDOM_LEN], want[LURK_RANDOM_LEN], out[LURK_RANDOM_LEN];
    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *prov = OSSL_PROVIDER_load(libctx, "default");

    from_hex(S_HEX, s);
    from_hex(TLS12_SHA256, want);
    ck_assert_ptr_nonnull(prov);
    ck_assert(lurk_freshness_tls12_server_random(libctx, LURK_FRESHNESS_SHA256, s, out));
    ck_assert_mem_eq(out, want, LURK_RANDOM_LEN);
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);

    /* Without a provider of SHA-256 in the context, the derivation must fail. */
    libctx = OSSL_LIB_CTX_new();
    prov = OSSL_PROVIDER_load(libctx, "base");
    ck_assert_ptr_nonnull(prov);
    ck_assert(!lurk_freshness_tls12_server_random(libctx, LURK_FRESHNESS_SHA256, s, out));
    ck_assert(!lurk_freshness_tls13_random(libctx, LURK_FRESHNESS_SHA256,
                                           LURK_FRESHNESS_ROLE_SERVER, s, out));
    /* null needs no digest. */
    ck_assert(lurk_freshness_tls12_server_random(libctx, LURK_FRESHNESS_NULL, s, out));
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("freshness");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tls12_sha256_known_answer);
    tcase_add_test(tc, tls12_null_is_passthrough);
    tcase_add_test(tc, tls12_unknown_function_rejected);
    tcase_add_test(tc, tls12_time_window_edges);
    tcase_add_test(tc, tls13_known_answers);
    tcase_add_test(tc, tls13_rejects_other_functions);
    tcase_add_test(tc, tls13_null_keeps_the_random);
    tcase_add_test(tc, library_context_is_used);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
