/*
 * tls13 exchanges of the TLS client role (draft-mglt-lurk-tls13-01 §5)
 * against a real lurkd, checked with RFC 8448:
 *
 * - §3 simple 1-RTT: init_handshake_secret, app_secret and
 *   register_session_ticket give the RFC's client secrets, and register
 *   the RFC's NewSessionTicket; then §4 resumed 0-RTT on that ticket:
 *   binder_key (and the RFC's binder from it), early_secret,
 *   handshake_secret, app_secret with EndOfEarlyData, register.
 * - §5 HelloRetryRequest (P-256 key share after the retry).
 * - §6 client authentication: certificate_verify. The RFC's client key is
 *   not published: lurkd signs with the RFC's §2 RSA key and §3
 *   certificate, the signature is checked over the transcript with that
 *   Certificate, and the application secrets are the RFC's (they do not
 *   depend on the client's Certificate).
 * - post_handshake (no RFC 8448 ClientHello offers post_handshake_auth): a
 *   handshake built here, every expected value computed here.
 *
 * Every expected value is the RFC's or computed here from the RFC's keys
 * (liblurk's RFC 8448-tested key schedule), never taken from lurkd.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tls13_test.h"

static struct lurkd_proc lurkd;
static struct t13_rfc rfc;
static EVP_PKEY *rsa, *ed25519;

#define KR(x)     LURK_TLS13_KR_##x
#define SECRET(x) LURK_TLS13_SECRET_##x

static void setup(void)
{
    char extra[4096];
    size_t len;
    const uint8_t *cert;

    t13_rfc_load(&rfc);
    ck_assert(lurk_test_lurkd_init(&lurkd));
    /* The RFC 8448 §2 RSA key and the §3 "rsa" certificate (the PEM key is the vector's). */
    const char *pem = lurk_jsondoc_path_string(rfc.simple, "server_rsa_key.pem_pkcs8");
    ck_assert(pem != NULL);
    rsa = dc_key_from_pem(pem);
    char key_path[400], cert_path[400];
    snprintf(key_path, sizeof(key_path), "%s", t13_write_pem_key(&lurkd, "rfc-rsa.key", pem));
    const uint8_t *body = t13_rfc_hex(&rfc, rfc.simple, "messages.certificate", &len) + 4;
    cert = t13_cert_der(body, len - 4, &len);
    snprintf(cert_path, sizeof(cert_path), "%s",
             t13_write_cert_der(&lurkd, "rfc-rsa.crt", cert, len));
    ed25519 = dc_load_key(lurk_test_pki("server-ed25519.key"));
    snprintf(extra, sizeof(extra),
             "[key.rfc]\nsource = %s\ncertificate = %s\nclients = local, client1, tcp\n"
             "exchanges = tls13\nnull_freshness = yes\n"
             "[key.ed25519]\nsource = %s\ncertificate = %s\nclients = local\nexchanges = tls13\n"
             "[tls13]\nnull_freshness = yes\nresumption_delegation = yes\nmax_tickets = 4\n",
             key_path, cert_path, lurk_test_pki("server-ed25519.key"),
             lurk_test_pki("server-ed25519.crt"));
    dc_start(&lurkd, NULL, extra, NULL, NULL, 0);
}

static void teardown(void)
{
    dc_stop(&lurkd);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed25519);
    t13_rfc_free(&rfc);
}

static const uint8_t *simple(const char *path, size_t *len)
{
    return t13_rfc_hex(&rfc, rfc.simple, path, len);
}

static const uint8_t *resumed(const char *path, size_t *len)
{
    return t13_rfc_hex(&rfc, rfc.resumed, path, len);
}

/* Appends the messages at the given paths of a vector file. */
static void msgs(struct t13_buf *b, const json_t *root, const char *const *paths)
{
    for (; *paths != NULL; paths++) {
        size_t len;
        const uint8_t *m = t13_rfc_hex(&rfc, root, *paths, &len);
        t13_add(b, m, len);
    }
}

