/*
 * tls13 exchanges of the TLS server role (draft-mglt-lurk-tls13-01 §4)
 * against a real lurkd, checked with RFC 8448:
 *
 * - §3 simple 1-RTT: init_certificate_verify with the RFC's ClientHello ..
 *   EncryptedExtensions and the server's x25519 key gives the RFC's
 *   handshake traffic secrets; the CertificateVerify verifies over the
 *   RFC's transcript (CH .. Certificate) with the RFC's certificate. The
 *   application secrets cannot be the RFC's bytes: lurkd signs the
 *   CertificateVerify itself and RSA-PSS is randomized (the RFC's salt is
 *   unknown), and the server Finished, hence CH .. server Finished, covers
 *   it. They are checked against the RFC's master secret over the
 *   transcript with lurkd's CertificateVerify, the server Finished computed
 *   here with the RFC's server_handshake_traffic_secret. new_session_ticket
 *   then issues a ticket with the RFC's nonce (00 00), its r is checked the
 *   same way, and the ticket resumes: early_secret on it gives the binder
 *   key computed here from HKDF-Expand-Label(r, "resumption", 00 00); the
 *   RFC's own resumption PSK is checked on the client role
 *   (test_tls13_client.c), where no signature intervenes.
 * - §4 resumed 0-RTT with the RFC's ticket as an imported resumption PSK:
 *   early_secret (binder key, c e traffic, e exp master), then
 *   handshake_and_app_secret and new_session_ticket: the RFC's bytes.
 * - §5 HelloRetryRequest with the server's P-256 key.
 * - Every supported group with secret_provided and secret_generated.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/hex.h"
#include "tls13_test.h"

static struct lurkd_proc lurkd;
static struct t13_rfc rfc;
static EVP_PKEY *rsa, *ed25519;

#define KR(x)     LURK_TLS13_KR_##x
#define SECRET(x) LURK_TLS13_SECRET_##x

static const uint8_t *simple(const char *path, size_t *len)
{
    return t13_rfc_hex(&rfc, rfc.simple, path, len);
}

static const uint8_t *resumed(const char *path, size_t *len)
{
    return t13_rfc_hex(&rfc, rfc.resumed, path, len);
}

static void setup(void)
{
    char extra[8192], key_path[400], cert_path[400], ticket_hex[1024], psk_hex[65];
    size_t len, nst_len;
    struct lurk_tls13_new_session_ticket nst;
    lurk_cbs body;

    t13_rfc_load(&rfc);
    ck_assert(lurk_test_lurkd_init(&lurkd));
    const char *pem = lurk_jsondoc_path_string(rfc.simple, "server_rsa_key.pem_pkcs8");
    rsa = dc_key_from_pem(pem);
    snprintf(key_path, sizeof(key_path), "%s", t13_write_pem_key(&lurkd, "rfc-rsa.key", pem));
    const uint8_t *cert = simple("messages.certificate", &len);
    const uint8_t *der = t13_cert_der(cert + 4, len - 4, &len);
    snprintf(cert_path, sizeof(cert_path), "%s",
             t13_write_cert_der(&lurkd, "rfc-rsa.crt", der, len));
    ed25519 = dc_load_key(lurk_test_pki("server-ed25519.key"));
    /* §4 resumes §3's ticket: the RFC's ticket and resumption PSK, imported. */
    const uint8_t *nst_msg = simple("messages.new_session_ticket", &nst_len);
    lurk_cbs_init(&body, nst_msg + 4, nst_len - 4);
    ck_assert_uint_eq(lurk_tls13_new_session_ticket_decode(&body, &nst), LURK_STATUS_SUCCESS);
    ck_assert_uint_lt(lurk_cbs_len(&nst.ticket) * 2, sizeof(ticket_hex));
    lurk_hex_encode(lurk_cbs_data(&nst.ticket), lurk_cbs_len(&nst.ticket), ticket_hex);
    lurk_hex_encode(simple("secrets.resumption_psk", NULL), 32, psk_hex);
    snprintf(extra, sizeof(extra),
             "[key.rfc]\nsource = %s\ncertificate = %s\nclients = local\n"
             "exchanges = tls13\nnull_freshness = yes\n"
             "[key.ed25519]\nsource = %s\ncertificate = %s\nclients = local\nexchanges = tls13\n"
             "[psk.rfc8448-ticket]\nidentity_hex = %s\nsecret = %s\nkind = resumption\n"
             "null_freshness = yes\nclients = local\n"
             "[tls13]\nresumption_delegation = yes\nmax_tickets = 2\nticket_lifetime = 1h\n",
             key_path, cert_path, lurk_test_pki("server-ed25519.key"),
             lurk_test_pki("server-ed25519.crt"), ticket_hex, psk_hex);
    dc_start(&lurkd, NULL, extra, NULL, NULL, 0);
}

