/* Unit tests of the bounded reader/writer (liblurk/bytes.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/bytes.h"

START_TEST(reader_integers_and_bounds)
{
    static const uint8_t buf[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    lurk_cbs cbs;
    uint8_t u8;
    uint16_t u16;
    uint32_t u24, u32;
    uint64_t u64;

    lurk_cbs_init(&cbs, buf, sizeof(buf));
    ck_assert(lurk_cbs_get_u8(&cbs, &u8) && u8 == 1);
    ck_assert(lurk_cbs_get_u16(&cbs, &u16) && u16 == 0x0203);
    ck_assert(lurk_cbs_get_u24(&cbs, &u24) && u24 == 0x040506);
    ck_assert(lurk_cbs_get_u32(&cbs, &u32) && u32 == 0x0708090a);
    ck_assert(lurk_cbs_get_u64(&cbs, &u64) && u64 == 0x0b0c0d0e0f101112ULL);
    ck_assert_uint_eq(lurk_cbs_len(&cbs), 0);
    ck_assert(!lurk_cbs_get_u8(&cbs, &u8));
    ck_assert(!lurk_cbs_skip(&cbs, 1));

    /* A failed read consumes nothing. */
    lurk_cbs_init(&cbs, buf, 3);
    ck_assert(!lurk_cbs_get_u32(&cbs, &u32));
    ck_assert_uint_eq(lurk_cbs_len(&cbs), 3);
}
END_TEST

START_TEST(reader_prefixed)
{
    static const uint8_t ok[] = {0x00, 0x02, 0xaa, 0xbb, 0x01};
    static const uint8_t overrun[] = {0x00, 0x05, 0xaa};
    lurk_cbs cbs, sub;

    lurk_cbs_init(&cbs, ok, sizeof(ok));
    ck_assert(lurk_cbs_get_u16_prefixed(&cbs, &sub));
    ck_assert_uint_eq(lurk_cbs_len(&sub), 2);
    ck_assert_uint_eq(lurk_cbs_data(&sub)[1], 0xbb);
    ck_assert_uint_eq(lurk_cbs_len(&cbs), 1);

    lurk_cbs_init(&cbs, overrun, sizeof(overrun));
    ck_assert(!lurk_cbs_get_u16_prefixed(&cbs, &sub));
    ck_assert_uint_eq(lurk_cbs_len(&cbs), sizeof(overrun));
    ck_assert(!lurk_cbs_get_u32_prefixed(&cbs, &sub));
}
END_TEST

START_TEST(reader_asn1)
{
    /* SEQUENCE { INTEGER 1, OCTET STRING (130 bytes, long form) } */
    uint8_t buf[4 + 3 + 3 + 130];
    size_t n = 0;
    lurk_cbs cbs, seq, v;

    buf[n++] = 0x30;
    buf[n++] = 0x81;
    buf[n++] = 3 + 3 + 130;
    buf[n++] = 0x02;
    buf[n++] = 0x01;
    buf[n++] = 0x01;
    buf[n++] = 0x04;
    buf[n++] = 0x81;
    buf[n++] = 130;
    memset(buf + n, 0x5a, 130);
    n += 130;

    lurk_cbs_init(&cbs, buf, n);
    ck_assert(lurk_cbs_get_asn1(&cbs, &seq, LURK_ASN1_SEQUENCE));
    ck_assert_uint_eq(lurk_cbs_len(&cbs), 0);
    ck_assert(lurk_cbs_get_asn1(&seq, &v, LURK_ASN1_INTEGER) && lurk_cbs_len(&v) == 1);
    ck_assert(!lurk_cbs_get_asn1(&seq, &v, LURK_ASN1_INTEGER));
    ck_assert(lurk_cbs_get_asn1(&seq, &v, LURK_ASN1_OCTET_STRING) && lurk_cbs_len(&v) == 130);

    /* Non-minimal long form of a short length is rejected. */
    static const uint8_t nonminimal[] = {0x04, 0x81, 0x01, 0x00};
    lurk_cbs_init(&cbs, nonminimal, sizeof(nonminimal));
    ck_assert(!lurk_cbs_get_asn1(&cbs, &v, LURK_ASN1_OCTET_STRING));
    /* Indefinite length is rejected. */
    static const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
    lurk_cbs_init(&cbs, indefinite, sizeof(indefinite));
    ck_assert(!lurk_cbs_get_asn1(&cbs, &v, LURK_ASN1_SEQUENCE));
    /* A length past the end is rejected at every truncation. */
    for (size_t len = 0; len < n; len++) {
        lurk_cbs_init(&cbs, buf, len);
        ck_assert(!lurk_cbs_get_asn1(&cbs, &v, LURK_ASN1_SEQUENCE));
    }
}
END_TEST

