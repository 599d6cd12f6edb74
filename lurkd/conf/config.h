/*
 * lurkd configuration: OpenSSL config syntax (NCONF), one section per
 * listener, key and client, plus command-line additions (--listen, --key).
 * Every error names the file and line. docs/lurkd.conf.example is the
 * reference and is used by the tests.
 */
#ifndef LURKD_CONF_CONFIG_H
#define LURKD_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/identity.h"
#include "ops/log.h"
#include "lurk/address.h"

/* The private-key exchanges a key may be used for (per-key "exchanges"). */
enum lurkd_exchange {
    LURKD_EX_RSA_MASTER = 1u << 0,
    LURKD_EX_RSA_MASTER_WITH_POH = 1u << 1,
    LURKD_EX_RSA_EXTENDED_MASTER = 1u << 2,
    LURKD_EX_RSA_EXTENDED_MASTER_WITH_POH = 1u << 3,
    LURKD_EX_ECDHE = 1u << 4,
    LURKD_EX_RSA_PREMASTER = 1u << 5,
    LURKD_EX_SIGN_CERTIFICATE_VERIFY = 1u << 6,
    /*
     * tls12 client_certificate_verify: a client key's signature, so never in
     * the default set (docs/protocol.md); below TLS13, the last bit.
     */
    LURKD_EX_CLIENT_CERTIFICATE_VERIFY = 1u << 7,
    LURKD_EX_TLS13 = 1u << 8, /* the tls13 key-schedule exchanges that sign */
};
/*
 * RSA key transport: a client allowed these can decrypt every recorded TLS
 * 1.2 RSA-key-exchange session made with the key (docs/security.md), so a
 * key offers them only when its section names them.
 */
#define LURKD_EX_RSA_KEY_TRANSPORT                                                                 \
    (LURKD_EX_RSA_MASTER | LURKD_EX_RSA_MASTER_WITH_POH | LURKD_EX_RSA_EXTENDED_MASTER |           \
     LURKD_EX_RSA_EXTENDED_MASTER_WITH_POH | LURKD_EX_RSA_PREMASTER)
/* What a key does when its section says nothing ("exchanges = all" says the same). */
#define LURKD_EX_SIGNING (LURKD_EX_ECDHE | LURKD_EX_SIGN_CERTIFICATE_VERIFY | LURKD_EX_TLS13)

/* Config name of one exchange bit ("rsa_master", ...). */
const char *lurkd_exchange_name(enum lurkd_exchange ex);

enum lurkd_identity_kind {
    LURKD_IDENTITY_SPKI_SHA256, /* a tls:// peer: SHA-256 of its certificate's SPKI */
    LURKD_IDENTITY_UID,         /* a unix: peer: its uid (SO_PEERCRED) */
    LURKD_IDENTITY_TCP,         /* any peer of a plain tcp:// listener */
    LURKD_IDENTITY_CA,          /* a tls:// peer whose certificate the client's rules match */
};

struct lurkd_identity {
    enum lurkd_identity_kind kind;
    uint8_t spki_sha256[32];
    uid_t uid;
};

struct lurkd_client_conf {
    char *name;
    struct lurkd_identity *ids;
    size_t n_ids;
    /* identity = ca (conf/identity.h): one rule must match a name of the certificate */
    struct lurkd_name_rule *rules;
    size_t n_rules;
    /* ca = FILE: when set, the verified chain must hold one of these certificates */
    uint8_t (*ca_sha256)[32];
    size_t n_ca;
    char *ca_file;  /* the ca = file, for messages */
    char *where;    /* "file:line" of the section */
    char *ca_where; /* ... of its ca setting */
};

struct lurkd_listener_conf {
    char *name;
    struct lurk_address addr;
    char *certificate;   /* tls: server certificate chain (PEM) */
    char *private_key;   /* tls: server key */
    char *client_ca;     /* tls: CA that issued the client certificates */
    char *client_crl;    /* tls: optional CRLs of those CAs (PEM or DER) */
    bool insecure;       /* tcp: allow a non-loopback address */
    unsigned mode;       /* unix: socket file mode */
    char *where;         /* "file:line" of the section, for later messages */
    char *address_where; /* "file:line" of its address setting */
};