static void teardown(void)
{
    dc_stop(&lurkd);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed25519);
    t13_rfc_free(&rfc);
}

/* CertificateVerify {scheme, signature<2>} as the TLS server sends it. */
static void add_cv(struct t13_buf *b, uint16_t scheme, const lurk_cbs *sig)
{
    t13_add_u8(b, LURK_TLS13_HS_CERTIFICATE_VERIFY);
    t13_add_u24(b, (uint32_t)(4 + lurk_cbs_len(sig)));
    t13_add_u16(b, scheme);
    t13_add_u16(b, (uint16_t)lurk_cbs_len(sig));
    t13_add(b, lurk_cbs_data(sig), lurk_cbs_len(sig));
}

/* Extract(0, psk), then Derive-Secret(., "res binder", ""): the binder key of a ticket. */
static void resumption_binder_key(const uint8_t *psk, uint8_t out[32])
{
    struct lurk_tls13_keysched ks;

    ck_assert(lurk_tls13_keysched_init(&ks, NULL, "SHA256"));
    ck_assert(lurk_tls13_keysched_extract_early(&ks, psk, 32));
    ck_assert(lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_RESUMPTION, out));
    lurk_tls13_keysched_cleanup(&ks);
}

START_TEST(rfc8448_simple_server_and_ticket)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s;
    struct t13_buf ctx = {0}, transcript = {0};
    uint8_t th[32], content[200], fin[32], want[32];
    size_t len, cert_len;
    const uint8_t *m;

    static const char *const hello[] = {"messages.client_hello", "messages.server_hello",
                                        "messages.encrypted_extensions", NULL};
    for (const char *const *p = hello; *p; p++) {
        m = simple(*p, &len);
        t13_add(&ctx, m, len);
    }
    const uint8_t *cert = simple("messages.certificate", &cert_len);
    t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY,
            KR(H_C) | KR(H_S) | KR(A_C) | KR(A_S) | KR(X));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      simple("server_x25519_private", NULL), 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    t13_req_signing(&r, rsa, 0x0804, false, cert + 4, cert_len - 4);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET),
                      simple("secrets.client_handshake_traffic_secret", NULL), 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET),
                      simple("secrets.server_handshake_traffic_secret", NULL), 32);
    /* The CertificateVerify verifies over the RFC's CH .. Certificate with the RFC's key. */
    const lurk_cbs *sig = &resp.r.signing.signature;
    size_t n =
        dc_cv_content(content, LURK_TLS13_ROLE_SERVER,
                      t13_rfc_member(&rfc, rfc.simple, "transcript_hashes",
                                     "CH..Certificate (input to server CertificateVerify)", NULL),
                      32);
    ck_assert(dc_verify(rsa, "SHA256", true, content, n, lurk_cbs_data(sig), lurk_cbs_len(sig)));
    /* Application secrets: the RFC's master secret over CH .. server Finished with this CV. */
    t13_add(&transcript, ctx.p, ctx.n);
    t13_add(&transcript, cert, cert_len);
    add_cv(&transcript, 0x0804, sig);
    t13_finished("SHA256", simple("secrets.server_handshake_traffic_secret", NULL), transcript.p,
                 transcript.n, fin);
    t13_add_msg(&transcript, LURK_TLS13_HS_FINISHED, fin, 32);
    const uint8_t *ms = simple("secrets.master_secret", NULL);
    t13_derive("SHA256", ms, "c ap traffic", transcript.p, transcript.n, want);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0), want, 32);
    t13_derive("SHA256", ms, "s ap traffic", transcript.p, transcript.n, want);
    t13_expect_secret(&resp, SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0), want, 32);
    t13_derive("SHA256", ms, "exp master", transcript.p, transcript.n, want);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET), want, 32);
    t13_resp_free(&resp);

    /* new_session_ticket with the client Finished (RFC c hs traffic over that transcript). */
    t13_finished("SHA256", simple("secrets.client_handshake_traffic_secret", NULL), transcript.p,
                 transcript.n, fin);
    ctx.n = 0;
    t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, fin, 32);
    t13_add(&transcript, ctx.p, ctx.n);
    t13_req(&r, LURK_TLS13_TYPE_NEW_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    r.ticket_nbr = 1;
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    uint8_t res[32], psk[32], bk[32];
    t13_derive("SHA256", ms, "res master", transcript.p, transcript.n, res);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET), res, 32);
    ck_assert_uint_eq(resp.r.tickets.n, 1);
    const struct lurk_tls13_new_session_ticket *t = &resp.r.tickets.t[0];
    /* The RFC's nonce, and the RFC's PSK formula (RFC 8446 §4.6.1). */
    const uint8_t *nonce = simple("secrets.ticket_nonce", &len);
    ck_assert(lurk_cbs_equal(&t->ticket_nonce, nonce, len));
    ck_assert_uint_eq(t->ticket_lifetime, 3600);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ck_assert(lurk_tls13_resumption_psk(NULL, md, res, nonce, len, psk));
    EVP_MD_free(md);
    resumption_binder_key(psk, bk);
    uint8_t ticket[64];
    size_t ticket_len = lurk_cbs_len(&t->ticket);
    uint32_t age_add = t->ticket_age_add;
    ck_assert_uint_le(ticket_len, sizeof(ticket));
    memcpy(ticket, lurk_cbs_data(&t->ticket), ticket_len);
    t13_resp_free(&resp);

    /* The ticket resumes: §4's ClientHello naming it, its binder made with the binder key here. */
    struct t13_buf ch = {0};
    m = resumed("messages.client_hello", &len);
    uint32_t obfuscated = age_add + 50; /* RFC 8446 §4.2.11.1: 50 ms after issue */
    t13_ch_replace_psk(&ch, m, len, ticket, ticket_len, obfuscated, bk);
    for (int round = 0; round < 2; round++) {
        t13_req(&r, LURK_TLS13_TYPE_EARLY_SECRET, KR(B) | KR(E_S));
        t13_req_ctx(&r);
        t13_req_context(&r, &ch);
        t13_req_psk(&r, ticket, ticket_len, obfuscated);
        if (round == 0) {
            ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
            t13_expect_secret(&resp, SECRET(BINDER_KEY), bk, 32);
            uint8_t e_s[32];
            struct lurk_tls13_keysched ks;
            ck_assert(lurk_tls13_keysched_init(&ks, NULL, "SHA256"));
            ck_assert(lurk_tls13_keysched_extract_early(&ks, psk, 32));
            t13_hash("SHA256", ch.p, ch.n, th);
            ck_assert(lurk_tls13_keysched_client_early_traffic(&ks, th, e_s));
            lurk_tls13_keysched_cleanup(&ks);
            t13_expect_secret(&resp, SECRET(CLIENT_EARLY_TRAFFIC_SECRET), e_s, 32);
        } else {
            /* -01 §6: a ticket is used once on the server role. */
            ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_TLS13_STATUS_INVALID_PSK);
        }
        t13_resp_free(&resp);
    }
    t13_buf_free(&ch);
    t13_buf_free(&ctx);
    t13_buf_free(&transcript);
    lurk_conn_close(c);
}
END_TEST

