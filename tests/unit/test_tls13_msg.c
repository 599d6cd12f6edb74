/*
 * Unit tests of the tls13 codec (liblurk/tls13_msg.c): round trips of every
 * message, malformed input per decoder with the status the server answers,
 * encoder refusals, and the per-exchange tables against the draft's
 * Figures 3 and 5-8 (draft-mglt-lurk-tls13-01).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/hex.h"
#include "lurk/tls13.h"
#include "roundtrip.h"

#define FMT LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT
#define OK  LURK_STATUS_SUCCESS

#define MAX_MSG 4096

/*
 * Valid payloads, built independently of the codec (a throwaway script
 * following the tls13 section of docs/protocol.md). The first group are the examples of
 * the tls13 section of docs/protocol.md; the second covers the variants they do not.
 */
struct sample {
    uint8_t type;
    bool request;
    const char *name;
    const char *hex;
};

static const struct sample samples[] = {
    /* capabilities request */
    {0, true, "capabilities request",
     ""},
    /* capabilities response */
    {0, false, "capabilities response",
     "0e000102030405060708090a0b0c80" /* types */
     "0006040308040807" /* signature_schemes */
     "0100" /* freshness_functs */
     "0100" /* cookie_hs */
     "020001" /* ephemeral_methods */
     "0004001d0017" /* named_groups */
     "000014000000103082404142434445464748494a4b4c4d" /* typed_certificates */
     "9af14edf" /* lurk_state */},
    /* ping request */
    {1, true, "ping request",
     ""},
    /* ping response */
    {1, false, "ping response",
     ""},
    /* binder_key request */
    {2, true, "binder_key request",
     "8000" /* key_request */
     "00000000" /* handshake_context */
     "00290100260020d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8" /* extension_list */
     "e9eaebecedeeef0001e240"},
    /* binder_key response */
    {2, false, "binder_key response",
     "00220020000102030405060708090a0b0c0d0e0f101112131415161718191a1b" /* secret_list */
     "1c1d1e1f"
     "0000" /* extension_list */},
    /* early_secret request (client role) */
    {3, true, "early_secret request (client role)",
     "00" /* cookie_h */
     "0d15ea5e" /* lurk_client_session_id */
     "feedf00d" /* lurk_client_cookie_init */
     "4000" /* key_request */
     "0000000a01000006030310111213" /* handshake_context */
     "002d0100260020d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8" /* extension_list */
     "e9eaebecedeeef0001e24003000100"},
    /* early_secret response (client role) */
    {3, false, "early_secret response (client role)",
     "5eed1e55" /* crypto_service_session_id */
     "c0ffee00" /* crypto_service_cookie_init */
     "002201200102030405060708090a0b0c0d0e0f101112131415161718191a1b1c" /* secret_list */
     "1d1e1f20"
     "0000" /* extension_list */},
    /* handshake_secret request */
    {6, true, "handshake_secret request",
     "5eed1e55b65aa8f9" /* crypto_service_session_id, crypto_service_cookie */
     "1800" /* key_request */
     "0000000a02000006030320212223" /* handshake_context */
     "0026020023000020e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7" /* extension_list */
     "f8f9fafbfcfdfeff"},
    /* handshake_secret response */
    {6, false, "handshake_secret response",
     "0d15ea5e1d1eaf51" /* lurk_client_session_id, lurk_client_cookie */
     "00440320030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e" /* secret_list */
     "1f20212204200405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
     "1e1f20212223"
     "0000" /* extension_list */},
    /* app_secret request */
    {7, true, "app_secret request",
     "5eed1e557e0453fd" /* crypto_service_session_id, crypto_service_cookie */
     "0700" /* key_request */
     "0000002a08000002000014000020606162636465666768696a6b6c6d6e6f7071" /* handshake_context */
     "72737475767778797a7b7c7d7e7f"
     "0000" /* extension_list */},
    /* app_secret response */
    {7, false, "app_secret response",
     "0d15ea5e19a5a13e" /* lurk_client_session_id, lurk_client_cookie */
     "0066052005060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" /* secret_list */
     "212223240620060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "20212223242507200708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"
     "1f20212223242526"
     "0000" /* extension_list */},
    /* early_secret request (server role) */
    {3, true, "early_secret request (server role)",
     "00" /* cookie_h */
     "4c0ffee1" /* lurk_client_session_id */
     "90a1b2c3" /* lurk_client_cookie_init */
     "c000" /* key_request */
     "0000000a01000006030310111213" /* handshake_context */
     "00290100260020d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8" /* extension_list */
     "e9eaebecedeeef0001e240"},
    /* early_secret response (server role) */
    {3, false, "early_secret response (server role)",
     "6d5e4f30" /* crypto_service_session_id */
     "0badcafe" /* crypto_service_cookie_init */
     "00440020000102030405060708090a0b0c0d0e0f101112131415161718191a1b" /* secret_list */
     "1c1d1e1f01200102030405060708090a0b0c0d0e0f101112131415161718191a"
     "1b1c1d1e1f20"
     "0000" /* extension_list */},
    /* handshake_and_app_secret request */
    {4, true, "handshake_and_app_secret request",
     "6d5e4f3078541494" /* crypto_service_session_id, crypto_service_cookie */
     "1f00" /* key_request */
     "0000001002000006030320212223080000020000" /* handshake_context */
     "000a02000301000003000100" /* extension_list */},
    /* handshake_and_app_secret response */
    {4, false, "handshake_and_app_secret response",
     "4c0ffee1967f1986" /* lurk_client_session_id, lurk_client_cookie */
     "00aa0320030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e" /* secret_list */
     "1f20212204200405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
     "1e1f20212223052005060708090a0b0c0d0e0f101112131415161718191a1b1c"
     "1d1e1f20212223240620060708090a0b0c0d0e0f101112131415161718191a1b"
     "1c1d1e1f20212223242507200708090a0b0c0d0e0f101112131415161718191a"
     "1b1c1d1e1f20212223242526"
     "002a020027010024001d0020a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3" /* extension_list */
     "b4b5b6b7b8b9babbbcbdbebf"},
    /* init_handshake_secret request */
    {5, true, "init_handshake_secret request",
     "00" /* cookie_h */
     "31415926" /* lurk_client_session_id */
     "53589793" /* lurk_client_cookie_init */
     "1800" /* key_request */
     "000000140100000603031011121302000006030320212223" /* handshake_context */
     "002a020023000020e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7" /* extension_list */
     "f8f9fafbfcfdfeff03000100"},
    /* init_handshake_secret response */
    {5, false, "init_handshake_secret response",
     "27182818" /* crypto_service_session_id */
     "28459045" /* crypto_service_cookie_init */
     "00440320030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e" /* secret_list */
     "1f20212204200405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
     "1e1f20212223"
     "0000" /* extension_list */},
    /* init_certificate_verify request */
    {8, true, "init_certificate_verify request",
     "00" /* cookie_h */
     "7a3f9c01" /* lurk_client_session_id */
     "5d2e8b44" /* lurk_client_cookie_init */
     "1e00" /* key_request */
     "0000001a0100000603031011121302000006030320212223080000020000" /* handshake_context */
     "002a020023000020e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7" /* extension_list */
     "f8f9fafbfcfdfeff03000100"
     "00a1b2c3d4" /* key_id.type, key_id.data */
     "0403" /* sig_algo */
     "018d1a5c3e" /* lurk_certificate_type, hash_cert */},
    /* init_certificate_verify response */
    {8, false, "init_certificate_verify response",
     "1b6e0f93" /* crypto_service_session_id */
     "e4c8a170" /* crypto_service_cookie_init */
     "00880320030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e" /* secret_list */
     "1f20212204200405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
     "1e1f20212223052005060708090a0b0c0d0e0f101112131415161718191a1b1c"
     "1d1e1f20212223240620060708090a0b0c0d0e0f101112131415161718191a1b"
     "1c1d1e1f202122232425"
     "0000" /* extension_list */
     "004630440220909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9" /* signature */
     "aaabacadaeaf0220b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7"
     "c8c9cacbcccdcecf"},
    /* certificate_verify request */
    {9, true, "certificate_verify request",
     "27182818213aaf7d" /* crypto_service_session_id, crypto_service_cookie */
     "0600" /* key_request */
     "0000005e0800000200000d0000030000000b0000190000001500001030824041" /* handshake_context */
     "42434445464748494a4b4c4d00000f00000c0807000850515253545556571400"
     "0020606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d"
     "7e7f"
     "0000" /* extension_list */
     "00a1b2c3d4" /* key_id.type, key_id.data */
     "0807" /* sig_algo */
     "00000000150000103082404142434445464748494a4b4c4d0000" /* lurk_certificate_type, certificate_request_context, certificate_list */},
    /* certificate_verify response */
    {9, false, "certificate_verify response",
     "31415926ba1cb295" /* lurk_client_session_id, lurk_client_cookie */
     "0044052005060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" /* secret_list */
     "212223240620060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425"
     "0000" /* extension_list */
     "0040c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdd" /* signature */
     "dedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfd"
     "feff"},
    /* post_handshake request */
    {10, true, "post_handshake request",
     "27182818574d7bd3" /* crypto_service_session_id, crypto_service_cookie */
     "000000080d00000401a50000" /* handshake_context */
     "0000" /* app_n */
     "00a1b2c3d4" /* key_id.type, key_id.data */
     "0807" /* sig_algo */
     "018d1a5c3e" /* lurk_certificate_type, hash_cert */},
    /* post_handshake response */
    {10, false, "post_handshake response",
     "31415926293f6db1" /* lurk_client_session_id, lurk_client_cookie */
     "0040c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdd" /* signature */
     "dedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfd"
     "feff"},
    /* new_session_ticket request */
    {11, true, "new_session_ticket request",
     "1b6e0f93beb23ae1" /* crypto_service_session_id, crypto_service_cookie */
     "02" /* ticket_nbr */
     "0080" /* key_request */
     "0000002414000020808182838485868788898a8b8c8d8e8f9091929394959697" /* handshake_context */
     "98999a9b9c9d9e9f"},
    /* new_session_ticket response */
    {11, false, "new_session_ticket response",
     "7a3f9c0104b5cc83" /* lurk_client_session_id, lurk_client_cookie */
     "006400001c203b9aca0701000020d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1" /* ticket_list */
     "e2e3e4e5e6e7e8e9eaebecedeeef0008002a00040000400000001c2077359400"
     "01010020f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b"
     "0c0d0e0f0000"
     "0022082008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223" /* secret_list */
     "24252627"},
    /* register_session_ticket request */
    {12, true, "register_session_ticket request",
     "27182818bbe92dfc" /* crypto_service_session_id, crypto_service_cookie */
     "0000002414000020808182838485868788898a8b8c8d8e8f9091929394959697" /* handshake_context */
     "98999a9b9c9d9e9f"
     "002e00001c203b9aca0701000020d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1" /* ticket_list */
     "e2e3e4e5e6e7e8e9eaebecedeeef0000"
     "0080" /* key_request */},
    /* register_session_ticket response */
    {12, false, "register_session_ticket response",
     "31415926c9a63ef3" /* lurk_client_session_id, lurk_client_cookie */
     "0022082008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223" /* secret_list */
     "24252627"},
    /* sign_certificate_verify request */
    {128, true, "sign_certificate_verify request",
     "00673a6bda" /* key_id.type, key_id.data */
     "0804" /* sig_algo */
     "00" /* role */
     "20764d6632b3c35c3f3205e3499ac3edbaabb88295fba751461d3678e2e5ea06" /* transcript_hash */
     "87"},
    /* sign_certificate_verify response */
    {128, false, "sign_certificate_verify response",
     "00805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8" /* signature */
     "477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394"
     "cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e81"
     "8e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f"
     "74f3"},
    /* every request extension at once, in another order (presence is lurkd's business) */
    {2, true, "binder_key request, three extensions",
     "8000"     /* key_request */
     "00000000" /* handshake_context */
     "0019"     /* extension_list */
     "030001"
     "00"
     "020005"
     "00"
     "0002"
     "abcd"
     "01000a"
     "0004"
     "01020304"
     "00000007"},
    /* empty lists everywhere */
    {2, false, "binder_key response, empty",
     "0000"
     "0000"},
    {11, true, "new_session_ticket request, nothing",
     "00000001"
     "00000002"
     "00"
     "0000"
     "00000000"},
    {11, false, "new_session_ticket response, no ticket",
     "00000001"
     "00000002"
     "0000"
     "0000"},
    {12, true, "register_session_ticket request, no ticket",
     "00000001"
     "00000002"
     "00000000"
     "0000"
     "0000"},
    {12, false, "register_session_ticket response, no secret",
     "00000001"
     "00000002"
     "0000"},
    /* secret_data<0..255>: empty and 255 bytes are fine */
    {7, false, "app_secret response, empty secret",
     "00000001"
     "00000002"
     "0002"
     "0500"
     "0000"},
    /* LURKCertificate tls13 with a request context, two entries, an entry extension */
    {8, true, "init_certificate_verify request, tls13 certificate",
     "00"
     "00000001"
     "00000002" /* ctx_request */
     "1800"
     "00000000"
     "0000" /* secrets */
     "00a1b2c3d4"
     "0804" /* key_id, sig_algo */
     "00"
     "01"
     "aa"
     "000015" /* tls13, request context, certificate_list */
     "000002"
     "3082"
     "0008"
     "0005"
     "0004"
     "00004000"
     "000001"
     "bb"
     "0000"},
    /* Certificate with an empty list (lurkd refuses it, the codec does not) */
    {9, true, "certificate_verify request, empty certificate",
     "00000001"
     "00000002"
     "0000"
     "00000000"
     "0000"
     "00a1b2c3d4"
     "0807"
     "00"
     "00"
     "000000"},
    /* sign_certificate_verify with a SHA-384 transcript, client role */
    {128, true, "sign_certificate_verify request, sha384 client",
     "00a1b2c3d4"
     "0805"
     "01"
     "30"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f"},
    {128, false, "sign_certificate_verify response, empty signature", "0000"},
    /* capabilities with only the type list */
    {0, false, "capabilities response, minimal",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000000"
     "01020304"},
    /* a response ephemeral with a P-256 key share */
    {6, false, "handshake_secret response, P-256 key share",
     "00000001"
     "00000002"
     "0000"
     "004b"
     "020048"
     "01"
     "0045"
     "0017"
     "0041"
     "04000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"},
    /* an EndOfEarlyData (empty body) in a handshake_context */
    {7, true, "app_secret request, EndOfEarlyData",
     "00000001"
     "00000002"
     "0700"
     "0000000c"
     "05000000"
     "1400000401020304"
     "0000"},
    /* freshness null (255): the project's, accepted where policy allows (protocol.md T11) */
    {5, true, "init_handshake_secret request, freshness null",
     "00"
     "31415926"
     "53589793"
     "1800"
     "00000000"
     "0004"
     "030001"
     "ff"},
};

#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t len = 0;

    ck_assert_msg(lurk_hex_decode(hex, out, max, &len), "bad test hex: %s", hex);
    return len;
}

