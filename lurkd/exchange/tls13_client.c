/*
 * tls13 exchanges of the TLS client role (draft-mglt-lurk-tls13-01 §5):
 * binder_key, early_secret, init_handshake_secret, handshake_secret,
 * app_secret, certificate_verify, register_session_ticket, post_handshake,
 * with the client side of the annex's state machine:
 *
 *   binder_key: no session
 *   early_secret ---------> C_EARLY --handshake_secret--+
 *   init_handshake_secret ------------------------------+--> C_HANDSHAKE
 *   C_HANDSHAKE --app_secret | certificate_verify--> C_APP
 *   C_APP --register_session_ticket (client Finished)--> C_POST
 *   C_POST --register_session_ticket (tickets) | post_handshake--> C_POST
 *
 * A session ends after C_HANDSHAKE's exchange when neither resumption nor
 * post-handshake authentication can follow (-01 §5.5, §5.6), and after
 * max_tickets tickets when post-handshake authentication cannot follow.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "exchange/tls13_common.h"

#define HANDSHAKE LURK_TLS13_STATUS_INVALID_HANDSHAKE

static bool identity_hash(const lurk_cbs *identity, uint8_t out[32])
{
    return EVP_Digest(lurk_cbs_data(identity), lurk_cbs_len(identity), out, NULL, EVP_sha256(),
                      NULL) == 1;
}

/* The offered PSK whose identity hashes to hash (after a HelloRetryRequest), or -1. */
static int psk_index_by_hash(const struct lurk_tls13_hs_client_hello *ch, const uint8_t hash[32])
{
    lurk_cbs ids = ch->identities, id;
    uint32_t age;
    uint8_t h[32];

    for (int i = 0; lurk_cbs_len(&ids) > 0 && i < 0xffff; i++) {
        if (!lurk_cbs_get_u16_prefixed(&ids, &id) || !lurk_cbs_get_u32(&ids, &age) ||
            !identity_hash(&id, h))
            return -1;
        if (memcmp(h, hash, 32) == 0)
            return i;
    }
    return -1;
}

/* The PSK of psk_id, checked against the ClientHello that offers it (§3.4.2, §5.2). */
static uint8_t offered_psk(struct lurkd_tls13_ex *ex, const struct lurk_tls13_hs_client_hello *ch,
                           int *index)
{
    const struct lurk_tls13_psk_identity *pid = &ex->psk_id->psk_id;
    uint32_t age;

    if (!ch->has_psk || !ch->has_psk_modes)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "ClientHello without pre_shared_key or "
                                     "psk_key_exchange_modes");
    *index = lurk_tls13_hs_client_psk_index(ch, &pid->identity, &age);
    if (*index < 0 || age != pid->obfuscated_ticket_age)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "psk_id is not one of the ClientHello's PSK identities");
    return LURK_STATUS_SUCCESS;
}

static uint8_t find_psk(struct lurkd_tls13_ex *ex, struct lurkd_psk *psk)
{
    const lurk_cbs *id = &ex->psk_id->psk_id.identity;

    if (!lurkd_psk_find(ex->req->rt, ex->req->peer, LURK_TLS13_ROLE_CLIENT, lurk_cbs_data(id),
                        lurk_cbs_len(id), psk))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_PSK,
                                     "unknown or expired PSK identity");
    return LURK_STATUS_SUCCESS;
}

/* Session fields of a PSK-based session. */
static void keep_psk(struct lurkd_tls13_session *s, const struct lurkd_psk *psk, int index,
                     const lurk_cbs *identity)
{
    s->psk = true;
    s->psk_resumption = psk->resumption;
    s->psk_index = index;
    s->psk_md = psk->md_name;
    identity_hash(identity, s->psk_identity_hash);
}

/* ---- binder_key (§5.1) ---- */