START_TEST(rfc8448_simple_then_resumed)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s, s4;
    struct t13_buf ctx = {0};
    size_t len, nst_len;

    /* §3: init_handshake_secret with ClientHello .. ServerHello and the client's x25519 key. */
    static const char *const chsh[] = {"messages.client_hello", "messages.server_hello", NULL};
    msgs(&ctx, rfc.simple, chsh);
    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      simple("client_x25519_private", NULL), 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET),
                      simple("secrets.client_handshake_traffic_secret", NULL), 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET),
                      simple("secrets.server_handshake_traffic_secret", NULL), 32);
    ck_assert_uint_eq(resp.r.secrets.secrets.n, 2);
    t13_resp_free(&resp);

    /* app_secret with EncryptedExtensions .. server Finished. */
    static const char *const rest[] = {"messages.encrypted_extensions", "messages.certificate",
                                       "messages.certificate_verify", "messages.server_finished",
                                       NULL};
    ctx.n = 0;
    msgs(&ctx, rfc.simple, rest);
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C) | KR(A_S) | KR(X));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0),
                      simple("secrets.client_application_traffic_secret_0", NULL), 32);
    t13_expect_secret(&resp, SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0),
                      simple("secrets.server_application_traffic_secret_0", NULL), 32);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET),
                      simple("secrets.exporter_master_secret", NULL), 32);
    t13_resp_free(&resp);

    /* register_session_ticket: the client Finished and the RFC's NewSessionTicket. */
    static const char *const cfin[] = {"messages.client_finished", NULL};
    ctx.n = 0;
    msgs(&ctx, rfc.simple, cfin);
    const uint8_t *nst = simple("messages.new_session_ticket", &nst_len);
    lurk_cbs nst_body;
    lurk_cbs_init(&nst_body, nst + 4, nst_len - 4);
    t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(lurk_tls13_new_session_ticket_decode(&nst_body, &r.tickets.t[0]),
                      LURK_STATUS_SUCCESS);
    r.tickets.n = 1;
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET),
                      simple("secrets.resumption_master_secret", NULL), 32);
    t13_resp_free(&resp);

    /* §4: binder_key for the ticket; the RFC's binder follows from it. */
    const uint8_t *ch4 = resumed("messages.client_hello", &len), *identity;
    size_t ch4_len = len, id_len;
    uint32_t age;
    t13_ch_psk_identity(ch4, ch4_len, &identity, &id_len, &age);
    t13_req(&r, LURK_TLS13_TYPE_BINDER_KEY, KR(B));
    t13_req_psk(&r, identity, id_len, age);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_expect_secret(&resp, SECRET(BINDER_KEY), resumed("binder.binder_key", NULL), 32);
    {
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
        uint8_t th[32], binder[32];
        const uint8_t *trunc = t13_rfc_member(&rfc, rfc.resumed, "messages",
                                              "client_hello_truncated (binder input: CH up to but "
                                              "excluding the binders list)",
                                              &len);
        t13_hash("SHA256", trunc, len, th);
        ck_assert(lurk_tls13_psk_binder(NULL, md, t13_secret(&resp, SECRET(BINDER_KEY), NULL), th,
                                        binder));
        ck_assert_mem_eq(binder, resumed("binder.binder", NULL), 32);
        EVP_MD_free(md);
    }
    t13_resp_free(&resp);

    /* early_secret: the ClientHello with early_data gives c e traffic and e exp master. */
    ctx.n = 0;
    t13_add(&ctx, ch4, ch4_len);
    t13_req(&r, LURK_TLS13_TYPE_EARLY_SECRET, KR(E_S) | KR(E_X));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_psk(&r, identity, id_len, age);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s4, &r, &resp);
    t13_expect_secret(&resp, SECRET(CLIENT_EARLY_TRAFFIC_SECRET),
                      resumed("secrets.client_early_traffic_secret", NULL), 32);
    t13_expect_secret(&resp, SECRET(EARLY_EXPORTER_MASTER_SECRET),
                      resumed("secrets.early_exporter_master_secret", NULL), 32);
    t13_resp_free(&resp);

    /* handshake_secret: the ServerHello (PSK-ECDHE) and the client's §4 x25519 key. */
    static const char *const sh4[] = {"messages.server_hello", NULL};
    ctx.n = 0;
    msgs(&ctx, rfc.resumed, sh4);
    t13_req(&r, LURK_TLS13_TYPE_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_session(&r, &s4);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      resumed("client_x25519_private", NULL), 32);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s4, &resp.r.session);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET),
                      resumed("secrets.client_handshake_traffic_secret", NULL), 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET),
                      resumed("secrets.server_handshake_traffic_secret", NULL), 32);
    t13_resp_free(&resp);

    /* app_secret: EncryptedExtensions (early_data accepted), server Finished, EndOfEarlyData. */
    static const char *const rest4[] = {"messages.encrypted_extensions", "messages.server_finished",
                                        "messages.end_of_early_data", NULL};
    ctx.n = 0;
    msgs(&ctx, rfc.resumed, rest4);
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C) | KR(A_S) | KR(X));
    t13_req_session(&r, &s4);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s4, &resp.r.session);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0),
                      resumed("secrets.client_application_traffic_secret_0", NULL), 32);
    t13_expect_secret(&resp, SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0),
                      resumed("secrets.server_application_traffic_secret_0", NULL), 32);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET),
                      resumed("secrets.exporter_master_secret", NULL), 32);
    t13_resp_free(&resp);

    /* register_session_ticket with the client Finished (over CH .. EndOfEarlyData). */
    static const char *const cfin4[] = {"messages.client_finished", NULL};
    ctx.n = 0;
    msgs(&ctx, rfc.resumed, cfin4);
    t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s4);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s4, &resp.r.session);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET),
                      resumed("secrets.resumption_master_secret", NULL), 32);
    t13_resp_free(&resp);
    t13_buf_free(&ctx);
    lurk_conn_close(c);
}
END_TEST

