/* PSK_DB; see tls13_psk.h. */
#include "tls13/psk_db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "lurk/clock.h"
#include "lurk/tls13.h"

/* One resumption PSK, in a list kept oldest first. */
struct entry {
    struct entry *next;
    uint8_t role;
    struct lurkd_tls13_owner owner;
    uint8_t *identity;
    size_t identity_len;
    uint8_t key[LURK_TLS13_MAX_HASH_LEN];
    size_t key_len;
    const char *md_name; /* a string literal of config_tls13.c or keysched */
    bool null_freshness;
    uint64_t issued_ms;
    uint32_t lifetime;
    uint32_t ticket_age_add;
    uint32_t max_early_data;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *head, **tail = &head;
static size_t n_entries;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void entry_free(struct entry *e)
{
    OPENSSL_cleanse(e->key, sizeof(e->key));
    free(e->identity);
    free(e);
}

/* Unlinks *link (lock held). */
static struct entry *unlink_at(struct entry **link)
{
    struct entry *e = *link;

    *link = e->next;
    if (tail == &e->next)
        tail = link;
    n_entries--;
    return e;
}

static void wipe_all(void)
{
    pthread_mutex_lock(&lock);
    while (head != NULL)
        entry_free(unlink_at(&head));
    pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
    atexit(wipe_all);
}

static bool expired(const struct entry *e, uint64_t now)
{
    return now - e->issued_ms > (uint64_t)e->lifetime * 1000u;
}

/* A [psk.NAME] this peer may use (the configuration in force, rt). */
static bool find_external(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                          const uint8_t *identity, size_t identity_len, struct lurkd_psk *out)
{
    const struct lurkd_tls13_conf *conf = lurkd_tls13_conf(rt->cfg);

    for (size_t i = 0; i < conf->n_psks; i++) {
        const struct lurkd_psk_conf *p = &conf->psks[i];
        if (p->identity_len != identity_len || memcmp(p->identity, identity, identity_len) != 0)
            continue;
        /* As for keys: any listed client whose identity is this peer's grants access. */
        if (!p->any_client && !lurkd_policy_named(rt->cfg, p->clients, p->n_clients, peer))
            return false;
        memcpy(out->key, p->secret, p->secret_len);
        out->key_len = p->secret_len;
        out->md_name = p->md_name;
        out->resumption = p->resumption;
        out->null_freshness = p->null_freshness;
        out->max_early_data = p->early_data ? 0xffffffffu : 0;
        snprintf(out->name, sizeof(out->name), "psk %s", p->name);
        return true;
    }
    return false;
}

bool lurkd_psk_find(const struct lurkd_runtime *rt, const struct lurkd_peer *peer, uint8_t role,
                    const uint8_t *identity, size_t identity_len, struct lurkd_psk *out)
{
    uint64_t now = (uint64_t)lurk_clock_ms();
    bool found = false;

    memset(out, 0, sizeof(*out));
    if (find_external(rt, peer, identity, identity_len, out))
        return true;
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    for (struct entry **link = &head; *link != NULL;) {
        struct entry *e = *link;
        if (expired(e, now)) {
            entry_free(unlink_at(link));
            continue;
        }
        if (found || e->role != role || e->identity_len != identity_len ||
            memcmp(e->identity, identity, identity_len) != 0 ||
            !lurkd_tls13_owner_is(&e->owner, peer)) {
            link = &e->next;
            continue;
        }
        memcpy(out->key, e->key, e->key_len);
        out->key_len = e->key_len;
        out->md_name = e->md_name;
        out->resumption = true;
        out->null_freshness = e->null_freshness;
        out->max_early_data = e->max_early_data;
        out->ticket = true;
        out->ticket_age_add = e->ticket_age_add;
        out->age_ms = now - e->issued_ms;
        snprintf(out->name, sizeof(out->name), "ticket");
        found = true;
        /* Server role: single use (-01 §6), so a replayed ClientHello gets nothing. */
        if (role == LURK_TLS13_ROLE_SERVER)
            entry_free(unlink_at(link));
        else
            link = &e->next;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

bool lurkd_psk_store(const struct lurkd_runtime *rt, const struct lurkd_psk_ticket *t)
{
    const struct lurkd_tls13_conf *conf = lurkd_tls13_conf(rt->cfg);
    struct entry *e = calloc(1, sizeof(*e));

    if (e == NULL || t->key_len > sizeof(e->key) || t->identity_len == 0 ||
        (e->identity = malloc(t->identity_len)) == NULL) {
        free(e);
        return false;
    }
    e->role = t->role;
    e->owner = *t->owner;
    memcpy(e->identity, t->identity, t->identity_len);
    e->identity_len = t->identity_len;
    memcpy(e->key, t->key, t->key_len);
    e->key_len = t->key_len;
    e->md_name = t->md_name;
    e->null_freshness = t->null_freshness;
    e->issued_ms = (uint64_t)lurk_clock_ms();
    e->lifetime = t->lifetime;
    e->ticket_age_add = t->ticket_age_add;
    e->max_early_data = t->max_early_data;
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    /* Bounded: the oldest tickets go first (a TLS peer then just does a full handshake). */
    while (n_entries >= conf->psk_db_size && head != NULL)
        entry_free(unlink_at(&head));
    *tail = e;
    tail = &e->next;
    n_entries++;
    pthread_mutex_unlock(&lock);
    return true;
}
