/*
 * Every way a tls13 request is refused, against a real lurkd: each TLS13
 * status lurkd can produce (protocol.md table), wrong exchange order,
 * unknown sessions, wrong and replayed cookies, another peer's session, a
 * second ephemeral, psk_id where Figure 6 forbids it, and that a refused
 * request leaves its session as it was. Statuses 6 (invalid_h_opaque) and
 * 7 (invalid_ctx_type) are named by -01 and never used; 2
 * (undefined_error) is only for internal failures.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/hex.h"
#include "tls13_test.h"

static struct lurkd_proc lurkd;
static char tls_addr[128];
static struct t13_rfc rfc;
static EVP_PKEY *rsa, *ed25519, *p256, *rsa2048;
static struct t13_buf ed_cert; /* Certificate body of the ed25519 key */

#define KR(x) LURK_TLS13_KR_##x
#define ST(x) LURK_TLS13_STATUS_##x

static void cert_body(struct t13_buf *b, const char *pki_cert)
{
    char *pem = lurk_test_read_file(lurk_test_pki(pki_cert), NULL);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);

    ck_assert_int_gt(len, 0);
    t13_add_u8(b, 0);
    t13_add_u24(b, (uint32_t)(3 + len + 2));
    t13_add_u24(b, (uint32_t)len);
    t13_add(b, der, (size_t)len);
    t13_add_u16(b, 0);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(pem);
}

static const uint8_t *simple(const char *path, size_t *len);

static void setup(void)
{
    char extra[4096], key_path[400], cert_path[400];

    t13_rfc_load(&rfc);
    ck_assert(lurk_test_lurkd_init(&lurkd));
    const char *pem = lurk_jsondoc_path_string(rfc.simple, "server_rsa_key.pem_pkcs8");
    rsa = dc_key_from_pem(pem);
    snprintf(key_path, sizeof(key_path), "%s", t13_write_pem_key(&lurkd, "rfc-rsa.key", pem));
    size_t cl;
    const uint8_t *cert = simple("messages.certificate", &cl);
    const uint8_t *der = t13_cert_der(cert + 4, cl - 4, &cl);
    snprintf(cert_path, sizeof(cert_path), "%s",
             t13_write_cert_der(&lurkd, "rfc-rsa.crt", der, cl));
    ed25519 = dc_load_key(lurk_test_pki("server-ed25519.key"));
    p256 = dc_load_key(lurk_test_pki("server-p256.key"));
    rsa2048 = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    memset(&ed_cert, 0, sizeof(ed_cert));
    cert_body(&ed_cert, "server-ed25519.crt");
    snprintf(extra, sizeof(extra),
             "[key.rfc]\nsource = %s\ncertificate = %s\nclients = local\nexchanges = tls13\n"
             "null_freshness = yes\n"
             "[key.ed25519]\nsource = %s\ncertificate = %s\nclients = local, client1\n"
             "exchanges = tls13\n"
             "[key.p256]\nsource = %s\nclients = local\nexchanges = sign_certificate_verify\n"
             "[key.rsa2048]\nsource = %s\nclients = local\nexchanges = tls13\n"
             "null_freshness = yes\n"
             "[psk.ext]\nidentity = external psk one\n"
             "secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
             "clients = local\n"
             "[tls13]\nnull_freshness = yes\nmax_tickets = 2\n",
             key_path, cert_path, lurk_test_pki("server-ed25519.key"),
             lurk_test_pki("server-ed25519.crt"), lurk_test_pki("server-p256.key"),
             lurk_test_pki("server-rsa2048.key"));
    dc_start(&lurkd, NULL, extra, NULL, tls_addr, sizeof(tls_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed25519);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa2048);
    t13_buf_free(&ed_cert);
    t13_rfc_free(&rfc);
}

static const uint8_t *simple(const char *path, size_t *len)
{
    return t13_rfc_hex(&rfc, rfc.simple, path, len);
}

/* The RFC 8448 §3 ClientHello .. EncryptedExtensions. */
static void rfc_hello(struct t13_buf *b)
{
    static const char *const paths[] = {"messages.client_hello", "messages.server_hello",
                                        "messages.encrypted_extensions", NULL};
    size_t len;
    for (const char *const *p = paths; *p; p++) {
        const uint8_t *m = simple(*p, &len);
        t13_add(b, m, len);
    }
}