static uint8_t decode(uint8_t type, bool request, const uint8_t *buf, size_t len)
{
    lurk_cbs in;

    lurk_cbs_init(&in, buf, len);
    if (request) {
        struct lurk_tls13_request r;
        return lurk_tls13_request_decode(type, &in, &r);
    }
    struct lurk_tls13_response r;
    return lurk_tls13_response_decode(type, &in, &r);
}

/* Decode, re-encode through the shared oracle, and compare with the input. */
static void check_roundtrip(uint8_t type, bool request, const uint8_t *buf, size_t len,
                            const char *name)
{
    lurk_cbb out;
    lurk_cbs in;
    uint8_t st;

    ck_assert(lurk_cbb_init(&out, 64, 1 << 20));
    lurk_cbs_init(&in, buf, len);
    st = lurk_test_roundtrip(LURK_DESIGNATION_TLS13, type, request, &in, &out);
    ck_assert_msg(st == OK, "%s: status %u (%s)", name, st, lurk_tls13_status_name(st));
    ck_assert_msg(lurk_cbb_len(&out) == len, "%s: re-encoded %zu bytes, not %zu", name,
                  lurk_cbb_len(&out), len);
    if (len > 0)
        ck_assert_msg(memcmp(lurk_cbb_data(&out), buf, len) == 0, "%s: bytes differ", name);
    lurk_cbb_cleanup(&out);
}

/* ---- round trips, truncation, trailing data ---- */

START_TEST(roundtrip_every_sample)
{
    const struct sample *s = &samples[_i];
    uint8_t buf[MAX_MSG];
    size_t len = unhex(s->hex, buf, sizeof(buf));

    check_roundtrip(s->type, s->request, buf, len, s->name);
}
END_TEST

START_TEST(truncation_at_every_offset)
{
    const struct sample *s = &samples[_i];
    uint8_t buf[MAX_MSG];
    size_t len = unhex(s->hex, buf, sizeof(buf));

    /* Every strict prefix (the payloads are fixed sequences of fields). */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1); /* exact-size copy, so ASan sees any over-read */
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, buf, cut);
        uint8_t st = decode(s->type, s->request, copy, cut);
        ck_assert_msg(st == FMT, "%s cut at %zu/%zu: status %u", s->name, cut, len, st);
        free(copy);
    }
}
END_TEST

START_TEST(trailing_data_refused)
{
    const struct sample *s = &samples[_i];
    uint8_t buf[MAX_MSG];
    size_t len = unhex(s->hex, buf, sizeof(buf));

    buf[len] = 0x00;
    ck_assert_uint_eq(decode(s->type, s->request, buf, len + 1), FMT);
    buf[len] = 0xff;
    buf[len + 1] = 0xff;
    ck_assert_uint_eq(decode(s->type, s->request, buf, len + 2), FMT);
}
END_TEST

START_TEST(every_type_has_samples)
{
    static const uint8_t types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 128};

    for (size_t t = 0; t < sizeof(types); t++)
        for (int req = 0; req < 2; req++) {
            bool found = false;
            for (size_t i = 0; i < N_SAMPLES; i++)
                found |= samples[i].type == types[t] && samples[i].request == (req == 1);
            ck_assert_msg(found, "no sample for type %u %s", types[t],
                          req ? "request" : "response");
        }
}
END_TEST

START_TEST(unknown_types)
{
    static const uint8_t types[] = {13, 14, 127, 129, 255};
    lurk_cbs in;
    lurk_cbb out;
    struct lurk_tls13_request rq;
    struct lurk_tls13_response rs;

    ck_assert(lurk_cbb_init(&out, 16, 1024));
    lurk_cbs_init(&in, NULL, 0);
    for (size_t i = 0; i < sizeof(types); i++) {
        ck_assert(!lurk_tls13_type_known(types[i]));
        ck_assert_uint_eq(lurk_tls13_request_decode(types[i], &in, &rq),
                          LURK_TLS13_STATUS_UNDEFINED_ERROR);
        ck_assert_uint_eq(lurk_tls13_response_decode(types[i], &in, &rs),
                          LURK_TLS13_STATUS_UNDEFINED_ERROR);
        ck_assert_uint_eq(lurk_test_roundtrip(LURK_DESIGNATION_TLS13, types[i], true, &in, &out),
                          LURK_TEST_UNKNOWN_MESSAGE);
        memset(&rq, 0, sizeof(rq));
        rq.type = types[i];
        ck_assert(!lurk_tls13_request_encode(&out, &rq));
    }
    lurk_cbb_cleanup(&out);
}
END_TEST

/* ---- decoded fields ---- */

static const struct sample *find_sample(const char *name)
{
    for (size_t i = 0; i < N_SAMPLES; i++)
        if (strcmp(samples[i].name, name) == 0)
            return &samples[i];
    ck_abort_msg("no sample %s", name);
    return NULL;
}

