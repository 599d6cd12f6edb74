/* Shared plumbing of the tls13 exchanges; see tls13_exchange.h. */
#include "exchange/tls13_common.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "lurk/freshness.h"

uint8_t lurkd_tls13_ex_refuse(struct lurkd_tls13_ex *ex, uint8_t st, const char *note)
{
    ex->req->note = note;
    return st;
}

uint8_t lurkd_tls13_ex_begin(struct lurkd_tls13_ex *ex, struct lurkd_request *req, uint8_t type)
{
    uint8_t st;
    int role;

    memset(ex, 0, sizeof(*ex));
    ex->req = req;
    ex->conf = lurkd_tls13_conf(req->rt->cfg);
    ex->resp.type = type;
    st = lurk_tls13_request_decode(type, &req->payload, &ex->r);
    if (st != LURK_STATUS_SUCCESS)
        return st; /* dispatch notes "request payload does not decode" */
    /* T5: early_secret's role comes from its key_request (b: server). */
    role = lurk_tls13_exchange_role(type, ex->r.secrets.key_request);
    if (role < 0)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_REQUEST, "not a tls13 exchange");
    ex->role = (uint8_t)role;
    st = lurk_tls13_key_request_check(type, ex->role, ex->r.secrets.key_request);
    if (st != LURK_STATUS_SUCCESS)
        return lurkd_tls13_ex_refuse(ex, st,
                                     "key_request not permitted for this exchange (-01 Figure 3)");
    st = lurk_tls13_extensions_check(type, ex->role, &ex->r.secrets.extensions);
    if (st != LURK_STATUS_SUCCESS)
        return lurkd_tls13_ex_refuse(ex, st,
                                     st == LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT
                                         ? "psk_id where -01 Figure 6 forbids it"
                                         : "extension missing or forbidden (-01 Figures 5-7)");
    ex->psk_id = lurk_tls13_extension_find(&ex->r.secrets.extensions, LURK_TLS13_EXT_PSK_ID);
    ex->ephemeral = lurk_tls13_extension_find(&ex->r.secrets.extensions, LURK_TLS13_EXT_EPHEMERAL);
    ex->freshness = lurk_tls13_extension_find(&ex->r.secrets.extensions, LURK_TLS13_EXT_FRESHNESS);
    return LURK_STATUS_SUCCESS;
}

uint8_t lurkd_tls13_ex_open(struct lurkd_tls13_ex *ex)
{
    const char *why = NULL;

    ex->s = lurkd_tls13_session_new(ex->req, &why);
    if (ex->s == NULL) {
        /* A resource limit, not a protocol error: designation lurk, as for full queues. */
        ex->req->lurk_error = LURK_STATUS_TEMPORARY_FAILURE;
        return lurkd_tls13_ex_refuse(ex, LURK_STATUS_TEMPORARY_FAILURE, why);
    }
    ex->opening = true;
    ex->s->role = ex->role;
    ex->s->state = LURKD_TLS13_NEW;
    return LURK_STATUS_SUCCESS;
}

uint8_t lurkd_tls13_ex_resume(struct lurkd_tls13_ex *ex, unsigned state_mask)
{
    /* One constant note per state: the audit line keeps the pointer. */
    static const char *const out_of_order[] = {
        "exchange out of order (session state: new)",
        "exchange out of order (session state: server early)",
        "exchange out of order (session state: server application)",
        "exchange out of order (session state: server tickets)",
        "exchange out of order (session state: client early)",
        "exchange out of order (session state: client handshake)",
        "exchange out of order (session state: client application)",
        "exchange out of order (session state: client post-handshake)",
    };
    const char *why = NULL;
    struct lurkd_tls13_session *s =
        lurkd_tls13_session_acquire(ex->req, ex->r.session.session_id, ex->r.session.cookie, &why);

    if (s == NULL)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_REQUEST, why);
    ex->s = s;
    /* §3.4.1: "The ephemeral extension MUST NOT appear more than once in a LURK session." */
    if (ex->ephemeral != NULL && s->ephemeral_used)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                     "a second ephemeral extension in this session (-01 §3.4.1)");
    if (s->role != ex->role || (state_mask & LURKD_TLS13_STATES(s->state)) == 0)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_REQUEST,
                                     s->state < sizeof(out_of_order) / sizeof(out_of_order[0])
                                         ? out_of_order[s->state]
                                         : "exchange out of order");
    return LURK_STATUS_SUCCESS;
}