struct lurkd_key_conf {
    char *name;
    char *source;        /* path, OSSL_STORE URI or engine:ID:KEY_ID (engine_key.h) */
    char *certificate;   /* optional: announced in capabilities, matched by tls13 */
    char *pin_file;      /* engine keys: file holding the token PIN, read at load */
    char *engine_module; /* engine keys: the engine's MODULE_PATH (a PKCS#11 module) */
    uint32_t exchanges;
    bool any_client;
    char **clients; /* names of [client.NAME] sections */
    size_t n_clients;
    bool null_freshness; /* accept freshness null (255); the provider needs it */
    bool check_time;     /* check gmt_unix_time of the tls12 server random */
    unsigned time_window;
    char *where;             /* "file:line" of the section */
    char *source_where;      /* ... of its source setting */
    char *certificate_where; /* ... of its certificate setting */
    char *exchanges_where;   /* ... of its exchanges setting; NULL when not set */
    char *pin_file_where, *engine_module_where;
};

struct lurkd_tls13_conf;   /* conf/config_tls13.h */
struct lurkd_metrics_conf; /* conf/config_metrics.h */

struct lurkd_config {
    char *path; /* NULL when everything came from the command line */
    unsigned workers;
    unsigned io_threads;
    unsigned idle_poll_us; /* an idle I/O loop polls up to this long before sleeping */
    size_t max_frame;
    unsigned queue_limit;      /* requests queued for the workers, all connections */
    unsigned connection_limit; /* requests in flight per connection */
    unsigned peer_queue_limit; /* requests queued for the workers, per peer (net/peer_limit.h) */
    unsigned max_connections;
    unsigned max_connections_per_peer; /* per uid, address, or client identity (net/peer_limit.h) */
    unsigned idle_timeout;             /* seconds without a request before a connection is closed */
    unsigned request_timeout;          /* seconds for a TLS handshake, a request, a blocked write */
    unsigned drain_timeout;            /* seconds SIGTERM waits for in-flight work */
    char *audit_log;
    unsigned audit_repeat_interval; /* seconds; 0: every refusal on its own line (audit.h) */
    char *error_log;
    enum lurkd_log_level log_level;
    char *pid_file;
    /*
     * The account lurkd runs as once its listeners are bound and its keys
     * loaded, when started as root (privileges.h); run_as_root allows
     * staying root without one.
     */
    char *user;
    uid_t uid;
    gid_t gid;
    bool run_as_root;
    char *user_where; /* "file:line" of the user setting, or "--user" */
    /* Clients that may read metrics (lurk "stats"); local root and lurkd's own uid always may. */
    char **stats_clients;
    size_t n_stats_clients;
    /* Defaults for tls:// listeners that do not set their own. */
    char *certificate, *private_key, *client_ca, *client_crl;
    /* The CRLs of every listener's client_crl, checked again at each request (conf/identity.h). */
    STACK_OF(X509_CRL) * crls;
    /* [keys] directory: every NAME.key with NAME.crt (docs/deploy.md §5); NULL when unset */
    char *keys_directory;

    struct lurkd_listener_conf *listeners;
    size_t n_listeners;
    struct lurkd_key_conf *keys;
    size_t n_keys;
    struct lurkd_client_conf *clients;
    size_t n_clients;
    /* [tls13] and [psk.NAME] (config_tls13.h); NULL when the file has neither. */
    struct lurkd_tls13_conf *tls13;
    /* [metrics] (config_metrics.h); NULL when the endpoint is off. */
    struct lurkd_metrics_conf *metrics;
};

/*
 * Loads and checks a config file. On error returns NULL and writes
 * "FILE:LINE: message" (or "FILE: message") into err.
 */
struct lurkd_config *lurkd_config_load(const char *path, char *err, size_t errlen);
/* An empty config with the defaults, for command-line-only runs. */
struct lurkd_config *lurkd_config_new(void);
/* --listen ADDR and --key PATH_OR_URI (every client, the signing exchanges). */
bool lurkd_config_add_listener(struct lurkd_config *cfg, const char *address, char *err,
                               size_t errlen);
bool lurkd_config_add_key(struct lurkd_config *cfg, const char *source, char *err, size_t errlen);
/* --user USER[:GROUP], as the user and group settings; --run-as-root sets run_as_root. */
bool lurkd_config_set_user(struct lurkd_config *cfg, const char *spec, char *err, size_t errlen);
/* Checks that need the whole config (listeners exist, tls credentials present, ...). */
bool lurkd_config_finish(struct lurkd_config *cfg, char *err, size_t errlen);
void lurkd_config_free(struct lurkd_config *cfg);

const struct lurkd_client_conf *lurkd_config_find_client(const struct lurkd_config *cfg,
                                                         const char *name);
/* cfg's [tls13] settings (conf/config_tls13.h), or the defaults when it has none; never NULL. */
const struct lurkd_tls13_conf *lurkd_tls13_conf(const struct lurkd_config *cfg);
/* Whether a key source names an engine key ("engine:ID:KEY_ID", keys/engine_key.h). */
bool lurkd_key_source_is_engine(const char *source);

#endif
