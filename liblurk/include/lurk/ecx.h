/*
 * X25519 and X448 public keys that no honest peer sends (RFC 7748 §6, RFC
 * 8446 §7.4.2): the points of small order, whose shared secret with any
 * private key is all zeros, so an (EC)DHE exchange with them has no secret
 * at all. lurkd refuses them before signing ServerECDHParams that carry one
 * (tls12 ecdhe) and in tls13 key shares.
 */
#ifndef LURK_ECX_H
#define LURK_ECX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TLS NamedGroup code points (RFC 8422 §5.1.1, RFC 8446 §4.2.7). */
#define LURK_GROUP_X25519 29
#define LURK_GROUP_X448   30

/*
 * lurk_ecx_small_order is true when u (the len-byte little-endian RFC 7748
 * encoding of a public key of group X25519 or X448) is a point of small
 * order once decoded as RFC 7748 §5 says (the top bit of an X25519 key
 * masked, the value taken modulo p): 0, 1 and p - 1, and for X25519 the
 * two points of order 8. False for any other value, group or length.
 */
bool lurk_ecx_small_order(uint16_t group, const uint8_t *u, size_t len);

#endif
