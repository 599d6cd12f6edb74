/*
 * Unit tests of tls12 client_certificate_verify's codec
 * (liblurk/tls12_client_cv.c) and of the TLS 1.2 client handshake parser
 * (liblurk/tls12_handshake.c), on handshakes recorded from real OpenSSL
 * clients and servers (tests/support/tls12_client_hs.c) and on those
 * handshakes taken apart: reordered, missing or extra messages, a TLS 1.3
 * ServerHello, truncation at every offset, trailing bytes. Every parse runs
 * on an exact-size heap copy so that ASan sees any read past the end.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"
#include "lurk/tls12_handshake.h"
#include "tls12_client_hs.h"

#define FORMAT LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT
#define OK     LURK_STATUS_SUCCESS

static EVP_PKEY *ec_client, *rsa_client, *rsa_server;
static X509 *ec_client_cert, *rsa_client_cert, *rsa_server_cert;

/* Made once in main (RSA key generation is slow): the forked tests inherit them. */
static void keys(void)
{
    ec_client = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa_client = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_server = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (ec_client == NULL || rsa_client == NULL || rsa_server == NULL)
        abort();
    ec_client_cert = lurk_test_self_signed(ec_client, "client");
    rsa_client_cert = lurk_test_self_signed(rsa_client, "client");
    rsa_server_cert = lurk_test_self_signed(rsa_server, "server");
    if (ec_client_cert == NULL || rsa_client_cert == NULL || rsa_server_cert == NULL)
        abort();
}

/* One handshake kind per case: key exchange, client key, server key, CertificateRequest list. */
static const struct {
    const char *ciphers;
    bool rsa_client, rsa_server;
    const char *client_sigalgs;
    enum lurk_tls12_kx kx;
} kinds[] = {
    {"ECDHE-ECDSA-AES128-GCM-SHA256", false, false, NULL, LURK_TLS12_KX_ECDHE},
    {"ECDHE-RSA-AES256-GCM-SHA384", true, true, "RSA+SHA256:RSA+SHA384", LURK_TLS12_KX_ECDHE},
    {"AES128-GCM-SHA256", true, true, "rsa_pss_rsae_sha256", LURK_TLS12_KX_RSA},
    {"DHE-RSA-AES128-GCM-SHA256", false, true, "ECDSA+SHA384:ECDSA+SHA256", LURK_TLS12_KX_DHE},
    {"ECDHE-ECDSA-CHACHA20-POLY1305", false, false, NULL, LURK_TLS12_KX_ECDHE},
};

static uint8_t *record(int kind, size_t *len, uint16_t *sig)
{
    struct lurk_test_tls12_hs o = {
        .client_key = kinds[kind].rsa_client ? rsa_client : ec_client,
        .client_cert = kinds[kind].rsa_client ? rsa_client_cert : ec_client_cert,
        .server_key = kinds[kind].rsa_server ? rsa_server : NULL,
        .server_cert = kinds[kind].rsa_server ? rsa_server_cert : NULL,
        .ciphers = kinds[kind].ciphers,
        .client_sigalgs = kinds[kind].client_sigalgs,
    };
    uint8_t *m;

    ck_assert_msg(lurk_test_tls12_client_hs(&o, &m, len, sig), "handshake %s", kinds[kind].ciphers);
    return m;
}

/* Parses an exact-size copy of data, kept until the next call (hs points into it). */
static uint8_t parse(const uint8_t *data, size_t len, struct lurk_tls12_client_hs *hs,
                     const char **why)
{
    static uint8_t *copy;

    free(copy);
    copy = malloc(len > 0 ? len : 1);
    lurk_cbs in;
    uint8_t st;

    ck_assert_ptr_nonnull(copy);
    if (len > 0)
        memcpy(copy, data, len);
    lurk_cbs_init(&in, copy, len);
    st = lurk_tls12_client_hs_parse(&in, hs, why);
    return st;
}

/* The handshake messages as (offset, length) pairs, to take them apart. */
struct msgs {
    size_t off[16], len[16];
    size_t n;
};

