/*
 * Unit tests of the TLS 1.3 handshake-message parsers (lurk/tls13_handshake.h):
 * messages built field by field, so that each test changes one thing, and
 * every malformation a hostile LURK client can put in handshake_context
 * (draft-mglt-lurk-tls13-01 §3.3) is refused. The whole-exchange behaviour
 * on RFC 8448 traces is tested by the daemon suite.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/tls13_handshake.h"

#include "check_run.h"

enum { GROUP_X25519 = 29, GROUP_P256 = 23, SCHEME_PSS = 0x0804, SCHEME_P256 = 0x0403 };

/* What a built ClientHello holds; ch_good() is a well-formed TLS 1.3 one with a PSK. */
struct ch_spec {
    uint8_t type;
    uint16_t legacy_version;
    size_t session_id_len;
    size_t suites_len;
    size_t compression_len;
    bool offer_tls13;
    bool key_share;
    bool repeat_group; /* two KeyShareEntries for one group */
    bool empty_share;  /* a KeyShareEntry with no key_exchange */
    bool psk;
    bool psk_not_last; /* an extension after pre_shared_key */
    size_t n_binders;  /* binders of the one identity offered */
    size_t binder_len;
    bool sig_algs;
    size_t sig_algs_len; /* bytes of the SignatureScheme list */
    bool repeat_ext;     /* early_data twice */
    int len_delta;       /* added to the handshake length field */
    bool trailing;       /* a byte after the message */
};

static struct ch_spec ch_good(void)
{
    return (struct ch_spec){
        .type = 1,
        .legacy_version = 0x0303,
        .session_id_len = 32,
        .suites_len = 6,
        .compression_len = 1,
        .offer_tls13 = true,
        .key_share = true,
        .psk = true,
        .n_binders = 1,
        .binder_len = 32,
        .sig_algs = true,
        .sig_algs_len = 4,
    };
}

static const uint8_t identity[] = {'t', 'i', 'c', 'k', 'e', 't'};
static const uint32_t ticket_age = 0x01020304;

static void add_ext(lurk_cbb *c, uint16_t type, const uint8_t *data, size_t len)
{
    lurk_cbb_add_u16(c, type);
    lurk_cbb_add_prefixed(c, 2, data, len);
}