START_TEST(fields_init_certificate_verify)
{
    static uint8_t buf[MAX_MSG];
    const struct sample *s = find_sample("init_certificate_verify request");
    size_t len = unhex(s->hex, buf, sizeof(buf));
    struct lurk_tls13_request r;
    lurk_cbs in, walk;
    struct lurk_tls13_handshake_msg m;
    const struct lurk_tls13_extension *e;

    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(8, &in, &r), OK);
    ck_assert_uint_eq(r.type, 8);
    ck_assert_uint_eq(r.ctx.cookie_h, LURK_FRESHNESS_SHA256);
    ck_assert_uint_eq(r.ctx.lurk_client_session_id, 0x7a3f9c01);
    ck_assert_uint_eq(r.ctx.lurk_client_cookie_init, 0x5d2e8b44);
    ck_assert_uint_eq(r.secrets.key_request, LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S |
                                                 LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S);
    /* ClientHello, ServerHello, EncryptedExtensions */
    walk = r.secrets.handshake_context;
    static const uint8_t types[] = {LURK_TLS13_HS_CLIENT_HELLO, LURK_TLS13_HS_SERVER_HELLO,
                                    LURK_TLS13_HS_ENCRYPTED_EXTENSIONS};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(lurk_tls13_handshake_next(&walk, &m), LURK_TLS13_NEXT_OK);
        ck_assert_uint_eq(m.msg_type, types[i]);
        ck_assert_uint_eq(lurk_cbs_len(&m.message), 4 + lurk_cbs_len(&m.body));
    }
    ck_assert_int_eq(lurk_tls13_handshake_next(&walk, &m), LURK_TLS13_NEXT_END);
    ck_assert_uint_eq(r.secrets.extensions.n, 2);
    e = lurk_tls13_extension_find(&r.secrets.extensions, LURK_TLS13_EXT_EPHEMERAL);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->ephemeral.method, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED);
    ck_assert_uint_eq(lurk_cbs_len(&e->ephemeral.secret), 32);
    ck_assert_uint_eq(lurk_cbs_data(&e->ephemeral.secret)[0], 0xe0);
    e = lurk_tls13_extension_find(&r.secrets.extensions, LURK_TLS13_EXT_FRESHNESS);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->freshness, LURK_FRESHNESS_SHA256);
    ck_assert_ptr_null(lurk_tls13_extension_find(&r.secrets.extensions, LURK_TLS13_EXT_PSK_ID));
    ck_assert_uint_eq(r.signing.key_id.type, LURK_KEY_ID_TYPE_SHA256_32);
    ck_assert_mem_eq(r.signing.key_id.id, "\xa1\xb2\xc3\xd4", 4);
    ck_assert_uint_eq(r.signing.sig_algo, 0x0403);
    ck_assert_uint_eq(r.signing.certificate.type, LURK_TLS13_LURK_CERTIFICATE_SHA256_32);
    ck_assert_uint_eq(r.signing.certificate.hash_cert, 0x8d1a5c3e);
    /* This request passes the Figure 3 and 5-7 checks. */
    ck_assert_uint_eq(
        lurk_tls13_key_request_check(8, LURK_TLS13_ROLE_SERVER, r.secrets.key_request), OK);
    ck_assert_uint_eq(lurk_tls13_extensions_check(8, LURK_TLS13_ROLE_SERVER, &r.secrets.extensions),
                      OK);

    struct lurk_tls13_response a;
    s = find_sample("init_certificate_verify response");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_response_decode(8, &in, &a), OK);
    ck_assert_uint_eq(a.ctx.crypto_service_session_id, 0x1b6e0f93);
    ck_assert_uint_eq(a.ctx.crypto_service_cookie_init, 0xe4c8a170);
    ck_assert_uint_eq(a.secrets.secrets.n, 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(a.secrets.secrets.s[i].type,
                          LURK_TLS13_SECRET_CLIENT_HANDSHAKE_TRAFFIC_SECRET + i);
        ck_assert_uint_eq(lurk_cbs_len(&a.secrets.secrets.s[i].data), 32);
    }
    ck_assert_uint_eq(a.secrets.extensions.n, 0);
    ck_assert_uint_eq(lurk_cbs_len(&a.signing.signature), 70);
}
END_TEST

START_TEST(fields_sessions_and_tickets)
{
    static uint8_t buf[MAX_MSG];
    const struct sample *s = find_sample("new_session_ticket request");
    size_t len = unhex(s->hex, buf, sizeof(buf));
    struct lurk_tls13_request r;
    struct lurk_tls13_response a;
    lurk_cbs in;

    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(11, &in, &r), OK);
    ck_assert_uint_eq(r.session.session_id, 0x1b6e0f93);
    ck_assert_uint_eq(r.session.cookie, 0xbeb23ae1);
    ck_assert_uint_eq(r.ticket_nbr, 2);
    ck_assert_uint_eq(r.secrets.key_request, LURK_TLS13_KR_R);
    ck_assert_uint_eq(lurk_cbs_len(&r.secrets.handshake_context), 36);

    s = find_sample("new_session_ticket response");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_response_decode(11, &in, &a), OK);
    ck_assert_uint_eq(a.session.session_id, 0x7a3f9c01);
    ck_assert_uint_eq(a.tickets.n, 2);
    ck_assert_uint_eq(a.tickets.t[0].ticket_lifetime, 7200);
    ck_assert_uint_eq(a.tickets.t[0].ticket_age_add, 0x3b9aca07);
    ck_assert_uint_eq(lurk_cbs_len(&a.tickets.t[0].ticket_nonce), 1);
    ck_assert_uint_eq(lurk_cbs_len(&a.tickets.t[0].ticket), 32);
    ck_assert_uint_eq(lurk_cbs_len(&a.tickets.t[0].extensions), 8);
    ck_assert_uint_eq(lurk_cbs_len(&a.tickets.t[1].extensions), 0);
    ck_assert_uint_eq(a.secrets.secrets.n, 1);
    ck_assert_uint_eq(a.secrets.secrets.s[0].type, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET);

    s = find_sample("register_session_ticket request");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(12, &in, &r), OK);
    ck_assert_uint_eq(r.tickets.n, 1);
    ck_assert_uint_eq(r.secrets.key_request, LURK_TLS13_KR_R);
    ck_assert(lurk_tls13_handshake_context_valid(&r.secrets.handshake_context));

    s = find_sample("post_handshake request");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(10, &in, &r), OK);
    ck_assert_uint_eq(r.app_n, 0);
    ck_assert_uint_eq(r.secrets.key_request, 0);
    ck_assert_uint_eq(r.signing.sig_algo, 0x0807);
    ck_assert_uint_eq(
        lurk_tls13_key_request_check(10, LURK_TLS13_ROLE_CLIENT, r.secrets.key_request), OK);

    s = find_sample("handshake_and_app_secret response");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_response_decode(4, &in, &a), OK);
    ck_assert_uint_eq(a.secrets.extensions.n, 1);
    ck_assert_uint_eq(a.secrets.extensions.ext[0].type, LURK_TLS13_EXT_EPHEMERAL);
    ck_assert_uint_eq(a.secrets.extensions.ext[0].ephemeral.method,
                      LURK_TLS13_EPHEMERAL_SECRET_GENERATED);
    ck_assert_uint_eq(a.secrets.extensions.ext[0].ephemeral.key_share.group, 0x001d);
    ck_assert_uint_eq(lurk_cbs_len(&a.secrets.extensions.ext[0].ephemeral.key_share.key_exchange),
                      32);
}
END_TEST

START_TEST(fields_certificate_and_project_messages)
{
    static uint8_t buf[MAX_MSG];
    const struct sample *s = find_sample("init_certificate_verify request, tls13 certificate");
    size_t len = unhex(s->hex, buf, sizeof(buf));
    struct lurk_tls13_request r;
    struct lurk_tls13_response a;
    struct lurk_tls13_certificate_entry e;
    lurk_cbs in, walk;

    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(8, &in, &r), OK);
    ck_assert_uint_eq(r.signing.certificate.type, LURK_TLS13_LURK_CERTIFICATE_TLS13);
    /* The body: context(1+1) list(3+21) */
    ck_assert_uint_eq(lurk_cbs_len(&r.signing.certificate.certificate), 2 + 3 + 21);
    ck_assert_uint_eq(lurk_cbs_len(&r.signing.certificate.request_context), 1);
    walk = r.signing.certificate.certificate_list;
    ck_assert_int_eq(lurk_tls13_certificate_entry_next(&walk, &e), LURK_TLS13_NEXT_OK);
    ck_assert_uint_eq(lurk_cbs_len(&e.cert_data), 2);
    ck_assert_uint_eq(lurk_cbs_len(&e.extensions), 8);
    ck_assert_int_eq(lurk_tls13_certificate_entry_next(&walk, &e), LURK_TLS13_NEXT_OK);
    ck_assert_uint_eq(lurk_cbs_len(&e.cert_data), 1);
    ck_assert_int_eq(lurk_tls13_certificate_entry_next(&walk, &e), LURK_TLS13_NEXT_END);

    s = find_sample("sign_certificate_verify request");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(128, &in, &r), OK);
    /* RFC 8448 §3: the server key's id and the CertificateVerify transcript hash. */
    ck_assert_uint_eq(r.sign_cv.key_id.type, 0);
    ck_assert_mem_eq(r.sign_cv.key_id.id, "\x67\x3a\x6b\xda", 4);
    ck_assert_uint_eq(r.sign_cv.sig_algo, 0x0804);
    ck_assert_uint_eq(r.sign_cv.role, LURK_TLS13_ROLE_SERVER);
    ck_assert_uint_eq(lurk_cbs_len(&r.sign_cv.transcript_hash), 32);
    s = find_sample("sign_certificate_verify request, sha384 client");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_request_decode(128, &in, &r), OK);
    ck_assert_uint_eq(r.sign_cv.role, LURK_TLS13_ROLE_CLIENT);
    ck_assert_uint_eq(lurk_cbs_len(&r.sign_cv.transcript_hash), 48);

    s = find_sample("capabilities response");
    len = unhex(s->hex, buf, sizeof(buf));
    lurk_cbs_init(&in, buf, len);
    ck_assert_uint_eq(lurk_tls13_response_decode(0, &in, &a), OK);
    ck_assert_uint_eq(lurk_cbs_len(&a.capabilities.types), 14);
    ck_assert_uint_eq(lurk_cbs_data(&a.capabilities.types)[13], 128);
    ck_assert_uint_eq(lurk_cbs_len(&a.capabilities.signature_schemes), 6);
    ck_assert_uint_eq(lurk_cbs_len(&a.capabilities.ephemeral_methods), 2);
    ck_assert_uint_eq(lurk_cbs_len(&a.capabilities.named_groups), 4);
    ck_assert_mem_eq(a.capabilities.state, "\x9a\xf1\x4e\xdf", 4);
    struct lurk_tls12_typed_certificate tc;
    walk = a.capabilities.typed_certificates;
    ck_assert(lurk_tls12_typed_certificate_next(&walk, &tc));
    ck_assert_uint_eq(tc.certificate_type, LURK_CERTIFICATE_TYPE_X509);
    ck_assert_uint_eq(lurk_cbs_len(&tc.data), 16);
    ck_assert(!lurk_tls12_typed_certificate_next(&walk, &tc));
    ck_assert_uint_eq(lurk_cbs_len(&walk), 0);
}
END_TEST

