/*
 * RSA decryption for TLS 1.2 RSA key exchange (docs/architecture.md §4, §8.4).
 *
 * libssl (statem_srvr.c, tls_process_cke_rsa) sets pad-mode to
 * RSA_PKCS1_WITH_TLS_PADDING (an int, on the strict path, so pad-mode is
 * settable), passes tls-client-version (and tls-negotiated-version with
 * SSL_OP_TLS_ROLLBACK_BUG), decrypts the ClientKeyExchange into a 48-byte
 * buffer and turns any failure into an immediate decrypt_error alert.
 *
 * This becomes the tls12 rsa_premaster exchange: lurkd checks the padding
 * in constant time with implicit rejection (RFC 5246 §7.4.7.1: bad padding
 * -> a synthetic premaster, same status, same timing; the premaster's
 * version is always tls-client-version, so a rolled-back or wrong version
 * gives another premaster), so a bad ciphertext is indistinguishable from a
 * good one here and the handshake fails at Finished (docs/protocol.md, A24).
 * tls-negotiated-version is kept but unused: a client with the rollback bug
 * fails at Finished, as it did when lurkd compared the versions. Defence in depth: should lurkd ever answer
 * invalid_encrypted_premaster (a ciphertext-dependent status), this side
 * also substitutes a random premaster rather than failing early, so no
 * padding oracle can appear through the provider. Only failures that do
 * not depend on the ciphertext (transport, unknown key id, policy) fail.
 *
 * Any other padding has no LURK exchange: never raw RSA, never OAEP or
 * PKCS#1 v1.5 decryption of arbitrary data. Encryption is not offered: it
 * needs only the public key (the certificate's, in the default provider).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "lurk/client.h"
#include "lurk/tls12.h"
#include "lurk/names.h"
#include "provider.h"

/*
 * The functions of the dispatch table, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_asym_cipher_newctx_fn rsa_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn rsa_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn rsa_dupctx;
static OSSL_FUNC_asym_cipher_decrypt_init_fn rsa_decrypt_init;
static OSSL_FUNC_asym_cipher_decrypt_fn rsa_decrypt;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn rsa_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn rsa_gettable_ctx_params;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn rsa_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn rsa_settable_ctx_params;

struct rsa_ctx {
    LURK_PROV_CTX *pc;
    const struct lurk_prov_key *key;
    int pad;
    unsigned int client_version;
    unsigned int negotiated_version;
};

static void *rsa_newctx(void *provctx)
{
    struct rsa_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL)
        ctx->pc = provctx;
    return ctx;
}

static void rsa_freectx(void *vctx)
{
    OPENSSL_free(vctx);
}

static void *rsa_dupctx(void *vctx)
{
    return OPENSSL_memdup(vctx, sizeof(struct rsa_ctx));
}

static int rsa_decrypt_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
    struct rsa_ctx *ctx = vctx;
    const struct lurk_prov_key *key = provkey;

    if (key == NULL || key->pub == NULL || key->type != LURK_KEYREF_KEY_RSA) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_UNSUPPORTED_KEY_TYPE,
                        "only rsaEncryption keys decrypt (TLS 1.2 RSA key exchange)");
        return 0;
    }
    ctx->key = key;
    ctx->pad = RSA_PKCS1_PADDING;
    ctx->client_version = 0;
    ctx->negotiated_version = 0;
    return rsa_set_ctx_params(ctx, params);
}

static int rsa_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct rsa_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    if (p != NULL) {
        int pad = 0;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            /* TLS padding has no name; any named mode is one we refuse at decrypt. */
            pad = -1;
        } else if (!OSSL_PARAM_get_int(p, &pad)) {
            return 0;
        }
        ctx->pad = pad;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION);
    if (p != NULL && !OSSL_PARAM_get_uint(p, &ctx->client_version))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION);
    if (p != NULL && !OSSL_PARAM_get_uint(p, &ctx->negotiated_version))
        return 0;
    return 1;
}

static const OSSL_PARAM settable[] = {
    OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL),
    OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
    OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *rsa_settable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return settable;
}

