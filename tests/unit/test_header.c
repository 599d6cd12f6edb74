/*
 * Unit tests of the LURK header and framing (liblurk/header.c):
 * draft-mglt-lurk-lurk §5.1, length = header + payload (pinned).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"
#include "lurk/names.h"

/* A tls12 ecdhe request header: id 0x0102030405060708, length 0x00000020. */
static const uint8_t hdr_bytes[LURK_HEADER_LEN] = {0x01, 0x01, 0x06, 0x00, 0x01, 0x02, 0x03, 0x04,
                                                   0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x20};
static const struct lurk_header hdr_struct = {
    .designation = LURK_DESIGNATION_TLS12,
    .version = LURK_VERSION,
    .type = LURK_TLS12_TYPE_ECDHE,
    .status = LURK_STATUS_REQUEST,
    .id = 0x0102030405060708ULL,
    .length = 0x20,
};

START_TEST(parse_fields)
{
    struct lurk_header h;
    lurk_cbs c;

    lurk_cbs_init(&c, hdr_bytes, sizeof(hdr_bytes));
    ck_assert(lurk_header_parse(&c, &h));
    ck_assert_uint_eq(lurk_cbs_len(&c), 0);
    ck_assert_uint_eq(h.designation, hdr_struct.designation);
    ck_assert_uint_eq(h.version, hdr_struct.version);
    ck_assert_uint_eq(h.type, hdr_struct.type);
    ck_assert_uint_eq(h.status, hdr_struct.status);
    ck_assert_uint_eq(h.id, hdr_struct.id);
    ck_assert_uint_eq(h.length, hdr_struct.length);
}
END_TEST

/* Every byte is big-endian and in place: vary one byte at a time. */
START_TEST(parse_big_endian)
{
    uint8_t b[LURK_HEADER_LEN] = {0};
    struct lurk_header h;
    lurk_cbs c;

    b[4] = 0x80;  /* top byte of id */
    b[11] = 0x01; /* bottom byte of id */
    b[12] = 0xff; /* top byte of length */
    b[15] = 0x10;
    lurk_cbs_init(&c, b, sizeof(b));
    ck_assert(lurk_header_parse(&c, &h));
    ck_assert_uint_eq(h.id, 0x8000000000000001ULL);
    ck_assert_uint_eq(h.length, 0xff000010U);
}
END_TEST

START_TEST(parse_short)
{
    struct lurk_header h;
    lurk_cbs c;

    for (size_t n = 0; n < LURK_HEADER_LEN; n++) {
        uint8_t *copy = malloc(n == 0 ? 1 : n);
        memcpy(copy, hdr_bytes, n);
        lurk_cbs_init(&c, copy, n);
        ck_assert_msg(!lurk_header_parse(&c, &h), "parsed %zu bytes", n);
        free(copy);
    }
}
END_TEST

START_TEST(write_and_limits)
{
    uint8_t out[LURK_HEADER_LEN + 1];
    lurk_cbb b;

    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(lurk_header_write(&b, &hdr_struct));
    ck_assert_uint_eq(lurk_cbb_len(&b), LURK_HEADER_LEN);
    ck_assert_mem_eq(out, hdr_bytes, LURK_HEADER_LEN);

    /* One byte short of room: the builder fails. */
    lurk_cbb_init_fixed(&b, out, LURK_HEADER_LEN - 1);
    ck_assert(!lurk_header_write(&b, &hdr_struct));
    ck_assert(!lurk_cbb_ok(&b));
}
END_TEST

static const struct frame_case {
    uint32_t length;
    size_t max;
    enum lurk_frame_verdict want;
} frame_cases[] = {
    {0, 1024, LURK_FRAME_TOO_SHORT},
    {15, 1024, LURK_FRAME_TOO_SHORT},
    {16, 1024, LURK_FRAME_OK},
    {1024, 1024, LURK_FRAME_OK},
    {1025, 1024, LURK_FRAME_TOO_LONG},
    {0xffffffffU, 1024, LURK_FRAME_TOO_LONG},
    {16, 16, LURK_FRAME_OK},
    /* Too short wins: such a stream cannot be resynchronised whatever the maximum. */
    {15, 8, LURK_FRAME_TOO_SHORT},
};

START_TEST(frame_check)
{
    const struct frame_case *c = &frame_cases[_i];
    struct lurk_header h = hdr_struct;

    h.length = c->length;
    ck_assert_int_eq(lurk_frame_check(&h, c->max), c->want);
}
END_TEST

START_TEST(message_parse_exact)
{
    uint8_t buf[LURK_HEADER_LEN + 16];
    struct lurk_message m;

    memcpy(buf, hdr_bytes, LURK_HEADER_LEN);
    for (int i = 0; i < 16; i++)
        buf[LURK_HEADER_LEN + i] = (uint8_t)(0xa0 + i);
    ck_assert(lurk_message_parse(buf, sizeof(buf), &m));
    ck_assert_uint_eq(m.hdr.length, sizeof(buf));
    ck_assert_uint_eq(m.hdr.type, LURK_TLS12_TYPE_ECDHE);
    ck_assert_ptr_eq(lurk_cbs_data(&m.payload), buf + LURK_HEADER_LEN);
    ck_assert_uint_eq(lurk_cbs_len(&m.payload), 16);

    /* A buffer longer or shorter than the length field is not one message. */
    ck_assert(!lurk_message_parse(buf, sizeof(buf) - 1, &m));
    buf[15] = 0x1f;
    ck_assert(!lurk_message_parse(buf, sizeof(buf), &m));
    buf[15] = 0x21;
    ck_assert(!lurk_message_parse(buf, sizeof(buf), &m));
    /* An empty payload: length 16. */
    buf[15] = 0x10;
    ck_assert(lurk_message_parse(buf, LURK_HEADER_LEN, &m));
    ck_assert_uint_eq(lurk_cbs_len(&m.payload), 0);
    /* A length below 16 never matches a buffer that holds a header. */
    buf[15] = 0x0f;
    ck_assert(!lurk_message_parse(buf, LURK_HEADER_LEN, &m));
    ck_assert(!lurk_message_parse(buf, 15, &m));
    ck_assert(!lurk_message_parse(NULL, 0, &m));
}
END_TEST