/* sha256_32 names the key's configured certificate: the RFC's Certificate again. */
START_TEST(rfc8448_simple_server_sha256_32_certificate)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_buf ctx = {0};
    uint8_t content[200];
    size_t len, cert_len;

    static const char *const hello[] = {"messages.client_hello", "messages.server_hello",
                                        "messages.encrypted_extensions", NULL};
    for (const char *const *p = hello; *p; p++) {
        const uint8_t *m = simple(*p, &len);
        t13_add(&ctx, m, len);
    }
    const uint8_t *cert = simple("messages.certificate", &cert_len);
    t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      simple("server_x25519_private", NULL), 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    t13_req_signing(&r, rsa, 0x0804, true, cert + 4, cert_len - 4);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    size_t n =
        dc_cv_content(content, LURK_TLS13_ROLE_SERVER,
                      t13_rfc_member(&rfc, rfc.simple, "transcript_hashes",
                                     "CH..Certificate (input to server CertificateVerify)", NULL),
                      32);
    ck_assert(dc_verify(rsa, "SHA256", true, content, n, lurk_cbs_data(&resp.r.signing.signature),
                        lurk_cbs_len(&resp.r.signing.signature)));
    ck_assert_uint_eq(resp.r.secrets.secrets.n, 2);
    t13_resp_free(&resp);
    t13_buf_free(&ctx);
    lurk_conn_close(c);
}
END_TEST

