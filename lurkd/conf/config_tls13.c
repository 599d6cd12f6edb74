/* [tls13] and [psk.NAME]; see config_tls13.h and docs/lurkd.conf.example. */
#include "conf/config_tls13.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "lurk/hex.h"
#include "keys/secret_file.h"

/*
 * Defaults, documented in docs/lurkd.conf.example. -01 §9.1: "By default,
 * these SHOULD be enabled" for SESSION_RESUMPTION and POST_HANDSHAKE_AUTH;
 * resumption delegation hands out resumption_master_secret, which §6 says
 * the CS does not do, so it is off unless asked for.
 */
static const struct lurkd_tls13_conf defaults = {
    .session_resumption = true,
    .post_handshake_auth = true,
    .client_early_traffic = true,
    .early_exporter = true,
    .exporter = true,
    .resumption_delegation = false,
    .max_tickets = 4,
    .ticket_lifetime = 7200,
    .max_early_data = 16384,
    .null_freshness = false,
    .max_sessions = 4096,
    .session_lifetime = 60,
    .max_sessions_per_client = 1024,
    .psk_db_size = 16384,
};

const struct lurkd_tls13_conf *lurkd_config_tls13_defaults(void)
{
    return &defaults;
}

static struct lurkd_tls13_conf *conf_of(struct lurkd_tls13_conf **t)
{
    if (*t == NULL && (*t = malloc(sizeof(**t))) != NULL)
        **t = defaults;
    return *t;
}

static bool failf(const struct lurkd_config_reader *r, const char *section, const char *name,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static bool failf(const struct lurkd_config_reader *r, const char *section, const char *name,
                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return r->fail(r->ctx, section, name, msg);
}

/* A yes/no setting of [tls13]. */
static const struct {
    const char *name;
    size_t offset;
} bool_settings[] = {
    {"session_resumption", offsetof(struct lurkd_tls13_conf, session_resumption)},
    {"post_handshake_auth", offsetof(struct lurkd_tls13_conf, post_handshake_auth)},
    {"client_early_traffic", offsetof(struct lurkd_tls13_conf, client_early_traffic)},
    {"early_exporter", offsetof(struct lurkd_tls13_conf, early_exporter)},
    {"exporter", offsetof(struct lurkd_tls13_conf, exporter)},
    {"resumption_delegation", offsetof(struct lurkd_tls13_conf, resumption_delegation)},
    {"null_freshness", offsetof(struct lurkd_tls13_conf, null_freshness)},
};

/* A number setting of [tls13]: bounds, duration or count, where it goes. */
static const struct {
    const char *name;
    unsigned long long min, max;
    bool duration;
    const char *range; /* for the error message */
    size_t offset;
} uint_settings[] = {
    /* RFC 8446 §4.6.1 caps ticket_lifetime at 7 days; a ticket_list holds 16 at most (T21). */
    {"max_tickets", 0, 16, false, "0..16", offsetof(struct lurkd_tls13_conf, max_tickets)},
    {"ticket_lifetime", 1, 604800, true, "1s..168h",
     offsetof(struct lurkd_tls13_conf, ticket_lifetime)},
    {"max_early_data", 0, 0xffffffffULL, false, "0..4294967295",
     offsetof(struct lurkd_tls13_conf, max_early_data)},
    {"max_sessions", 1, 1000000, false, "1..1000000",
     offsetof(struct lurkd_tls13_conf, max_sessions)},
    {"session_lifetime", 1, 86400, true, "1s..24h",
     offsetof(struct lurkd_tls13_conf, session_lifetime)},
    {"max_sessions_per_client", 1, 1000000, false, "1..1000000",
     offsetof(struct lurkd_tls13_conf, max_sessions_per_client)},
    {"psk_db_size", 1, 10000000, false, "1..10000000",
     offsetof(struct lurkd_tls13_conf, psk_db_size)},
};

bool lurkd_config_tls13_section(const struct lurkd_config_reader *r, struct lurkd_tls13_conf **conf,
                                const char *section, STACK_OF(CONF_VALUE) * values)
{
    struct lurkd_tls13_conf *t = conf_of(conf);

    if (t == NULL)
        return failf(r, section, NULL, "out of memory");
    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        bool known = false;
        for (size_t k = 0; !known && k < sizeof(bool_settings) / sizeof(bool_settings[0]); k++) {
            if (strcmp(v->name, bool_settings[k].name) != 0)
                continue;
            known = true;
            if (!r->parse_bool(v->value, (bool *)((char *)t + bool_settings[k].offset)))
                return failf(r, section, v->name, "%s must be yes or no", v->name);
        }
        for (size_t k = 0; !known && k < sizeof(uint_settings) / sizeof(uint_settings[0]); k++) {
            unsigned long long n;
            if (strcmp(v->name, uint_settings[k].name) != 0)
                continue;
            known = true;
            if (!r->parse_uint(v->value, uint_settings[k].min, uint_settings[k].max,
                               uint_settings[k].duration, &n))
                return failf(r, section, v->name, "%s must be %s", v->name, uint_settings[k].range);
            if (uint_settings[k].offset == offsetof(struct lurkd_tls13_conf, max_early_data))
                t->max_early_data = (uint32_t)n;
            else
                *(unsigned *)((char *)t + uint_settings[k].offset) = (unsigned)n;
        }
        if (!known)
            return failf(r, section, v->name, "unknown setting \"%s\" in [tls13]", v->name);
    }
    if (t->max_sessions_per_client > t->max_sessions)
        return failf(r, section, "max_sessions_per_client",
                     "max_sessions_per_client (%u) is larger than max_sessions (%u)",
                     t->max_sessions_per_client, t->max_sessions);
    return true;
}