/* Builds the ClientHello of s into buf; returns its length (the truncated length in *truncated). */
static size_t build_ch(const struct ch_spec *s, uint8_t *buf, size_t cap, size_t *truncated)
{
    uint8_t zeros[64] = {0}, share[32], binder[64];
    lurk_cbb c;
    lurk_cbb_mark body, exts, ext, list;
    size_t len;

    memset(share, 0x55, sizeof(share));
    memset(binder, 0xbb, sizeof(binder));
    lurk_cbb_init_fixed(&c, buf, cap);
    lurk_cbb_add_u8(&c, s->type);
    lurk_cbb_begin(&c, &body, 3);
    lurk_cbb_add_u16(&c, s->legacy_version);
    for (int i = 0; i < LURK_TLS13_HS_RANDOM_LEN; i++)
        lurk_cbb_add_u8(&c, (uint8_t)i);
    lurk_cbb_add_prefixed(&c, 1, zeros, s->session_id_len);
    lurk_cbb_add_prefixed(&c, 2, (const uint8_t *)"\x13\x01\x13\x02\x13\x03", s->suites_len);
    lurk_cbb_add_prefixed(&c, 1, zeros, s->compression_len);
    lurk_cbb_begin(&c, &exts, 2);
    add_ext(&c, LURK_TLS_EXT_SUPPORTED_VERSIONS,
            s->offer_tls13 ? (const uint8_t *)"\x04\x03\x04\x03\x03"
                           : (const uint8_t *)"\x02\x03\x03",
            s->offer_tls13 ? 5 : 3);
    if (s->key_share) {
        lurk_cbb_add_u16(&c, LURK_TLS_EXT_KEY_SHARE);
        lurk_cbb_begin(&c, &ext, 2);
        lurk_cbb_begin(&c, &list, 2);
        lurk_cbb_add_u16(&c, GROUP_X25519);
        lurk_cbb_add_prefixed(&c, 2, share, s->empty_share ? 0 : sizeof(share));
        lurk_cbb_add_u16(&c, s->repeat_group ? GROUP_X25519 : GROUP_P256);
        lurk_cbb_add_prefixed(&c, 2, share, 1);
        lurk_cbb_end(&c, &list);
        lurk_cbb_end(&c, &ext);
    }
    if (s->sig_algs)
        add_ext(&c, LURK_TLS_EXT_SIGNATURE_ALGORITHMS,
                (const uint8_t[]){0, (uint8_t)s->sig_algs_len, 0x08, 0x04, 0x04, 0x03, 0x05},
                2 + s->sig_algs_len);
    add_ext(&c, LURK_TLS_EXT_PSK_KEY_EXCHANGE_MODES, (const uint8_t *)"\x01\x01", 2);
    add_ext(&c, LURK_TLS_EXT_EARLY_DATA, NULL, 0);
    if (s->repeat_ext)
        add_ext(&c, LURK_TLS_EXT_EARLY_DATA, NULL, 0);
    add_ext(&c, LURK_TLS_EXT_POST_HANDSHAKE_AUTH, NULL, 0);
    *truncated = 0;
    if (s->psk) {
        lurk_cbb_add_u16(&c, LURK_TLS_EXT_PRE_SHARED_KEY);
        lurk_cbb_begin(&c, &ext, 2);
        lurk_cbb_begin(&c, &list, 2);
        lurk_cbb_add_prefixed(&c, 2, identity, sizeof(identity));
        lurk_cbb_add_u32(&c, ticket_age);
        lurk_cbb_end(&c, &list);
        *truncated = lurk_cbb_len(&c);
        lurk_cbb_begin(&c, &list, 2);
        for (size_t i = 0; i < s->n_binders; i++)
            lurk_cbb_add_prefixed(&c, 1, binder, s->binder_len);
        lurk_cbb_end(&c, &list);
        lurk_cbb_end(&c, &ext);
        if (s->psk_not_last)
            add_ext(&c, 0xfafa, NULL, 0);
    }
    lurk_cbb_end(&c, &exts);
    lurk_cbb_end(&c, &body);
    ck_assert(lurk_cbb_ok(&c));
    len = lurk_cbb_len(&c);
    if (s->len_delta != 0) {
        uint32_t l = (uint32_t)((int)(len - 4) + s->len_delta);
        buf[1] = (uint8_t)(l >> 16), buf[2] = (uint8_t)(l >> 8), buf[3] = (uint8_t)l;
    }
    if (s->trailing)
        buf[len++] = 0;
    return len;
}

START_TEST(client_hello_fields)
{
    struct ch_spec s = ch_good();
    struct lurk_tls13_hs_client_hello ch;
    uint8_t buf[512];
    size_t truncated, len = build_ch(&s, buf, sizeof(buf), &truncated);
    lurk_cbs m, share, binder, id;
    uint32_t age = 0;

    lurk_cbs_init(&m, buf, len);
    ck_assert(lurk_tls13_hs_parse_client_hello(&m, &ch));
    ck_assert(ch.tls13 && ch.has_key_share && ch.has_psk && ch.has_psk_modes && ch.has_sig_algs);
    ck_assert(ch.psk_dhe_ke && !ch.psk_ke && ch.early_data && ch.post_handshake_auth);
    /* Random follows the 4-byte header and legacy_version. */
    ck_assert_uint_eq(ch.random_off, 6);
    ck_assert_uint_eq(lurk_cbs_len(&ch.random), LURK_TLS13_HS_RANDOM_LEN);
    ck_assert_uint_eq(lurk_cbs_data(&ch.random)[31], 31);
    /* The binders' transcript ends before the binders list (RFC 8446 §4.2.11.2). */
    ck_assert_uint_eq(ch.truncated_len, truncated);
    ck_assert(lurk_tls13_hs_client_key_share(&ch, GROUP_X25519, &share));
    ck_assert_uint_eq(lurk_cbs_len(&share), 32);
    ck_assert(lurk_tls13_hs_client_key_share(&ch, GROUP_P256, &share));
    ck_assert(!lurk_tls13_hs_client_key_share(&ch, 30, &share));
    lurk_cbs_init(&id, identity, sizeof(identity));
    ck_assert_int_eq(lurk_tls13_hs_client_psk_index(&ch, &id, &age), 0);
    ck_assert_uint_eq(age, ticket_age);
    lurk_cbs_init(&id, identity, sizeof(identity) - 1);
    ck_assert_int_eq(lurk_tls13_hs_client_psk_index(&ch, &id, &age), -1);
    ck_assert(lurk_tls13_hs_client_psk_binder(&ch, 0, &binder));
    ck_assert_uint_eq(lurk_cbs_len(&binder), 32);
    ck_assert(!lurk_tls13_hs_client_psk_binder(&ch, 1, &binder));
    ck_assert(lurk_tls13_hs_scheme_listed(&ch.sig_algs, SCHEME_PSS));
    ck_assert(lurk_tls13_hs_scheme_listed(&ch.sig_algs, SCHEME_P256));
    ck_assert(!lurk_tls13_hs_scheme_listed(&ch.sig_algs, 0x0807));
}
END_TEST

