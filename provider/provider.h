/*
 * lurk.so's vocabulary, the one header every provider file includes: the
 * provider context (settings read once at init, the private library
 * context, the connection pool), the remote key object, the error reasons,
 * the pool and ASYNC handles, the functions the files share and the
 * dispatch tables each file exports. Declaring them in one place is what
 * keeps the files from including one another (no file has a header of its
 * own; the content classifier, pure code, keeps prov_content.h). Calls have
 * no circle either: lurk_prov.c, the entry point, lists the operations, and
 * nothing calls back into it (the private library context they all need is
 * prov_libctx.c's).
 *
 * docs/provider.md is the operator's view of all this.
 */
#ifndef LURK_PROVIDER_H
#define LURK_PROVIDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/async.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/types.h>

#include "lurk/address.h"
#include "lurk/keyref.h"
#include "lurk/tls12.h"

/* ---- names ---- */

/* The provider's name, as the core and error strings show it. */
#define LURK_PROV_NAME "lurk"
/* The version OSSL_PROV_PARAM_VERSION reports. */
#define LURK_PROV_VERSION "0.1.0"
/* Every algorithm this provider offers carries this property. */
#define LURK_PROV_PROPS "provider=lurk"

/*
 * Algorithm names with the default provider's aliases, verbatim: a name
 * list that disagreed with the names already in the library context's
 * namemap would be refused.
 */
#define LURK_PROV_NAMES_RSA     "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define LURK_PROV_NAMES_RSA_PSS "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10"
#define LURK_PROV_NAMES_EC      "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define LURK_PROV_NAMES_ED25519 "ED25519:1.3.101.112"
#define LURK_PROV_NAMES_ED448   "ED448:1.3.101.113"
#define LURK_PROV_NAMES_ECDSA   "ECDSA"

/*
 * A condition variable timed on CLOCK_MONOTONIC (the pool's and the fleet's
 * waits have deadlines that must not move with the wall clock).
 */
static inline void lurk_prov_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* ---- settings (lurk_prov.c; docs/provider.md §1 "openssl.cnf") ---- */

/* Settings limits and defaults. */
#define LURK_PROV_MAX_SERVERS          8
#define LURK_PROV_DEFAULT_TIMEOUT_MS   2000
#define LURK_PROV_DEFAULT_CONNECTIONS  4
#define LURK_PROV_MAX_CONNECTIONS      64
#define LURK_PROV_MAX_CREDENTIAL_BYTES (256 * 1024)
/* Addresses lurk-server names resolve to, all servers together (prov_fleet.c). */
#define LURK_PROV_MAX_TARGETS          32
#define LURK_PROV_MAX_WEIGHT           100
#define LURK_PROV_DEFAULT_PROBE_MIN_MS 250
#define LURK_PROV_DEFAULT_PROBE_MAX_MS 5000
#define LURK_PROV_DEFAULT_RESOLVE_MS   30000
#define LURK_PROV_DEFAULT_STATS_MS     5000
#define LURK_PROV_CREDENTIAL_CHECK_MS  3000

/* Where the provider's own log lines go (lurk-log; prov_log.c). */
enum lurk_prov_log_sink {
    LURK_PROV_LOG_SYSLOG,
    LURK_PROV_LOG_STDERR,
    LURK_PROV_LOG_FILE,
};

/* What a credential file was when read (rotation, prov_pool.c). */
struct lurk_prov_file_stamp {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    bool ok;
};

/*
 * What the operator configured. Read once by OSSL_provider_init (nginx and
 * haproxy chroot and drop privileges afterwards, so the CA, certificate and
 * key files are read into memory there). A problem is not fatal at init:
 * it is kept in error and reported by the first key operation.
 */
