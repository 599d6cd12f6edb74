/*
 * Helpers of the tls13 conformance tests (test_tls13_*.c): requests built
 * with the liblurk codec, the LURK client's side of the session cookies
 * (computed here from docs/protocol.md, independently of lurkd), RFC 8448
 * values from tests/vectors/data, synthetic TLS 1.3 hellos, and the key
 * schedule computed here with liblurk's RFC 8448-tested primitives, so
 * every expected value comes from the RFC or from this side, never from
 * lurkd's answers.
 */
#ifndef LURK_TEST_TLS13_H
#define LURK_TEST_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "daemon_client.h"
#include "lurk/tls13.h"
#include "lurk/tls13_keysched.h"
#include "lurk/tls13_transcript.h"
#include "vectors.h"

/* ---- byte strings ---- */

struct t13_buf {
    uint8_t *p;
    size_t n, cap;
};
void t13_add(struct t13_buf *b, const void *data, size_t len);
void t13_add_u8(struct t13_buf *b, uint8_t v);
void t13_add_u16(struct t13_buf *b, uint16_t v);
void t13_add_u24(struct t13_buf *b, uint32_t v);
void t13_buf_free(struct t13_buf *b);
/* A whole handshake message: type, uint24 length, body. */
void t13_add_msg(struct t13_buf *b, uint8_t type, const uint8_t *body, size_t len);

/* ---- RFC 8448 vectors ---- */

struct t13_rfc {
    json_t *simple, *resumed, *all;
    struct lurk_vectors_pool pool;
};
void t13_rfc_load(struct t13_rfc *v);
void t13_rfc_free(struct t13_rfc *v);
/* A hex field of a file (dotted path; keys with dots through t13_rfc_member). */
const uint8_t *t13_rfc_hex(struct t13_rfc *v, const json_t *root, const char *path, size_t *len);
const uint8_t *t13_rfc_member(struct t13_rfc *v, const json_t *root, const char *obj,
                              const char *key, size_t *len);
/* An item of rfc8448-all-sections.json: section title prefix, party, step title prefix, label. */
const uint8_t *t13_rfc_item(struct t13_rfc *v, const char *section, const char *party,
                            const char *title, const char *label, size_t *len);
/* The same, nth match (0 = first): §5 has two ClientHellos and two ServerHellos. */
const uint8_t *t13_rfc_item_n(struct t13_rfc *v, const char *section, const char *party,
                              const char *title, const char *label, unsigned nth, size_t *len);

/* ---- sessions (protocol.md "tls13 sessions and cookies") ---- */

struct t13_session {
    uint32_t cs_id;  /* crypto_service_session_id */
    uint32_t clt_id; /* lurk_client_session_id */
    uint8_t salt_cs[32], salt_clt[32];
    unsigned n; /* exchanges after the opening one */
};
/* salt_0 = SHA-256(initiating payload || ContextAgreementResponse). */
void t13_session_start(struct t13_session *s, const uint8_t *payload, size_t len, uint32_t clt_id,
                       const struct lurk_tls13_ctx_response *ctx);
/* crypto_service_cookie_(n+1), the one the next request carries. */
uint32_t t13_cs_cookie(const struct t13_session *s);
/* After a success: the response carries lurk_client_cookie_(n+1); moves to n+1. */
void t13_session_next(struct t13_session *s, const struct lurk_tls13_session *resp);
/* The chain of protocol.md: salt_(n+1) and cookie from salt_n and a label. */
uint32_t t13_cookie_step(const uint8_t salt[32], const char *label, uint8_t next[32]);

/* ---- requests and responses ---- */

struct t13_resp {
    struct lurk_response raw;
    struct lurk_tls13_response r; /* decoded when status is success */
    uint8_t status;
    uint8_t designation;
    uint8_t *sent; /* the request payload as sent */
    size_t sent_len;
};

void t13_req(struct lurk_tls13_request *r, uint8_t type, uint16_t key_request);
/* ContextAgreementRequest with sha256 cookies and a random lurk_client_session_id. */
void t13_req_ctx(struct lurk_tls13_request *r);
void t13_req_session(struct lurk_tls13_request *r, const struct t13_session *s);
void t13_req_context(struct lurk_tls13_request *r, const struct t13_buf *b);
void t13_req_psk(struct lurk_tls13_request *r, const uint8_t *id, size_t len, uint32_t age);
void t13_req_ephemeral(struct lurk_tls13_request *r, uint8_t method, const uint8_t *secret,
                       size_t len);
void t13_req_freshness(struct lurk_tls13_request *r, uint8_t funct);
/* SigningRequest: pkey's key id, scheme, LURKCertificate tls13 (body) or sha256_32 (hashed). */
void t13_req_signing(struct lurk_tls13_request *r, EVP_PKEY *pkey, uint16_t scheme, bool sha256_32,
                     const uint8_t *cert_body, size_t cert_len);