/* §4 on the server role: every secret is the RFC's (no signature in a PSK handshake). */
START_TEST(rfc8448_resumed_server)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s;
    struct t13_buf ctx = {0};
    size_t len, id_len;
    const uint8_t *m, *identity;
    uint32_t age;

    m = resumed("messages.client_hello", &len);
    t13_add(&ctx, m, len);
    t13_ch_psk_identity(m, len, &identity, &id_len, &age);
    t13_req(&r, LURK_TLS13_TYPE_EARLY_SECRET, KR(B) | KR(E_S) | KR(E_X));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_psk(&r, identity, id_len, age);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    t13_expect_secret(&resp, SECRET(BINDER_KEY), resumed("binder.binder_key", NULL), 32);
    t13_expect_secret(&resp, SECRET(CLIENT_EARLY_TRAFFIC_SECRET),
                      resumed("secrets.client_early_traffic_secret", NULL), 32);
    t13_expect_secret(&resp, SECRET(EARLY_EXPORTER_MASTER_SECRET),
                      resumed("secrets.early_exporter_master_secret", NULL), 32);
    t13_resp_free(&resp);

    ctx.n = 0;
    static const char *const flight[] = {"messages.server_hello", "messages.encrypted_extensions",
                                         NULL};
    for (const char *const *p = flight; *p; p++) {
        m = resumed(*p, &len);
        t13_add(&ctx, m, len);
    }
    t13_req(&r, LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET,
            KR(H_C) | KR(H_S) | KR(A_C) | KR(A_S) | KR(X));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      resumed("server_x25519_private", NULL), 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    static const struct {
        uint8_t type;
        const char *path;
    } want[] = {
        {SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET), "secrets.client_handshake_traffic_secret"},
        {SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET), "secrets.server_handshake_traffic_secret"},
        {SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0),
         "secrets.client_application_traffic_secret_0"},
        {SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0),
         "secrets.server_application_traffic_secret_0"},
        {SECRET(EXPORTER_MASTER_SECRET), "secrets.exporter_master_secret"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        t13_expect_secret(&resp, want[i].type, resumed(want[i].path, NULL), 32);
    t13_resp_free(&resp);

    /* EndOfEarlyData and the RFC's client Finished; r is the RFC's res master. */
    ctx.n = 0;
    static const char *const last[] = {"messages.end_of_early_data", "messages.client_finished",
                                       NULL};
    for (const char *const *p = last; *p; p++) {
        m = resumed(*p, &len);
        t13_add(&ctx, m, len);
    }
    t13_req(&r, LURK_TLS13_TYPE_NEW_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    r.ticket_nbr = 3; /* max_tickets = 2: lurkd gives 2 (§4.4 "MAY respond with less") */
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET),
                      resumed("secrets.resumption_master_secret", NULL), 32);
    ck_assert_uint_eq(resp.r.tickets.n, 2);
    /* Nonces are the ticket's number in the session: 00 00, 00 01. */
    ck_assert(lurk_cbs_equal(&resp.r.tickets.t[1].ticket_nonce, (const uint8_t *)"\x00\x01", 2));
    t13_resp_free(&resp);

    /* max_tickets reached: the session is finished and gone. */
    ctx.n = 0;
    t13_req(&r, LURK_TLS13_TYPE_NEW_SESSION_TICKET, 0);
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    r.ticket_nbr = 1;
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_TLS13_STATUS_INVALID_REQUEST);
    t13_resp_free(&resp);
    t13_buf_free(&ctx);
    lurk_conn_close(c);
}
END_TEST

