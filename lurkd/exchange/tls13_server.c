/*
 * tls13 exchanges of the TLS server role (draft-mglt-lurk-tls13-01 §4):
 * early_secret, init_certificate_verify, handshake_and_app_secret and
 * new_session_ticket, with the server side of the annex's state machine:
 *
 *   early_secret ------------> S_EARLY --handshake_and_app_secret--+
 *   init_certificate_verify ---------------------------------------+--> S_APP
 *   S_APP --new_session_ticket (client's last flight)--> S_TICKETS --new_session_ticket--> ...
 *
 * A session ends (the finished state) after the handshake when no ticket
 * can follow (SESSION_RESUMPTION off, or no psk_key_exchange_modes in the
 * ClientHello), and after max_tickets tickets.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "exchange/tls13_common.h"

#define HANDSHAKE LURK_TLS13_STATUS_INVALID_HANDSHAKE

/* RFC 8446 §8.3: how far the client's view of a ticket's age may be from ours for 0-RTT. */
#define TICKET_AGE_WINDOW_MS 10000

/* Appends Finished(base_key) over t to t (the CS computes the server Finished, §4.2). */
static bool append_finished(struct lurkd_tls13_session *s, const uint8_t *base_key)
{
    uint8_t msg[4 + LURK_TLS13_MAX_HASH_LEN];
    size_t n = lurk_tls13_keysched_hash_len(&s->ks);
    bool ok;

    msg[0] = LURK_TLS13_HS_FINISHED;
    msg[1] = 0;
    msg[2] = 0;
    msg[3] = (uint8_t)n;
    ok = lurkd_tls13_finished_of(s, base_key, &s->tr, msg + 4) &&
         lurk_tls13_transcript_update(&s->tr, msg, 4 + n);
    OPENSSL_cleanse(msg, sizeof(msg));
    return ok;
}

/* ---- early_secret (§4.1) ---- */