uint8_t lurkd_ex_tls13_binder_key(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurk_tls13_keysched ks = {0};
    struct lurkd_psk psk;
    uint8_t bk[LURK_TLS13_MAX_HASH_LEN];
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_BINDER_KEY);

    memset(&psk, 0, sizeof(psk));
    if (st != LURK_STATUS_SUCCESS)
        goto out;
    /* §5.1: the ClientHello is being built: no context, no session (T8: ephemeral unused). */
    if (lurk_cbs_len(&ex.r.secrets.handshake_context) != 0) {
        st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE,
                                   "binder_key takes no handshake_context (-01 §5.1)");
        goto out;
    }
    if ((st = find_psk(&ex, &psk)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (lurk_tls13_keysched_init(&ks, NULL, psk.md_name) &&
        lurk_tls13_keysched_extract_early(&ks, psk.key, psk.key_len) &&
        lurk_tls13_keysched_binder_key(
            &ks, psk.resumption ? LURK_TLS13_BINDER_RESUMPTION : LURK_TLS13_BINDER_EXTERNAL, bk) &&
        lurkd_tls13_ex_secret(&ex, LURK_TLS13_SECRET_BINDER_KEY, bk,
                              lurk_tls13_keysched_hash_len(&ks)))
        st = LURK_STATUS_SUCCESS;
out:
    lurk_tls13_keysched_cleanup(&ks);
    OPENSSL_cleanse(&psk, sizeof(psk));
    OPENSSL_cleanse(bk, sizeof(bk));
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- early_secret (§5.2) ---- */

uint8_t lurkd_tls13_client_early_secret(struct lurkd_tls13_ex *ex)
{
    lurk_cbs ctx = ex->r.secrets.handshake_context;
    struct lurkd_tls13_session *s;
    struct lurkd_tls13_hellos h;
    struct lurkd_psk psk;
    uint8_t th[LURK_TLS13_MAX_HASH_LEN], sec[LURK_TLS13_MAX_HASH_LEN];
    int index = -1;
    uint8_t st;

    memset(&psk, 0, sizeof(psk));
    if ((st = lurkd_tls13_ex_open(ex)) != LURK_STATUS_SUCCESS)
        return st;
    s = ex->s;
    if ((st = find_psk(ex, &psk)) != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_freshness(ex, psk.null_freshness)) != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_read_hellos(ex, &ctx, &h)) != LURK_STATUS_SUCCESS)
        goto out;
    /* §3.3: the ClientHello being sent; a HelloRetryRequest only comes later. */
    if (h.hrr_seen || lurk_cbs_len(&ctx) != 0) {
        st = lurkd_tls13_ex_refuse(ex, HANDSHAKE, "handshake_context: the ClientHello only");
        goto out;
    }
    if ((st = offered_psk(ex, &h.ch, &index)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurkd_tls13_fresh_random(ex->freshness->freshness, LURK_TLS13_ROLE_CLIENT, &h.ch.random,
                                  s->client_random) ||
        !lurk_tls13_keysched_init(&s->ks, NULL, psk.md_name) ||
        !lurk_tls13_keysched_extract_early(&s->ks, psk.key, psk.key_len))
        goto out;
    /* The binder the TLS client put in (over the derived random) proves the context. */
    if (!lurkd_tls13_binder_ok(&s->ks, psk.resumption, &h.ch, index, s->client_random, NULL)) {
        st = lurkd_tls13_ex_refuse(ex, HANDSHAKE, "the PSK binder does not verify");
        goto out;
    }
    if (!lurk_tls13_transcript_init(&s->tr, lurk_tls13_keysched_md(&s->ks)) ||
        !lurkd_tls13_feed_hellos(&s->tr, &h, s->client_random) ||
        !lurk_tls13_transcript_hash(&s->tr, th))
        goto out;
    lurkd_tls13_keep_client_hello(s, &h);
    /* e_s: early data offered, CLIENT_EARLY_TRAFFIC, a PSK allowing 0-RTT, the first PSK. */
    if (lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_CLIENT_EARLY_TRAFFIC_SECRET) &&
        s->ch_early_data && ex->conf->client_early_traffic && psk.max_early_data > 0 &&
        index == 0 &&
        (!lurk_tls13_keysched_client_early_traffic(&s->ks, th, sec) ||
         !lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_CLIENT_EARLY_TRAFFIC_SECRET, sec,
                                lurk_tls13_keysched_hash_len(&s->ks))))
        goto out;
    if (lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_EARLY_EXPORTER_MASTER_SECRET) &&
        ex->conf->early_exporter &&
        (!lurk_tls13_keysched_early_exporter_master(&s->ks, th, sec) ||
         !lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_EARLY_EXPORTER_MASTER_SECRET, sec,
                                lurk_tls13_keysched_hash_len(&s->ks))))
        goto out;
    keep_psk(s, &psk, index, &ex->psk_id->psk_id.identity);
    s->null_allowed = psk.null_freshness;
    s->state = LURKD_TLS13_C_EARLY;
    st = LURK_STATUS_SUCCESS;
out:
    OPENSSL_cleanse(&psk, sizeof(psk));
    OPENSSL_cleanse(sec, sizeof(sec));
    return st;
}

/* ---- init_handshake_secret (§5.4) and handshake_secret (§5.3) ---- */

