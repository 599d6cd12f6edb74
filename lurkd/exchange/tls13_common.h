/*
 * What every tls13 key-schedule exchange does the same way (draft-mglt-
 * lurk-tls13-01 §3): decoding and the per-exchange tables (Figures 3, 5-8),
 * opening or resuming the LURK session and its state machine (the annex,
 * §9.1.2 and §9.2.2), freshness (§3.4.3), the secret list (§3.2), the
 * signing sub-exchange (§3.6: lurkd builds Certificate and CertificateVerify
 * itself) and the response. The exchanges themselves are in
 * ex_tls13_server.c and ex_tls13_client.c.
 *
 * Order of the checks, so each request gets the first status that applies
 * (protocol.md "tls13 sessions and cookies"): payload (codec), key_request
 * (Figure 3), extensions (Figures 5-7); then the session: unknown, another
 * peer's, busy or wrong cookie (invalid_request), a second ephemeral
 * (invalid_ephemeral), an exchange the state does not allow
 * (invalid_request); for an opening exchange, the session limits
 * (temporary_failure, designation lurk); then the exchange's own checks.
 */
#ifndef LURKD_EXCHANGE_TLS13_COMMON_H
#define LURKD_EXCHANGE_TLS13_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config_tls13.h"
#include "exchange/exchange.h"
#include "lurk/tls13.h"
#include "keys/sign.h"
#include "lurk/tls13_handshake.h"
#include "tls13/psk_db.h"
#include "tls13/session.h"

/*
 * The session states of the annex (its diagrams are not in the -01 text;
 * these follow §4, §5 and §9.4-§9.9). A session is deleted (the finished
 * state) when no exchange can follow; the next exchange must be one of
 * those listed.
 */
enum lurkd_tls13_state {
    LURKD_TLS13_NEW = 0,
    /* Server role. */
    LURKD_TLS13_S_EARLY,   /* after early_secret: handshake_and_app_secret */
    LURKD_TLS13_S_APP,     /* after init_certificate_verify, handshake_and_app_secret:
                              new_session_ticket with the client's last flight */
    LURKD_TLS13_S_TICKETS, /* after new_session_ticket: new_session_ticket (empty context) */
    /* Client role. */
    LURKD_TLS13_C_EARLY,     /* after early_secret: handshake_secret */
    LURKD_TLS13_C_HANDSHAKE, /* after init_handshake_secret, handshake_secret:
                                app_secret, or certificate_verify (CertificateRequest) */
    LURKD_TLS13_C_APP,       /* after app_secret, certificate_verify:
                                register_session_ticket with the client Finished */
    LURKD_TLS13_C_POST,      /* after register_session_ticket: register_session_ticket
                                (tickets), post_handshake */
};

/* One tls13 request being served. */
struct lurkd_tls13_ex {
    struct lurkd_request *req;
    const struct lurkd_tls13_conf *conf;
    struct lurk_tls13_request r;
    uint8_t role;
    const struct lurk_tls13_extension *psk_id, *ephemeral, *freshness; /* NULL when absent */
    struct lurkd_tls13_session *s;
    bool opening;  /* the exchange opens the session (ctx_agreement) */
    bool finished; /* set by the exchange: the session ends here */
    bool drop;     /* set by the exchange: on failure, the session cannot go on */
    /* The response under construction. */
    struct lurk_tls13_response resp;
    uint8_t secrets[LURK_TLS13_MAX_SECRETS][LURK_TLS13_MAX_HASH_LEN];
    uint8_t share[LURKD_TLS13_MAX_SHARE]; /* secret_generated: the KeyShareEntry's key_exchange */
    size_t share_len;
    uint16_t share_group;
    lurk_cbb signature; /* opaque signature<0..2^16-1>, once signed */
    bool have_signature;
    /* new_session_ticket: the NewSessionTickets issued (ticket, nonce, extensions). */
    uint8_t tickets[LURK_TLS13_MAX_TICKETS][32 + 2 + 8];
};

