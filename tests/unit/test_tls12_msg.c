/*
 * Unit tests of the tls12 payload codecs (liblurk/tls12_msg.c) and of the
 * tls12 half of the round-trip oracle (tests/support/roundtrip_tls12.c).
 *
 * Messages are written out in hex, field by field, in the layouts of
 * docs/protocol.md "Designation tls12", so the decoders are checked against
 * the document and not only against the encoders. Every decode runs on an
 * exact-size heap copy so that ASan sees any read past the end.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/tls12.h"
#include "roundtrip.h"

#define FORMAT    LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT
#define OK        LURK_STATUS_SUCCESS
#define NEVER     SIZE_MAX       /* no truncation of the message decodes */
#define NO_TRUNC  (SIZE_MAX - 1) /* truncations that decode are not a simple bound */
#define MAX_BYTES (70 * 1024)

/* Field values, in hex, used to build the messages below. */
#define KEY_ID   "00 a1b2c3d4"
#define CR       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SR       "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f"
#define B16      "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
#define B32      B16 "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define MASTER   B32 B16
#define FIN      "f0f1f2f3f4f5f6f7f8f9fafb"
#define EPMS     "5a5b5c5d5e5f6061"
#define X25519   "03 001d 20" B32         /* ServerECDHParams, x25519 */
#define P256     "03 0017 41 04" B32 B32  /* ServerECDHParams, secp256r1 uncompressed */
#define VG33     "21 02" B32              /* ECPoint vG, compressed */
#define RSA_HEAD KEY_ID "00 00" CR SR     /* rsa_master up to the premaster */
#define EC_HEAD  KEY_ID "ff" CR SR "0401" /* ecdhe up to the params */
/* A capabilities record of type 2 (21 bytes after the length) and of type 6 (27). */
#define CAP_RSA "00000015 02 01 00 000007 00 000003 aabbcc 02 00ff 02 002f 01 00"
#define CAP_ECDHE                                                                                  \
    "0000001b 06 01 00 000000 01 ff 02 c02b 04 0403 0804 02 0017 04 001d 0017 02 00 01"
#define CAP_EMPTY "00000008 80 00 000000 00 00 00" /* type 128, every list empty */
#define STATE     "01020304"

static size_t unhex(const char *hex, uint8_t *buf, size_t max)
{
    size_t len = 0;

    ck_assert_msg(lurk_hex_decode(hex, buf, max, &len), "bad hex in test: %s", hex);
    return len;
}

/*
 * Runs the oracle on an exact-size heap copy of the first len bytes of buf.
 * On success the re-encoding must equal the input, else MISMATCH.
 */
#define MISMATCH 0xfe

static uint8_t run(uint8_t type, bool request, const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    lurk_cbs in;
    lurk_cbb out;
    uint8_t st;

    ck_assert_ptr_nonnull(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    lurk_cbs_init(&in, copy, len);
    ck_assert(lurk_cbb_init(&out, 64, MAX_BYTES));
    st = lurk_test_roundtrip_tls12(type, request, &in, &out);
    if (st == OK && !lurk_cbs_equal(&in, lurk_cbb_data(&out), lurk_cbb_len(&out)))
        st = MISMATCH;
    lurk_cbb_cleanup(&out);
    free(copy);
    return st;
}

/* Every message kind, valid; min_ok is the shortest truncation that still decodes. */
static const struct valid_case {
    const char *name;
    uint8_t type;
    bool request;
    const char *hex;
    size_t min_ok;
} valid_cases[] = {
    {"capabilities request", 0, true, "", NEVER},
    {"ping request", 1, true, "", NEVER},
    {"ping response", 1, false, "", NEVER},
    {"rsa_master sha256/sha256", 2, true, RSA_HEAD EPMS, 72},
    {"rsa_master null/sha384", 2, true, KEY_ID "ff 01" CR SR EPMS, 72},
    {"rsa_master sha512, 1-byte premaster", 2, true, KEY_ID "00 02" CR SR "00", 72},
    {"rsa_master_with_poh", 3, true, KEY_ID "00 0004 0e000000" FIN, NEVER},
    {"rsa_extended_master", 4, true, KEY_ID "ff 0002 abcd", NEVER},
    {"rsa_extended_master_with_poh", 5, true, KEY_ID "00 0006 0e0000000102" FIN, NEVER},
    {"rsa_master response", 2, false, MASTER, NEVER},
    {"rsa_master_with_poh response", 3, false, MASTER, NEVER},
    {"rsa_extended_master response", 4, false, MASTER, NEVER},
    {"rsa_extended_master_with_poh response", 5, false, MASTER, NEVER},
    {"ecdhe x25519, poo null", 6, true, EC_HEAD X25519 "00", NEVER},
    {"ecdhe p256, poo sha256_128", 6, true, EC_HEAD P256 "01" VG33 B32, 177},
    {"ecdhe p256, poo sha256_256", 6, true, EC_HEAD P256 "02" VG33 B32, 177},
    {"ecdhe, poo sha256_256 with a 48-byte r", 6, true, EC_HEAD P256 "02" VG33 B32 B16, 177},
    {"ecdhe unknown curve and sig_and_hash", 6, true, KEY_ID "00" CR SR "ffff 03 ffff 01 00 00",
     NEVER},
    {"ecdhe response", 6, false, "0004 deadbeef", NEVER},
    {"ecdhe response, empty signature", 6, false, "0000", NEVER},
    {"rsa_premaster", 128, true, KEY_ID "0303 0008" EPMS, NEVER},
    {"rsa_premaster response", 128, false, MASTER, NEVER},
    {"capabilities, one rsa record", 0, false, CAP_RSA STATE, NEVER},
    {"capabilities, one ecdhe record", 0, false, CAP_ECDHE STATE, NEVER},
    {"capabilities, three records", 0, false, CAP_RSA CAP_ECDHE CAP_EMPTY STATE, NO_TRUNC},
};

START_TEST(valid_roundtrip)
{
    const struct valid_case *c = &valid_cases[_i];
    static uint8_t buf[MAX_BYTES];
    size_t len = unhex(c->hex, buf, sizeof(buf));

    ck_assert_msg(run(c->type, c->request, buf, len) == OK, "%s", c->name);
}
END_TEST

/* Cutting a valid message anywhere gives invalid_payload_format (or a shorter valid one). */
START_TEST(truncation_at_every_offset)
{
    const struct valid_case *c = &valid_cases[_i];
    static uint8_t buf[MAX_BYTES];
    size_t len = unhex(c->hex, buf, sizeof(buf));

    if (c->min_ok == NO_TRUNC)
        return;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t want = cut >= c->min_ok ? OK : FORMAT;
        uint8_t got = run(c->type, c->request, buf, cut);
        ck_assert_msg(got == want, "%s cut at %zu: status %u, want %u", c->name, cut, got, want);
    }
}
END_TEST