/*
 * The ServerHello's choice against the session's PSK and the ClientHello's
 * offers (kept in the session): PSK-ECDHE, PSK or (without PSK) ECDHE, then
 * the (EC)DHE input with the client's own key share for the group.
 */
static uint8_t server_choice(struct lurkd_tls13_ex *ex, const struct lurk_tls13_hs_server_hello *sh,
                             uint8_t *shared, size_t *shared_len)
{
    struct lurkd_tls13_session *s = ex->s;
    const char *md = lurk_tls13_cipher_suite_md_name(sh->cipher_suite);
    const struct lurkd_tls13_share *kept = NULL;
    lurk_cbs own;

    if (md == NULL)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "ServerHello cipher suite not a TLS 1.3 one");
    if (s->psk) {
        if (!sh->has_psk || (int)sh->selected_identity != s->psk_index)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                         "ServerHello does not select the session's PSK");
        if (strcmp(md, s->psk_md) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "cipher suite hash is not the PSK's");
        if (sh->has_key_share ? !s->ch_psk_dhe_ke : !s->ch_psk_ke)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                         "PSK key exchange mode not offered by the ClientHello");
    } else if (!sh->has_key_share || sh->has_psk) {
        /* §5.4: ECDHE is a key_share and no pre_shared_key. */
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "ServerHello does not select ECDHE (-01 §5.4)");
    }
    if (sh->has_key_share && (kept = lurkd_tls13_kept_share(s, sh->group)) == NULL)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "ClientHello has no key share for the ServerHello's group");
    lurk_cbs_init(&own, kept ? kept->data : NULL, kept ? kept->len : 0);
    s->cipher_suite = sh->cipher_suite;
    if (s->psk_md == NULL)
        s->psk_md = md;
    return lurkd_tls13_ex_ecdhe(ex, sh->has_key_share, sh->group, &own, &sh->key_exchange, shared,
                                shared_len);
}

uint8_t lurkd_ex_tls13_init_handshake_secret(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurkd_tls13_hellos h;
    struct lurk_tls13_hs_server_hello sh;
    struct lurk_tls13_handshake_msg m;
    struct lurk_tls13_transcript prefix = {0};
    struct lurkd_psk psk;
    lurk_cbs ctx;
    uint8_t shared[LURKD_TLS13_MAX_SHARED], random2[32];
    size_t shared_len = 0;
    int index = -1;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET);

    memset(&psk, 0, sizeof(psk));
    if (st != LURK_STATUS_SUCCESS || (st = lurkd_tls13_ex_open(&ex)) != LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    /* With psk_id the session is PSK-based; null freshness follows its PSK, else [tls13]. */
    if (ex.psk_id != NULL && (st = find_psk(&ex, &psk)) != LURK_STATUS_SUCCESS)
        goto out;
    if ((st = lurkd_tls13_ex_freshness(&ex,
                                       ex.psk_id ? psk.null_freshness : ex.conf->null_freshness)) !=
            LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_read_hellos(&ex, &ctx, &h)) != LURK_STATUS_SUCCESS)
        goto out;
    st = HANDSHAKE;
    if (!lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_SERVER_HELLO, &m) ||
        !lurk_tls13_hs_parse_server_hello(&m.message, &sh) || sh.hrr || lurk_cbs_len(&ctx) != 0) {
        lurkd_tls13_ex_refuse(&ex, st, "handshake_context: ClientHello .. ServerHello (-01 §3.3)");
        goto out;
    }
    if (h.hrr_seen) {
        /* RFC 8446 §4.1.2: ClientHello2 keeps ClientHello1's random. */
        if (!lurk_cbs_equal(&h.ch.random, lurk_cbs_data(&h.ch1.random), 32) ||
            h.hrr.cipher_suite != sh.cipher_suite || h.hrr.group != sh.group) {
            lurkd_tls13_ex_refuse(&ex, st, "ClientHello2 or ServerHello disagree with the HRR");
            goto out;
        }
    }
    if (ex.psk_id != NULL) {
        if ((st = offered_psk(&ex, &h.ch, &index)) != LURK_STATUS_SUCCESS)
            goto out;
        keep_psk(s, &psk, index, &ex.psk_id->psk_id.identity);
    }
    s->null_allowed = ex.psk_id ? psk.null_freshness : ex.conf->null_freshness;
    lurkd_tls13_keep_client_hello(s, &h);
    if ((st = server_choice(&ex, &sh, shared, &shared_len)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurkd_tls13_fresh_random(ex.freshness->freshness, LURK_TLS13_ROLE_CLIENT, &h.ch.random,
                                  s->client_random))
        goto out;
    memcpy(random2, s->client_random, 32);
    if (ex.psk_id != NULL ? !lurk_tls13_keysched_init(&s->ks, NULL, psk.md_name)
                          : !lurk_tls13_keysched_init_suite(&s->ks, NULL, sh.cipher_suite))
        goto out;
    if (!lurk_tls13_keysched_extract_early(&s->ks, ex.psk_id ? psk.key : NULL,
                                           ex.psk_id ? psk.key_len : 0) ||
        !lurk_tls13_transcript_init(&s->tr, lurk_tls13_keysched_md(&s->ks)))
        goto out;
    if (ex.psk_id != NULL) {
        /* The binder of the last ClientHello (after an HRR: over CH1, HRR, truncated CH2). */
        if (h.hrr_seen && (!lurk_tls13_transcript_init(&prefix, lurk_tls13_keysched_md(&s->ks)) ||
                           !lurkd_tls13_feed_hello(&prefix, &h.ch1.message, h.ch1.random_off,
                                                   random2, lurk_cbs_len(&h.ch1.message)) ||
                           !lurk_tls13_transcript_hello_retry(&prefix) ||
                           !lurk_tls13_transcript_update(&prefix, lurk_cbs_data(&h.hrr.message),
                                                         lurk_cbs_len(&h.hrr.message))))
            goto out;
        if (!lurkd_tls13_binder_ok(&s->ks, psk.resumption, &h.ch, index, random2,
                                   h.hrr_seen ? &prefix : NULL)) {
            st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE, "the PSK binder does not verify");
            goto out;
        }
    }
    if (!lurk_tls13_keysched_extract_handshake(&s->ks, shared_len ? shared : NULL, shared_len) ||
        !lurkd_tls13_feed_hellos(&s->tr, &h, s->client_random) ||
        !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&sh.message),
                                      lurk_cbs_len(&sh.message)) ||
        !lurkd_tls13_ex_handshake_secrets(&ex))
        goto out;
    s->state = LURKD_TLS13_C_HANDSHAKE;
    st = LURK_STATUS_SUCCESS;