struct lurk_prov_config {
    struct lurk_address servers[LURK_PROV_MAX_SERVERS];
    int weight[LURK_PROV_MAX_SERVERS];  /* 1..100, share of traffic among peers */
    bool backup[LURK_PROV_MAX_SERVERS]; /* only when no other server is up */
    size_t n_servers;
    char *ca_path, *cert_path, *key_path; /* for messages */
    uint8_t *ca_pem, *cert_pem, *key_pem; /* file contents; key_pem is a secret */
    size_t ca_len, cert_len, key_len;
    struct lurk_prov_file_stamp ca_stamp, cert_stamp, key_stamp; /* as read at init */
    int timeout_ms;
    int poll_us;                    /* lurk-poll-us: lurk_conn_set_poll's cap, 0: never poll */
    int connections;                /* per server */
    int probe_min_ms, probe_max_ms; /* back-off of the probes of a down server */
    int resolve_ms;                 /* re-resolution period of host names */
    enum lurk_prov_log_sink log_sink;
    int log_fd;       /* LURK_PROV_LOG_FILE: opened at init (before chroot), -1 otherwise */
    char *log_path;   /* for messages */
    char *stats_path; /* lurk-stats: counters rewritten to <path>.<pid>; NULL: none */
    int stats_ms;
    char error[512]; /* empty when the settings are usable */
};

/* ---- the provider context (lurk_prov.c) ---- */

/* The connection pool of one provider instance, opaque outside prov_pool.c. */
struct lurk_prov_pool;

/* One loaded instance of the provider: what OSSL_provider_init hands the core as provctx. */
typedef struct lurk_prov_ctx {
    const OSSL_CORE_HANDLE *handle;
    struct lurk_prov_config cfg;
    /*
     * Private library context holding only the default provider
     * (docs/provider.md §4): decodes the public keys of key references,
     * verifies lurkd's signatures and carries the TLS link to lurkd.
     * Created on first use, never in OSSL_provider_init (config-load
     * recursion, openssl #20653).
     */
    pthread_mutex_t libctx_lock;
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *libctx_default;
    struct lurk_prov_pool *pool;
    struct lurk_prov_fleet *fleet;
    struct lurk_prov_log *log;
} LURK_PROV_CTX;

/* The private library context, created on first call (prov_libctx.c); NULL with an error raised. */
OSSL_LIB_CTX *lurk_prov_libctx(LURK_PROV_CTX *pc);

/* ---- the provider's own log (prov_log.c; docs/provider.md §5 "Log") ---- */

/* Rate limiter and lock of the log of one provider instance. */
struct lurk_prov_log;

struct lurk_prov_log *lurk_prov_log_new(void);
void lurk_prov_log_free(struct lurk_prov_log *log);
/*
 * One line to lurk-log ("lurk[pid]: ..."), whatever the application does
 * with OpenSSL's error queue. prio is a syslog priority. Rate-limited: a
 * burst, then about one line per second; what was dropped is counted in
 * the next line that passes.
 */
