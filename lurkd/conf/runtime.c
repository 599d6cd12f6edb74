/* Configuration snapshots; see runtime.h. */
#include "conf/runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conf/config_tls13.h"

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lurkd_runtime *current;

static void digest_clients(EVP_MD_CTX *md, const struct lurkd_config *cfg, char **names, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        const struct lurkd_client_conf *client = lurkd_config_find_client(cfg, names[c]);
        EVP_DigestUpdate(md, names[c], strlen(names[c]) + 1);
        /* parse_identity zeroes each identity, padding included */
        for (size_t i = 0; client != NULL && i < client->n_ids; i++)
            EVP_DigestUpdate(md, &client->ids[i], sizeof(client->ids[i]));
        /* identity = ca: its rules and issuers decide who it is, as pins do */
        for (size_t i = 0; client != NULL && i < client->n_rules; i++) {
            const uint8_t kind = (uint8_t)client->rules[i].kind;
            EVP_DigestUpdate(md, &kind, 1);
            EVP_DigestUpdate(md, client->rules[i].pattern, strlen(client->rules[i].pattern) + 1);
        }
        for (size_t i = 0; client != NULL && i < client->n_ca; i++)
            EVP_DigestUpdate(md, client->ca_sha256[i], sizeof(client->ca_sha256[i]));
    }
}

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
    digest_clients(md, cfg, kc->clients, kc->n_clients);
}

/*
 * The [tls13] knobs and the external PSKs (identity, hash, kind, who may use
 * them; never the secret): what tls13 capabilities announce and what decides
 * which sessions a client may open.
 */
static void digest_tls13(EVP_MD_CTX *md, const struct lurkd_config *cfg)
{
    const struct lurkd_tls13_conf *t = lurkd_tls13_conf(cfg);
    const uint8_t flags[7] = {
        t->session_resumption, t->post_handshake_auth,   t->client_early_traffic, t->early_exporter,
        t->exporter,           t->resumption_delegation, t->null_freshness};
    const uint32_t limits[8] = {t->max_tickets,  t->ticket_lifetime,  t->max_early_data,
                                t->max_sessions, t->session_lifetime, t->max_sessions_per_client,
                                t->psk_db_size,  (uint32_t)t->n_psks};

    EVP_DigestUpdate(md, flags, sizeof(flags));
    EVP_DigestUpdate(md, limits, sizeof(limits));
    for (size_t i = 0; i < t->n_psks; i++) {
        const struct lurkd_psk_conf *p = &t->psks[i];
        const uint8_t pflags[4] = {p->resumption, p->null_freshness, p->early_data, p->any_client};
        const uint32_t idlen = (uint32_t)p->identity_len;

        EVP_DigestUpdate(md, &idlen, sizeof(idlen));
        EVP_DigestUpdate(md, p->identity, p->identity_len);
        EVP_DigestUpdate(md, p->md_name, strlen(p->md_name) + 1);
        EVP_DigestUpdate(md, pflags, sizeof(pflags));
        digest_clients(md, cfg, p->clients, p->n_clients);
    }
}

/*
 * lurk_state = SHA-256 over what a client can observe: key ids, certificates,
 * exchanges, the tls13 settings and PSKs, and the policy that decides its
 * access.
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
        digest_tls13(md, rt->cfg);
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