static void split(const uint8_t *m, size_t len, struct msgs *out)
{
    size_t at = 0;

    out->n = 0;
    while (at < len) {
        size_t l = 4 + ((size_t)m[at + 1] << 16 | (size_t)m[at + 2] << 8 | m[at + 3]);
        ck_assert_uint_lt(out->n, 16);
        ck_assert_uint_le(at + l, len);
        out->off[out->n] = at;
        out->len[out->n++] = l;
        at += l;
    }
}

/* Concatenates the messages of m listed in order[] (indices, -1 ends) into out. */
static size_t join(const uint8_t *m, const struct msgs *s, const int *order, uint8_t *out)
{
    size_t n = 0;

    for (int i = 0; order[i] >= 0; i++) {
        memcpy(out + n, m + s->off[order[i]], s->len[order[i]]);
        n += s->len[order[i]];
    }
    return n;
}

static size_t find(const uint8_t *m, const struct msgs *s, uint8_t type)
{
    for (size_t i = 0; i < s->n; i++)
        if (m[s->off[i]] == type)
            return i;
    ck_abort_msg("no handshake message of type %u", type);
    return 0;
}

START_TEST(real_handshakes_parse)
{
    size_t len;
    uint16_t sig;
    uint8_t *m = record(_i, &len, &sig);
    struct lurk_tls12_client_hs hs;
    const char *why = "unset";

    ck_assert_uint_eq(parse(m, len, &hs, &why), OK);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(hs.kx, kinds[_i].kx);
    /* The scheme libssl signed with is one the CertificateRequest offered. */
    ck_assert_msg(lurk_tls12_client_hs_offers_sig(&hs, sig), "scheme %04x", sig);
    ck_assert(!lurk_tls12_client_hs_offers_sig(&hs, 0x0000));
    ck_assert(lurk_tls12_client_hs_offers_cert_type(&hs, kinds[_i].rsa_client
                                                             ? LURK_TLS12_CERT_TYPE_RSA_SIGN
                                                             : LURK_TLS12_CERT_TYPE_ECDSA_SIGN));
    ck_assert_uint_gt(lurk_cbs_len(&hs.client_certificate), 100);
    ck_assert_uint_eq(lurk_cbs_data(&hs.client_certificate)[0], 0x30);
    free(m);
}
END_TEST

START_TEST(truncation_at_every_offset)
{
    size_t len;
    uint16_t sig;
    uint8_t *m = record(_i, &len, &sig);
    struct lurk_tls12_client_hs hs;
    const char *why;

    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_msg(parse(m, cut, &hs, &why) != OK, "accepted %zu of %zu bytes", cut, len);
        ck_assert_ptr_nonnull(why);
    }
    free(m);
}
END_TEST

