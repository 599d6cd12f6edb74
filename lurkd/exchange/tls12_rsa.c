/*
 * tls12 RSA key exchange: rsa_master (-05 §4), rsa_master_with_poh (§4),
 * rsa_extended_master and rsa_extended_master_with_poh (§5), and the
 * project's rsa_premaster (type 128, docs/protocol.md).
 *
 * Every one of them decrypts through rsa_premaster.h: implicit rejection
 * (RFC 5246 §7.4.7.1) with a synthetic premaster derived from the
 * ciphertext, so a bad ciphertext gives the same status and length as a good
 * one, and the same answer each time it is asked.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "exchange/tls12.h"
#include "lurk/tls12_prf.h"
#include "keys/rsa_premaster.h"

#define TLS12_VERSION 0x0303

/* Handshake message types (RFC 5246 §7.4). */
enum {
    HS_CLIENT_HELLO = 1,
    HS_SERVER_HELLO = 2,
    HS_CERTIFICATE = 11,
    HS_CERTIFICATE_REQUEST = 13,
    HS_SERVER_HELLO_DONE = 14,
    HS_CERTIFICATE_VERIFY = 15,
    HS_CLIENT_KEY_EXCHANGE = 16,
};

#define EXT_EXTENDED_MASTER_SECRET 0x0017 /* RFC 7627 §5.1 */

/* What the PoH and extended variants read from handshake_messages. */
struct rsa_handshake {
    uint16_t client_version;
    uint8_t client_random[LURK_RANDOM_LEN];
    uint8_t server_random[LURK_RANDOM_LEN]; /* S, as the LURK client put it */
    size_t server_random_at;                /* its offset in handshake_messages */
    uint16_t cipher_suite;
    bool extended_master_secret;
    lurk_cbs encrypted_premaster;
    size_t client_key_exchange_end; /* RFC 7627 §3: the session hash stops here */
};

/* The PRF hash of TLS 1.2 RSA key exchange suites (RFC 5246 §5: SHA-256 unless the suite says). */
static bool suite_prf_hash(uint16_t suite, uint8_t *prf_hash)
{
    static const struct {
        uint16_t suite;
        uint8_t prf_hash;
    } suites[] = {
        {0x002f, LURK_PRF_HASH_SHA256}, /* TLS_RSA_WITH_AES_128_CBC_SHA */
        {0x0035, LURK_PRF_HASH_SHA256}, /* TLS_RSA_WITH_AES_256_CBC_SHA */
        {0x003c, LURK_PRF_HASH_SHA256}, /* TLS_RSA_WITH_AES_128_CBC_SHA256 */
        {0x003d, LURK_PRF_HASH_SHA256}, /* TLS_RSA_WITH_AES_256_CBC_SHA256 */
        {0x009c, LURK_PRF_HASH_SHA256}, /* TLS_RSA_WITH_AES_128_GCM_SHA256 */
        {0x009d, LURK_PRF_HASH_SHA384}, /* TLS_RSA_WITH_AES_256_GCM_SHA384 */
    };

    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (suites[i].suite == suite) {
            *prf_hash = suites[i].prf_hash;
            return true;
        }
    }
    return false;
}

static bool parse_client_hello(lurk_cbs body, struct rsa_handshake *hs)
{
    lurk_cbs session_id, suites, compression, extensions;

    return lurk_cbs_get_u16(&body, &hs->client_version) &&
           lurk_cbs_copy_bytes(&body, hs->client_random, LURK_RANDOM_LEN) &&
           lurk_cbs_get_u8_prefixed(&body, &session_id) && lurk_cbs_len(&session_id) <= 32 &&
           lurk_cbs_get_u16_prefixed(&body, &suites) && lurk_cbs_len(&suites) >= 2 &&
           lurk_cbs_get_u8_prefixed(&body, &compression) && lurk_cbs_len(&compression) >= 1 &&
           (lurk_cbs_len(&body) == 0 ||
            (lurk_cbs_get_u16_prefixed(&body, &extensions) && lurk_cbs_len(&body) == 0));
}

