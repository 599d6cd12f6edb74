/*
 * TLS 1.3 key schedule (RFC 8446 §7.1) and the values derived from it:
 * Finished (§4.4.4), PSK binders (§4.2.11.2), resumption PSKs (§4.6.1).
 *
 * Two layers:
 *
 * - Primitives (lurk_tls13_hkdf_*, lurk_tls13_derive_secret, ...), pure
 *   functions of their inputs on EVP_KDF "HKDF" and EVP_MAC "HMAC".
 *
 * - struct lurk_tls13_keysched: the schedule as explicit steps. Three
 *   HKDF-Extract steps move it through its stages:
 *
 *       init --extract_early(PSK)--> EARLY --extract_handshake((EC)DHE)-->
 *       HANDSHAKE --extract_master()--> MASTER
 *
 *   and each Derive-Secret is only allowed in the stage whose secret it
 *   uses, so a caller cannot derive from the wrong secret. The caller owns
 *   the transcript (see tls13_transcript.h: lurkd receives the handshake in
 *   pieces, as handshake_context, and can only hash what it has seen) and
 *   passes in the transcript hash each step needs. Parameter names say which
 *   messages that hash covers:
 *
 *       th_ch    ClientHello                        (c e traffic, e exp master)
 *       th_sh    ClientHello .. ServerHello         (c/s hs traffic)
 *       th_sfin  ClientHello .. server Finished     (c/s ap traffic, exp master)
 *       th_cfin  ClientHello .. client Finished     (res master)
 *
 *   With 0-RTT, EndOfEarlyData is part of the transcript before the client
 *   Finished, hence inside th_cfin and the client Finished hash (§4.4.1).
 *   After a HelloRetryRequest every hash starts with the message_hash
 *   message instead of ClientHello1 (§4.4.1).
 *
 * Transcript hashes and secrets are hash_len bytes: 32 for SHA-256 suites,
 * 48 for SHA-384. libctx (NULL = default context) is where HKDF, HMAC and
 * the digest are fetched. Functions return false on a failure or misuse;
 * every intermediate secret is wiped before returning.
 */
#ifndef LURK_TLS13_KEYSCHED_H
#define LURK_TLS13_KEYSCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* The largest hash of a TLS 1.3 cipher suite (SHA-384). */
#define LURK_TLS13_MAX_HASH_LEN 48

/*
 * The hash of a TLS 1.3 cipher suite (RFC 8446 §B.4): "SHA256" for 0x1301,
 * 0x1303, 0x1304, 0x1305; "SHA384" for 0x1302; NULL otherwise.
 */
const char *lurk_tls13_cipher_suite_md_name(uint16_t cipher_suite);

/* ---- primitives ---- */

/*
 * HKDF-Extract(salt, IKM) (RFC 5869 §2.2) into out, EVP_MD_get_size(md)
 * bytes. RFC 8446 writes a missing salt or IKM as "0", a string of hash_len
 * zero bytes; pass those zeros explicitly.
 */
bool lurk_tls13_hkdf_extract(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *salt,
                             size_t salt_len, const uint8_t *ikm, size_t ikm_len, uint8_t *out);

/*
 * HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1):
 * HKDF-Expand(Secret, HkdfLabel, Length) where HkdfLabel is
 *   uint16 length || opaque label<7..255> = "tls13 " + label ||
 *   opaque context<0..255>.
 * label is given without the "tls13 " prefix (e.g. "c hs traffic").
 */
bool lurk_tls13_hkdf_expand_label(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *secret,
                                  size_t secret_len, const char *label, const uint8_t *context,
                                  size_t context_len, uint8_t *out, size_t out_len);

/*
 * Derive-Secret(Secret, Label, Messages) =
 *   HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), hash_len)
 * (RFC 8446 §7.1), taking the transcript hash rather than the messages.
 * secret, transcript_hash and out are hash_len bytes.
 */
bool lurk_tls13_derive_secret(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *secret,
                              const char *label, const uint8_t *transcript_hash, uint8_t *out);