bool lurkd_tls13_ex_secret(struct lurkd_tls13_ex *ex, uint8_t type, const uint8_t *data, size_t len)
{
    struct lurk_tls13_secret_list *l = &ex->resp.secrets.secrets;

    if (l->n >= LURK_TLS13_MAX_SECRETS || len > LURK_TLS13_MAX_HASH_LEN)
        return false;
    memcpy(ex->secrets[l->n], data, len);
    l->s[l->n].type = type;
    lurk_cbs_init(&l->s[l->n].data, ex->secrets[l->n], len);
    l->n++;
    return true;
}

bool lurkd_tls13_ex_wants(const struct lurkd_tls13_ex *ex, uint8_t secret_type)
{
    return (ex->r.secrets.key_request & LURK_TLS13_KR_BIT(secret_type)) != 0;
}

/* Random bytes as a big-endian uint32 (session ids, cookie_init of a stateless answer). */
static bool random_u32(uint32_t *out)
{
    uint8_t b[4];

    if (RAND_bytes(b, sizeof(b)) != 1)
        return false;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return true;
}

uint8_t lurkd_tls13_ex_finish(struct lurkd_tls13_ex *ex, uint8_t st, lurk_cbb *out)
{
    struct lurkd_tls13_session *s = ex->s;
    struct lurk_tls13_response *resp = &ex->resp;

    if (st == LURK_STATUS_SUCCESS && s != NULL) {
        if (ex->ephemeral != NULL)
            s->ephemeral_used = true;
        if (ex->opening && ex->finished) {
            /*
             * §4.2: with nothing to follow, "some implementations MAY NOT
             * create the ks_ctx": random values, no state (protocol.md).
             */
            if (!random_u32(&resp->ctx.crypto_service_session_id) ||
                !random_u32(&resp->ctx.crypto_service_cookie_init))
                st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
            lurkd_tls13_session_free(s);
        } else if (ex->opening) {
            if (lurkd_tls13_session_insert(
                    s, lurk_cbs_data(&ex->req->payload), lurk_cbs_len(&ex->req->payload),
                    ex->r.ctx.lurk_client_session_id, &resp->ctx.crypto_service_session_id,
                    &resp->ctx.crypto_service_cookie_init))
                lurkd_tls13_session_abort(s, false); /* releases it, n = 0 */
            else {
                st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
                lurkd_tls13_session_free(s);
            }
        } else if (!lurkd_tls13_session_commit(s, ex->finished, &resp->session.session_id,
                                               &resp->session.cookie)) {
            st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
        }
    } else if (s != NULL) {
        if (ex->opening)
            lurkd_tls13_session_free(s);
        else
            lurkd_tls13_session_abort(s, ex->drop);
    }
    ex->s = NULL;
    if (st == LURK_STATUS_SUCCESS) {
        if (ex->share_len > 0) {
            struct lurk_tls13_extension *e = &resp->secrets.extensions.ext[0];
            e->type = LURK_TLS13_EXT_EPHEMERAL;
            e->ephemeral.method = LURK_TLS13_EPHEMERAL_SECRET_GENERATED;
            e->ephemeral.key_share.group = ex->share_group;
            lurk_cbs_init(&e->ephemeral.key_share.key_exchange, ex->share, ex->share_len);
            resp->secrets.extensions.n = 1;
        }
        if (ex->have_signature) {
            /* lurkd_sign wrote opaque signature<0..2^16-1>: the codec wants the bytes. */
            lurk_cbs_init(&resp->signing.signature, lurk_cbb_data(&ex->signature) + 2,
                          lurk_cbb_len(&ex->signature) - 2);
        }
        if (!lurk_tls13_response_encode(out, resp))
            st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
    OPENSSL_cleanse(ex->secrets, sizeof(ex->secrets));
    OPENSSL_cleanse(ex->share, sizeof(ex->share));
    if (ex->have_signature)
        lurk_cbb_cleanup(&ex->signature);
    ex->have_signature = false;
    return st;
}

uint8_t lurkd_tls13_ex_freshness(struct lurkd_tls13_ex *ex, bool null_allowed)
{
    uint8_t funct = ex->freshness->freshness;

    /* T11: null only where the key's or PSK's policy allows it (RFC 8448 replays need it). */
    if (funct == LURK_FRESHNESS_NULL && !null_allowed)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT,
                                     "freshness null not allowed here (null_freshness)");
    if (ex->s != NULL)
        ex->s->used_null = funct == LURK_FRESHNESS_NULL;
    return LURK_STATUS_SUCCESS;
}

