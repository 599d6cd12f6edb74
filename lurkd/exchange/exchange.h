/*
 * What every exchange handler gets and the handlers' entry points. A handler
 * decodes its payload, applies the draft's checks and the key policy, and
 * appends its response payload; it returns the status of its designation
 * (LURK_STATUS_SUCCESS or an error, for which dispatch writes the error
 * payload).
 */
#ifndef LURKD_EXCHANGE_EXCHANGE_H
#define LURKD_EXCHANGE_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"
#include "keys/keystore.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"
#include "conf/policy.h"
#include "conf/runtime.h"

struct lurkd_request {
    const struct lurkd_runtime *rt;
    const struct lurkd_peer *peer;
    const struct lurk_header *hdr;
    lurk_cbs payload;
    /* The payload of a sign_certificate_verify decoded already (exchange/dispatch.h), or NULL. */
    const struct lurk_tls13_sign_cv_request *sign_cv;
    /* Set by lurkd_request_key: this request is a private-key operation and is audited. */
    bool audited;
    bool has_key_id; /* key_id was requested (audit) */
    struct lurk_key_id key_id;
    const struct lurkd_key *key;
    const char *note;
    /*
     * Set by a handler to answer with this designation-lurk status instead
     * of its own designation's (temporary_failure when a tls13 session
     * limit is reached, like full queues).
     */
    uint8_t lurk_error;
};

typedef uint8_t (*lurkd_exchange_fn)(struct lurkd_request *req, lurk_cbb *out);

/*
 * The key a request names, if it exists and the policy lets this peer use
 * it for ex; NULL otherwise (the caller answers invalid_key_id, and the
 * audit line says which of the two it was). Marks the request for audit.
 */
const struct lurkd_key *lurkd_request_key(struct lurkd_request *req,
                                          const struct lurk_key_id *key_id, enum lurkd_exchange ex);

/* Empty request, empty response: ping of every designation. */
uint8_t lurkd_ex_ping(struct lurkd_request *req, lurk_cbb *out);
/* ex_lurk.c */
uint8_t lurkd_ex_lurk_capabilities(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_lurk_stats(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls12.c */
uint8_t lurkd_ex_tls12_capabilities(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls12_rsa.c */
uint8_t lurkd_ex_tls12_rsa_master(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls12_rsa_handshake(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls12_rsa_premaster(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls12_ecdhe.c */
uint8_t lurkd_ex_tls12_ecdhe(struct lurkd_request *req, lurk_cbb *out);
/* tls12_client_certificate_verify.c */
uint8_t lurkd_ex_tls12_client_certificate_verify(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls13.c */
uint8_t lurkd_ex_tls13_capabilities(struct lurkd_request *req, lurk_cbb *out);
/* ex_sign.c */
uint8_t lurkd_ex_tls13_sign_certificate_verify(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls13_server.c: -01 §4 (early_secret of both roles: tls13_exchange.c) */
uint8_t lurkd_ex_tls13_early_secret(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_init_certificate_verify(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_handshake_and_app_secret(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_new_session_ticket(struct lurkd_request *req, lurk_cbb *out);
/* ex_tls13_client.c: -01 §5 */
uint8_t lurkd_ex_tls13_binder_key(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_init_handshake_secret(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_handshake_secret(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_app_secret(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_certificate_verify(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_register_session_ticket(struct lurkd_request *req, lurk_cbb *out);
uint8_t lurkd_ex_tls13_post_handshake(struct lurkd_request *req, lurk_cbb *out);

#endif
