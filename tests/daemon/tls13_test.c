/* Helpers of the tls13 conformance tests; see tls13_test.h. */
#include "tls13_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/* ---- byte strings ---- */

void t13_add(struct t13_buf *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->p + b->n, data, len);
    b->n += len;
}

void t13_add_u8(struct t13_buf *b, uint8_t v)
{
    t13_add(b, &v, 1);
}

void t13_add_u16(struct t13_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    t13_add(b, x, 2);
}

void t13_add_u24(struct t13_buf *b, uint32_t v)
{
    uint8_t x[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    t13_add(b, x, 3);
}

void t13_buf_free(struct t13_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void t13_add_msg(struct t13_buf *b, uint8_t type, const uint8_t *body, size_t len)
{
    t13_add_u8(b, type);
    t13_add_u24(b, (uint32_t)len);
    t13_add(b, body, len);
}

/* ---- RFC 8448 vectors ---- */

void t13_rfc_load(struct t13_rfc *v)
{
    memset(v, 0, sizeof(*v));
    v->simple = lurk_vectors_load(LURK_VECTORS_DIR, "rfc8448-simple-1rtt.json");
    v->resumed = lurk_vectors_load(LURK_VECTORS_DIR, "rfc8448-resumed-0rtt.json");
    v->all = lurk_vectors_load(LURK_VECTORS_DIR, "rfc8448-all-sections.json");
    ck_assert(v->simple != NULL && v->resumed != NULL && v->all != NULL);
}

void t13_rfc_free(struct t13_rfc *v)
{
    json_decref(v->simple);
    json_decref(v->resumed);
    json_decref(v->all);
    lurk_vectors_pool_free(&v->pool);
    memset(v, 0, sizeof(*v));
}

const uint8_t *t13_rfc_hex(struct t13_rfc *v, const json_t *root, const char *path, size_t *len)
{
    size_t n;
    const uint8_t *p = lurk_vectors_pool_hex(&v->pool, root, path, &n);
    ck_assert_msg(p != NULL, "vector field %s", path);
    if (len != NULL)
        *len = n;
    return p;
}

const uint8_t *t13_rfc_member(struct t13_rfc *v, const json_t *root, const char *obj,
                              const char *key, size_t *len)
{
    size_t n;
    const uint8_t *p =
        lurk_vectors_pool_node(&v->pool, json_object_get(lurk_jsondoc_path(root, obj), key), &n);
    ck_assert_msg(p != NULL, "vector field %s[%s]", obj, key);
    if (len != NULL)
        *len = n;
    return p;
}

const uint8_t *t13_rfc_item(struct t13_rfc *v, const char *section, const char *party,
                            const char *title, const char *label, size_t *len)
{
    return t13_rfc_item_n(v, section, party, title, label, 0, len);
}

const uint8_t *t13_rfc_item_n(struct t13_rfc *v, const char *section, const char *party,
                              const char *title, const char *label, unsigned nth, size_t *len)
{
    json_t *sections = json_object_get(v->all, "sections"), *steps;
    const char *name;

    json_object_foreach(sections, name, steps)
    {
        if (strncmp(name, section, strlen(section)) != 0)
            continue;
        for (size_t k = 0; k < json_array_size(steps); k++) {
            const json_t *st = json_array_get(steps, k);
            const char *p = lurk_jsondoc_path_string(st, "party");
            const char *t = lurk_jsondoc_path_string(st, "title");
            if (p == NULL || t == NULL || strcmp(p, party) != 0 ||
                strncmp(t, title, strlen(title)) != 0)
                continue;
            const json_t *items = json_object_get(st, "items");
            for (size_t j = 0; j < json_array_size(items); j++) {
                const json_t *it = json_array_get(items, j);
                const char *l = lurk_jsondoc_path_string(it, "label");
                if (l != NULL && strcmp(l, label) == 0 && nth-- == 0) {
                    size_t n;
                    const uint8_t *d =
                        lurk_vectors_pool_node(&v->pool, json_object_get(it, "hex"), &n);
                    ck_assert(d != NULL);
                    if (len != NULL)
                        *len = n;
                    return d;
                }
            }
        }
    }
    ck_abort_msg("no RFC 8448 item %s / %s / %s / %s", section, party, title, label);
    return NULL;
}

/* ---- sessions ---- */

uint32_t t13_cookie_step(const uint8_t salt[32], const char *label, uint8_t next[32])
{
    uint8_t h[32];
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    /* protocol.md: salt_(n+1) = HKDF-Expand-Label(salt_n, label, "", 32), cookie H(salt)[0..3]. */
    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, salt, 32, label, NULL, 0, next, 32));
    ck_assert(EVP_Digest(next, 32, h, NULL, md, NULL) == 1);
    EVP_MD_free(md);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

void t13_session_start(struct t13_session *s, const uint8_t *payload, size_t len, uint32_t clt_id,
                       const struct lurk_tls13_ctx_response *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t r[8];
    uint32_t id = ctx->crypto_service_session_id, ci = ctx->crypto_service_cookie_init;

    memset(s, 0, sizeof(*s));
    r[0] = (uint8_t)(id >> 24), r[1] = (uint8_t)(id >> 16), r[2] = (uint8_t)(id >> 8);
    r[3] = (uint8_t)id;
    r[4] = (uint8_t)(ci >> 24), r[5] = (uint8_t)(ci >> 16), r[6] = (uint8_t)(ci >> 8);
    r[7] = (uint8_t)ci;
    ck_assert(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(md, payload, len) == 1 && EVP_DigestUpdate(md, r, 8) == 1 &&
              EVP_DigestFinal_ex(md, s->salt_cs, NULL) == 1);
    EVP_MD_CTX_free(md);
    memcpy(s->salt_clt, s->salt_cs, 32);
    s->cs_id = id;
    s->clt_id = clt_id;
}

uint32_t t13_cs_cookie(const struct t13_session *s)
{
    uint8_t next[32];
    return t13_cookie_step(s->salt_cs, "cs_cookie", next);
}

void t13_session_next(struct t13_session *s, const struct lurk_tls13_session *resp)
{
    uint8_t cs[32], clt[32];
    uint32_t want;

    t13_cookie_step(s->salt_cs, "cs_cookie", cs);
    want = t13_cookie_step(s->salt_clt, "clt_cookie", clt);
    ck_assert_uint_eq(resp->session_id, s->clt_id);
    ck_assert_msg(resp->cookie == want, "lurk_client_cookie %08x, expected %08x", resp->cookie,
                  want);
    memcpy(s->salt_cs, cs, 32);
    memcpy(s->salt_clt, clt, 32);
    s->n++;
}

/* ---- requests and responses ---- */

void t13_req(struct lurk_tls13_request *r, uint8_t type, uint16_t key_request)
{
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->secrets.key_request = key_request;
}

void t13_req_ctx(struct lurk_tls13_request *r)
{
    uint8_t b[8];

    ck_assert(RAND_bytes(b, sizeof(b)) == 1);
    r->ctx.cookie_h = LURK_FRESHNESS_SHA256;
    r->ctx.lurk_client_session_id =
        (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    r->ctx.lurk_client_cookie_init =
        (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
}

void t13_req_session(struct lurk_tls13_request *r, const struct t13_session *s)
{
    r->session.session_id = s->cs_id;
    r->session.cookie = t13_cs_cookie(s);
}

void t13_req_context(struct lurk_tls13_request *r, const struct t13_buf *b)
{
    lurk_cbs_init(&r->secrets.handshake_context, b->p, b->n);
}

static struct lurk_tls13_extension *add_ext(struct lurk_tls13_request *r, uint8_t type)
{
    struct lurk_tls13_extension_list *l = &r->secrets.extensions;
    ck_assert_uint_lt(l->n, LURK_TLS13_MAX_EXTENSIONS);
    l->ext[l->n].type = type;
    return &l->ext[l->n++];
}

void t13_req_psk(struct lurk_tls13_request *r, const uint8_t *id, size_t len, uint32_t age)
{
    struct lurk_tls13_extension *e = add_ext(r, LURK_TLS13_EXT_PSK_ID);
    lurk_cbs_init(&e->psk_id.identity, id, len);
    e->psk_id.obfuscated_ticket_age = age;
}

void t13_req_ephemeral(struct lurk_tls13_request *r, uint8_t method, const uint8_t *secret,
                       size_t len)
{
    struct lurk_tls13_extension *e = add_ext(r, LURK_TLS13_EXT_EPHEMERAL);
    e->ephemeral.method = method;
    lurk_cbs_init(&e->ephemeral.secret, secret, len);
}

void t13_req_freshness(struct lurk_tls13_request *r, uint8_t funct)
{
    add_ext(r, LURK_TLS13_EXT_FRESHNESS)->freshness = funct;
}

void t13_req_signing(struct lurk_tls13_request *r, EVP_PKEY *pkey, uint16_t scheme, bool sha256_32,
                     const uint8_t *cert_body, size_t cert_len)
{
    struct lurk_tls13_lurk_certificate *c = &r->signing.certificate;
    uint8_t h[32];

    r->signing.key_id.type = LURK_KEY_ID_TYPE_SHA256_32;
    dc_key_id(pkey, r->signing.key_id.id);
    r->signing.sig_algo = scheme;
    if (sha256_32) {
        /* T20: the first 4 bytes of SHA-256 over the Certificate body (empty context). */
        c->type = LURK_TLS13_LURK_CERTIFICATE_SHA256_32;
        ck_assert(EVP_Digest(cert_body, cert_len, h, NULL, EVP_sha256(), NULL) == 1);
        c->hash_cert = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    } else {
        c->type = LURK_TLS13_LURK_CERTIFICATE_TLS13;
        lurk_cbs_init(&c->certificate, cert_body, cert_len);
    }
}

uint8_t t13_call(struct lurk_conn *c, const struct lurk_tls13_request *r, struct t13_resp *out)
{
    lurk_cbb cbb;

    memset(out, 0, sizeof(*out));
    ck_assert(lurk_cbb_init(&cbb, 1024, 1u << 24));
    ck_assert_msg(lurk_tls13_request_encode(&cbb, r), "request of type %u does not encode",
                  r->type);
    out->sent = lurk_cbb_release(&cbb, &out->sent_len);
    out->status = dc_call(c, LURK_DESIGNATION_TLS13, r->type, out->sent, out->sent_len, &out->raw);
    out->designation = out->raw.msg.hdr.designation;
    if (out->status == LURK_STATUS_SUCCESS) {
        ck_assert_uint_eq(out->designation, LURK_DESIGNATION_TLS13);
        ck_assert_msg(lurk_tls13_response_decode(r->type, &out->raw.msg.payload, &out->r) ==
                          LURK_STATUS_SUCCESS,
                      "response of type %u does not decode", r->type);
    }
    return out->status;
}

void t13_resp_free(struct t13_resp *r)
{
    lurk_response_free(&r->raw);
    free(r->sent);
    memset(r, 0, sizeof(*r));
}

void t13_open(struct t13_session *s, const struct lurk_tls13_request *req,
              const struct t13_resp *resp)
{
    ck_assert_uint_eq(resp->status, LURK_STATUS_SUCCESS);
    t13_session_start(s, resp->sent, resp->sent_len, req->ctx.lurk_client_session_id, &resp->r.ctx);
}

const uint8_t *t13_secret_opt(const struct t13_resp *r, uint8_t type)
{
    const struct lurk_tls13_secret_list *l = &r->r.secrets.secrets;

    for (size_t i = 0; i < l->n; i++)
        if (l->s[i].type == type)
            return lurk_cbs_data(&l->s[i].data);
    return NULL;
}

const uint8_t *t13_secret(const struct t13_resp *r, uint8_t type, size_t *len)
{
    const struct lurk_tls13_secret_list *l = &r->r.secrets.secrets;

    for (size_t i = 0; i < l->n; i++) {
        if (l->s[i].type == type) {
            if (len != NULL)
                *len = lurk_cbs_len(&l->s[i].data);
            return lurk_cbs_data(&l->s[i].data);
        }
    }
    ck_abort_msg("secret %u missing from the response", type);
    return NULL;
}

void t13_expect_secret(const struct t13_resp *r, uint8_t type, const uint8_t *want, size_t len)
{
    size_t n;
    const uint8_t *got = t13_secret(r, type, &n);

    ck_assert_uint_eq(n, len);
    ck_assert_msg(memcmp(got, want, len) == 0, "secret %u differs from the expected value", type);
}

/* ---- TLS 1.3 on this side ---- */

void t13_hash(const char *md_name, const uint8_t *data, size_t len, uint8_t *out)
{
    EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
    ck_assert(md != NULL && EVP_Digest(data, len, out, NULL, md, NULL) == 1);
    EVP_MD_free(md);
}

void t13_finished(const char *md_name, const uint8_t *base_key, const uint8_t *transcript,
                  size_t len, uint8_t *out)
{
    EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
    uint8_t th[48];

    t13_hash(md_name, transcript, len, th);
    ck_assert(lurk_tls13_finished(NULL, md, base_key, th, out));
    EVP_MD_free(md);
}

void t13_derive(const char *md_name, const uint8_t *secret, const char *label,
                const uint8_t *transcript, size_t len, uint8_t *out)
{
    EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
    uint8_t th[48];

    t13_hash(md_name, transcript, len, th);
    ck_assert(lurk_tls13_derive_secret(NULL, md, secret, label, th, out));
    EVP_MD_free(md);
}

static const struct {
    uint16_t group;
    const char *name;
    bool ec;
    size_t len;
} groups[] = {
    {29, "X25519", false, 32}, {30, "X448", false, 56}, {23, "P-256", true, 32},
    {24, "P-384", true, 48},   {25, "P-521", true, 66},
};

void t13_share_new(struct t13_share *k, uint16_t group)
{
    memset(k, 0, sizeof(*k));
    k->group = group;
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (groups[i].group != group)
            continue;
        if (!groups[i].ec) {
            k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, groups[i].name);
            k->priv_len = k->pub_len = groups[i].len;
            ck_assert(k->pkey != NULL &&
                      EVP_PKEY_get_raw_private_key(k->pkey, k->priv, &k->priv_len) == 1 &&
                      EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &k->pub_len) == 1);
        } else {
            BIGNUM *d = NULL;
            k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", groups[i].name);
            ck_assert(k->pkey != NULL &&
                      EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1);
            /* T9: the scalar, big-endian, at the coordinate length. */
            k->priv_len = groups[i].len;
            ck_assert(BN_bn2binpad(d, k->priv, (int)k->priv_len) == (int)k->priv_len);
            BN_clear_free(d);
            ck_assert(EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                      k->pub, sizeof(k->pub), &k->pub_len) == 1);
        }
        return;
    }
    ck_abort_msg("group %u", group);
}

