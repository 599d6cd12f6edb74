/*
 * Connections to lurkd (docs/architecture.md §6, §8.5).
 *
 * - One pool per provider instance, per process: at most lurk-connections
 *   connections, created on first use (never at init: nginx and haproxy
 *   fork after loading keys). A thread checks a connection out for one
 *   request/response (lurk_conn_call matches the response by LURK id), so
 *   no two threads ever interleave on a TLS stream.
 * - Fork: a pthread_atfork child handler bumps a generation counter; a pool
 *   from an older generation (or another pid, for forks that bypass atfork
 *   handlers) abandons its inherited connections with lurk_conn_abandon:
 *   the child closes its copy of the fd and never writes to it, since the
 *   TLS record state belongs to the parent. The prepare/parent/child
 *   handlers hold every pool lock across fork() so the child never inherits
 *   a lock held by a thread that does not exist there.
 * - Per server: at most lurk-connections connections to each server (the
 *   fleet's slot, prov_fleet.c; prov_balance.c chooses the server of each
 *   attempt, prov_health.c keeps its health). A request whose server fails (connect,
 *   I/O, timeout) is sent once more to another server; a request that fails
 *   fast on a reused connection (lurkd closed an idle connection) is sent
 *   once more on a fresh one to the same server. Both are safe: signing and
 *   rsa_premaster are idempotent.
 * - The TLS client context lives in the provider's private library context
 *   (only the default provider: no recursion into our own keys) and is
 *   built from the PEM bytes read at init (the files may be out of reach
 *   after chroot and setuid). The health thread re-reads the files when
 *   they change and swaps in a new context for new connections; a bad new
 *   set is logged and the old context kept.
 * - Transport errors are collected as text under an error mark and raised
 *   as one error naming the server(s), the key id and the cause.
 * - Inside an OpenSSL ASYNC job (prov_async.c) the job pauses where a thread
 *   would block: waiting for the response after the request is written, and
 *   waiting for a free connection (a paused job may be the one holding it,
 *   on this very thread). A checkin wakes paused waiters through an eventfd.
 *   The connection stays lent to the paused job alone; a job resumed in a
 *   forked child leaves it untouched.
 * - A full pool is not a dead server: when no connection to the chosen
 *   server frees up in time the call fails as busy, without marking the
 *   server down or failing over (this process has more requests in flight
 *   than lurk-connections; the choice already prefers less busy servers).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lurk/client.h"
#include "lurk/clock.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "provider.h"

/*
 * A request goes to its server, and once more to another when that one
 * fails. Failures that cost no time (connection refused or closed) may go
 * on to every server: a request is only ever delayed by one timeout.
 */
#define MAX_SLOW_SERVERS_PER_REQUEST 2

/* Connections kept idle in all, every server together. */
#define MAX_IDLE (LURK_PROV_MAX_TARGETS * LURK_PROV_MAX_CONNECTIONS)

/* What the link credential files were when last read (rotation). */
struct cred_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool ok;
};

struct lurk_prov_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /*
     * Fork generation the connections belong to. Written under mu
     * (fork_check), read under mu and, by the fleet under its own lock, in
     * lurk_prov_pool_take_abandoned, which must not take mu: atomic, so that
     * read is defined without a lock on the request path. fork_check stores
     * it after resetting abandoned_at (sequentially consistent), so a reader
     * that sees the new generation sees the reset counts.
     */
    atomic_ulong gen;
    pid_t pid; /* under mu */
    struct lurk_conn *idle[MAX_IDLE];
    int idle_slot[MAX_IDLE];
    size_t n_idle;
    size_t n_busy_at[LURK_PROV_MAX_TARGETS]; /* checked out, or being opened, per server slot */
    int free_efd; /* written on checkin while ASYNC jobs wait for a connection; -1 */
    size_t async_waiters;
    /*
     * Attempts whose paused job the application freed (release_held): the
     * fleet takes them off its outstanding counts at its next pick
     * (lurk_prov_pool_take_abandoned). Atomic: release_held holds pool locks
     * the fleet's lock must never be taken under.
     */
    atomic_uint abandoned_at[LURK_PROV_MAX_TARGETS];
    atomic_bool abandoned_any;
    unsigned long serial; /* tells pools apart for a cleanup that outlived one */
    SSL_CTX *tls;
    bool tls_failed;
    char tls_err[256];
    /* Rotation (health thread only, under mu): the files' stamps, when last checked. */
    struct lurk_prov_file_stamp stamps[3];
    bool stamped;
    int64_t next_cred_check_ms;
    char rejected[256];          /* the last rejected set's reason, logged once */
    struct lurk_prov_pool *next; /* atfork registry */
};