/* §5: CH1, HelloRetryRequest, CH2, ServerHello (P-256), EncryptedExtensions. */
START_TEST(rfc8448_hello_retry_request_server)
{
    static const char *sec = "5. HelloRetryRequest";
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_buf ctx = {0}, transcript = {0};
    uint8_t content[200], th[32], fin[32], want[32];
    size_t len, cert_len;
    const uint8_t *m;

#define ITEM(party, title, label, n) t13_rfc_item_n(&rfc, sec, party, title, label, n, &len)
    const uint8_t *ch1 = ITEM("client", "construct a ClientHello", "ClientHello", 0);
    t13_add(&ctx, ch1, len);
    /* RFC 8446 §4.4.1: the transcript starts with message_hash(ClientHello1). */
    t13_add_u8(&transcript, 254);
    t13_add_u24(&transcript, 32);
    t13_hash("SHA256", ch1, len, th);
    t13_add(&transcript, th, 32);
    m = ITEM("server", "construct a ServerHello", "ServerHello", 0);
    t13_add(&ctx, m, len);
    t13_add(&transcript, m, len);
    m = ITEM("client", "construct a ClientHello", "ClientHello", 1);
    t13_add(&ctx, m, len);
    t13_add(&transcript, m, len);
    m = ITEM("server", "construct a ServerHello", "ServerHello", 1);
    t13_add(&ctx, m, len);
    t13_add(&transcript, m, len);
    m = ITEM("server", "construct an EncryptedExtensions", "EncryptedExtensions", 0);
    t13_add(&ctx, m, len);
    t13_add(&transcript, m, len);
    const uint8_t *cert = ITEM("server", "construct a Certificate", "Certificate", 0);
    cert_len = len;
    const uint8_t *p256 = ITEM("server", "create an ephemeral P-256 key pair", "private key", 0);
    t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY,
            KR(H_C) | KR(H_S) | KR(A_C) | KR(A_S) | KR(X));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, p256, 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    t13_req_signing(&r, rsa, 0x0804, false, cert + 4, cert_len - 4);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET),
                      ITEM("server", "derive secret \"tls13 c hs traffic\"", "expanded", 0), 32);
    uint8_t s_hs[32];
    memcpy(s_hs, ITEM("server", "derive secret \"tls13 s hs traffic\"", "expanded", 0), 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET), s_hs, 32);
    t13_add(&transcript, cert, cert_len);
    t13_hash("SHA256", transcript.p, transcript.n, th);
    size_t n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, th, 32);
    const lurk_cbs *sig = &resp.r.signing.signature;
    ck_assert(dc_verify(rsa, "SHA256", true, content, n, lurk_cbs_data(sig), lurk_cbs_len(sig)));
    add_cv(&transcript, 0x0804, sig);
    t13_finished("SHA256", s_hs, transcript.p, transcript.n, fin);
    t13_add_msg(&transcript, LURK_TLS13_HS_FINISHED, fin, 32);
    uint8_t ms[32];
    memcpy(ms, ITEM("server", "extract secret \"master\"", "secret", 0), 32);
    t13_derive("SHA256", ms, "c ap traffic", transcript.p, transcript.n, want);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0), want, 32);
    t13_derive("SHA256", ms, "exp master", transcript.p, transcript.n, want);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET), want, 32);
