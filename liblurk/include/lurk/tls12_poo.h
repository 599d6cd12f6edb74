/*
 * tls12 ecdhe proof of ownership (draft-mglt-lurk-tls12-05 §6.1): a
 * non-interactive Schnorr proof (RFC 8235) that the LURK client knows the
 * private key b of the ECDHE public key bG it asks lurkd to sign. NIST
 * curves P-256, P-384 and P-521 (named curves 23, 24, 25).
 *
 *   c = poo_prf(len||G || len||vG || len||bG || len||UserID || len||OtherInfo)
 *   UserID    = client_random || server_random          (the request's fields)
 *   OtherInfo = key_id || freshness_funct || sig_and_hash || ecdhe_params || "tls12 poo"
 *   r = v - b*c mod n;   verify: r*G + c*bG == vG
 *
 * len is a 4-byte big-endian byte count; points are uncompressed SEC1;
 * c is the first 128 (sha256_128) or 256 (sha256_256) bits of SHA-256 read
 * as a big-endian integer; r is big-endian, as long as the curve order
 * (32, 48 or 66 bytes) -- the draft's R[16]/R[32] cannot hold v - b*c mod n
 * (docs/protocol.md, "Ambiguities").
 */
#ifndef LURK_TLS12_POO_H
#define LURK_TLS12_POO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "lurk/tls12.h"

/* Byte length of r for a named curve; 0 when the curve has no Schnorr PoO here. */
size_t lurk_tls12_poo_r_len(uint16_t named_curve);

/*
 * Fills req->poo_vg and req->poo_r (pointing into vg_buf and r_buf, which
 * must hold 133 and 66 bytes) with a proof for the private scalar b of
 * req->ecdhe_params.point. req->poo_prf selects the challenge length.
 */
bool lurk_tls12_poo_prove(struct lurk_tls12_ecdhe_request *req, const BIGNUM *b, uint8_t *vg_buf,
                          uint8_t *r_buf);
/* True when the proof in req verifies. */
bool lurk_tls12_poo_verify(const struct lurk_tls12_ecdhe_request *req);

#endif
