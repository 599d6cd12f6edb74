/* The tls13 session table; see tls13_session.h. */
#include "tls13/session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conf/config_tls13.h"
#include "exchange/exchange.h"
#include "ops/log.h"
#include "lurk/clock.h"

/*
 * Every session, held or visible, is in the table, so the limits count the
 * ones being opened too. A handful of thousand sessions at most: a linear
 * scan under the lock costs microseconds, less than one HKDF.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lurkd_tls13_session **table;
static size_t n_table, cap_table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void wipe(struct lurkd_tls13_session *s)
{
    lurk_tls13_keysched_cleanup(&s->ks);
    lurk_tls13_transcript_cleanup(&s->tr);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

/* At exit: no secret outlives the process in freed memory. Held sessions are left alone. */
static void wipe_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_table;) {
        if (table[i]->busy) {
            i++;
            continue;
        }
        wipe(table[i]);
        table[i] = table[--n_table];
    }
    if (n_table == 0) {
        free(table);
        table = NULL;
        cap_table = 0;
    }
    pthread_mutex_unlock(&lock);
    EVP_MD_free(sha256);
    sha256 = NULL;
}

static void init_once(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    atexit(wipe_all);
}

void lurkd_tls13_owner_of(const struct lurkd_peer *peer, struct lurkd_tls13_owner *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = peer->kind;
    if (peer->kind == LURKD_PEER_UNIX)
        out->uid = peer->uid;
    else if (peer->kind == LURKD_PEER_TLS)
        memcpy(out->spki_sha256, peer->spki_sha256, sizeof(out->spki_sha256));
}

bool lurkd_tls13_owner_is(const struct lurkd_tls13_owner *owner, const struct lurkd_peer *peer)
{
    struct lurkd_tls13_owner o;

    /* Every peer of a plain tcp:// listener is the same identity (policy.h). */
    lurkd_tls13_owner_of(peer, &o);
    return memcmp(&o, owner, sizeof(o)) == 0;
}

/* Removes table[i] (lock held) and returns it. */
static struct lurkd_tls13_session *take(size_t i)
{
    struct lurkd_tls13_session *s = table[i];

    table[i] = table[--n_table];
    return s;
}

static bool expired(const struct lurkd_tls13_session *s, uint64_t now, unsigned lifetime)
{
    return !s->busy && now - s->last_ms > (uint64_t)lifetime * 1000u;
}

/* Drops the expired sessions (lock held): abandoned sessions end here. */
static void purge(uint64_t now, unsigned lifetime)
{
    for (size_t i = 0; i < n_table;) {
        if (expired(table[i], now, lifetime))
            wipe(take(i));
        else
            i++;
    }
}

struct lurkd_tls13_session *lurkd_tls13_session_new(const struct lurkd_request *req,
                                                    const char **why)
{
    const struct lurkd_tls13_conf *conf = lurkd_tls13_conf(req->rt->cfg);
    struct lurkd_tls13_session *s = NULL;
    struct lurkd_tls13_owner owner;
    uint64_t now = (uint64_t)lurk_clock_ms();
    size_t mine = 0;

    pthread_once(&once, init_once);
    lurkd_tls13_owner_of(req->peer, &owner);
    pthread_mutex_lock(&lock);
    purge(now, conf->session_lifetime);
    for (size_t i = 0; i < n_table; i++)
        mine += memcmp(&table[i]->owner, &owner, sizeof(owner)) == 0;
    if (mine >= conf->max_sessions_per_client) {
        *why = "per-client session limit reached (max_sessions_per_client)";
        goto out;
    }
    if (n_table >= conf->max_sessions) {
        *why = "session table full (max_sessions)";
        goto out;
    }
    if (n_table == cap_table) {
        size_t cap = cap_table ? 2 * cap_table : 64;
        void *grown = realloc(table, cap * sizeof(*table));
        if (grown == NULL) {
            *why = "out of memory";
            goto out;
        }
        table = grown;
        cap_table = cap;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        *why = "out of memory";
        goto out;
    }
    s->owner = owner;
    s->busy = true;
    s->last_ms = now;
    s->psk_index = -1;
    table[n_table++] = s;
out:
    pthread_mutex_unlock(&lock);
    return s;
}

/* The cookie chain of protocol.md (T12): salt_(n+1) and its cookie from salt_n and a label. */
static bool cookie_next(const uint8_t salt[32], const char *label, uint8_t next_salt[32],
                        uint32_t *cookie)
{
    uint8_t h[32];
    unsigned int len = 0;
    bool ok;

    pthread_once(&once, init_once);
    /* salt_(n+1) = HKDF-Expand-Label(salt_n, label, "", 32); cookie = H(salt_(n+1))[0..3]. */
    ok = sha256 != NULL &&
         lurk_tls13_hkdf_expand_label(NULL, sha256, salt, 32, label, NULL, 0, next_salt, 32) &&
         EVP_Digest(next_salt, 32, h, &len, sha256, NULL) == 1 && len == 32;
    *cookie = ok ? (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3] : 0;
    OPENSSL_cleanse(h, sizeof(h));
    return ok;
}