/* §5: ClientHello1, HelloRetryRequest, ClientHello2, ServerHello with a P-256 key share. */
START_TEST(rfc8448_hello_retry_request)
{
    static const char *sec = "5. HelloRetryRequest";
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s;
    struct t13_buf ctx = {0};
    size_t len;
    const uint8_t *m;

#define ITEM(party, title, label, n) t13_rfc_item_n(&rfc, sec, party, title, label, n, &len)
    m = ITEM("client", "construct a ClientHello", "ClientHello", 0);
    t13_add(&ctx, m, len);
    m = ITEM("server", "construct a ServerHello", "ServerHello", 0); /* the HRR */
    t13_add(&ctx, m, len);
    m = ITEM("client", "construct a ClientHello", "ClientHello", 1);
    t13_add(&ctx, m, len);
    m = ITEM("server", "construct a ServerHello", "ServerHello", 1);
    t13_add(&ctx, m, len);
    const uint8_t *p256 = ITEM("client", "create an ephemeral P-256 key pair", "private key", 0);
    ck_assert_uint_eq(len, 32);
    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, p256, 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET),
                      ITEM("server", "derive secret \"tls13 c hs traffic\"", "expanded", 0), 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET),
                      ITEM("server", "derive secret \"tls13 s hs traffic\"", "expanded", 0), 32);
    t13_resp_free(&resp);

    ctx.n = 0;
    static const char *const titles[][2] = {
        {"construct an EncryptedExtensions", "EncryptedExtensions"},
        {"construct a Certificate", "Certificate"},
        {"construct a CertificateVerify", "CertificateVerify"},
        {"construct a Finished", "Finished"},
    };
    for (size_t i = 0; i < 4; i++) {
        m = ITEM("server", titles[i][0], titles[i][1], 0);
        t13_add(&ctx, m, len);
    }
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C) | KR(A_S) | KR(X));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0),
                      ITEM("server", "derive secret \"tls13 c ap traffic\"", "expanded", 0), 32);
    t13_expect_secret(&resp, SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0),
                      ITEM("server", "derive secret \"tls13 s ap traffic\"", "expanded", 0), 32);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET),
                      ITEM("server", "derive secret \"tls13 exp master\"", "expanded", 0), 32);
    t13_resp_free(&resp);

    /* The client Finished registers the handshake; r is the RFC's res master. */
    ctx.n = 0;
    m = ITEM("client", "construct a Finished", "Finished", 0);
    t13_add(&ctx, m, len);
    t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET),
                      ITEM("client", "derive secret \"tls13 res master\"", "expanded", 0), 32);
    t13_resp_free(&resp);