out:
    lurk_tls13_transcript_cleanup(&prefix);
    OPENSSL_cleanse(&psk, sizeof(psk));
    OPENSSL_cleanse(shared, sizeof(shared));
    return lurkd_tls13_ex_finish(&ex, st, out);
}

uint8_t lurkd_ex_tls13_handshake_secret(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_hs_server_hello sh, hrr = {0};
    struct lurk_tls13_hs_client_hello ch2 = {0};
    struct lurk_tls13_handshake_msg m;
    struct lurk_tls13_transcript prefix = {0};
    struct lurkd_tls13_hellos h;
    lurk_cbs ctx;
    uint8_t shared[LURKD_TLS13_MAX_SHARED], random[32];
    size_t shared_len = 0;
    bool hrr_seen = false;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_HANDSHAKE_SECRET);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_C_EARLY))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    st = HANDSHAKE;
    /* §3.3: ServerHello, or HelloRetryRequest, ClientHello2, ServerHello. */
    if (!lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_SERVER_HELLO, &m) ||
        !lurk_tls13_hs_parse_server_hello(&m.message, &sh)) {
        lurkd_tls13_ex_refuse(&ex, st, "handshake_context: no valid ServerHello");
        goto out;
    }
    if (sh.hrr) {
        hrr = sh;
        if (!lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_CLIENT_HELLO, &m) ||
            !lurk_tls13_hs_parse_client_hello(&m.message, &ch2) ||
            !lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_SERVER_HELLO, &m) ||
            !lurk_tls13_hs_parse_server_hello(&m.message, &sh) || sh.hrr ||
            hrr.cipher_suite != sh.cipher_suite || hrr.group != sh.group) {
            lurkd_tls13_ex_refuse(&ex, st, "handshake_context: HRR, ClientHello2, ServerHello");
            goto out;
        }
        /* ClientHello2's random must give the session's (RFC 8446 §4.1.2). */
        if (!lurkd_tls13_fresh_random(s->used_null ? LURK_FRESHNESS_NULL : LURK_FRESHNESS_SHA256,
                                      LURK_TLS13_ROLE_CLIENT, &ch2.random, random) ||
            memcmp(random, s->client_random, 32) != 0 || !ch2.has_psk) {
            lurkd_tls13_ex_refuse(&ex, st, "ClientHello2 disagrees with ClientHello1");
            goto out;
        }
        /*
         * ClientHello2 replaces ClientHello1's offers: the session changes
         * from here, so a failure ends it.
         */
        ex.drop = true;
        s->psk_index = psk_index_by_hash(&ch2, s->psk_identity_hash);
        memset(&h, 0, sizeof(h));
        h.ch = ch2;
        h.hrr_seen = true;
        lurkd_tls13_keep_client_hello(s, &h);
        hrr_seen = true;
    }
    if (lurk_cbs_len(&ctx) != 0) {
        lurkd_tls13_ex_refuse(&ex, st, "handshake_context: unexpected message after ServerHello");
        goto out;
    }
    /* §5.3: PSK or PSK-ECDHE, on the early_secret's PSK. */
    if ((st = server_choice(&ex, &sh, shared, &shared_len)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (hrr_seen) {
        if (!lurk_tls13_transcript_copy(&prefix, &s->tr) ||
            !lurk_tls13_transcript_hello_retry(&prefix) ||
            !lurk_tls13_transcript_update(&prefix, lurk_cbs_data(&hrr.message),
                                          lurk_cbs_len(&hrr.message)))
            goto out;
        if (!lurkd_tls13_binder_ok(&s->ks, s->psk_resumption, &ch2, s->psk_index, s->client_random,
                                   &prefix)) {
            st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE, "the PSK binder does not verify");
            goto out;
        }
    }
    /* Checks done: from here the session changes, and a failure ends it. */
    ex.drop = true;
    if (hrr_seen && (!lurk_tls13_transcript_hello_retry(&s->tr) ||
                     !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&hrr.message),
                                                   lurk_cbs_len(&hrr.message)) ||
                     !lurkd_tls13_feed_hello(&s->tr, &ch2.message, ch2.random_off, s->client_random,
                                             lurk_cbs_len(&ch2.message))))
        goto out;
    if (!lurk_tls13_keysched_extract_handshake(&s->ks, shared_len ? shared : NULL, shared_len) ||
        !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&sh.message),
                                      lurk_cbs_len(&sh.message)) ||
        !lurkd_tls13_ex_handshake_secrets(&ex))
        goto out;
    s->state = LURKD_TLS13_C_HANDSHAKE;
    st = LURK_STATUS_SUCCESS;