static bool id_used(uint32_t id)
{
    for (size_t i = 0; i < n_table; i++)
        if (table[i]->visible && table[i]->id == id)
            return true;
    return false;
}

bool lurkd_tls13_session_insert(struct lurkd_tls13_session *s, const uint8_t *payload,
                                size_t payload_len, uint32_t client_session_id, uint32_t *id,
                                uint32_t *cookie_init)
{
    uint8_t r[8], salt[32];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok;

    /* The CS's session id is random (§3.5) and unique among the visible sessions. */
    pthread_mutex_lock(&lock);
    do {
        ok = RAND_bytes(r, sizeof(r)) == 1;
        s->id = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    } while (ok && (s->id == 0 || id_used(s->id)));
    s->visible = ok;
    pthread_mutex_unlock(&lock);
    /* salt_0 = H(P || R): the initiating payload, then the ContextAgreementResponse (T12). */
    ok = ok && md != NULL && EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
         EVP_DigestUpdate(md, payload, payload_len) == 1 && EVP_DigestUpdate(md, r, 8) == 1 &&
         EVP_DigestFinal_ex(md, salt, &len) == 1 && len == 32;
    EVP_MD_CTX_free(md);
    if (ok) {
        memcpy(s->salt_cs, salt, 32);
        memcpy(s->salt_clt, salt, 32);
        s->client_id = client_session_id;
        *id = s->id;
        *cookie_init = (uint32_t)r[4] << 24 | (uint32_t)r[5] << 16 | (uint32_t)r[6] << 8 | r[7];
    }
    OPENSSL_cleanse(salt, sizeof(salt));
    return ok;
}

/* Takes s out of the table, if it is there (lock held). */
static void unlink_locked(struct lurkd_tls13_session *s)
{
    for (size_t i = 0; i < n_table; i++) {
        if (table[i] == s) {
            take(i);
            return;
        }
    }
}

void lurkd_tls13_session_free(struct lurkd_tls13_session *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&lock);
    unlink_locked(s);
    pthread_mutex_unlock(&lock);
    wipe(s);
}

struct lurkd_tls13_session *lurkd_tls13_session_acquire(const struct lurkd_request *req,
                                                        uint32_t id, uint32_t cookie,
                                                        const char **why)
{
    const struct lurkd_tls13_conf *conf = lurkd_tls13_conf(req->rt->cfg);
    struct lurkd_tls13_session *s = NULL;
    uint8_t next[32];
    uint32_t want = 0;
    uint64_t now = (uint64_t)lurk_clock_ms();

    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    purge(now, conf->session_lifetime);
    for (size_t i = 0; s == NULL && i < n_table; i++)
        if (table[i]->visible && table[i]->id == id)
            s = table[i];
    /* One answer for all: who is asking learns nothing about other peers' sessions. */
    *why = "unknown session";
    if (s == NULL || !lurkd_tls13_owner_is(&s->owner, req->peer)) {
        s = NULL;
    } else if (s->busy) {
        *why = "session busy with another request";
        s = NULL;
    } else if (!cookie_next(s->salt_cs, "cs_cookie", next, &want) || want != cookie) {
        *why = "wrong cookie";
        s = NULL;
    } else {
        s->busy = true;
    }
    pthread_mutex_unlock(&lock);
    OPENSSL_cleanse(next, sizeof(next));
    return s;
}

bool lurkd_tls13_session_commit(struct lurkd_tls13_session *s, bool finished, uint32_t *client_id,
                                uint32_t *client_cookie)
{
    uint8_t cs[32], clt[32];
    uint32_t unused;
    bool ok = cookie_next(s->salt_cs, "cs_cookie", cs, &unused) &&
              cookie_next(s->salt_clt, "clt_cookie", clt, client_cookie);

    *client_id = s->client_id;
    if (ok && !finished) {
        memcpy(s->salt_cs, cs, 32);
        memcpy(s->salt_clt, clt, 32);
        pthread_mutex_lock(&lock);
        s->last_ms = (uint64_t)lurk_clock_ms();
        s->busy = false;
        pthread_mutex_unlock(&lock);
    } else {
        lurkd_tls13_session_free(s);
    }
    OPENSSL_cleanse(cs, sizeof(cs));
    OPENSSL_cleanse(clt, sizeof(clt));
    return ok;
}

void lurkd_tls13_session_abort(struct lurkd_tls13_session *s, bool drop)
{
    if (s == NULL)
        return;
    if (drop || !s->visible) {
        lurkd_tls13_session_free(s);
        return;
    }
    pthread_mutex_lock(&lock);
    s->busy = false;
    pthread_mutex_unlock(&lock);
}