START_TEST(writer_prefixes_and_limits)
{
    lurk_cbb cbb;
    lurk_cbb_mark m, inner;

    ck_assert(lurk_cbb_init(&cbb, 4, 64));
    ck_assert(lurk_cbb_begin(&cbb, &m, 2));
    ck_assert(lurk_cbb_begin(&cbb, &inner, 1));
    ck_assert(lurk_cbb_add_u16(&cbb, 0xbeef));
    ck_assert(lurk_cbb_end(&cbb, &inner));
    ck_assert(lurk_cbb_add_u24(&cbb, 0x010203));
    ck_assert(lurk_cbb_end(&cbb, &m));
    static const uint8_t want[] = {0x00, 0x06, 0x02, 0xbe, 0xef, 0x01, 0x02, 0x03};
    ck_assert_uint_eq(lurk_cbb_len(&cbb), sizeof(want));
    ck_assert_mem_eq(lurk_cbb_data(&cbb), want, sizeof(want));

    /* The maximum is a hard limit and the failure is sticky. */
    uint8_t big[64] = {0};
    ck_assert(!lurk_cbb_add_bytes(&cbb, big, sizeof(big)));
    ck_assert(!lurk_cbb_ok(&cbb));
    ck_assert(!lurk_cbb_add_u8(&cbb, 1));
    lurk_cbb_cleanup(&cbb);

    /* A body longer than its prefix can express fails. */
    ck_assert(lurk_cbb_init(&cbb, 16, 1024));
    ck_assert(lurk_cbb_begin(&cbb, &m, 1));
    uint8_t body[256] = {0};
    ck_assert(lurk_cbb_add_bytes(&cbb, body, sizeof(body)));
    ck_assert(!lurk_cbb_end(&cbb, &m));
    lurk_cbb_cleanup(&cbb);

    /* Fixed buffers never grow. */
    uint8_t fixed[3];
    lurk_cbb_init_fixed(&cbb, fixed, sizeof(fixed));
    ck_assert(lurk_cbb_add_u16(&cbb, 1));
    ck_assert(!lurk_cbb_add_u16(&cbb, 2));
}
END_TEST

START_TEST(writer_asn1_long_form)
{
    lurk_cbb cbb;
    lurk_cbb_mark m;
    lurk_cbs cbs, v;
    uint8_t content[300];

    memset(content, 7, sizeof(content));
    ck_assert(lurk_cbb_init(&cbb, 8, 4096));
    ck_assert(lurk_cbb_begin_asn1(&cbb, &m, LURK_ASN1_OCTET_STRING));
    ck_assert(lurk_cbb_add_bytes(&cbb, content, sizeof(content)));
    ck_assert(lurk_cbb_end_asn1(&cbb, &m));
    ck_assert_uint_eq(lurk_cbb_len(&cbb), 4 + sizeof(content));
    lurk_cbs_init(&cbs, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb));
    ck_assert(lurk_cbs_get_asn1(&cbs, &v, LURK_ASN1_OCTET_STRING));
    ck_assert(lurk_cbs_equal(&v, content, sizeof(content)));
    lurk_cbb_cleanup(&cbb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bytes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reader_integers_and_bounds);
    tcase_add_test(tc, reader_prefixed);
    tcase_add_test(tc, reader_asn1);
    tcase_add_test(tc, writer_prefixes_and_limits);
    tcase_add_test(tc, writer_asn1_long_form);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