bool lurkd_tls13_fresh_random(uint8_t funct, uint8_t role, const lurk_cbs *pre_image,
                              uint8_t out[32])
{
    if (lurk_cbs_len(pre_image) != LURK_RANDOM_LEN)
        return false;
    return lurk_freshness_tls13_random(NULL, funct,
                                       role == LURK_TLS13_ROLE_SERVER ? LURK_FRESHNESS_ROLE_SERVER
                                                                      : LURK_FRESHNESS_ROLE_CLIENT,
                                       lurk_cbs_data(pre_image), out);
}

bool lurkd_tls13_feed_hello(struct lurk_tls13_transcript *t, const lurk_cbs *message,
                            size_t random_off, const uint8_t *random, size_t upto)
{
    const uint8_t *m = lurk_cbs_data(message);

    if (upto > lurk_cbs_len(message))
        return false;
    if (random == NULL)
        return lurk_tls13_transcript_update(t, m, upto);
    if (upto < random_off + LURK_RANDOM_LEN)
        return false;
    return lurk_tls13_transcript_update(t, m, random_off) &&
           lurk_tls13_transcript_update(t, random, LURK_RANDOM_LEN) &&
           lurk_tls13_transcript_update(t, m + random_off + LURK_RANDOM_LEN,
                                        upto - random_off - LURK_RANDOM_LEN);
}

uint8_t lurkd_tls13_ex_ecdhe(struct lurkd_tls13_ex *ex, bool handshake_has_share, uint16_t group,
                             const lurk_cbs *own_share, const lurk_cbs *peer_share,
                             uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len)
{
    const struct lurk_tls13_ephemeral *e = ex->ephemeral ? &ex->ephemeral->ephemeral : NULL;
    uint8_t st;

    *shared_len = 0;
    if (e == NULL) {
        /* §3.4.1: without the extension, RFC 8446's default: no (EC)DHE (psk_ke). */
        if (handshake_has_share)
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                         "the handshake uses (EC)DHE but no ephemeral was sent");
        return LURK_STATUS_SUCCESS;
    }
    if (!handshake_has_share)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                     "ephemeral sent but the handshake has no key_share (psk_ke)");
    if (!lurkd_tls13_group_supported(group))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                     "key_share group not supported (ephemeral)");
    if (e->method == LURK_TLS13_EPHEMERAL_SECRET_PROVIDED) {
        st = lurkd_tls13_ecdhe_provided(group, &e->secret, own_share, peer_share, shared,
                                        shared_len);
        if (st != LURK_STATUS_SUCCESS)
            return lurkd_tls13_ex_refuse(
                ex, st,
                st == LURK_TLS13_STATUS_INVALID_EPHEMERAL
                    ? "secret_provided is not the private key of the handshake's key share"
                    : "the peer's key share is not a valid public key");
        return LURK_STATUS_SUCCESS;
    }
    /* T10: only a ServerHello can be completed by the CS. */
    if (ex->role != LURK_TLS13_ROLE_SERVER)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                     "secret_generated on the client role (T10)");
    if (lurk_cbs_len(own_share) != 0)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_EPHEMERAL,
                                     "secret_generated but the ServerHello's key share is set");
    st = lurkd_tls13_ecdhe_generate(group, peer_share, ex->share, &ex->share_len, shared,
                                    shared_len);
    if (st != LURK_STATUS_SUCCESS)
        return lurkd_tls13_ex_refuse(ex, st, "the peer's key share is not a valid public key");
    ex->share_group = group;
    return LURK_STATUS_SUCCESS;
}

