/* lurkctl: tls13 capabilities output, and the replay of recorded handshakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lurk/client.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/tls13.h"
#include "lurk/tls13_handshake.h"
#include "lurk/tls13_keysched.h"
#include "lurk/names.h"
#include "jsondoc.h"
#include "lurkctl.h"

bool lurkctl_print_tls13_capabilities(const lurk_cbs *payload)
{
    struct lurk_tls13_capabilities_response caps;
    lurk_cbs in = *payload, l;
    uint8_t t;
    uint16_t v;

    if (lurk_tls13_capabilities_response_decode(&in, &caps) != LURK_STATUS_SUCCESS ||
        lurk_cbs_len(&in) != 0) {
        printf("tls13 capabilities: malformed response\n");
        return false;
    }
    printf("tls13 capabilities (state %02x%02x%02x%02x):\n  types:", caps.state[0], caps.state[1],
           caps.state[2], caps.state[3]);
    for (l = caps.types; lurk_cbs_get_u8(&l, &t);)
        printf(" %s", lurk_tls13_type_name(t));
    printf("\n  signature schemes:");
    for (l = caps.signature_schemes; lurk_cbs_get_u16(&l, &v);)
        printf(" 0x%04x", v);
    printf("\n  named groups:");
    for (l = caps.named_groups; lurk_cbs_get_u16(&l, &v);)
        printf(" %u", v);
    struct lurk_tls12_typed_certificate tc;
    size_t n = 0;
    for (l = caps.typed_certificates; lurk_tls12_typed_certificate_next(&l, &tc);)
        n++;
    printf("\n  keys usable by this client: %zu\n", n);
    return true;
}

/*
 * lurkctl tls13 server|client TRACE.json...: replays a recorded TLS 1.3
 * handshake (a trace in the format of tests/vectors/data/rfc8448-*.json,
 * fields in docs/lurkctl-tls13-trace.md) through the draft-mglt-lurk-
 * tls13-01 exchanges of one role, printing every exchange and secret and
 * whether each secret is the trace's. Several traces run in order on one
 * connection, so a client-role full handshake can register the ticket that
 * the next trace resumes.
 */

/* ---- the trace ---- */

struct trace {
    json_t *root;
    const char *name;
    uint8_t *bufs[64];
    size_t n_bufs;
};

/* A hex field of the trace (dotted path), or NULL when absent or not hex. */
static const uint8_t *field(struct trace *t, const char *path, size_t *len)
{
    const json_t *node = lurk_jsondoc_path(t->root, path);
    uint8_t *b;

    *len = 0;
    /* An odd length is refused even where separators would make it decode. */
    if (json_string_length(node) % 2 != 0 || t->n_bufs == sizeof(t->bufs) / sizeof(t->bufs[0]) ||
        (b = lurk_jsondoc_hex(node, len)) == NULL)
        return NULL;
    t->bufs[t->n_bufs++] = b;
    return b;
}

static void trace_free(struct trace *t)
{
    for (size_t i = 0; i < t->n_bufs; i++)
        free(t->bufs[i]);
    json_decref(t->root);
}

/* Handshake messages concatenated (the trace keeps their 4-byte headers). */
struct bytes {
    uint8_t *p;
    size_t n;
};

static bool append(struct bytes *b, const uint8_t *data, size_t len)
{
    uint8_t *p = realloc(b->p, b->n + len + 1);

    if (p == NULL)
        return false;
    b->p = p;
    if (len > 0)
        memcpy(b->p + b->n, data, len);
    b->n += len;
    return true;
}

static bool append_field(struct bytes *b, struct trace *t, const char *path, bool optional)
{
    size_t len;
    const uint8_t *m = field(t, path, &len);

    if (m == NULL) {
        if (!optional)
            fprintf(stderr, "lurkctl: %s: no %s\n", t->name, path);
        return optional;
    }
    return append(b, m, len);
}

/* ---- the session cookies (docs/protocol.md "tls13 sessions and cookies") ---- */

struct chain {
    uint32_t cs_id, clt_id;
    uint8_t salt_cs[32], salt_clt[32];
};

static uint32_t cookie_step(const uint8_t salt[32], const char *label, uint8_t next[32])
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t h[32];
    bool ok = md != NULL &&
              lurk_tls13_hkdf_expand_label(NULL, md, salt, 32, label, NULL, 0, next, 32) &&
              EVP_Digest(next, 32, h, NULL, md, NULL) == 1;

    EVP_MD_free(md);
    return ok ? (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3] : 0;
}