static int rsa_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct rsa_ctx *ctx = vctx;
    OSSL_PARAM *p;

    p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    if (p != NULL && p->data_type == OSSL_PARAM_INTEGER && !OSSL_PARAM_set_int(p, ctx->pad))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION);
    if (p != NULL && !OSSL_PARAM_set_uint(p, ctx->client_version))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION);
    if (p != NULL && !OSSL_PARAM_set_uint(p, ctx->negotiated_version))
        return 0;
    return 1;
}

static const OSSL_PARAM *rsa_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return settable;
}

static int rsa_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    struct rsa_ctx *ctx = vctx;
    const struct lurk_prov_key *key = ctx->key;
    struct lurk_tls12_rsa_premaster_request req;
    struct lurk_tls12_premaster_response pm;
    struct lurk_response resp = {0};
    char server[400];
    lurk_cbb cbb;
    int ok = 0;

    if (key == NULL)
        return 0;
    if (ctx->pad != RSA_PKCS1_WITH_TLS_PADDING) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE,
                        "server %s, key id %s: RSA decryption other than a TLS 1.2 premaster "
                        "(padding mode %d)",
                        lurk_prov_key_server_text(key), key->key_id_hex, ctx->pad);
        return 0;
    }
    if (out == NULL) {
        *outlen = LURK_PREMASTER_LEN;
        return 1;
    }
    if (outsize < LURK_PREMASTER_LEN) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BUFFER_TOO_SMALL, "key id %s: %zu < 48",
                        key->key_id_hex, outsize);
        return 0;
    }
    if (ctx->client_version == 0 || ctx->client_version > 0xffff) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_PARAMETER, "key id %s: tls-client-version not set",
                        key->key_id_hex);
        return 0;
    }
    memset(&req, 0, sizeof(req));
    req.key_id = key->key_id;
    req.client_version = (uint16_t)ctx->client_version;
    lurk_cbs_init(&req.encrypted_premaster, in, inlen);
    if (!lurk_cbb_init(&cbb, inlen + 64, inlen + 64) ||
        !lurk_tls12_rsa_premaster_request_encode(&cbb, &req)) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_PARAMETER,
                        "key id %s: cannot encode a %zu-byte ClientKeyExchange", key->key_id_hex,
                        inlen);
        goto out;
    }
    if (!lurk_prov_pool_call(ctx->pc, key->has_server ? &key->server : NULL, key->key_id_hex,
                             LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER,
                             lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), &resp, server,
                             sizeof(server)))
        goto out;
    if (resp.msg.hdr.designation == LURK_DESIGNATION_TLS12 &&
        resp.msg.hdr.status == LURK_TLS12_STATUS_INVALID_ENCRYPTED_PREMASTER) {
        /* Implicit rejection on this side too (see the top of this file). */
        ok = RAND_priv_bytes_ex(lurk_prov_libctx(ctx->pc), out, LURK_PREMASTER_LEN, 0) == 1;
        if (ok)
            *outlen = LURK_PREMASTER_LEN;
        goto out;
    }
    if (resp.msg.hdr.status != LURK_STATUS_SUCCESS) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_LURK_ERROR, "server %s, key id %s: tls12 %s: %s",
                        server, key->key_id_hex,
                        lurk_type_name(LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER),
                        lurk_status_name(resp.msg.hdr.designation, resp.msg.hdr.status));
        goto out;
    }
    if (lurk_tls12_premaster_response_decode(&resp.msg.payload, &pm) != LURK_STATUS_SUCCESS) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_RESPONSE, "server %s, key id %s: %s response",
                        server, key->key_id_hex,
                        lurk_type_name(LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER));
        goto out;
    }
    memcpy(out, pm.premaster, LURK_PREMASTER_LEN);
    *outlen = LURK_PREMASTER_LEN;
    ok = 1;
out:
    OPENSSL_cleanse(&pm, sizeof(pm));
    lurk_response_free(&resp); /* cleanses the premaster in the response buffer */
    lurk_cbb_cleanup(&cbb);
    return ok;
}

const OSSL_DISPATCH lurk_prov_rsa_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rsa_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rsa_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rsa_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rsa_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rsa_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rsa_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_gettable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rsa_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params},
    {0, NULL},
};