#undef ITEM
    t13_buf_free(&ctx);
    lurk_conn_close(c);
}
END_TEST

/* §6: certificate_verify after a CertificateRequest. */
START_TEST(rfc8448_client_authentication)
{
    static const char *sec = "6. Client Authentication";
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s;
    struct t13_buf ctx = {0}, transcript = {0}, cert_msg = {0}, cv_msg = {0};
    size_t len, body_len;
    const uint8_t *m;
    uint8_t th[32], content[200], cfin[32];

#define ITEM(party, title, label) t13_rfc_item(&rfc, sec, party, title, label, &len)
    m = ITEM("client", "construct a ClientHello", "ClientHello");
    t13_add(&ctx, m, len);
    m = ITEM("server", "construct a ServerHello", "ServerHello");
    t13_add(&ctx, m, len);
    t13_add(&transcript, ctx.p, ctx.n);
    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED,
                      ITEM("client", "create an ephemeral x25519", "private key"), 32);
    t13_req_freshness(&r, LURK_FRESHNESS_NULL);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    uint8_t c_hs[32];
    memcpy(c_hs, ITEM("server", "derive secret \"tls13 c hs traffic\"", "expanded"), 32);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET), c_hs, 32);
    t13_resp_free(&resp);

    /* certificate_verify: EE, CertificateRequest, Certificate, CertificateVerify, Finished. */
    ctx.n = 0;
    static const char *const titles[][2] = {
        {"construct an EncryptedExtensions", "EncryptedExtensions"},
        {"construct a CertificateRequest", "CertificateRequest"},
        {"construct a Certificate", "Certificate"},
        {"construct a CertificateVerify", "CertificateVerify"},
        {"construct a Finished", "Finished"},
    };
    for (size_t i = 0; i < 5; i++) {
        m = ITEM("server", titles[i][0], titles[i][1]);
        t13_add(&ctx, m, len);
    }
    t13_add(&transcript, ctx.p, ctx.n);
    const uint8_t *cert3 = simple("messages.certificate", &body_len);
    t13_req(&r, LURK_TLS13_TYPE_CERTIFICATE_VERIFY, KR(A_C) | KR(A_S) | KR(X));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    t13_req_signing(&r, rsa, 0x0804, false, cert3 + 4, body_len - 4);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0),
                      ITEM("server", "derive secret \"tls13 c ap traffic\"", "expanded"), 32);
    t13_expect_secret(&resp, SECRET(SERVER_APPLICATION_TRAFFIC_SECRET_0),
                      ITEM("server", "derive secret \"tls13 s ap traffic\"", "expanded"), 32);
    t13_expect_secret(&resp, SECRET(EXPORTER_MASTER_SECRET),
                      ITEM("server", "derive secret \"tls13 exp master\"", "expanded"), 32);
    /* The client CertificateVerify: over CH .. server Finished and the Certificate sent. */
    t13_add(&cert_msg, cert3, body_len);
    t13_add(&transcript, cert_msg.p, cert_msg.n);
    t13_hash("SHA256", transcript.p, transcript.n, th);
    size_t n = dc_cv_content(content, LURK_TLS13_ROLE_CLIENT, th, 32);
    const lurk_cbs *sig = &resp.r.signing.signature;
    ck_assert(dc_verify(rsa, "SHA256", true, content, n, lurk_cbs_data(sig), lurk_cbs_len(sig)));
    t13_add_u8(&cv_msg, LURK_TLS13_HS_CERTIFICATE_VERIFY);
    t13_add_u24(&cv_msg, (uint32_t)(4 + lurk_cbs_len(sig)));
    t13_add_u16(&cv_msg, 0x0804);
    t13_add_u16(&cv_msg, (uint16_t)lurk_cbs_len(sig));
    t13_add(&cv_msg, lurk_cbs_data(sig), lurk_cbs_len(sig));
    t13_add(&transcript, cv_msg.p, cv_msg.n);
    t13_resp_free(&resp);

    /* The client Finished over that transcript (RFC c hs traffic); res master from the RFC's MS. */
    t13_finished("SHA256", c_hs, transcript.p, transcript.n, cfin);
    ctx.n = 0;
    t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, cfin, 32);
    t13_add(&transcript, ctx.p, ctx.n);
    uint8_t res[32];
    t13_derive("SHA256", ITEM("server", "extract secret \"master\"", "secret"), "res master",
               transcript.p, transcript.n, res);
    t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, KR(R));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    t13_expect_secret(&resp, SECRET(RESUMPTION_MASTER_SECRET), res, 32);
    t13_resp_free(&resp);
