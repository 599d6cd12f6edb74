/*
 * Unit tests of the designation "lurk" payloads (liblurk/lurk_msg.c):
 * capabilities, ping, and the error payload every designation uses
 * (draft-mglt-lurk-lurk §5.4, §6; formats pinned in docs/protocol.md).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/lurk.h"
#include "lurk/names.h"
#include "roundtrip.h"

#define OK       LURK_STATUS_SUCCESS
#define FORMAT   LURK_STATUS_INVALID_FORMAT
#define MISMATCH 0xfe

static size_t unhex(const char *hex, uint8_t *buf, size_t max)
{
    size_t len = 0;

    ck_assert_msg(lurk_hex_decode(hex, buf, max, &len), "bad hex in test: %s", hex);
    return len;
}

/* The oracle on an exact-size heap copy; MISMATCH if the re-encoding differs. */
static uint8_t run(bool error, uint8_t type, bool request, const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    lurk_cbs in;
    lurk_cbb out;
    uint8_t st;

    ck_assert_ptr_nonnull(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    lurk_cbs_init(&in, copy, len);
    ck_assert(lurk_cbb_init(&out, 16, 4096));
    st = error ? lurk_test_roundtrip_error(&in, &out)
               : lurk_test_roundtrip(LURK_DESIGNATION_LURK, type, request, &in, &out);
    if (st == OK && !lurk_cbs_equal(&in, lurk_cbb_data(&out), lurk_cbb_len(&out)))
        st = MISMATCH;
    lurk_cbb_cleanup(&out);
    free(copy);
    return st;
}

/* error = true: an error payload, whatever the type. */
static const struct msg_case {
    const char *name;
    bool error;
    uint8_t type;
    bool request;
    const char *hex;
    uint8_t status;
} cases[] = {
    {"capabilities request", false, LURK_TYPE_CAPABILITIES, true, "", OK},
    {"ping request", false, LURK_TYPE_PING, true, "", OK},
    {"ping response", false, LURK_TYPE_PING, false, "", OK},
    /* pylurk's example: (lurk,1), (tls13,1), state 9af14edf */
    {"capabilities response", false, LURK_TYPE_CAPABILITIES, false, "0004 0001 0201 9af14edf", OK},
    {"capabilities response, one extension", false, LURK_TYPE_CAPABILITIES, false,
     "0002 0101 00000000", OK},
    {"error payload empty", true, 0, false, "", OK},
    {"error payload with state", true, 0, false, "9af14edf", OK},

    {"capabilities request with a byte", false, LURK_TYPE_CAPABILITIES, true, "00", FORMAT},
    {"ping request with a byte", false, LURK_TYPE_PING, true, "00", FORMAT},
    {"ping response with bytes", false, LURK_TYPE_PING, false, "00000000", FORMAT},
    {"capabilities empty", false, LURK_TYPE_CAPABILITIES, false, "", FORMAT},
    {"capabilities empty list", false, LURK_TYPE_CAPABILITIES, false, "0000 9af14edf", FORMAT},
    {"capabilities odd list", false, LURK_TYPE_CAPABILITIES, false, "0003 000102 9af14edf", FORMAT},
    {"capabilities list past the end", false, LURK_TYPE_CAPABILITIES, false, "0006 0001 0201",
     FORMAT},
    {"capabilities no state", false, LURK_TYPE_CAPABILITIES, false, "0002 0001", FORMAT},
    {"capabilities state of 3 bytes", false, LURK_TYPE_CAPABILITIES, false, "0002 0001 9af14e",
     FORMAT},
    {"capabilities trailing byte", false, LURK_TYPE_CAPABILITIES, false, "0002 0001 9af14edf 00",
     FORMAT},
    {"error payload of 1 byte", true, 0, false, "00", FORMAT},
    {"error payload of 3 bytes", true, 0, false, "9af14e", FORMAT},
    {"error payload of 5 bytes", true, 0, false, "9af14edf00", FORMAT},
    {"error payload of 32 bytes (lurk_state<32> read as bytes)", true, 0, false,
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", FORMAT},
};

START_TEST(messages)
{
    const struct msg_case *c = &cases[_i];
    uint8_t buf[256];
    size_t len = unhex(c->hex, buf, sizeof(buf));
    uint8_t got = run(c->error, c->type, c->request, buf, len);

    ck_assert_msg(got == c->status, "%s: status %u, want %u", c->name, got, c->status);
}
END_TEST

/* A capabilities response cut anywhere is invalid_format. */
START_TEST(capabilities_truncation)
{
    uint8_t buf[64];
    size_t len = unhex("0004 0001 0201 9af14edf", buf, sizeof(buf));

    for (size_t cut = 0; cut < len; cut++)
        ck_assert_msg(run(false, LURK_TYPE_CAPABILITIES, false, buf, cut) == FORMAT, "cut at %zu",
                      cut);
}
END_TEST

START_TEST(capabilities_fields)
{
    uint8_t buf[64];
    size_t len = unhex("0004 0001 0201 9af14edf", buf, sizeof(buf));
    struct lurk_capabilities_response r;
    lurk_cbs p;

    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_capabilities_response_decode(&p, &r), OK);
    ck_assert_uint_eq(r.n_extensions, 2);
    ck_assert_uint_eq(r.extensions[0].designation, LURK_DESIGNATION_LURK);
    ck_assert_uint_eq(r.extensions[0].version, 1);
    ck_assert_uint_eq(r.extensions[1].designation, LURK_DESIGNATION_TLS13);
    ck_assert_uint_eq(r.extensions[1].version, 1);
    ck_assert_mem_eq(r.state, "\x9a\xf1\x4e\xdf", LURK_STATE_LEN);
}
END_TEST

/* At most LURK_MAX_EXTENSIONS pairs, both ways. */
START_TEST(capabilities_extension_limit)
{
    uint8_t buf[2 + 2 * (LURK_MAX_EXTENSIONS + 1) + LURK_STATE_LEN] = {0};
    struct lurk_capabilities_response r;
    lurk_cbb b;
    size_t n;

    n = 2 * LURK_MAX_EXTENSIONS;
    buf[1] = (uint8_t)n;
    ck_assert_uint_eq(run(false, LURK_TYPE_CAPABILITIES, false, buf, 2 + n + LURK_STATE_LEN), OK);
    n += 2;
    buf[1] = (uint8_t)n;
    ck_assert_uint_eq(run(false, LURK_TYPE_CAPABILITIES, false, buf, 2 + n + LURK_STATE_LEN),
                      FORMAT);

    memset(&r, 0, sizeof(r));
    ck_assert(lurk_cbb_init(&b, 16, 4096));
    ck_assert(!lurk_capabilities_response_encode(&b, &r)); /* no extension */
    lurk_cbb_cleanup(&b);
    r.n_extensions = LURK_MAX_EXTENSIONS + 1;
    ck_assert(lurk_cbb_init(&b, 16, 4096));
    ck_assert(!lurk_capabilities_response_encode(&b, &r));
    lurk_cbb_cleanup(&b);
}
END_TEST

START_TEST(error_payload_fields)
{
    static const uint8_t state[] = {0x9a, 0xf1, 0x4e, 0xdf};
    struct lurk_error_payload e;
    uint8_t out[8];
    lurk_cbs p;
    lurk_cbb b;

    lurk_cbs_init(&p, state, sizeof(state));
    ck_assert_uint_eq(lurk_error_payload_decode(&p, &e), OK);
    ck_assert(e.has_state);
    ck_assert_mem_eq(e.state, state, sizeof(state));

    lurk_cbs_init(&p, NULL, 0);
    ck_assert_uint_eq(lurk_error_payload_decode(&p, &e), OK);
    ck_assert(!e.has_state);
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(lurk_error_payload_encode(&b, &e));
    ck_assert_uint_eq(lurk_cbb_len(&b), 0);
}
END_TEST

START_TEST(empty_payload)
{
    static const uint8_t one[] = {0};
    lurk_cbs p;

    lurk_cbs_init(&p, NULL, 0);
    ck_assert_uint_eq(lurk_empty_payload_decode(&p), OK);
    lurk_cbs_init(&p, one, sizeof(one));
    ck_assert_uint_eq(lurk_empty_payload_decode(&p), FORMAT);
}
END_TEST

START_TEST(oracle_unknown)
{
    lurk_cbs p;
    lurk_cbb b;

    lurk_cbs_init(&p, NULL, 0);
    ck_assert(lurk_cbb_init(&b, 16, 64));
    ck_assert_uint_eq(lurk_test_roundtrip_lurk(2, true, &p, &b), LURK_TEST_UNKNOWN_MESSAGE);
    ck_assert_uint_eq(lurk_test_roundtrip(9, 0, true, &p, &b), LURK_TEST_UNKNOWN_MESSAGE);
    ck_assert_uint_eq(lurk_test_roundtrip(200, 0, false, &p, &b), LURK_TEST_UNKNOWN_MESSAGE);
    lurk_cbb_cleanup(&b);
}
END_TEST

START_TEST(names)
{
    static const char *const status[] = {
        "request",           "success",      "undefined_error", "invalid_format",
        "invalid_extension", "invalid_type", "invalid_status",  "temporary_failure",
    };

    for (int i = 0; i < 8; i++)
        ck_assert_str_eq(lurk_lurk_status_name((uint8_t)i), status[i]);
    ck_assert_str_eq(lurk_lurk_status_name(8), "unknown");
    ck_assert_str_eq(lurk_lurk_type_name(LURK_TYPE_CAPABILITIES), "capabilities");
    ck_assert_str_eq(lurk_lurk_type_name(LURK_TYPE_PING), "ping");
    ck_assert_str_eq(lurk_lurk_type_name(2), "unknown");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("lurk_msg");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, messages, 0, N(cases));
    tcase_add_test(tc, capabilities_truncation);
    tcase_add_test(tc, capabilities_fields);
    tcase_add_test(tc, capabilities_extension_limit);
    tcase_add_test(tc, error_payload_fields);
    tcase_add_test(tc, empty_payload);
    tcase_add_test(tc, oracle_unknown);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