uint8_t lurkd_tls13_server_early_secret(struct lurkd_tls13_ex *ex)
{
    const struct lurk_tls13_psk_identity *pid = &ex->psk_id->psk_id;
    lurk_cbs ctx = ex->r.secrets.handshake_context;
    struct lurkd_tls13_session *s;
    struct lurkd_psk psk;
    struct lurkd_tls13_hellos h;
    uint8_t th[LURK_TLS13_MAX_HASH_LEN], out[LURK_TLS13_MAX_HASH_LEN];
    uint32_t age;
    int index;
    uint8_t st;
    bool ok;

    if ((st = lurkd_tls13_ex_open(ex)) != LURK_STATUS_SUCCESS)
        return st;
    s = ex->s;
    if ((st = lurkd_tls13_read_hellos(ex, &ctx, &h)) != LURK_STATUS_SUCCESS)
        return st;
    if (lurk_cbs_len(&ctx) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "handshake_context: more than the ClientHello");
    /* §4.1: PSK proposed, i.e. pre_shared_key and psk_key_exchange_modes. */
    if (!h.ch.has_psk || !h.ch.has_psk_modes)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "ClientHello without pre_shared_key or "
                                     "psk_key_exchange_modes (-01 §4.1)");
    index = lurk_tls13_hs_client_psk_index(&h.ch, &pid->identity, &age);
    if (index < 0 || age != pid->obfuscated_ticket_age)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "psk_id is not one of the ClientHello's PSK identities");
    if (!lurkd_psk_find(ex->req->rt, ex->req->peer, LURK_TLS13_ROLE_SERVER,
                        lurk_cbs_data(&pid->identity), lurk_cbs_len(&pid->identity), &psk))
        return lurkd_tls13_ex_refuse(ex, LURK_TLS13_STATUS_INVALID_PSK,
                                     "unknown, expired or used PSK identity");
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    ok = lurk_tls13_keysched_init(&s->ks, NULL, psk.md_name) &&
         lurk_tls13_keysched_extract_early(&s->ks, psk.key, psk.key_len) &&
         lurk_tls13_transcript_init(&s->tr, lurk_tls13_keysched_md(&s->ks));
    if (!ok)
        goto out;
    /* The binder proves the ClientHello comes from a holder of the PSK (RFC 8446 §4.2.11.2). */
    if (h.hrr_seen && (!lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&h.ch1.message),
                                                     lurk_cbs_len(&h.ch1.message)) ||
                       !lurk_tls13_transcript_hello_retry(&s->tr) ||
                       !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&h.hrr.message),
                                                     lurk_cbs_len(&h.hrr.message))))
        goto out;
    if (!lurkd_tls13_binder_ok(&s->ks, psk.resumption, &h.ch, index, NULL,
                               h.hrr_seen ? &s->tr : NULL)) {
        st = lurkd_tls13_ex_refuse(ex, HANDSHAKE, "the PSK binder does not verify");
        goto out;
    }
    if (!lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&h.ch.message),
                                      lurk_cbs_len(&h.ch.message)) ||
        !lurk_tls13_transcript_hash(&s->tr, th) ||
        !lurk_tls13_keysched_binder_key(
            &s->ks, psk.resumption ? LURK_TLS13_BINDER_RESUMPTION : LURK_TLS13_BINDER_EXTERNAL,
            out) ||
        !lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_BINDER_KEY, out,
                               lurk_tls13_keysched_hash_len(&s->ks)))
        goto out;
    lurkd_tls13_keep_client_hello(s, &h);
    /*
     * e_s only for a ClientHello with early_data (§4.1), CLIENT_EARLY_TRAFFIC,
     * a PSK that allows 0-RTT and, for a ticket, an age within the window of
     * RFC 8446 §8.3; otherwise it is an optional secret left out.
     */
    bool age_ok = !psk.ticket || (uint64_t)llabs((long long)(uint32_t)(age - psk.ticket_age_add) -
                                                 (long long)psk.age_ms) <= TICKET_AGE_WINDOW_MS;
    if (lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_CLIENT_EARLY_TRAFFIC_SECRET) &&
        s->ch_early_data && ex->conf->client_early_traffic && psk.max_early_data > 0 &&
        index == 0 && age_ok &&
        (!lurk_tls13_keysched_client_early_traffic(&s->ks, th, out) ||
         !lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_CLIENT_EARLY_TRAFFIC_SECRET, out,
                                lurk_tls13_keysched_hash_len(&s->ks))))
        goto out;
    if (lurkd_tls13_ex_wants(ex, LURK_TLS13_SECRET_EARLY_EXPORTER_MASTER_SECRET) &&
        ex->conf->early_exporter && !h.hrr_seen &&
        (!lurk_tls13_keysched_early_exporter_master(&s->ks, th, out) ||
         !lurkd_tls13_ex_secret(ex, LURK_TLS13_SECRET_EARLY_EXPORTER_MASTER_SECRET, out,
                                lurk_tls13_keysched_hash_len(&s->ks))))
        goto out;
    s->psk = true;
    s->psk_resumption = psk.resumption;
    s->psk_index = index;
    s->psk_md = psk.md_name;
    s->null_allowed = psk.null_freshness;
    s->state = LURKD_TLS13_S_EARLY;
    st = LURK_STATUS_SUCCESS;
out:
    OPENSSL_cleanse(&psk, sizeof(psk));
    OPENSSL_cleanse(out, sizeof(out));
    return st;
}

/* ---- init_certificate_verify (§4.2) and handshake_and_app_secret (§4.3) ---- */

/* ServerHello, EncryptedExtensions and an optional CertificateRequest. */
struct server_flight {
    struct lurk_tls13_hs_server_hello sh;
    struct lurk_tls13_handshake_msg ee, cr;
    bool have_cr;
    lurk_cbs cr_context, cr_sig_algs;
};

static uint8_t read_server_flight(struct lurkd_tls13_ex *ex, lurk_cbs *ctx, struct server_flight *f)
{
    struct lurk_tls13_handshake_msg m;
    bool early_data;

    memset(f, 0, sizeof(*f));
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_SERVER_HELLO, &m) ||
        !lurk_tls13_hs_parse_server_hello(&m.message, &f->sh) || f->sh.hrr)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "handshake_context: no valid ServerHello");
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_ENCRYPTED_EXTENSIONS, &f->ee) ||
        !lurk_tls13_hs_parse_encrypted_extensions(&f->ee.body, &early_data))
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "handshake_context: no valid EncryptedExtensions");
    ex->s->ee_early_data = early_data;
    if (lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE_REQUEST, &f->cr)) {
        if (!lurk_tls13_hs_parse_certificate_request(&f->cr.body, &f->cr_context,
                                                     &f->cr_sig_algs) ||
            lurk_cbs_len(&f->cr_context) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "CertificateRequest not valid");
        f->have_cr = true;
    }
    if (lurk_cbs_len(ctx) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE,
                                     "handshake_context: unexpected message after "
                                     "EncryptedExtensions/CertificateRequest");
    return LURK_STATUS_SUCCESS;
}