uint8_t lurkd_tls13_ex_signing_key(struct lurkd_tls13_ex *ex, const struct lurkd_key **key,
                                   const struct lurkd_sig_alg **alg)
{
    /* Audited key access; the key's "exchanges" must include tls13. */
    *key = lurkd_request_key(ex->req, &ex->r.signing.key_id, LURKD_EX_TLS13);
    if (*key == NULL)
        return LURK_TLS13_STATUS_INVALID_KEY_ID;
    /* §3.6: a scheme the key cannot sign with (ECDSA: the curve must match). */
    *alg = lurkd_sig_alg_tls13(ex->r.signing.sig_algo, *key);
    if (*alg == NULL)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME,
                                     "signature scheme does not fit the key");
    return LURK_STATUS_SUCCESS;
}

uint8_t lurkd_tls13_ex_scheme_offered(struct lurkd_tls13_ex *ex, bool listed_at_all,
                                      const lurk_cbs *offered)
{
    if (!listed_at_all || !lurk_tls13_hs_scheme_listed(offered, ex->r.signing.sig_algo))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME,
                                     "signature scheme not offered by the peer "
                                     "(signature_algorithms)");
    return LURK_STATUS_SUCCESS;
}

/* The first CertificateEntry must be an X.509 certificate of key (§3.6). */
static bool certificate_of_key(const lurk_cbs *certificate_list, const struct lurkd_key *key)
{
    lurk_cbs list = *certificate_list;
    struct lurk_tls13_certificate_entry e;
    const unsigned char *p;
    X509 *x;
    bool ok;

    if (lurk_tls13_certificate_entry_next(&list, &e) != LURK_TLS13_NEXT_OK)
        return false;
    p = lurk_cbs_data(&e.cert_data);
    x = d2i_X509(NULL, &p, (long)lurk_cbs_len(&e.cert_data));
    ok = x != NULL && p == lurk_cbs_data(&e.cert_data) + lurk_cbs_len(&e.cert_data) &&
         EVP_PKEY_eq(X509_get0_pubkey(x), key->pkey) == 1;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

/* Certificate body for a key's own certificate (sha256_32): context, one entry, no extensions. */
static bool own_certificate_body(lurk_cbb *out, const struct lurkd_key *key,
                                 const lurk_cbs *request_context)
{
    lurk_cbb_mark list, entry;

    lurk_cbb_add_prefixed(out, 1, lurk_cbs_data(request_context), lurk_cbs_len(request_context));
    lurk_cbb_begin(out, &list, 3);
    lurk_cbb_begin(out, &entry, 3);
    lurk_cbb_add_bytes(out, key->cert_der, key->cert_der_len);
    lurk_cbb_end(out, &entry);
    lurk_cbb_add_u16(out, 0);
    return lurk_cbb_end(out, &list);
}

uint8_t lurkd_tls13_ex_sign(struct lurkd_tls13_ex *ex, const struct lurkd_key *key,
                            const struct lurkd_sig_alg *alg, uint8_t role,
                            const lurk_cbs *request_context, const struct lurk_tls13_transcript *t,
                            lurk_cbb *cert, lurk_cbb *cv)
{
    const struct lurk_tls13_lurk_certificate *lc = &ex->r.signing.certificate;
    struct lurk_tls13_transcript tmp = {0};
    uint8_t th[LURK_TLS13_MAX_HASH_LEN];
    lurk_cbb_mark body;
    lurk_cbs empty;

    lurk_cbs_init(&empty, NULL, 0);
    /* The Certificate message lurkd signs over and the TLS peer sends (RFC 8446 §4.4.2). */
    lurk_cbb_add_u8(cert, LURK_TLS13_HS_CERTIFICATE);
    lurk_cbb_begin(cert, &body, 3);
    if (lc->type == LURK_TLS13_LURK_CERTIFICATE_SHA256_32) {
        uint8_t h[32];
        lurk_cbb plain;
        bool match;
        if (key->cert_der == NULL)
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_CERTIFICATE,
                                         "sha256_32 certificate but the key has none");
        /* T20: hash_cert is over the body with an empty certificate_request_context. */
        if (!lurk_cbb_init(&plain, 256 + key->cert_der_len, 1u << 24))
            return LURK_TLS13_STATUS_UNDEFINED_ERROR;
        own_certificate_body(&plain, key, &empty);
        match = lurk_cbb_ok(&plain) &&
                EVP_Digest(lurk_cbb_data(&plain), lurk_cbb_len(&plain), h, NULL, EVP_sha256(),
                           NULL) == 1 &&
                ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]) ==
                    lc->hash_cert;
        lurk_cbb_cleanup(&plain);
        if (!match)
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_CERTIFICATE,
                                         "hash_cert is not the key's certificate");
        own_certificate_body(cert, key, request_context);
    } else {
        /* tls13: as sent; its context must be the CertificateRequest's (RFC 8446 §4.4.2). */
        if (!lurk_cbs_equal(&lc->request_context, lurk_cbs_data(request_context),
                            lurk_cbs_len(request_context)))
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_CERTIFICATE,
                                         "certificate_request_context does not match");
        if (!certificate_of_key(&lc->certificate_list, key))
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_CERTIFICATE,
                                         "certificate does not match the key");
        lurk_cbb_add_cbs(cert, &lc->certificate);
    }
    if (!lurk_cbb_end(cert, &body))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    /* CertificateVerify over Transcript-Hash(Handshake Context, Certificate) (§4.4.3). */
    if (!lurk_tls13_transcript_copy(&tmp, t) ||
        !lurk_tls13_transcript_update(&tmp, lurk_cbb_data(cert), lurk_cbb_len(cert)) ||
        !lurk_tls13_transcript_hash(&tmp, th)) {
        lurk_tls13_transcript_cleanup(&tmp);
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
    if (!ex->have_signature && !lurk_cbb_init(&ex->signature, 600, 0x10002)) {
        lurk_tls13_transcript_cleanup(&tmp);
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
    ex->have_signature = true;
    if (!lurkd_sign_certificate_verify(key, alg, role, th, lurk_tls13_transcript_hash_len(&tmp),
                                       &ex->signature)) {
        lurk_tls13_transcript_cleanup(&tmp);
        ERR_clear_error();
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_CERTIFICATE_VERIFY,
                                     "signing failed");
    }
    lurk_tls13_transcript_cleanup(&tmp);
    /* CertificateVerify {SignatureScheme algorithm; opaque signature<0..2^16-1>}. */
    lurk_cbb_add_u8(cv, LURK_TLS13_HS_CERTIFICATE_VERIFY);
    lurk_cbb_begin(cv, &body, 3);
    lurk_cbb_add_u16(cv, ex->r.signing.sig_algo);
    lurk_cbb_add_bytes(cv, lurk_cbb_data(&ex->signature), lurk_cbb_len(&ex->signature));
    if (!lurk_cbb_end(cv, &body))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    return LURK_STATUS_SUCCESS;
}

