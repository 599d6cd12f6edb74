/*
 * Per-key templates of initialised signing contexts. Setting up a signing
 * context (method fetches, provider context, padding parameters) costs
 * about a tenth of an ECDSA P-256 signature, so each key keeps one per
 * signature algorithm and a signature starts from a copy (keys/sign.c).
 * Templates are only read once stored, so threads share them.
 */
#ifndef LURKD_KEYS_SIGN_CACHE_H
#define LURKD_KEYS_SIGN_CACHE_H

#include <stdint.h>

#include <openssl/evp.h>

struct lurkd_sign_cache;

/* lurkd_sign_cache_new returns an empty cache, or NULL when out of memory. */
struct lurkd_sign_cache *lurkd_sign_cache_new(void);

/* lurkd_sign_cache_free frees the cache and its templates; NULL is a no-op. */
void lurkd_sign_cache_free(struct lurkd_sign_cache *cache);

/* lurkd_sign_cache_find returns the template stored for code, or NULL. */
const EVP_MD_CTX *lurkd_sign_cache_find(struct lurkd_sign_cache *cache, uint16_t code);

/*
 * lurkd_sign_cache_store keeps tmpl (taking ownership) as the template for
 * code and returns the template now stored: tmpl, or the one another thread
 * stored first (tmpl is then freed). When the cache is full it frees tmpl
 * and returns NULL, and callers initialise a context each time.
 */
const EVP_MD_CTX *lurkd_sign_cache_store(struct lurkd_sign_cache *cache, uint16_t code,
                                         EVP_MD_CTX *tmpl);

#endif