/* One trailing byte after a complete message. */
START_TEST(trailing_byte)
{
    const struct valid_case *c = &valid_cases[_i];
    static uint8_t buf[MAX_BYTES];
    size_t len = unhex(c->hex, buf, sizeof(buf));
    uint8_t got;

    buf[len] = 0x00;
    got = run(c->type, c->request, buf, len + 1);
    if (c->min_ok != NEVER && c->min_ok != NO_TRUNC) {
        /* The last field is the rest of the payload (premaster, r): it just gets longer. */
        ck_assert_msg(got == OK, "%s + 1 byte: status %u", c->name, got);
        return;
    }
    ck_assert_msg(got == FORMAT, "%s + 1 byte: status %u", c->name, got);
}
END_TEST

/* Malformed messages and the status each one must get (first problem in wire order). */
static const struct bad_case {
    const char *name;
    uint8_t type;
    bool request;
    const char *hex;
    uint8_t status;
} bad_cases[] = {
    /* empty payloads */
    {"ping request with a byte", 1, true, "00", FORMAT},
    {"capabilities request with a byte", 0, true, "00", FORMAT},
    {"ping response with a byte", 1, false, "00", FORMAT},
    /* rsa_master */
    {"rsa_master key id type 1", 2, true, "01 a1b2c3d4 00 00" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"rsa_master key id type 1, then nothing", 2, true, "01",
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"rsa_master key id type 255, bad freshness", 2, true, "ff a1b2c3d4 07 00" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"rsa_master freshness 1", 2, true, KEY_ID "01 00" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"rsa_master freshness 254", 2, true, KEY_ID "fe 00" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"rsa_master freshness 1, prf_hash 9", 2, true, KEY_ID "01 09" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"rsa_master freshness 1, truncated after it", 2, true, KEY_ID "01",
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"rsa_master prf_hash 3", 2, true, KEY_ID "00 03" CR SR EPMS,
     LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH},
    {"rsa_master prf_hash 255, truncated after it", 2, true, KEY_ID "00 ff",
     LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH},
    {"rsa_master no premaster", 2, true, RSA_HEAD, FORMAT},
    /* handshake types */
    {"poh key id type 1", 3, true, "01 a1b2c3d4 00 0002 abcd" FIN,
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"poh freshness 2", 3, true, KEY_ID "02 0002 abcd" FIN,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"extended freshness 100", 4, true, KEY_ID "64 0002 abcd",
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"extended handshake_messages empty", 4, true, KEY_ID "00 0000", FORMAT},
    {"extended handshake_messages of 1 byte", 4, true, KEY_ID "00 0001 ab", FORMAT},
    {"extended prefix too long", 4, true, KEY_ID "00 0003 abcd", FORMAT},
    {"extended prefix too short", 4, true, KEY_ID "00 0002 abcdef", FORMAT},
    {"extended with a Finished", 4, true, KEY_ID "00 0002 abcd" FIN, FORMAT},
    {"poh without Finished", 3, true, KEY_ID "00 0002 abcd", FORMAT},
    {"poh Finished of 11 bytes", 3, true, KEY_ID "00 0002 abcd f0f1f2f3f4f5f6f7f8f9fa", FORMAT},
    {"poh Finished of 13 bytes", 3, true, KEY_ID "00 0002 abcd" FIN "fc", FORMAT},
    {"poh prefix too short (Finished misplaced)", 5, true, KEY_ID "00 0002 abcdef" FIN, FORMAT},
    {"poh prefix too long (eats the Finished)", 5, true, KEY_ID "00 000e abcd" FIN, FORMAT},
    /* master / premaster responses */
    {"master response of 47 bytes", 2, false, B32 "a0a1a2a3a4a5a6a7a8a9aaabacadae", FORMAT},
    {"master response empty", 4, false, "", FORMAT},
    {"premaster response of 49 bytes", 128, false, MASTER "00", FORMAT},
    {"premaster response empty", 128, false, "", FORMAT},
    /* ecdhe request */
    {"ecdhe key id type 2", 6, true, "02 a1b2c3d4 00" CR SR "0401" X25519 "00",
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"ecdhe freshness 3, bad curve type", 6, true, KEY_ID "03" CR SR "0401 01 001d 20" B32 "00",
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT},
    {"ecdhe curve_type explicit_prime(1)", 6, true, EC_HEAD "01 001d 20" B32 "00",
     LURK_TLS12_STATUS_INVALID_EC_TYPE},
    {"ecdhe curve_type explicit_char2(2)", 6, true, EC_HEAD "02 001d 20" B32 "00",
     LURK_TLS12_STATUS_INVALID_EC_TYPE},
    {"ecdhe curve_type 0, truncated after it", 6, true, EC_HEAD "00",
     LURK_TLS12_STATUS_INVALID_EC_TYPE},
    {"ecdhe bad curve type and bad poo_prf", 6, true, EC_HEAD "01 001d 20" B32 "07",
     LURK_TLS12_STATUS_INVALID_EC_TYPE},
    {"ecdhe empty point", 6, true, EC_HEAD "03 001d 00 00", FORMAT},
    {"ecdhe point length too long", 6, true, EC_HEAD "03 001d 21" B32 "00", FORMAT},
    {"ecdhe point length too short", 6, true, EC_HEAD "03 001d 01 00 00 00", FORMAT},
    {"ecdhe point length too short, poo_prf read from the point", 6, true, EC_HEAD "03 001d 1f" B32,
     LURK_TLS12_STATUS_INVALID_POO_PRF},
    {"ecdhe poo_prf 3", 6, true, EC_HEAD X25519 "03", LURK_TLS12_STATUS_INVALID_POO_PRF},
    {"ecdhe poo_prf 255 with data", 6, true, EC_HEAD X25519 "ff" VG33 B16,
     LURK_TLS12_STATUS_INVALID_POO_PRF},
    {"ecdhe no poo_prf", 6, true, EC_HEAD X25519, FORMAT},
    {"ecdhe null poo followed by data", 6, true, EC_HEAD X25519 "00" VG33, FORMAT},
    {"ecdhe sha256_128 without r", 6, true, EC_HEAD X25519 "01" VG33, FORMAT},
    {"ecdhe sha256_256 without r", 6, true, EC_HEAD X25519 "02" VG33, FORMAT},
    {"ecdhe sha256_128 empty vG", 6, true, EC_HEAD X25519 "01 00" B16, FORMAT},
    {"ecdhe sha256_128 no vG", 6, true, EC_HEAD X25519 "01", FORMAT},
    {"ecdhe sha256_256 vG overruns", 6, true, EC_HEAD X25519 "02 ff" B32, FORMAT},
    /* ecdhe response */
    {"ecdhe response empty", 6, false, "", FORMAT},
    {"ecdhe response prefix too long", 6, false, "0005 deadbeef", FORMAT},
    {"ecdhe response prefix too short", 6, false, "0003 deadbeef", FORMAT},
    {"ecdhe response 1-byte prefix", 6, false, "04", FORMAT},
    /* rsa_premaster */
    {"rsa_premaster key id type 1", 128, true, "01 a1b2c3d4 0303 0001 00",
     LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE},
    {"rsa_premaster empty premaster", 128, true, KEY_ID "0303 0000", FORMAT},
    {"rsa_premaster prefix too long", 128, true, KEY_ID "0303 0009" EPMS, FORMAT},
    {"rsa_premaster prefix too short", 128, true, KEY_ID "0303 0007" EPMS, FORMAT},
    {"rsa_premaster no client_version", 128, true, KEY_ID, FORMAT},
    /* capabilities response */
    {"capabilities state only", 0, false, STATE, FORMAT},
    {"capabilities no state", 0, false, CAP_RSA, FORMAT},
    {"capabilities state of 3 bytes", 0, false, CAP_RSA "010203", FORMAT},
    {"capabilities state of 5 bytes", 0, false, CAP_RSA "0102030405", FORMAT},
    {"capabilities empty", 0, false, "", FORMAT},
    {"capabilities record length 0", 0, false, "00000000" STATE, FORMAT},
    {"capabilities record of type ping", 0, false, "00000008 01 00 000000 00 00 00" STATE, FORMAT},
    {"capabilities record of type 7", 0, false, "00000008 07 00 000000 00 00 00" STATE, FORMAT},
    {"capabilities record of type 130", 0, false, "00000008 82 00 000000 00 00 00" STATE, FORMAT},
    {"capabilities record length one short", 0, false, "00000007 80 00 000000 00 00 00" STATE,
     FORMAT},
    {"capabilities record length one long", 0, false, "00000009 80 00 000000 00 00 00 00" STATE,
     FORMAT},
    {"capabilities record length past the end", 0, false, "000000ff 80 00 000000 00 00 00" STATE,
     FORMAT},
    {"capabilities rsa record with ecdhe lists", 0, false,
     "0000000c 02 00 000000 00 00 00 00 00 00 00" STATE, FORMAT},
    {"capabilities ecdhe record without its lists", 0, false,
     "00000008 06 00 000000 00 00 00" STATE, FORMAT},
    {"capabilities key_id_type 1", 0, false, "00000009 02 01 01 000000 00 00 00" STATE, FORMAT},
    {"capabilities freshness 7", 0, false, "00000009 02 00 000000 01 07 00 00" STATE, FORMAT},
    {"capabilities prf_hash 3", 0, false, "00000009 02 00 000000 00 00 01 03" STATE, FORMAT},
    {"capabilities poo_prf 3", 0, false, "0000000c 06 00 000000 00 00 00 00 00 01 03" STATE,
     FORMAT},
    {"capabilities odd cipher suites", 0, false, "00000009 02 00 000000 00 01 c0 00" STATE, FORMAT},
    {"capabilities odd sig_and_hash", 0, false, "0000000c 06 00 000000 00 00 01 04 00 00 00" STATE,
     FORMAT},
    {"capabilities odd ecdsa curves", 0, false,
     "0000000e 06 00 000000 00 00 00 03 001700 00 00" STATE, FORMAT},
    {"capabilities odd ecdhe curves", 0, false, "0000000c 06 00 000000 00 00 00 00 01 00 00" STATE,
     FORMAT},
    {"capabilities list prefix past the record", 0, false, "00000008 80 00 000000 00 00 05" STATE,
     FORMAT},
    {"capabilities certificate type 1", 0, false,
     "0000000f 02 00 000007 01 000003 aabbcc 00 00 00" STATE, FORMAT},
    {"capabilities empty certificate", 0, false, "0000000c 02 00 000004 00 000000 00 00 00" STATE,
     FORMAT},
    {"capabilities certificate overruns its list", 0, false,
     "0000000f 02 00 000007 00 000004 aabbcc 00 00 00" STATE, FORMAT},
    {"capabilities certificate list of 2 bytes", 0, false,
     "0000000a 02 00 000002 00 00 00 00 00" STATE, FORMAT},
    {"capabilities second record bad", 0, false, CAP_RSA "00000008 05 00 000000 00 00 01" STATE,
     FORMAT},
};

