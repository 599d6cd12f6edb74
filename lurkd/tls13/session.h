/*
 * LURK sessions of the tls13 exchanges (draft-mglt-lurk-tls13-01 §3.5, the
 * ks_ctx of §9): the table of sessions with their random session ids, the
 * cookie chain of protocol.md "tls13 sessions and cookies" (T12), the
 * owner (the peer identity that opened the session; nobody else may use
 * it), and the bounds that keep memory flat whatever clients do: a table
 * size, a per-client limit and an idle lifetime ([tls13] max_sessions,
 * max_sessions_per_client, session_lifetime).
 *
 * One exchange at a time holds a session (acquire, then commit or abort):
 * the table lock is not held while the exchange computes, and a second
 * request for a session that is being served is refused like a wrong
 * cookie. A session's secrets are wiped when it is deleted.
 *
 * The state machine that decides which exchange may come next lives with
 * the exchanges (tls13_exchange.h); this module keeps the state value.
 */
#ifndef LURKD_TLS13_SESSION_H
#define LURKD_TLS13_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lurk/tls13_keysched.h"
#include "lurk/tls13_transcript.h"
#include "conf/policy.h"
#include "tls13/ephemeral.h"

struct lurkd_request;

/* Who may use a session or a resumption PSK: the peer identity of policy.h. */
struct lurkd_tls13_owner {
    enum lurkd_peer_kind kind;
    uid_t uid;               /* unix */
    uint8_t spki_sha256[32]; /* tls */
};

void lurkd_tls13_owner_of(const struct lurkd_peer *peer, struct lurkd_tls13_owner *out);
bool lurkd_tls13_owner_is(const struct lurkd_tls13_owner *owner, const struct lurkd_peer *peer);

/* A key share of the ClientHello kept for a later exchange (one per supported group). */
struct lurkd_tls13_share {
    uint16_t group;
    uint8_t len;
    uint8_t data[LURKD_TLS13_MAX_SHARE];
};

/* Everything an exchange needs from the earlier ones of its session. */
struct lurkd_tls13_session {
    /* Table fields (tls13_session.c). */
    uint32_t id;        /* crypto_service_session_id */
    uint32_t client_id; /* lurk_client_session_id */
    struct lurkd_tls13_owner owner;
    uint64_t last_ms; /* monotonic time of the last exchange: expiry */
    bool busy;
    bool visible;         /* inserted: requests can name it */
    uint8_t salt_cs[32];  /* salt^cs_n: the next request carries cookie_(n+1) */
    uint8_t salt_clt[32]; /* salt^clt_n */

    /* Exchange fields (tls13_exchange.c and the ex_tls13_*.c files). */
    uint8_t role;  /* enum lurk_tls13_role */
    uint8_t state; /* enum lurkd_tls13_state (tls13_exchange.h) */
    struct lurk_tls13_keysched ks;
    struct lurk_tls13_transcript tr;
    uint16_t cipher_suite;                 /* 0 until the ServerHello */
    uint8_t c_hs[LURK_TLS13_MAX_HASH_LEN]; /* handshake traffic secrets: Finished checks */
    uint8_t s_hs[LURK_TLS13_MAX_HASH_LEN];
    uint8_t rms[LURK_TLS13_MAX_HASH_LEN]; /* resumption_master_secret, after client Finished */
    bool have_rms;
    /* PSK of the session (-01 §3.4.2) */
    bool psk;
    bool psk_resumption;           /* binder label "res binder" */
    int psk_index;                 /* its position among the ClientHello's identities */
    uint8_t psk_identity_hash[32]; /* SHA-256 of its identity: to find it in ClientHello2 */
    const char *psk_md;            /* its hash ("SHA256"/"SHA384") */
    /* Freshness (-01 §3.4.3) */
    bool null_allowed;         /* policy of the session's key or PSK (inherited by its tickets) */
    bool used_null;            /* the session's random came with freshness null */
    uint8_t client_random[32]; /* client role: ClientHello.random as derived, for CH2 */
    /* What the handshake said (-01 §9.1 variables). */
    bool ephemeral_used;           /* §3.4.1: once per session */
    bool hrr;                      /* a HelloRetryRequest was seen */
    bool ch_psk_modes;             /* resumption possible (RFC 8446 §4.6.1) */
    bool ch_psk_ke, ch_psk_dhe_ke; /* the psk_key_exchange_modes offered */
    bool ch_early_data;            /* 0rtt_proposed */
    bool ch_post_handshake;        /* post_handshake_proposed */
    bool ee_early_data;            /* the server accepted early data: EndOfEarlyData follows */
    bool cert_request;             /* CertificateRequest in the main handshake */
    struct lurkd_tls13_share shares[5];
    size_t n_shares;
    unsigned tickets; /* NewSessionTickets issued (server) or registered (client) */
};

/*
 * Opening a session: NULL when the table or this peer's share of it is full
 * (the caller answers temporary_failure; *why says which); the session is
 * not yet visible, and counts against the limits until inserted or freed.
 */
struct lurkd_tls13_session *lurkd_tls13_session_new(const struct lurkd_request *req,
                                                    const char **why);
/*
 * Makes s visible with a fresh random crypto_service_session_id and
 * crypto_service_cookie_init (returned), salt_0 = H(P || R) where P is the
 * initiating request's payload. s stays held by the caller (commit next).
 */
bool lurkd_tls13_session_insert(struct lurkd_tls13_session *s, const uint8_t *payload,
                                size_t payload_len, uint32_t client_session_id, uint32_t *id,
                                uint32_t *cookie_init);
/* Deletes s, held by the caller: out of the table, its secrets wiped. */
void lurkd_tls13_session_free(struct lurkd_tls13_session *s);

/*
 * The session for an in-session request: NULL (*why set) for an unknown or
 * expired id, another peer's session, one already being served, or a cookie
 * other than crypto_service_cookie_(n+1).
 */
struct lurkd_tls13_session *lurkd_tls13_session_acquire(const struct lurkd_request *req,
                                                        uint32_t id, uint32_t cookie,
                                                        const char **why);
/*
 * Success: advances the chain (n+1) and gives lurk_client_session_id and
 * lurk_client_cookie_(n+1) for the response; then, with finished, deletes
 * the session (-01 §9's finished state), else releases it.
 */
bool lurkd_tls13_session_commit(struct lurkd_tls13_session *s, bool finished, uint32_t *client_id,
                                uint32_t *client_cookie);
/*
 * Releases s unchanged (a refused request; also the opening exchange, n = 0),
 * or deletes it when it cannot go on (drop: an internal error mid-way).
 */
void lurkd_tls13_session_abort(struct lurkd_tls13_session *s, bool drop);

#endif