/* Hex with optional spaces, colons or newlines between byte pairs. */
static bool hex_loose(const char *text, uint8_t *out, size_t max, size_t *len)
{
    char *clean = malloc(strlen(text) + 1);
    size_t n = 0;
    bool ok;

    if (clean == NULL)
        return false;
    for (const char *p = text; *p != '\0'; p++)
        if (!isspace((unsigned char)*p) && *p != ':')
            clean[n++] = *p;
    clean[n] = '\0';
    ok = n > 0 && lurk_hex_decode(clean, out, max, len);
    OPENSSL_cleanse(clean, n);
    free(clean);
    return ok;
}

/* The hex text of a secret_file (owner-readable only, like a key file). */
static bool read_secret_file(const char *path, uint8_t *out, size_t *len, char *why, size_t whylen)
{
    FILE *f;
    char buf[4 * LURKD_PSK_MAX_LEN + 64];
    size_t n;
    bool ok;

    if (!lurkd_secret_file_private(path, why, whylen))
        return false;
    if ((f = fopen(path, "r")) == NULL) {
        snprintf(why, whylen, "cannot open secret_file %s", path);
        return false;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    ok = feof(f) && !ferror(f);
    fclose(f);
    buf[n] = '\0';
    if (!ok) {
        snprintf(why, whylen, "secret_file %s is too long", path);
        OPENSSL_cleanse(buf, sizeof(buf));
        return false;
    }
    ok = hex_loose(buf, out, LURKD_PSK_MAX_LEN, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok)
        snprintf(why, whylen, "secret_file %s does not hold 1..%d bytes of hex", path,
                 LURKD_PSK_MAX_LEN);
    return ok;
}

static void psk_clear(struct lurkd_psk_conf *p)
{
    free(p->name);
    free(p->identity);
    OPENSSL_cleanse(p->secret, sizeof(p->secret));
    for (size_t i = 0; i < p->n_clients; i++)
        free(p->clients[i]);
    free(p->clients);
    free(p->where);
    memset(p, 0, sizeof(*p));
}

bool lurkd_config_psk_section(const struct lurkd_config_reader *r, struct lurkd_tls13_conf **conf,
                              const char *section, const char *name, STACK_OF(CONF_VALUE) * values)
{
    struct lurkd_tls13_conf *t = conf_of(conf);
    struct lurkd_psk_conf *p;
    bool have_secret = false;
    void *grown;

    if (t == NULL || (grown = realloc(t->psks, (t->n_psks + 1) * sizeof(*t->psks))) == NULL)
        return failf(r, section, NULL, "out of memory");
    t->psks = grown;
    p = &t->psks[t->n_psks++];
    memset(p, 0, sizeof(*p));
    p->name = strdup(name);
    p->md_name = "SHA256";
    p->early_data = true;
    p->where = r->where(r->ctx, section, NULL);
    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        char why[600];
        if (strcmp(v->name, "identity") == 0 || strcmp(v->name, "identity_hex") == 0) {
            size_t len = strlen(v->value);
            free(p->identity);
            p->identity = malloc(len > 0 ? len : 1);
            if (p->identity == NULL)
                return failf(r, section, v->name, "out of memory");
            if (v->name[8] == '\0') {
                memcpy(p->identity, v->value, len);
            } else if (!hex_loose(v->value, p->identity, len, &len)) {
                return failf(r, section, v->name, "identity_hex must be hex");
            }
            /* RFC 8446 §4.2.11: identity<1..2^16-1>. */
            if (len == 0 || len > 0xffff)
                return failf(r, section, v->name, "identity must be 1..65535 bytes");
            p->identity_len = len;
        } else if (strcmp(v->name, "secret") == 0) {
            if (!hex_loose(v->value, p->secret, sizeof(p->secret), &p->secret_len))
                return failf(r, section, v->name, "secret must be 1..%d bytes of hex",
                             LURKD_PSK_MAX_LEN);
            have_secret = true;
        } else if (strcmp(v->name, "secret_file") == 0) {
            char *path = r->path(r->ctx, v->value);
            bool ok =
                path != NULL && read_secret_file(path, p->secret, &p->secret_len, why, sizeof(why));
            if (path == NULL)
                snprintf(why, sizeof(why), "out of memory");
            free(path);
            if (!ok)
                return failf(r, section, v->name, "%s", why);
            have_secret = true;
        } else if (strcmp(v->name, "hash") == 0) {
            if (strcasecmp(v->value, "SHA256") == 0 || strcasecmp(v->value, "SHA-256") == 0)
                p->md_name = "SHA256";
            else if (strcasecmp(v->value, "SHA384") == 0 || strcasecmp(v->value, "SHA-384") == 0)
                p->md_name = "SHA384";
            else
                return failf(r, section, v->name, "hash must be SHA256 or SHA384");
        } else if (strcmp(v->name, "kind") == 0) {
            if (strcmp(v->value, "external") == 0)
                p->resumption = false;
            else if (strcmp(v->value, "resumption") == 0)
                p->resumption = true;
            else
                return failf(r, section, v->name, "kind must be external or resumption");
        } else if (strcmp(v->name, "null_freshness") == 0) {
            if (!r->parse_bool(v->value, &p->null_freshness))
                return failf(r, section, v->name, "null_freshness must be yes or no");
        } else if (strcmp(v->name, "early_data") == 0) {
            if (!r->parse_bool(v->value, &p->early_data))
                return failf(r, section, v->name, "early_data must be yes or no");
        } else if (strcmp(v->name, "clients") == 0) {
            for (size_t c = 0; c < p->n_clients; c++)
                free(p->clients[c]);
            free(p->clients);
            p->clients = r->split_list(v->value, &p->n_clients);
            p->any_client = false;
            for (size_t c = 0; c < p->n_clients; c++)
                if (strcmp(p->clients[c], "*") == 0)
                    p->any_client = true;
        } else {
            return failf(r, section, v->name, "unknown setting \"%s\" in a psk section", v->name);
        }
    }
    if (p->identity == NULL)
        return failf(r, section, NULL, "psk \"%s\" has no identity (identity or identity_hex)",
                     name);
    if (!have_secret)
        return failf(r, section, NULL, "psk \"%s\" has no secret (secret or secret_file)", name);
    if (p->n_clients == 0 && !p->any_client)
        return failf(r, section, NULL,
                     "psk \"%s\" lists no clients (use clients = NAME, ... or clients = *)", name);
    return true;
}