/* A valid init_certificate_verify on the RFC's §3 handshake with the RFC's key. */
static void rfc_icv(struct lurk_tls13_request *r, struct t13_buf *ctx)
{
    size_t len;
    const uint8_t *cert = simple("messages.certificate", &len);

    rfc_hello(ctx);
    t13_req(r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, KR(H_C) | KR(H_S));
    t13_req_ctx(r);
    t13_req_context(r, ctx);
    t13_req_ephemeral(r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      simple("server_x25519_private", NULL), 32);
    t13_req_freshness(r, LURK_FRESHNESS_NULL);
    t13_req_signing(r, rsa, 0x0804, false, cert + 4, len - 4);
}

/* A client session after init_handshake_secret on a handshake built here. */
struct client_hs {
    struct t13_share client, server;
    struct t13_buf ch, sh;
    struct t13_session s;
};

static void client_open(struct lurk_conn *c, struct client_hs *h, bool post_handshake_auth)
{
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_buf ctx = {0};

    memset(h, 0, sizeof(*h));
    t13_share_new(&h->client, 29);
    t13_share_new(&h->server, 29);
    struct t13_ch_opts o = {.group = 29,
                            .share = h->client.pub,
                            .share_len = 32,
                            .psk_modes = true,
                            .post_handshake_auth = post_handshake_auth};
    t13_build_ch(&h->ch, &o);
    t13_build_sh(&h->sh, NULL, 0x1301, 29, h->server.pub, 32, false, 0);
    t13_add(&ctx, h->ch.p, h->ch.n);
    t13_add(&ctx, h->sh.p, h->sh.n);
    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, h->client.priv, 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&h->s, &r, &resp);
    t13_resp_free(&resp);
    t13_buf_free(&ctx);
}

static void client_free(struct client_hs *h)
{
    t13_share_free(&h->client);
    t13_share_free(&h->server);
    t13_buf_free(&h->ch);
    t13_buf_free(&h->sh);
}

/* Audit notes the refusals must carry (substrings), checked in one pass. */
static struct {
    uint64_t id;
    const char *note;
} notes[64];
static size_t n_notes;

static void check_notes(void)
{
    char needle[64];
    char *text;

    if (n_notes == 0)
        return;
    snprintf(needle, sizeof(needle), "\"id\":\"%016" PRIx64 "\"", notes[n_notes - 1].id);
    ck_assert(lurk_test_wait_for(lurkd.audit, needle, 5000));
    text = lurk_test_read_file(lurkd.audit, NULL);
    ck_assert(text != NULL);
    for (size_t i = 0; i < n_notes; i++) {
        snprintf(needle, sizeof(needle), "\"id\":\"%016" PRIx64 "\"", notes[i].id);
        char *line = strstr(text, needle);
        ck_assert_msg(line != NULL, "no audit line for %s", needle);
        char *end = strchr(line, '\n');
        char *found = strstr(line, notes[i].note);
        ck_assert_msg(found != NULL && (end == NULL || found < end),
                      "audit line of %s without \"%s\"", needle, notes[i].note);
    }
    free(text);
    n_notes = 0;
}

/* Sends r, expects status st (designation tls13), and the audit note to contain note. */
static void expect(struct lurk_conn *c, const struct lurk_tls13_request *r, uint8_t st,
                   const char *note)
{
    struct t13_resp resp;

    ck_assert_msg(t13_call(c, r, &resp) == st, "type %u: status %u (%s), expected %u (%s)", r->type,
                  resp.status, lurk_tls13_status_name(resp.status), st, lurk_tls13_status_name(st));
    ck_assert_uint_eq(resp.designation, LURK_DESIGNATION_TLS13);
    /* lurk-lurk §4.2 error payload: the 4-byte lurk_state. */
    ck_assert_uint_eq(lurk_cbs_len(&resp.raw.msg.payload), 4);
    if (note != NULL) {
        ck_assert_uint_lt(n_notes, sizeof(notes) / sizeof(notes[0]));
        notes[n_notes].id = resp.raw.msg.hdr.id;
        notes[n_notes++].note = note;
    }
    t13_resp_free(&resp);
}

