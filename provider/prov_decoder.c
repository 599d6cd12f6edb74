/*
 * Decoders for key references (docs/architecture.md §8.1), the way nginx and
 * haproxy load keys: PEM_read_bio_PrivateKey -> OSSL_DECODER chain.
 *
 *   PEM -> DER  for the label "LURK KEY REFERENCE" only; the DER goes on
 *               with DATA_STRUCTURE "LurkKeyReference".
 *   DER -> key  one decoder per key type (RSA, RSA-PSS, EC, ED25519,
 *               ED448), input=der, structure=LurkKeyReference. Each parses
 *               the reference (offline: no lurkd involved), keeps it if the
 *               public key has its type, and hands the key object over by
 *               reference (a pointer to our pointer, detached by the
 *               keymgmt's load).
 *
 * Return values follow provider-decoder(7): 1 "carry on" whenever the input
 * is not ours (silently: libcrypto drops errors of decoders that return 1),
 * 0 "stop" with one clear error when it is a key reference but a bad one.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "provider.h"

/*
 * The functions of the dispatch tables, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_decoder_newctx_fn pem_newctx;
static OSSL_FUNC_decoder_freectx_fn nofree;
static OSSL_FUNC_decoder_does_selection_fn pem_does_selection;
static OSSL_FUNC_decoder_decode_fn pem_decode;
static OSSL_FUNC_decoder_newctx_fn der_rsa_newctx, der_rsa_pss_newctx, der_ec_newctx,
    der_ed25519_newctx, der_ed448_newctx;
static OSSL_FUNC_decoder_freectx_fn der_freectx;
static OSSL_FUNC_decoder_does_selection_fn der_does_selection;
static OSSL_FUNC_decoder_decode_fn der_decode;
static OSSL_FUNC_decoder_export_object_fn der_export_object;

/* ---- PEM -> DER ---- */

static void *pem_newctx(void *provctx)
{
    return provctx; /* stateless: the context is the provider's */
}

static void nofree(void *ctx)
{
    (void)ctx;
}

static int pem_does_selection(void *provctx, int selection)
{
    (void)provctx;
    (void)selection;
    return 1;
}

static int pem_decode(void *ctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb,
                      void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    int ok = 1;
    BIO *bio = lurk_prov_bio_new_from_core(cin);

    (void)ctx;
    (void)selection;
    (void)pw_cb;
    (void)pw_cbarg;
    if (bio == NULL)
        return 1;
    /* One PEM block; errors here only mean "not PEM" and are dropped by the caller. */
    if (PEM_read_bio_ex(bio, &name, &header, &data, &len, PEM_FLAG_ONLY_B64) > 0 &&
        strcmp(name, LURK_KEYREF_PEM_LABEL) == 0 && len > 0) {
        OSSL_PARAM params[3];
        params[0] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, data, (size_t)len);
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                                     (char *)LURK_KEYREF_STRUCTURE, 0);
        params[2] = OSSL_PARAM_construct_end();
        ok = data_cb(params, data_cbarg);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return ok;
}

const OSSL_DISPATCH lurk_prov_pem_to_der_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pem_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))nofree},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))pem_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode},
    {0, NULL},
};

/* ---- DER -> key ---- */

struct der_ctx {
    LURK_PROV_CTX *pc;
    enum lurk_keyref_key_type type;
};

static void *der_newctx(void *provctx, enum lurk_keyref_key_type type)
{
    struct der_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->pc = provctx;
        ctx->type = type;
    }
    return ctx;
}

static void *der_rsa_newctx(void *provctx)
{
    return der_newctx(provctx, LURK_KEYREF_KEY_RSA);
}

static void *der_rsa_pss_newctx(void *provctx)
{
    return der_newctx(provctx, LURK_KEYREF_KEY_RSA_PSS);
}

static void *der_ec_newctx(void *provctx)
{
    return der_newctx(provctx, LURK_KEYREF_KEY_EC);
}

static void *der_ed25519_newctx(void *provctx)
{
    return der_newctx(provctx, LURK_KEYREF_KEY_ED25519);
}

static void *der_ed448_newctx(void *provctx)
{
    return der_newctx(provctx, LURK_KEYREF_KEY_ED448);
}

static void der_freectx(void *ctx)
{
    OPENSSL_free(ctx);
}

static int der_does_selection(void *provctx, int selection)
{
    (void)provctx;
    /* A key reference stands for the whole key pair. */
    return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_ALL) != 0;
}

/*
 * The public key decides which of our DER decoders keeps the reference.
 * Unsupported key types are refused by whichever decoder runs first (all
 * of ours would refuse it alike).
 */
static int der_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb,
                      void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct der_ctx *ctx = vctx;
    struct lurk_prov_key *key;
    uint8_t *der = NULL;
    size_t len = 0;
    bool not_ours = false;
    int ok;

    (void)selection;
    (void)pw_cb;
    (void)pw_cbarg;
    if (!lurk_prov_bio_read_all(cin, LURK_KEYREF_MAX_DER, &der, &len))
        return 1;
    key = lurk_prov_key_from_keyref(ctx->pc, der, len, &not_ours);
    OPENSSL_free(der);
    if (key == NULL)
        return not_ours ? 1 : 0;
    if (key->type != ctx->type) {
        lurk_prov_key_free(key); /* another of our decoders takes it */
        return 1;
    }

    int object_type = OSSL_OBJECT_PKEY;
    OSSL_PARAM params[4];
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                                 (char *)lurk_prov_key_type_name(key->type), 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(key));
    params[3] = OSSL_PARAM_construct_end();
    ok = data_cb(params, data_cbarg);
    /* Still here if no keymgmt of ours loaded it. */
    lurk_prov_key_free(key);
    return ok;
}

/*
 * Refused: exporting would hand the public half to a foreign keymgmt as if
 * it were the whole key (docs/architecture.md §8.1, the pkcs11-provider lesson).
 */
static int der_export_object(void *vctx, const void *reference, size_t reference_sz,
                             OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    (void)vctx;
    (void)reference;
    (void)reference_sz;
    (void)export_cb;
    (void)export_cbarg;
    return 0;
}

#define DER_DECODER(type)                                                                          \
    const OSSL_DISPATCH lurk_prov_der_to_##type##_decoder_functions[] = {                          \
        {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))der_##type##_newctx},                           \
        {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))der_freectx},                                  \
        {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))der_does_selection},                    \
        {OSSL_FUNC_DECODER_DECODE, (void (*)(void))der_decode},                                    \
        {OSSL_FUNC_DECODER_EXPORT_OBJECT, (void (*)(void))der_export_object},                      \
        {0, NULL},                                                                                 \
    }

DER_DECODER(rsa);
DER_DECODER(rsa_pss);
DER_DECODER(ec);
DER_DECODER(ed25519);
DER_DECODER(ed448);