/* Hash("") with md: the transcript hash of "no messages" (RFC 8446 §7.1). */
bool lurk_tls13_empty_hash(const EVP_MD *md, uint8_t *out);

/*
 * finished_key = HKDF-Expand-Label(BaseKey, "finished", "", hash_len)
 * (RFC 8446 §4.4.4). The base key is a handshake traffic secret for the
 * Finished messages, the binder_key for PSK binders.
 */
bool lurk_tls13_finished_key(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *base_key,
                             uint8_t *out);

/*
 * verify_data = HMAC(finished_key, transcript_hash) (RFC 8446 §4.4.4),
 * hash_len bytes. Server Finished: base_key = server_handshake_traffic_secret,
 * transcript through CertificateVerify (or EncryptedExtensions/Certificate-
 * Request when there is none). Client Finished: client_handshake_traffic_secret,
 * transcript through the server Finished (plus EndOfEarlyData, client
 * Certificate and CertificateVerify when sent).
 */
bool lurk_tls13_finished(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *base_key,
                         const uint8_t *transcript_hash, uint8_t *out);

/*
 * PSK binder (RFC 8446 §4.2.11.2): computed like Finished, with base key
 * binder_key and the transcript hash of the ClientHello truncated before
 * the binders list (preceded, after a HelloRetryRequest, by the earlier
 * messages).
 */
bool lurk_tls13_psk_binder(OSSL_LIB_CTX *libctx, const EVP_MD *md, const uint8_t *binder_key,
                           const uint8_t *truncated_ch_hash, uint8_t *out);

/*
 * PSK of a ticket (RFC 8446 §4.6.1):
 *   HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
 *                     hash_len)
 * nonce is the NewSessionTicket's ticket_nonce<0..255>.
 */
bool lurk_tls13_resumption_psk(OSSL_LIB_CTX *libctx, const EVP_MD *md,
                               const uint8_t *resumption_master_secret, const uint8_t *nonce,
                               size_t nonce_len, uint8_t *out);

/* ---- the schedule, step by step ---- */

enum lurk_tls13_ks_stage {
    LURK_TLS13_KS_INIT,      /* nothing extracted yet */
    LURK_TLS13_KS_EARLY,     /* holds the Early Secret */
    LURK_TLS13_KS_HANDSHAKE, /* holds the Handshake Secret */
    LURK_TLS13_KS_MASTER,    /* holds the Master Secret */
    LURK_TLS13_KS_FAILED,    /* a step failed; only cleanup is allowed */
};

/* Which binder key (RFC 8446 §7.1): external PSK or resumption PSK. */
enum lurk_tls13_binder_kind {
    LURK_TLS13_BINDER_EXTERNAL,   /* "ext binder" */
    LURK_TLS13_BINDER_RESUMPTION, /* "res binder" */
};

/* Fields are private: use the functions below. */
struct lurk_tls13_keysched {
    OSSL_LIB_CTX *libctx;
    EVP_MD *md;
    size_t hash_len;
    enum lurk_tls13_ks_stage stage;
    uint8_t secret[LURK_TLS13_MAX_HASH_LEN];
};

/* Fetches md_name ("SHA256", "SHA384") from libctx; the schedule starts at INIT. */
bool lurk_tls13_keysched_init(struct lurk_tls13_keysched *ks, OSSL_LIB_CTX *libctx,
                              const char *md_name);
/* Same, with the hash of a TLS 1.3 cipher suite. */
bool lurk_tls13_keysched_init_suite(struct lurk_tls13_keysched *ks, OSSL_LIB_CTX *libctx,
                                    uint16_t cipher_suite);
/* Wipes the secret and releases the digest; safe on a zeroed or failed struct. */
void lurk_tls13_keysched_cleanup(struct lurk_tls13_keysched *ks);

