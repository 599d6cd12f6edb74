/* Per-peer counts of connections and of queued requests; see peer_limit.h. */
#include "peer_limit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * A chained hash table of the peers that hold connections (or queued
 * requests). An entry goes when its count drops to zero, so a table never
 * holds more entries than there are connections (or queued requests).
 */
struct entry {
    struct lurkd_peer_key key;
    unsigned count;
    struct entry *next;
};

#define BUCKETS 1024

static struct table {
    pthread_mutex_t lock;
    struct entry *buckets[BUCKETS];
    size_t peers;
} tables[LURKD_PEER_COUNT_KINDS] = {
    [LURKD_PEER_CONNECTIONS] = {.lock = PTHREAD_MUTEX_INITIALIZER},
    [LURKD_PEER_QUEUED] = {.lock = PTHREAD_MUTEX_INITIALIZER},
};

void lurkd_peer_key_uid(struct lurkd_peer_key *key, uid_t uid)
{
    memset(key, 0, sizeof(*key));
    key->kind = LURKD_PEER_KEY_UID;
    key->len = sizeof(uid);
    memcpy(key->bytes, &uid, sizeof(uid));
}

void lurkd_peer_key_ip(struct lurkd_peer_key *key, const struct sockaddr_storage *ss)
{
    memset(key, 0, sizeof(*key));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        key->kind = LURKD_PEER_KEY_IP;
        key->len = sizeof(in->sin_addr);
        memcpy(key->bytes, &in->sin_addr, sizeof(in->sin_addr));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        key->kind = LURKD_PEER_KEY_IP;
        key->len = sizeof(in6->sin6_addr);
        memcpy(key->bytes, &in6->sin6_addr, sizeof(in6->sin6_addr));
    }
}

void lurkd_peer_key_identity(struct lurkd_peer_key *key, const uint8_t spki_sha256[32])
{
    memset(key, 0, sizeof(*key));
    key->kind = LURKD_PEER_KEY_IDENTITY;
    key->len = 32;
    memcpy(key->bytes, spki_sha256, 32);
}

/* FNV-1a: the keys are addresses, uids and hashes; nothing here needs more. */
static size_t bucket(const struct lurkd_peer_key *key)
{
    uint32_t h = 2166136261u ^ key->kind;

    for (size_t i = 0; i < key->len; i++)
        h = (h ^ key->bytes[i]) * 16777619u;
    return h % BUCKETS;
}

static bool same(const struct lurkd_peer_key *a, const struct lurkd_peer_key *b)
{
    return a->kind == b->kind && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

bool lurkd_peer_limit_acquire(enum lurkd_peer_count what, const struct lurkd_peer_key *key,
                              unsigned cap)
{
    struct table *table = &tables[what];
    struct entry **head, *e;
    bool ok = true;

    if (key->kind == LURKD_PEER_KEY_NONE)
        return true;
    if (cap == 0)
        return false;
    head = &table->buckets[bucket(key)];
    pthread_mutex_lock(&table->lock);
    for (e = *head; e != NULL && !same(&e->key, key); e = e->next)
        ;
    if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
        e->key = *key;
        e->next = *head;
        *head = e;
        table->peers++;
    }
    if (e == NULL || e->count >= cap)
        ok = false;
    else
        e->count++;
    pthread_mutex_unlock(&table->lock);
    return ok;
}

void lurkd_peer_limit_release(enum lurkd_peer_count what, const struct lurkd_peer_key *key)
{
    struct table *table = &tables[what];
    struct entry **p;

    if (key->kind == LURKD_PEER_KEY_NONE)
        return;
    pthread_mutex_lock(&table->lock);
    for (p = &table->buckets[bucket(key)]; *p != NULL && !same(&(*p)->key, key); p = &(*p)->next)
        ;
    if (*p != NULL && --(*p)->count == 0) {
        struct entry *gone = *p;
        *p = gone->next;
        free(gone);
        table->peers--;
    }
    pthread_mutex_unlock(&table->lock);
}

size_t lurkd_peer_limit_peers(enum lurkd_peer_count what)
{
    size_t n;

    pthread_mutex_lock(&tables[what].lock);
    n = tables[what].peers;
    pthread_mutex_unlock(&tables[what].lock);
    return n;
}