/* ---- malformed input, per decoder, with the status the server answers ---- */

struct bad {
    uint8_t type;
    bool request;
    const char *what;
    const char *hex;
    uint8_t status;
};

/* A SecretsRequest head: key_request b, empty handshake_context. */
#define SR_HEAD                                                                                    \
    "8000"                                                                                         \
    "00000000"
/* A SecretsResponse head: empty secret_list. */
#define SA_HEAD "0000"
#define SESSION                                                                                    \
    "00000001"                                                                                     \
    "00000002"
#define CTX_REQ                                                                                    \
    "00"                                                                                           \
    "00000001"                                                                                     \
    "00000002"

static const struct bad bad[] = {
    /* key_request (§3.1, Figure 2) */
    {2, true, "reserved bit 15",
     "8001"
     "00000000"
     "0000",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    {2, true, "reserved bit 9",
     "0040"
     "00000000"
     "0000",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    {2, true, "all reserved bits",
     "ff7f"
     "00000000"
     "0000",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    {2, true, "reserved bit, rest missing (wire order)", "0001",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    {11, true, "new_session_ticket reserved bit",
     SESSION "01"
             "0081"
             "00000000",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    {12, true, "register_session_ticket reserved bit",
     SESSION "00000000"
             "0000"
             "0002",
     LURK_TLS13_STATUS_INVALID_KEY_REQUEST},
    /* handshake_context (§3.3) */
    {2, true, "context length past the end",
     "8000"
     "00000005"
     "0100"
     "0000",
     FMT},
    {2, true, "context of a 3-byte header",
     "8000"
     "00000003"
     "010000"
     "0000",
     FMT},
    {2, true, "message body past the context",
     "8000"
     "00000005"
     "0100000201"
     "0000",
     FMT},
    {2, true, "second message truncated",
     "8000"
     "00000009"
     "0100000101"
     "02000001"
     "0000",
     FMT},
    {2, true, "context length 2^32-1",
     "8000"
     "ffffffff"
     "0000",
     FMT},
    {10, true, "post_handshake context truncated message",
     SESSION "00000002"
             "0d00"
             "0000"
             "00a1b2c3d4"
             "0807"
             "01"
             "01020304",
     FMT},
    /* extension_list (§3.4) */
    {2, true, "list length past the end",
     SR_HEAD "0005"
             "03",
     FMT},
    {2, true, "unknown extension 0",
     SR_HEAD "0004"
             "00"
             "0001"
             "00",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "unknown extension 4",
     SR_HEAD "0004"
             "04"
             "0001"
             "00",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "unknown extension 255",
     SR_HEAD "0003"
             "ff"
             "0000",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "unknown extension, no length (wire order)",
     SR_HEAD "0001"
             "04",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "extension data past the list",
     SR_HEAD "0004"
             "03"
             "0005"
             "00",
     FMT},
    {2, true, "extension length cut",
     SR_HEAD "0002"
             "03"
             "00",
     FMT},
    {2, true, "duplicate freshness",
     SR_HEAD "0008"
             "030001"
             "00"
             "030001"
             "00",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "duplicate before its bad length (wire order)",
     SR_HEAD "0007"
             "030001"
             "00"
             "03"
             "0009",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "duplicate psk_id",
     SR_HEAD "0014"
             "010007"
             "0001"
             "aa"
             "00000001"
             "010007"
             "0001"
             "bb"
             "00000001",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, true, "four extensions",
     SR_HEAD "0010"
             "030001"
             "00"
             "030001"
             "00"
             "030001"
             "00"
             "030001"
             "00",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    /* freshness (§3.4.3) */
    {2, true, "freshness 1",
     SR_HEAD "0004"
             "030001"
             "01",
     LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT},
    {2, true, "freshness empty",
     SR_HEAD "0003"
             "030000",
     FMT},
    {2, true, "freshness two bytes",
     SR_HEAD "0005"
             "030002"
             "0000",
     FMT},
    {2, true, "bad freshness before trailing byte (wire order)",
     SR_HEAD "0005"
             "030002"
             "0100",
     LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT},
    /* psk_id (§3.4.2): PskIdentity */
    {2, true, "psk_id empty identity",
     SR_HEAD "0009"
             "010006"
             "0000"
             "00000001",
     FMT},
    {2, true, "psk_id identity past the data",
     SR_HEAD "0009"
             "010006"
             "0005"
             "aabbccdd",
     FMT},
    {2, true, "psk_id age cut",
     SR_HEAD "0008"
             "010005"
             "0001"
             "aa"
             "0000",
     FMT},
    {2, true, "psk_id trailing byte",
     SR_HEAD "000b"
             "010008"
             "0001"
             "aa"
             "00000001"
             "ff",
     FMT},
    /* ephemeral (§3.4.1), requests */
    {2, true, "ephemeral method 2",
     SR_HEAD "0006"
             "020003"
             "02"
             "0000",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, true, "ephemeral method 255, cut (wire order)",
     SR_HEAD "0004"
             "020001"
             "ff",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, true, "ephemeral no method",
     SR_HEAD "0003"
             "020000",
     FMT},
    {2, true, "secret_provided without a secret",
     SR_HEAD "0006"
             "020003"
             "00"
             "0000",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, true, "secret_generated with a secret",
     SR_HEAD "0007"
             "020004"
             "01"
             "0001"
             "aa",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, true, "ephemeral secret past the data",
     SR_HEAD "0006"
             "020003"
             "00"
             "0005",
     FMT},
    {2, true, "ephemeral trailing byte",
     SR_HEAD "0008"
             "020005"
             "00"
             "0001"
             "aa"
             "ff",
     FMT},
    /* Secret list (§3.2) and response extensions */
    {2, false, "secret type 9",
     "0003"
     "09"
     "01"
     "aa"
     "0000",
     FMT},
    {2, false, "secret type 255",
     "0003"
     "ff"
     "01"
     "aa"
     "0000",
     FMT},
    {2, false, "duplicate secret",
     "0006"
     "00"
     "01"
     "aa"
     "00"
     "01"
     "bb"
     "0000",
     FMT},
    {2, false, "secret data past the list",
     "0003"
     "00"
     "05"
     "aa"
     "0000",
     FMT},
    {2, false, "secret list past the end",
     "0009"
     "00",
     FMT},
    {2, false, "secret data length missing",
     "0001"
     "00"
     "0000",
     FMT},
    {2, false, "psk_id in a response",
     SA_HEAD "000a"
             "010007"
             "0001"
             "aa"
             "00000001",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, false, "freshness in a response",
     SA_HEAD "0004"
             "030001"
             "00",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, false, "unknown extension in a response",
     SA_HEAD "0003"
             "070000",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    {2, false, "secret_provided in a response",
     SA_HEAD "0008"
             "020005"
             "00"
             "0002"
             "abcd",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, false, "unknown method in a response",
     SA_HEAD "0006"
             "020003"
             "07"
             "0000",
     LURK_TLS13_STATUS_INVALID_EPHEMERAL},
    {2, false, "secret_generated response without key share",
     SA_HEAD "0006"
             "020003"
             "01"
             "0000",
     FMT},
    {2, false, "key share with empty key_exchange",
     SA_HEAD "000a"
             "020007"
             "01"
             "0004"
             "001d"
             "0000",
     FMT},
    {2, false, "key share key_exchange past the secret",
     SA_HEAD "000a"
             "020007"
             "01"
             "0004"
             "001d"
             "0005",
     FMT},
    {2, false, "key share trailing byte",
     SA_HEAD "000c"
             "020009"
             "01"
             "0006"
             "001d"
             "0001"
             "aa"
             "ff",
     FMT},
    {2, false, "duplicate ephemeral in a response",
     SA_HEAD "0016"
             "020008"
             "01"
             "0005"
             "001d"
             "0001"
             "aa"
             "020008"
             "01"
             "0005"
             "001d"
             "0001"
             "aa",
     LURK_TLS13_STATUS_INVALID_EXTENSION},
    /* ContextAgreementRequest / Response (§3.5) */
    {3, true, "cookie_h 1",
     "01"
     "00000001"
     "00000002" SR_HEAD "0000",
     LURK_TLS13_STATUS_INVALID_COOKIE_H},
    {3, true, "cookie_h 255",
     "ff"
     "00000001"
     "00000002" SR_HEAD "0000",
     LURK_TLS13_STATUS_INVALID_COOKIE_H},
    {5, true, "cookie_h 1, rest missing (wire order)", "01", LURK_TLS13_STATUS_INVALID_COOKIE_H},
    {8, true, "bad cookie_h before a bad key_id type (wire order)",
     "01"
     "00000001"
     "00000002" SR_HEAD "0000"
     "01a1b2c3d4"
     "0403"
     "0100000000",
     LURK_TLS13_STATUS_INVALID_COOKIE_H},
    {3, true, "context agreement cut",
     "00"
     "000000",
     FMT},
    {3, false, "context agreement response cut",
     "00000001"
     "0000",
     FMT},
    /* session_id, cookie (§4.3) */
    {4, true, "session cut",
     "00000001"
     "0000",
     FMT},
    {7, false, "session response cut", "000000", FMT},
    /* SigningRequest: KeyPairID, SignatureScheme, LURKCertificate (§3.6) */
    {8, true, "key_id type 1",
     CTX_REQ SR_HEAD "0000"
                     "01a1b2c3d4"
                     "0403"
                     "0100000000",
     LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE},
    {9, true, "key_id type 255, rest missing (wire order)",
     SESSION SR_HEAD "0000"
                     "ff",
     LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE},
    {8, true, "key_id cut",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2",
     FMT},
    {8, true, "sig_algo cut",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "04",
     FMT},
    {8, true, "certificate type 2",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "0200000000",
     LURK_TLS13_STATUS_INVALID_CERTIFICATE_TYPE},
    {10, true, "certificate type 255, rest missing (wire order)",
     SESSION "00000000"
             "0000"
             "00a1b2c3d4"
             "0807"
             "ff",
     LURK_TLS13_STATUS_INVALID_CERTIFICATE_TYPE},
    {8, true, "hash_cert cut",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "01000000",
     FMT},
    {8, true, "certificate type missing",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403",
     FMT},
    {8, true, "certificate context past the end",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "05"
                     "00",
     FMT},
    {8, true, "certificate_list past the end",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "000010"
                     "000001aa0000",
     FMT},
    {8, true, "empty cert_data",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "000005"
                     "000000"
                     "0000",
     FMT},
    {8, true, "cert_data past the entry",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "000006"
                     "000009"
                     "aa"
                     "0000",
     FMT},
    {8, true, "entry extensions missing",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "000004"
                     "000001"
                     "aa",
     FMT},
    {8, true, "entry extension cut",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "000009"
                     "000001"
                     "aa"
                     "0003"
                     "000100",
     FMT},
    {8, true, "entry extension past its list",
     CTX_REQ SR_HEAD "0000"
                     "00a1b2c3d4"
                     "0403"
                     "00"
                     "00"
                     "00000a"
                     "000001"
                     "aa"
                     "0004"
                     "00010009",
     FMT},
    /* SigningResponse */
    {8, false, "signature past the end",
     "0000000100000002"
     "0000"
     "0000"
     "0005"
     "aabb",
     FMT},
    {128, false, "signature length cut", "00", FMT},
    /* NewSessionTicket (RFC 8446 §4.6.1) and ticket_list */
    {11, false, "empty ticket",
     SESSION "000d"
             "00001c20"
             "00000001"
             "00"
             "0000"
             "0000"
             "0000",
     FMT},
    {11, false, "ticket past the entry",
     SESSION "000e"
             "00001c20"
             "00000001"
             "00"
             "0009"
             "aa"
             "0000"
             "0000",
     FMT},
    {11, false, "ticket nonce past the entry",
     SESSION "000e"
             "00001c20"
             "00000001"
             "40"
             "0001"
             "aa"
             "0000"
             "0000",
     FMT},
    {11, false, "ticket extensions missing",
     SESSION "000c"
             "00001c20"
             "00000001"
             "00"
             "0001"
             "aa"
             "0000",
     FMT},
    {11, false, "ticket extension cut",
     SESSION "0010"
             "00001c20"
             "00000001"
             "00"
             "0001"
             "aa"
             "0002"
             "0001"
             "0000",
     FMT},
    {11, false, "ticket list past the end",
     SESSION "0020"
             "00001c20",
     FMT},
    {11, false, "bad secret after the tickets",
     SESSION "0000"
             "0003"
             "0901aa",
     FMT},
    {12, true, "ticket list cut in a request",
     SESSION "00000000"
             "0011"
             "00001c20"
             "00000001"
             "00"
             "0001"
             "aa"
             "0000"
             "0080",
     FMT},
    /* app_n, ticket_nbr */
    {10, true, "app_n cut",
     SESSION "00000000"
             "00",
     FMT},
    {11, true, "ticket_nbr missing", SESSION, FMT},
    /* sign_certificate_verify (128, project) */
    {128, true, "key_id type 1",
     "01a1b2c3d4"
     "0804"
     "00"
     "20"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     LURK_TLS13_STATUS_INVALID_KEY_ID_TYPE},
    {128, true, "role 2",
     "00a1b2c3d4"
     "0804"
     "02"
     "20"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     FMT},
    {128, true, "role 255",
     "00a1b2c3d4"
     "0804"
     "ff"
     "20"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     FMT},
    {128, true, "empty transcript hash",
     "00a1b2c3d4"
     "0804"
     "00"
     "00",
     FMT},
    {128, true, "31-byte transcript hash",
     "00a1b2c3d4"
     "0804"
     "00"
     "1f"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     FMT},
    {128, true, "33-byte transcript hash",
     "00a1b2c3d4"
     "0804"
     "00"
     "21"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
     FMT},
    {128, true, "64-byte transcript hash",
     "00a1b2c3d4"
     "0804"
     "00"
     "40"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     FMT},
    {128, true, "transcript hash past the end",
     "00a1b2c3d4"
     "0804"
     "00"
     "20"
     "0001",
     FMT},
    {128, true, "role missing",
     "00a1b2c3d4"
     "0804",
     FMT},
    /* capabilities (0, project) */
    {0, true, "non-empty capabilities request", "00", FMT},
    {0, false, "empty type list",
     "00"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000000"
     "01020304",
     FMT},
    {0, false, "odd signature scheme list",
     "0101"
     "0001"
     "04"
     "00"
     "00"
     "00"
     "0000"
     "000000"
     "01020304",
     FMT},
    {0, false, "odd named group list",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0003"
     "001d00"
     "000000"
     "01020304",
     FMT},
    {0, false, "unknown certificate type",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000005"
     "01000001aa"
     "01020304",
     FMT},
    {0, false, "empty certificate",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000004"
     "00000000"
     "01020304",
     FMT},
    {0, false, "certificate past its list",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000005"
     "00000009aa"
     "01020304",
     FMT},
    {0, false, "state cut",
     "0101"
     "0000"
     "00"
     "00"
     "00"
     "0000"
     "000000"
     "010203",
     FMT},
    /* ping */
    {1, true, "non-empty ping request", "00", FMT},
    {1, false, "non-empty ping response", "0000", FMT},
};

START_TEST(malformed_table)
{
    const struct bad *b = &bad[_i];
    uint8_t buf[MAX_MSG];
    size_t len = unhex(b->hex, buf, sizeof(buf));
    uint8_t *copy = malloc(len + 1);
    lurk_cbb out;
    lurk_cbs in;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, len);
    uint8_t st = decode(b->type, b->request, copy, len);
    ck_assert_msg(st == b->status, "%s: status %u (%s), want %u (%s)", b->what, st,
                  lurk_tls13_status_name(st), b->status, lurk_tls13_status_name(b->status));
    /* The oracle gives the same status and writes nothing. */
    ck_assert(lurk_cbb_init(&out, 16, 1 << 16));
    lurk_cbs_init(&in, copy, len);
    ck_assert_uint_eq(lurk_test_roundtrip(LURK_DESIGNATION_TLS13, b->type, b->request, &in, &out),
                      b->status);
    ck_assert_uint_eq(lurk_cbb_len(&out), 0);
    lurk_cbb_cleanup(&out);
    free(copy);
}
END_TEST

/* ---- bounds: the pinned maxima ---- */

/* new_session_ticket response with n tickets of 1-byte tickets. */
static void build_tickets(lurk_cbb *cbb, size_t n)
{
    lurk_cbb_mark m;

    lurk_cbb_add_u32(cbb, 1);
    lurk_cbb_add_u32(cbb, 2);
    lurk_cbb_begin(cbb, &m, 2);
    for (size_t i = 0; i < n; i++) {
        lurk_cbb_add_u32(cbb, 7200);
        lurk_cbb_add_u32(cbb, (uint32_t)i);
        lurk_cbb_add_u8(cbb, 0);
        lurk_cbb_add_u16(cbb, 1);
        lurk_cbb_add_u8(cbb, (uint8_t)i);
        lurk_cbb_add_u16(cbb, 0);
    }
    lurk_cbb_end(cbb, &m);
    lurk_cbb_add_u16(cbb, 0); /* secret_list */
    ck_assert(lurk_cbb_ok(cbb));
}

START_TEST(bounds_tickets)
{
    lurk_cbb cbb;

    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 16));
    build_tickets(&cbb, LURK_TLS13_MAX_TICKETS);
    check_roundtrip(11, false, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), "16 tickets");
    lurk_cbb_cleanup(&cbb);

    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 16));
    build_tickets(&cbb, LURK_TLS13_MAX_TICKETS + 1);
    ck_assert_uint_eq(decode(11, false, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb)), FMT);
    lurk_cbb_cleanup(&cbb);
}
END_TEST

