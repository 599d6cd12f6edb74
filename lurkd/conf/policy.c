/* Access policy; see policy.h. */
#include "conf/policy.h"

#include <string.h>
#include <unistd.h>

#include "conf/config_tls13.h"

/* identity = ca: the listener verified the chain; its issuers and names decide (identity.h). */
static bool ca_matches(const struct lurkd_client_conf *client, const struct lurkd_peer *peer)
{
    bool issuer = client->n_ca == 0;

    if (peer->kind != LURKD_PEER_TLS || peer->cert == NULL)
        return false;
    for (size_t i = 0; !issuer && i < client->n_ca; i++)
        for (size_t k = 0; !issuer && k < peer->cert->n_chain; k++)
            issuer = memcmp(client->ca_sha256[i], peer->cert->chain_sha256[k], 32) == 0;
    if (!issuer)
        return false;
    for (size_t r = 0; r < client->n_rules; r++)
        if (lurkd_name_rule_match(&client->rules[r], peer->cert))
            return true;
    return false;
}

static bool identity_matches(const struct lurkd_client_conf *client,
                             const struct lurkd_identity *id, const struct lurkd_peer *peer)
{
    switch (id->kind) {
    case LURKD_IDENTITY_CA:
        return ca_matches(client, peer);
    case LURKD_IDENTITY_SPKI_SHA256:
        return peer->kind == LURKD_PEER_TLS &&
               memcmp(id->spki_sha256, peer->spki_sha256, sizeof(id->spki_sha256)) == 0;
    case LURKD_IDENTITY_UID:
        return peer->kind == LURKD_PEER_UNIX && peer->uid == id->uid;
    case LURKD_IDENTITY_TCP:
        return peer->kind == LURKD_PEER_TCP;
    }
    return false;
}

/* A certificate the CRLs in force revoke is nobody, whatever matched it before the reload. */
static bool revoked(const struct lurkd_config *cfg, const struct lurkd_peer *peer)
{
    return peer->kind == LURKD_PEER_TLS && peer->cert != NULL &&
           lurkd_crls_revoked(cfg->crls, peer->cert);
}

const struct lurkd_client_conf *lurkd_policy_client(const struct lurkd_config *cfg,
                                                    const struct lurkd_peer *peer)
{
    if (revoked(cfg, peer))
        return NULL;
    for (size_t i = 0; i < cfg->n_clients; i++)
        for (size_t k = 0; k < cfg->clients[i].n_ids; k++)
            if (identity_matches(&cfg->clients[i], &cfg->clients[i].ids[k], peer))
                return &cfg->clients[i];
    return NULL;
}

bool lurkd_policy_named(const struct lurkd_config *cfg, char *const *names, size_t n,
                        const struct lurkd_peer *peer)
{
    if (revoked(cfg, peer))
        return false;
    /* A peer may match several client names; any listed one grants access. */
    for (size_t c = 0; c < n; c++) {
        if (strcmp(names[c], "*") == 0)
            return true;
        const struct lurkd_client_conf *client = lurkd_config_find_client(cfg, names[c]);
        for (size_t k = 0; client != NULL && k < client->n_ids; k++)
            if (identity_matches(client, &client->ids[k], peer))
                return true;
    }
    return false;
}

static bool names_any(char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], "*") == 0)
            return true;
    return false;
}

bool lurkd_policy_known(const struct lurkd_config *cfg, const struct lurkd_peer *peer)
{
    if (lurkd_policy_client(cfg, peer) != NULL ||
        names_any(cfg->stats_clients, cfg->n_stats_clients))
        return true;
    for (size_t i = 0; i < cfg->n_keys; i++)
        if (cfg->keys[i].any_client)
            return true;
    const struct lurkd_tls13_conf *t = lurkd_tls13_conf(cfg);
    for (size_t i = 0; i < t->n_psks; i++)
        if (t->psks[i].any_client)
            return true;
    return false;
}

static bool client_listed(const struct lurkd_config *cfg, const struct lurkd_key_conf *kc,
                          const struct lurkd_peer *peer)
{
    return (kc->any_client && !revoked(cfg, peer)) ||
           lurkd_policy_named(cfg, kc->clients, kc->n_clients, peer);
}

bool lurkd_policy_allows(const struct lurkd_config *cfg, const struct lurkd_key *key,
                         const struct lurkd_peer *peer, enum lurkd_exchange ex, const char **reason)
{
    if (!client_listed(cfg, key->conf, peer)) {
        *reason = "client not allowed to use this key";
        return false;
    }
    if ((key->exchanges & ex) == 0) {
        *reason = "exchange not allowed for this key";
        return false;
    }
    *reason = NULL;
    return true;
}

bool lurkd_policy_visible(const struct lurkd_config *cfg, const struct lurkd_key *key,
                          const struct lurkd_peer *peer)
{
    return key->exchanges != 0 && client_listed(cfg, key->conf, peer);
}

bool lurkd_policy_stats(const struct lurkd_config *cfg, const struct lurkd_peer *peer)
{
    /* The operator on the key host: root, or the account lurkd runs as. */
    if (peer->kind == LURKD_PEER_UNIX && (peer->uid == 0 || peer->uid == getuid()))
        return true;
    return lurkd_policy_named(cfg, cfg->stats_clients, cfg->n_stats_clients, peer);
}