/* Sends an encoded request with one byte changed (values the encoder refuses to write). */
static uint8_t send_patched(struct lurk_conn *c, const struct lurk_tls13_request *r,
                            const uint8_t *find, size_t find_len, size_t at, uint8_t value)
{
    uint8_t payload[4096];
    struct lurk_response resp;
    lurk_cbb cbb;
    uint8_t st;
    size_t i;

    lurk_cbb_init_fixed(&cbb, payload, sizeof(payload));
    ck_assert(lurk_tls13_request_encode(&cbb, r));
    for (i = 0; i + find_len <= lurk_cbb_len(&cbb); i++)
        if (memcmp(payload + i, find, find_len) == 0)
            break;
    ck_assert_uint_le(i + find_len, lurk_cbb_len(&cbb));
    payload[i + at] = value;
    st = dc_call(c, LURK_DESIGNATION_TLS13, r->type, payload, lurk_cbb_len(&cbb), &resp);
    lurk_response_free(&resp);
    return st;
}

START_TEST(codec_statuses)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_buf ctx = {0};
    struct t13_resp resp;

    /* 3 invalid_payload_format: a truncated payload. */
    static const uint8_t cut[] = {0x80, 0x00, 0x00};
    ck_assert_uint_eq(
        dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_BINDER_KEY, cut, sizeof(cut), &resp.raw),
        ST(INVALID_PAYLOAD_FORMAT));
    lurk_response_free(&resp.raw);
    /* 5 invalid_freshness_funct: a function tls13 does not know (extension 03 0001 ff -> 01). */
    static const uint8_t fresh_null[] = {0x03, 0x00, 0x01, 0xff};
    rfc_icv(&r, &ctx);
    ck_assert_uint_eq(send_patched(c, &r, fresh_null, 4, 3, 1), ST(INVALID_FRESHNESS_FUNCT));
    /* 9 invalid_key_id_type: the KeyPairID type byte. */
    uint8_t key_id[5] = {0};
    memcpy(key_id + 1, r.signing.key_id.id, 4);
    ck_assert_uint_eq(send_patched(c, &r, key_id, 5, 0, 1), ST(INVALID_KEY_ID_TYPE));
    /* 19 invalid_cookie_h: cookie_h other than sha256 (the first byte). */
    uint8_t head[5] = {0x00, (uint8_t)(r.ctx.lurk_client_session_id >> 24),
                       (uint8_t)(r.ctx.lurk_client_session_id >> 16),
                       (uint8_t)(r.ctx.lurk_client_session_id >> 8),
                       (uint8_t)r.ctx.lurk_client_session_id};
    ck_assert_uint_eq(send_patched(c, &r, head, 5, 0, 1), ST(INVALID_COOKIE_H));
    /* 12 invalid_certificate_type: the LURKCertificateType byte after sig_algo 0804. */
    uint8_t sig_type[7];
    memcpy(sig_type, key_id, 5);
    sig_type[5] = 0x08, sig_type[6] = 0x04;
    uint8_t with_type[8];
    memcpy(with_type, sig_type, 7);
    with_type[7] = 0x00;
    ck_assert_uint_eq(send_patched(c, &r, with_type, 8, 7, 7), ST(INVALID_CERTIFICATE_TYPE));
    t13_buf_free(&ctx);
    lurk_conn_close(c);
}
END_TEST