START_TEST(bounds_secrets_and_vectors)
{
    lurk_cbb cbb;
    lurk_cbb_mark m;
    uint8_t big[0x10000];

    memset(big, 0x5a, sizeof(big));
    /* All nine secret types once, 255-byte secrets: the largest secret list. */
    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 16));
    lurk_cbb_begin(&cbb, &m, 2);
    for (uint8_t t = 0; t < LURK_TLS13_MAX_SECRETS; t++) {
        lurk_cbb_add_u8(&cbb, t);
        lurk_cbb_add_prefixed(&cbb, 1, big, 255);
    }
    lurk_cbb_end(&cbb, &m);
    lurk_cbb_add_u16(&cbb, 0);
    check_roundtrip(2, false, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), "nine secrets");
    lurk_cbb_cleanup(&cbb);

    /* A tenth secret is necessarily a repeated type. */
    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 16));
    lurk_cbb_begin(&cbb, &m, 2);
    for (uint8_t t = 0; t <= LURK_TLS13_MAX_SECRETS; t++) {
        lurk_cbb_add_u8(&cbb, t % LURK_TLS13_MAX_SECRETS);
        lurk_cbb_add_prefixed(&cbb, 1, big, 1);
    }
    lurk_cbb_end(&cbb, &m);
    lurk_cbb_add_u16(&cbb, 0);
    ck_assert_uint_eq(decode(2, false, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb)), FMT);
    lurk_cbb_cleanup(&cbb);

    /*
     * NewSessionTicket extensions<0..2^16-2>: 0xfffe is fine, 0xffff is not.
     * Such a ticket no longer fits a ticket_list<0..2^16-1>, so test it with
     * the sub-structure decoder.
     */
    for (size_t extlen = 0xfffe; extlen <= 0xffff; extlen++) {
        struct lurk_tls13_new_session_ticket t;
        lurk_cbs in;
        ck_assert(lurk_cbb_init(&cbb, 64, 1 << 18));
        lurk_cbb_add_u32(&cbb, 7200);
        lurk_cbb_add_u32(&cbb, 0);
        lurk_cbb_add_u8(&cbb, 0);
        lurk_cbb_add_prefixed(&cbb, 2, big, 1);
        lurk_cbb_add_u16(&cbb, (uint16_t)extlen);
        lurk_cbb_add_u16(&cbb, 0xff01);
        lurk_cbb_add_u16(&cbb, (uint16_t)(extlen - 4));
        lurk_cbb_add_bytes(&cbb, big, extlen - 4);
        ck_assert(lurk_cbb_ok(&cbb));
        lurk_cbs_init(&in, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb));
        ck_assert_uint_eq(lurk_tls13_new_session_ticket_decode(&in, &t),
                          extlen == 0xfffe ? OK : FMT);
        lurk_cbb_cleanup(&cbb);
    }

    /* signature<0..2^16-1> of the largest size */
    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 18));
    lurk_cbb_add_prefixed(&cbb, 2, big, 0xffff);
    check_roundtrip(128, false, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), "64 KiB signature");
    lurk_cbb_cleanup(&cbb);
}
END_TEST

