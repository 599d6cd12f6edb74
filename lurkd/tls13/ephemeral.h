/*
 * The (EC)DHE input of the TLS 1.3 key schedule for the ephemeral extension
 * (draft-mglt-lurk-tls13-01 §3.4.1; encodings pinned in protocol.md T9,
 * T10): secret_provided (the LURK client's own ephemeral private key) and
 * secret_generated (lurkd makes the key pair), for x25519, x448, secp256r1,
 * secp384r1 and secp521r1. Key shares are RFC 8446 §4.2.8 key_exchange
 * values: the raw RFC 7748 public key, or an uncompressed point.
 *
 * Functions return LURK_STATUS_SUCCESS or the TLS13Status to answer:
 * invalid_ephemeral for what the ephemeral extension got wrong (group not
 * supported, private key malformed or not the one of the LURK client's key
 * share), invalid_handshake for a peer key share that is not a valid public
 * key of its group. Shared secrets are wiped by the caller.
 */
#ifndef LURKD_TLS13_EPHEMERAL_H
#define LURKD_TLS13_EPHEMERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lurk/bytes.h"

/* Largest shared secret (secp521r1: 66 bytes) and key_exchange (1 + 2 * 66). */
#define LURKD_TLS13_MAX_SHARED 66
#define LURKD_TLS13_MAX_SHARE  133

/* The NamedGroups lurkd supports, in capabilities order. */
extern const uint16_t lurkd_tls13_groups[];
extern const size_t lurkd_tls13_n_groups;
bool lurkd_tls13_group_supported(uint16_t group);

/*
 * secret_provided: own_private is the LURK client's ephemeral private key for
 * group; own_share its key_exchange as sent in the handshake (they must
 * agree, so the secrets belong to that handshake); peer_share the other
 * side's key_exchange. Writes the shared secret (*shared_len bytes).
 */
uint8_t lurkd_tls13_ecdhe_provided(uint16_t group, const lurk_cbs *own_private,
                                   const lurk_cbs *own_share, const lurk_cbs *peer_share,
                                   uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len);

/*
 * secret_generated: a fresh key pair for group; writes its key_exchange
 * (*share_len bytes) and the shared secret with peer_share. The private key
 * never leaves this function.
 */
uint8_t lurkd_tls13_ecdhe_generate(uint16_t group, const lurk_cbs *peer_share,
                                   uint8_t share[LURKD_TLS13_MAX_SHARE], size_t *share_len,
                                   uint8_t shared[LURKD_TLS13_MAX_SHARED], size_t *shared_len);

#endif