START_TEST(client_hello_without_psk)
{
    struct ch_spec s = ch_good();
    struct lurk_tls13_hs_client_hello ch;
    uint8_t buf[512];
    size_t truncated, len;
    lurk_cbs m, binder;

    s.psk = false;
    len = build_ch(&s, buf, sizeof(buf), &truncated);
    lurk_cbs_init(&m, buf, len);
    ck_assert(lurk_tls13_hs_parse_client_hello(&m, &ch));
    ck_assert(!ch.has_psk);
    ck_assert(!lurk_tls13_hs_client_psk_binder(&ch, 0, &binder));
}
END_TEST

/* One change each that makes the ClientHello not well-formed RFC 8446. */
static void bad_type(struct ch_spec *s)
{
    s->type = 2;
}
static void bad_version(struct ch_spec *s)
{
    s->legacy_version = 0x0304;
}
static void long_session_id(struct ch_spec *s)
{
    s->session_id_len = 33;
}
static void no_suites(struct ch_spec *s)
{
    s->suites_len = 0;
}
static void odd_suites(struct ch_spec *s)
{
    s->suites_len = 3;
}
static void two_compressions(struct ch_spec *s)
{
    s->compression_len = 2;
}
static void no_tls13(struct ch_spec *s)
{
    s->offer_tls13 = false;
}
static void repeated_group(struct ch_spec *s)
{
    s->repeat_group = true;
}
static void empty_share(struct ch_spec *s)
{
    s->empty_share = true;
}
static void psk_not_last(struct ch_spec *s)
{
    s->psk_not_last = true;
}
static void no_binder(struct ch_spec *s)
{
    s->n_binders = 0;
}
static void two_binders(struct ch_spec *s)
{
    s->n_binders = 2;
}
static void short_binder(struct ch_spec *s)
{
    s->binder_len = 31;
}
static void odd_sig_algs(struct ch_spec *s)
{
    s->sig_algs_len = 3;
}
static void empty_sig_algs(struct ch_spec *s)
{
    s->sig_algs_len = 0;
}
static void repeated_extension(struct ch_spec *s)
{
    s->repeat_ext = true;
}
static void length_too_long(struct ch_spec *s)
{
    s->len_delta = 1;
}
static void length_too_short(struct ch_spec *s)
{
    s->len_delta = -1;
}
static void trailing_byte(struct ch_spec *s)
{
    s->trailing = true;
}

static void (*const ch_breakers[])(struct ch_spec *) = {
    bad_type,           bad_version,     long_session_id,  no_suites,     odd_suites,
    two_compressions,   no_tls13,        repeated_group,   empty_share,   psk_not_last,
    no_binder,          two_binders,     short_binder,     odd_sig_algs,  empty_sig_algs,
    repeated_extension, length_too_long, length_too_short, trailing_byte,
};

START_TEST(client_hello_malformed_is_refused)
{
    struct ch_spec s = ch_good();
    struct lurk_tls13_hs_client_hello ch;
    uint8_t buf[512];
    size_t truncated, len;
    lurk_cbs m;

    ch_breakers[_i](&s);
    len = build_ch(&s, buf, sizeof(buf), &truncated);
    lurk_cbs_init(&m, buf, len);
    ck_assert_msg(!lurk_tls13_hs_parse_client_hello(&m, &ch), "malformation %d accepted", _i);
}
END_TEST

/* Every strict prefix of a good ClientHello is refused without reading past it. */
START_TEST(client_hello_truncations_are_refused)
{
    struct ch_spec s = ch_good();
    struct lurk_tls13_hs_client_hello ch;
    uint8_t buf[512];
    size_t truncated, len = build_ch(&s, buf, sizeof(buf), &truncated);

    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        lurk_cbs m;
        memcpy(copy, buf, n);
        lurk_cbs_init(&m, copy, n);
        ck_assert_msg(!lurk_tls13_hs_parse_client_hello(&m, &ch), "prefix %zu accepted", n);
        free(copy);
    }
}
END_TEST

