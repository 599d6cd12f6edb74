/*
 * lurkd configuration of the tls13 key-schedule exchanges: the [tls13]
 * section (the policy knobs of draft-mglt-lurk-tls13-01 §9.1 and the
 * bounds of the session table and PSK_DB) and the [psk.NAME] sections (the
 * external PSKs of PSK_DB, -01 §9.1). config.c finds the sections and lends
 * its helpers; docs/lurkd.conf.example documents every setting.
 */
#ifndef LURKD_CONF_CONFIG_TLS13_H
#define LURKD_CONF_CONFIG_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/conf.h>

/* Longest PSK accepted in [psk.NAME] (RFC 8446 leaves it open; 64 bytes hold any hash). */
#define LURKD_PSK_MAX_LEN 64

/* [psk.NAME]: one external PSK (RFC 8446 §4.2.11), or an imported resumption PSK. */
struct lurkd_psk_conf {
    char *name;
    uint8_t *identity; /* PskIdentity.identity, 1..65535 bytes */
    size_t identity_len;
    uint8_t secret[LURKD_PSK_MAX_LEN];
    size_t secret_len;
    const char *md_name; /* "SHA256" or "SHA384": the hash bound to the PSK */
    bool resumption;     /* kind = resumption: binder_key uses "res binder" */
    bool null_freshness; /* sessions on this PSK may use freshness null (255) */
    bool early_data;     /* the PSK may carry 0-RTT data (client_early_traffic_secret) */
    bool any_client;
    char **clients; /* names of [client.NAME] sections */
    size_t n_clients;
    char *where; /* "file:line" of the section */
};

/* [tls13]: -01 §9.1's CAPITAL parameters and the bounds lurkd adds. */
struct lurkd_tls13_conf {
    bool session_resumption;    /* SESSION_RESUMPTION */
    bool post_handshake_auth;   /* POST_HANDSHAKE_AUTH */
    bool client_early_traffic;  /* CLIENT_EARLY_TRAFFIC */
    bool early_exporter;        /* EARLY_EXPORTER_MASTER_SECRET */
    bool exporter;              /* MASTER_EXPORTER */
    bool resumption_delegation; /* SESSION_RESUMPTION_DELEGATION */
    unsigned max_tickets;       /* MAX_SESSION_TICKET_NBR, per LURK session */
    unsigned ticket_lifetime;   /* seconds, NewSessionTicket.ticket_lifetime */
    uint32_t max_early_data;    /* NewSessionTicket early_data max_early_data_size (0: none) */
    bool null_freshness;        /* client-role ECDHE sessions (no key, no PSK) may use null */
    unsigned max_sessions;      /* LURK sessions held, all clients */
    unsigned session_lifetime;  /* seconds a session lives after its last exchange */
    unsigned max_sessions_per_client;
    unsigned psk_db_size; /* resumption PSKs held (tickets issued or registered) */

    struct lurkd_psk_conf *psks;
    size_t n_psks;
};

/*
 * What config.c lends for these sections: errors that name file and line,
 * "file:line" strings, paths relative to the config file, and its value
 * parsers. ctx is config.c's parsing state.
 */
struct lurkd_config_reader {
    void *ctx;
    bool (*fail)(void *ctx, const char *section, const char *name, const char *msg);
    char *(*where)(void *ctx, const char *section, const char *name);
    char *(*path)(void *ctx, const char *value);
    bool (*parse_bool)(const char *v, bool *out);
    bool (*parse_uint)(const char *v, unsigned long long min, unsigned long long max, bool duration,
                       unsigned long long *out);
    char **(*split_list)(const char *v, size_t *n); /* comma/space list, NULL-terminated */
    void (*free_list)(char **list, size_t n);
    /* Whether a [client.NAME] section exists. */
    bool (*client_exists)(void *ctx, const char *name);
};

/*
 * [tls13] (section "tls13") and [psk.NAME], into *t (allocated with the
 * defaults on first use); false after r->fail.
 */
bool lurkd_config_tls13_section(const struct lurkd_config_reader *r, struct lurkd_tls13_conf **t,
                                const char *section, STACK_OF(CONF_VALUE) * values);
bool lurkd_config_psk_section(const struct lurkd_config_reader *r, struct lurkd_tls13_conf **t,
                              const char *section, const char *name, STACK_OF(CONF_VALUE) * values);
/* Checks that need every section: PSK clients exist, identities are unique. t may be NULL. */
bool lurkd_config_tls13_finish(const struct lurkd_config_reader *r,
                               const struct lurkd_tls13_conf *t);
/* Wipes the PSK secrets and frees; NULL is a no-op. */
void lurkd_config_tls13_free(struct lurkd_tls13_conf *t);

/* The [tls13] settings of a file that has no [tls13] section. */
const struct lurkd_tls13_conf *lurkd_config_tls13_defaults(void);

#endif