START_TEST(figure_rules)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_buf ctx = {0};

    /* 15 invalid_key_request: b missing in binder_key; e_s in init_certificate_verify (Fig. 3). */
    t13_req(&r, LURK_TLS13_TYPE_BINDER_KEY, KR(H_C));
    t13_req_psk(&r, (const uint8_t *)"external psk one", 16, 0);
    expect(c, &r, ST(INVALID_KEY_REQUEST), "Figure 3");
    rfc_icv(&r, &ctx);
    r.secrets.key_request |= KR(E_S);
    expect(c, &r, ST(INVALID_KEY_REQUEST), "Figure 3");
    /* psk_id where Figure 6 forbids it: invalid_payload_format (T7). */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_req_psk(&r, (const uint8_t *)"external psk one", 16, 0);
    expect(c, &r, ST(INVALID_PAYLOAD_FORMAT), "Figure 6");
    /* 17 invalid_extension: the mandatory ephemeral missing (Figure 5). */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    r.secrets.extensions.ext[0] = r.secrets.extensions.ext[1];
    r.secrets.extensions.n = 1;
    expect(c, &r, ST(INVALID_EXTENSION), "Figures 5-7");
    /* 4 invalid_psk: an identity PSK_DB does not have. */
    t13_req(&r, LURK_TLS13_TYPE_BINDER_KEY, KR(B));
    t13_req_psk(&r, (const uint8_t *)"nobody", 6, 0);
    expect(c, &r, ST(INVALID_PSK), "unknown");
    /* ... and a good one works, with its external binder label (ext binder). */
    {
        struct t13_resp resp;
        struct lurk_tls13_keysched ks;
        uint8_t bk[32], secret[32];
        for (int i = 0; i < 32; i++)
            secret[i] = (uint8_t)i;
        t13_req(&r, LURK_TLS13_TYPE_BINDER_KEY, KR(B));
        t13_req_psk(&r, (const uint8_t *)"external psk one", 16, 0);
        ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
        ck_assert(lurk_tls13_keysched_init(&ks, NULL, "SHA256"));
        ck_assert(lurk_tls13_keysched_extract_early(&ks, secret, 32));
        ck_assert(lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_EXTERNAL, bk));
        lurk_tls13_keysched_cleanup(&ks);
        t13_expect_secret(&resp, LURK_TLS13_SECRET_BINDER_KEY, bk, 32);
        t13_resp_free(&resp);
    }
    t13_buf_free(&ctx);
    check_notes();
    lurk_conn_close(c);
}
END_TEST

START_TEST(signing_statuses)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_buf ctx = {0};
    size_t len;
    const uint8_t *cert = simple("messages.certificate", &len);

    /* 10 invalid_key_id: an unknown key, and a key without the tls13 exchange. */
    rfc_icv(&r, &ctx);
    r.signing.key_id.id[0] ^= 0xff;
    expect(c, &r, ST(INVALID_KEY_ID), "unknown key");
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    dc_key_id(p256, r.signing.key_id.id);
    expect(c, &r, ST(INVALID_KEY_ID), "exchange not allowed");
    /* 11 invalid_signature_scheme: a scheme of another key type; one the ClientHello lacks. */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    r.signing.sig_algo = 0x0403;
    expect(c, &r, ST(INVALID_SIGNATURE_SCHEME), "does not fit");
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    r.signing.sig_algo = 0x0809; /* rsa_pss_pss needs an RSA-PSS key: refused as not fitting */
    expect(c, &r, ST(INVALID_SIGNATURE_SCHEME), NULL);
    /* 13 invalid_certificate: another key's certificate; a hash_cert of no certificate. */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_req_signing(&r, rsa, 0x0804, false, ed_cert.p, ed_cert.n);
    expect(c, &r, ST(INVALID_CERTIFICATE), "does not match the key");
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_req_signing(&r, rsa2048, 0x0804, true, cert + 4, len - 4); /* the key has no certificate */
    expect(c, &r, ST(INVALID_CERTIFICATE), "sha256_32 certificate but the key has none");
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_req_signing(&r, rsa, 0x0804, true, ed_cert.p, ed_cert.n); /* not the RFC key's */
    expect(c, &r, ST(INVALID_CERTIFICATE), "hash_cert");
    /* 14 invalid_certificate_verify: PSS with SHA-512 does not fit a 1024-bit modulus. */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    r.signing.sig_algo = 0x0806;
    expect(c, &r, ST(INVALID_CERTIFICATE_VERIFY), "signing failed");
    /* 5 invalid_freshness_funct by policy: null with a key whose null_freshness is off. */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_req_signing(&r, ed25519, 0x0807, false, ed_cert.p, ed_cert.n);
    expect(c, &r, ST(INVALID_FRESHNESS_FUNCT), "null_freshness");
    t13_buf_free(&ctx);
    check_notes();
    lurk_conn_close(c);
}
END_TEST

