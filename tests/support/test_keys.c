/* Test keys; see test_keys.h. */
#include "test_keys.h"

#include <openssl/dsa.h>
#include <openssl/evp.h>

EVP_PKEY *lurk_test_dsa_keygen(void)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL), *kctx = NULL;
    EVP_PKEY *params = NULL, *key = NULL;

    if (pctx != NULL && EVP_PKEY_paramgen_init(pctx) > 0 &&
        EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, 1024) > 0 &&
        EVP_PKEY_paramgen(pctx, &params) > 0 &&
        (kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL)) != NULL &&
        EVP_PKEY_keygen_init(kctx) > 0 && EVP_PKEY_keygen(kctx, &key) <= 0)
        key = NULL;
    EVP_PKEY_CTX_free(kctx);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(params);
    return key;
}
