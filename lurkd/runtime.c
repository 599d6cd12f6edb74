/* Configuration snapshots; see runtime.h. */
#include "runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lurkd_runtime *current;

/*
 * What decides who may use a key: its clients (names and identities), null
 * freshness and the time check. A client that lost or gained access must
 * see lurk_state change, so that it re-runs capabilities.
 */
static void digest_policy(EVP_MD_CTX *md, const struct lurkd_config *cfg,
                          const struct lurkd_key_conf *kc)
{
    const uint8_t flags[3] = {kc->any_client, kc->null_freshness, kc->check_time};
    const uint32_t window = kc->time_window;

    EVP_DigestUpdate(md, flags, sizeof(flags));
    EVP_DigestUpdate(md, &window, sizeof(window));
    for (size_t c = 0; c < kc->n_clients; c++) {
        const struct lurkd_client_conf *client = lurkd_config_find_client(cfg, kc->clients[c]);
        EVP_DigestUpdate(md, kc->clients[c], strlen(kc->clients[c]) + 1);
        /* parse_identity zeroes each identity, padding included */
        for (size_t i = 0; client != NULL && i < client->n_ids; i++)
            EVP_DigestUpdate(md, &client->ids[i], sizeof(client->ids[i]));
    }
}

/*
 * lurk_state = SHA-256 over what a client can observe: key ids, certificates,
 * exchanges, and the policy that decides its access.
 */
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
            digest_policy(md, rt->cfg, k->conf);
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