/*
 * Decodes req's payload as type and applies Figures 3 and 5-7. On success
 * ex is ready; lurkd_tls13_ex_finish must follow whatever happens next.
 */
uint8_t lurkd_tls13_ex_begin(struct lurkd_tls13_ex *ex, struct lurkd_request *req, uint8_t type);
/* Opening exchanges: a new session of ex->role (limits: temporary_failure). */
uint8_t lurkd_tls13_ex_open(struct lurkd_tls13_ex *ex);
/* In-session exchanges: the session named by the request, in one of the states of mask. */
#define LURKD_TLS13_STATES(x) (1u << (x))
uint8_t lurkd_tls13_ex_resume(struct lurkd_tls13_ex *ex, unsigned state_mask);
/*
 * Ends the exchange: on success commits or deletes the session and encodes
 * the response into out; on failure releases (or drops) the session. Wipes
 * every secret of ex. Returns st, or undefined_error if committing failed.
 */
uint8_t lurkd_tls13_ex_finish(struct lurkd_tls13_ex *ex, uint8_t st, lurk_cbb *out);

/* Refusal with a reason for the audit log. */
uint8_t lurkd_tls13_ex_refuse(struct lurkd_tls13_ex *ex, uint8_t st, const char *note);

/* Adds a secret (§3.2) to the response. */
bool lurkd_tls13_ex_secret(struct lurkd_tls13_ex *ex, uint8_t type, const uint8_t *data,
                           size_t len);
/* Whether key_request asks for the secret of type. */
bool lurkd_tls13_ex_wants(const struct lurkd_tls13_ex *ex, uint8_t secret_type);

/*
 * Freshness (§3.4.3): the request's function must be sha256, or null when
 * null_allowed (the policy of the session's key or PSK; T11). Records it.
 */
uint8_t lurkd_tls13_ex_freshness(struct lurkd_tls13_ex *ex, bool null_allowed);
/* The random lurkd puts in place of the pre-image in the role's hello. */
bool lurkd_tls13_fresh_random(uint8_t funct, uint8_t role, const lurk_cbs *pre_image,
                              uint8_t out[32]);

/*
 * Appends a ClientHello or ServerHello to t with its Random replaced by
 * random (or as sent when random is NULL), up to upto bytes of the message
 * (the whole message, or a ClientHello truncated before its binders).
 */
bool lurkd_tls13_feed_hello(struct lurk_tls13_transcript *t, const lurk_cbs *message,
                            size_t random_off, const uint8_t *random, size_t upto);

/*
 * The (EC)DHE input of the key schedule from the ephemeral extension
 * (§3.4.1). own_share: the LURK client's key share in the handshake (the
 * ServerHello's on the server role, empty for secret_generated; the
 * ClientHello's on the client role), peer_share the other side's.
 * secret_generated (server role only, T10) fills ex->share. No extension:
 * the handshake must not use (EC)DHE (psk_ke), shared stays empty.
 */
uint8_t lurkd_tls13_ex_ecdhe(struct lurkd_tls13_ex *ex, bool handshake_has_share, uint16_t group,
                             const lurk_cbs *own_share, const lurk_cbs *peer_share,
                             uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len);

/*
 * The signing sub-exchange (§3.6). First the key (lurkd_request_key, for the
 * key's "tls13" exchange) and its scheme. Then lurkd builds the Certificate
 * message from the LURKCertificate (request_context: the CertificateRequest's,
 * empty for the server) into cert, signs Transcript-Hash(t + Certificate)
 * for role and builds the CertificateVerify message into cv; the signature
 * goes into the response.
 */
uint8_t lurkd_tls13_ex_signing_key(struct lurkd_tls13_ex *ex, const struct lurkd_key **key,
                                   const struct lurkd_sig_alg **alg);
/* The signing scheme must be one the peer offered (a SignatureScheme list). */
uint8_t lurkd_tls13_ex_scheme_offered(struct lurkd_tls13_ex *ex, bool listed_at_all,
                                      const lurk_cbs *offered);