/* ---- encoders refuse what the decoders would refuse ---- */

static const uint8_t key32[32] = {1};
static const uint8_t body4[] = {0x01, 0x00, 0x00, 0x00}; /* ClientHello, empty body */
static const uint8_t trunc3[] = {0x01, 0x00, 0x00};

static void expect_refused(bool (*enc)(lurk_cbb *, const void *), const void *in, const char *what)
{
    lurk_cbb cbb;

    ck_assert(lurk_cbb_init(&cbb, 16, 1 << 18));
    ck_assert_msg(!enc(&cbb, in), "%s: encoded", what);
    ck_assert_msg(!lurk_cbb_ok(&cbb), "%s: builder not failed", what);
    lurk_cbb_cleanup(&cbb);
}

static bool enc_request(lurk_cbb *cbb, const void *in)
{
    return lurk_tls13_request_encode(cbb, in);
}

static bool enc_response(lurk_cbb *cbb, const void *in)
{
    return lurk_tls13_response_encode(cbb, in);
}

/* A valid request of type 2 (binder_key) to mutate. */
static void base_request(struct lurk_tls13_request *r, uint8_t type)
{
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->secrets.key_request = LURK_TLS13_KR_B;
    r->signing.certificate.type = LURK_TLS13_LURK_CERTIFICATE_SHA256_32;
    r->sign_cv.role = LURK_TLS13_ROLE_SERVER;
    lurk_cbs_init(&r->sign_cv.transcript_hash, key32, 32);
}

START_TEST(encoders_refuse)
{
    struct lurk_tls13_request r;
    struct lurk_tls13_response a;
    lurk_cbb cbb;
    uint8_t big[0x10000] = {0};

    /* The bases encode. */
    static const uint8_t types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 128};
    for (size_t i = 0; i < sizeof(types); i++) {
        base_request(&r, types[i]);
        if (types[i] == 11 || types[i] == 12)
            r.secrets.key_request = 0;
        ck_assert(lurk_cbb_init(&cbb, 16, 1024));
        ck_assert_msg(lurk_tls13_request_encode(&cbb, &r), "base type %u", types[i]);
        lurk_cbb_cleanup(&cbb);
    }

    base_request(&r, 2);
    r.secrets.key_request = LURK_TLS13_KR_B | 0x0001;
    expect_refused(enc_request, &r, "reserved key_request bit");
    base_request(&r, 11);
    r.secrets.key_request = 0x0040;
    expect_refused(enc_request, &r, "reserved key_request bit, type 11");

    base_request(&r, 2);
    lurk_cbs_init(&r.secrets.handshake_context, trunc3, sizeof(trunc3));
    expect_refused(enc_request, &r, "truncated handshake message");
    base_request(&r, 12);
    r.secrets.key_request = 0;
    lurk_cbs_init(&r.secrets.handshake_context, trunc3, sizeof(trunc3));
    expect_refused(enc_request, &r, "truncated handshake message, type 12");

    /* extensions */
    base_request(&r, 2);
    r.secrets.extensions.n = LURK_TLS13_MAX_EXTENSIONS + 1;
    expect_refused(enc_request, &r, "four extensions");
    base_request(&r, 2);
    r.secrets.extensions.n = 2;
    r.secrets.extensions.ext[0].type = LURK_TLS13_EXT_FRESHNESS;
    r.secrets.extensions.ext[1].type = LURK_TLS13_EXT_FRESHNESS;
    expect_refused(enc_request, &r, "duplicate extension");
    base_request(&r, 2);
    r.secrets.extensions.n = 1;
    r.secrets.extensions.ext[0].type = 4;
    expect_refused(enc_request, &r, "unknown extension");
    r.secrets.extensions.ext[0].type = LURK_TLS13_EXT_FRESHNESS;
    r.secrets.extensions.ext[0].freshness = 1;
    expect_refused(enc_request, &r, "freshness 1");
    r.secrets.extensions.ext[0].type = LURK_TLS13_EXT_PSK_ID;
    lurk_cbs_init(&r.secrets.extensions.ext[0].psk_id.identity, NULL, 0);
    expect_refused(enc_request, &r, "empty psk identity");
    r.secrets.extensions.ext[0].type = LURK_TLS13_EXT_EPHEMERAL;
    r.secrets.extensions.ext[0].ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_PROVIDED;
    lurk_cbs_init(&r.secrets.extensions.ext[0].ephemeral.secret, NULL, 0);
    expect_refused(enc_request, &r, "secret_provided without secret");
    r.secrets.extensions.ext[0].ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_GENERATED;
    lurk_cbs_init(&r.secrets.extensions.ext[0].ephemeral.secret, key32, 32);
    expect_refused(enc_request, &r, "secret_generated with secret");
    r.secrets.extensions.ext[0].ephemeral.method = 2;
    expect_refused(enc_request, &r, "ephemeral method 2");
    r.secrets.extensions.ext[0].ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_PROVIDED;
    lurk_cbs_init(&r.secrets.extensions.ext[0].ephemeral.secret, big, 0x10000);
    expect_refused(enc_request, &r, "ephemeral secret over 2^16-1");

    /* 10..12 carry no extension list; 10 no key_request */
    base_request(&r, 10);
    expect_refused(enc_request, &r, "post_handshake with key_request");
    base_request(&r, 11);
    r.secrets.key_request = 0;
    r.secrets.extensions.n = 1;
    r.secrets.extensions.ext[0].type = LURK_TLS13_EXT_FRESHNESS;
    expect_refused(enc_request, &r, "new_session_ticket with an extension");

    /* ctx, signing, tickets, sign_cv */
    base_request(&r, 3);
    r.ctx.cookie_h = 1;
    expect_refused(enc_request, &r, "cookie_h 1");
    base_request(&r, 8);
    r.signing.key_id.type = 1;
    expect_refused(enc_request, &r, "key_id type 1");
    base_request(&r, 8);
    r.signing.certificate.type = 2;
    expect_refused(enc_request, &r, "certificate type 2");
    base_request(&r, 8);
    r.signing.certificate.type = LURK_TLS13_LURK_CERTIFICATE_TLS13;
    lurk_cbs_init(&r.signing.certificate.certificate, trunc3, sizeof(trunc3));
    expect_refused(enc_request, &r, "malformed Certificate body");
    static const uint8_t cert_trailing[] = {0x00, 0x00, 0x00, 0x00, 0xff};
    lurk_cbs_init(&r.signing.certificate.certificate, cert_trailing, sizeof(cert_trailing));
    expect_refused(enc_request, &r, "Certificate body with trailing byte");
    static const uint8_t cert_empty_entry[] = {0x00, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0};
    lurk_cbs_init(&r.signing.certificate.certificate, cert_empty_entry, sizeof(cert_empty_entry));
    expect_refused(enc_request, &r, "Certificate with an empty cert_data");
    base_request(&r, 12);
    r.secrets.key_request = 0;
    r.tickets.n = LURK_TLS13_MAX_TICKETS + 1;
    expect_refused(enc_request, &r, "17 tickets");
    r.tickets.n = 1;
    expect_refused(enc_request, &r, "empty ticket");
    lurk_cbs_init(&r.tickets.t[0].ticket, key32, 1);
    lurk_cbs_init(&r.tickets.t[0].extensions, body4, 3);
    expect_refused(enc_request, &r, "malformed ticket extensions");
    lurk_cbs_init(&r.tickets.t[0].extensions, big, 0xffff);
    expect_refused(enc_request, &r, "ticket extensions of 2^16-1");
    base_request(&r, 128);
    r.sign_cv.role = 2;
    expect_refused(enc_request, &r, "role 2");
    base_request(&r, 128);
    lurk_cbs_init(&r.sign_cv.transcript_hash, key32, 31);
    expect_refused(enc_request, &r, "31-byte hash");
    base_request(&r, 128);
    r.sign_cv.key_id.type = 7;
    expect_refused(enc_request, &r, "sign_cv key_id type 7");

    /* responses */
    memset(&a, 0, sizeof(a));
    a.type = 2;
    a.secrets.secrets.n = LURK_TLS13_MAX_SECRETS + 1;
    expect_refused(enc_response, &a, "ten secrets");
    a.secrets.secrets.n = 1;
    a.secrets.secrets.s[0].type = 9;
    expect_refused(enc_response, &a, "secret type 9");
    a.secrets.secrets.n = 2;
    a.secrets.secrets.s[0].type = 3;
    a.secrets.secrets.s[1].type = 3;
    expect_refused(enc_response, &a, "duplicate secret");
    a.secrets.secrets.n = 1;
    lurk_cbs_init(&a.secrets.secrets.s[0].data, big, 256);
    expect_refused(enc_response, &a, "256-byte secret");
    lurk_cbs_init(&a.secrets.secrets.s[0].data, big, 32);
    a.secrets.extensions.n = 1;
    a.secrets.extensions.ext[0].type = LURK_TLS13_EXT_FRESHNESS;
    expect_refused(enc_response, &a, "freshness in a response");
    a.secrets.extensions.ext[0].type = LURK_TLS13_EXT_EPHEMERAL;
    a.secrets.extensions.ext[0].ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_PROVIDED;
    expect_refused(enc_response, &a, "secret_provided in a response");
    a.secrets.extensions.ext[0].ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_GENERATED;
    expect_refused(enc_response, &a, "empty key share");
    lurk_cbs_init(&a.secrets.extensions.ext[0].ephemeral.key_share.key_exchange, key32, 32);
    ck_assert(lurk_cbb_init(&cbb, 16, 1024));
    ck_assert(lurk_tls13_response_encode(&cbb, &a));
    lurk_cbb_cleanup(&cbb);
    a.type = 11;
    expect_refused(enc_response, &a, "new_session_ticket response with an extension");
    a.type = 12;
    expect_refused(enc_response, &a, "register_session_ticket response with an extension");

    memset(&a, 0, sizeof(a));
    a.type = 128;
    lurk_cbs_init(&a.signing.signature, big, 0x10000);
    expect_refused(enc_response, &a, "signature over 2^16-1");
    memset(&a, 0, sizeof(a));
    a.type = 0;
    expect_refused(enc_response, &a, "capabilities without types");
    lurk_cbs_init(&a.capabilities.types, body4, 1);
    lurk_cbs_init(&a.capabilities.named_groups, body4, 3);
    expect_refused(enc_response, &a, "odd named groups");
    lurk_cbs_init(&a.capabilities.named_groups, body4, 2);
    lurk_cbs_init(&a.capabilities.typed_certificates, body4, 4);
    expect_refused(enc_response, &a, "malformed typed certificates");
    a.type = 200;
    expect_refused(enc_response, &a, "unknown type");
}
END_TEST