START_TEST(message_begin_end)
{
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    struct lurk_header h = hdr_struct;
    struct lurk_message m;
    size_t start1, start2;
    lurk_cbb b;

    h.length = 0xdeadbeef; /* ignored: end computes it */
    ck_assert(lurk_cbb_init(&b, 8, 4096));
    ck_assert(lurk_message_begin(&b, &start1, &h));
    ck_assert_uint_eq(start1, 0);
    ck_assert(lurk_cbb_add_bytes(&b, payload, sizeof(payload)));
    ck_assert(lurk_message_end(&b, start1));
    /* A second message in the same builder: its length counts only itself. */
    h.status = LURK_STATUS_SUCCESS;
    ck_assert(lurk_message_begin(&b, &start2, &h));
    ck_assert_uint_eq(start2, LURK_HEADER_LEN + sizeof(payload));
    ck_assert(lurk_message_end(&b, start2));

    ck_assert_uint_eq(lurk_cbb_len(&b), 2 * LURK_HEADER_LEN + sizeof(payload));
    ck_assert(lurk_message_parse(lurk_cbb_data(&b), start2, &m));
    ck_assert_uint_eq(m.hdr.length, LURK_HEADER_LEN + sizeof(payload));
    ck_assert_uint_eq(m.hdr.id, hdr_struct.id);
    ck_assert(lurk_cbs_equal(&m.payload, payload, sizeof(payload)));
    ck_assert(lurk_message_parse(lurk_cbb_data(&b) + start2, LURK_HEADER_LEN, &m));
    ck_assert_uint_eq(m.hdr.status, LURK_STATUS_SUCCESS);
    ck_assert_uint_eq(m.hdr.length, LURK_HEADER_LEN);
    lurk_cbb_cleanup(&b);

    /* end on a failed builder fails. */
    uint8_t small[LURK_HEADER_LEN + 2];
    lurk_cbb_init_fixed(&b, small, sizeof(small));
    ck_assert(lurk_message_begin(&b, &start1, &h));
    ck_assert(!lurk_cbb_add_bytes(&b, payload, sizeof(payload)));
    ck_assert(!lurk_message_end(&b, start1));
}
END_TEST

static const struct name_case {
    uint8_t designation;
    uint8_t type;
    uint8_t status;
    const char *designation_name;
    const char *type_name;
    const char *status_name;
} name_cases[] = {
    {LURK_DESIGNATION_LURK, LURK_TYPE_CAPABILITIES, LURK_STATUS_TEMPORARY_FAILURE, "lurk",
     "capabilities", "temporary_failure"},
    {LURK_DESIGNATION_LURK, LURK_TYPE_PING, LURK_STATUS_INVALID_EXTENSION, "lurk", "ping",
     "invalid_extension"},
    {LURK_DESIGNATION_LURK, 2, 8, "lurk", "unknown", "unknown"},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_MASTER, LURK_TLS12_STATUS_INVALID_FINISHED,
     "tls12", "rsa_master", "invalid_finished"},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER, LURK_STATUS_SUCCESS, "tls12",
     "rsa_premaster", "success"},
    {LURK_DESIGNATION_TLS12, 127, 200, "tls12", "unknown", "unknown"},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, LURK_STATUS_REQUEST, "tls13",
     "sign_certificate_verify", "request"},
    {3, 0, 0, "unknown", "unknown", "unknown"},
    {255, 255, 255, "unknown", "unknown", "unknown"},
};

START_TEST(names)
{
    const struct name_case *c = &name_cases[_i];

    ck_assert_str_eq(lurk_designation_name(c->designation), c->designation_name);
    ck_assert_str_eq(lurk_type_name(c->designation, c->type), c->type_name);
    ck_assert_str_eq(lurk_status_name(c->designation, c->status), c->status_name);
}
END_TEST

/* Names are never NULL, whatever a peer sends. */
START_TEST(names_never_null)
{
    for (int d = 0; d < 256; d++)
        for (int v = 0; v < 256; v++) {
            ck_assert_ptr_nonnull(lurk_type_name((uint8_t)d, (uint8_t)v));
            ck_assert_ptr_nonnull(lurk_status_name((uint8_t)d, (uint8_t)v));
        }
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("header");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, parse_fields);
    tcase_add_test(tc, parse_big_endian);
    tcase_add_test(tc, parse_short);
    tcase_add_test(tc, write_and_limits);
    tcase_add_loop_test(tc, frame_check, 0, N(frame_cases));
    tcase_add_test(tc, message_parse_exact);
    tcase_add_test(tc, message_begin_end);
    tcase_add_loop_test(tc, names, 0, N(name_cases));
    tcase_add_test(tc, names_never_null);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