START_TEST(handshake_and_ephemeral_statuses)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_buf ctx = {0}, sh = {0};
    struct t13_share k;
    size_t len;

    /* 16 invalid_handshake: a ServerHello selecting a PSK in init_certificate_verify (§4.2). */
    const uint8_t *ch = simple("messages.client_hello", &len);
    t13_add(&ctx, ch, len);
    t13_build_sh(&sh, NULL, 0x1301, 29, simple("server_x25519_public", NULL), 32, true, 0);
    t13_add(&ctx, sh.p, sh.n);
    const uint8_t *ee = simple("messages.encrypted_extensions", &len);
    t13_add(&ctx, ee, len);
    {
        size_t cl;
        const uint8_t *cert = simple("messages.certificate", &cl);
        t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, KR(H_C) | KR(H_S));
        t13_req_ctx(&r);
        t13_req_context(&r, &ctx);
        t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                          simple("server_x25519_private", NULL), 32);
        t13_req_freshness(&r, LURK_FRESHNESS_NULL);
        t13_req_signing(&r, rsa, 0x0804, false, cert + 4, cl - 4);
    }
    expect(c, &r, ST(INVALID_HANDSHAKE), "does not select ECDHE");
    /* 18 invalid_ephemeral: a private key that is not the ServerHello's key share. */
    ctx.n = 0;
    rfc_icv(&r, &ctx);
    t13_share_new(&k, 29);
    r.secrets.extensions.ext[0].ephemeral.secret.data = k.priv;
    expect(c, &r, ST(INVALID_EPHEMERAL), "not the private key");
    /* ... a key of the wrong length for the group. */
    r.secrets.extensions.ext[0].ephemeral.secret.len = 31;
    expect(c, &r, ST(INVALID_EPHEMERAL), NULL);
    t13_share_free(&k);
    /* ... and secret_generated on the client role (T10). */
    {
        struct client_hs h;
        struct t13_buf c2 = {0};
        memset(&h, 0, sizeof(h));
        t13_share_new(&h.client, 29);
        struct t13_ch_opts o = {.group = 29, .share = h.client.pub, .share_len = 32};
        t13_build_ch(&h.ch, &o);
        t13_build_sh(&h.sh, NULL, 0x1301, 29, NULL, 0, false, 0);
        t13_add(&c2, h.ch.p, h.ch.n);
        t13_add(&c2, h.sh.p, h.sh.n);
        t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
        t13_req_ctx(&r);
        t13_req_context(&r, &c2);
        t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_GENERATED, NULL, 0);
        t13_req_freshness(&r, LURK_FRESHNESS_NULL);
        expect(c, &r, ST(INVALID_EPHEMERAL), "client role");
        /* 16 invalid_handshake: the server's X25519 share is a point of small order (zero). */
        static const uint8_t zero_share[32];
        t13_buf_free(&c2);
        t13_buf_free(&h.sh);
        t13_build_sh(&h.sh, NULL, 0x1301, 29, zero_share, 32, false, 0);
        t13_add(&c2, h.ch.p, h.ch.n);
        t13_add(&c2, h.sh.p, h.sh.n);
        t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
        t13_req_ctx(&r);
        t13_req_context(&r, &c2);
        t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, h.client.priv, 32);
        t13_req_freshness(&r, LURK_FRESHNESS_NULL);
        expect(c, &r, ST(INVALID_HANDSHAKE), "the peer's key share is not a valid public key");
        t13_buf_free(&c2);
        client_free(&h);
    }
    t13_buf_free(&ctx);
    t13_buf_free(&sh);
    check_notes();
    lurk_conn_close(c);
}
END_TEST

/*
 * Sessions: unknown id, wrong cookie (the session stays usable), replayed
 * cookie, exchange out of order, a second ephemeral, another peer's
 * session, post_handshake without post_handshake_auth, a bad Finished, a
 * stateless init_certificate_verify.
 */