#undef ITEM
    t13_resp_free(&resp);
    t13_buf_free(&ctx);
    t13_buf_free(&transcript);
    lurk_conn_close(c);
}
END_TEST

/* x25519, x448, secp256r1, secp384r1, secp521r1; secret_provided and secret_generated. */
START_TEST(every_group_both_methods)
{
    static const uint16_t groups[] = {29, 30, 23, 24, 25};
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    const char *cert_pem_path = lurk_test_pki("server-ed25519.crt");
    char *pem = lurk_test_read_file(cert_pem_path, NULL);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    struct t13_buf cert_body = {0};

    t13_add_u8(&cert_body, 0);
    t13_add_u24(&cert_body, (uint32_t)(3 + der_len + 2));
    t13_add_u24(&cert_body, (uint32_t)der_len);
    t13_add(&cert_body, der, (size_t)der_len);
    t13_add_u16(&cert_body, 0);
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (int generated = 0; generated <= 1; generated++) {
            struct t13_share client, server;
            struct t13_buf ch = {0}, sh = {0}, ctx = {0}, transcript = {0};
            struct lurk_tls13_request r;
            struct t13_resp resp;
            uint8_t shared[66], zeros[32] = {0}, early[32], derived[32], hs[32], empty[32];
            uint8_t want[32], rnd[32];
            const uint8_t *srv_pub;
            size_t srv_pub_len;
            EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

            t13_share_new(&client, groups[g]);
            t13_share_new(&server, groups[g]);
            struct t13_ch_opts o = {
                .group = groups[g], .share = client.pub, .share_len = client.pub_len};
            t13_build_ch(&ch, &o);
            t13_build_sh(&sh, NULL, 0x1301, groups[g], generated ? NULL : server.pub,
                         server.pub_len, false, 0);
            static const uint8_t ee[] = {0x08, 0x00, 0x00, 0x02, 0x00, 0x00};
            t13_add(&ctx, ch.p, ch.n);
            t13_add(&ctx, sh.p, sh.n);
            t13_add(&ctx, ee, sizeof(ee));
            t13_req(&r, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY, KR(H_C) | KR(H_S));
            t13_req_ctx(&r);
            t13_req_context(&r, &ctx);
            if (generated)
                t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_GENERATED, NULL, 0);
            else
                t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, server.priv,
                                  server.priv_len);
            t13_req_freshness(&r, LURK_FRESHNESS_SHA256);
            t13_req_signing(&r, ed25519, 0x0807, true, cert_body.p, cert_body.n);
            ck_assert_msg(t13_call(c, &r, &resp) == LURK_STATUS_SUCCESS,
                          "group %u generated %d: status %u", groups[g], generated, resp.status);
            if (generated) {
                /* The KeyShareEntry lurkd made; the TLS server puts it in its ServerHello. */
                ck_assert_uint_eq(resp.r.secrets.extensions.n, 1);
                const struct lurk_tls13_extension *e = &resp.r.secrets.extensions.ext[0];
                ck_assert_uint_eq(e->ephemeral.key_share.group, groups[g]);
                srv_pub = lurk_cbs_data(&e->ephemeral.key_share.key_exchange);
                srv_pub_len = lurk_cbs_len(&e->ephemeral.key_share.key_exchange);
                ck_assert_uint_eq(srv_pub_len, client.pub_len);
                sh.n = 0;
                t13_build_sh(&sh, NULL, 0x1301, groups[g], srv_pub, srv_pub_len, false, 0);
            } else {
                ck_assert_uint_eq(resp.r.secrets.extensions.n, 0);
                srv_pub = server.pub;
                srv_pub_len = server.pub_len;
            }
            /* Freshness sha256: ServerHello.random = SHA-256(S || "tls13 pfs srv"). */
            {
                EVP_MD_CTX *h = EVP_MD_CTX_new();
                ck_assert(EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
                          EVP_DigestUpdate(h, sh.p + 6, 32) == 1 &&
                          EVP_DigestUpdate(h, "tls13 pfs srv", 13) == 1 &&
                          EVP_DigestFinal_ex(h, rnd, NULL) == 1);
                EVP_MD_CTX_free(h);
                memcpy(sh.p + 6, rnd, 32);
            }
            t13_add(&transcript, ch.p, ch.n);
            t13_add(&transcript, sh.p, sh.n);
            size_t shared_len = t13_share_derive(&client, srv_pub, srv_pub_len, shared);
            ck_assert(lurk_tls13_hkdf_extract(NULL, md, NULL, 0, zeros, 32, early));
            t13_hash("SHA256", NULL, 0, empty);
            ck_assert(lurk_tls13_derive_secret(NULL, md, early, "derived", empty, derived));
            ck_assert(lurk_tls13_hkdf_extract(NULL, md, derived, 32, shared, shared_len, hs));
            t13_derive("SHA256", hs, "c hs traffic", transcript.p, transcript.n, want);
            t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET), want, 32);
            t13_derive("SHA256", hs, "s hs traffic", transcript.p, transcript.n, want);
            t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET), want, 32);
            /* The Ed25519 CertificateVerify over CH .. EE, Certificate. */
            uint8_t th[32], content[200];
            t13_add(&transcript, ee, sizeof(ee));
            t13_add_msg(&transcript, LURK_TLS13_HS_CERTIFICATE, cert_body.p, cert_body.n);
            t13_hash("SHA256", transcript.p, transcript.n, th);
            size_t n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, th, 32);
            ck_assert(dc_verify(ed25519, NULL, false, content, n,
                                lurk_cbs_data(&resp.r.signing.signature),
                                lurk_cbs_len(&resp.r.signing.signature)));
            t13_resp_free(&resp);
            t13_share_free(&client);
            t13_share_free(&server);
            t13_buf_free(&ch);
            t13_buf_free(&sh);
            t13_buf_free(&ctx);
            t13_buf_free(&transcript);
            EVP_MD_free(md);
        }
    }
    t13_buf_free(&cert_body);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(pem);
    lurk_conn_close(c);
}
END_TEST