bool lurkd_config_tls13_finish(const struct lurkd_config_reader *r,
                               const struct lurkd_tls13_conf *t)
{
    for (size_t i = 0; t != NULL && i < t->n_psks; i++) {
        const struct lurkd_psk_conf *p = &t->psks[i];
        char section[512];
        snprintf(section, sizeof(section), "psk.%s", p->name);
        for (size_t c = 0; c < p->n_clients; c++) {
            if (strcmp(p->clients[c], "*") == 0 || r->client_exists(r->ctx, p->clients[c]))
                continue;
            return failf(r, section, "clients", "unknown client \"%s\" (no [client.%s] section)",
                         p->clients[c], p->clients[c]);
        }
        /* psk_id names a PSK by identity: two with the same one would be ambiguous. */
        for (size_t j = 0; j < i; j++) {
            if (t->psks[j].identity_len == p->identity_len &&
                memcmp(t->psks[j].identity, p->identity, p->identity_len) == 0)
                return failf(r, section, NULL, "psk \"%s\" has the same identity as psk \"%s\"",
                             p->name, t->psks[j].name);
        }
    }
    return true;
}

void lurkd_config_tls13_free(struct lurkd_tls13_conf *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_psks; i++)
        psk_clear(&t->psks[i]);
    free(t->psks);
    free(t);
}