out:
    lurk_tls13_transcript_cleanup(&prefix);
    OPENSSL_cleanse(shared, sizeof(shared));
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- app_secret (§5.5) and certificate_verify (§5.6) ---- */

struct server_rest {
    bool have_cr;
    lurk_cbs cr_context, cr_sig_algs;
    uint8_t th_sfin[LURK_TLS13_MAX_HASH_LEN];
};

/*
 * EncryptedExtensions .. server Finished (, EndOfEarlyData) (§3.3, T19):
 * the server's Certificate and CertificateVerify unless a PSK authenticates
 * it, a CertificateRequest exactly when with_cr (§5.5, §5.6), and the
 * server Finished, which must verify with server_handshake_traffic_secret.
 * On success tmp is the transcript through all of them, th_sfin its hash
 * through the server Finished.
 */
static uint8_t server_rest(struct lurkd_tls13_ex *ex, lurk_cbs *ctx, bool with_cr,
                           struct server_rest *r, struct lurk_tls13_transcript *tmp)
{
    struct lurkd_tls13_session *s = ex->s;
    struct lurk_tls13_handshake_msg m;
    uint8_t want[LURK_TLS13_MAX_HASH_LEN];
    size_t n = lurk_tls13_keysched_hash_len(&s->ks);
    bool early_data, empty;