/* A ServerHello (or HelloRetryRequest) with the given key share; share_len 0 leaves it empty. */
static size_t build_sh(bool hrr, size_t share_len, bool psk, uint8_t *buf, size_t cap)
{
    static const uint8_t hrr_random[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
        0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
        0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    };
    uint8_t random[32], share[97];
    lurk_cbb c;
    lurk_cbb_mark body, exts, ext;

    memset(random, 0x11, sizeof(random));
    memset(share, 0x66, sizeof(share));
    lurk_cbb_init_fixed(&c, buf, cap);
    lurk_cbb_add_u8(&c, 2);
    lurk_cbb_begin(&c, &body, 3);
    lurk_cbb_add_u16(&c, 0x0303);
    lurk_cbb_add_bytes(&c, hrr ? hrr_random : random, 32);
    lurk_cbb_add_prefixed(&c, 1, random, 32);
    lurk_cbb_add_u16(&c, 0x1301);
    lurk_cbb_add_u8(&c, 0);
    lurk_cbb_begin(&c, &exts, 2);
    add_ext(&c, LURK_TLS_EXT_SUPPORTED_VERSIONS, (const uint8_t *)"\x03\x04", 2);
    lurk_cbb_add_u16(&c, LURK_TLS_EXT_KEY_SHARE);
    lurk_cbb_begin(&c, &ext, 2);
    lurk_cbb_add_u16(&c, GROUP_P256);
    if (!hrr)
        lurk_cbb_add_prefixed(&c, 2, share, share_len);
    lurk_cbb_end(&c, &ext);
    if (psk)
        add_ext(&c, LURK_TLS_EXT_PRE_SHARED_KEY, (const uint8_t *)"\x00\x00", 2);
    lurk_cbb_end(&c, &exts);
    lurk_cbb_end(&c, &body);
    ck_assert(lurk_cbb_ok(&c));
    return lurk_cbb_len(&c);
}

START_TEST(server_hello_and_hrr)
{
    struct lurk_tls13_hs_server_hello sh;
    uint8_t buf[512];
    size_t len = build_sh(false, 65, true, buf, sizeof(buf));
    lurk_cbs m;

    lurk_cbs_init(&m, buf, len);
    ck_assert(lurk_tls13_hs_parse_server_hello(&m, &sh));
    ck_assert(sh.tls13 && !sh.hrr && sh.has_key_share && sh.has_psk);
    ck_assert_uint_eq(sh.cipher_suite, 0x1301);
    ck_assert_uint_eq(sh.group, GROUP_P256);
    ck_assert_uint_eq(lurk_cbs_len(&sh.key_exchange), 65);
    ck_assert_uint_eq(sh.selected_identity, 0);

    len = build_sh(true, 0, false, buf, sizeof(buf));
    lurk_cbs_init(&m, buf, len);
    ck_assert(lurk_tls13_hs_parse_server_hello(&m, &sh));
    ck_assert(sh.hrr && sh.has_key_share);
    ck_assert_uint_eq(sh.group, GROUP_P256); /* selected_group */
    /* A HelloRetryRequest never selects a PSK (RFC 8446 §4.1.4). */
    len = build_sh(true, 0, true, buf, sizeof(buf));
    lurk_cbs_init(&m, buf, len);
    ck_assert(!lurk_tls13_hs_parse_server_hello(&m, &sh));
    for (size_t n = 0; n + 1 < len; n++) {
        lurk_cbs_init(&m, buf, n);
        ck_assert(!lurk_tls13_hs_parse_server_hello(&m, &sh));
    }
}
END_TEST

/* secret_generated (protocol.md T10): lurkd puts its share into an empty key_exchange. */
START_TEST(server_hello_fill_share_grows_every_length)
{
    struct lurk_tls13_hs_server_hello sh, filled;
    uint8_t buf[512], out[512], share[65], expect[512];
    size_t len = build_sh(false, 0, false, buf, sizeof(buf)), out_len;
    lurk_cbs m;

    memset(share, 0x66, sizeof(share));
    lurk_cbs_init(&m, buf, len);
    ck_assert(lurk_tls13_hs_parse_server_hello(&m, &sh));
    ck_assert_uint_eq(lurk_cbs_len(&sh.key_exchange), 0);
    ck_assert(lurk_tls13_hs_server_hello_fill_share(&sh, share, sizeof(share), out, sizeof(out),
                                                    &out_len));
    /* Byte for byte the ServerHello built with that share in the first place. */
    ck_assert_uint_eq(out_len, build_sh(false, sizeof(share), false, expect, sizeof(expect)));
    ck_assert_mem_eq(out, expect, out_len);
    lurk_cbs_init(&m, out, out_len);
    ck_assert(lurk_tls13_hs_parse_server_hello(&m, &filled));
    ck_assert_uint_eq(lurk_cbs_len(&filled.key_exchange), sizeof(share));
    /* Not into a share that is already there, nor past the output buffer. */
    ck_assert(!lurk_tls13_hs_server_hello_fill_share(&filled, share, sizeof(share), buf,
                                                     sizeof(buf), &out_len));
    ck_assert(
        !lurk_tls13_hs_server_hello_fill_share(&sh, share, sizeof(share), out, len + 10, &out_len));
}
END_TEST