bool lurkd_tls13_finished_of(const struct lurkd_tls13_session *s, const uint8_t *base_key,
                             const struct lurk_tls13_transcript *t, uint8_t *out)
{
    uint8_t th[LURK_TLS13_MAX_HASH_LEN];

    return lurk_tls13_transcript_hash(t, th) &&
           lurk_tls13_finished(NULL, lurk_tls13_keysched_md(&s->ks), base_key, th, out);
}

bool lurkd_tls13_binder_ok(const struct lurk_tls13_keysched *ks, bool resumption,
                           const struct lurk_tls13_hs_client_hello *ch, int index,
                           const uint8_t *random, const struct lurk_tls13_transcript *prefix)
{
    uint8_t bk[LURK_TLS13_MAX_HASH_LEN], th[LURK_TLS13_MAX_HASH_LEN], want[LURK_TLS13_MAX_HASH_LEN];
    const EVP_MD *md = lurk_tls13_keysched_md(ks);
    size_t hash_len = lurk_tls13_keysched_hash_len(ks);
    struct lurk_tls13_transcript t = {0};
    lurk_cbs binder;
    bool ok;

    ok = index >= 0 && lurk_tls13_hs_client_psk_binder(ch, (unsigned)index, &binder) &&
         lurk_cbs_len(&binder) == hash_len &&
         lurk_tls13_keysched_binder_key(
             ks, resumption ? LURK_TLS13_BINDER_RESUMPTION : LURK_TLS13_BINDER_EXTERNAL, bk) &&
         (prefix != NULL ? lurk_tls13_transcript_copy(&t, prefix)
                         : lurk_tls13_transcript_init(&t, md)) &&
         lurkd_tls13_feed_hello(&t, &ch->message, ch->random_off, random, ch->truncated_len) &&
         lurk_tls13_transcript_hash(&t, th) && lurk_tls13_psk_binder(NULL, md, bk, th, want) &&
         CRYPTO_memcmp(want, lurk_cbs_data(&binder), hash_len) == 0;
    lurk_tls13_transcript_cleanup(&t);
    OPENSSL_cleanse(bk, sizeof(bk));
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

void lurkd_tls13_keep_shares(struct lurkd_tls13_session *s,
                             const struct lurk_tls13_hs_client_hello *ch)
{
    lurk_cbs list = ch->key_shares, ke;
    uint16_t group;

    s->n_shares = 0;
    while (s->n_shares < sizeof(s->shares) / sizeof(s->shares[0]) &&
           lurk_cbs_get_u16(&list, &group) && lurk_cbs_get_u16_prefixed(&list, &ke)) {
        struct lurkd_tls13_share *k = &s->shares[s->n_shares];
        if (!lurkd_tls13_group_supported(group) || lurk_cbs_len(&ke) > sizeof(k->data))
            continue;
        k->group = group;
        k->len = (uint8_t)lurk_cbs_len(&ke);
        memcpy(k->data, lurk_cbs_data(&ke), k->len);
        s->n_shares++;
    }
}

const struct lurkd_tls13_share *lurkd_tls13_kept_share(const struct lurkd_tls13_session *s,
                                                       uint16_t group)
{
    for (size_t i = 0; i < s->n_shares; i++)
        if (s->shares[i].group == group)
            return &s->shares[i];
    return NULL;
}

bool lurkd_tls13_next_msg(lurk_cbs *ctx, uint8_t type, struct lurk_tls13_handshake_msg *out)
{
    lurk_cbs save = *ctx;

    if (lurk_tls13_handshake_next(ctx, out) != LURK_TLS13_NEXT_OK || out->msg_type != type) {
        *ctx = save;
        return false;
    }
    return true;
}

bool lurkd_tls13_resumption_possible(const struct lurkd_tls13_ex *ex)
{
    /* RFC 8446 §4.6.1: no ticket without psk_key_exchange_modes in the ClientHello. */
    return ex->conf->session_resumption && ex->s->ch_psk_modes && ex->conf->max_tickets > 0;
}

bool lurkd_tls13_post_handshake_possible(const struct lurkd_tls13_ex *ex)
{
    return ex->role == LURK_TLS13_ROLE_CLIENT && ex->conf->post_handshake_auth &&
           ex->s->ch_post_handshake;
}

uint8_t lurkd_tls13_read_hellos(struct lurkd_tls13_ex *ex, lurk_cbs *ctx,
                                struct lurkd_tls13_hellos *h)
{
    struct lurk_tls13_handshake_msg m;
    lurk_cbs save;

    memset(h, 0, sizeof(*h));
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CLIENT_HELLO, &m) ||
        !lurk_tls13_hs_parse_client_hello(&m.message, &h->ch))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_HANDSHAKE,
                                     "handshake_context: no valid ClientHello");
    save = *ctx;
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_SERVER_HELLO, &m) ||
        !lurk_tls13_hs_parse_server_hello(&m.message, &h->hrr) || !h->hrr.hrr) {
        *ctx = save; /* no HelloRetryRequest: the caller reads what follows */
        memset(&h->hrr, 0, sizeof(h->hrr));
        return LURK_STATUS_SUCCESS;
    }
    h->ch1 = h->ch;
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CLIENT_HELLO, &m) ||
        !lurk_tls13_hs_parse_client_hello(&m.message, &h->ch))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_HANDSHAKE,
                                     "handshake_context: no ClientHello after HelloRetryRequest");
    h->hrr_seen = true;
    return LURK_STATUS_SUCCESS;
}