/* Sends r; returns the status; a success response is decoded (or the test fails). */
uint8_t t13_call(struct lurk_conn *c, const struct lurk_tls13_request *r, struct t13_resp *out);
void t13_resp_free(struct t13_resp *r);
/* Opening exchange answered with success: starts s from it. */
void t13_open(struct t13_session *s, const struct lurk_tls13_request *req,
              const struct t13_resp *resp);
/* A secret of the response (fails the test when absent), or NULL for t13_secret_opt. */
const uint8_t *t13_secret(const struct t13_resp *r, uint8_t type, size_t *len);
const uint8_t *t13_secret_opt(const struct t13_resp *r, uint8_t type);
/* Asserts a secret equals want (32 or 48 bytes). */
void t13_expect_secret(const struct t13_resp *r, uint8_t type, const uint8_t *want, size_t len);

/* ---- TLS 1.3 on this side ---- */

/* Transcript hash (SHA-256 or SHA-384) of a byte string. */
void t13_hash(const char *md, const uint8_t *data, size_t len, uint8_t *out);
/* Finished over a transcript: HMAC(finished_key(base), Hash(transcript)). */
void t13_finished(const char *md, const uint8_t *base_key, const uint8_t *transcript, size_t len,
                  uint8_t *out);
/* Derive-Secret(secret, label, Hash(transcript)). */
void t13_derive(const char *md, const uint8_t *secret, const char *label, const uint8_t *transcript,
                size_t len, uint8_t *out);

/* A key pair of a NamedGroup; raw private key (T9 encoding) and key_exchange. */
struct t13_share {
    uint16_t group;
    EVP_PKEY *pkey;
    uint8_t priv[66];
    size_t priv_len;
    uint8_t pub[133];
    size_t pub_len;
};
void t13_share_new(struct t13_share *k, uint16_t group);
void t13_share_free(struct t13_share *k);
/* (EC)DHE shared secret of k with a peer key_exchange. */
size_t t13_share_derive(const struct t13_share *k, const uint8_t *peer, size_t peer_len,
                        uint8_t *out);

/* Options of a synthetic ClientHello (RFC 8446 §4.1.2). */
struct t13_ch_opts {
    const uint8_t *random; /* 32 bytes; NULL: 0x11 * 32 */
    uint16_t group;
    const uint8_t *share; /* key_exchange; NULL: no key_share */
    size_t share_len;
    bool psk_modes; /* psk_key_exchange_modes {psk_ke, psk_dhe_ke} */
    bool early_data;
    bool post_handshake_auth;
    const uint8_t *psk_identity; /* pre_shared_key with one identity (binder zeros) */
    size_t psk_identity_len;
    uint32_t obfuscated_age;
    size_t binder_len;
};
void t13_build_ch(struct t13_buf *b, const struct t13_ch_opts *o);
/* Sets the binder of a one-identity ClientHello built above from binder_key. */
void t13_ch_set_binder(struct t13_buf *ch, const char *md, const uint8_t *binder_key,
                       const uint8_t *prefix, size_t prefix_len);
/*
 * ServerHello: suite, key_share (group 0: none; share NULL: an empty
 * key_exchange, for secret_generated), pre_shared_key selecting selected.
 */
void t13_build_sh(struct t13_buf *b, const uint8_t *random, uint16_t suite, uint16_t group,
                  const uint8_t *share, size_t share_len, bool psk, uint16_t selected);
/* Replaces the PskIdentity and binder of a ClientHello whose last extension is pre_shared_key. */
void t13_ch_replace_psk(struct t13_buf *out, const uint8_t *ch, size_t ch_len,
                        const uint8_t *identity, size_t identity_len, uint32_t age,
                        const uint8_t *binder_key);

/* The first PskIdentity of a ClientHello's pre_shared_key. */
void t13_ch_psk_identity(const uint8_t *ch, size_t ch_len, const uint8_t **identity,
                         size_t *identity_len, uint32_t *age);

/* ---- the daemon ---- */

/* Runs argv (argv[0] a path) to completion; stdout and stderr into out_path and out. */
int t13_run(const char *const *argv, const char *out_path, char *out, size_t outlen);

/* Writes PEM key and certificate (from DER) into the lurkd directory; returns the paths. */
const char *t13_write_pem_key(const struct lurkd_proc *p, const char *name, const char *pem);
const char *t13_write_cert_der(const struct lurkd_proc *p, const char *name, const uint8_t *der,
                               size_t len);
/* The first certificate of a Certificate body (RFC 8446 §4.4.2). */
const uint8_t *t13_cert_der(const uint8_t *body, size_t body_len, size_t *der_len);

#endif