    memset(r, 0, sizeof(*r));
    if (!lurk_tls13_transcript_copy(tmp, &s->tr))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_ENCRYPTED_EXTENSIONS, &m) ||
        !lurk_tls13_hs_parse_encrypted_extensions(&m.body, &early_data))
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "handshake_context: no valid EncryptedExtensions");
    /* RFC 8446 §4.2.10: early data accepted only if offered, with a PSK, on the first one. */
    if (early_data && (!s->psk || !s->ch_early_data || s->psk_index != 0))
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "EncryptedExtensions accepts early data not offered");
    lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
    if (lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE_REQUEST, &m)) {
        if (!with_cr)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                         "CertificateRequest present: certificate_verify, not "
                                         "app_secret (-01 §5.5)");
        if (s->psk ||
            !lurk_tls13_hs_parse_certificate_request(&m.body, &r->cr_context, &r->cr_sig_algs) ||
            lurk_cbs_len(&r->cr_context) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "CertificateRequest not valid here");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
        r->have_cr = true;
    } else if (with_cr) {
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "no CertificateRequest in handshake_context (-01 §5.6)");
    }
    if (!s->psk) {
        /* ECDHE: the server authenticates with a certificate (RFC 8446 §4.4). */
        if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE, &m) ||
            !lurk_tls13_hs_parse_certificate(&m.body, &empty) || empty)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "server Certificate expected");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
        if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE_VERIFY, &m))
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "server CertificateVerify expected");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
    }
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_FINISHED, &m))
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "server Finished expected");
    if (!lurkd_tls13_finished_of(s, s->s_hs, tmp, want))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (lurk_cbs_len(&m.body) != n || CRYPTO_memcmp(want, lurk_cbs_data(&m.body), n) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "server Finished does not verify");
    if (!lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message)) ||
        !lurk_tls13_transcript_hash(tmp, r->th_sfin))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    /* With 0-RTT the client's EndOfEarlyData follows the server Finished (RFC 8446 §4.5). */
    if (early_data) {
        if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_END_OF_EARLY_DATA, &m) ||
            lurk_cbs_len(&m.body) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "EndOfEarlyData expected");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
    }
    if (lurk_cbs_len(ctx) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "handshake_context: unexpected message after the server "
                                     "Finished");
    s->ee_early_data = early_data;
    return LURK_STATUS_SUCCESS;
}

/* After app_secret or certificate_verify: the session lives on for tickets or post-handshake. */
static void after_handshake(struct lurkd_tls13_ex *ex)
{
    ex->s->state = LURKD_TLS13_C_APP;
    OPENSSL_cleanse(ex->s->s_hs, sizeof(ex->s->s_hs));
    ex->finished = !lurkd_tls13_resumption_possible(ex) && !lurkd_tls13_post_handshake_possible(ex);
}

uint8_t lurkd_ex_tls13_app_secret(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_transcript tmp = {0};
    struct server_rest r;
    lurk_cbs ctx;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_APP_SECRET);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_C_HANDSHAKE))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    if ((st = server_rest(&ex, &ctx, false, &r, &tmp)) != LURK_STATUS_SUCCESS)
        goto out;
    ex.drop = true;
    lurk_tls13_transcript_cleanup(&s->tr);
    s->tr = tmp;
    memset(&tmp, 0, sizeof(tmp));
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurkd_tls13_ex_application_secrets(&ex, r.th_sfin))
        goto out;
    after_handshake(&ex);
    st = LURK_STATUS_SUCCESS;
out:
    lurk_tls13_transcript_cleanup(&tmp);
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/*
 * The client's signing exchanges sign with the key's "tls13" exchange; a
 * session that ran with freshness null also needs the key's null_freshness
 * (T11: null where the key's policy allows it).
 */
static uint8_t client_signing_key(struct lurkd_tls13_ex *ex, const struct lurkd_key **key,
                                  const struct lurkd_sig_alg **alg)
{
    uint8_t st = lurkd_tls13_ex_signing_key(ex, key, alg);

    if (st == LURK_STATUS_SUCCESS && ex->s->used_null && !(*key)->conf->null_freshness)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_FRESHNESS_FUNCT,
                                     "session used freshness null; the key does not allow it");
    return st;
}

uint8_t lurkd_ex_tls13_certificate_verify(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_transcript tmp = {0};
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;
    struct server_rest r;
    lurk_cbb cert = {0}, cv = {0};
    lurk_cbs ctx;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_CERTIFICATE_VERIFY);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_C_HANDSHAKE))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    if ((st = client_signing_key(&ex, &key, &alg)) != LURK_STATUS_SUCCESS)
        goto out;
    /* RFC 8446 §4.3.2: no CertificateRequest when a PSK authenticates the server. */
    if (s->psk) {
        st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE,
                                   "certificate_verify in a PSK session (no CertificateRequest)");
        goto out;
    }
    if ((st = server_rest(&ex, &ctx, true, &r, &tmp)) != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_scheme_offered(&ex, true, &r.cr_sig_algs)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_cbb_init(&cert, 2048, 1u << 24) || !lurk_cbb_init(&cv, 600, 0x10000))
        goto out;
    /* The client's Certificate and CertificateVerify over CH .. server Finished (§9.3). */
    if ((st = lurkd_tls13_ex_sign(&ex, key, alg, LURK_TLS13_ROLE_CLIENT, &r.cr_context, &tmp, &cert,
                                  &cv)) != LURK_STATUS_SUCCESS)
        goto out;
    ex.drop = true;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_tls13_transcript_update(&tmp, lurk_cbb_data(&cert), lurk_cbb_len(&cert)) ||
        !lurk_tls13_transcript_update(&tmp, lurk_cbb_data(&cv), lurk_cbb_len(&cv)))
        goto out;
    lurk_tls13_transcript_cleanup(&s->tr);
    s->tr = tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (!lurkd_tls13_ex_application_secrets(&ex, r.th_sfin))
        goto out;
    s->cert_request = true;
    after_handshake(&ex);
    st = LURK_STATUS_SUCCESS;
