/*
 * The lurk: store loader (docs/architecture.md §6, §8.1): for programs that
 * take an OSSL_STORE URI (openssl s_server -key, newer nginx store:), e.g.
 *
 *   openssl s_server -key lurk:1a2b3c4d -cert lurk:1a2b3c4d
 *
 * The URI names a LURK key id (8 hex digits); the public key comes from
 * lurkd itself: the certificates its tls13 and tls12 capabilities responses
 * list for this client. This is the one place the provider talks to lurkd
 * outside a key operation, when the key is loaded. It yields the key (by
 * reference, like the decoder) and, when lurkd has one, the certificate.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "lurk/client.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"
#include "provider.h"

/*
 * The functions of the dispatch table, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_store_open_fn store_open;
static OSSL_FUNC_store_settable_ctx_params_fn store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn store_set_ctx_params;
static OSSL_FUNC_store_load_fn store_load;
static OSSL_FUNC_store_eof_fn store_eof;
static OSSL_FUNC_store_close_fn store_close;
static OSSL_FUNC_store_export_object_fn store_export_object;

#define SCHEME "lurk:"

enum step {
    STEP_LOOKUP = 0,
    STEP_KEY,
    STEP_CERT,
    STEP_DONE,
};

struct store_ctx {
    LURK_PROV_CTX *pc;
    uint8_t key_id[LURK_KEY_ID_LEN];
    char key_id_hex[2 * LURK_KEY_ID_LEN + 1];
    int expect;
    enum step step;
    bool failed;
    uint8_t *spki; /* found at lurkd */
    size_t spki_len;
    uint8_t *cert; /* DER, when lurkd lists a certificate rather than a raw key */
    size_t cert_len;
};

static void *store_open(void *provctx, const char *uri)
{
    LURK_PROV_CTX *pc = provctx;
    struct store_ctx *ctx;
    const char *hex;
    size_t n = 0;
    uint8_t id[LURK_KEY_ID_LEN];

    if (uri == NULL || OPENSSL_strncasecmp(uri, SCHEME, strlen(SCHEME)) != 0)
        return NULL;
    hex = uri + strlen(SCHEME);
    if (strlen(hex) != 2 * LURK_KEY_ID_LEN || !lurk_hex_decode(hex, id, sizeof(id), &n) ||
        n != LURK_KEY_ID_LEN) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_BAD_URI, "%s (expected lurk:<8 hex digits of key id>)",
                        uri);
        return NULL;
    }
    ctx = OPENSSL_zalloc(sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->pc = pc;
    memcpy(ctx->key_id, id, sizeof(id));
    lurk_hex_encode(id, sizeof(id), ctx->key_id_hex);
    return ctx;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };

    (void)provctx;
    return params;
}

static int store_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &ctx->expect))
        return 0;
    return 1; /* other search criteria: this store holds one key and its certificate */
}

/* Does one TypedCertificate carry the key we look for? Keeps its SPKI (and cert). */
static bool match_entry(struct store_ctx *ctx, OSSL_LIB_CTX *libctx,
                        const struct lurk_tls12_typed_certificate *tc)
{
    const uint8_t *data = lurk_cbs_data(&tc->data);
    size_t len = lurk_cbs_len(&tc->data);
    uint8_t id[LURK_KEY_ID_LEN], *spki = NULL;
    int spki_len;
    X509 *x;
    const unsigned char *p = data;

    if (tc->certificate_type == LURK_CERTIFICATE_TYPE_RAW_PUBLIC_KEY) {
        if (!lurk_keyid_from_spki(libctx, data, len, id) ||
            CRYPTO_memcmp(id, ctx->key_id, sizeof(id)) != 0)
            return false;
        ctx->spki = OPENSSL_memdup(data, len);
        ctx->spki_len = len;
        return ctx->spki != NULL;
    }
    if (tc->certificate_type != LURK_CERTIFICATE_TYPE_X509 ||
        (x = X509_new_ex(libctx, NULL)) == NULL)
        return false;
    if (d2i_X509(&x, &p, (long)len) == NULL || p != data + len) {
        X509_free(x);
        return false;
    }
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    X509_free(x);
    if (spki_len <= 0 || !lurk_keyid_from_spki(libctx, spki, (size_t)spki_len, id) ||
        CRYPTO_memcmp(id, ctx->key_id, sizeof(id)) != 0) {
        OPENSSL_free(spki);
        return false;
    }
    ctx->spki = spki;
    ctx->spki_len = (size_t)spki_len;
    ctx->cert = OPENSSL_memdup(data, len);
    ctx->cert_len = len;
    return ctx->cert != NULL;
}

static bool search_list(struct store_ctx *ctx, OSSL_LIB_CTX *libctx, lurk_cbs list)
{
    struct lurk_tls12_typed_certificate tc;

    while (lurk_tls12_typed_certificate_next(&list, &tc))
        if (match_entry(ctx, libctx, &tc))
            return true;
    return false;
}