/*
 * The ServerHello as the TLS server sends it: the freshness-derived random
 * and, for secret_generated, lurkd's key share. buf (malloc'd) holds it
 * when it had to be rebuilt.
 */
static uint8_t server_hello_bytes(struct lurkd_tls13_ex *ex, const struct server_flight *f,
                                  uint8_t **buf, lurk_cbs *msg)
{
    size_t len;

    *buf = NULL;
    *msg = f->sh.message;
    if (ex->share_len == 0)
        return LURK_STATUS_SUCCESS;
    len = lurk_cbs_len(&f->sh.message) + ex->share_len;
    if ((*buf = malloc(len)) == NULL ||
        !lurk_tls13_hs_server_hello_fill_share(&f->sh, ex->share, ex->share_len, *buf, len, &len))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    lurk_cbs_init(msg, *buf, len);
    return LURK_STATUS_SUCCESS;
}

static uint8_t server_random(struct lurkd_tls13_ex *ex, const struct server_flight *f,
                             uint8_t random[32])
{
    lurk_cbs pre;

    lurk_cbs_init(&pre, lurk_cbs_data(&f->sh.message) + f->sh.random_off, 32);
    if (!lurkd_tls13_fresh_random(ex->freshness->freshness, LURK_TLS13_ROLE_SERVER, &pre, random))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    return LURK_STATUS_SUCCESS;
}

