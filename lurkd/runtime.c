/* Configuration snapshots; see runtime.h. */
#include "runtime.h"

#include <pthread.h>
#include <stdlib.h>

#include <openssl/evp.h>

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lurkd_runtime *current;

/* lurk_state = SHA-256 over what a client can observe: key ids, certificates, exchanges. */
static void compute_state(struct lurkd_runtime *rt)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        for (size_t i = 0; i < rt->keys->n_keys; i++) {
            const struct lurkd_key *k = &rt->keys->keys[i];
            EVP_DigestUpdate(md, k->id, sizeof(k->id));
            EVP_DigestUpdate(md, &k->exchanges, sizeof(k->exchanges));
            if (k->cert_der != NULL)
                EVP_DigestUpdate(md, k->cert_der, k->cert_der_len);
        }
        EVP_DigestFinal_ex(md, digest, &len);
    }
    EVP_MD_CTX_free(md);
    for (size_t i = 0; i < LURK_STATE_LEN; i++)
        rt->state[i] = len >= LURK_STATE_LEN ? digest[i] : 0;
}

struct lurkd_runtime *lurkd_runtime_build(struct lurkd_config *cfg, char *err, size_t errlen)
{
    struct lurkd_runtime *rt = calloc(1, sizeof(*rt));

    if (rt == NULL) {
        lurkd_config_free(cfg);
        return NULL;
    }
    rt->cfg = cfg;
    rt->keys = lurkd_keystore_load(cfg, err, errlen);
    if (rt->keys == NULL) {
        lurkd_config_free(cfg);
        free(rt);
        return NULL;
    }
    compute_state(rt);
    atomic_init(&rt->refs, 1);
    return rt;
}

void lurkd_runtime_unref(struct lurkd_runtime *rt)
{
    if (rt == NULL || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    lurkd_keystore_free(rt->keys);
    lurkd_config_free(rt->cfg);
    free(rt);
}

struct lurkd_runtime *lurkd_runtime_acquire(void)
{
    struct lurkd_runtime *rt;

    pthread_mutex_lock(&current_lock);
    rt = current;
    if (rt != NULL)
        atomic_fetch_add(&rt->refs, 1);
    pthread_mutex_unlock(&current_lock);
    return rt;
}

void lurkd_runtime_install(struct lurkd_runtime *rt)
{
    struct lurkd_runtime *old;

    pthread_mutex_lock(&current_lock);
    old = current;
    current = rt;
    pthread_mutex_unlock(&current_lock);
    lurkd_runtime_unref(old);
}