/* ---- sub-structure decoders read the front and leave the rest ---- */

START_TEST(sub_decoders_leave_the_rest)
{
    static uint8_t buf[MAX_MSG];
    const struct sample *s = find_sample("sign_certificate_verify request");
    size_t len = unhex(s->hex, buf, sizeof(buf));
    struct lurk_tls13_sign_cv_request cv;
    struct lurk_tls13_signing_response sig;
    struct lurk_tls13_secrets_request sr;
    uint16_t kr;
    lurk_cbs in;

    buf[len] = 0xee;
    lurk_cbs_init(&in, buf, len + 1);
    ck_assert_uint_eq(lurk_tls13_sign_cv_request_decode(&in, &cv), OK);
    ck_assert_uint_eq(lurk_cbs_len(&in), 1);

    static const uint8_t two[] = {0x00, 0x01, 0xaa, 0x00, 0x00, 0xbb};
    lurk_cbs_init(&in, two, sizeof(two));
    ck_assert_uint_eq(lurk_tls13_signing_response_decode(&in, &sig), OK);
    ck_assert_uint_eq(lurk_cbs_len(&sig.signature), 1);
    ck_assert_uint_eq(lurk_tls13_signing_response_decode(&in, &sig), OK);
    ck_assert_uint_eq(lurk_cbs_len(&sig.signature), 0);
    ck_assert_uint_eq(lurk_cbs_len(&in), 1);

    static const uint8_t req[] = {0x80, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x01, 0x02};
    lurk_cbs_init(&in, req, sizeof(req));
    ck_assert_uint_eq(lurk_tls13_secrets_request_decode(&in, &sr), OK);
    ck_assert_uint_eq(sr.key_request, LURK_TLS13_KR_B);
    ck_assert_uint_eq(lurk_cbs_len(&in), 2);
    ck_assert_uint_eq(lurk_tls13_key_request_decode(&in, &kr),
                      LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(kr, 0x0102);
    ck_assert_uint_eq(lurk_tls13_key_request_decode(&in, &kr), FMT);
}
END_TEST

/* ---- iterators ---- */

START_TEST(handshake_iterator)
{
    static const uint8_t ctx[] = {0x01, 0x00, 0x00, 0x02, 0xaa, 0xbb, /* ClientHello */
                                  0x05, 0x00, 0x00, 0x00,             /* EndOfEarlyData */
                                  0x14, 0x00, 0x00, 0x01};            /* Finished, cut */
    struct lurk_tls13_handshake_msg m;
    lurk_cbs c;

    lurk_cbs_init(&c, ctx, sizeof(ctx));
    ck_assert(!lurk_tls13_handshake_context_valid(&c));
    ck_assert_int_eq(lurk_tls13_handshake_next(&c, &m), LURK_TLS13_NEXT_OK);
    ck_assert_uint_eq(m.msg_type, LURK_TLS13_HS_CLIENT_HELLO);
    ck_assert(lurk_cbs_equal(&m.body, ctx + 4, 2));
    ck_assert(lurk_cbs_equal(&m.message, ctx, 6));
    ck_assert_int_eq(lurk_tls13_handshake_next(&c, &m), LURK_TLS13_NEXT_OK);
    ck_assert_uint_eq(m.msg_type, LURK_TLS13_HS_END_OF_EARLY_DATA);
    ck_assert_uint_eq(lurk_cbs_len(&m.body), 0);
    ck_assert_uint_eq(lurk_cbs_len(&m.message), 4);
    /* A truncated message consumes nothing. */
    ck_assert_int_eq(lurk_tls13_handshake_next(&c, &m), LURK_TLS13_NEXT_MALFORMED);
    ck_assert_uint_eq(lurk_cbs_len(&c), 4);

    /* Every cut of the context: valid exactly at message boundaries. */
    for (size_t cut = 0; cut <= 10; cut++) {
        lurk_cbs_init(&c, ctx, cut);
        ck_assert_int_eq(lurk_tls13_handshake_context_valid(&c), cut == 0 || cut == 6 || cut == 10);
    }
    lurk_cbs_init(&c, NULL, 0);
    ck_assert_int_eq(lurk_tls13_handshake_next(&c, &m), LURK_TLS13_NEXT_END);
}
END_TEST

START_TEST(certificate_entry_iterator)
{
    static const uint8_t list[] = {0x00, 0x00, 0x01, 0xaa, 0x00, 0x00, /* entry */
                                   0x00, 0x00, 0x00, 0x00, 0x00};      /* empty cert_data */
    struct lurk_tls13_certificate_entry e;
    lurk_cbs c;

    lurk_cbs_init(&c, list, sizeof(list));
    ck_assert_int_eq(lurk_tls13_certificate_entry_next(&c, &e), LURK_TLS13_NEXT_OK);
    ck_assert_uint_eq(lurk_cbs_len(&e.cert_data), 1);
    ck_assert_int_eq(lurk_tls13_certificate_entry_next(&c, &e), LURK_TLS13_NEXT_MALFORMED);
    ck_assert_uint_eq(lurk_cbs_len(&c), 5);
}
END_TEST

/* ---- tables against the draft's figures ---- */

/* The rows of Figures 3 and 5-8, in the draft's order. */
struct figure_row {
    uint8_t type;
    uint8_t role;
    const char *keys; /* Figure 3, verbatim ("*" = optional) */
};

static const struct figure_row rows[] = {
    {3, LURK_TLS13_ROLE_SERVER, "b, e_c*, e_x*"},
    {8, LURK_TLS13_ROLE_SERVER, "h_c, h_s, a_c*, a_s*, x*"},
    {4, LURK_TLS13_ROLE_SERVER, "h_c, h_s, a_c*, a_s*, x*"},
    {11, LURK_TLS13_ROLE_SERVER, "r*"},
    {2, LURK_TLS13_ROLE_CLIENT, "b"},
    {3, LURK_TLS13_ROLE_CLIENT, "e_c*, e_x*"},
    {5, LURK_TLS13_ROLE_CLIENT, "h_c, h_s"},
    {6, LURK_TLS13_ROLE_CLIENT, "h_c, h_s"},
    {7, LURK_TLS13_ROLE_CLIENT, "a_c*, a_s*, x*"},
    {9, LURK_TLS13_ROLE_CLIENT, "a_c*, a_s*, x*"},
    {12, LURK_TLS13_ROLE_CLIENT, "r*"},
    {10, LURK_TLS13_ROLE_CLIENT, ""},
};

/* Figures 5, 6, 7, 8: one cell per row above ('M', '*', '-'; Figure 8's blank cell is ' '). */
static const char fig5_ephemeral[] = "-M*-*-**----";
static const char fig6_psk_id[] = "M---MM*-----";
static const char fig7_freshness[] = "-MM--MM-----";
static const char fig8_ctx[] = "MM---MM ----";

/* Figure 2 designations; Figure 3 writes e_c for e_s. */
static uint16_t key_bit(const char *name, size_t len)
{
    static const char *const names[] = {"b", "e_s", "e_x", "h_c", "h_s", "a_c", "a_s", "x", "r"};

    if (len == 3 && strncmp(name, "e_c", 3) == 0)
        return LURK_TLS13_KR_E_S;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0)
            return (uint16_t)(0x8000u >> i);
    ck_abort_msg("unknown key %.*s", (int)len, name);
    return 0;
}

static void parse_keys(const char *s, uint16_t *mandatory, uint16_t *optional)
{
    *mandatory = *optional = 0;
    while (*s) {
        size_t n = strcspn(s, ",*");
        bool opt = s[n] == '*';
        uint16_t bit = key_bit(s, n);
        if (opt)
            *optional |= bit;
        else
            *mandatory |= bit;
        s += n + (opt ? 1 : 0);
        while (*s == ',' || *s == ' ')
            s++;
    }
}

static uint8_t presence(char cell)
{
    return cell == 'M'   ? LURK_TLS13_MANDATORY
           : cell == '*' ? LURK_TLS13_OPTIONAL
                         : LURK_TLS13_FORBIDDEN;
}