static bool parse_server_hello(lurk_cbs body, const uint8_t *base, struct rsa_handshake *hs)
{
    uint16_t version;
    uint8_t compression;
    lurk_cbs session_id, extensions;

    if (!lurk_cbs_get_u16(&body, &version) || version != TLS12_VERSION)
        return false;
    hs->server_random_at = (size_t)(lurk_cbs_data(&body) - base);
    if (!lurk_cbs_copy_bytes(&body, hs->server_random, LURK_RANDOM_LEN) ||
        !lurk_cbs_get_u8_prefixed(&body, &session_id) || lurk_cbs_len(&session_id) > 32 ||
        !lurk_cbs_get_u16(&body, &hs->cipher_suite) || !lurk_cbs_get_u8(&body, &compression))
        return false;
    if (lurk_cbs_len(&body) == 0)
        return true;
    if (!lurk_cbs_get_u16_prefixed(&body, &extensions) || lurk_cbs_len(&body) != 0)
        return false;
    while (lurk_cbs_len(&extensions) > 0) {
        uint16_t type;
        lurk_cbs data;
        if (!lurk_cbs_get_u16(&extensions, &type) || !lurk_cbs_get_u16_prefixed(&extensions, &data))
            return false;
        if (type == EXT_EXTENDED_MASTER_SECRET)
            hs->extended_master_secret = true;
    }
    return true;
}

/*
 * handshake_messages (-05 §4.1, pinned in protocol.md): ClientHello,
 * ServerHello, then Certificate / CertificateRequest / ServerHelloDone /
 * client Certificate, one ClientKeyExchange, and only a client
 * CertificateVerify after it. Anything else is not a TLS 1.2 RSA handshake.
 */
static bool parse_handshake(const lurk_cbs *messages, struct rsa_handshake *hs)
{
    lurk_cbs in = *messages;
    const uint8_t *base = lurk_cbs_data(messages);
    size_t index = 0;
    bool cke_seen = false;

    memset(hs, 0, sizeof(*hs));
    while (lurk_cbs_len(&in) > 0) {
        uint8_t type;
        lurk_cbs body;
        if (!lurk_cbs_get_u8(&in, &type) || !lurk_cbs_get_u24_prefixed(&in, &body))
            return false;
        if (index == 0) {
            if (type != HS_CLIENT_HELLO || !parse_client_hello(body, hs))
                return false;
        } else if (index == 1) {
            if (type != HS_SERVER_HELLO || !parse_server_hello(body, base, hs))
                return false;
        } else if (cke_seen) {
            if (type != HS_CERTIFICATE_VERIFY)
                return false;
        } else if (type == HS_CLIENT_KEY_EXCHANGE) {
            /* RFC 5246 §7.4.7.1: EncryptedPreMasterSecret with its 2-byte length. */
            if (!lurk_cbs_get_u16_prefixed(&body, &hs->encrypted_premaster) ||
                lurk_cbs_len(&body) != 0)
                return false;
            cke_seen = true;
            hs->client_key_exchange_end = (size_t)(lurk_cbs_data(&in) - base);
        } else if (type != HS_CERTIFICATE && type != HS_CERTIFICATE_REQUEST &&
                   type != HS_SERVER_HELLO_DONE) {
            return false;
        }
        index++;
    }
    return cke_seen;
}

/*
 * Hash of handshake_messages[0..end) with the ServerHello random replaced by
 * the derived ServerHello.random (-05 §4.4 step 5).
 */
static bool handshake_hash(uint8_t prf_hash, const lurk_cbs *messages,
                           const struct rsa_handshake *hs, const uint8_t shr[LURK_RANDOM_LEN],
                           size_t end, uint8_t *out, size_t *out_len)
{
    const uint8_t *m = lurk_cbs_data(messages);
    size_t at = hs->server_random_at;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = md != NULL &&
              EVP_DigestInit_ex2(md, EVP_get_digestbyname(lurk_tls12_prf_hash_md_name(prf_hash)),
                                 NULL) == 1 &&
              EVP_DigestUpdate(md, m, at) == 1 && EVP_DigestUpdate(md, shr, LURK_RANDOM_LEN) == 1 &&
              EVP_DigestUpdate(md, m + at + LURK_RANDOM_LEN, end - at - LURK_RANDOM_LEN) == 1 &&
              EVP_DigestFinal_ex(md, out, &len) == 1;

    EVP_MD_CTX_free(md);
    *out_len = len;
    return ok;
}

