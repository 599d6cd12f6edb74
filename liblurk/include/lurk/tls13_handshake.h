/*
 * Reading the TLS 1.3 handshake messages a LURK client sends in
 * handshake_context (draft-mglt-lurk-tls13-01 §3.3): the fields lurkd
 * checks for coherence (ECDHE versus PSK versus PSK-ECDHE, early_data,
 * post_handshake_auth, CertificateRequest; -01 §4.1, §4.2, §5.4-§5.8) and
 * the places it rewrites before hashing (the freshness-derived random,
 * §3.4.3; the key share lurkd generates, §3.4.1). Every byte is read
 * through the lurk_cbs reader; the parsed structs are views into the
 * message. A parser returns false when the message is not well formed
 * RFC 8446 (the caller answers invalid_handshake).
 */
#ifndef LURK_TLS13_HANDSHAKE_H
#define LURK_TLS13_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/bytes.h"

/* RFC 8446 §4.2 ExtensionType values lurkd reads. */
enum {
    LURK_TLS_EXT_SIGNATURE_ALGORITHMS = 13,
    LURK_TLS_EXT_PRE_SHARED_KEY = 41,
    LURK_TLS_EXT_EARLY_DATA = 42,
    LURK_TLS_EXT_SUPPORTED_VERSIONS = 43,
    LURK_TLS_EXT_PSK_KEY_EXCHANGE_MODES = 45,
    LURK_TLS_EXT_POST_HANDSHAKE_AUTH = 49,
    LURK_TLS_EXT_KEY_SHARE = 51,
};

#define LURK_TLS13_HS_RANDOM_LEN 32

struct lurk_tls13_hs_client_hello {
    lurk_cbs message;  /* header and body */
    size_t random_off; /* offset of Random in message */
    lurk_cbs random;
    lurk_cbs cipher_suites;
    bool tls13; /* supported_versions offers 0x0304 */
    bool has_key_share;
    lurk_cbs key_shares;  /* client_shares: KeyShareEntry list */
    bool has_psk;         /* pre_shared_key (the last extension, RFC 8446 §4.2.11) */
    lurk_cbs identities;  /* PskIdentity list */
    lurk_cbs binders;     /* PskBinderEntry list */
    size_t truncated_len; /* message bytes before the binders list (its length included out) */
    bool has_psk_modes;
    bool psk_ke, psk_dhe_ke;
    bool early_data;
    bool post_handshake_auth;
    bool has_sig_algs;
    lurk_cbs sig_algs; /* SignatureScheme list */
};

struct lurk_tls13_hs_server_hello {
    lurk_cbs message;
    size_t random_off;
    bool hrr; /* a HelloRetryRequest (RFC 8446 §4.1.3 special random) */
    uint16_t cipher_suite;
    bool tls13; /* supported_versions selects 0x0304 */
    bool has_key_share;
    uint16_t group;        /* ServerHello: server_share.group; HRR: selected_group */
    lurk_cbs key_exchange; /* ServerHello only; may be empty (secret_generated, T10) */
    /* Where a generated key share goes: the lengths that grow around it, and their values. */
    size_t extensions_len_off, key_share_len_off, key_exchange_len_off;
    size_t extensions_len, key_share_len;
    bool has_psk;
    uint16_t selected_identity;
};

bool lurk_tls13_hs_parse_client_hello(const lurk_cbs *message,
                                      struct lurk_tls13_hs_client_hello *out);
bool lurk_tls13_hs_parse_server_hello(const lurk_cbs *message,
                                      struct lurk_tls13_hs_server_hello *out);
/* EncryptedExtensions body: whether the server accepted early data. */
bool lurk_tls13_hs_parse_encrypted_extensions(const lurk_cbs *body, bool *early_data);
/* CertificateRequest body (RFC 8446 §4.3.2): its context and signature_algorithms. */
bool lurk_tls13_hs_parse_certificate_request(const lurk_cbs *body, lurk_cbs *context,
                                             lurk_cbs *sig_algs);
/* Certificate body (RFC 8446 §4.4.2): well formed; *empty when it carries no certificate. */
bool lurk_tls13_hs_parse_certificate(const lurk_cbs *body, bool *empty);
/* NewSessionTicket extensions: early_data's max_early_data_size (0 when absent). */
bool lurk_tls13_hs_ticket_max_early_data(const lurk_cbs *extensions, uint32_t *max);

/* The ClientHello's KeyShareEntry for group. */
bool lurk_tls13_hs_client_key_share(const struct lurk_tls13_hs_client_hello *ch, uint16_t group,
                                    lurk_cbs *key_exchange);
/* Index of identity among the offered PSKs (with its obfuscated_ticket_age), or -1. */
int lurk_tls13_hs_client_psk_index(const struct lurk_tls13_hs_client_hello *ch,
                                   const lurk_cbs *identity, uint32_t *obfuscated_ticket_age);
/* The binder of the PSK at index. */
bool lurk_tls13_hs_client_psk_binder(const struct lurk_tls13_hs_client_hello *ch, unsigned index,
                                     lurk_cbs *binder);
/* Whether a SignatureScheme list names scheme. */
bool lurk_tls13_hs_scheme_listed(const lurk_cbs *sig_algs, uint16_t scheme);

/*
 * A copy of sh's message with key_exchange (empty in sh) set to share and
 * every enclosing length grown to match, into out (cap bytes).
 */
bool lurk_tls13_hs_server_hello_fill_share(const struct lurk_tls13_hs_server_hello *sh,
                                           const uint8_t *share, size_t share_len, uint8_t *out,
                                           size_t cap, size_t *out_len);

#endif