static void chain_start(struct chain *c, const uint8_t *payload, size_t len, uint32_t clt_id,
                        const struct lurk_tls13_ctx_response *ctx)
{
    uint8_t r[8];
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    for (int i = 0; i < 4; i++) {
        r[i] = (uint8_t)(ctx->crypto_service_session_id >> (24 - 8 * i));
        r[4 + i] = (uint8_t)(ctx->crypto_service_cookie_init >> (24 - 8 * i));
    }
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, payload, len) != 1 || EVP_DigestUpdate(md, r, 8) != 1 ||
        EVP_DigestFinal_ex(md, c->salt_cs, NULL) != 1)
        memset(c->salt_cs, 0, 32);
    EVP_MD_CTX_free(md);
    memcpy(c->salt_clt, c->salt_cs, 32);
    c->cs_id = ctx->crypto_service_session_id;
    c->clt_id = clt_id;
}

/* The session fields of the next request. */
static void chain_request(const struct chain *c, struct lurk_tls13_session *s)
{
    uint8_t next[32];

    s->session_id = c->cs_id;
    s->cookie = cookie_step(c->salt_cs, "cs_cookie", next);
}

/* After a success: checks lurk_client_session_id and lurk_client_cookie, moves on. */
static bool chain_next(struct chain *c, const struct lurk_tls13_session *resp)
{
    uint8_t cs[32], clt[32];
    uint32_t want;

    cookie_step(c->salt_cs, "cs_cookie", cs);
    want = cookie_step(c->salt_clt, "clt_cookie", clt);
    memcpy(c->salt_cs, cs, 32);
    memcpy(c->salt_clt, clt, 32);
    if (resp->session_id != c->clt_id || resp->cookie != want) {
        printf("    session %08x cookie %08x: expected %08x %08x\n", resp->session_id, resp->cookie,
               c->clt_id, want);
        return false;
    }
    return true;
}

/* ---- one replay ---- */

struct replay {
    struct lurk_conn *conn;
    int timeout_ms;
    struct trace *t;
    struct chain chain;
    struct lurk_response resp;
    struct lurk_tls13_response r;
    uint8_t *sent;
    size_t sent_len;
    unsigned compared, equal, failed;
};

static const char *secret_field(uint8_t type)
{
    static const char *const names[] = {
        "secrets.binder_key",
        "secrets.client_early_traffic_secret",
        "secrets.early_exporter_master_secret",
        "secrets.client_handshake_traffic_secret",
        "secrets.server_handshake_traffic_secret",
        "secrets.client_application_traffic_secret_0",
        "secrets.server_application_traffic_secret_0",
        "secrets.exporter_master_secret",
        "secrets.resumption_master_secret",
    };
    return type < 9 ? names[type] : NULL;
}

static const char *secret_name(uint8_t type)
{
    return secret_field(type) + 8;
}

/* Sends a request; prints the exchange; decodes a success. */
static bool exchange(struct replay *rp, const struct lurk_tls13_request *req)
{
    char err[256];
    lurk_cbb cbb;
    uint8_t st;

    lurk_response_free(&rp->resp);
    free(rp->sent);
    rp->sent = NULL;
    if (!lurk_cbb_init(&cbb, 1024, 1u << 24) || !lurk_tls13_request_encode(&cbb, req)) {
        lurk_cbb_cleanup(&cbb);
        printf("  %s: request does not encode\n", lurk_tls13_type_name(req->type));
        rp->failed++;
        return false;
    }
    rp->sent = lurk_cbb_release(&cbb, &rp->sent_len);
    if (!lurk_conn_call(rp->conn, LURK_DESIGNATION_TLS13, req->type, rp->sent, rp->sent_len,
                        &rp->resp, rp->timeout_ms, err, sizeof(err))) {
        printf("  %s: %s\n", lurk_tls13_type_name(req->type), err);
        rp->failed++;
        return false;
    }
    st = rp->resp.msg.hdr.status;
    if (st != LURK_STATUS_SUCCESS) {
        printf("  %s: error %s (%s/%u)\n", lurk_tls13_type_name(req->type),
               lurk_status_name(rp->resp.msg.hdr.designation, st),
               lurk_designation_name(rp->resp.msg.hdr.designation), st);
        rp->failed++;
        return false;
    }
    if (lurk_tls13_response_decode(req->type, &rp->resp.msg.payload, &rp->r) !=
        LURK_STATUS_SUCCESS) {
        printf("  %s: malformed response\n", lurk_tls13_type_name(req->type));
        rp->failed++;
        return false;
    }
    printf("  %s: success\n", lurk_tls13_type_name(req->type));
    return true;
}

