/*
 * Freshness functions: how the random the TLS peer puts on the wire is
 * derived from the pre-image S that the LURK client sends, so that the
 * Cryptographic Service, not the client, decides the value a master secret
 * or signature is bound to (perfect forward secrecy against a compromised
 * client; draft-mglt-lurk-tls12 §4.1.1, draft-mglt-lurk-tls13-01 §3).
 *
 * The function codes are FreshnessFunct (tls12.h): sha256 (0), and the
 * project's null (255, pinned in protocol.md: A-entries for tls12, T11 for
 * tls13). Whether null is acceptable for a key or PSK is policy, decided by
 * the caller.
 *
 * libctx is where SHA-256 is fetched; NULL means the default context.
 */
#ifndef LURK_FRESHNESS_H
#define LURK_FRESHNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/tls12.h" /* LURK_RANDOM_LEN, enum lurk_freshness_funct */

/*
 * TLS 1.2 (draft-mglt-lurk-tls12 §4.1.1):
 *   sha256: ServerHello.random = S[0..3] || SHA-256(S || "tls12 pfs")[4..31]
 *   null:   ServerHello.random = S
 * The first 4 bytes keep S's gmt_unix_time. False for any other funct.
 * out may be the same buffer as s.
 */
bool lurk_freshness_tls12_server_random(OSSL_LIB_CTX *libctx, uint8_t funct,
                                        const uint8_t s[LURK_RANDOM_LEN],
                                        uint8_t out[LURK_RANDOM_LEN]);

/* gmt_unix_time of a Random (RFC 5246 §7.4.1.2): its first 4 bytes, big-endian. */
uint32_t lurk_freshness_tls12_gmt_unix_time(const uint8_t random[LURK_RANDOM_LEN]);

/*
 * The server's time check (draft-mglt-lurk-tls12 §4.4 step 4): true when
 * S's gmt_unix_time lies in [now - window, now + window], bounds included.
 * now is passed in (seconds since the epoch) so the check is testable.
 */
bool lurk_freshness_tls12_time_ok(const uint8_t s[LURK_RANDOM_LEN], int64_t now, uint32_t window);

/* Which random a TLS 1.3 freshness derivation produces, hence which label. */
enum lurk_freshness_role {
    LURK_FRESHNESS_ROLE_SERVER, /* ServerHello.random, label "tls13 pfs srv" */
    LURK_FRESHNESS_ROLE_CLIENT, /* ClientHello.random, label "tls13 pfs clt" */
};

/*
 * TLS 1.3 (draft-mglt-lurk-tls13-01 §3, freshness extension):
 *   sha256: random = SHA-256(pre-image || "tls13 pfs srv") on the server role,
 *                    SHA-256(pre-image || "tls13 pfs clt") on the client role.
 *   null:   random = pre-image (the project's, as for TLS 1.2; it lets a
 *           recorded handshake such as RFC 8448's be replayed).
 * Anything else is false. out may be the same buffer as in.
 */
bool lurk_freshness_tls13_random(OSSL_LIB_CTX *libctx, uint8_t funct, enum lurk_freshness_role role,
                                 const uint8_t in[LURK_RANDOM_LEN], uint8_t out[LURK_RANDOM_LEN]);

#endif