uint8_t lurkd_ex_tls13_init_certificate_verify(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;
    const char *md;
    lurk_cbs ctx, peer, sh_msg, empty;
    struct lurkd_tls13_hellos h;
    struct server_flight f;
    uint8_t shared[LURKD_TLS13_MAX_SHARED], random[32], th[LURK_TLS13_MAX_HASH_LEN];
    uint8_t *sh_buf = NULL;
    size_t shared_len = 0;
    lurk_cbb cert = {0}, cv = {0};
    bool cbbs = false;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY);

    if (st != LURK_STATUS_SUCCESS || (st = lurkd_tls13_ex_open(&ex)) != LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    if ((st = lurkd_tls13_ex_signing_key(&ex, &key, &alg)) != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_freshness(&ex, key->conf->null_freshness)) != LURK_STATUS_SUCCESS)
        goto out;
    /* handshake_context: ClientHello .. EncryptedExtensions / CertificateRequest (§3.3). */
    if ((st = lurkd_tls13_read_hellos(&ex, &ctx, &h)) != LURK_STATUS_SUCCESS ||
        (st = read_server_flight(&ex, &ctx, &f)) != LURK_STATUS_SUCCESS)
        goto out;
    /* §4.2: ECDHE selected: a key_share and no pre_shared_key in the ServerHello. */
    st = HANDSHAKE;
    if (!f.sh.has_key_share || f.sh.has_psk || !h.ch.has_key_share) {
        lurkd_tls13_ex_refuse(&ex, st, "ServerHello does not select ECDHE (-01 §4.2)");
        goto out;
    }
    if ((md = lurk_tls13_cipher_suite_md_name(f.sh.cipher_suite)) == NULL ||
        (h.hrr_seen && (h.hrr.cipher_suite != f.sh.cipher_suite || h.hrr.group != f.sh.group))) {
        lurkd_tls13_ex_refuse(&ex, st,
                              "ServerHello cipher suite not a TLS 1.3 one, or not the HRR's");
        goto out;
    }
    if (s->ee_early_data) {
        lurkd_tls13_ex_refuse(&ex, st, "EncryptedExtensions accepts early data without a PSK");
        goto out;
    }
    if (!lurk_tls13_hs_client_key_share(&h.ch, f.sh.group, &peer)) {
        lurkd_tls13_ex_refuse(&ex, st, "ClientHello has no key share for the ServerHello's group");
        goto out;
    }
    if ((st = lurkd_tls13_ex_scheme_offered(&ex, h.ch.has_sig_algs, &h.ch.sig_algs)) !=
            LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_ecdhe(&ex, true, f.sh.group, &f.sh.key_exchange, &peer, shared,
                                   &shared_len)) != LURK_STATUS_SUCCESS ||
        (st = server_random(&ex, &f, random)) != LURK_STATUS_SUCCESS ||
        (st = server_hello_bytes(&ex, &f, &sh_buf, &sh_msg)) != LURK_STATUS_SUCCESS)
        goto out;
    /* The key schedule: no PSK (§9.3), the (EC)DHE secret, CH..SH. */
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_tls13_keysched_init_suite(&s->ks, NULL, f.sh.cipher_suite) ||
        !lurk_tls13_keysched_extract_early(&s->ks, NULL, 0) ||
        !lurk_tls13_keysched_extract_handshake(&s->ks, shared, shared_len) ||
        !lurk_tls13_transcript_init(&s->tr, lurk_tls13_keysched_md(&s->ks)) ||
        !lurkd_tls13_feed_hellos(&s->tr, &h, NULL) ||
        !lurkd_tls13_feed_hello(&s->tr, &sh_msg, f.sh.random_off, random, lurk_cbs_len(&sh_msg)) ||
        !lurkd_tls13_ex_handshake_secrets(&ex) ||
        !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&f.ee.message),
                                      lurk_cbs_len(&f.ee.message)) ||
        (f.have_cr && !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&f.cr.message),
                                                    lurk_cbs_len(&f.cr.message))))
        goto out;
    /* Certificate and CertificateVerify built here (§3.6), then the server Finished (§4.2). */
    if (!lurk_cbb_init(&cert, 2048, 1u << 24) || !lurk_cbb_init(&cv, 600, 0x10000)) {
        lurk_cbb_cleanup(&cert);
        goto out;
    }
    cbbs = true;
    lurk_cbs_init(&empty, NULL, 0);
    if ((st = lurkd_tls13_ex_sign(&ex, key, alg, LURK_TLS13_ROLE_SERVER, &empty, &s->tr, &cert,
                                  &cv)) != LURK_STATUS_SUCCESS)
        goto out;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_tls13_transcript_update(&s->tr, lurk_cbb_data(&cert), lurk_cbb_len(&cert)) ||
        !lurk_tls13_transcript_update(&s->tr, lurk_cbb_data(&cv), lurk_cbb_len(&cv)) ||
        !append_finished(s, s->s_hs) || !lurk_tls13_transcript_hash(&s->tr, th) ||
        !lurkd_tls13_ex_application_secrets(&ex, th))
        goto out;
    lurkd_tls13_keep_client_hello(s, &h);
    s->cipher_suite = f.sh.cipher_suite;
    s->psk_md = md;
    s->cert_request = f.have_cr;
    s->null_allowed = key->conf->null_freshness;
    s->state = LURKD_TLS13_S_APP;
    /* §4.2: without resumption the session is finished (and never stored). */
    ex.finished = !lurkd_tls13_resumption_possible(&ex);
    st = LURK_STATUS_SUCCESS;
out:
    if (cbbs) {
        lurk_cbb_cleanup(&cert);
        lurk_cbb_cleanup(&cv);
    }
    free(sh_buf);
    OPENSSL_cleanse(shared, sizeof(shared));
    return lurkd_tls13_ex_finish(&ex, st, out);
}