size_t lurk_tls13_keysched_hash_len(const struct lurk_tls13_keysched *ks);
/* The fetched digest, e.g. to start a transcript with the same hash. */
const EVP_MD *lurk_tls13_keysched_md(const struct lurk_tls13_keysched *ks);
enum lurk_tls13_ks_stage lurk_tls13_keysched_stage(const struct lurk_tls13_keysched *ks);
/*
 * The secret of the current stage (Early, Handshake or Master Secret),
 * hash_len bytes; NULL in INIT or FAILED. For tests and exporters; the
 * secret stays inside ks.
 */
const uint8_t *lurk_tls13_keysched_secret(const struct lurk_tls13_keysched *ks);

/*
 * INIT -> EARLY: Early Secret = HKDF-Extract(0, PSK). psk NULL (psk_len 0)
 * means no PSK: IKM is hash_len zeros (RFC 8446 §7.1).
 */
bool lurk_tls13_keysched_extract_early(struct lurk_tls13_keysched *ks, const uint8_t *psk,
                                       size_t psk_len);
/*
 * EARLY -> HANDSHAKE: Handshake Secret =
 *   HKDF-Extract(Derive-Secret(Early Secret, "derived", ""), (EC)DHE).
 * shared NULL (shared_len 0) is psk_ke mode: IKM is hash_len zeros.
 */
bool lurk_tls13_keysched_extract_handshake(struct lurk_tls13_keysched *ks, const uint8_t *shared,
                                           size_t shared_len);
/* HANDSHAKE -> MASTER: Master Secret = HKDF-Extract(Derive-Secret(HS, "derived", ""), 0). */
bool lurk_tls13_keysched_extract_master(struct lurk_tls13_keysched *ks);

/* EARLY: binder_key = Derive-Secret(ES, "ext binder" | "res binder", ""). */
bool lurk_tls13_keysched_binder_key(const struct lurk_tls13_keysched *ks,
                                    enum lurk_tls13_binder_kind kind, uint8_t *out);
/* EARLY: client_early_traffic_secret = Derive-Secret(ES, "c e traffic", ClientHello). */
bool lurk_tls13_keysched_client_early_traffic(const struct lurk_tls13_keysched *ks,
                                              const uint8_t *th_ch, uint8_t *out);
/* EARLY: early_exporter_master_secret = Derive-Secret(ES, "e exp master", ClientHello). */
bool lurk_tls13_keysched_early_exporter_master(const struct lurk_tls13_keysched *ks,
                                               const uint8_t *th_ch, uint8_t *out);
/* HANDSHAKE: client_handshake_traffic_secret = Derive-Secret(HS, "c hs traffic", CH..SH). */
bool lurk_tls13_keysched_client_handshake_traffic(const struct lurk_tls13_keysched *ks,
                                                  const uint8_t *th_sh, uint8_t *out);
/* HANDSHAKE: server_handshake_traffic_secret = Derive-Secret(HS, "s hs traffic", CH..SH). */
bool lurk_tls13_keysched_server_handshake_traffic(const struct lurk_tls13_keysched *ks,
                                                  const uint8_t *th_sh, uint8_t *out);
/* MASTER: client_application_traffic_secret_0 = Derive-Secret(MS, "c ap traffic", CH..sFin). */
bool lurk_tls13_keysched_client_application_traffic(const struct lurk_tls13_keysched *ks,
                                                    const uint8_t *th_sfin, uint8_t *out);
/* MASTER: server_application_traffic_secret_0 = Derive-Secret(MS, "s ap traffic", CH..sFin). */
bool lurk_tls13_keysched_server_application_traffic(const struct lurk_tls13_keysched *ks,
                                                    const uint8_t *th_sfin, uint8_t *out);
/* MASTER: exporter_master_secret = Derive-Secret(MS, "exp master", CH..sFin). */
bool lurk_tls13_keysched_exporter_master(const struct lurk_tls13_keysched *ks,
                                         const uint8_t *th_sfin, uint8_t *out);
/* MASTER: resumption_master_secret = Derive-Secret(MS, "res master", CH..cFin). */
bool lurk_tls13_keysched_resumption_master(const struct lurk_tls13_keysched *ks,
                                           const uint8_t *th_cfin, uint8_t *out);

#endif