/*
 * -05 §4.4 step 6: the premaster decrypted from the ciphertext (at most the
 * modulus length; it may also come with the 2-byte length ClientKeyExchange
 * gives it, protocol.md A10). Success or invalid_payload_format.
 */
static uint8_t decrypt_premaster(struct lurkd_request *req, const struct lurkd_key *key,
                                 uint16_t client_version, const lurk_cbs *given,
                                 uint8_t premaster[LURK_PREMASTER_LEN])
{
    size_t modulus = (size_t)EVP_PKEY_get_size(key->pkey);
    lurk_cbs in = *given, prefixed;

    if (lurk_cbs_len(&in) == modulus + 2 && lurk_cbs_get_u16_prefixed(&in, &prefixed) &&
        lurk_cbs_len(&in) == 0)
        in = prefixed;
    return lurkd_rsa_premaster_decrypt(key->pkey, key->rsa_kx, client_version, &in, premaster,
                                       &req->note);
}

static const struct lurkd_key *rsa_key(struct lurkd_request *req, const struct lurk_key_id *id,
                                       enum lurkd_exchange ex)
{
    const struct lurkd_key *key = lurkd_request_key(req, id, ex);

    if (key != NULL && key->kind != LURKD_KEY_RSA) {
        req->note = "not an RSA encryption key";
        return NULL;
    }
    return key;
}

uint8_t lurkd_ex_tls12_rsa_master(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_tls12_rsa_master_request r;
    struct lurk_tls12_master_response resp;
    uint8_t shr[LURK_RANDOM_LEN], pms[LURK_PREMASTER_LEN];
    const struct lurkd_key *key;
    uint8_t st = lurk_tls12_rsa_master_request_decode(&req->payload, &r);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    if ((key = rsa_key(req, &r.key_id, LURKD_EX_RSA_MASTER)) == NULL)
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    st = lurkd_tls12_server_random(req, key, r.freshness_funct, r.server_random, shr);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    /*
     * rsa_master carries no ClientHello: the version bytes are checked against
     * TLS 1.2, the legacy_version every TLS 1.2 and 1.3 client sends (protocol.md).
     */
    st = decrypt_premaster(req, key, TLS12_VERSION, &r.encrypted_premaster, pms);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    st = lurk_tls12_master_secret(NULL, r.prf_hash, pms, sizeof(pms), r.client_random, shr,
                                  resp.master)
             ? LURK_STATUS_SUCCESS
             : LURK_TLS12_STATUS_UNDEFINED_ERROR;
    if (st == LURK_STATUS_SUCCESS && !lurk_tls12_master_response_encode(out, &resp))
        st = LURK_TLS12_STATUS_UNDEFINED_ERROR;
    if (st != LURK_STATUS_SUCCESS)
        req->note = "master secret derivation failed";
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(&resp, sizeof(resp));
    return st;
}

static enum lurkd_exchange handshake_exchange(uint8_t type)
{
    switch (type) {
    case LURK_TLS12_TYPE_RSA_MASTER_WITH_POH:
        return LURKD_EX_RSA_MASTER_WITH_POH;
    case LURK_TLS12_TYPE_RSA_EXTENDED_MASTER:
        return LURKD_EX_RSA_EXTENDED_MASTER;
    default:
        return LURKD_EX_RSA_EXTENDED_MASTER_WITH_POH;
    }
}