uint8_t lurkd_ex_tls13_handshake_and_app_secret(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct server_flight f;
    lurk_cbs ctx, peer, sh_msg;
    const struct lurkd_tls13_share *kept;
    uint8_t shared[LURKD_TLS13_MAX_SHARED], random[32], th[LURK_TLS13_MAX_HASH_LEN];
    uint8_t *sh_buf = NULL;
    size_t shared_len = 0;
    const char *md;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_S_EARLY))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    if ((st = lurkd_tls13_ex_freshness(&ex, s->null_allowed)) != LURK_STATUS_SUCCESS ||
        (st = read_server_flight(&ex, &ctx, &f)) != LURK_STATUS_SUCCESS)
        goto out;
    st = HANDSHAKE;
    /* §4.3: PSK selected, and it is the early_secret's one. */
    if (!f.sh.has_psk || (int)f.sh.selected_identity != s->psk_index) {
        lurkd_tls13_ex_refuse(&ex, st,
                              "ServerHello does not select the early_secret's PSK (-01 §4.3)");
        goto out;
    }
    md = lurk_tls13_cipher_suite_md_name(f.sh.cipher_suite);
    if (md == NULL || strcmp(md, s->psk_md) != 0) {
        lurkd_tls13_ex_refuse(&ex, st, "cipher suite hash is not the PSK's");
        goto out;
    }
    /* RFC 8446 §4.3.2: no CertificateRequest with a PSK. */
    if (f.have_cr) {
        lurkd_tls13_ex_refuse(&ex, st, "CertificateRequest with PSK authentication");
        goto out;
    }
    /* RFC 8446 §4.2.10: early data accepted only if offered, and on the first PSK. */
    if (s->ee_early_data && (!s->ch_early_data || s->psk_index != 0)) {
        lurkd_tls13_ex_refuse(&ex, st, "EncryptedExtensions accepts early data not offered");
        goto out;
    }
    /* PSK-ECDHE (key_share, psk_dhe_ke) or PSK-only (psk_ke), as the client offered. */
    if (f.sh.has_key_share ? !s->ch_psk_dhe_ke : !s->ch_psk_ke) {
        lurkd_tls13_ex_refuse(&ex, st, "PSK key exchange mode not offered by the ClientHello");
        goto out;
    }
    kept = f.sh.has_key_share ? lurkd_tls13_kept_share(s, f.sh.group) : NULL;
    if (f.sh.has_key_share && kept == NULL) {
        lurkd_tls13_ex_refuse(&ex, st, "ClientHello has no key share for the ServerHello's group");
        goto out;
    }
    if (kept != NULL)
        lurk_cbs_init(&peer, kept->data, kept->len);
    else
        lurk_cbs_init(&peer, NULL, 0);
    if ((st = lurkd_tls13_ex_ecdhe(&ex, f.sh.has_key_share, f.sh.group, &f.sh.key_exchange, &peer,
                                   shared, &shared_len)) != LURK_STATUS_SUCCESS ||
        (st = server_random(&ex, &f, random)) != LURK_STATUS_SUCCESS ||
        (st = server_hello_bytes(&ex, &f, &sh_buf, &sh_msg)) != LURK_STATUS_SUCCESS)
        goto out;
    /* Checks done: from here the session changes, and a failure ends it. */
    ex.drop = true;
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (!lurk_tls13_keysched_extract_handshake(&s->ks, shared_len ? shared : NULL, shared_len) ||
        !lurkd_tls13_feed_hello(&s->tr, &sh_msg, f.sh.random_off, random, lurk_cbs_len(&sh_msg)) ||
        !lurkd_tls13_ex_handshake_secrets(&ex) ||
        !lurk_tls13_transcript_update(&s->tr, lurk_cbs_data(&f.ee.message),
                                      lurk_cbs_len(&f.ee.message)) ||
        !append_finished(s, s->s_hs) || !lurk_tls13_transcript_hash(&s->tr, th) ||
        !lurkd_tls13_ex_application_secrets(&ex, th))
        goto out;
    s->cipher_suite = f.sh.cipher_suite;
    s->state = LURKD_TLS13_S_APP;
    ex.finished = !lurkd_tls13_resumption_possible(&ex);
    st = LURK_STATUS_SUCCESS;
out:
    free(sh_buf);
    OPENSSL_cleanse(shared, sizeof(shared));
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- new_session_ticket (§4.4) ---- */

/*
 * The client's last flight (§3.3, T19): EndOfEarlyData when early data was
 * accepted, the client's Certificate (and CertificateVerify unless it is
 * empty) when a CertificateRequest was sent, then the client Finished,
 * which must verify. On success tmp holds the transcript through it.
 */
static uint8_t client_flight(struct lurkd_tls13_ex *ex, lurk_cbs *ctx,
                             struct lurk_tls13_transcript *tmp)
{
    struct lurkd_tls13_session *s = ex->s;
    struct lurk_tls13_handshake_msg m;
    uint8_t want[LURK_TLS13_MAX_HASH_LEN];
    size_t n = lurk_tls13_keysched_hash_len(&s->ks);
    bool empty;