uint8_t lurkd_tls13_ex_sign(struct lurkd_tls13_ex *ex, const struct lurkd_key *key,
                            const struct lurkd_sig_alg *alg, uint8_t role,
                            const lurk_cbs *request_context, const struct lurk_tls13_transcript *t,
                            lurk_cbb *cert, lurk_cbb *cv);

/* The Finished verify_data of base_key over t (RFC 8446 §4.4.4), hash_len bytes. */
bool lurkd_tls13_finished_of(const struct lurkd_tls13_session *s, const uint8_t *base_key,
                             const struct lurk_tls13_transcript *t, uint8_t *out);

/*
 * The binder of the offered PSK at index (RFC 8446 §4.2.11.2) must be the
 * one binder_key gives over the ClientHello truncated before the binders,
 * with its random as replaced (random, or as sent when NULL), preceded by
 * prefix (ClientHello1 and HelloRetryRequest as a transcript, or NULL).
 */
bool lurkd_tls13_binder_ok(const struct lurk_tls13_keysched *ks, bool resumption,
                           const struct lurk_tls13_hs_client_hello *ch, int index,
                           const uint8_t *random, const struct lurk_tls13_transcript *prefix);

/* Keeps the ClientHello's key shares of supported groups for a later exchange. */
void lurkd_tls13_keep_shares(struct lurkd_tls13_session *s,
                             const struct lurk_tls13_hs_client_hello *ch);
const struct lurkd_tls13_share *lurkd_tls13_kept_share(const struct lurkd_tls13_session *s,
                                                       uint16_t group);

/*
 * handshake_context's ClientHello, or ClientHello1, HelloRetryRequest,
 * ClientHello2 (§3.3, RFC 8446 §4.1.4); ch is the last ClientHello.
 */
struct lurkd_tls13_hellos {
    struct lurk_tls13_hs_client_hello ch1, ch;
    struct lurk_tls13_hs_server_hello hrr;
    bool hrr_seen;
};
uint8_t lurkd_tls13_read_hellos(struct lurkd_tls13_ex *ex, lurk_cbs *ctx,
                                struct lurkd_tls13_hellos *h);
/*
 * The ClientHellos into t, the first replaced by message_hash after a
 * HelloRetryRequest (RFC 8446 §4.4.1), their random replaced by random
 * (client role freshness) or as sent (NULL).
 */
bool lurkd_tls13_feed_hellos(struct lurk_tls13_transcript *t, const struct lurkd_tls13_hellos *h,
                             const uint8_t *random);

/*
 * From the Handshake Secret and the transcript through the ServerHello:
 * c/s handshake traffic secrets, kept in the session (Finished messages)
 * and put in the response (both are mandatory where allowed).
 */
bool lurkd_tls13_ex_handshake_secrets(struct lurkd_tls13_ex *ex);
/*
 * Master Secret, then the application secrets over th_sfin (CH..server
 * Finished) that key_request asks for and policy gives: a_c, a_s, and x
 * under MASTER_EXPORTER.
 */
bool lurkd_tls13_ex_application_secrets(struct lurkd_tls13_ex *ex, const uint8_t *th_sfin);

/* The ClientHello's offers (-01 §9.1 variables) and key shares, into the session. */
void lurkd_tls13_keep_client_hello(struct lurkd_tls13_session *s,
                                   const struct lurkd_tls13_hellos *h);

/* The next message of handshake_context, of type; false when absent or another type. */
bool lurkd_tls13_next_msg(lurk_cbs *ctx, uint8_t type, struct lurk_tls13_handshake_msg *out);

/* Whether resumption (tickets) and post-handshake authentication remain possible. */
bool lurkd_tls13_resumption_possible(const struct lurkd_tls13_ex *ex);
bool lurkd_tls13_post_handshake_possible(const struct lurkd_tls13_ex *ex);

/* early_secret (type 3) of each role, after lurkd_tls13_ex_begin (T5). */
uint8_t lurkd_tls13_server_early_secret(struct lurkd_tls13_ex *ex);
uint8_t lurkd_tls13_client_early_secret(struct lurkd_tls13_ex *ex);

#endif