START_TEST(malformed)
{
    const struct bad_case *c = &bad_cases[_i];
    static uint8_t buf[MAX_BYTES];
    size_t len = unhex(c->hex, buf, sizeof(buf));
    uint8_t got = run(c->type, c->request, buf, len);

    ck_assert_msg(got == c->status, "%s: status %u (%s), want %u (%s)", c->name, got,
                  lurk_tls12_status_name(got), c->status, lurk_tls12_status_name(c->status));
}
END_TEST

/* The bounds of the variable-length fields, at and just past each limit. */
START_TEST(length_limits)
{
    static uint8_t buf[MAX_BYTES];
    size_t n;

    /* handshake_messages<2..2^16-2>: 0xfffe is the largest. */
    n = unhex(KEY_ID "00", buf, sizeof(buf));
    buf[n++] = 0xff;
    buf[n++] = 0xfe;
    memset(buf + n, 0x42, 0xfffe);
    ck_assert_uint_eq(run(4, true, buf, n + 0xfffe), OK);
    buf[n - 1] = 0xff;
    memset(buf + n, 0x42, 0xffff);
    ck_assert_uint_eq(run(4, true, buf, n + 0xffff), FORMAT);

    /* ecdhe signature<0..2^16-1> and rsa_premaster's premaster<1..2^16-1>. */
    buf[0] = buf[1] = 0xff;
    memset(buf + 2, 0x17, 0xffff);
    ck_assert_uint_eq(run(6, false, buf, 2 + 0xffff), OK);
    n = unhex(KEY_ID "0303 ffff", buf, sizeof(buf));
    memset(buf + n, 0x17, 0xffff);
    ck_assert_uint_eq(run(128, true, buf, n + 0xffff), OK);

    /* ECPoint<1..255> in the params and as vG. */
    n = unhex(EC_HEAD "03 0017 ff", buf, sizeof(buf));
    memset(buf + n, 0x04, 255);
    n += 255;
    buf[n++] = LURK_POO_PRF_SHA256_128;
    buf[n++] = 0xff;
    memset(buf + n, 0x05, 255 + 16);
    ck_assert_uint_eq(run(6, true, buf, n + 255 + 16), OK);

    /* The longest cipher_suite_list: 127 suites, 254 bytes (255 would be odd). */
    n = unhex("00000106 80 00 000000 00 fe", buf, sizeof(buf));
    memset(buf + n, 0xc0, 254);
    n += 254;
    n += unhex("00" STATE, buf + n, sizeof(buf) - n);
    ck_assert_uint_eq(run(0, false, buf, n), OK);
}
END_TEST