    if (!lurk_tls13_transcript_copy(tmp, &s->tr))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (s->ee_early_data) {
        if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_END_OF_EARLY_DATA, &m) ||
            lurk_cbs_len(&m.body) != 0)
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "EndOfEarlyData expected");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
    }
    if (s->cert_request) {
        if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE, &m) ||
            !lurk_tls13_hs_parse_certificate(&m.body, &empty))
            return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "client Certificate expected");
        lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
        if (!empty) {
            if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_CERTIFICATE_VERIFY, &m))
                return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "client CertificateVerify expected");
            lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message));
        }
    }
    if (!lurkd_tls13_next_msg(ctx, LURK_TLS13_HS_FINISHED, &m) || lurk_cbs_len(ctx) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "client Finished expected, and only it");
    if (!lurkd_tls13_finished_of(s, s->c_hs, tmp, want))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    if (lurk_cbs_len(&m.body) != n || CRYPTO_memcmp(want, lurk_cbs_data(&m.body), n) != 0)
        return lurkd_tls13_ex_refuse(ex, HANDSHAKE, "client Finished does not verify");
    if (!lurk_tls13_transcript_update(tmp, lurk_cbs_data(&m.message), lurk_cbs_len(&m.message)))
        return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    return LURK_STATUS_SUCCESS;
}

/*
 * Issues ticket i of this exchange: a random 32-byte ticket, the nonce that
 * numbers it in the session, its PSK (RFC 8446 §4.6.1) stored in PSK_DB for
 * its owner, and the early_data extension when early data is allowed.
 */
static bool issue_ticket(struct lurkd_tls13_ex *ex, struct lurkd_request *req,
                         const struct lurkd_tls13_owner *owner, size_t i)
{
    struct lurkd_tls13_session *s = ex->s;
    struct lurk_tls13_new_session_ticket *t = &ex->resp.tickets.t[i];
    uint8_t *b = ex->tickets[i]; /* ticket(32) nonce(2) early_data extension(8) */
    uint8_t psk[LURK_TLS13_MAX_HASH_LEN];
    uint32_t age_add, max_early = ex->conf->client_early_traffic ? ex->conf->max_early_data : 0;
    bool ok;

    /*
     * The nonce is the ticket's number in the session (RFC 8446 §4.6.1:
     * unique per ticket of a connection): the first is 00 00, as in
     * RFC 8448, so the PSK of its first ticket is the RFC's.
     */
    b[32] = (uint8_t)(s->tickets >> 8);
    b[33] = (uint8_t)s->tickets;
    if (RAND_bytes(b, 32) != 1 || RAND_bytes((uint8_t *)&age_add, sizeof(age_add)) != 1 ||
        !lurk_tls13_resumption_psk(NULL, lurk_tls13_keysched_md(&s->ks), s->rms, b + 32, 2, psk))
        return false;
    t->ticket_lifetime = ex->conf->ticket_lifetime;
    t->ticket_age_add = age_add;
    lurk_cbs_init(&t->ticket_nonce, b + 32, 2);
    lurk_cbs_init(&t->ticket, b, 32);
    lurk_cbs_init(&t->extensions, NULL, 0);
    if (max_early > 0) {
        /* early_data {uint32 max_early_data_size} (RFC 8446 §4.2.10). */
        static const uint8_t head[4] = {0x00, 0x2a, 0x00, 0x04};
        memcpy(b + 34, head, 4);
        b[38] = (uint8_t)(max_early >> 24);
        b[39] = (uint8_t)(max_early >> 16);
        b[40] = (uint8_t)(max_early >> 8);
        b[41] = (uint8_t)max_early;
        lurk_cbs_init(&t->extensions, b + 34, 8);
    }
    struct lurkd_psk_ticket stored = {
        .role = LURK_TLS13_ROLE_SERVER,
        .owner = owner,
        .identity = b,
        .identity_len = 32,
        .key = psk,
        .key_len = lurk_tls13_keysched_hash_len(&s->ks),
        .md_name = s->psk_md,
        .null_freshness = s->null_allowed,
        .lifetime = t->ticket_lifetime,
        .ticket_age_add = age_add,
        .max_early_data = max_early,
    };
    ok = lurkd_psk_store(req->rt, &stored);
    OPENSSL_cleanse(psk, sizeof(psk));
    return ok;
}