#undef ITEM
    t13_buf_free(&ctx);
    t13_buf_free(&transcript);
    t13_buf_free(&cert_msg);
    t13_buf_free(&cv_msg);
    lurk_conn_close(c);
}
END_TEST

/*
 * post_handshake (§5.8, T17): a handshake that offers post_handshake_auth,
 * then two CertificateRequests; each CertificateVerify covers CH .. client
 * Finished, its own CertificateRequest and Certificate, not the other one.
 */
START_TEST(post_handshake_authentication)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 1);
    struct lurk_tls13_request r;
    struct t13_resp resp;
    struct t13_session s;
    struct t13_share client, server;
    struct t13_buf ch = {0}, sh = {0}, ctx = {0}, transcript = {0};
    uint8_t shared[66], zeros[32] = {0}, early[32], hs[32], ms[32], c_hs[32], s_hs[32], th[32];
    uint8_t fin[32], derived[32], empty_hash[32];
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    t13_share_new(&client, 29);
    t13_share_new(&server, 29);
    struct t13_ch_opts o = {.group = 29,
                            .share = client.pub,
                            .share_len = client.pub_len,
                            .psk_modes = true,
                            .post_handshake_auth = true};
    t13_build_ch(&ch, &o);
    t13_build_sh(&sh, NULL, 0x1301, 29, server.pub, server.pub_len, false, 0);
    t13_add(&ctx, ch.p, ch.n);
    t13_add(&ctx, sh.p, sh.n);
    t13_add(&transcript, ctx.p, ctx.n);
    t13_req(&r, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET, KR(H_C) | KR(H_S));
    t13_req_ctx(&r);
    t13_req_context(&r, &ctx);
    t13_req_ephemeral(&r, LURK_TLS13_EPHEMERAL_SECRET_PROVIDED, client.priv, client.priv_len);
    t13_req_freshness(&r, LURK_FRESHNESS_SHA256);
    /* With sha256 freshness lurkd hashes ClientHello.random = SHA-256(S || "tls13 pfs clt"). */
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_open(&s, &r, &resp);
    {
        uint8_t rnd[32];
        EVP_MD_CTX *h = EVP_MD_CTX_new();
        ck_assert(EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(h, ch.p + 6, 32) == 1 &&
                  EVP_DigestUpdate(h, "tls13 pfs clt", 13) == 1 &&
                  EVP_DigestFinal_ex(h, rnd, NULL) == 1);
        EVP_MD_CTX_free(h);
        memcpy(transcript.p + 6, rnd, 32);
    }
    /* The key schedule here: no PSK, x25519. */
    size_t shared_len = t13_share_derive(&client, server.pub, server.pub_len, shared);
    ck_assert(lurk_tls13_hkdf_extract(NULL, md, NULL, 0, zeros, 32, early));
    t13_hash("SHA256", NULL, 0, empty_hash);
    ck_assert(lurk_tls13_derive_secret(NULL, md, early, "derived", empty_hash, derived));
    ck_assert(lurk_tls13_hkdf_extract(NULL, md, derived, 32, shared, shared_len, hs));
    t13_derive("SHA256", hs, "c hs traffic", transcript.p, transcript.n, c_hs);
    t13_derive("SHA256", hs, "s hs traffic", transcript.p, transcript.n, s_hs);
    t13_expect_secret(&resp, SECRET(CLIENT_HANDSHAKE_TRAFFIC_SECRET), c_hs, 32);
    t13_expect_secret(&resp, SECRET(SERVER_HANDSHAKE_TRAFFIC_SECRET), s_hs, 32);
    t13_resp_free(&resp);

    /* app_secret: EE, the server's Certificate and CertificateVerify, its Finished. */
    static const uint8_t ee[] = {0x08, 0x00, 0x00, 0x02, 0x00, 0x00};
    static const uint8_t cv[] = {0x0f, 0x00, 0x00, 0x06, 0x08, 0x07, 0x00, 0x02, 0xab, 0xcd};
    size_t len;
    const uint8_t *cert3 = simple("messages.certificate", &len);
    ctx.n = 0;
    t13_add(&ctx, ee, sizeof(ee));
    t13_add(&ctx, cert3, len);
    t13_add(&ctx, cv, sizeof(cv));
    t13_add(&transcript, ctx.p, ctx.n);
    t13_finished("SHA256", s_hs, transcript.p, transcript.n, fin);
    t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, fin, 32);
    t13_add_msg(&transcript, LURK_TLS13_HS_FINISHED, fin, 32);
    t13_req(&r, LURK_TLS13_TYPE_APP_SECRET, KR(A_C));
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    ck_assert(lurk_tls13_derive_secret(NULL, md, hs, "derived", empty_hash, derived));
    ck_assert(lurk_tls13_hkdf_extract(NULL, md, derived, 32, zeros, 32, ms));
    uint8_t a_c[32];
    t13_derive("SHA256", ms, "c ap traffic", transcript.p, transcript.n, a_c);
    t13_expect_secret(&resp, SECRET(CLIENT_APPLICATION_TRAFFIC_SECRET_0), a_c, 32);
    ck_assert_uint_eq(resp.r.secrets.secrets.n, 1);
    t13_resp_free(&resp);

    /* register_session_ticket: the client Finished, no ticket (-01 §9.9). */
    t13_finished("SHA256", c_hs, transcript.p, transcript.n, fin);
    ctx.n = 0;
    t13_add_msg(&ctx, LURK_TLS13_HS_FINISHED, fin, 32);
    t13_add(&transcript, ctx.p, ctx.n);
    t13_req(&r, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET, 0);
    t13_req_session(&r, &s);
    t13_req_context(&r, &ctx);
    ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
    t13_session_next(&s, &resp.r.session);
    ck_assert_uint_eq(resp.r.secrets.secrets.n, 0);
    t13_resp_free(&resp);

    /* Two post-handshake CertificateRequests; the Certificate is the ed25519 key's (sha256_32). */
    char *pem = lurk_test_read_file(lurk_test_pki("server-ed25519.crt"), NULL);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    ck_assert_int_gt(der_len, 0);
    for (uint8_t round = 0; round < 2; round++) {
        struct t13_buf cr = {0}, body = {0}, cert = {0}, signed_over = {0};
        uint8_t content[200];
        /* CertificateRequest {context = round + 0x40; signature_algorithms {ed25519}}. */
        static const uint8_t cr_tail[] = {0x00, 0x08, 0x00, 0x0d, 0x00,
                                          0x04, 0x00, 0x02, 0x08, 0x07};
        t13_add_u8(&body, 1);
        t13_add_u8(&body, (uint8_t)(0x40 + round));
        t13_add(&body, cr_tail, sizeof(cr_tail));
        t13_add_msg(&cr, LURK_TLS13_HS_CERTIFICATE_REQUEST, body.p, body.n);
        /* The Certificate body hashed for sha256_32 has an empty context (T20). */
        struct t13_buf plain = {0};
        t13_add_u8(&plain, 0);
        t13_add_u24(&plain, (uint32_t)(3 + der_len + 2));
        t13_add_u24(&plain, (uint32_t)der_len);
        t13_add(&plain, der, (size_t)der_len);
        t13_add_u16(&plain, 0);
        t13_req(&r, LURK_TLS13_TYPE_POST_HANDSHAKE, 0);
        t13_req_session(&r, &s);
        t13_req_context(&r, &cr);
        r.app_n = round;
        t13_req_signing(&r, ed25519, 0x0807, true, plain.p, plain.n);
        ck_assert_uint_eq(t13_call(c, &r, &resp), LURK_STATUS_SUCCESS);
        t13_session_next(&s, &resp.r.session);
        /* The Certificate lurkd built carries this CertificateRequest's context. */
        t13_add_u8(&cert, 1);
        t13_add_u8(&cert, (uint8_t)(0x40 + round));
        t13_add_u24(&cert, (uint32_t)(3 + der_len + 2));
        t13_add_u24(&cert, (uint32_t)der_len);
        t13_add(&cert, der, (size_t)der_len);
        t13_add_u16(&cert, 0);
        t13_add(&signed_over, transcript.p, transcript.n);
        t13_add(&signed_over, cr.p, cr.n);
        t13_add_msg(&signed_over, LURK_TLS13_HS_CERTIFICATE, cert.p, cert.n);
        t13_hash("SHA256", signed_over.p, signed_over.n, th);
        size_t n = dc_cv_content(content, LURK_TLS13_ROLE_CLIENT, th, 32);
        ck_assert_msg(dc_verify(ed25519, NULL, false, content, n,
                                lurk_cbs_data(&resp.r.signing.signature),
                                lurk_cbs_len(&resp.r.signing.signature)),
                      "post-handshake CertificateVerify %u does not verify", round);
        t13_resp_free(&resp);
        t13_buf_free(&cr);
        t13_buf_free(&body);
        t13_buf_free(&cert);
        t13_buf_free(&plain);
        t13_buf_free(&signed_over);
    }
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(pem);
    EVP_MD_free(md);
    t13_share_free(&client);
    t13_share_free(&server);
    t13_buf_free(&ch);
    t13_buf_free(&sh);
    t13_buf_free(&ctx);
    t13_buf_free(&transcript);
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
                                "client",     simple_path, resumed_path,    NULL};
    int st = t13_run(argv, out_path, out, sizeof(out));
    ck_assert_msg(st == 0, "lurkctl exit status %d:\n%s", st, out);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    ck_assert(strstr(out, "DIFFERS") == NULL);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("tls13_client");
    TCase *tc = tcase_create("rfc8448");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc8448_simple_then_resumed);
    tcase_add_test(tc, rfc8448_hello_retry_request);
    tcase_add_test(tc, rfc8448_client_authentication);
    tcase_add_test(tc, post_handshake_authentication);
#ifdef LURKCTL_PATH
    tcase_add_test(tc, lurkctl_replays_rfc8448);
#endif
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