void t13_share_free(struct t13_share *k)
{
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

size_t t13_share_derive(const struct t13_share *k, const uint8_t *peer, size_t peer_len,
                        uint8_t *out)
{
    EVP_PKEY *p = NULL;
    EVP_PKEY_CTX *ctx;
    size_t len = 66;

    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (groups[i].group != k->group)
            continue;
        if (!groups[i].ec) {
            p = EVP_PKEY_new_raw_public_key_ex(NULL, groups[i].name, NULL, peer, peer_len);
        } else {
            p = EVP_PKEY_new();
            ck_assert(EVP_PKEY_copy_parameters(p, k->pkey) == 1 &&
                      EVP_PKEY_set1_encoded_public_key(p, peer, peer_len) == 1);
        }
    }
    ck_assert(p != NULL);
    ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
    ck_assert(ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
              EVP_PKEY_derive_set_peer(ctx, p) == 1 && EVP_PKEY_derive(ctx, out, &len) == 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(p);
    return len;
}

static void ext(struct t13_buf *b, uint16_t type, const uint8_t *data, size_t len)
{
    t13_add_u16(b, type);
    t13_add_u16(b, (uint16_t)len);
    t13_add(b, data, len);
}

void t13_build_ch(struct t13_buf *b, const struct t13_ch_opts *o)
{
    static const uint8_t versions[] = {0x02, 0x03, 0x04};
    static const uint8_t sig_algs[] = {0x00, 0x10, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08,
                                       0x04, 0x08, 0x05, 0x08, 0x06, 0x08, 0x07, 0x08, 0x08};
    static const uint8_t modes[] = {0x02, 0x00, 0x01};
    struct t13_buf body = {0}, exts = {0}, ks = {0};
    uint8_t random[32];

    memset(random, 0x11, sizeof(random));
    t13_add_u16(&body, 0x0303);
    t13_add(&body, o->random ? o->random : random, 32);
    t13_add_u8(&body, 0);
    t13_add_u16(&body, 4);
    t13_add_u16(&body, 0x1301);
    t13_add_u16(&body, 0x1302);
    t13_add_u8(&body, 1);
    t13_add_u8(&body, 0);
    ext(&exts, 43, versions, sizeof(versions));
    ext(&exts, 13, sig_algs, sizeof(sig_algs));
    if (o->share != NULL) {
        t13_add_u16(&ks, (uint16_t)(4 + o->share_len));
        t13_add_u16(&ks, o->group);
        t13_add_u16(&ks, (uint16_t)o->share_len);
        t13_add(&ks, o->share, o->share_len);
        ext(&exts, 51, ks.p, ks.n);
    }
    if (o->psk_modes)
        ext(&exts, 45, modes, sizeof(modes));
    if (o->early_data)
        ext(&exts, 42, NULL, 0);
    if (o->post_handshake_auth)
        ext(&exts, 49, NULL, 0);
    if (o->psk_identity != NULL) {
        struct t13_buf psk = {0};
        size_t blen = o->binder_len ? o->binder_len : 32;
        t13_add_u16(&psk, (uint16_t)(2 + o->psk_identity_len + 4));
        t13_add_u16(&psk, (uint16_t)o->psk_identity_len);
        t13_add(&psk, o->psk_identity, o->psk_identity_len);
        t13_add_u8(&psk, (uint8_t)(o->obfuscated_age >> 24));
        t13_add_u8(&psk, (uint8_t)(o->obfuscated_age >> 16));
        t13_add_u8(&psk, (uint8_t)(o->obfuscated_age >> 8));
        t13_add_u8(&psk, (uint8_t)o->obfuscated_age);
        t13_add_u16(&psk, (uint16_t)(1 + blen));
        t13_add_u8(&psk, (uint8_t)blen);
        uint8_t zeros[64] = {0};
        t13_add(&psk, zeros, blen);
        ext(&exts, 41, psk.p, psk.n);
        t13_buf_free(&psk);
    }
    t13_add_u16(&body, (uint16_t)exts.n);
    t13_add(&body, exts.p, exts.n);
    t13_add_msg(b, LURK_TLS13_HS_CLIENT_HELLO, body.p, body.n);
    t13_buf_free(&body);
    t13_buf_free(&exts);
    t13_buf_free(&ks);
}

void t13_ch_set_binder(struct t13_buf *ch, const char *md_name, const uint8_t *binder_key,
                       const uint8_t *prefix, size_t prefix_len)
{
    EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
    size_t hash_len = (size_t)EVP_MD_get_size(md);
    /* One binder, last in the message: binders<2> binder<1>. */
    size_t truncated = ch->n - (2 + 1 + hash_len);
    struct t13_buf t = {0};
    uint8_t th[48];

    t13_add(&t, prefix, prefix_len);
    t13_add(&t, ch->p, truncated);
    t13_hash(md_name, t.p, t.n, th);
    ck_assert(lurk_tls13_psk_binder(NULL, md, binder_key, th, ch->p + ch->n - hash_len));
    t13_buf_free(&t);
    EVP_MD_free(md);
}

void t13_build_sh(struct t13_buf *b, const uint8_t *random, uint16_t suite, uint16_t group,
                  const uint8_t *share, size_t share_len, bool psk, uint16_t selected)
{
    static const uint8_t version[] = {0x03, 0x04};
    struct t13_buf body = {0}, exts = {0}, ks = {0};
    uint8_t r[32];

    memset(r, 0x22, sizeof(r));
    t13_add_u16(&body, 0x0303);
    t13_add(&body, random ? random : r, 32);
    t13_add_u8(&body, 0);
    t13_add_u16(&body, suite);
    t13_add_u8(&body, 0);
    ext(&exts, 43, version, sizeof(version));
    if (group != 0) {
        t13_add_u16(&ks, group);
        t13_add_u16(&ks, share ? (uint16_t)share_len : 0);
        t13_add(&ks, share, share ? share_len : 0);
        ext(&exts, 51, ks.p, ks.n);
    }
    if (psk) {
        uint8_t sel[2] = {(uint8_t)(selected >> 8), (uint8_t)selected};
        ext(&exts, 41, sel, 2);
    }
    t13_add_u16(&body, (uint16_t)exts.n);
    t13_add(&body, exts.p, exts.n);
    t13_add_msg(b, LURK_TLS13_HS_SERVER_HELLO, body.p, body.n);
    t13_buf_free(&body);
    t13_buf_free(&exts);
    t13_buf_free(&ks);
}

void t13_ch_replace_psk(struct t13_buf *out, const uint8_t *ch, size_t ch_len,
                        const uint8_t *identity, size_t identity_len, uint32_t age,
                        const uint8_t *binder_key)
{
    /* Walk to the extensions; pre_shared_key is the last one (RFC 8446 §4.2.11). */
    size_t p = 4 + 2 + 32, ext_len_at, psk_at = 0;
    p += 1 + ch[p];
    p += 2 + ((size_t)ch[p] << 8 | ch[p + 1]);
    p += 1 + ch[p];
    ext_len_at = p;
    p += 2;
    while (p < ch_len) {
        uint16_t t = (uint16_t)(ch[p] << 8 | ch[p + 1]);
        size_t l = (size_t)ch[p + 2] << 8 | ch[p + 3];
        if (t == 41)
            psk_at = p;
        p += 4 + l;
    }
    ck_assert(psk_at != 0);
    struct t13_buf psk = {0};
    t13_add_u16(&psk, (uint16_t)(2 + identity_len + 4));
    t13_add_u16(&psk, (uint16_t)identity_len);
    t13_add(&psk, identity, identity_len);
    t13_add_u8(&psk, (uint8_t)(age >> 24));
    t13_add_u8(&psk, (uint8_t)(age >> 16));
    t13_add_u8(&psk, (uint8_t)(age >> 8));
    t13_add_u8(&psk, (uint8_t)age);
    t13_add_u16(&psk, 33);
    t13_add_u8(&psk, 32);
    uint8_t zeros[32] = {0};
    t13_add(&psk, zeros, 32);
    out->n = 0;
    t13_add(out, ch, psk_at);
    ext(out, 41, psk.p, psk.n);
    t13_buf_free(&psk);
    /* The lengths that enclose the new extension. */
    size_t body = out->n - 4, exts = out->n - ext_len_at - 2;
    out->p[1] = (uint8_t)(body >> 16), out->p[2] = (uint8_t)(body >> 8), out->p[3] = (uint8_t)body;
    out->p[ext_len_at] = (uint8_t)(exts >> 8), out->p[ext_len_at + 1] = (uint8_t)exts;
    t13_ch_set_binder(out, "SHA256", binder_key, NULL, 0);
}

/* ---- the daemon ---- */

const char *t13_write_pem_key(const struct lurkd_proc *p, const char *name, const char *pem)
{
    return dc_write_file(p, name, pem);
}

const char *t13_write_cert_der(const struct lurkd_proc *p, const char *name, const uint8_t *der,
                               size_t len)
{
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long n;

    ck_assert(x != NULL && bio != NULL && PEM_write_bio_X509(bio, x) == 1);
    n = BIO_get_mem_data(bio, &pem);
    char *text = strndup(pem, (size_t)n);
    const char *path = dc_write_file(p, name, text);
    free(text);
    BIO_free(bio);
    X509_free(x);
    return path;
}

const uint8_t *t13_cert_der(const uint8_t *body, size_t body_len, size_t *der_len)
{
    size_t p = 1 + body[0]; /* certificate_request_context */
    ck_assert(body_len > p + 6);
    p += 3; /* certificate_list length */
    *der_len = (size_t)body[p] << 16 | (size_t)body[p + 1] << 8 | body[p + 2];
    return body + p + 3;
}

void t13_ch_psk_identity(const uint8_t *ch, size_t ch_len, const uint8_t **identity,
                         size_t *identity_len, uint32_t *age)
{
    size_t p = 4 + 2 + 32;
    p += 1 + ch[p];
    p += 2 + ((size_t)ch[p] << 8 | ch[p + 1]);
    p += 1 + ch[p];
    p += 2;
    while (p + 4 <= ch_len) {
        uint16_t t = (uint16_t)(ch[p] << 8 | ch[p + 1]);
        size_t l = (size_t)ch[p + 2] << 8 | ch[p + 3];
        if (t == 41) {
            /* identities<2> identity<2> obfuscated_ticket_age(4) */
            const uint8_t *q = ch + p + 4 + 2;
            *identity_len = (size_t)q[0] << 8 | q[1];
            *identity = q + 2;
            q += 2 + *identity_len;
            *age = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
            return;
        }
        p += 4 + l;
    }
    ck_abort_msg("no pre_shared_key in the ClientHello");
}

int t13_run(const char *const *argv, const char *out_path, char *out, size_t outlen)
{
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), status = -1;
    pid_t pid;

    ck_assert(fd >= 0);
    pid = fork();
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd);
    ck_assert(pid > 0 && waitpid(pid, &status, 0) == pid);
    char *text = lurk_test_read_file(out_path, NULL);
    snprintf(out, outlen, "%s", text ? text : "");
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