static atomic_ulong fork_gen;
static atomic_ulong pool_serial;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lurk_prov_pool *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_mu);
    for (struct lurk_prov_pool *p = registry; p != NULL; p = p->next)
        pthread_mutex_lock(&p->mu);
}

static void fork_parent(void)
{
    for (struct lurk_prov_pool *p = registry; p != NULL; p = p->next)
        pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&registry_mu);
}

static void fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
    for (struct lurk_prov_pool *p = registry; p != NULL; p = p->next) {
        /* No thread waits on it here; a fresh condvar forgets the parent's waiters. */
        lurk_prov_cond_init(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void register_atfork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

struct lurk_prov_pool *lurk_prov_pool_new(void)
{
    struct lurk_prov_pool *pool;

    if (pthread_once(&atfork_once, register_atfork) != 0)
        return NULL;
    pool = OPENSSL_zalloc(sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pthread_mutex_init(&pool->mu, NULL);
    lurk_prov_cond_init(&pool->cv);
    atomic_init(&pool->gen, atomic_load(&fork_gen));
    pool->pid = getpid();
    pool->free_efd = -1;
    pool->serial = atomic_fetch_add(&pool_serial, 1) + 1;
    pthread_mutex_lock(&registry_mu);
    pool->next = registry;
    registry = pool;
    pthread_mutex_unlock(&registry_mu);
    return pool;
}

/* Caller holds pool->mu. Drops what a parent process left us. */
static void fork_check(struct lurk_prov_pool *pool)
{
    unsigned long gen = atomic_load(&fork_gen);
    pid_t pid = getpid();

    if (atomic_load(&pool->gen) == gen && pool->pid == pid)
        return;
    for (size_t i = 0; i < pool->n_idle; i++)
        lurk_conn_abandon(pool->idle[i]);
    pool->n_idle = 0;
    memset(pool->n_busy_at, 0, sizeof(pool->n_busy_at)); /* the parent's borrowers are not here */
    /* The eventfd is shared with the parent: close our copy, make our own when needed. */
    if (pool->free_efd >= 0)
        close(pool->free_efd);
    pool->free_efd = -1;
    pool->async_waiters = 0;
    for (size_t i = 0; i < LURK_PROV_MAX_TARGETS; i++)
        atomic_store(&pool->abandoned_at[i], 0); /* the parent's, taken off its own counts */
    atomic_store(&pool->abandoned_any, false);
    atomic_store(&pool->gen, gen); /* last: see struct lurk_prov_pool */
    pool->pid = pid;
}

/*
 * Caller holds pool->mu. A connection came free: wake every waiting thread
 * (each waits for a connection of its own server, so one woken at random
 * might not be the one this place belongs to) and every paused job.
 */
static void notify_free(struct lurk_prov_pool *pool)
{
    pthread_cond_broadcast(&pool->cv);
    if (pool->async_waiters > 0 && pool->free_efd >= 0)
        eventfd_write(pool->free_efd, 1);
}

void lurk_prov_pool_free(struct lurk_prov_pool *pool)
{
    struct lurk_prov_pool **pp;

    if (pool == NULL)
        return;
    pthread_mutex_lock(&registry_mu);
    for (pp = &registry; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == pool) {
            *pp = pool->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_lock(&pool->mu);
    fork_check(pool);
    for (size_t i = 0; i < pool->n_idle; i++)
        lurk_conn_close(pool->idle[i]);
    pool->n_idle = 0;
    if (pool->free_efd >= 0)
        close(pool->free_efd);
    pthread_mutex_unlock(&pool->mu);
    SSL_CTX_free(pool->tls);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    OPENSSL_free(pool);
}

/* ---- TLS client context, from the PEM bytes kept since init ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt on a terminal from inside nginx */
}

static STACK_OF(X509_INFO) * read_infos(OSSL_LIB_CTX *libctx, const uint8_t *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509_INFO) *infos = NULL;

    if (bio != NULL)
        infos = PEM_X509_INFO_read_bio_ex(bio, NULL, no_passphrase, NULL, libctx, NULL);
    BIO_free(bio);
    return infos;
}

static bool load_ca(SSL_CTX *ctx, OSSL_LIB_CTX *libctx, const struct lurk_prov_config *cfg,
                    char *err, size_t errlen)
{
    STACK_OF(X509_INFO) *infos = read_infos(libctx, cfg->ca_pem, cfg->ca_len);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int n = 0;

    for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509 != NULL && X509_STORE_add_cert(store, info->x509) == 1)
            n++;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (n == 0)
        snprintf(err, errlen, "lurk-ca %s holds no usable certificate", cfg->ca_path);
    return n > 0;
}

static bool load_client_cert(SSL_CTX *ctx, OSSL_LIB_CTX *libctx, const struct lurk_prov_config *cfg,
                             char *err, size_t errlen)
{
    STACK_OF(X509_INFO) *infos = read_infos(libctx, cfg->cert_pem, cfg->cert_len);
    bool ok = false, leaf = false;

    for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509 == NULL)
            continue;
        if (!leaf) {
            if (SSL_CTX_use_certificate(ctx, info->x509) != 1)
                goto out;
            leaf = true;
        } else if (SSL_CTX_add1_chain_cert(ctx, info->x509) != 1) {
            goto out;
        }
    }
    ok = leaf;