/*
 * Prints every secret of the response and compares it with the trace's, or
 * with alt (a value recomputed from the trace) when the trace's differs.
 */
static void secrets(struct replay *rp, const uint8_t alt[][48], const char *alt_why)
{
    const struct lurk_tls13_secret_list *l = &rp->r.secrets.secrets;

    for (size_t i = 0; i < l->n; i++) {
        const struct lurk_tls13_secret *s = &l->s[i];
        char hex[2 * 255 + 1]; /* secret_data<0..2^8-1>, whatever lurkd sends */
        size_t want_len;
        const uint8_t *want;
        const char *verdict = "(not in the trace)";
        if (s->type > 8)
            continue;
        want = field(rp->t, secret_field(s->type), &want_len);
        lurk_hex_encode(lurk_cbs_data(&s->data), lurk_cbs_len(&s->data), hex);
        if (s->type == LURK_TLS13_SECRET_BINDER_KEY && want == NULL)
            want = field(rp->t, "binder.binder_key", &want_len);
        if (want != NULL) {
            rp->compared++;
            if (lurk_cbs_equal(&s->data, want, want_len)) {
                verdict = "= trace";
                rp->equal++;
            } else if (alt != NULL && want_len <= sizeof(alt[0]) &&
                       lurk_cbs_equal(&s->data, alt[s->type], want_len)) {
                verdict = alt_why;
                rp->equal++;
            } else {
                verdict = "DIFFERS from the trace";
            }
        }
        printf("    %-38s %s %s\n", secret_name(s->type), hex, verdict);
    }
}