/* At most LURK_TLS12_MAX_CAPABILITIES records. */
START_TEST(capabilities_record_limit)
{
    static uint8_t buf[MAX_BYTES];
    size_t n = 0;

    for (int i = 0; i < LURK_TLS12_MAX_CAPABILITIES; i++)
        n += unhex(CAP_EMPTY, buf + n, sizeof(buf) - n);
    n += unhex(STATE, buf + n, sizeof(buf) - n);
    ck_assert_uint_eq(run(0, false, buf, n), OK);

    n -= 4;
    n += unhex(CAP_EMPTY STATE, buf + n, sizeof(buf) - n);
    ck_assert_uint_eq(run(0, false, buf, n), FORMAT);
}
END_TEST

/* Decoding a message built by hand from the layouts gives back its fields. */
START_TEST(rsa_master_fields)
{
    uint8_t buf[256], cr[32], sr[32], epms[8];
    size_t len = unhex(KEY_ID "ff 01" CR SR EPMS, buf, sizeof(buf));
    struct lurk_tls12_rsa_master_request m;
    lurk_cbs p;

    unhex(CR, cr, sizeof(cr));
    unhex(SR, sr, sizeof(sr));
    unhex(EPMS, epms, sizeof(epms));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_rsa_master_request_decode(&p, &m), OK);
    ck_assert_uint_eq(m.key_id.type, LURK_KEY_ID_TYPE_SHA256_32);
    ck_assert_mem_eq(m.key_id.id, "\xa1\xb2\xc3\xd4", 4);
    ck_assert_uint_eq(m.freshness_funct, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(m.prf_hash, LURK_PRF_HASH_SHA384);
    ck_assert_mem_eq(m.client_random, cr, 32);
    ck_assert_mem_eq(m.server_random, sr, 32);
    /* A view into the payload, not a copy. */
    ck_assert_ptr_eq(lurk_cbs_data(&m.encrypted_premaster), buf + 5 + 1 + 1 + 64);
    ck_assert(lurk_cbs_equal(&m.encrypted_premaster, epms, sizeof(epms)));
    /* The payload view itself is not consumed. */
    ck_assert_uint_eq(lurk_cbs_len(&p), len);
}
END_TEST

START_TEST(handshake_fields)
{
    uint8_t buf[128], fin[12];
    size_t len = unhex(KEY_ID "00 0006 0e0000000102" FIN, buf, sizeof(buf));
    struct lurk_tls12_handshake_request m;
    lurk_cbs p;

    unhex(FIN, fin, sizeof(fin));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_handshake_request_decode(5, &p, &m), OK);
    ck_assert_uint_eq(m.freshness_funct, LURK_FRESHNESS_SHA256);
    ck_assert_ptr_eq(lurk_cbs_data(&m.handshake_messages), buf + 8);
    ck_assert_uint_eq(lurk_cbs_len(&m.handshake_messages), 6);
    ck_assert(m.has_finished);
    ck_assert_mem_eq(m.finished, fin, 12);

    /* The same bytes are not a type 4 request, and 2 is not a handshake type. */
    ck_assert_uint_eq(lurk_tls12_handshake_request_decode(4, &p, &m), FORMAT);
    ck_assert_uint_eq(lurk_tls12_handshake_request_decode(2, &p, &m),
                      LURK_TLS12_STATUS_UNDEFINED_ERROR);
    ck_assert_uint_eq(lurk_tls12_handshake_request_decode(6, &p, &m),
                      LURK_TLS12_STATUS_UNDEFINED_ERROR);

    len = unhex(KEY_ID "00 0002 abcd", buf, sizeof(buf));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_handshake_request_decode(4, &p, &m), OK);
    ck_assert(!m.has_finished);
}
END_TEST

START_TEST(ecdhe_fields)
{
    uint8_t buf[256], params[69], vg[34], r[32];
    size_t len = unhex(EC_HEAD P256 "02" VG33 B32, buf, sizeof(buf));
    struct lurk_tls12_ecdhe_request m;
    lurk_cbs p;

    ck_assert_uint_eq(unhex(P256, params, sizeof(params)), 69);
    unhex(VG33, vg, sizeof(vg));
    unhex(B32, r, sizeof(r));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_ecdhe_request_decode(&p, &m), OK);
    ck_assert_uint_eq(m.freshness_funct, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(m.sig_and_hash, 0x0401); /* sha256(4), rsa(1) */
    ck_assert_uint_eq(m.ecdhe_params.curve_type, LURK_EC_CURVE_TYPE_NAMED_CURVE);
    ck_assert_uint_eq(m.ecdhe_params.named_curve, 0x0017);
    ck_assert_uint_eq(lurk_cbs_len(&m.ecdhe_params.point), 65);
    ck_assert_uint_eq(lurk_cbs_data(&m.ecdhe_params.point)[0], 0x04);
    /* The signed bytes: exactly the ServerECDHParams, in place. */
    ck_assert_ptr_eq(lurk_cbs_data(&m.ecdhe_params_bytes), buf + 5 + 1 + 64 + 2);
    ck_assert(lurk_cbs_equal(&m.ecdhe_params_bytes, params, sizeof(params)));
    ck_assert_uint_eq(m.poo_prf, LURK_POO_PRF_SHA256_256);
    ck_assert(lurk_cbs_equal(&m.poo_vg, vg + 1, 33));
    ck_assert(lurk_cbs_equal(&m.poo_r, r, 32));

    len = unhex(EC_HEAD X25519 "00", buf, sizeof(buf));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_ecdhe_request_decode(&p, &m), OK);
    ck_assert_uint_eq(m.poo_prf, LURK_POO_PRF_NULL);
    ck_assert_uint_eq(lurk_cbs_len(&m.poo_vg), 0);
    ck_assert_uint_eq(lurk_cbs_len(&m.poo_r), 0);
    ck_assert_uint_eq(lurk_cbs_len(&m.ecdhe_params_bytes), 36);
}
END_TEST