bool lurkd_tls13_feed_hellos(struct lurk_tls13_transcript *t, const struct lurkd_tls13_hellos *h,
                             const uint8_t *random)
{
    const struct lurk_tls13_hs_client_hello *first = h->hrr_seen ? &h->ch1 : &h->ch;

    if (!lurkd_tls13_feed_hello(t, &first->message, first->random_off, random,
                                lurk_cbs_len(&first->message)))
        return false;
    if (!h->hrr_seen)
        return true;
    return lurk_tls13_transcript_hello_retry(t) &&
           lurk_tls13_transcript_update(t, lurk_cbs_data(&h->hrr.message),
                                        lurk_cbs_len(&h->hrr.message)) &&
           lurkd_tls13_feed_hello(t, &h->ch.message, h->ch.random_off, random,
                                  lurk_cbs_len(&h->ch.message));
}

void lurkd_tls13_keep_client_hello(struct lurkd_tls13_session *s,
                                   const struct lurkd_tls13_hellos *h)
{
    s->hrr = h->hrr_seen;
    s->ch_psk_modes = h->ch.has_psk_modes;
    s->ch_psk_ke = h->ch.psk_ke;
    s->ch_psk_dhe_ke = h->ch.psk_dhe_ke;
    /* RFC 8446 §4.2.10: no early data after a HelloRetryRequest. */
    s->ch_early_data = h->ch.early_data && !h->hrr_seen;
    s->ch_post_handshake = h->ch.post_handshake_auth;
    lurkd_tls13_keep_shares(s, &h->ch);
}