#ifdef LURKCTL_PATH
/* lurkctl tls13 replays the RFC's traces: the operator's check of a deployment. */
START_TEST(lurkctl_replays_rfc8448)
{
    static const char *want = "result: 15 secret(s) compared, 15 as expected, 0 exchange(s) failed";
    char simple_path[600], resumed_path[600], out_path[600], out[16384];

    snprintf(simple_path, sizeof(simple_path), "%s/rfc8448-simple-1rtt.json", LURK_VECTORS_DIR);
    snprintf(resumed_path, sizeof(resumed_path), "%s/rfc8448-resumed-0rtt.json", LURK_VECTORS_DIR);
    snprintf(out_path, sizeof(out_path), "%s/lurkctl.out", lurkd.dir);
    const char *const argv[] = {LURKCTL_PATH, "-s",        lurkd.unix_addr, "tls13",
                                "server",     simple_path, resumed_path,    NULL};
    int st = t13_run(argv, out_path, out, sizeof(out));
    ck_assert_msg(st == 0, "lurkctl exit status %d:\n%s", st, out);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    ck_assert(strstr(out, "DIFFERS") == NULL);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("tls13_server");
    TCase *tc = tcase_create("rfc8448");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc8448_simple_server_and_ticket);
    tcase_add_test(tc, rfc8448_simple_server_sha256_32_certificate);
    tcase_add_test(tc, rfc8448_resumed_server);
    tcase_add_test(tc, rfc8448_hello_retry_request_server);
    tcase_add_test(tc, every_group_both_methods);
#ifdef LURKCTL_PATH
    tcase_add_test(tc, lurkctl_replays_rfc8448);
#endif
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