START_TEST(other_messages)
{
    static const uint8_t ee_early[] = {0, 4, 0, 42, 0, 0};
    static const uint8_t ee_bad[] = {0, 5, 0, 42, 0, 1, 0};
    static const uint8_t cr[] = {1, 0xaa, 0, 8, 0, 13, 0, 4, 0, 2, 0x08, 0x04};
    static const uint8_t cr_no_sig_algs[] = {0, 0, 4, 0, 42, 0, 0};
    static const uint8_t cert_empty[] = {0, 0, 0, 0};
    static const uint8_t cert_one[] = {0, 0, 0, 7, 0, 0, 2, 0x30, 0x00, 0, 0};
    static const uint8_t cert_zero_len[] = {0, 0, 0, 5, 0, 0, 0, 0, 0};
    static const uint8_t ticket_ext[] = {0, 42, 0, 4, 0, 0, 0x40, 0};
    static const uint8_t ticket_ext_bad[] = {0, 42, 0, 2, 0, 0};
    lurk_cbs b, context, sig_algs;
    bool flag;
    uint32_t max;

    lurk_cbs_init(&b, ee_early, sizeof(ee_early));
    ck_assert(lurk_tls13_hs_parse_encrypted_extensions(&b, &flag) && flag);
    lurk_cbs_init(&b, ee_bad, sizeof(ee_bad));
    ck_assert(!lurk_tls13_hs_parse_encrypted_extensions(&b, &flag));

    lurk_cbs_init(&b, cr, sizeof(cr));
    ck_assert(lurk_tls13_hs_parse_certificate_request(&b, &context, &sig_algs));
    ck_assert_uint_eq(lurk_cbs_len(&context), 1);
    ck_assert(lurk_tls13_hs_scheme_listed(&sig_algs, SCHEME_PSS));
    /* RFC 8446 §4.3.2: signature_algorithms is required. */
    lurk_cbs_init(&b, cr_no_sig_algs, sizeof(cr_no_sig_algs));
    ck_assert(!lurk_tls13_hs_parse_certificate_request(&b, &context, &sig_algs));

    lurk_cbs_init(&b, cert_empty, sizeof(cert_empty));
    ck_assert(lurk_tls13_hs_parse_certificate(&b, &flag) && flag);
    lurk_cbs_init(&b, cert_one, sizeof(cert_one));
    ck_assert(lurk_tls13_hs_parse_certificate(&b, &flag) && !flag);
    lurk_cbs_init(&b, cert_zero_len, sizeof(cert_zero_len));
    ck_assert(!lurk_tls13_hs_parse_certificate(&b, &flag));

    lurk_cbs_init(&b, ticket_ext, sizeof(ticket_ext));
    ck_assert(lurk_tls13_hs_ticket_max_early_data(&b, &max));
    ck_assert_uint_eq(max, 0x4000);
    lurk_cbs_init(&b, ticket_ext_bad, sizeof(ticket_ext_bad));
    ck_assert(!lurk_tls13_hs_ticket_max_early_data(&b, &max));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls13_handshake");
    TCase *tc = tcase_create("tls13_handshake");
    tcase_add_test(tc, client_hello_fields);
    tcase_add_test(tc, client_hello_without_psk);
    tcase_add_loop_test(tc, client_hello_malformed_is_refused, 0,
                        sizeof(ch_breakers) / sizeof(ch_breakers[0]));
    tcase_add_test(tc, client_hello_truncations_are_refused);
    tcase_add_test(tc, server_hello_and_hrr);
    tcase_add_test(tc, server_hello_fill_share_grows_every_length);
    tcase_add_test(tc, other_messages);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