START_TEST(trailing_bytes)
{
    size_t len;
    uint16_t sig;
    uint8_t *m = record(0, &len, &sig);
    uint8_t *t = malloc(len + 4);
    struct lurk_tls12_client_hs hs;
    const char *why;

    memcpy(t, m, len);
    t[len] = 0x00;
    ck_assert_uint_eq(parse(t, len + 1, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "bytes after the ClientKeyExchange");
    /* A whole extra message (an empty CertificateVerify header) after the ClientKeyExchange. */
    memcpy(t + len, "\x0f\x00\x00\x00", 4);
    ck_assert_uint_eq(parse(t, len + 4, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "bytes after the ClientKeyExchange");
    free(t);
    free(m);
}
END_TEST

/* Messages removed, swapped or repeated: each refused with what is out of place. */
START_TEST(reordered_and_missing)
{
    size_t len, n;
    uint16_t sig;
    uint8_t *m = record(0, &len, &sig), *t = malloc(2 * len);
    struct lurk_tls12_client_hs hs;
    struct msgs s;
    const char *why;

    split(m, len, &s);
    ck_assert_uint_eq(s.n, 8); /* CH SH Cert SKE CR SHD Cert CKE */
    int ch = 0, sh = 1, cert = 2, ske = (int)find(m, &s, 12), cr = (int)find(m, &s, 13),
        shd = (int)find(m, &s, 14), ccert = 6, cke = (int)find(m, &s, 16);
    struct {
        int order[10];
        const char *why;
    } cases[] = {
        {{sh, ch, cert, ske, cr, shd, ccert, cke, -1}, "the first message is not a ClientHello"},
        {{ch, cert, sh, ske, cr, shd, ccert, cke, -1},
         "the ClientHello is not followed by a ServerHello"},
        {{ch, sh, ske, cert, cr, shd, ccert, cke, -1},
         "the ServerHello is not followed by the server's Certificate"},
        {{ch, sh, cert, ske, shd, ccert, cke, -1},
         "no CertificateRequest where RFC 5246 §7.3 puts it (the server did not ask for a "
         "client certificate)"},
        {{ch, sh, cert, cr, ske, shd, ccert, cke, -1},
         "missing ServerKeyExchange (the cipher suite is (EC)DHE)"},
        {{ch, sh, cert, ske, cr, ccert, shd, cke, -1},
         "the CertificateRequest is not followed by a ServerHelloDone"},
        {{ch, sh, cert, ske, cr, shd, cke, ccert, -1},
         "the ServerHelloDone is not followed by the client's Certificate"},
        {{ch, sh, cert, ske, cr, shd, ccert, -1},
         "the client Certificate is not followed by a ClientKeyExchange"},
        {{ch, sh, cert, ske, cr, shd, ccert, cke, cke, -1}, "bytes after the ClientKeyExchange"},
        {{ch, sh, cert, ske, ske, cr, shd, ccert, cke, -1},
         "no CertificateRequest where RFC 5246 §7.3 puts it (the server did not ask for a "
         "client certificate)"},
        {{ch, ch, sh, cert, ske, cr, shd, ccert, cke, -1},
         "the ClientHello is not followed by a ServerHello"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = join(m, &s, cases[i].order, t);
        ck_assert_msg(parse(t, n, &hs, &why) == FORMAT, "case %zu accepted", i);
        ck_assert_msg(strcmp(why, cases[i].why) == 0, "case %zu: %s", i, why);
    }
    /* The untouched order parses: the cases above differ only by what they change. */
    int all[] = {ch, sh, cert, ske, cr, shd, ccert, cke, -1};
    n = join(m, &s, all, t);
    ck_assert_uint_eq(n, len);
    ck_assert_uint_eq(parse(t, n, &hs, &why), OK);
    free(t);
    free(m);
}
END_TEST

/* An RSA key exchange has no ServerKeyExchange; one inserted is refused. */
START_TEST(rsa_kx_with_server_key_exchange)
{
    size_t len, elen, n;
    uint16_t sig;
    uint8_t *m = record(2, &len, &sig), *e = record(0, &elen, &sig), *t = malloc(len + elen);
    struct lurk_tls12_client_hs hs;
    struct msgs s, es;
    const char *why;

    split(m, len, &s);
    split(e, elen, &es);
    ck_assert_uint_eq(s.n, 7);
    size_t ske = find(e, &es, 12);
    n = 0;
    for (size_t i = 0; i < s.n; i++) {
        memcpy(t + n, m + s.off[i], s.len[i]);
        n += s.len[i];
        if (i == 2) {
            memcpy(t + n, e + es.off[ske], es.len[ske]);
            n += es.len[ske];
        }
    }
    ck_assert_uint_eq(parse(t, n, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "a ServerKeyExchange in an RSA key exchange");
    free(t);
    free(e);
    free(m);
}
END_TEST

/*
 * The ServerHello rewritten: TLS 1.3 (supported_versions), another version,
 * a cipher suite that was not offered, or a PSK suite.
 */
START_TEST(server_hello_rewritten)
{
    size_t len;
    uint16_t sig;
    uint8_t *m = record(0, &len, &sig), *t = malloc(len + 16);
    struct lurk_tls12_client_hs hs;
    struct msgs s;
    const char *why;

    split(m, len, &s);
    size_t sh = s.off[1], shl = s.len[1];
    /* session_id length at 4+2+32; then suite(2), compression(1), extensions<2>. */
    size_t sid = m[sh + 38], suite_at = sh + 39 + sid, ext_at = suite_at + 3;
    ck_assert_uint_lt(ext_at + 2, sh + shl);

    /* supported_versions(43) = 0304 appended to the ServerHello's extensions. */
    static const uint8_t sv[] = {0x00, 0x2b, 0x00, 0x02, 0x03, 0x04};
    size_t n = 0;
    memcpy(t, m, sh + shl);
    n = sh + shl;
    memcpy(t + n, sv, sizeof(sv));
    n += sizeof(sv);
    memcpy(t + n, m + sh + shl, len - sh - shl);
    n += len - sh - shl;
    size_t body = shl - 4 + sizeof(sv), exts = ((size_t)m[ext_at] << 8 | m[ext_at + 1]) + 6;
    t[sh + 1] = (uint8_t)(body >> 16);
    t[sh + 2] = (uint8_t)(body >> 8);
    t[sh + 3] = (uint8_t)body;
    t[ext_at] = (uint8_t)(exts >> 8);
    t[ext_at + 1] = (uint8_t)exts;
    ck_assert_uint_eq(parse(t, n, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "a TLS 1.3 ServerHello (supported_versions): not a TLS 1.2 handshake");

    memcpy(t, m, len);
    t[sh + 5] = 0x04; /* server_version 3,4 */
    ck_assert_uint_eq(parse(t, len, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "ServerHello.server_version is not TLS 1.2 (3,3)");

    memcpy(t, m, len);
    t[suite_at] = 0x13; /* TLS_AES_128_GCM_SHA256 & co: never in a TLS 1.2-only ClientHello */
    t[suite_at + 1] = 0x01;
    ck_assert_uint_eq(parse(t, len, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "the ServerHello's cipher suite is not one the ClientHello offered");

    /*
     * A suite the ClientHello offered but whose key exchange lurk does not
     * know: TLS_ECDHE_ECDSA_WITH_AES_128_CCM (RFC 7251) written over the
     * ClientHello's first suite and chosen by the ServerHello. (Not the
     * renegotiation SCSV: OpenSSL 3.5 no longer offers it in every hello.)
     */
    size_t ch_suites = s.off[0] + 4 + 2 + 32 + 1 + m[s.off[0] + 38] + 2;
    memcpy(t, m, len);
    t[ch_suites] = t[suite_at] = 0xc0;
    t[ch_suites + 1] = t[suite_at + 1] = 0xac;
    ck_assert_uint_eq(parse(t, len, &hs, &why), LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH);
    free(t);
    free(m);
}
END_TEST

/* An empty client Certificate: nothing a CertificateVerify is sent for. */
START_TEST(empty_client_certificate)
{
    size_t len, n = 0;
    uint16_t sig;
    uint8_t *m = record(0, &len, &sig), *t = malloc(len);
    static const uint8_t empty[] = {0x0b, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00};
    struct lurk_tls12_client_hs hs;
    struct msgs s;
    const char *why;

    split(m, len, &s);
    memcpy(t, m, s.off[6]);
    n = s.off[6];
    memcpy(t + n, empty, sizeof(empty));
    n += sizeof(empty);
    memcpy(t + n, m + s.off[7], s.len[7]);
    n += s.len[7];
    ck_assert_uint_eq(parse(t, n, &hs, &why), FORMAT);
    ck_assert_str_eq(why, "the client's Certificate is empty (nothing to sign for)");
    free(t);
    free(m);
}
END_TEST

/* What an attacker would like signed: a bare 32- or 48-byte value, or one message alone. */
START_TEST(digests_are_not_handshakes)
{
    uint8_t v[48];
    struct lurk_tls12_client_hs hs;
    const char *why;

    for (int fill = 0; fill < 256; fill += 51) {
        memset(v, fill, sizeof(v));
        v[0] = 0x01; /* even one that starts like a ClientHello */
        ck_assert_uint_ne(parse(v, 32, &hs, &why), OK);
        ck_assert_uint_ne(parse(v, 48, &hs, &why), OK);
        v[0] = (uint8_t)fill;
        ck_assert_uint_ne(parse(v, 32, &hs, &why), OK);
        ck_assert_uint_ne(parse(v, 48, &hs, &why), OK);
    }
}
END_TEST

START_TEST(codec)
{
    size_t len;
    uint16_t sig;
    uint8_t *m = record(0, &len, &sig);
    struct lurk_tls12_client_cv_request in = {.key_id = {0, {0xa1, 0xb2, 0xc3, 0xd4}},
                                              .sig_and_hash = 0x0403},
                                        out;
    lurk_cbb cbb;
    lurk_cbs payload;

    lurk_cbs_init(&in.handshake_messages, m, len);
    ck_assert(lurk_cbb_init(&cbb, 64, 1 << 20));
    ck_assert(lurk_tls12_client_cv_request_encode(&cbb, &in));
    ck_assert_uint_eq(lurk_cbb_len(&cbb), 5 + 2 + 3 + len);
    const uint8_t *w = lurk_cbb_data(&cbb);
    ck_assert_mem_eq(w, "\x00\xa1\xb2\xc3\xd4\x04\x03", 7);
    ck_assert_uint_eq((size_t)w[7] << 16 | (size_t)w[8] << 8 | w[9], len);
    /* Round trip, then every truncation and a trailing byte, on exact-size copies. */
    size_t total = lurk_cbb_len(&cbb);
    uint8_t *copy = malloc(total + 1);
    memcpy(copy, w, total);
    lurk_cbs_init(&payload, copy, total);
    ck_assert_uint_eq(lurk_tls12_client_cv_request_decode(&payload, &out), OK);
    ck_assert_mem_eq(out.key_id.id, in.key_id.id, 4);
    ck_assert_uint_eq(out.sig_and_hash, 0x0403);
    ck_assert(lurk_cbs_equal(&out.handshake_messages, m, len));
    for (size_t cut = 0; cut < total; cut++) {
        uint8_t *c = malloc(cut + 1);
        memcpy(c, w, cut);
        lurk_cbs_init(&payload, c, cut);
        ck_assert_uint_ne(lurk_tls12_client_cv_request_decode(&payload, &out), OK);
        free(c);
    }
    copy[total] = 0;
    lurk_cbs_init(&payload, copy, total + 1);
    ck_assert_uint_eq(lurk_tls12_client_cv_request_decode(&payload, &out), FORMAT);
    /* Key id type 1 is invalid_key_id_type; fewer than 4 message bytes is format. */
    copy[0] = 1;
    lurk_cbs_init(&payload, copy, total);
    ck_assert_uint_eq(lurk_tls12_client_cv_request_decode(&payload, &out),
                      LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE);
    static const uint8_t short_msgs[] = {0, 1, 2, 3, 4, 4, 3, 0, 0, 3, 1, 0, 0};
    lurk_cbs_init(&payload, short_msgs, sizeof(short_msgs));
    ck_assert_uint_eq(lurk_tls12_client_cv_request_decode(&payload, &out), FORMAT);
    free(copy);
    lurk_cbb_cleanup(&cbb);
    /* The encoder refuses what the decoder would refuse. */
    ck_assert(lurk_cbb_init(&cbb, 64, 1024));
    lurk_cbs_init(&in.handshake_messages, m, 3);
    ck_assert(!lurk_tls12_client_cv_request_encode(&cbb, &in));
    lurk_cbb_cleanup(&cbb);
    ck_assert_str_eq(lurk_tls12_type_name(LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY),
                     "client_certificate_verify");
    free(m);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("tls12_client_cv");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    keys();
    tcase_add_loop_test(tc, real_handshakes_parse, 0, N(kinds));
    tcase_add_loop_test(tc, truncation_at_every_offset, 0, N(kinds));
    tcase_add_test(tc, trailing_bytes);
    tcase_add_test(tc, reordered_and_missing);
    tcase_add_test(tc, rsa_kx_with_server_key_exchange);
    tcase_add_test(tc, server_hello_rewritten);
    tcase_add_test(tc, empty_client_certificate);
    tcase_add_test(tc, digests_are_not_handshakes);
    tcase_add_test(tc, codec);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