/* c/s handshake traffic secrets over CH..SH, kept for the Finished messages, and returned. */
bool lurkd_tls13_ex_handshake_secrets(struct lurkd_tls13_ex *ex)
{
    struct lurkd_tls13_session *s = ex->s;
    uint8_t th[LURK_TLS13_MAX_HASH_LEN];
    size_t n = lurk_tls13_keysched_hash_len(&s->ks);

    return lurk_tls13_transcript_hash(&s->tr, th) &&
           lurk_tls13_keysched_client_handshake_traffic(&s->ks, th, s->c_hs) &&
           lurk_tls13_keysched_server_handshake_traffic(&s->ks, th, s->s_hs) &&
           lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_CLIENT_HANDSHAKE_TRAFFIC_SECRET, s->c_hs,
                                 n) &&
           lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_SERVER_HANDSHAKE_TRAFFIC_SECRET, s->s_hs, n);
}

/*
 * Master Secret, then the application secrets over CH..server Finished that
 * key_request asks for and policy gives (a_c, a_s optional; x: MASTER_EXPORTER).
 */
bool lurkd_tls13_ex_application_secrets(struct lurkd_tls13_ex *ex, const uint8_t *th_sfin)
{
    struct lurkd_tls13_session *s = ex->s;
    uint8_t out[LURK_TLS13_MAX_HASH_LEN];
    size_t n = lurk_tls13_keysched_hash_len(&s->ks);
    bool ok = lurk_tls13_keysched_extract_master(&s->ks);

    if (ok && lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_CLIENT_APPLICATION_TRAFFIC_SECRET_0))
        ok = lurk_tls13_keysched_client_application_traffic(&s->ks, th_sfin, out) &&
             lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_CLIENT_APPLICATION_TRAFFIC_SECRET_0, out,
                                   n);
    if (ok && lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_SERVER_APPLICATION_TRAFFIC_SECRET_0))
        ok = lurk_tls13_keysched_server_application_traffic(&s->ks, th_sfin, out) &&
             lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_SERVER_APPLICATION_TRAFFIC_SECRET_0, out,
                                   n);
    if (ok && lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_EXPORTER_MASTER_SECRET) &&
        ex->conf->exporter)
        ok = lurk_tls13_keysched_exporter_master(&s->ks, th_sfin, out) &&
             lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_EXPORTER_MASTER_SECRET, out, n);
    OPENSSL_cleanse(out, sizeof(out));
    return ok;
}