START_TEST(session_statuses)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct client_hs h;
    struct t13_buf ctx = {0};
    static const uint8_t ee[] = {0x08, 0x00, 0x00, 0x02, 0x00, 0x00};

    client_open(c, &h, false);
    /* Unknown session id. */
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C));
    t13_req_session(&r, &h.s);
    r.session.session_id ^= 1;
    expect(c, &r, ST(INVALID_REQUEST), "unknown session");
    /* Wrong cookie. */
    t13_req_session(&r, &h.s);
    r.session.cookie ^= 1;
    expect(c, &r, ST(INVALID_REQUEST), "wrong cookie");
    /* Out of order: handshake_secret follows early_secret only. */
    t13_req(&r, LURK_TLS13_TYPE_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_session(&r, &h.s);
    t13_add(&ctx, h.sh.p, h.sh.n);
    t13_req_context(&r, &ctx);
    expect(c, &r, ST(INVALID_REQUEST), "out of order");
    /* A second ephemeral in the session (§3.4.1): checked before the order. */
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, h.client.priv, 32);
    expect(c, &r, ST(INVALID_EPHEMERAL), "second ephemeral");
    /* Another peer may not use the session, even with the right cookie. */
    {
        struct lurk_conn *other = dc_connect(tls_addr, 1);
        t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C));
        t13_req_session(&r, &h.s);
        expect(other, &r, ST(INVALID_REQUEST), "unknown session");
        lurk_conn_close(other);
    }
    /* A server Finished that does not verify: invalid_handshake, the session unchanged. */
    ctx.n = 0;
    t13_add(&ctx, ee, sizeof(ee));
    size_t len;
    const uint8_t *cert = simple("messages.certificate", &len);
    static const uint8_t cv[] = {0x0f, 0x00, 0x00, 0x06, 0x08, 0x07, 0x00, 0x02, 0xab, 0xcd};
    t13_add(&ctx, cert, len);
    t13_add(&ctx, cv, sizeof(cv));
    uint8_t bad[32] = {0};
    t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, bad, 32);
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C));
    t13_req_session(&r, &h.s);
    t13_req_context(&r, &ctx);
    expect(c, &r, ST(INVALID_HANDSHAKE), "server Finished does not verify");
    /* The right Finished, with the cookie that was right all along, now succeeds. */
    {
        uint8_t shared[32], zeros[32] = {0}, early[32], derived[32], hs[32], s_hs[32], empty[32];
        struct t13_buf tr = {0};
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
        t13_share_derive(&h.client, h.server.pub, 32, shared);
        ck_assert(lurk_tls13_hkdf_extract(NULL, md, NULL, 0, zeros, 32, early));
        t13_hash("SHA256", NULL, 0, empty);
        ck_assert(lurk_tls13_derive_secret(NULL, md, early, "derived", empty, derived));
        ck_assert(lurk_tls13_hkdf_extract(NULL, md, derived, 32, shared, 32, hs));
        t13_add(&tr, h.ch.p, h.ch.n);
        t13_add(&tr, h.sh.p, h.sh.n);
        t13_derive("SHA256", hs, "s hs traffic", tr.p, tr.n, s_hs);
        t13_add(&tr, ctx.p, ctx.n - 36);
        t13_finished("SHA256", s_hs, tr.p, tr.n, ctx.p + ctx.n - 32);
        t13_buf_free(&tr);
        EVP_MD_free(md);
    }
    uint32_t first_cookie = t13_cs_cookie(&h.s);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&h.s, &resp.r.session);
    t13_resp_free(&resp);
    /* Replayed cookie: the same request again. */
    ck_assert_uint_eq(r.session.cookie, first_cookie);
    expect(c, &r, ST(INVALID_REQUEST), "wrong cookie");
    /* post_handshake needs the client Finished first (out of order) ... */
    {
        static const uint8_t cr[] = {0x0d, 0x00, 0x00, 0x0c, 0x01, 0x42, 0x00, 0x08,
                                     0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x08, 0x07};
        struct t13_buf crb = {0};
        t13_add(&crb, cr, sizeof(cr));
        t13_req(&r, LURK_TLS13_TYPE_POST_HANDSHAKE, 0);
        t13_req_session(&r, &h.s);
        t13_req_context(&r, &crb);
        t13_req_signing(&r, ed25519, 0x0807, true, ed_cert.p, ed_cert.n);
        expect(c, &r, ST(INVALID_REQUEST), "out of order");
        /* ... and a register_session_ticket with a wrong client Finished is refused. */
        struct lurk_tls13_request reg;
        struct t13_buf fin = {0};
        t13_add_msg(&fin, LURK_TLS13_HS_FINISHED, bad, 32);
        t13_req(&reg, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, 0);
        t13_req_session(&reg, &h.s);
        t13_req_context(&reg, &fin);
        expect(c, &reg, ST(INVALID_HANDSHAKE), "client Finished does not verify");
        t13_buf_free(&fin);
        t13_buf_free(&crb);
    }
    client_free(&h);

    /* A session without post_handshake_auth: post_handshake is invalid_handshake (§5.8). */
    {
        struct t13_resp rr;
        uint8_t shared[32], zeros[32] = {0}, early[32], derived[32], hs[32], c_hs[32], s_hs[32];
        uint8_t empty[32], fin[32];
        struct t13_buf tr = {0}, body = {0};
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
        client_open(c, &h, false);
        t13_share_derive(&h.client, h.server.pub, 32, shared);
        ck_assert(lurk_tls13_hkdf_extract(NULL, md, NULL, 0, zeros, 32, early));
        t13_hash("SHA256", NULL, 0, empty);
        ck_assert(lurk_tls13_derive_secret(NULL, md, early, "derived", empty, derived));
        ck_assert(lurk_tls13_hkdf_extract(NULL, md, derived, 32, shared, 32, hs));
        t13_add(&tr, h.ch.p, h.ch.n);
        t13_add(&tr, h.sh.p, h.sh.n);
        t13_derive("SHA256", hs, "c hs traffic", tr.p, tr.n, c_hs);
        t13_derive("SHA256", hs, "s hs traffic", tr.p, tr.n, s_hs);
        t13_add(&body, ee, sizeof(ee));
        t13_add(&body, cert, len);
        static const uint8_t cv2[] = {0x0f, 0x00, 0x00, 0x06, 0x08, 0x07, 0x00, 0x02, 0xab, 0xcd};
        t13_add(&body, cv2, sizeof(cv2));
        t13_add(&tr, body.p, body.n);
        t13_finished("SHA256", s_hs, tr.p, tr.n, fin);
        t13_add_msg(&body, LURK_TLS13_HS_FINISHED, fin, 32);
        t13_add_msg(&tr, LURK_TLS13_HS_FINISHED, fin, 32);
        t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, 0);
        t13_req_session(&r, &h.s);
        t13_req_context(&r, &body);
        ck_assert_uint_eq(t13_call(c, &r, &rr), LURK_STATUS_SUCCESS);
        t13_session_next(&h.s, &rr.r.session);
        t13_resp_free(&rr);
        t13_finished("SHA256", c_hs, tr.p, tr.n, fin);
        body.n = 0;
        t13_add_msg(&body, LURK_TLS13_HS_FINISHED, fin, 32);
        t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, 0);
        t13_req_session(&r, &h.s);
        t13_req_context(&r, &body);
        ck_assert_uint_eq(t13_call(c, &r, &rr), LURK_STATUS_SUCCESS);
        t13_session_next(&h.s, &rr.r.session);
        t13_resp_free(&rr);
        /* r only in the first register_session_ticket (§5.7). */
        struct lurk_tls13_request reg;
        size_t nst_len;
        const uint8_t *nst = simple("messages.new_session_ticket", &nst_len);
        lurk_cbs nb;
        lurk_cbs_init(&nb, nst + 4, nst_len - 4);
        t13_req(&reg, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, KR(R));
        t13_req_session(&reg, &h.s);
        ck_assert_uint_eq(lurk_tls13_new_session_ticket_decode(&nb, &reg.tickets.t[0]),
                          LURK_STATUS_SUCCESS);
        reg.tickets.n = 1;
        expect(c, &reg, ST(INVALID_KEY_REQUEST), "only in the first");
        /* post_handshake without post_handshake_auth in the ClientHello. */
        static const uint8_t cr[] = {0x0d, 0x00, 0x00, 0x0c, 0x01, 0x42, 0x00, 0x08,
                                     0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x08, 0x07};
        struct t13_buf crb = {0};
        t13_add(&crb, cr, sizeof(cr));
        t13_req(&r, LURK_TLS13_TYPE_POST_HANDSHAKE, 0);
        t13_req_session(&r, &h.s);
        t13_req_context(&r, &crb);
        t13_req_signing(&r, ed25519, 0x0807, true, ed_cert.p, ed_cert.n);
        expect(c, &r, ST(INVALID_HANDSHAKE), "post_handshake_auth");
        t13_buf_free(&crb);
        t13_buf_free(&tr);
        t13_buf_free(&body);
        EVP_MD_free(md);
        client_free(&h);
    }

    /* A ClientHello without psk_key_exchange_modes: no ticket can follow, no session kept. */
    {
        struct t13_share cl, sv;
        struct t13_buf chb = {0}, shb = {0};
        struct t13_session s;
        t13_share_new(&cl, 29);
        t13_share_new(&sv, 29);
        struct t13_ch_opts o = {.group = 29, .share = cl.pub, .share_len = 32};
        t13_build_ch(&chb, &o);
        t13_build_sh(&shb, NULL, 0x1301, 29, sv.pub, 32, false, 0);
        ctx.n = 0;
        t13_add(&ctx, chb.p, chb.n);
        t13_add(&ctx, shb.p, shb.n);
        t13_add(&ctx, ee, sizeof(ee));
        t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, KR(H_C) | KR(H_S));
        t13_req_ctx(&r);
        t13_req_context(&r, &ctx);
        t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, sv.priv, 32);
        t13_req_freshness(&r, LURK_FRESHNESS_SHA256);
        t13_req_signing(&r, ed25519, 0x0807, true, ed_cert.p, ed_cert.n);
        ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
        t13_open(&s, &r, &resp);
        t13_resp_free(&resp);
        t13_req(&r, LURK_TLS13_TYPE_NEW_SESSION_TICKET, 0);
        t13_req_session(&r, &s);
        ctx.n = 0;
        t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, bad, 32);
        t13_req_context(&r, &ctx);
        r.ticket_nbr = 1;
        expect(c, &r, ST(INVALID_REQUEST), "unknown session");
        t13_share_free(&cl);
        t13_share_free(&sv);
        t13_buf_free(&chb);
        t13_buf_free(&shb);
    }
    t13_buf_free(&ctx);
    check_notes();
    lurk_conn_close(c);
}
END_TEST