out:
    lurk_cbb_cleanup(&cert);
    lurk_cbb_cleanup(&cv);
    lurk_tls13_transcript_cleanup(&tmp);
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- register_session_ticket (§5.7) ---- */

/*
 * register_session_ticket's checks before anything changes: the first one
 * carries the client Finished, which must verify (into *fin); later ones
 * carry tickets only. HANDSHAKE or another status with the refusal noted.
 */
static uint8_t register_check(struct lurkd_tls13_ex *ex, bool first,
                              struct lurk_tls13_handshake_msg *fin,
                              uint32_t max_early[LURK_TLS13_MAX_TICKETS])
{
    struct lurkd_tls13_session *s = ex->s;
    const struct lurk_tls13_ticket_list *tl = &ex->r.tickets;
    lurk_cbs ctx = ex->r.secrets.handshake_context;
    size_t hash_len = lurk_tls13_keysched_hash_len(&s->ks);
    uint8_t want[LURK_TLS13_MAX_HASH_LEN];
    bool verifies;

    if (first) {
        /* §5.7, T19: the first one carries the client Finished (lurkd built Certificate/CV). */
        if (!lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_FINISHED, fin) || lurk_cbs_len(&ctx) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                         "the first register_session_ticket carries the client "
                                         "Finished, and only it (-01 §5.7)");
        if (!lurkd_tls13_finished_of(s, s->c_hs, &s->tr, want))
            return LURK_TLS13_STATUS_UNDEFINED_ERROR;
        verifies = lurk_cbs_len(&fin->body) == hash_len &&
                   CRYPTO_memcmp(want, lurk_cbs_data(&fin->body), hash_len) == 0;
        OPENSSL_cleanse(want, sizeof(want));
        if (!verifies)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "client Finished does not verify");
    } else {
        if (lurk_cbs_len(&ctx) != 0 || tl->n == 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                         "a later register_session_ticket has no "
                                         "handshake_context and at least one ticket (-01 §5.7)");
        if (lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET))
            return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_KEY_REQUEST,
                                         "r only in the first register_session_ticket (-01 §5.7)");
    }
    if (tl->n > 0 && !lurkd_tls13_resumption_possible(ex))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_REQUEST,
                                     "session resumption is off or was not offered");
    if (s->tickets + tl->n > ex->conf->max_tickets)
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_REQUEST,
                                     "more tickets than max_tickets for this session");
    for (size_t i = 0; i < tl->n; i++)
        if (!lurk_tls13_hs_ticket_max_early_data(&tl->t[i].extensions, &max_early[i]))
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "NewSessionTicket extensions not valid");
    return LURK_STATUS_SUCCESS;
}

/* PSK_DB: each ticket's PSK under its ticket (RFC 8446 §4.6.1), owned by the peer. */
static bool register_store_tickets(struct lurkd_tls13_ex *ex, struct lurkd_request *req,
                                   const uint32_t max_early[LURK_TLS13_MAX_TICKETS])
{
    struct lurkd_tls13_session *s = ex->s;
    const struct lurk_tls13_ticket_list *tl = &ex->r.tickets;
    uint8_t psk[LURK_TLS13_MAX_HASH_LEN];
    struct lurkd_tls13_owner owner;
    bool ok = true;

    lurkd_tls13_owner_of(req->peer, &owner);
    for (size_t i = 0; ok && i < tl->n; i++) {
        const struct lurk_tls13_new_session_ticket *t = &tl->t[i];
        /* A lifetime of 0: "the ticket SHOULD be discarded immediately". */
        if (t->ticket_lifetime == 0)
            continue;
        struct lurkd_psk_ticket stored = {
            .role = LURK_TLS13_ROLE_CLIENT,
            .owner = &owner,
            .identity = lurk_cbs_data(&t->ticket),
            .identity_len = lurk_cbs_len(&t->ticket),
            .key = psk,
            .key_len = lurk_tls13_keysched_hash_len(&s->ks),
            .md_name = s->psk_md,
            .null_freshness = s->null_allowed,
            .lifetime = t->ticket_lifetime > 604800 ? 604800 : t->ticket_lifetime,
            .ticket_age_add = t->ticket_age_add,
            .max_early_data = max_early[i],
        };
        ok = lurk_tls13_resumption_psk(NULL, lurk_tls13_keysched_md(&s->ks), s->rms,
                                       lurk_cbs_data(&t->ticket_nonce),
                                       lurk_cbs_len(&t->ticket_nonce), psk) &&
             lurkd_psk_store(req->rt, &stored);
    }
    OPENSSL_cleanse(psk, sizeof(psk));
    return ok;
}