START_TEST(ecdh_params_from_front)
{
    uint8_t buf[64];
    size_t len = unhex(X25519 "77", buf, sizeof(buf));
    struct lurk_tls12_ecdh_params e;
    lurk_cbs c;

    lurk_cbs_init(&c, buf, len);
    ck_assert_uint_eq(lurk_tls12_ecdh_params_decode(&c, &e), OK);
    ck_assert_uint_eq(e.named_curve, 0x001d);
    ck_assert_uint_eq(lurk_cbs_len(&e.point), 32);
    ck_assert_uint_eq(lurk_cbs_len(&c), 1); /* what follows is left */

    buf[0] = 1;
    lurk_cbs_init(&c, buf, len);
    ck_assert_uint_eq(lurk_tls12_ecdh_params_decode(&c, &e), LURK_TLS12_STATUS_INVALID_EC_TYPE);
}
END_TEST

START_TEST(key_id_codec)
{
    static const uint8_t good[] = {0x00, 1, 2, 3, 4, 0x99};
    struct lurk_key_id k;
    lurk_cbs c;
    lurk_cbb b;
    uint8_t out[8];

    lurk_cbs_init(&c, good, sizeof(good));
    ck_assert_uint_eq(lurk_key_id_decode(&c, &k), OK);
    ck_assert_uint_eq(lurk_cbs_len(&c), 1);
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(lurk_key_id_encode(&b, &k));
    ck_assert_uint_eq(lurk_cbb_len(&b), 5);
    ck_assert_mem_eq(out, good, 5);

    for (size_t n = 0; n < 5; n++) {
        lurk_cbs_init(&c, good, n);
        ck_assert_uint_eq(lurk_key_id_decode(&c, &k), FORMAT);
    }
    k.type = 1;
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(!lurk_key_id_encode(&b, &k));
    ck_assert(!lurk_cbb_ok(&b));
}
END_TEST

START_TEST(premaster_fields)
{
    uint8_t buf[64], epms[8];
    size_t len = unhex(KEY_ID "0302 0008" EPMS, buf, sizeof(buf));
    struct lurk_tls12_rsa_premaster_request m;
    lurk_cbs p;

    unhex(EPMS, epms, sizeof(epms));
    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_rsa_premaster_request_decode(&p, &m), OK);
    ck_assert_uint_eq(m.client_version, 0x0302);
    ck_assert(lurk_cbs_equal(&m.encrypted_premaster, epms, sizeof(epms)));
}
END_TEST

START_TEST(capabilities_fields)
{
    static uint8_t buf[256];
    size_t len = unhex(CAP_RSA CAP_ECDHE CAP_EMPTY STATE, buf, sizeof(buf));
    struct lurk_tls12_capabilities_response m;
    struct lurk_tls12_typed_certificate cert;
    lurk_cbs p, certs;

    lurk_cbs_init(&p, buf, len);
    ck_assert_uint_eq(lurk_tls12_capabilities_response_decode(&p, &m), OK);
    ck_assert_uint_eq(m.n_caps, 3);
    ck_assert_mem_eq(m.state, "\x01\x02\x03\x04", 4);

    ck_assert_uint_eq(m.caps[0].type, LURK_TLS12_TYPE_RSA_MASTER);
    ck_assert(lurk_cbs_equal(&m.caps[0].key_id_type_list, (const uint8_t *)"\x00", 1));
    ck_assert(lurk_cbs_equal(&m.caps[0].freshness_funct_list, (const uint8_t *)"\x00\xff", 2));
    ck_assert(lurk_cbs_equal(&m.caps[0].cipher_suite_list, (const uint8_t *)"\x00\x2f", 2));
    ck_assert(lurk_cbs_equal(&m.caps[0].prf_hash_list, (const uint8_t *)"\x00", 1));
    ck_assert_uint_eq(lurk_cbs_len(&m.caps[0].sig_and_hash_list), 0);
    certs = m.caps[0].typed_certificate_list;
    ck_assert(lurk_tls12_typed_certificate_next(&certs, &cert));
    ck_assert_uint_eq(cert.certificate_type, LURK_CERTIFICATE_TYPE_X509);
    ck_assert(lurk_cbs_equal(&cert.data, (const uint8_t *)"\xaa\xbb\xcc", 3));
    ck_assert(!lurk_tls12_typed_certificate_next(&certs, &cert));
    ck_assert_uint_eq(lurk_cbs_len(&certs), 0);

    ck_assert_uint_eq(m.caps[1].type, LURK_TLS12_TYPE_ECDHE);
    ck_assert_uint_eq(lurk_cbs_len(&m.caps[1].typed_certificate_list), 0);
    ck_assert(lurk_cbs_equal(&m.caps[1].sig_and_hash_list, (const uint8_t *)"\x04\x03\x08\x04", 4));
    ck_assert(lurk_cbs_equal(&m.caps[1].ecdsa_curves_list, (const uint8_t *)"\x00\x17", 2));
    ck_assert(lurk_cbs_equal(&m.caps[1].ecdhe_curves_list, (const uint8_t *)"\x00\x1d\x00\x17", 4));
    ck_assert(lurk_cbs_equal(&m.caps[1].poo_prf_list, (const uint8_t *)"\x00\x01", 2));
    ck_assert_uint_eq(lurk_cbs_len(&m.caps[1].prf_hash_list), 0);

    ck_assert_uint_eq(m.caps[2].type, LURK_TLS12_TYPE_RSA_PREMASTER);
}
END_TEST

