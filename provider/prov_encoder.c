/*
 * Encoders of lurk keys (docs/provider.md §3): the private half never
 * leaves lurkd, so without these `openssl pkey -in KEYREF -text` and
 * `-out FILE` failed without a word (the default provider's encoders need
 * an export, which the keymgmt refuses) and left an empty file.
 *
 * - TEXT (EVP_PKEY_print_private, `openssl pkey -text`): the public key as
 *   the default provider prints it, then the key id, the server and a line
 *   saying the private key is held by lurkd.
 * - PEM and DER private-key structures (PEM_write_bio_PrivateKey, `openssl
 *   pkey -out`, i2d_PrivateKey): fail with "the private key is held by
 *   lurkd and is never exported", saying what to use instead.
 *
 * Public-key encoders are not offered: the default provider's, through the
 * keymgmt's export of the public half, already write SubjectPublicKeyInfo.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "provider.h"

static OSSL_FUNC_encoder_newctx_fn enc_newctx;
static OSSL_FUNC_encoder_freectx_fn enc_freectx;
static OSSL_FUNC_encoder_does_selection_fn enc_does_selection;
static OSSL_FUNC_encoder_encode_fn text_encode;
static OSSL_FUNC_encoder_encode_fn private_encode;

static void *enc_newctx(void *provctx)
{
    return provctx; /* nothing of its own: the provider context serves */
}

static void enc_freectx(void *ctx)
{
    (void)ctx;
}

/* Only what concerns the private key: public-key encoding stays with the default provider. */
static int enc_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

static int text_encode(void *ctx, OSSL_CORE_BIO *out, const void *obj_raw,
                       const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                       void *cbarg)
{
    LURK_PROV_CTX *pc = ctx;
    const struct lurk_prov_key *key = obj_raw;
    BIO *mem = NULL;
    char line[700];
    char *text;
    long len;
    bool ok = false;

    (void)obj_abstract;
    (void)selection;
    (void)cb;
    (void)cbarg;
    if (key == NULL) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_BAD_PARAMETER, "no lurk key to print");
        return 0;
    }
    mem = BIO_new(BIO_s_mem());
    if (mem == NULL || EVP_PKEY_print_public(mem, key->pub, 0, NULL) <= 0)
        goto out;
    snprintf(line, sizeof(line),
             "LURK key reference: key id %s (sha256_32), server %s\n"
             "Private key: held by lurkd, never exported; signing and decryption are LURK "
             "requests\n",
             key->key_id_hex, lurk_prov_key_server_text(key));
    if (BIO_puts(mem, line) <= 0)
        goto out;
    len = BIO_get_mem_data(mem, &text);
    ok = len > 0 && lurk_prov_bio_write(out, text, (size_t)len);
out:
    BIO_free(mem);
    if (!ok)
        LURK_PROV_RAISE(pc, LURK_PROV_R_INTERNAL, "key id %s: cannot print the key",
                        key->key_id_hex);
    return ok;
}

static int private_encode(void *ctx, OSSL_CORE_BIO *out, const void *obj_raw,
                          const OSSL_PARAM obj_abstract[], int selection,
                          OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    LURK_PROV_CTX *pc = ctx;
    const struct lurk_prov_key *key = obj_raw;

    (void)out;
    (void)obj_abstract;
    (void)selection;
    (void)cb;
    (void)cbarg;
    LURK_PROV_RAISE(pc, LURK_PROV_R_NOT_EXPORTABLE,
                    "key id %s: lurk.so holds only a key reference; copy the key reference file "
                    "itself, write the public key with -pubout, or print the key with -text -noout",
                    key != NULL ? key->key_id_hex : "?");
    return 0;
}

const OSSL_DISPATCH lurk_prov_text_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))text_encode},
    {0, NULL},
};

const OSSL_DISPATCH lurk_prov_private_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))private_encode},
    {0, NULL},
};