void lurk_prov_log(LURK_PROV_CTX *pc, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * ---- the servers: table (prov_fleet.c), choice (prov_balance.c), health
 * (prov_health.c), counters (prov_stats.c); docs/provider.md §4 ----
 */

/* The server table of one provider instance, opaque outside the fleet's files (prov_fleet.h). */
struct lurk_prov_fleet;

/* One server chosen for one attempt: an address to dial and its slot in the table. */
struct lurk_prov_target {
    struct lurk_address addr;
    int slot;
    bool was_down;
    bool probe; /* a request probing a down server (no health thread in this process) */
};

/* How an attempt on a target ended, for its health and counters. */
enum lurk_prov_outcome {
    LURK_PROV_OUTCOME_ANSWERED, /* lurkd answered, whatever the status */
    LURK_PROV_OUTCOME_FAILED,   /* connect, I/O or timeout: the server is marked down */
    LURK_PROV_OUTCOME_BUSY,     /* no connection came free: says nothing of the server */
};

/* The table from the settings (no network: names are resolved at first use). */
struct lurk_prov_fleet *lurk_prov_fleet_new(const struct lurk_prov_config *cfg);
/* Stops the health thread (if this process started one) and frees; NULL is a no-op. */
void lurk_prov_fleet_free(struct lurk_prov_fleet *fleet);
/*
 * Chooses the server for the next attempt, never one of the n_tried slots
 * already tried by this request: override (a key reference's server) when
 * set, else two random up servers (by weight; backups only when no other is
 * up) and the one with fewer requests outstanding in this process; when
 * none is up, the down server probed longest ago. False when none is left.
 * Starts the process's health thread on first use (prov_balance.c).
 */
bool lurk_prov_fleet_pick(LURK_PROV_CTX *pc, const struct lurk_address *override, const int *tried,
                          size_t n_tried, struct lurk_prov_target *t);
/*
 * Ends the attempt: outstanding count, counters, and the server's state
 * (logged on change; prov_health.c).
 */
void lurk_prov_fleet_done(LURK_PROV_CTX *pc, const struct lurk_prov_target *t,
                          enum lurk_prov_outcome outcome, int64_t latency_ms, const char *cause);
/* The request left the slot's server for another one. */
void lurk_prov_fleet_failover(LURK_PROV_CTX *pc, int slot);
/*
 * The health thread's work, one round (prov_health.c): probes down servers
 * that are due, re-resolves names and rewrites the counters file when due.
 * Returns the ms until the next thing is due.
 */
int64_t lurk_prov_fleet_tick(LURK_PROV_CTX *pc);

/* ---- errors (prov_err.c; docs/provider.md §5 "Errors") ---- */

/*
 * The provider's error reasons. They are registered with the core through
 * OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, so ERR_reason_error_string() and
 * nginx's error log print the text; the data string says which server, which
 * key id and what happened ("server %s, key id %s: %s").
 */
enum lurk_prov_reason {
    LURK_PROV_R_NO_EXCHANGE = 1,
    LURK_PROV_R_KEYREF_MALFORMED,
    LURK_PROV_R_KEYREF_VERSION,
    LURK_PROV_R_KEYREF_KEY_ID_TYPE,
    LURK_PROV_R_KEYREF_KEY_ID_MISMATCH,
    LURK_PROV_R_KEYREF_BAD_SPKI,
    LURK_PROV_R_KEYREF_BAD_SERVER,
    LURK_PROV_R_KEYREF_TRAILING_DATA,
    LURK_PROV_R_UNSUPPORTED_KEY_TYPE,
    LURK_PROV_R_CONFIG,
    LURK_PROV_R_NO_SERVER,
    LURK_PROV_R_TRANSPORT,
    LURK_PROV_R_LURK_ERROR,
    LURK_PROV_R_BAD_RESPONSE,
    LURK_PROV_R_BAD_SIGNATURE,
    LURK_PROV_R_UNSUPPORTED_DIGEST,
    LURK_PROV_R_UNSUPPORTED_PADDING,
    LURK_PROV_R_BAD_SALT_LENGTH,
    LURK_PROV_R_BUFFER_TOO_SMALL,
    LURK_PROV_R_BAD_PARAMETER,
    LURK_PROV_R_KEY_NOT_FOUND,
    LURK_PROV_R_BAD_URI,
    LURK_PROV_R_INTERNAL,
    LURK_PROV_R_NOT_EXPORTABLE,
};

/* The reason table handed to the core (terminated by {0, NULL}). */
const OSSL_ITEM *lurk_prov_reason_strings(void);

/* Captures core_new_error/core_set_error_debug/core_vset_error at init. */
void lurk_prov_err_init(const OSSL_DISPATCH *in);

/*
 * Raises one error attributed to this provider (handle), with a printf-style
 * data string. handle may be NULL before init: the error then goes under
 * ERR_LIB_PROV with the reason text in the data.
 */
void lurk_prov_raise(const OSSL_CORE_HANDLE *handle, int reason, const char *file, int line,
                     const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* lurk_prov_raise for provider context pc (may be NULL), at the caller's file, line and function.
 */
#define LURK_PROV_RAISE(pc, reason, ...)                                                           \
    lurk_prov_raise((pc) != NULL ? (pc)->handle : NULL, (reason), OPENSSL_FILE, OPENSSL_LINE,      \
                    OPENSSL_FUNC, __VA_ARGS__)

/* ---- remote keys (prov_key.c) ---- */

/*
 * A key whose private half lives in lurkd: the public key, the LURK key id
 * and optionally the server that holds it. Immutable once built, so the
 * keymgmt, signature and asym cipher share it without locks.
 */
struct lurk_prov_key {
    LURK_PROV_CTX *pc;
    enum lurk_keyref_key_type type;
    enum lurk_keyref_curve curve;
    EVP_PKEY *pub; /* in pc's private libctx */
    uint8_t *spki;
    size_t spki_len;
    struct lurk_key_id key_id;
    char key_id_hex[2 * LURK_KEY_ID_LEN + 1];
    bool has_server;
    struct lurk_address server; /* overrides lurk-server for this key */
    size_t max_sig_len;         /* RSA: modulus bytes; ECDSA: DER maximum; EdDSA: fixed */
    atomic_bool verified;       /* a signature from lurkd verified with pub (prov_signature.c) */
    char mandatory_md[32];      /* RSA-PSS keys restricted to one digest; "" otherwise */
};

/* The keymgmt name of a key type ("RSA", "RSA-PSS", "EC", "ED25519", "ED448"). */
const char *lurk_prov_key_type_name(enum lurk_keyref_key_type type);

/*
 * Builds a key from DER key-reference bytes (decoder; docs/provider.md §2
 * "Key reference"). NULL with an error raised, except when the bytes are
 * not a key reference at all: *not_ours is then set and nothing is raised.
 */
struct lurk_prov_key *lurk_prov_key_from_keyref(LURK_PROV_CTX *pc, const uint8_t *der, size_t len,
                                                bool *not_ours);
/*
 * Builds a key from a DER SubjectPublicKeyInfo lurkd announced (store),
 * held by server (NULL: lurk-server). NULL with an error raised.
 */
struct lurk_prov_key *lurk_prov_key_from_spki(LURK_PROV_CTX *pc, const uint8_t *spki, size_t len,
                                              const struct lurk_address *server);
/* A copy of key (the public key is shared, up-referenced); NULL on failure. */
struct lurk_prov_key *lurk_prov_key_dup(const struct lurk_prov_key *key);
/* Frees key; NULL is a no-op. */
void lurk_prov_key_free(struct lurk_prov_key *key);
/* The server text an error message should name for this key. */
const char *lurk_prov_key_server_text(const struct lurk_prov_key *key);

/* ---- transport (prov_pool.c; docs/provider.md §4) ---- */

struct lurk_response;

/*
 * The TLS client context in force (up-referenced: the caller frees it), built
 * from the link credentials on first use; NULL with the reason in err.
 */
SSL_CTX *lurk_prov_pool_tls(LURK_PROV_CTX *pc, char *err, size_t errlen);
/*
 * Re-reads lurk-ca, lurk-cert and lurk-key when a file changed (at most
 * every LURK_PROV_CREDENTIAL_CHECK_MS) and uses them for new connections;
 * a bad new set is logged and the old one kept. Called by the health thread.
 */
void lurk_prov_pool_check_credentials(LURK_PROV_CTX *pc);
/*
 * Whether a paused job was abandoned since the last call (its wait ctx freed
 * without a resume, e.g. haproxy closing a connection mid-handshake); clears it.
 */
bool lurk_prov_pool_any_abandoned(struct lurk_prov_pool *pool);
/* How many attempts on the slot's server were abandoned so; resets the count. */
unsigned lurk_prov_pool_take_abandoned(struct lurk_prov_pool *pool, int slot);
/* A pool without connections (they are made on first use); NULL when out of memory. */
struct lurk_prov_pool *lurk_prov_pool_new(void);
/* Closes the pool's idle connections and frees it; NULL is a no-op. */
void lurk_prov_pool_free(struct lurk_prov_pool *pool);
/*
 * One LURK request/response with the key's server (or lurk-server, in order
 * with failover). True when lurkd answered, whatever the status: the caller
 * reads resp->msg.hdr. False with one error raised naming the server(s),
 * the key id and the cause. key may be NULL (store lookups by key id text).
 */
bool lurk_prov_pool_call(LURK_PROV_CTX *pc, const struct lurk_address *server,
                         const char *key_id_hex, uint8_t designation, uint8_t type,
                         const uint8_t *payload, size_t payload_len, struct lurk_response *resp,
                         char *server_used, size_t server_used_len);

/* ---- waiting inside an OpenSSL ASYNC job (prov_async.c; docs/provider.md §4) ---- */

/* A lurk connection (lurk/client.h), lent to a paused job. */
struct lurk_conn;
/* What a job waits with (its wait fd and timer), opaque outside prov_async.c. */
struct lurk_prov_async;

/*
 * What a paused job holds from the pool. If the application frees the wait
 * ctx without resuming the job, the wait ctx's cleanup calls release.
 */
struct lurk_prov_async_hold {
    void (*release)(const struct lurk_prov_async_hold *hold);
    struct lurk_prov_pool *pool;
    unsigned long pool_serial; /* which pool, should another have its address by then */
    unsigned long gen;         /* fork generation of the pool when borrowed */
    struct lurk_conn *conn;    /* NULL: the job was waiting for a free connection */
    int slot;                  /* the server's slot (prov_fleet.c) the connection counts for */
};

/* The calling ASYNC job, as far as waiting goes; w is made at the first pause. */
struct lurk_prov_async_job {
    ASYNC_WAIT_CTX *wctx;
    struct lurk_prov_async *w;
};

/*
 * True inside an ASYNC job that has a wait ctx. Otherwise (and whenever a
 * wait below fails) the caller blocks as usual.
 */
bool lurk_prov_async_begin(struct lurk_prov_async_job *job);
/* True inside any ASYNC job, with a wait ctx or not (its thread runs the application's loop). */
bool lurk_prov_async_in_job(void);
/*
 * Pauses the job until fd is readable (edge: only a new event on it counts)
 * or deadline_ms (CLOCK_MONOTONIC) passes; the application polls one wait
 * fd for both, registered in the wait ctx at the first pause. Returns after
 * the application resumed the job, which may be early: the caller checks
 * again. False when the job could not pause (the caller blocks instead),
 * e.g. in a process forked since the wait fd was made. No OpenSSL error
 * mark may span it: the application runs on this thread meanwhile.
 */
bool lurk_prov_async_wait(struct lurk_prov_async_job *job, int fd, bool edge, int64_t deadline_ms,
                          const struct lurk_prov_async_hold *hold);
/* Stops watching the fd waited for (before it may be closed); job may be NULL. */
void lurk_prov_async_done(struct lurk_prov_async_job *job);

/* ---- core BIO upcalls (prov_bio.c) ---- */

/* Captures the core's BIO upcalls at init; false when one is missing. */
bool lurk_prov_bio_init(const OSSL_DISPATCH *in);
/* A BIO reading the core BIO cbio (up-referenced; freed with the BIO); NULL on failure. */
BIO *lurk_prov_bio_new_from_core(OSSL_CORE_BIO *cbio);
/* Reads a whole (small) input; false when it is larger than max. */
bool lurk_prov_bio_read_all(OSSL_CORE_BIO *cbio, size_t max, uint8_t **out, size_t *len);
/* Writes all of data to the core BIO (encoders); false on failure. */
bool lurk_prov_bio_write(OSSL_CORE_BIO *cbio, const void *data, size_t len);

/* ---- per-operation dispatch tables, listed by lurk_prov.c's query_operation ---- */

/* Key management, one table per key type (prov_keymgmt.c). */
extern const OSSL_DISPATCH lurk_prov_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH lurk_prov_rsa_pss_keymgmt_functions[];
extern const OSSL_DISPATCH lurk_prov_ec_keymgmt_functions[];
extern const OSSL_DISPATCH lurk_prov_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH lurk_prov_ed448_keymgmt_functions[];
/* Signing, one table for every key type (prov_signature.c). */
extern const OSSL_DISPATCH lurk_prov_signature_functions[];
/* RSA decryption for TLS 1.2 RSA key exchange (prov_asym_cipher.c). */
extern const OSSL_DISPATCH lurk_prov_rsa_asym_cipher_functions[];
/* Key-reference decoders: PEM -> DER, then DER -> key per key type (prov_decoder.c). */
extern const OSSL_DISPATCH lurk_prov_pem_to_der_decoder_functions[];
extern const OSSL_DISPATCH lurk_prov_der_to_rsa_decoder_functions[];
extern const OSSL_DISPATCH lurk_prov_der_to_rsa_pss_decoder_functions[];
extern const OSSL_DISPATCH lurk_prov_der_to_ec_decoder_functions[];
extern const OSSL_DISPATCH lurk_prov_der_to_ed25519_decoder_functions[];
extern const OSSL_DISPATCH lurk_prov_der_to_ed448_decoder_functions[];
/*
 * Encoders of the private key (prov_encoder.c): text says what the key is
 * and where its private half lives; PEM and DER private-key structures
 * fail with a reason instead of silently (docs/provider.md §3).
 */
extern const OSSL_DISPATCH lurk_prov_text_encoder_functions[];
extern const OSSL_DISPATCH lurk_prov_private_encoder_functions[];
/* The lurk: store loader (prov_store.c). */
extern const OSSL_DISPATCH lurk_prov_store_functions[];

#endif