uint8_t lurkd_ex_tls13_register_session_ticket(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_handshake_msg fin;
    uint8_t th[LURK_TLS13_MAX_HASH_LEN];
    uint32_t max_early[LURK_TLS13_MAX_TICKETS];
    bool first;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_C_APP) |
                                             LURKD_TLS13_STATES(LURKD_TLS13_C_POST))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    first = s->state == LURKD_TLS13_C_APP;
    if ((st = register_check(&ex, first, &fin, max_early)) != LURK_STATUS_SUCCESS)
        goto out;
    /* Checks done: from here the session changes, and a failure ends it. */
    ex.drop = true;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (first) {
        if (!lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&fin.message),
                                          lurk_cbs_len(&fin.message)) ||
            !lurk_tls13_transcript_hash(&s->tr, th) ||
            !lurk_tls13_keysched_resumption_master(&s->ks, th, s->rms))
            goto out;
        s->have_rms = true;
        OPENSSL_cleanse(s->c_hs, sizeof(s->c_hs));
        if (lurkd_tls13_ex_wants(&ex, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET) &&
            ex.conf->resumption_delegation &&
            !lurkd_tls13_ex_secret(&ex, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET, s->rms,
                                   lurk_tls13_keysched_hash_len(&s->ks)))
            goto out;
    }
    if (!register_store_tickets(&ex, req, max_early))
        goto out;
    s->tickets += (unsigned)ex.r.tickets.n;
    s->state = LURKD_TLS13_C_POST;
    ex.finished = !lurkd_tls13_post_handshake_possible(&ex) &&
                  (!lurkd_tls13_resumption_possible(&ex) || s->tickets >= ex.conf->max_tickets);
    st = LURK_STATUS_SUCCESS;
out:
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- post_handshake (§5.8, T17) ---- */

uint8_t lurkd_ex_tls13_post_handshake(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_transcript tmp = {0};
    struct lurk_tls13_handshake_msg m;
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;
    lurk_cbs ctx, cr_context, cr_sig_algs;
    lurk_cbb cert = {0}, cv = {0};
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_POST_HANDSHAKE);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_C_POST))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    /* §5.8: only if the ClientHello announced post_handshake_auth (and POST_HANDSHAKE_AUTH). */
    if (!lurkd_tls13_post_handshake_possible(&ex)) {
        st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE,
                                   "no post_handshake_auth in the ClientHello, or "
                                   "post_handshake_auth = no (-01 §5.8)");
        goto out;
    }
    if ((st = client_signing_key(&ex, &key, &alg)) != LURK_STATUS_SUCCESS)
        goto out;
    if (!lurkd_tls13_next_msg(&ctx, LURK_TLS13_HS_CERTIFICATE_REQUEST, &m) ||
        lurk_cbs_len(&ctx) != 0 ||
        !lurk_tls13_hs_parse_certificate_request(&m.body, &cr_context, &cr_sig_algs)) {
        st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE,
                                   "handshake_context: one valid CertificateRequest (-01 §5.8)");
        goto out;
    }
    if ((st = lurkd_tls13_ex_scheme_offered(&ex, true, &cr_sig_algs)) != LURK_STATUS_SUCCESS)
        goto out;
    /* T17: CH .. client Finished, this CertificateRequest, the Certificate; not kept after. */
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_tls13_transcript_copy(&tmp, &s->tr) ||
        !lurk_tls13_transcript_update(&tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message)) ||
        !lurk_cbb_init(&cert, 2048, 1u << 24) || !lurk_cbb_init(&cv, 600, 0x10000))
        goto out;
    st = lurkd_tls13_ex_sign(&ex, key, alg, LURK_TLS13_ROLE_CLIENT, &cr_context, &tmp, &cert, &cv);
out:
    lurk_cbb_cleanup(&cert);
    lurk_cbb_cleanup(&cv);
    lurk_tls13_transcript_cleanup(&tmp);
    return lurkd_tls13_ex_finish(&ex, st, out);
}