/* The LURK client's cookie chain of protocol.md reproduces the document's worked values. */
START_TEST(cookie_chain_matches_protocol_md)
{
    /* init_handshake_secret request payload of the protocol.md example (79 bytes). */
    static const char *hex =
        "0031415926535897931800000000140100000603031011121302000006030320212223002a02002"
        "3000020e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff03000100";
    uint8_t payload[128];
    size_t n = 0;
    ck_assert(lurk_hex_decode(hex, payload, sizeof(payload), &n));
    ck_assert_uint_eq(n, 79);
    struct lurk_tls13_ctx_response ctx = {.crypto_service_session_id = 0x27182818,
                                          .crypto_service_cookie_init = 0x28459045};
    struct t13_session s;
    t13_session_start(&s, payload, n, 0x31415926, &ctx);
    static const uint32_t cs[] = {0x213aaf7d, 0xbbe92dfc, 0x574d7bd3};
    static const uint32_t clt[] = {0xba1cb295, 0xc9a63ef3, 0x293f6db1};
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(t13_cs_cookie(&s), cs[i]);
        struct lurk_tls13_session resp = {.session_id = 0x31415926, .cookie = clt[i]};
        t13_session_next(&s, &resp);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls13_errors");
    TCase *tc = tcase_create("statuses");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, codec_statuses);
    tcase_add_test(tc, figure_rules);
    tcase_add_test(tc, signing_statuses);
    tcase_add_test(tc, handshake_and_ephemeral_statuses);
    tcase_add_test(tc, session_statuses);
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("cookies");
    tcase_add_test(tc2, cookie_chain_matches_protocol_md);
    suite_add_tcase(s, tc2);
    return lurk_test_run(s, CK_FORK_GETENV);
}