START_TEST(typed_certificate_codec)
{
    static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct lurk_tls12_typed_certificate c = {.certificate_type =
                                                 LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY};
    struct lurk_tls12_typed_certificate back;
    uint8_t out[16];
    lurk_cbb b;
    lurk_cbs list;

    lurk_cbs_init(&c.data, der, sizeof(der));
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(lurk_tls12_typed_certificate_encode(&b, &c));
    ck_assert_uint_eq(lurk_cbb_len(&b), 1 + 3 + sizeof(der));
    ck_assert_mem_eq(out, "\x02\x00\x00\x05", 4);
    lurk_cbs_init(&list, out, lurk_cbb_len(&b));
    ck_assert(lurk_tls12_typed_certificate_next(&list, &back));
    ck_assert_uint_eq(back.certificate_type, c.certificate_type);
    ck_assert(lurk_cbs_equal(&back.data, der, sizeof(der)));

    /* Unknown certificate type and empty data are refused both ways. */
    c.certificate_type = 1;
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(!lurk_tls12_typed_certificate_encode(&b, &c));
    out[0] = 1;
    lurk_cbs_init(&list, out, 1 + 3 + sizeof(der));
    ck_assert(!lurk_tls12_typed_certificate_next(&list, &back));
    ck_assert_uint_eq(lurk_cbs_len(&list), 1 + 3 + sizeof(der));
    c.certificate_type = 0;
    lurk_cbs_init(&c.data, NULL, 0);
    lurk_cbb_init_fixed(&b, out, sizeof(out));
    ck_assert(!lurk_tls12_typed_certificate_encode(&b, &c));
}
END_TEST

/* Encoding a struct filled in by hand gives the documented bytes. */
START_TEST(ecdhe_encode_from_struct)
{
    uint8_t want[256], point[33], got[256];
    size_t want_len = unhex(KEY_ID "00" CR SR "0403 03 0017 21 02" B32 "00", want, sizeof(want));
    struct lurk_tls12_ecdhe_request m;
    lurk_cbb b;

    memset(&m, 0, sizeof(m));
    m.key_id.type = LURK_KEY_ID_TYPE_SHA256_32;
    memcpy(m.key_id.id, "\xa1\xb2\xc3\xd4", 4);
    m.freshness_funct = LURK_FRESHNESS_SHA256;
    unhex(CR, m.client_random, 32);
    unhex(SR, m.server_random, 32);
    m.sig_and_hash = 0x0403; /* sha256, ecdsa */
    m.ecdhe_params.curve_type = LURK_EC_CURVE_TYPE_NAMED_CURVE;
    m.ecdhe_params.named_curve = 0x0017;
    unhex("02" B32, point, sizeof(point));
    lurk_cbs_init(&m.ecdhe_params.point, point, sizeof(point));
    m.poo_prf = LURK_POO_PRF_NULL;

    lurk_cbb_init_fixed(&b, got, sizeof(got));
    ck_assert(lurk_tls12_ecdhe_request_encode(&b, &m));
    ck_assert_uint_eq(lurk_cbb_len(&b), want_len);
    ck_assert_mem_eq(got, want, want_len);

    /* ecdhe_params_bytes equal to the params is accepted, different is refused. */
    lurk_cbs_init(&m.ecdhe_params_bytes, want + 72, 37);
    lurk_cbb_init_fixed(&b, got, sizeof(got));
    ck_assert(lurk_tls12_ecdhe_request_encode(&b, &m));
    lurk_cbs_init(&m.ecdhe_params_bytes, want + 72, 36);
    lurk_cbb_init_fixed(&b, got, sizeof(got));
    ck_assert(!lurk_tls12_ecdhe_request_encode(&b, &m));
    ck_assert(!lurk_cbb_ok(&b));
}
END_TEST

/*
 * Encoders refuse what their decoder would reject. Each case starts from a
 * valid message decoded from hex, breaks one field, and encodes.
 */
static uint8_t scratch[MAX_BYTES];
static const uint8_t big[0x10000];

static void decode_hex(const char *hex, uint8_t (*decode)(const lurk_cbs *, void *), void *m)
{
    lurk_cbs p;
    size_t len = unhex(hex, scratch, sizeof(scratch));

    lurk_cbs_init(&p, scratch, len);
    ck_assert_uint_eq(decode(&p, m), OK);
}

static uint8_t dec_rsa_master(const lurk_cbs *p, void *m)
{
    return lurk_tls12_rsa_master_request_decode(p, m);
}
static uint8_t dec_poh(const lurk_cbs *p, void *m)
{
    return lurk_tls12_handshake_request_decode(3, p, m);
}
static uint8_t dec_ecdhe(const lurk_cbs *p, void *m)
{
    return lurk_tls12_ecdhe_request_decode(p, m);
}
static uint8_t dec_premaster(const lurk_cbs *p, void *m)
{
    return lurk_tls12_rsa_premaster_request_decode(p, m);
}
static uint8_t dec_caps(const lurk_cbs *p, void *m)
{
    return lurk_tls12_capabilities_response_decode(p, m);
}

static bool enc_rsa_master(lurk_cbb *b, void (*breakit)(struct lurk_tls12_rsa_master_request *))
{
    struct lurk_tls12_rsa_master_request m;

    decode_hex(RSA_HEAD EPMS, dec_rsa_master, &m);
    breakit(&m);
    return lurk_tls12_rsa_master_request_encode(b, &m);
}

static void rm_key_type(struct lurk_tls12_rsa_master_request *m)
{
    m->key_id.type = 1;
}
static void rm_freshness(struct lurk_tls12_rsa_master_request *m)
{
    m->freshness_funct = 1;
}
static void rm_prf(struct lurk_tls12_rsa_master_request *m)
{
    m->prf_hash = 3;
}
static void rm_no_epms(struct lurk_tls12_rsa_master_request *m)
{
    lurk_cbs_init(&m->encrypted_premaster, NULL, 0);
}

static bool r_rm_key_type(lurk_cbb *b)
{
    return enc_rsa_master(b, rm_key_type);
}
static bool r_rm_freshness(lurk_cbb *b)
{
    return enc_rsa_master(b, rm_freshness);
}
static bool r_rm_prf(lurk_cbb *b)
{
    return enc_rsa_master(b, rm_prf);
}
static bool r_rm_no_epms(lurk_cbb *b)
{
    return enc_rsa_master(b, rm_no_epms);
}

static bool enc_poh(lurk_cbb *b, size_t hs_len, uint8_t freshness)
{
    struct lurk_tls12_handshake_request m;

    decode_hex(KEY_ID "00 0002 abcd" FIN, dec_poh, &m);
    lurk_cbs_init(&m.handshake_messages, big, hs_len);
    m.freshness_funct = freshness;
    return lurk_tls12_handshake_request_encode(b, &m);
}
static bool r_hs_short(lurk_cbb *b)
{
    return enc_poh(b, 1, 0);
}
static bool r_hs_long(lurk_cbb *b)
{
    return enc_poh(b, 0xffff, 0);
}
static bool r_hs_freshness(lurk_cbb *b)
{
    return enc_poh(b, 2, 2);
}