/* rsa_master_with_poh, rsa_extended_master, rsa_extended_master_with_poh. */
uint8_t lurkd_ex_tls12_rsa_handshake(struct lurkd_request *req, lurk_cbb *out)
{
    uint8_t type = req->hdr->type;
    bool extended = type != LURK_TLS12_TYPE_RSA_MASTER_WITH_POH;
    struct lurk_tls12_handshake_request r;
    struct lurk_tls12_master_response resp;
    struct rsa_handshake hs;
    uint8_t shr[LURK_RANDOM_LEN], pms[LURK_PREMASTER_LEN], hash[EVP_MAX_MD_SIZE], prf_hash;
    size_t hash_len;
    const struct lurkd_key *key;
    uint8_t st = lurk_tls12_handshake_request_decode(type, &req->payload, &r);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    if ((key = rsa_key(req, &r.key_id, handshake_exchange(type))) == NULL)
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    if (!parse_handshake(&r.handshake_messages, &hs)) {
        req->note = "handshake_messages is not a TLS 1.2 RSA handshake";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    if (!suite_prf_hash(hs.cipher_suite, &prf_hash)) {
        req->note = "ServerHello selected no RSA key exchange suite";
        return LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH;
    }
    /* The master secret must be the one the TLS server computes (RFC 7627 §5.2). */
    if (hs.extended_master_secret != extended) {
        req->note = extended ? "ServerHello did not negotiate extended_master_secret"
                             : "ServerHello negotiated extended_master_secret";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    st = lurkd_tls12_server_random(req, key, r.freshness_funct, hs.server_random, shr);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    st = decrypt_premaster(req, key, hs.client_version, &hs.encrypted_premaster, pms);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    st = LURK_TLS12_STATUS_UNDEFINED_ERROR;
    req->note = "master secret derivation failed";
    if (extended) {
        if (!handshake_hash(prf_hash, &r.handshake_messages, &hs, shr, hs.client_key_exchange_end,
                            hash, &hash_len) ||
            !lurk_tls12_extended_master_secret(NULL, prf_hash, pms, sizeof(pms), hash, hash_len,
                                               resp.master))
            goto out;
    } else if (!lurk_tls12_master_secret(NULL, prf_hash, pms, sizeof(pms), hs.client_random, shr,
                                         resp.master)) {
        goto out;
    }
    if (r.has_finished) {
        /* -05 §4.4 step 9: the client Finished over every message before it. */
        if (!handshake_hash(prf_hash, &r.handshake_messages, &hs, shr,
                            lurk_cbs_len(&r.handshake_messages), hash, &hash_len))
            goto out;
        if (!lurk_tls12_finished_check(NULL, prf_hash, LURK_TLS12_FINISHED_CLIENT, resp.master,
                                       hash, hash_len, r.finished)) {
            req->note = "client Finished does not verify";
            st = LURK_TLS12_STATUS_INVALID_FINISHED;
            goto out;
        }
    }
    st = lurk_tls12_master_response_encode(out, &resp) ? LURK_STATUS_SUCCESS
                                                       : LURK_TLS12_STATUS_UNDEFINED_ERROR;
    if (st == LURK_STATUS_SUCCESS)
        req->note = NULL;
out:
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(&resp, sizeof(resp));
    return st;
}

uint8_t lurkd_ex_tls12_rsa_premaster(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_tls12_rsa_premaster_request r;
    struct lurk_tls12_premaster_response resp;
    const struct lurkd_key *key;
    uint8_t st = lurk_tls12_rsa_premaster_request_decode(&req->payload, &r);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    if ((key = rsa_key(req, &r.key_id, LURKD_EX_RSA_PREMASTER)) == NULL)
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    st = lurkd_rsa_premaster_decrypt(key->pkey, key->rsa_kx, r.client_version,
                                     &r.encrypted_premaster, resp.premaster, &req->note);
    if (st == LURK_STATUS_SUCCESS)
        st = lurk_tls12_premaster_response_encode(out, &resp) ? LURK_STATUS_SUCCESS
                                                              : LURK_TLS12_STATUS_UNDEFINED_ERROR;
    OPENSSL_cleanse(&resp, sizeof(resp));
    return st;
}