uint8_t lurkd_ex_tls13_new_session_ticket(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    struct lurkd_tls13_session *s;
    struct lurk_tls13_transcript tmp = {0};
    uint8_t th[LURK_TLS13_MAX_HASH_LEN];
    struct lurkd_tls13_owner owner;
    lurk_cbs ctx;
    size_t n, hash_len;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_NEW_SESSION_TICKET);

    if (st != LURK_STATUS_SUCCESS ||
        (st = lurkd_tls13_ex_resume(&ex, LURKD_TLS13_STATES(LURKD_TLS13_S_APP) |
                                             LURKD_TLS13_STATES(LURKD_TLS13_S_TICKETS))) !=
            LURK_STATUS_SUCCESS)
        goto out;
    s = ex.s;
    ctx = ex.r.secrets.handshake_context;
    hash_len = lurk_tls13_keysched_hash_len(&s->ks);
    if (s->state == LURKD_TLS13_S_APP) {
        if ((st = client_flight(&ex, &ctx, &tmp)) != LURK_STATUS_SUCCESS)
            goto out;
        /* resumption_master_secret over CH..client Finished (RFC 8446 §7.1). */
        ex.drop = true;
        st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
        if (!lurk_tls13_transcript_hash(&tmp, th) ||
            !lurk_tls13_keysched_resumption_master(&s->ks, th, s->rms))
            goto out;
        lurk_tls13_transcript_cleanup(&s->tr);
        s->tr = tmp;
        memset(&tmp, 0, sizeof(tmp));
        s->have_rms = true;
        OPENSSL_cleanse(s->c_hs, sizeof(s->c_hs));
        OPENSSL_cleanse(s->s_hs, sizeof(s->s_hs));
    } else if (lurk_cbs_len(&ctx) != 0) {
        st = lurkd_tls13_ex_refuse(&ex, HANDSHAKE,
                                   "handshake_context must be empty after the first "
                                   "new_session_ticket (-01 §9.5.2)");
        goto out;
    }
    st = LURK_TLS13_STATUS_UNDEFINED_ERROR;
    /* r only under SESSION_RESUMPTION_DELEGATION (an optional secret otherwise omitted). */
    if (lurkd_tls13_ex_wants(&ex, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET) &&
        ex.conf->resumption_delegation &&
        !lurkd_tls13_ex_secret(&ex, LURK_TLS13_SECRET_RESUMPTION_MASTER_SECRET, s->rms, hash_len))
        goto out;
    /* §4.4: "MAY respond with less tickets": at most max_tickets per session. */
    n = ex.r.ticket_nbr;
    if (s->tickets >= ex.conf->max_tickets)
        n = 0; /* max_tickets lowered by a reload */
    else if (n > ex.conf->max_tickets - s->tickets)
        n = ex.conf->max_tickets - s->tickets;
    if (n > LURK_TLS13_MAX_TICKETS)
        n = LURK_TLS13_MAX_TICKETS;
    lurkd_tls13_owner_of(req->peer, &owner);
    for (size_t i = 0; i < n; i++) {
        if (!issue_ticket(&ex, req, &owner, i))
            goto out;
        s->tickets++;
        ex.resp.tickets.n = i + 1;
    }
    s->state = LURKD_TLS13_S_TICKETS;
    ex.finished = s->tickets >= ex.conf->max_tickets;
    st = LURK_STATUS_SUCCESS;
out:
    lurk_tls13_transcript_cleanup(&tmp);
    return lurkd_tls13_ex_finish(&ex, st, out);
}

/* ---- early_secret: one type, two roles (T5) ---- */

uint8_t lurkd_ex_tls13_early_secret(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_tls13_ex ex;
    uint8_t st = lurkd_tls13_ex_begin(&ex, req, LURK_TLS13_TYPE_EARLY_SECRET);

    if (st == LURK_STATUS_SUCCESS)
        st = ex.role == LURK_TLS13_ROLE_SERVER ? lurkd_tls13_server_early_secret(&ex)
                                               : lurkd_tls13_client_early_secret(&ex);
    return lurkd_tls13_ex_finish(&ex, st, out);
}