/* Asks lurkd's capabilities (designation tls13, then tls12) for our key id. */
static bool lookup(struct store_ctx *ctx)
{
    static const uint8_t designations[] = {LURK_DESIGNATION_TLS13, LURK_DESIGNATION_TLS12};
    OSSL_LIB_CTX *libctx = lurk_prov_libctx(ctx->pc);
    char server[400] = "", answered[400] = "";

    if (libctx == NULL)
        return false;
    for (size_t d = 0; d < sizeof(designations); d++) {
        struct lurk_response resp;
        bool found = false;

        uint8_t type = designations[d] == LURK_DESIGNATION_TLS13 ? LURK_TLS13_TYPE_CAPABILITIES
                                                                 : LURK_TLS12_TYPE_CAPABILITIES;
        if (!lurk_prov_pool_call(ctx->pc, NULL, ctx->key_id_hex, designations[d], type, NULL, 0,
                                 &resp, server, sizeof(server)))
            return false;
        if (resp.msg.hdr.status == LURK_STATUS_SUCCESS) {
            snprintf(answered, sizeof(answered), "%s", server);
            lurk_cbs payload = resp.msg.payload;
            if (designations[d] == LURK_DESIGNATION_TLS13) {
                struct lurk_tls13_capabilities_response caps;
                if (lurk_tls13_capabilities_response_decode(&payload, &caps) == LURK_STATUS_SUCCESS)
                    found = search_list(ctx, libctx, caps.typed_certificates);
            } else {
                struct lurk_tls12_capabilities_response caps;
                if (lurk_tls12_capabilities_response_decode(&payload, &caps) == LURK_STATUS_SUCCESS)
                    for (size_t i = 0; i < caps.n_caps && !found; i++)
                        found = search_list(ctx, libctx, caps.caps[i].typed_certificate_list);
            }
        }
        lurk_response_free(&resp);
        if (found)
            return true;
    }
    LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_KEY_NOT_FOUND,
                    "server %s, key id %s: not among the keys lurkd lists for this client",
                    answered[0] != '\0' ? answered : server, ctx->key_id_hex);
    return false;
}

static bool wants(const struct store_ctx *ctx, int type)
{
    return ctx->expect == 0 || ctx->expect == type;
}

static int emit_key(struct store_ctx *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg)
{
    struct lurk_prov_key *key = lurk_prov_key_from_spki(ctx->pc, ctx->spki, ctx->spki_len, NULL);
    int object_type = OSSL_OBJECT_PKEY, ok;
    OSSL_PARAM params[4];

    if (key == NULL)
        return 0;
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                                 (char *)lurk_prov_key_type_name(key->type), 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(key));
    params[3] = OSSL_PARAM_construct_end();
    ok = object_cb(params, object_cbarg);
    lurk_prov_key_free(key); /* NULL if our keymgmt's load detached it */
    return ok;
}

static int emit_cert(struct store_ctx *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg)
{
    int object_type = OSSL_OBJECT_CERT;
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, ctx->cert, ctx->cert_len);
    params[2] = OSSL_PARAM_construct_end();
    return object_cb(params, object_cbarg);
}

static int store_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = vctx;

    (void)pw_cb;
    (void)pw_cbarg;
    if (ctx->failed)
        return 0;
    if (ctx->step == STEP_LOOKUP) {
        if (!lookup(ctx)) {
            ctx->failed = true;
            return 0;
        }
        ctx->step = STEP_KEY;
    }
    if (ctx->step == STEP_KEY) {
        ctx->step = STEP_CERT;
        if (wants(ctx, OSSL_STORE_INFO_PKEY)) {
            if (!emit_key(ctx, object_cb, object_cbarg)) {
                ctx->failed = true;
                return 0;
            }
            return 1;
        }
    }
    if (ctx->step == STEP_CERT) {
        ctx->step = STEP_DONE;
        if (ctx->cert != NULL && wants(ctx, OSSL_STORE_INFO_CERT))
            return emit_cert(ctx, object_cb, object_cbarg);
    }
    return 1;
}

static int store_eof(void *vctx)
{
    struct store_ctx *ctx = vctx;

    /* A failed lookup ends the store (3.0's OSSL_STORE_load flags the error itself). */
    return ctx->failed || ctx->step == STEP_DONE;
}

static int store_close(void *vctx)
{
    struct store_ctx *ctx = vctx;

    if (ctx == NULL)
        return 1;
    OPENSSL_free(ctx->spki);
    OPENSSL_free(ctx->cert);
    OPENSSL_free(ctx);
    return 1;
}

static int store_export_object(void *vctx, const void *reference, size_t reference_sz,
                               OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    (void)vctx;
    (void)reference;
    (void)reference_sz;
    (void)export_cb;
    (void)export_cbarg;
    /* The private half is in lurkd: nothing another provider could use (docs/architecture.md §8.1).
     */
    return 0;
}

const OSSL_DISPATCH lurk_prov_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object},
    {0, NULL},
};