START_TEST(tables_match_figures)
{
    ck_assert_uint_eq(sizeof(rows) / sizeof(rows[0]), LURK_TLS13_EXCHANGE_RULES);
    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++) {
        const struct lurk_tls13_exchange_rule *r =
            lurk_tls13_exchange_rule_find(rows[i].type, rows[i].role);
        uint16_t mandatory, optional;

        ck_assert_ptr_nonnull(r);
        ck_assert_ptr_eq(r, &lurk_tls13_exchange_rules[i]);
        parse_keys(rows[i].keys, &mandatory, &optional);
        ck_assert_msg(r->mandatory_keys == mandatory && r->optional_keys == optional,
                      "Figure 3 row %zu", i);
        ck_assert_msg(r->ephemeral == presence(fig5_ephemeral[i]), "Figure 5 row %zu", i);
        ck_assert_msg(r->psk_id == presence(fig6_psk_id[i]), "Figure 6 row %zu", i);
        ck_assert_msg(r->freshness == presence(fig7_freshness[i]), "Figure 7 row %zu", i);
        ck_assert_msg(r->ctx_agreement == presence(fig8_ctx[i]), "Figure 8 row %zu", i);
        /* The payload layouts agree with Figure 8: ContextAgreementRequest in 3, 5, 8 only. */
        ck_assert_int_eq(r->ctx_agreement == LURK_TLS13_MANDATORY,
                         r->type == 3 || r->type == 5 || r->type == 8);
    }
    /* Types without a row, and types of the other role. */
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(0, LURK_TLS13_ROLE_SERVER));
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(1, LURK_TLS13_ROLE_CLIENT));
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(128, LURK_TLS13_ROLE_SERVER));
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(4, LURK_TLS13_ROLE_CLIENT));
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(9, LURK_TLS13_ROLE_SERVER));
    ck_assert_ptr_null(lurk_tls13_exchange_rule_find(3, 2));
}
END_TEST

START_TEST(key_request_check_exhaustive)
{
    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++) {
        uint16_t mandatory, optional;
        parse_keys(rows[i].keys, &mandatory, &optional);
        for (uint32_t kr = 0; kr <= 0xffff; kr++) {
            bool ok =
                (kr & mandatory) == mandatory && (kr & ~(uint32_t)(mandatory | optional)) == 0;
            uint8_t st = lurk_tls13_key_request_check(rows[i].type, rows[i].role, (uint16_t)kr);
            if (st != (ok ? OK : LURK_TLS13_STATUS_INVALID_KEY_REQUEST))
                ck_abort_msg("row %zu key_request %04x: status %u", i, (unsigned)kr, st);
        }
    }
    /* Some readable cases. */
    ck_assert_uint_eq(lurk_tls13_key_request_check(3, LURK_TLS13_ROLE_SERVER, LURK_TLS13_KR_B), OK);
    ck_assert_uint_eq(lurk_tls13_key_request_check(3, LURK_TLS13_ROLE_CLIENT, LURK_TLS13_KR_B),
                      LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(lurk_tls13_key_request_check(3, LURK_TLS13_ROLE_CLIENT, 0), OK);
    ck_assert_uint_eq(lurk_tls13_key_request_check(3, LURK_TLS13_ROLE_SERVER, 0),
                      LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(lurk_tls13_key_request_check(8, LURK_TLS13_ROLE_SERVER, LURK_TLS13_KR_H_C),
                      LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(
        lurk_tls13_key_request_check(5, LURK_TLS13_ROLE_CLIENT,
                                     LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S | LURK_TLS13_KR_A_C),
        LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(lurk_tls13_key_request_check(11, LURK_TLS13_ROLE_SERVER, LURK_TLS13_KR_R | 1),
                      LURK_TLS13_STATUS_INVALID_KEY_REQUEST);
    ck_assert_uint_eq(lurk_tls13_key_request_check(4, LURK_TLS13_ROLE_CLIENT, 0),
                      LURK_TLS13_STATUS_INVALID_REQUEST);
    ck_assert_uint_eq(lurk_tls13_key_request_check(128, LURK_TLS13_ROLE_SERVER, 0),
                      LURK_TLS13_STATUS_INVALID_REQUEST);
    /* The role of each type; early_secret by its b bit. */
    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++)
        if (rows[i].type != 3)
            ck_assert_int_eq(lurk_tls13_exchange_role(rows[i].type, 0), rows[i].role);
    ck_assert_int_eq(lurk_tls13_exchange_role(3, LURK_TLS13_KR_B), LURK_TLS13_ROLE_SERVER);
    ck_assert_int_eq(lurk_tls13_exchange_role(3, LURK_TLS13_KR_B | LURK_TLS13_KR_E_S),
                     LURK_TLS13_ROLE_SERVER);
    ck_assert_int_eq(lurk_tls13_exchange_role(3, LURK_TLS13_KR_E_S), LURK_TLS13_ROLE_CLIENT);
    ck_assert_int_eq(lurk_tls13_exchange_role(3, 0), LURK_TLS13_ROLE_CLIENT);
    ck_assert_int_eq(lurk_tls13_exchange_role(0, 0), -1);
    ck_assert_int_eq(lurk_tls13_exchange_role(1, 0), -1);
    ck_assert_int_eq(lurk_tls13_exchange_role(128, 0), -1);
    ck_assert_int_eq(lurk_tls13_exchange_role(13, 0), -1);
    /* SecretType t is bit t of Figure 2. */
    ck_assert_uint_eq(LURK_TLS13_KR_BIT(LURK_TLS13_SECRET_BINDER_KEY), LURK_TLS13_KR_B);
    ck_assert_uint_eq(LURK_TLS13_KR_BIT(LURK_TLS13_SECRET_EXPORTER_MASTER_SECRET), LURK_TLS13_KR_X);
    ck_assert_uint_eq(LURK_TLS13_KR_BIT(LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET),
                      LURK_TLS13_KR_R);
}
END_TEST

static void set_exts(struct lurk_tls13_extension_list *l, const char *order)
{
    memset(l, 0, sizeof(*l));
    for (; *order; order++)
        l->ext[l->n++].type = (uint8_t)(*order - '0');
}

START_TEST(extensions_check_all_subsets)
{
    /* Every ordered selection of distinct extensions, for every row. */
    static const char *const lists[] = {"",   "1",  "2",   "3",   "12",  "21",  "13",  "31",
                                        "23", "32", "123", "132", "213", "231", "312", "321"};
    struct lurk_tls13_extension_list l;

    for (size_t i = 0; i < LURK_TLS13_EXCHANGE_RULES; i++) {
        const char *cells[] = {NULL, fig6_psk_id, fig5_ephemeral, fig7_freshness};
        for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
            uint8_t want = OK;
            set_exts(&l, lists[k]);
            /* A forbidden one, first in wire order... */
            for (const char *p = lists[k]; *p && want == OK; p++)
                if (cells[*p - '0'][i] != 'M' && cells[*p - '0'][i] != '*')
                    want = *p == '1' ? FMT : LURK_TLS13_STATUS_INVALID_EXTENSION;
            /* ...then a missing mandatory one. */
            for (int t = 1; t <= 3 && want == OK; t++)
                if (cells[t][i] == 'M' && strchr(lists[k], '0' + t) == NULL)
                    want = LURK_TLS13_STATUS_INVALID_EXTENSION;
            ck_assert_msg(lurk_tls13_extensions_check(rows[i].type, rows[i].role, &l) == want,
                          "row %zu extensions \"%s\"", i, lists[k]);
        }
    }
    /* Readable cases from the draft's text. */
    set_exts(&l, "1");
    ck_assert_uint_eq(lurk_tls13_extensions_check(8, LURK_TLS13_ROLE_SERVER, &l), FMT);
    set_exts(&l, "23");
    ck_assert_uint_eq(lurk_tls13_extensions_check(8, LURK_TLS13_ROLE_SERVER, &l), OK);
    set_exts(&l, "3");
    ck_assert_uint_eq(lurk_tls13_extensions_check(8, LURK_TLS13_ROLE_SERVER, &l),
                      LURK_TLS13_STATUS_INVALID_EXTENSION);
    set_exts(&l, "21");
    ck_assert_uint_eq(lurk_tls13_extensions_check(3, LURK_TLS13_ROLE_SERVER, &l),
                      LURK_TLS13_STATUS_INVALID_EXTENSION);
    set_exts(&l, "1");
    ck_assert_uint_eq(lurk_tls13_extensions_check(3, LURK_TLS13_ROLE_SERVER, &l), OK);
    ck_assert_uint_eq(lurk_tls13_extensions_check(3, LURK_TLS13_ROLE_CLIENT, &l),
                      LURK_TLS13_STATUS_INVALID_EXTENSION);
    set_exts(&l, "");
    ck_assert_uint_eq(lurk_tls13_extensions_check(12, LURK_TLS13_ROLE_CLIENT, &l), OK);
    ck_assert_uint_eq(lurk_tls13_extensions_check(12, LURK_TLS13_ROLE_SERVER, &l),
                      LURK_TLS13_STATUS_INVALID_REQUEST);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(lurk_tls13_type_name(LURK_TLS13_TYPE_CERTIFICATE_VERIFY),
                     "certificate_verify");
    ck_assert_str_eq(lurk_tls13_type_name(LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY),
                     "sign_certificate_verify");
    ck_assert_str_eq(lurk_tls13_type_name(13), "unknown");
    ck_assert_str_eq(lurk_tls13_status_name(LURK_TLS13_STATUS_INVALID_PSK), "invalid_psk");
    ck_assert_str_eq(lurk_tls13_status_name(LURK_TLS13_STATUS_INVALID_COOKIE_H),
                     "invalid_cookie_h");
    ck_assert_str_eq(lurk_tls13_status_name(20), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls13_msg");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, roundtrip_every_sample, 0, N_SAMPLES);
    tcase_add_loop_test(tc, truncation_at_every_offset, 0, N_SAMPLES);
    tcase_add_loop_test(tc, trailing_data_refused, 0, N_SAMPLES);
    tcase_add_test(tc, every_type_has_samples);
    tcase_add_test(tc, unknown_types);
    tcase_add_test(tc, fields_init_certificate_verify);
    tcase_add_test(tc, fields_sessions_and_tickets);
    tcase_add_test(tc, fields_certificate_and_project_messages);
    tcase_add_loop_test(tc, malformed_table, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, bounds_tickets);
    tcase_add_test(tc, bounds_secrets_and_vectors);
    tcase_add_test(tc, encoders_refuse);
    tcase_add_test(tc, sub_decoders_leave_the_rest);
    tcase_add_test(tc, handshake_iterator);
    tcase_add_test(tc, certificate_entry_iterator);
    tcase_add_test(tc, tables_match_figures);
    tcase_add_test(tc, key_request_check_exhaustive);
    tcase_add_test(tc, extensions_check_all_subsets);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