static bool enc_ecdhe(lurk_cbb *b, void (*breakit)(struct lurk_tls12_ecdhe_request *))
{
    struct lurk_tls12_ecdhe_request m;

    decode_hex(EC_HEAD P256 "01" VG33 B16, dec_ecdhe, &m);
    breakit(&m);
    return lurk_tls12_ecdhe_request_encode(b, &m);
}
static void ec_curve_type(struct lurk_tls12_ecdhe_request *m)
{
    m->ecdhe_params.curve_type = 1;
    lurk_cbs_init(&m->ecdhe_params_bytes, NULL, 0);
}
static void ec_empty_point(struct lurk_tls12_ecdhe_request *m)
{
    lurk_cbs_init(&m->ecdhe_params.point, NULL, 0);
    lurk_cbs_init(&m->ecdhe_params_bytes, NULL, 0);
}
static void ec_long_point(struct lurk_tls12_ecdhe_request *m)
{
    lurk_cbs_init(&m->ecdhe_params.point, big, 256);
    lurk_cbs_init(&m->ecdhe_params_bytes, NULL, 0);
}
static void ec_stale_bytes(struct lurk_tls12_ecdhe_request *m)
{
    m->ecdhe_params.named_curve = 0x0018;
}
static void ec_poo_unknown(struct lurk_tls12_ecdhe_request *m)
{
    m->poo_prf = 3;
}
static void ec_poo_no_r(struct lurk_tls12_ecdhe_request *m)
{
    lurk_cbs_init(&m->poo_r, NULL, 0);
}
static void ec_poo_null_with_r(struct lurk_tls12_ecdhe_request *m)
{
    m->poo_prf = LURK_POO_PRF_NULL;
    lurk_cbs_init(&m->poo_vg, NULL, 0);
}
static void ec_poo_null_with_data(struct lurk_tls12_ecdhe_request *m)
{
    m->poo_prf = LURK_POO_PRF_NULL;
    lurk_cbs_init(&m->poo_r, NULL, 0);
}
static void ec_poo_empty_vg(struct lurk_tls12_ecdhe_request *m)
{
    lurk_cbs_init(&m->poo_vg, NULL, 0);
}
static void ec_poo_long_vg(struct lurk_tls12_ecdhe_request *m)
{
    lurk_cbs_init(&m->poo_vg, big, 256);
}
static void ec_freshness(struct lurk_tls12_ecdhe_request *m)
{
    m->freshness_funct = 0x80;
}

static bool r_ec_curve_type(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_curve_type);
}
static bool r_ec_empty_point(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_empty_point);
}
static bool r_ec_long_point(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_long_point);
}
static bool r_ec_stale_bytes(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_stale_bytes);
}
static bool r_ec_poo_unknown(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_unknown);
}
static bool r_ec_poo_no_r(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_no_r);
}
static bool r_ec_poo_null_with_r(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_null_with_r);
}
static bool r_ec_poo_null_with_data(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_null_with_data);
}
static bool r_ec_poo_empty_vg(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_empty_vg);
}
static bool r_ec_poo_long_vg(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_poo_long_vg);
}
static bool r_ec_freshness(lurk_cbb *b)
{
    return enc_ecdhe(b, ec_freshness);
}

static bool r_sig_too_long(lurk_cbb *b)
{
    struct lurk_tls12_ecdhe_response m;

    lurk_cbs_init(&m.signature, big, 0x10000);
    return lurk_tls12_ecdhe_response_encode(b, &m);
}

static bool enc_premaster(lurk_cbb *b, size_t epms_len)
{
    struct lurk_tls12_rsa_premaster_request m;

    decode_hex(KEY_ID "0303 0008" EPMS, dec_premaster, &m);
    lurk_cbs_init(&m.encrypted_premaster, big, epms_len);
    return lurk_tls12_rsa_premaster_request_encode(b, &m);
}
static bool r_pm_empty(lurk_cbb *b)
{
    return enc_premaster(b, 0);
}
static bool r_pm_long(lurk_cbb *b)
{
    return enc_premaster(b, 0x10000);
}

static bool enc_caps(lurk_cbb *b, void (*breakit)(struct lurk_tls12_capabilities_response *))
{
    struct lurk_tls12_capabilities_response m;

    decode_hex(CAP_RSA CAP_ECDHE STATE, dec_caps, &m);
    breakit(&m);
    return lurk_tls12_capabilities_response_encode(b, &m);
}
static void caps_none(struct lurk_tls12_capabilities_response *m)
{
    m->n_caps = 0;
}
static void caps_too_many(struct lurk_tls12_capabilities_response *m)
{
    m->n_caps = LURK_TLS12_MAX_CAPABILITIES + 1;
}
static void caps_bad_type(struct lurk_tls12_capabilities_response *m)
{
    m->caps[1].type = LURK_TLS12_TYPE_PING;
}
static void caps_rsa_with_curves(struct lurk_tls12_capabilities_response *m)
{
    m->caps[0].ecdhe_curves_list = m->caps[1].ecdhe_curves_list;
}
static void caps_ecdhe_with_prf(struct lurk_tls12_capabilities_response *m)
{
    m->caps[1].prf_hash_list = m->caps[0].prf_hash_list;
}
static void caps_odd_suites(struct lurk_tls12_capabilities_response *m)
{
    lurk_cbs_init(&m->caps[0].cipher_suite_list, big, 3);
}
static void caps_long_list(struct lurk_tls12_capabilities_response *m)
{
    lurk_cbs_init(&m->caps[1].sig_and_hash_list, big, 256);
}
static void caps_bad_freshness(struct lurk_tls12_capabilities_response *m)
{
    lurk_cbs_init(&m->caps[0].freshness_funct_list, (const uint8_t *)"\x01", 1);
}
static void caps_bad_cert(struct lurk_tls12_capabilities_response *m)
{
    lurk_cbs_init(&m->caps[0].typed_certificate_list, big, 4);
}

