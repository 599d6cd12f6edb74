/*
 * The provider's private library context (docs/provider.md §4): only the
 * default provider is loaded in it, so decoding the public keys of key
 * references, verifying lurkd's signatures and the TLS link to lurkd never
 * recurse into our own keys, and the application's context is never
 * touched. It is made on first use, never in OSSL_provider_init (config
 * loading would recurse, openssl #20653); lurk_prov.c's teardown frees it.
 * Its own file so that the operations, which all need it, do not depend on
 * the entry point that lists them.
 */
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "provider.h"

OSSL_LIB_CTX *lurk_prov_libctx(LURK_PROV_CTX *pc)
{
    OSSL_LIB_CTX *libctx;

    pthread_mutex_lock(&pc->libctx_lock);
    if (pc->libctx == NULL) {
        ERR_set_mark();
        /* OSSL_LIB_CTX_new reads no openssl.cnf; only "default" is ever loaded in it. */
        libctx = OSSL_LIB_CTX_new();
        if (libctx != NULL &&
            (pc->libctx_default = OSSL_PROVIDER_load(libctx, "default")) == NULL) {
            OSSL_LIB_CTX_free(libctx);
            libctx = NULL;
        }
        ERR_pop_to_mark();
        pc->libctx = libctx;
    }
    libctx = pc->libctx;
    pthread_mutex_unlock(&pc->libctx_lock);
    if (libctx == NULL)
        LURK_PROV_RAISE(pc, LURK_PROV_R_INTERNAL,
                        "cannot create a library context with the default provider");
    return libctx;
}