out:
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (!ok)
        snprintf(err, errlen, "lurk-cert %s: no usable certificate", cfg->cert_path);
    return ok;
}

static bool load_client_key(SSL_CTX *ctx, OSSL_LIB_CTX *libctx, const struct lurk_prov_config *cfg,
                            char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(cfg->key_pem, (int)cfg->key_len);
    EVP_PKEY *pkey = NULL;
    bool ok;

    /* Decoded in the private context: our own decoders are not there. */
    if (bio != NULL)
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL, libctx, NULL);
    ok = pkey != NULL && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
         SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (!ok)
        snprintf(err, errlen,
                 "lurk-key %s: not an unencrypted PEM private key matching lurk-cert %s",
                 cfg->key_path, cfg->cert_path);
    return ok;
}

/* A client context from the credentials in cfg (PEM bytes); NULL with the reason in err. */
static SSL_CTX *build_ctx(LURK_PROV_CTX *pc, const struct lurk_prov_config *cfg, char *err,
                          size_t errlen)
{
    OSSL_LIB_CTX *libctx;
    SSL_CTX *ctx = NULL;

    ERR_set_mark();
    libctx = lurk_prov_libctx(pc);
    if (libctx == NULL) {
        snprintf(err, errlen, "cannot create the provider's library context");
        goto fail;
    }
    if (cfg->ca_pem == NULL) {
        snprintf(err, errlen, "tls:// servers need lurk-ca (and lurk-cert, lurk-key)");
        goto fail;
    }
    if ((cfg->cert_pem == NULL) != (cfg->key_pem == NULL)) {
        snprintf(err, errlen, "lurk-cert and lurk-key go together");
        goto fail;
    }
    ctx = SSL_CTX_new_ex(libctx, NULL, TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create the TLS context");
        goto fail;
    }
    /* docs/architecture.md §3: the link to lurkd is TLS 1.3, lurkd authenticated by lurk-ca. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!load_ca(ctx, libctx, cfg, err, errlen) ||
        (cfg->cert_pem != NULL && (!load_client_cert(ctx, libctx, cfg, err, errlen) ||
                                   !load_client_key(ctx, libctx, cfg, err, errlen))))
        goto fail;
    ERR_pop_to_mark();
    return ctx;
fail:
    ERR_pop_to_mark();
    SSL_CTX_free(ctx);
    return NULL;
}

/* Caller holds pool->mu. The context in force, not up-referenced. */
static SSL_CTX *tls_ctx(LURK_PROV_CTX *pc, struct lurk_prov_pool *pool, char *err, size_t errlen)
{
    if (pool->tls != NULL)
        return pool->tls;
    if (pool->tls_failed) {
        snprintf(err, errlen, "%s", pool->tls_err);
        return NULL;
    }
    pool->tls = build_ctx(pc, &pc->cfg, err, errlen);
    if (pool->tls == NULL) {
        /* The PEM bytes read at init will not change: remember the verdict. */
        pool->tls_failed = true;
        snprintf(pool->tls_err, sizeof(pool->tls_err), "%s", err);
    }
    return pool->tls;
}

SSL_CTX *lurk_prov_pool_tls(LURK_PROV_CTX *pc, char *err, size_t errlen)
{
    struct lurk_prov_pool *pool = pc->pool;
    SSL_CTX *ctx;

    pthread_mutex_lock(&pool->mu);
    ctx = tls_ctx(pc, pool, err, errlen);
    if (ctx != NULL && SSL_CTX_up_ref(ctx) != 1)
        ctx = NULL;
    pthread_mutex_unlock(&pool->mu);
    return ctx;
}

/* ---- rotation of the link credentials (docs/provider.md §4 "Link credentials") ---- */

static void stamp(const char *path, struct lurk_prov_file_stamp *st)
{
    struct stat sb;

    memset(st, 0, sizeof(*st));
    if (path == NULL || stat(path, &sb) != 0)
        return;
    st->ok = true;
    st->dev = (uint64_t)sb.st_dev;
    st->ino = (uint64_t)sb.st_ino;
    st->size = (uint64_t)sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

static bool same_stamp(const struct lurk_prov_file_stamp *a, const struct lurk_prov_file_stamp *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

/* A whole small file; NULL when unreadable, empty or too large. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    *len = 0;
    if (f == NULL)
        return NULL;
    buf = OPENSSL_malloc(LURK_PROV_MAX_CREDENTIAL_BYTES + 1);
    n = buf != NULL ? fread(buf, 1, LURK_PROV_MAX_CREDENTIAL_BYTES + 1, f) : 0;
    fclose(f);
    if (buf != NULL && (n == 0 || n > LURK_PROV_MAX_CREDENTIAL_BYTES)) {
        OPENSSL_clear_free(buf, LURK_PROV_MAX_CREDENTIAL_BYTES + 1);
        return NULL;
    }
    *len = n;
    return buf;
}

unsigned lurk_prov_pool_take_abandoned(struct lurk_prov_pool *pool, int slot)
{
    /* A child that has not dropped its parent's state yet (fork_check) has none of its own. */
    if (atomic_load(&pool->gen) != atomic_load(&fork_gen))
        return 0;
    return atomic_exchange(&pool->abandoned_at[slot], 0);
}

bool lurk_prov_pool_any_abandoned(struct lurk_prov_pool *pool)
{
    return atomic_exchange(&pool->abandoned_any, false);
}

void lurk_prov_pool_check_credentials(LURK_PROV_CTX *pc)
{
    struct lurk_prov_pool *pool = pc->pool;
    const struct lurk_prov_config *cfg = &pc->cfg;
    const char *paths[3] = {cfg->ca_path, cfg->cert_path, cfg->key_path};
    struct lurk_prov_file_stamp now_st[3];
    struct lurk_prov_config next;
    char err[300] = "";
    SSL_CTX *ctx, *old = NULL;
    bool changed = false, first;
    int64_t now = lurk_clock_ms();

    if (cfg->ca_path == NULL || cfg->error[0] != '\0')
        return;
    pthread_mutex_lock(&pool->mu);
    if (now < pool->next_cred_check_ms) {
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    pool->next_cred_check_ms = now + LURK_PROV_CREDENTIAL_CHECK_MS;
    first = !pool->stamped;
    pthread_mutex_unlock(&pool->mu);

    for (int i = 0; i < 3; i++)
        stamp(paths[i], &now_st[i]);
    pthread_mutex_lock(&pool->mu);
    if (first) {
        /* The set in use is what init read: a file replaced since then is new. */
        pool->stamps[0] = cfg->ca_stamp;
        pool->stamps[1] = cfg->cert_stamp;
        pool->stamps[2] = cfg->key_stamp;
        pool->stamped = true;
    }
    for (int i = 0; i < 3; i++)
        changed |= !same_stamp(&pool->stamps[i], &now_st[i]);
    memcpy(pool->stamps, now_st, sizeof(now_st));
    pthread_mutex_unlock(&pool->mu);
    if (!changed)
        return;

    /* A file changed: read the set again; a half-written set is retried at the next check. */
    memset(&next, 0, sizeof(next));
    next.ca_path = cfg->ca_path;
    next.cert_path = cfg->cert_path;
    next.key_path = cfg->key_path;
    next.ca_pem = slurp(cfg->ca_path, &next.ca_len);
    if (cfg->cert_path != NULL)
        next.cert_pem = slurp(cfg->cert_path, &next.cert_len);
    if (cfg->key_path != NULL)
        next.key_pem = slurp(cfg->key_path, &next.key_len);
    if (next.ca_pem == NULL || (cfg->cert_path != NULL && next.cert_pem == NULL) ||
        (cfg->key_path != NULL && next.key_pem == NULL)) {
        snprintf(err, sizeof(err), "a file is unreadable, empty or larger than 256 KiB");
        ctx = NULL;
    } else {
        ctx = build_ctx(pc, &next, err, sizeof(err));
    }
    OPENSSL_clear_free(next.ca_pem, next.ca_len > 0 ? LURK_PROV_MAX_CREDENTIAL_BYTES + 1 : 0);
    OPENSSL_clear_free(next.cert_pem, next.cert_len > 0 ? LURK_PROV_MAX_CREDENTIAL_BYTES + 1 : 0);
    OPENSSL_clear_free(next.key_pem, next.key_len > 0 ? LURK_PROV_MAX_CREDENTIAL_BYTES + 1 : 0);
    if (ctx == NULL) {
        bool again;
        pthread_mutex_lock(&pool->mu);
        again = strcmp(pool->rejected, err) == 0;
        snprintf(pool->rejected, sizeof(pool->rejected), "%s", err);
        /* Forget the stamps: the next check reads the files again (a copy may be in progress). */
        memset(pool->stamps, 0, sizeof(pool->stamps));
        pool->stamped = true;
        pthread_mutex_unlock(&pool->mu);
        if (!again)
            lurk_prov_log(pc, LOG_ERR,
                          "new link credentials rejected (lurk-ca %s, lurk-cert %s, lurk-key %s): "
                          "%s; keeping the ones in use",
                          cfg->ca_path, cfg->cert_path ? cfg->cert_path : "-",
                          cfg->key_path ? cfg->key_path : "-", err);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    old = pool->tls;
    pool->tls = ctx;
    pool->tls_failed = false;
    pool->rejected[0] = '\0';
    pthread_mutex_unlock(&pool->mu);
    /* Connections made with the old context keep their own reference. */
    SSL_CTX_free(old);
    lurk_prov_log(pc, LOG_NOTICE,
                  "link credentials reloaded (lurk-ca %s, lurk-cert %s, lurk-key %s); new "
                  "connections use them",
                  cfg->ca_path, cfg->cert_path ? cfg->cert_path : "-",
                  cfg->key_path ? cfg->key_path : "-");
}

/* ---- check out / check in ---- */

struct borrowed {
    struct lurk_conn *conn;
    int slot;
    unsigned long gen;
    pid_t pid;
    bool reused;
};

/*
 * What a paused job holds goes back when its wait ctx is freed without the
 * job being resumed: the connection (mid-request, so closed) or its place
 * among the waiters. The pool may be gone by then.
 */
static void release_held(const struct lurk_prov_async_hold *hold)
{
    struct lurk_prov_pool *p;

    lurk_conn_abandon(hold->conn);
    pthread_mutex_lock(&registry_mu);
    for (p = registry; p != NULL && (p != hold->pool || p->serial != hold->pool_serial);)
        p = p->next;
    if (p != NULL) {
        pthread_mutex_lock(&p->mu);
        fork_check(p);
        if (atomic_load(&p->gen) == hold->gen && hold->conn != NULL) {
            if (p->n_busy_at[hold->slot] > 0)
                p->n_busy_at[hold->slot]--;
            notify_free(p);
        } else if (atomic_load(&p->gen) == hold->gen && p->async_waiters > 0) {
            p->async_waiters--;
        }
        /* Either way the attempt never ends in the fleet: it is abandoned. */
        if (atomic_load(&p->gen) == hold->gen) {
            atomic_fetch_add(&p->abandoned_at[hold->slot], 1);
            atomic_store(&p->abandoned_any, true);
        }
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

/*
 * The job pauses on fd. The pool call's error mark must not span the pause
 * (the application runs on this thread meanwhile and has marks of its own):
 * what is under it is dropped now, and a new mark set on resume.
 */
static bool pause_job(struct lurk_prov_async_job *w, int fd, bool edge, int64_t deadline,
                      const struct lurk_prov_async_hold *hold)
{
    bool paused;

    ERR_pop_to_mark();
    paused = lurk_prov_async_wait(w, fd, edge, deadline, hold);
    ERR_set_mark();
    return paused;
}

/*
 * Caller holds pool->mu (released while paused). The job pauses until a
 * connection comes free or the deadline passes; false if it cannot pause.
 */
static bool pause_for_checkin(struct lurk_prov_pool *pool, struct lurk_prov_async_job *w, int slot,
                              int64_t deadline)
{
    struct lurk_prov_async_hold hold = {.release = release_held,
                                        .pool = pool,
                                        .pool_serial = pool->serial,
                                        .gen = atomic_load(&pool->gen),
                                        .slot = slot};
    bool paused;

    if (pool->free_efd < 0)
        pool->free_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->free_efd < 0)
        return false;
    pool->async_waiters++;
    /* A checkin between here and the pause still wakes us: the eventfd stays readable. */
    int efd = pool->free_efd;
    pthread_mutex_unlock(&pool->mu);
    paused = pause_job(w, efd, true, deadline, &hold);
    lurk_prov_async_done(w);
    pthread_mutex_lock(&pool->mu);
    if (atomic_load(&pool->gen) == hold.gen && pool->async_waiters > 0)
        pool->async_waiters--;
    return paused;
}

/*
 * A connection to addr, idle or new. w: the ASYNC job's waiter, or NULL.
 * *busy when every connection stayed checked out until the deadline.
 */
static bool checkout(LURK_PROV_CTX *pc, const struct lurk_prov_target *t, bool fresh,
                     struct lurk_prov_async_job *w, struct borrowed *b, bool *busy, char *err,
                     size_t errlen)
{
    const struct lurk_address *addr = &t->addr;
    struct lurk_prov_pool *pool = pc->pool;
    int64_t deadline = lurk_clock_ms() + pc->cfg.timeout_ms;
    struct timespec until = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    size_t max = (size_t)pc->cfg.connections;
    struct lurk_conn *victim = NULL;
    SSL_CTX *ssl_ctx = NULL;

    memset(b, 0, sizeof(*b));
    b->slot = t->slot;
    *busy = false;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        fork_check(pool);
        size_t mine = 0;
        for (size_t i = 0; i < pool->n_idle; i++) {
            if (pool->idle_slot[i] != t->slot)
                continue;
            if (strcmp(lurk_conn_address(pool->idle[i])->text, addr->text) != 0 || fresh) {
                /* The slot's old address (re-resolved), or a fresh one is wanted: replace it. */
                if (victim == NULL) {
                    victim = pool->idle[i];
                    pool->idle[i] = pool->idle[--pool->n_idle];
                    pool->idle_slot[i] = pool->idle_slot[pool->n_idle];
                    i--;
                    continue;
                }
                mine++;
                continue;
            }
            {
                b->conn = pool->idle[i];
                pool->idle[i] = pool->idle[--pool->n_idle];
                pool->idle_slot[i] = pool->idle_slot[pool->n_idle];
                pool->n_busy_at[t->slot]++;
                b->gen = atomic_load(&pool->gen);
                b->pid = pool->pid;
                b->reused = true;
                pthread_mutex_unlock(&pool->mu);
                lurk_conn_close(victim);
                return true;
            }
        }
        if (victim != NULL || mine + pool->n_busy_at[t->slot] < max)
            break;
        if (w != NULL && lurk_clock_ms() < deadline) {
            if (pause_for_checkin(pool, w, t->slot, deadline))
                continue;
            w = NULL; /* the job cannot pause: block */
        }
        int rc = pthread_cond_timedwait(&pool->cv, &pool->mu, &until);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->mu);
            if (max == 1)
                snprintf(err, errlen,
                         "the only connection to lurkd (lurk-connections = 1) stayed busy for "
                         "%d ms; the request was not sent",
                         pc->cfg.timeout_ms);
            else
                snprintf(err, errlen,
                         "all %zu connections to lurkd (lurk-connections) stayed busy for %d ms; "
                         "the request was not sent",
                         max, pc->cfg.timeout_ms);
            *busy = true;
            return false;
        }
    }
    pool->n_busy_at[t->slot]++;
    b->gen = atomic_load(&pool->gen);
    b->pid = pool->pid;
    /* Referenced: the health thread may swap in rotated credentials meanwhile. */
    if (addr->kind == LURK_ADDRESS_TLS && (ssl_ctx = tls_ctx(pc, pool, err, errlen)) != NULL &&
        SSL_CTX_up_ref(ssl_ctx) != 1) {
        snprintf(err, errlen, "cannot reference the TLS context");
        ssl_ctx = NULL;
    }
    pthread_mutex_unlock(&pool->mu);

    lurk_conn_close(victim);
    if (addr->kind != LURK_ADDRESS_TLS || ssl_ctx != NULL)
        b->conn = lurk_conn_open(addr, ssl_ctx, pc->cfg.timeout_ms, err, errlen);
    /* lurk-poll-us: blocking calls poll for the answer first; the ASYNC path never does. */
    if (b->conn != NULL)
        lurk_conn_set_poll(b->conn, (unsigned)pc->cfg.poll_us, true);
    SSL_CTX_free(ssl_ctx);
    if (b->conn != NULL)
        return true;
    pthread_mutex_lock(&pool->mu);
    if (atomic_load(&pool->gen) == b->gen && pool->n_busy_at[b->slot] > 0)
        pool->n_busy_at[b->slot]--;
    notify_free(pool);
    pthread_mutex_unlock(&pool->mu);
    return false;
}

static void checkin(struct lurk_prov_pool *pool, struct borrowed *b, bool healthy)
{
    pthread_mutex_lock(&pool->mu);
    if (atomic_load(&pool->gen) != b->gen) {
        /* Borrowed before a fork this process is the child of: not ours to use. */
        pthread_mutex_unlock(&pool->mu);
        lurk_conn_abandon(b->conn);
        return;
    }
    if (pool->n_busy_at[b->slot] > 0)
        pool->n_busy_at[b->slot]--;
    if (healthy && pool->n_idle < MAX_IDLE) {
        pool->idle_slot[pool->n_idle] = b->slot;
        pool->idle[pool->n_idle++] = b->conn;
        b->conn = NULL;
    }
    notify_free(pool);
    pthread_mutex_unlock(&pool->mu);
    /* A connection that failed mid-request may be mid-frame: never reuse it. */
    lurk_conn_abandon(b->conn);
}

/* ---- one request/response on a borrowed connection ---- */

/* This process forked since the connection was borrowed (a job resumed in the child). */
static bool forked_since(const struct borrowed *b)
{
    return atomic_load(&fork_gen) != b->gen || getpid() != b->pid;
}

/* As lurk_conn_call, but an ASYNC job (w) pauses instead of blocking for the response. */
static bool call(LURK_PROV_CTX *pc, struct lurk_prov_async_job *w, struct borrowed *b,
                 uint8_t designation, uint8_t type, const uint8_t *payload, size_t payload_len,
                 struct lurk_response *resp, char *err, size_t errlen)
{
    struct lurk_prov_async_hold hold = {
        .release = release_held,
        .pool = pc->pool,
        .pool_serial = pc->pool->serial,
        .gen = b->gen,
        .conn = b->conn,
        .slot = b->slot,
    };
    struct lurk_conn_request req;
    enum lurk_conn_status st;

    /* Outside ASYNC jobs the thread is the caller's to block, polling first (lurk-poll-us). */
    if (w == NULL && !lurk_prov_async_in_job())
        return lurk_conn_call(b->conn, designation, type, payload, payload_len, resp,
                              pc->cfg.timeout_ms, err, errlen);
    if (!lurk_conn_request(b->conn, designation, type, payload, payload_len, pc->cfg.timeout_ms,
                           &req, err, errlen))
        return false;
    /* A job that cannot pause (no wait ctx) blocks, but never polls (docs/provider.md §4). */
    if (w == NULL)
        return lurk_conn_response(b->conn, &req, resp, true, err, errlen) == LURK_CONN_DONE;
    /* Read what arrived before pausing again: a resume may come late, after the deadline. */
    while ((st = lurk_conn_response(b->conn, &req, resp, false, err, errlen)) == LURK_CONN_AGAIN) {
        bool paused;
        if (lurk_clock_ms() >= req.deadline_ms) {
            snprintf(err, errlen, "timed out");
            st = LURK_CONN_FAILED;
            break;
        }
        paused = pause_job(w, lurk_conn_fd(b->conn), false, req.deadline_ms, &hold);
        if (forked_since(b)) {
            /* The connection's TLS state belongs to the parent: not a byte more. */
            snprintf(err, errlen, "the process forked while waiting for lurkd");
            return false;
        }
        if (!paused) {
            st = lurk_conn_response(b->conn, &req, resp, true, err, errlen);
            break;
        }
    }
    lurk_prov_async_done(w);
    return st == LURK_CONN_DONE;
}

/* ---- one request, with one retry on another server ---- */

static void append(char *buf, size_t len, const char *sep, const char *text)
{
    size_t used = strlen(buf);

    if (used + 1 < len)
        snprintf(buf + used, len - used, "%s%s", used > 0 ? sep : "", text);
}

/* One failure, prefixed by its server when several are tried. */
static void add_cause(char *causes, size_t len, size_t n_servers, const char *server,
                      const char *err)
{
    char cause[768];

    if (n_servers > 1)
        snprintf(cause, sizeof(cause), "%s: %s", server, err);
    else
        snprintf(cause, sizeof(cause), "%s", err);
    append(causes, len, "; ", cause);
}

/* lurkd answers temporary_failure (designation lurk) when its queues are full. */
static bool temporary_failure(const struct lurk_response *resp)
{
    return resp->msg.hdr.designation == LURK_DESIGNATION_LURK &&
           resp->msg.hdr.status == LURK_STATUS_TEMPORARY_FAILURE;
}

bool lurk_prov_pool_call(LURK_PROV_CTX *pc, const struct lurk_address *server,
                         const char *key_id_hex, uint8_t designation, uint8_t type,
                         const uint8_t *payload, size_t payload_len, struct lurk_response *resp,
                         char *server_used, size_t server_used_len)
{
    int tried_slots[LURK_PROV_MAX_TARGETS];
    size_t n_tried = 0;
    bool slow = false; /* an attempt of this request used up time */
    struct lurk_prov_target t;
    char tried[1024] = "", causes[1536] = "";
    struct lurk_prov_async_job job, *w;

    memset(resp, 0, sizeof(*resp));
    if (server_used_len > 0)
        server_used[0] = '\0';
    if (pc->cfg.error[0] != '\0') {
        LURK_PROV_RAISE(pc, LURK_PROV_R_CONFIG, "server %s, key id %s: %s",
                        server != NULL          ? server->text
                        : pc->cfg.n_servers > 0 ? pc->cfg.servers[0].text
                                                : "(none)",
                        key_id_hex, pc->cfg.error);
        return false;
    }
    if (server != NULL && server->kind == LURK_ADDRESS_TCP && !lurk_address_is_loopback(server)) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_CONFIG,
                        "server %s, key id %s: plain tcp:// is allowed only on loopback; use "
                        "tls:// or unix:",
                        server->text, key_id_hex);
        return false;
    }
    if (server == NULL && pc->cfg.n_servers == 0) {
        LURK_PROV_RAISE(pc, LURK_PROV_R_NO_SERVER,
                        "key id %s: set lurk-server in the provider's openssl.cnf section or "
                        "name a server in the key reference",
                        key_id_hex);
        return false;
    }
    w = lurk_prov_async_begin(&job) ? &job : NULL;
    ERR_set_mark();
    /* The chosen server, then (when it fails or is busy answering) one other. */
    while (n_tried < (slow ? MAX_SLOW_SERVERS_PER_REQUEST : LURK_PROV_MAX_TARGETS) &&
           lurk_prov_fleet_pick(pc, server, tried_slots, n_tried, &t)) {
        int64_t started = lurk_clock_ms();

        tried_slots[n_tried++] = t.slot;
        if (n_tried > 1)
            lurk_prov_fleet_failover(pc, tried_slots[n_tried - 2]);
        append(tried, sizeof(tried), " then ", t.addr.text);
        for (int attempt = 0; attempt < 2; attempt++) {
            struct borrowed b;
            char err[300] = "";
            bool busy;
            int64_t t0;

            if (!checkout(pc, &t, attempt > 0, w, &b, &busy, err, sizeof(err))) {
                add_cause(causes, sizeof(causes), 2, t.addr.text, err);
                lurk_prov_fleet_done(
                    pc, &t, busy ? LURK_PROV_OUTCOME_BUSY : LURK_PROV_OUTCOME_FAILED, 0, err);
                if (busy)
                    goto fail; /* not the server's fault: the request was not sent */
                goto next_server;
            }
            t0 = lurk_clock_ms();
            if (call(pc, w, &b, designation, type, payload, payload_len, resp, err, sizeof(err))) {
                checkin(pc->pool, &b, true);
                lurk_prov_fleet_done(pc, &t, LURK_PROV_OUTCOME_ANSWERED, lurk_clock_ms() - t0,
                                     NULL);
                if (temporary_failure(resp) && n_tried < MAX_SLOW_SERVERS_PER_REQUEST) {
                    /* Busy, not broken: another server may have room. */
                    lurk_response_free(resp);
                    add_cause(causes, sizeof(causes), 2, t.addr.text,
                              "lurkd answered temporary_failure");
                    goto next_server;
                }
                ERR_pop_to_mark();
                if (server_used_len > 0)
                    snprintf(server_used, server_used_len, "%s", t.addr.text);
                return true;
            }
            checkin(pc->pool, &b, false);
            add_cause(causes, sizeof(causes), 2, t.addr.text, err);
            /*
             * A kept-alive connection lurkd closed fails at once: once more on a
             * fresh one. A request that used up its time is not repeated here.
             */
            if (b.reused && lurk_clock_ms() - t0 < pc->cfg.timeout_ms / 2) {
                /* Not a verdict on the server yet: the fresh connection decides. */
                continue;
            }
            lurk_prov_fleet_done(pc, &t, LURK_PROV_OUTCOME_FAILED, lurk_clock_ms() - t0, err);
            goto next_server;
        }
    next_server:
        slow |= lurk_clock_ms() - started >= pc->cfg.timeout_ms / 2;
    }
fail:
    ERR_pop_to_mark();
    LURK_PROV_RAISE(pc, LURK_PROV_R_TRANSPORT, "server %s, key id %s: %s", tried, key_id_hex,
                    causes[0] != '\0' ? causes : "no server left to try");
    return false;
}