static void request_ctx(struct lurk_tls13_request *r)
{
    uint8_t b[8] = {0};

    RAND_bytes(b, sizeof(b));
    r->ctx.cookie_h = LURK_FRESHNESS_SHA256;
    r->ctx.lurk_client_session_id =
        (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    r->ctx.lurk_client_cookie_init =
        (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
}

static struct lurk_tls13_extension *ext_add(struct lurk_tls13_request *r, uint8_t type)
{
    struct lurk_tls13_extension *e = &r->secrets.extensions.ext[r->secrets.extensions.n++];
    e->type = type;
    return e;
}

/* The trace's ephemeral private key of one side (T9 encoding), or NULL. */
static const uint8_t *private_key(struct trace *t, bool server, size_t *len)
{
    const uint8_t *p = field(t, server ? "server_x25519_private" : "client_x25519_private", len);

    return p ? p : field(t, server ? "server_ephemeral_private" : "client_ephemeral_private", len);
}

/* The first PskIdentity a ClientHello offers (RFC 8446 §4.2.11). */
static bool first_psk_identity(const uint8_t *ch, size_t len, lurk_cbs *identity, uint32_t *age)
{
    struct lurk_tls13_hs_client_hello hello;
    lurk_cbs m, ids;

    lurk_cbs_init(&m, ch, len);
    if (!lurk_tls13_hs_parse_client_hello(&m, &hello) || !hello.has_psk)
        return false;
    ids = hello.identities;
    return lurk_cbs_get_u16_prefixed(&ids, identity) && lurk_cbs_get_u32(&ids, age);
}

/* Whether a handshake message is present in the trace. */
static bool has(struct trace *t, const char *path)
{
    return lurk_jsondoc_path_string(t->root, path) != NULL;
}

/* ---- client role ---- */

static void replay_client(struct replay *rp)
{
    struct trace *t = rp->t;
    struct lurk_tls13_request req;
    struct bytes ctx = {0};
    size_t ch_len, priv_len, len;
    const uint8_t *ch = field(t, "messages.client_hello", &ch_len);
    const uint8_t *priv = private_key(t, false, &priv_len);
    lurk_cbs identity;
    uint32_t age;
    bool psk = ch != NULL && first_psk_identity(ch, ch_len, &identity, &age);

    if (ch == NULL) {
        printf("  no messages.client_hello\n");
        rp->failed++;
        return;
    }
    printf("trace %s: client role, %s\n", t->name, psk ? "PSK" : "ECDHE");
    if (psk) {
        /* binder_key (§5.1), then early_secret (§5.2) with the ClientHello. */
        memset(&req, 0, sizeof(req));
        req.type = LURK_TLS13_TYPE_BINDER_KEY;
        req.secrets.key_request = LURK_TLS13_KR_B;
        struct lurk_tls13_extension *e = ext_add(&req, LURK_TLS13_EXT_PSK_ID);
        e->psk_id.identity = identity;
        e->psk_id.obfuscated_ticket_age = age;
        if (!exchange(rp, &req))
            goto out;
        secrets(rp, NULL, NULL);
        memset(&req, 0, sizeof(req));
        req.type = LURK_TLS13_TYPE_EARLY_SECRET;
        req.secrets.key_request = LURK_TLS13_KR_E_S | LURK_TLS13_KR_E_X;
        request_ctx(&req);
        append(&ctx, ch, ch_len);
        lurk_cbs_init(&req.secrets.handshake_context, ctx.p, ctx.n);
        e = ext_add(&req, LURK_TLS13_EXT_PSK_ID);
        e->psk_id.identity = identity;
        e->psk_id.obfuscated_ticket_age = age;
        ext_add(&req, LURK_TLS13_EXT_FRESHNESS)->freshness = LURK_FRESHNESS_NULL;
        if (!exchange(rp, &req))
            goto out;
        chain_start(&rp->chain, rp->sent, rp->sent_len, req.ctx.lurk_client_session_id, &rp->r.ctx);
        secrets(rp, NULL, NULL);
        /* handshake_secret (§5.3) with the ServerHello. */
        memset(&req, 0, sizeof(req));
        req.type = LURK_TLS13_TYPE_HANDSHAKE_SECRET;
        req.secrets.key_request = LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S;
        ctx.n = 0;
        if (!append_field(&ctx, t, "messages.server_hello", false))
            goto out;
    } else {
        memset(&req, 0, sizeof(req));
        req.type = LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET;
        req.secrets.key_request = LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S;
        request_ctx(&req);
        append(&ctx, ch, ch_len);
        if (!append_field(&ctx, t, "messages.server_hello", false))
            goto out;
        ext_add(&req, LURK_TLS13_EXT_FRESHNESS)->freshness = LURK_FRESHNESS_NULL;
    }
    lurk_cbs_init(&req.secrets.handshake_context, ctx.p, ctx.n);
    if (priv != NULL) {
        struct lurk_tls13_extension *e = ext_add(&req, LURK_TLS13_EXT_EPHEMERAL);
        e->ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_PROVIDED;
        lurk_cbs_init(&e->ephemeral.secret, priv, priv_len);
    }
    if (psk)
        chain_request(&rp->chain, &req.session);
    if (!exchange(rp, &req))
        goto out;
    if (psk)
        chain_next(&rp->chain, &rp->r.session);
    else
        chain_start(&rp->chain, rp->sent, rp->sent_len, req.ctx.lurk_client_session_id, &rp->r.ctx);
    secrets(rp, NULL, NULL);
    if (has(t, "messages.certificate_request")) {
        printf("  the trace has a CertificateRequest: certificate_verify needs the client's "
               "key, not replayed\n");
        goto out;
    }
    /* app_secret (§5.5): EncryptedExtensions .. server Finished (, EndOfEarlyData). */
    memset(&req, 0, sizeof(req));
    req.type = LURK_TLS13_TYPE_APP_SECRET;
    req.secrets.key_request = LURK_TLS13_KR_A_C | LURK_TLS13_KR_A_S | LURK_TLS13_KR_X;
    ctx.n = 0;
    if (!append_field(&ctx, t, "messages.encrypted_extensions", false) ||
        !append_field(&ctx, t, "messages.certificate", psk) ||
        !append_field(&ctx, t, "messages.certificate_verify", psk) ||
        !append_field(&ctx, t, "messages.server_finished", false) ||
        !append_field(&ctx, t, "messages.end_of_early_data", true))
        goto out;
    lurk_cbs_init(&req.secrets.handshake_context, ctx.p, ctx.n);
    chain_request(&rp->chain, &req.session);
    if (!exchange(rp, &req))
        goto out;
    chain_next(&rp->chain, &rp->r.session);
    secrets(rp, NULL, NULL);
    /* register_session_ticket (§5.7): the client Finished and the trace's ticket. */
    memset(&req, 0, sizeof(req));
    req.type = LURK_TLS13_TYPE_REGISTER_SESSION_TICKET;
    req.secrets.key_request = LURK_TLS13_KR_R;
    ctx.n = 0;
    if (!append_field(&ctx, t, "messages.client_finished", false))
        goto out;
    lurk_cbs_init(&req.secrets.handshake_context, ctx.p, ctx.n);
    const uint8_t *nst = field(t, "messages.new_session_ticket", &len);
    if (nst != NULL && len > 4) {
        lurk_cbs body;
        lurk_cbs_init(&body, nst + 4, len - 4);
        if (lurk_tls13_new_session_ticket_decode(&body, &req.tickets.t[0]) == LURK_STATUS_SUCCESS)
            req.tickets.n = 1;
    }
    chain_request(&rp->chain, &req.session);
    if (!exchange(rp, &req))
        goto out;
    chain_next(&rp->chain, &rp->r.session);
    printf("    %zu ticket(s) registered\n", req.tickets.n);
    secrets(rp, NULL, NULL);
out:
    free(ctx.p);
}

/* ---- server role ---- */

/*
 * The trace's key schedule over the transcript with lurkd's CertificateVerify
 * (a randomized signature changes the server Finished and what follows):
 * a_c, a_s, x into alt; the transcript through the server Finished in tr.
 */
static bool recompute_after_cv(struct trace *t, const struct bytes *flight, uint16_t scheme,
                               const lurk_cbs *sig, struct bytes *tr, uint8_t alt[][48])
{
    size_t ms_len, s_hs_len, cert_len;
    const uint8_t *ms = field(t, "secrets.master_secret", &ms_len);
    const uint8_t *s_hs = field(t, "secrets.server_handshake_traffic_secret", &s_hs_len);
    const uint8_t *cert = field(t, "messages.certificate", &cert_len);
    EVP_MD *md = EVP_MD_fetch(NULL, ms_len == 48 ? "SHA384" : "SHA256", NULL);
    uint8_t th[48], fin[4 + 48], cv_head[8];
    size_t n = ms_len;
    bool ok = ms != NULL && s_hs != NULL && cert != NULL && md != NULL && (n == 32 || n == 48) &&
              s_hs_len == n;

    tr->n = 0;
    cv_head[0] = LURK_TLS13_HS_CERTIFICATE_VERIFY;
    size_t body = 4 + lurk_cbs_len(sig);
    cv_head[1] = (uint8_t)(body >> 16), cv_head[2] = (uint8_t)(body >> 8),
    cv_head[3] = (uint8_t)body;
    cv_head[4] = (uint8_t)(scheme >> 8), cv_head[5] = (uint8_t)scheme;
    cv_head[6] = (uint8_t)(lurk_cbs_len(sig) >> 8), cv_head[7] = (uint8_t)lurk_cbs_len(sig);
    ok = ok && append(tr, flight->p, flight->n) && append(tr, cert, cert_len) &&
         append(tr, cv_head, 8) && append(tr, lurk_cbs_data(sig), lurk_cbs_len(sig)) &&
         EVP_Digest(tr->p, tr->n, th, NULL, md, NULL) == 1 &&
         lurk_tls13_finished(NULL, md, s_hs, th, fin + 4);
    fin[0] = LURK_TLS13_HS_FINISHED, fin[1] = 0, fin[2] = 0, fin[3] = (uint8_t)n;
    ok = ok && append(tr, fin, 4 + n) && EVP_Digest(tr->p, tr->n, th, NULL, md, NULL) == 1 &&
         lurk_tls13_derive_secret(NULL, md, ms, "c ap traffic", th,
                                  alt[LURK_TLS13_SECRET_CLIENT_APPLICATION_TRAFFIC_SECRET_0]) &&
         lurk_tls13_derive_secret(NULL, md, ms, "s ap traffic", th,
                                  alt[LURK_TLS13_SECRET_SERVER_APPLICATION_TRAFFIC_SECRET_0]) &&
         lurk_tls13_derive_secret(NULL, md, ms, "exp master", th,
                                  alt[LURK_TLS13_SECRET_EXPORTER_MASTER_SECRET]);
    EVP_MD_free(md);
    return ok;
}

/* The key id of the trace's server certificate; the scheme of its CertificateVerify. */
static bool server_key(struct trace *t, struct lurk_key_id *id, uint16_t *scheme, EVP_PKEY **pub)
{
    size_t cert_len, cv_len;
    const uint8_t *cert = field(t, "messages.certificate", &cert_len);
    const uint8_t *cv = field(t, "messages.certificate_verify", &cv_len);
    lurk_cbs m, body, ctx, list, entry;
    const unsigned char *p;
    X509 *x;

    if (cert == NULL || cv == NULL || cv_len < 6)
        return false;
    lurk_cbs_init(&m, cert, cert_len);
    if (!lurk_cbs_skip(&m, 4) || !lurk_cbs_get_bytes(&m, &body, lurk_cbs_len(&m)) ||
        !lurk_cbs_get_u8_prefixed(&body, &ctx) || !lurk_cbs_get_u24_prefixed(&body, &list) ||
        !lurk_cbs_get_u24_prefixed(&list, &entry))
        return false;
    p = lurk_cbs_data(&entry);
    x = d2i_X509(NULL, &p, (long)lurk_cbs_len(&entry));
    if (x == NULL)
        return false;
    id->type = LURK_KEY_ID_TYPE_SHA256_32;
    *pub = lurk_keyid_from_x509(NULL, x, id->id) ? X509_get_pubkey(x) : NULL;
    X509_free(x);
    *scheme = (uint16_t)(cv[4] << 8 | cv[5]);
    return *pub != NULL;
}

/* Whether the signature verifies over the TLS 1.3 server content of Hash(transcript). */
static bool verify_cv(EVP_PKEY *pub, uint16_t scheme, const struct bytes *tr, const lurk_cbs *sig)
{
    static const char context[] = "TLS 1.3, server CertificateVerify";
    const char *md = scheme == 0x0805 || scheme == 0x080a || scheme == 0x0503   ? "SHA384"
                     : scheme == 0x0806 || scheme == 0x080b || scheme == 0x0603 ? "SHA512"
                     : scheme == 0x0807 || scheme == 0x0808                     ? NULL
                                                                                : "SHA256";
    bool pss = (scheme >= 0x0804 && scheme <= 0x0806) || (scheme >= 0x0809 && scheme <= 0x080b);
    uint8_t content[64 + sizeof(context) + 48];
    unsigned int hl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok;

    /* The transcript hash of the cipher suite: SHA-256 for the traces of RFC 8448. */
    memset(content, 0x20, 64);
    memcpy(content + 64, context, sizeof(context));
    ok = EVP_Digest(tr->p, tr->n, content + 64 + sizeof(context), &hl, EVP_sha256(), NULL) == 1 &&
         ctx != NULL && EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pub, NULL) == 1;
    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(ctx, lurk_cbs_data(sig), lurk_cbs_len(sig), content,
                                64 + sizeof(context) + hl) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/*
 * PSK server role: early_secret (§4.1) with the PSK the ClientHello offers
 * first, then req set up as handshake_and_app_secret (§4.3) over
 * ServerHello and EncryptedExtensions (in ctx).
 */
static bool server_psk_start(struct replay *rp, const uint8_t *ch, size_t ch_len, lurk_cbs identity,
                             uint32_t age, struct lurk_tls13_request *req, struct bytes *ctx)
{
    struct trace *t = rp->t;
    struct lurk_tls13_extension *e;

    memset(req, 0, sizeof(*req));
    req->type = LURK_TLS13_TYPE_EARLY_SECRET;
    req->secrets.key_request = LURK_TLS13_KR_B | LURK_TLS13_KR_E_S | LURK_TLS13_KR_E_X;
    request_ctx(req);
    append(ctx, ch, ch_len);
    lurk_cbs_init(&req->secrets.handshake_context, ctx->p, ctx->n);
    e = ext_add(req, LURK_TLS13_EXT_PSK_ID);
    e->psk_id.identity = identity;
    e->psk_id.obfuscated_ticket_age = age;
    if (!exchange(rp, req))
        return false;
    chain_start(&rp->chain, rp->sent, rp->sent_len, req->ctx.lurk_client_session_id, &rp->r.ctx);
    secrets(rp, NULL, NULL);
    memset(req, 0, sizeof(*req));
    req->type = LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET;
    req->secrets.key_request = LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S | LURK_TLS13_KR_A_C |
                               LURK_TLS13_KR_A_S | LURK_TLS13_KR_X;
    ctx->n = 0;
    if (!append_field(ctx, t, "messages.server_hello", false) ||
        !append_field(ctx, t, "messages.encrypted_extensions", false))
        return false;
    chain_request(&rp->chain, &req->session);
    return true;
}

/*
 * Certificate server role: req set up as init_certificate_verify (§4.2),
 * lurkd signing with the key of the trace's certificate, over ClientHello
 * to CertificateRequest (in ctx, and copied to flight).
 */
static bool server_certificate_start(struct replay *rp, const uint8_t *ch, size_t ch_len,
                                     struct lurk_tls13_request *req, struct bytes *ctx,
                                     struct bytes *flight)
{
    struct trace *t = rp->t;
    EVP_PKEY *pub = NULL;
    const uint8_t *cert;
    uint16_t scheme;
    size_t len;
    char id[9];

    memset(req, 0, sizeof(*req));
    if (!server_key(t, &req->signing.key_id, &scheme, &pub)) {
        printf("  the trace's Certificate or CertificateVerify cannot be read\n");
        rp->failed++;
        return false;
    }
    EVP_PKEY_free(pub);
    req->type = LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY;
    req->secrets.key_request = LURK_TLS13_KR_H_C | LURK_TLS13_KR_H_S | LURK_TLS13_KR_A_C |
                               LURK_TLS13_KR_A_S | LURK_TLS13_KR_X;
    request_ctx(req);
    append(ctx, ch, ch_len);
    if (!append_field(ctx, t, "messages.server_hello", false) ||
        !append_field(ctx, t, "messages.encrypted_extensions", false) ||
        !append_field(ctx, t, "messages.certificate_request", true))
        return false;
    cert = field(t, "messages.certificate", &len);
    req->signing.sig_algo = scheme;
    req->signing.certificate.type = LURK_TLS13_LURK_CERTIFICATE_TLS13;
    lurk_cbs_init(&req->signing.certificate.certificate, cert + 4, len - 4);
    lurk_hex_encode(req->signing.key_id.id, 4, id);
    printf("  key id %s (from the trace's certificate), scheme 0x%04x\n", id, scheme);
    append(flight, ctx->p, ctx->n);
    return true;
}

/*
 * lurkd's CertificateVerify: does it verify with the trace's certificate
 * over the trace's transcript? Then the key schedule the trace would have
 * with that signature, into alt (true when it could be computed).
 */
static bool server_check_certificate_verify(struct replay *rp, const struct bytes *flight,
                                            struct bytes *tr, uint8_t alt[9][48])
{
    struct trace *t = rp->t;
    struct bytes signed_over = {0};
    EVP_PKEY *key = NULL;
    uint16_t scheme;
    struct lurk_key_id kid;
    size_t len;
    const uint8_t *cert = field(t, "messages.certificate", &len);

    append(&signed_over, flight->p, flight->n);
    append(&signed_over, cert, len);
    server_key(t, &kid, &scheme, &key);
    printf("    CertificateVerify signature: %s\n",
           verify_cv(key, scheme, &signed_over, &rp->r.signing.signature)
               ? "verifies with the trace's certificate"
               : "DOES NOT VERIFY");
    EVP_PKEY_free(key);
    free(signed_over.p);
    return recompute_after_cv(t, flight, scheme, &rp->r.signing.signature, tr, alt);
}

/*
 * The client Finished over lurkd's transcript (tr), with the trace's client
 * handshake secret, appended to ctx and tr; the resumption master secret it
 * gives into alt.
 */
static bool client_finished_after_cv(struct trace *t, struct bytes *ctx, struct bytes *tr,
                                     uint8_t alt[9][48])
{
    size_t c_len, ms_len;
    const uint8_t *c_hs = field(t, "secrets.client_handshake_traffic_secret", &c_len);
    const uint8_t *ms = field(t, "secrets.master_secret", &ms_len);
    EVP_MD *md = EVP_MD_fetch(NULL, c_len == 48 ? "SHA384" : "SHA256", NULL);
    uint8_t th[48], fin[52];
    bool ok = c_hs != NULL && ms != NULL && md != NULL && (c_len == 32 || c_len == 48) &&
              ms_len == c_len && EVP_Digest(tr->p, tr->n, th, NULL, md, NULL) == 1 &&
              lurk_tls13_finished(NULL, md, c_hs, th, fin + 4);

    fin[0] = LURK_TLS13_HS_FINISHED, fin[1] = 0, fin[2] = 0, fin[3] = (uint8_t)c_len;
    ok = ok && append(ctx, fin, 4 + c_len) && append(tr, fin, 4 + c_len) &&
         EVP_Digest(tr->p, tr->n, th, NULL, md, NULL) == 1 &&
         lurk_tls13_derive_secret(NULL, md, ms, "res master", th,
                                  alt[LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET]);
    EVP_MD_free(md);
    return ok;
}

/* new_session_ticket (§4.4) over the client's last flight; alt as for secrets(). */
static void server_tickets(struct replay *rp, bool after_cv, struct bytes *ctx, struct bytes *tr)
{
    struct trace *t = rp->t;
    struct lurk_tls13_request req;
    uint8_t alt[9][48];

    memset(&req, 0, sizeof(req));
    memset(alt, 0, sizeof(alt));
    req.type = LURK_TLS13_TYPE_NEW_SESSION_TICKET;
    req.secrets.key_request = LURK_TLS13_KR_R;
    req.ticket_nbr = has(t, "messages.new_session_ticket") ? 1 : 0;
    ctx->n = 0;
    if (!append_field(ctx, t, "messages.end_of_early_data", true))
        return;
    if (after_cv ? !client_finished_after_cv(t, ctx, tr, alt)
                 : !append_field(ctx, t, "messages.client_finished", false))
        return;
    lurk_cbs_init(&req.secrets.handshake_context, ctx->p, ctx->n);
    chain_request(&rp->chain, &req.session);
    if (!exchange(rp, &req))
        return;
    chain_next(&rp->chain, &rp->r.session);
    for (size_t i = 0; i < rp->r.tickets.n; i++) {
        const struct lurk_tls13_new_session_ticket *nt = &rp->r.tickets.t[i];
        char nonce[2 * 255 + 1];
        lurk_hex_encode(lurk_cbs_data(&nt->ticket_nonce), lurk_cbs_len(&nt->ticket_nonce), nonce);
        printf("    ticket: lifetime %us, nonce %s, %zu-byte ticket\n", nt->ticket_lifetime, nonce,
               lurk_cbs_len(&nt->ticket));
    }
    secrets(rp, after_cv ? (const uint8_t(*)[48])alt : NULL,
            "= trace's key schedule with lurkd's CertificateVerify");
}

static void replay_server(struct replay *rp)
{
    struct trace *t = rp->t;
    struct lurk_tls13_request req;
    struct bytes ctx = {0}, flight = {0}, tr = {0};
    size_t ch_len, priv_len;
    const uint8_t *ch = field(t, "messages.client_hello", &ch_len);
    const uint8_t *priv = private_key(t, true, &priv_len);
    uint8_t alt[9][48];
    bool alt_ok = false;
    lurk_cbs identity;
    uint32_t age;
    bool psk = ch != NULL && first_psk_identity(ch, ch_len, &identity, &age);

    memset(alt, 0, sizeof(alt));
    if (ch == NULL) {
        printf("  no messages.client_hello\n");
        rp->failed++;
        return;
    }
    printf("trace %s: server role, %s\n", t->name, psk ? "PSK" : "ECDHE");
    if (psk ? !server_psk_start(rp, ch, ch_len, identity, age, &req, &ctx)
            : !server_certificate_start(rp, ch, ch_len, &req, &ctx, &flight))
        goto out;
    lurk_cbs_init(&req.secrets.handshake_context, ctx.p, ctx.n);
    if (priv != NULL) {
        struct lurk_tls13_extension *e = ext_add(&req, LURK_TLS13_EXT_EPHEMERAL);
        e->ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_PROVIDED;
        lurk_cbs_init(&e->ephemeral.secret, priv, priv_len);
    }
    ext_add(&req, LURK_TLS13_EXT_FRESHNESS)->freshness = LURK_FRESHNESS_NULL;
    if (!exchange(rp, &req))
        goto out;
    if (psk) {
        chain_next(&rp->chain, &rp->r.session);
    } else {
        chain_start(&rp->chain, rp->sent, rp->sent_len, req.ctx.lurk_client_session_id, &rp->r.ctx);
        alt_ok = server_check_certificate_verify(rp, &flight, &tr, alt);
    }
    secrets(rp, alt_ok ? (const uint8_t(*)[48])alt : NULL,
            "= trace's key schedule with lurkd's CertificateVerify");
    if (has(t, "messages.client_finished"))
        server_tickets(rp, alt_ok, &ctx, &tr);
out:
    free(ctx.p);
    free(flight.p);
    free(tr.p);
}

bool lurkctl_tls13_usage(int argc, char **argv)
{
    return argc >= 2 && (strcmp(argv[0], "server") == 0 || strcmp(argv[0], "client") == 0);
}

int lurkctl_tls13_main(struct lurk_conn *conn, int timeout_ms, int argc, char **argv)
{
    bool server = strcmp(argv[0], "server") == 0;
    unsigned compared = 0, equal = 0, failed = 0;

    for (int i = 1; i < argc; i++) {
        struct trace t = {.name = argv[i]};
        struct replay rp = {.conn = conn, .timeout_ms = timeout_ms, .t = &t};
        char err[256];
        t.root = lurk_jsondoc_load(argv[i], err, sizeof(err));
        if (t.root == NULL) {
            fprintf(stderr, "lurkctl: %s: %s\n", argv[i], err);
            return 1;
        }
        if (server)
            replay_server(&rp);
        else
            replay_client(&rp);
        lurk_response_free(&rp.resp);
        free(rp.sent);
        compared += rp.compared;
        equal += rp.equal;
        failed += rp.failed;
        trace_free(&t);
    }
    printf("result: %u secret(s) compared, %u as expected, %u exchange(s) failed\n", compared,
           equal, failed);
    return failed == 0 && equal == compared ? 0 : 1;
}