static bool r_caps_none(lurk_cbb *b)
{
    return enc_caps(b, caps_none);
}
static bool r_caps_too_many(lurk_cbb *b)
{
    return enc_caps(b, caps_too_many);
}
static bool r_caps_bad_type(lurk_cbb *b)
{
    return enc_caps(b, caps_bad_type);
}
static bool r_caps_rsa_with_curves(lurk_cbb *b)
{
    return enc_caps(b, caps_rsa_with_curves);
}
static bool r_caps_ecdhe_with_prf(lurk_cbb *b)
{
    return enc_caps(b, caps_ecdhe_with_prf);
}
static bool r_caps_odd_suites(lurk_cbb *b)
{
    return enc_caps(b, caps_odd_suites);
}
static bool r_caps_long_list(lurk_cbb *b)
{
    return enc_caps(b, caps_long_list);
}
static bool r_caps_bad_freshness(lurk_cbb *b)
{
    return enc_caps(b, caps_bad_freshness);
}
static bool r_caps_bad_cert(lurk_cbb *b)
{
    return enc_caps(b, caps_bad_cert);
}

static const struct refusal {
    const char *name;
    bool (*encode)(lurk_cbb *);
} refusals[] = {
    {"rsa_master key id type 1", r_rm_key_type},
    {"rsa_master freshness 1", r_rm_freshness},
    {"rsa_master prf_hash 3", r_rm_prf},
    {"rsa_master empty premaster", r_rm_no_epms},
    {"handshake_messages of 1 byte", r_hs_short},
    {"handshake_messages of 2^16-1 bytes", r_hs_long},
    {"handshake freshness 2", r_hs_freshness},
    {"ecdhe curve_type 1", r_ec_curve_type},
    {"ecdhe empty point", r_ec_empty_point},
    {"ecdhe point of 256 bytes", r_ec_long_point},
    {"ecdhe params bytes disagree with params", r_ec_stale_bytes},
    {"ecdhe poo_prf 3", r_ec_poo_unknown},
    {"ecdhe sha256_128 without r", r_ec_poo_no_r},
    {"ecdhe null poo with r", r_ec_poo_null_with_r},
    {"ecdhe null poo with vG", r_ec_poo_null_with_data},
    {"ecdhe empty vG", r_ec_poo_empty_vg},
    {"ecdhe vG of 256 bytes", r_ec_poo_long_vg},
    {"ecdhe freshness 128", r_ec_freshness},
    {"ecdhe signature of 2^16 bytes", r_sig_too_long},
    {"rsa_premaster empty premaster", r_pm_empty},
    {"rsa_premaster premaster of 2^16 bytes", r_pm_long},
    {"capabilities without records", r_caps_none},
    {"capabilities with 9 records", r_caps_too_many},
    {"capabilities record of type ping", r_caps_bad_type},
    {"capabilities rsa record with ecdhe curves", r_caps_rsa_with_curves},
    {"capabilities ecdhe record with prf hashes", r_caps_ecdhe_with_prf},
    {"capabilities odd cipher suites", r_caps_odd_suites},
    {"capabilities list of 256 bytes", r_caps_long_list},
    {"capabilities freshness 1", r_caps_bad_freshness},
    {"capabilities malformed certificate list", r_caps_bad_cert},
};

START_TEST(encoder_refuses)
{
    const struct refusal *r = &refusals[_i];
    lurk_cbb b;

    ck_assert(lurk_cbb_init(&b, 64, 2 * 0x10000 + 1024));
    ck_assert_msg(!r->encode(&b), "%s was encoded", r->name);
    ck_assert_msg(!lurk_cbb_ok(&b), "%s: builder not failed", r->name);
    lurk_cbb_cleanup(&b);
}
END_TEST

START_TEST(oracle_unknown_messages)
{
    lurk_cbs empty;
    lurk_cbb out;

    lurk_cbs_init(&empty, NULL, 0);
    ck_assert(lurk_cbb_init(&out, 16, 1024));
    ck_assert_uint_eq(lurk_test_roundtrip_tls12(7, true, &empty, &out), LURK_TEST_UNKNOWN_MESSAGE);
    ck_assert_uint_eq(lurk_test_roundtrip_tls12(7, false, &empty, &out), LURK_TEST_UNKNOWN_MESSAGE);
    ck_assert_uint_eq(lurk_test_roundtrip_tls12(130, true, &empty, &out),
                      LURK_TEST_UNKNOWN_MESSAGE);
    ck_assert_uint_eq(lurk_test_roundtrip(LURK_DESIGNATION_TLS12, 1, true, &empty, &out), OK);
    lurk_cbb_cleanup(&out);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(lurk_tls12_prf_hash_md_name(LURK_PRF_HASH_SHA256), "SHA256");
    ck_assert_str_eq(lurk_tls12_prf_hash_md_name(LURK_PRF_HASH_SHA384), "SHA384");
    ck_assert_str_eq(lurk_tls12_prf_hash_md_name(LURK_PRF_HASH_SHA512), "SHA512");
    ck_assert_ptr_null(lurk_tls12_prf_hash_md_name(3));
    ck_assert_ptr_null(lurk_tls12_prf_hash_md_name(255));

    ck_assert_str_eq(lurk_tls12_type_name(LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH),
                     "rsa_extended_master_with_poh");
    ck_assert_str_eq(lurk_tls12_type_name(LURK_TLS12_TYPE_ECDHE), "ecdhe");
    ck_assert_str_eq(lurk_tls12_type_name(LURK_TLS12_TYPE_RSA_PREMASTER), "rsa_premaster");
    ck_assert_str_eq(lurk_tls12_type_name(7), "unknown");
    ck_assert_str_eq(lurk_tls12_status_name(LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH),
                     "invalid_cipher_or_prf_hash");
    ck_assert_str_eq(lurk_tls12_status_name(LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT),
                     "invalid_freshness_funct");
    ck_assert_str_eq(lurk_tls12_status_name(15), "unknown");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("tls12_msg");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, valid_roundtrip, 0, N(valid_cases));
    tcase_add_loop_test(tc, truncation_at_every_offset, 0, N(valid_cases));
    tcase_add_loop_test(tc, trailing_byte, 0, N(valid_cases));
    tcase_add_loop_test(tc, malformed, 0, N(bad_cases));
    tcase_add_loop_test(tc, encoder_refuses, 0, N(refusals));
    tcase_add_test(tc, length_limits);
    tcase_add_test(tc, capabilities_record_limit);
    tcase_add_test(tc, rsa_master_fields);
    tcase_add_test(tc, handshake_fields);
    tcase_add_test(tc, ecdhe_fields);
    tcase_add_test(tc, ecdh_params_from_front);
    tcase_add_test(tc, key_id_codec);
    tcase_add_test(tc, premaster_fields);
    tcase_add_test(tc, capabilities_fields);
    tcase_add_test(tc, typed_certificate_codec);
    tcase_add_test(tc, ecdhe_encode_from_struct);
    tcase_add_test(tc, oracle_unknown_messages);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
