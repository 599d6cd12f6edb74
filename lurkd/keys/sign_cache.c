/* Templates of signing contexts; see sign_cache.h. */
#include "keys/sign_cache.h"

#include <pthread.h>
#include <stdlib.h>

/* More than the signature algorithms any one key can use (sign.c's tables). */
#define SLOTS 16

struct lurkd_sign_cache {
    pthread_mutex_t lock;
    size_t n;
    struct {
        uint16_t code;
        EVP_MD_CTX *ctx;
    } entries[SLOTS];
};

struct lurkd_sign_cache *lurkd_sign_cache_new(void)
{
    struct lurkd_sign_cache *cache = calloc(1, sizeof(*cache));

    if (cache != NULL)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void lurkd_sign_cache_free(struct lurkd_sign_cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < cache->n; i++)
        EVP_MD_CTX_free(cache->entries[i].ctx);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

/* The index of code's entry, or cache->n; under the lock. */
static size_t slot_of(const struct lurkd_sign_cache *cache, uint16_t code)
{
    size_t i;

    for (i = 0; i < cache->n && cache->entries[i].code != code; i++)
        ;
    return i;
}

const EVP_MD_CTX *lurkd_sign_cache_find(struct lurkd_sign_cache *cache, uint16_t code)
{
    const EVP_MD_CTX *tmpl = NULL;
    size_t i;

    pthread_mutex_lock(&cache->lock);
    if ((i = slot_of(cache, code)) < cache->n)
        tmpl = cache->entries[i].ctx;
    pthread_mutex_unlock(&cache->lock);
    return tmpl;
}

const EVP_MD_CTX *lurkd_sign_cache_store(struct lurkd_sign_cache *cache, uint16_t code,
                                         EVP_MD_CTX *tmpl)
{
    const EVP_MD_CTX *stored = NULL;
    size_t i;

    pthread_mutex_lock(&cache->lock);
    if ((i = slot_of(cache, code)) < cache->n) {
        stored = cache->entries[i].ctx;
    } else if (i < SLOTS) {
        cache->entries[i].code = code;
        cache->entries[i].ctx = tmpl;
        cache->n++;
        stored = tmpl;
    }
    pthread_mutex_unlock(&cache->lock);
    if (stored != tmpl)
        EVP_MD_CTX_free(tmpl);
    return stored;
}
