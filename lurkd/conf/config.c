/*
 * lurkd configuration; see config.h and docs/lurkd.conf.example.
 *
 * The file is parsed by OpenSSL's NCONF (syntax, variables, .include), then
 * every section and setting is checked here. NCONF keeps no line numbers for
 * values, so errors locate the offending line by scanning the file for the
 * section header and the setting name.
 */
#include "conf/config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/err.h>

#include "conf/config_metrics.h"
#include "conf/config_scan.h"
#include "conf/config_tls13.h"
#include "lurk/hex.h"

/* Defaults, documented in docs/lurkd.conf.example. */
#define DEFAULT_MAX_FRAME             65536
#define DEFAULT_QUEUE_LIMIT           4096
#define DEFAULT_CONNECTION_LIMIT      256
#define DEFAULT_MAX_CONNECTIONS       4096
#define DEFAULT_IDLE_TIMEOUT          300
#define DEFAULT_REQUEST_TIMEOUT       10
#define DEFAULT_AUDIT_REPEAT_INTERVAL 10
/* One peer may hold an eighth of max_connections, and of queue_limit, unless set otherwise. */
#define DEFAULT_PER_PEER_SHARE 8
#define DEFAULT_DRAIN_TIMEOUT  10
#define DEFAULT_TIME_WINDOW    300
/* The cap of an idle I/O loop's polling (docs/performance.md, "Polling before sleeping"). */
#define DEFAULT_IDLE_POLL_US 50

static const struct {
    const char *name;
    enum lurkd_exchange bit;
} exchange_names[] = {
    {"rsa_master", LURKD_EX_RSA_MASTER},
    {"rsa_master_with_poh", LURKD_EX_RSA_MASTER_WITH_POH},
    {"rsa_extended_master", LURKD_EX_RSA_EXTENDED_MASTER},
    {"rsa_extended_master_with_poh", LURKD_EX_RSA_EXTENDED_MASTER_WITH_POH},
    {"ecdhe", LURKD_EX_ECDHE},
    {"rsa_premaster", LURKD_EX_RSA_PREMASTER},
    {"sign_certificate_verify", LURKD_EX_SIGN_CERTIFICATE_VERIFY},
    {"client_certificate_verify", LURKD_EX_CLIENT_CERTIFICATE_VERIFY},
    {"tls13", LURKD_EX_TLS13},
};

const char *lurkd_exchange_name(enum lurkd_exchange ex)
{
    for (size_t i = 0; i < sizeof(exchange_names) / sizeof(exchange_names[0]); i++)
        if (exchange_names[i].bit == ex)
            return exchange_names[i].name;
    return "unknown";
}

/* Parsing state: the file and where errors go. */
struct parse {
    const char *path;
    struct lurkd_conf_index ix; /* where each setting is, included files too */
    CONF *conf;
    const struct lurkd_config *cfg;
    char *err;
    size_t errlen;
    /* [keys]: the policy every key of the directory starts from, and the NAMEs found there */
    struct lurkd_key_conf *keys_defaults;
    char **dir_keys;
    size_t n_dir_keys;
    bool *dir_key_claimed; /* by a [key.NAME] section */
};

/* "file:line" of name in [section] (of its header when name is NULL); false when not found. */
static bool locate(const struct parse *p, const char *section, const char *name, char *buf,
                   size_t len)
{
    const struct lurkd_conf_loc *l =
        p->path != NULL ? lurkd_conf_index_find(&p->ix, section, name) : NULL;

    if (l == NULL)
        return false;
    snprintf(buf, len, "%s:%d", l->file, l->line);
    return true;
}

static bool failf(struct parse *p, const char *section, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool failf(struct parse *p, const char *section, const char *name, const char *fmt, ...)
{
    char msg[512], at[4200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->path == NULL)
        snprintf(p->err, p->errlen, "%s", msg);
    else if (section != NULL && locate(p, section, name, at, sizeof(at)))
        snprintf(p->err, p->errlen, "%s: %s", at, msg);
    else
        snprintf(p->err, p->errlen, "%s: [%s]: %s", p->path, section ? section : "?", msg);
    return false;
}

/*
 * "file:line" of setting name in section (of the section header when name
 * is NULL), for errors found after parsing (listeners, keys).
 */
static char *where(const struct parse *p, const char *section, const char *name)
{
    char buf[4200];

    if (p->path == NULL)
        snprintf(buf, sizeof(buf), "command line");
    else if (locate(p, section, name, buf, sizeof(buf)))
        ;
    else
        snprintf(buf, sizeof(buf), "%s [%s]", p->path, section);
    return strdup(buf);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "on", "true", "1"};
    static const char *const no[] = {"no", "off", "false", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* An unsigned integer with an optional k/m (sizes) or s/m/h (durations) suffix. */
static bool parse_uint(const char *v, unsigned long long min, unsigned long long max, bool duration,
                       unsigned long long *out)
{
    char *end;
    unsigned long long n, mult = 1;

    if (!isdigit((unsigned char)*v))
        return false;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0)
        return false;
    if (*end != '\0') {
        char s = (char)tolower((unsigned char)*end);
        if (end[1] != '\0')
            return false;
        if (duration && s == 's')
            mult = 1;
        else if (duration && s == 'm')
            mult = 60;
        else if (duration && s == 'h')
            mult = 3600;
        else if (!duration && s == 'k')
            mult = 1024;
        else if (!duration && s == 'm')
            mult = 1024 * 1024;
        else
            return false;
    }
    if (n > max / mult)
        return false;
    n *= mult;
    if (n < min || n > max)
        return false;
    *out = n;
    return true;
}

/* Splits a comma and/or space separated list into a NULL-terminated array. */
static char **split_list(const char *v, size_t *n)
{
    char *copy = strdup(v), *save = NULL, **out = NULL;
    size_t count = 0;

    if (copy == NULL)
        return NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL;
         tok = strtok_r(NULL, ", \t", &save)) {
        char **grown = realloc(out, (count + 2) * sizeof(*out));
        if (grown == NULL)
            break;
        out = grown;
        out[count++] = strdup(tok);
        out[count] = NULL;
    }
    free(copy);
    *n = count;
    return out;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Relative paths in the file are relative to the file's directory. */
static char *resolve_path(const struct parse *p, const char *v)
{
    const char *slash;
    char *out;

    if (v[0] == '/' || p->path == NULL || strchr(v, ':') != NULL ||
        (slash = strrchr(p->path, '/')) == NULL)
        return strdup(v);
    if (asprintf(&out, "%.*s/%s", (int)(slash - p->path), p->path, v) < 0)
        return NULL;
    return out;
}

struct lurkd_config *lurkd_config_new(void)
{
    struct lurkd_config *cfg = calloc(1, sizeof(*cfg));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    if (cfg == NULL)
        return NULL;
    cfg->workers = cpus > 0 ? (unsigned)cpus : 1;
    /*
     * One event loop per CPU: a loop signs quick requests itself, so one
     * loop would cap them at one CPU (docs/performance.md, "Taking the
     * kernel out of the hand-off").
     */
    cfg->io_threads = cpus > 64 ? 64 : cfg->workers;
    cfg->idle_poll_us = DEFAULT_IDLE_POLL_US;
    cfg->max_frame = DEFAULT_MAX_FRAME;
    cfg->queue_limit = DEFAULT_QUEUE_LIMIT;
    cfg->connection_limit = DEFAULT_CONNECTION_LIMIT;
    cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
    cfg->idle_timeout = DEFAULT_IDLE_TIMEOUT;
    cfg->request_timeout = DEFAULT_REQUEST_TIMEOUT;
    cfg->audit_repeat_interval = DEFAULT_AUDIT_REPEAT_INTERVAL;
    cfg->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
    cfg->log_level = LURKD_LOG_INFO;
    return cfg;
}

/* A user name or number: its uid and primary group. */
static bool lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam(name);
    unsigned long long n;

    if (pw == NULL && parse_uint(name, 0, UINT32_MAX - 1, false, &n))
        pw = getpwuid((uid_t)n);
    if (pw == NULL)
        return false;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return true;
}

/* A group name or number. */
static bool lookup_group(const char *name, gid_t *gid)
{
    struct group *gr = getgrnam(name);
    unsigned long long n;

    if (gr != NULL) {
        *gid = gr->gr_gid;
        return true;
    }
    if (!parse_uint(name, 0, UINT32_MAX - 1, false, &n))
        return false;
    *gid = (gid_t)n;
    return true;
}

/* user and group (either may be NULL): resolved into cfg, or a message in why. */
static bool set_user(struct lurkd_config *cfg, const char *user, const char *group, char *why,
                     size_t whylen)
{
    if (user == NULL) {
        snprintf(why, whylen, "group = %s needs a user setting", group);
        return false;
    }
    if (!lookup_user(user, &cfg->uid, &cfg->gid)) {
        snprintf(why, whylen, "unknown user \"%s\"", user);
        return false;
    }
    if (cfg->uid == 0) {
        snprintf(why, whylen, "user \"%s\" is root (to stay root, set run_as_root = yes)", user);
        return false;
    }
    if (group != NULL && !lookup_group(group, &cfg->gid)) {
        snprintf(why, whylen, "unknown group \"%s\"", group);
        return false;
    }
    free(cfg->user);
    cfg->user = strdup(user);
    return cfg->user != NULL;
}

static bool parse_identity(const char *text, struct lurkd_identity *id)
{
    memset(id, 0, sizeof(*id));
    if (strncmp(text, "spki-sha256:", 12) == 0) {
        size_t len;
        id->kind = LURKD_IDENTITY_SPKI_SHA256;
        return lurk_hex_decode(text + 12, id->spki_sha256, sizeof(id->spki_sha256), &len) &&
               len == sizeof(id->spki_sha256);
    }
    if (strncmp(text, "uid:", 4) == 0) {
        unsigned long long uid;
        id->kind = LURKD_IDENTITY_UID;
        if (parse_uint(text + 4, 0, UINT32_MAX - 1, false, &uid)) {
            id->uid = (uid_t)uid;
            return true;
        }
        struct passwd *pw = getpwnam(text + 4);
        if (pw == NULL)
            return false;
        id->uid = pw->pw_uid;
        return true;
    }
    if (strcmp(text, "tcp") == 0) {
        id->kind = LURKD_IDENTITY_TCP;
        return true;
    }
    if (strcmp(text, "ca") == 0) {
        id->kind = LURKD_IDENTITY_CA;
        return true;
    }
    return false;
}

/* match = RULE, ... of a client section (conf/identity.h). */
static bool parse_rules(struct parse *p, struct lurkd_client_conf *c, const char *section,
                        const char *value)
{
    size_t n;
    char **rules = split_list(value, &n);
    char why[512];

    if (n == 0) {
        free_list(rules, n);
        return failf(p, section, "match",
                     "empty match (expected cn:PATTERN, san:PATTERN, uri:URI)");
    }
    c->rules = calloc(n, sizeof(*c->rules));
    if (c->rules == NULL) {
        free_list(rules, n);
        return failf(p, section, "match", "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        if (!lurkd_name_rule_parse(rules[k], &c->rules[k], why, sizeof(why))) {
            free_list(rules, n);
            return failf(p, section, "match", "%s", why);
        }
        c->n_rules++;
    }
    free_list(rules, n);
    return true;
}

/* Whether the client is named by its certificate's CA and names (identity = ca). */
static bool by_ca(const struct lurkd_client_conf *c)
{
    for (size_t k = 0; k < c->n_ids; k++)
        if (c->ids[k].kind == LURKD_IDENTITY_CA)
            return true;
    return false;
}

static bool parse_client(struct parse *p, struct lurkd_config *cfg, const char *section,
                         const char *name)
{
    STACK_OF(CONF_VALUE) *values = NCONF_get_section(p->conf, section);
    struct lurkd_client_conf *c;
    void *grown = realloc(cfg->clients, (cfg->n_clients + 1) * sizeof(*cfg->clients));

    if (grown == NULL)
        return failf(p, section, NULL, "out of memory");
    cfg->clients = grown;
    c = &cfg->clients[cfg->n_clients++];
    memset(c, 0, sizeof(*c));
    c->name = strdup(name);
    c->where = where(p, section, NULL);
    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        if (strcmp(v->name, "match") == 0) {
            if (!parse_rules(p, c, section, v->value))
                return false;
            continue;
        }
        if (strcmp(v->name, "ca") == 0) {
            char why[600], *path = resolve_path(p, v->value);
            bool ok = path != NULL &&
                      lurkd_cert_file_digests(path, &c->ca_sha256, &c->n_ca, why, sizeof(why));
            if (!ok) {
                free(path);
                return failf(p, section, v->name, "ca: %s", path ? why : "out of memory");
            }
            c->ca_file = path;
            c->ca_where = where(p, section, v->name);
            continue;
        }
        if (strcmp(v->name, "identity") != 0)
            return failf(p, section, v->name, "unknown setting \"%s\" in a client section",
                         v->name);
        size_t n;
        char **ids = split_list(v->value, &n);
        if (n == 0) {
            free_list(ids, n);
            return failf(p, section, v->name, "empty identity");
        }
        c->ids = calloc(n, sizeof(*c->ids));
        for (size_t k = 0; c->ids != NULL && k < n; k++) {
            if (!parse_identity(ids[k], &c->ids[k])) {
                failf(p, section, v->name,
                      "bad identity \"%s\" (expected spki-sha256:<64 hex>, uid:<uid or user>, "
                      "tcp or ca)",
                      ids[k]);
                free_list(ids, n);
                return false;
            }
        }
        c->n_ids = n;
        free_list(ids, n);
    }
    if (c->n_ids == 0)
        return failf(p, section, NULL, "client \"%s\" has no identity", name);
    if (by_ca(c) && c->n_rules == 0)
        return failf(p, section, "identity",
                     "identity = ca needs match = RULE, ... (cn:PATTERN, san:PATTERN, uri:URI)");
    if (!by_ca(c) && (c->n_rules > 0 || c->n_ca > 0))
        return failf(p, section, c->n_rules > 0 ? "match" : "ca",
                     "%s applies to identity = ca only", c->n_rules > 0 ? "match" : "ca");
    return true;
}

static bool parse_listener(struct parse *p, struct lurkd_config *cfg, const char *section,
                           const char *name)
{
    STACK_OF(CONF_VALUE) *values = NCONF_get_section(p->conf, section);
    struct lurkd_listener_conf *l;
    void *grown = realloc(cfg->listeners, (cfg->n_listeners + 1) * sizeof(*cfg->listeners));
    bool have_address = false;
    char aerr[256];

    if (grown == NULL)
        return failf(p, section, NULL, "out of memory");
    cfg->listeners = grown;
    l = &cfg->listeners[cfg->n_listeners++];
    memset(l, 0, sizeof(*l));
    l->name = strdup(name);
    l->mode = 0660;
    l->where = where(p, section, NULL);
    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        unsigned long long n;
        if (strcmp(v->name, "address") == 0) {
            if (!lurk_address_parse(v->value, &l->addr, aerr, sizeof(aerr)))
                return failf(p, section, v->name, "%s", aerr);
            have_address = true;
            free(l->address_where);
            l->address_where = where(p, section, v->name);
        } else if (strcmp(v->name, "certificate") == 0) {
            l->certificate = resolve_path(p, v->value);
        } else if (strcmp(v->name, "private_key") == 0) {
            l->private_key = resolve_path(p, v->value);
        } else if (strcmp(v->name, "client_ca") == 0) {
            l->client_ca = resolve_path(p, v->value);
        } else if (strcmp(v->name, "client_crl") == 0) {
            l->client_crl = resolve_path(p, v->value);
        } else if (strcmp(v->name, "insecure") == 0) {
            if (!parse_bool(v->value, &l->insecure))
                return failf(p, section, v->name, "insecure must be yes or no");
        } else if (strcmp(v->name, "mode") == 0) {
            char *end;
            n = strtoull(v->value, &end, 8);
            if (*v->value == '\0' || *end != '\0' || n > 0777)
                return failf(p, section, v->name, "mode must be octal, e.g. 0660");
            l->mode = (unsigned)n;
        } else {
            return failf(p, section, v->name, "unknown setting \"%s\" in a listener section",
                         v->name);
        }
    }
    if (!have_address)
        return failf(p, section, NULL, "listener \"%s\" has no address", name);
    return true;
}

static bool parse_exchanges(const char *v, uint32_t *out, char *bad, size_t badlen)
{
    size_t n;
    char **list = split_list(v, &n);
    bool ok = n > 0;

    *out = 0;
    for (size_t i = 0; ok && i < n; i++) {
        bool known = false;
        if (strcmp(list[i], "all") == 0) {
            *out |= LURKD_EX_SIGNING;
            continue;
        }
        for (size_t k = 0; k < sizeof(exchange_names) / sizeof(exchange_names[0]); k++) {
            if (strcmp(list[i], exchange_names[k].name) == 0) {
                *out |= exchange_names[k].bit;
                known = true;
            }
        }
        if (!known) {
            snprintf(bad, badlen, "%s", list[i]);
            ok = false;
        }
    }
    free_list(list, n);
    return ok;
}

static struct lurkd_key_conf *add_key(struct lurkd_config *cfg, const char *name)
{
    struct lurkd_key_conf *k;
    void *grown = realloc(cfg->keys, (cfg->n_keys + 1) * sizeof(*cfg->keys));

    if (grown == NULL)
        return NULL;
    cfg->keys = grown;
    k = &cfg->keys[cfg->n_keys++];
    memset(k, 0, sizeof(*k));
    k->name = strdup(name);
    k->exchanges = LURKD_EX_SIGNING;
    k->null_freshness = false;
    k->check_time = true;
    k->time_window = DEFAULT_TIME_WINDOW;
    return k;
}

/*
 * The settings of a [key.NAME] section, or of [keys] (defaults: no source,
 * no certificate; the directory setting is read by the caller).
 */
static bool key_settings(struct parse *p, struct lurkd_key_conf *k, const char *section,
                         bool defaults)
{
    STACK_OF(CONF_VALUE) *values = NCONF_get_section(p->conf, section);

    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        unsigned long long n;
        char bad[128];
        if (defaults && strcmp(v->name, "directory") == 0) {
            continue;
        } else if (defaults &&
                   (strcmp(v->name, "source") == 0 || strcmp(v->name, "certificate") == 0 ||
                    strcmp(v->name, "pin_file") == 0 || strcmp(v->name, "engine_module") == 0)) {
            return failf(p, section, v->name,
                         "%s does not apply to [keys]: each NAME.key of the directory is a key, "
                         "with NAME.crt its certificate",
                         v->name);
        } else if (strcmp(v->name, "source") == 0) {
            free(k->source);
            free(k->source_where);
            k->source = resolve_path(p, v->value);
            k->source_where = where(p, section, v->name);
        } else if (strcmp(v->name, "certificate") == 0) {
            free(k->certificate);
            free(k->certificate_where);
            k->certificate = resolve_path(p, v->value);
            k->certificate_where = where(p, section, v->name);
        } else if (strcmp(v->name, "exchanges") == 0) {
            if (!parse_exchanges(v->value, &k->exchanges, bad, sizeof(bad)))
                return failf(p, section, v->name, "unknown exchange \"%s\"", bad);
            free(k->exchanges_where);
            k->exchanges_where = where(p, section, v->name);
        } else if (strcmp(v->name, "pin_file") == 0) {
            free(k->pin_file);
            free(k->pin_file_where);
            k->pin_file = resolve_path(p, v->value);
            k->pin_file_where = where(p, section, v->name);
        } else if (strcmp(v->name, "engine_module") == 0) {
            free(k->engine_module);
            free(k->engine_module_where);
            k->engine_module = resolve_path(p, v->value);
            k->engine_module_where = where(p, section, v->name);
        } else if (strcmp(v->name, "clients") == 0) {
            free_list(k->clients, k->n_clients);
            k->clients = split_list(v->value, &k->n_clients);
            k->any_client = false;
            for (size_t c = 0; c < k->n_clients; c++)
                if (strcmp(k->clients[c], "*") == 0)
                    k->any_client = true;
        } else if (strcmp(v->name, "null_freshness") == 0) {
            if (!parse_bool(v->value, &k->null_freshness))
                return failf(p, section, v->name, "null_freshness must be yes or no");
        } else if (strcmp(v->name, "check_time") == 0) {
            if (!parse_bool(v->value, &k->check_time))
                return failf(p, section, v->name, "check_time must be yes or no");
        } else if (strcmp(v->name, "time_window") == 0) {
            if (!parse_uint(v->value, 1, 86400, true, &n))
                return failf(p, section, v->name, "time_window must be 1s..24h");
            k->time_window = (unsigned)n;
        } else {
            return failf(p, section, v->name, "unknown setting \"%s\" in a %s section", v->name,
                         defaults ? "[keys]" : "key");
        }
    }
    return true;
}

/* The [keys] policy (clients, exchanges, freshness) copied into k, a key of the directory. */
static bool copy_defaults(const struct lurkd_key_conf *d, struct lurkd_key_conf *k)
{
    k->exchanges = d->exchanges;
    k->any_client = d->any_client;
    k->null_freshness = d->null_freshness;
    k->check_time = d->check_time;
    k->time_window = d->time_window;
    k->n_clients = d->n_clients;
    k->clients = calloc(d->n_clients + 1, sizeof(*k->clients));
    if (k->clients == NULL)
        return false;
    for (size_t c = 0; c < d->n_clients; c++)
        if ((k->clients[c] = strdup(d->clients[c])) == NULL)
            return false;
    k->exchanges_where = d->exchanges_where ? strdup(d->exchanges_where) : NULL;
    return true;
}

/* Index of NAME among the directory's keys, or -1. */
static long dir_key_index(const struct parse *p, const char *name)
{
    for (size_t i = 0; i < p->n_dir_keys; i++)
        if (strcmp(p->dir_keys[i], name) == 0)
            return (long)i;
    return -1;
}

/* source and certificate of directory key NAME: DIR/NAME.key and DIR/NAME.crt. */
static bool dir_key_files(const struct lurkd_config *cfg, struct lurkd_key_conf *k)
{
    if (asprintf(&k->source, "%s/%s.key", cfg->keys_directory, k->name) < 0) {
        k->source = NULL;
        return false;
    }
    if (asprintf(&k->certificate, "%s/%s.crt", cfg->keys_directory, k->name) < 0) {
        k->certificate = NULL;
        return false;
    }
    k->source_where = strdup(k->source);
    k->certificate_where = strdup(k->certificate);
    return k->source_where != NULL && k->certificate_where != NULL;
}

static bool parse_key(struct parse *p, struct lurkd_config *cfg, const char *section,
                      const char *name)
{
    struct lurkd_key_conf *k = add_key(cfg, name);
    long in_dir = dir_key_index(p, name);

    if (k == NULL)
        return failf(p, section, NULL, "out of memory");
    k->where = where(p, section, NULL);
    /* A section named after a key of the directory overrides the [keys] policy for it. */
    if (in_dir >= 0 && !copy_defaults(p->keys_defaults, k))
        return failf(p, section, NULL, "out of memory");
    if (!key_settings(p, k, section, false))
        return false;
    if (in_dir >= 0) {
        if (k->source != NULL || k->certificate != NULL)
            return failf(p, section, k->source ? "source" : "certificate",
                         "key \"%s\" is also %s/%s.key of [keys] directory: its source and "
                         "certificate are the directory's files (rename one of them)",
                         name, cfg->keys_directory, name);
        p->dir_key_claimed[in_dir] = true;
        if (!dir_key_files(cfg, k))
            return failf(p, section, NULL, "out of memory");
    }
    if (k->source == NULL)
        return failf(p, section, NULL, "key \"%s\" has no source", name);
    /* Only an engine reads them: elsewhere they would be silently ignored. */
    if (!lurkd_key_source_is_engine(k->source) && (k->pin_file != NULL || k->engine_module != NULL))
        return failf(p, section, k->pin_file ? "pin_file" : "engine_module",
                     "%s applies to engine keys only (source = engine:ENGINE_ID:KEY_ID)",
                     k->pin_file ? "pin_file" : "engine_module");
    if (k->n_clients == 0 && !k->any_client)
        return failf(p, section, NULL,
                     "key \"%s\" lists no clients (use clients = NAME, ... or clients = *)", name);
    return true;
}

/* A key file name: NAME.key or NAME.crt with NAME of letters, digits, '.', '_' and '-'. */
static bool key_file_name(const char *file, char *name, size_t namelen, bool *is_key)
{
    size_t len = strlen(file);

    if (len < 5 || len - 4 >= namelen || file[0] == '.')
        return false;
    if (strcmp(file + len - 4, ".key") != 0 && strcmp(file + len - 4, ".crt") != 0)
        return false;
    *is_key = strcmp(file + len - 4, ".key") == 0;
    for (size_t i = 0; i < len - 4; i++)
        if (!isalnum((unsigned char)file[i]) && file[i] != '.' && file[i] != '_' && file[i] != '-')
            return false;
    memcpy(name, file, len - 4);
    name[len - 4] = '\0';
    return true;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * [keys]: its policy and the directory's NAME.key / NAME.crt pairs, read
 * before the [key.NAME] sections that may override them. A key without its
 * certificate, or the reverse, is an error naming the file.
 */
static bool parse_keys_section(struct parse *p, struct lurkd_config *cfg)
{
    const char *dir = NCONF_get_string(p->conf, "keys", "directory");
    struct lurkd_key_conf *d = calloc(1, sizeof(*d));
    DIR *dh;
    struct dirent *e;
    char **keys = NULL, **crts = NULL;
    size_t n_keys = 0, n_crts = 0;
    bool ok = false;

    ERR_clear_error();
    if (d == NULL)
        return failf(p, "keys", NULL, "out of memory");
    p->keys_defaults = d;
    d->exchanges = LURKD_EX_SIGNING;
    d->check_time = true;
    d->time_window = DEFAULT_TIME_WINDOW;
    if (!key_settings(p, d, "keys", true))
        return false;
    if (dir == NULL)
        return failf(p, "keys", NULL, "[keys] needs directory = PATH");
    if (d->n_clients == 0 && !d->any_client)
        return failf(p, "keys", NULL,
                     "[keys] lists no clients (use clients = NAME, ... or clients = *)");
    cfg->keys_directory = resolve_path(p, dir);
    if (cfg->keys_directory == NULL)
        return failf(p, "keys", "directory", "out of memory");
    dh = opendir(cfg->keys_directory);
    if (dh == NULL)
        return failf(p, "keys", "directory", "directory %s: %s", cfg->keys_directory,
                     strerror(errno));
    while ((e = readdir(dh)) != NULL) {
        char name[256];
        bool is_key;
        if (e->d_name[0] == '.')
            continue; /* ., .., and editors' or tools' hidden files */
        if (!key_file_name(e->d_name, name, sizeof(name), &is_key)) {
            size_t len = strlen(e->d_name);
            if (len > 4 && (strcmp(e->d_name + len - 4, ".key") == 0 ||
                            strcmp(e->d_name + len - 4, ".crt") == 0)) {
                failf(p, "keys", "directory",
                      "%s/%s: a key file is NAME.key (NAME.crt its certificate), NAME of "
                      "letters, digits, '.', '_' and '-'",
                      cfg->keys_directory, e->d_name);
                goto out;
            }
            continue; /* other files (a README, ...) are not keys */
        }
        char ***list = is_key ? &keys : &crts;
        size_t *n = is_key ? &n_keys : &n_crts;
        char **grown = realloc(*list, (*n + 1) * sizeof(**list));
        if (grown == NULL) {
            failf(p, "keys", NULL, "out of memory");
            goto out;
        }
        *list = grown;
        if ((grown[*n] = strdup(name)) == NULL) {
            failf(p, "keys", NULL, "out of memory");
            goto out;
        }
        (*n)++;
    }
    if (keys != NULL)
        qsort(keys, n_keys, sizeof(*keys), str_cmp);
    if (crts != NULL)
        qsort(crts, n_crts, sizeof(*crts), str_cmp);
    for (size_t i = 0; i < n_keys; i++) {
        if (bsearch(&keys[i], crts, n_crts, sizeof(*crts), str_cmp) == NULL) {
            failf(p, "keys", "directory", "%s/%s.key has no certificate %s/%s.crt",
                  cfg->keys_directory, keys[i], cfg->keys_directory, keys[i]);
            goto out;
        }
    }
    for (size_t i = 0; i < n_crts; i++) {
        if (bsearch(&crts[i], keys, n_keys, sizeof(*keys), str_cmp) == NULL) {
            failf(p, "keys", "directory", "%s/%s.crt has no key %s/%s.key", cfg->keys_directory,
                  crts[i], cfg->keys_directory, crts[i]);
            goto out;
        }
    }
    p->dir_key_claimed = calloc(n_keys + 1, sizeof(*p->dir_key_claimed));
    if (p->dir_key_claimed == NULL) {
        failf(p, "keys", NULL, "out of memory");
        goto out;
    }
    p->dir_keys = keys;
    p->n_dir_keys = n_keys;
    keys = NULL;
    n_keys = 0;
    ok = true;
out:
    closedir(dh);
    free_list(keys, n_keys);
    free_list(crts, n_crts);
    return ok;
}

/* The directory's keys that no [key.NAME] section named: the [keys] policy as it is. */
static bool add_directory_keys(struct parse *p, struct lurkd_config *cfg)
{
    for (size_t i = 0; i < p->n_dir_keys; i++) {
        if (p->dir_key_claimed[i])
            continue;
        struct lurkd_key_conf *k = add_key(cfg, p->dir_keys[i]);
        if (k == NULL || !copy_defaults(p->keys_defaults, k) || !dir_key_files(cfg, k) ||
            (k->where = strdup(k->source)) == NULL)
            return failf(p, "keys", NULL, "out of memory");
    }
    return true;
}

static void free_key_conf(struct lurkd_key_conf *k)
{
    free(k->name);
    free(k->source);
    free(k->certificate);
    free_list(k->clients, k->n_clients);
    free(k->where);
    free(k->source_where);
    free(k->certificate_where);
    free(k->exchanges_where);
    free(k->pin_file);
    free(k->pin_file_where);
    free(k->engine_module);
    free(k->engine_module_where);
}

/*
 * A log or pid file whose directory is missing would fail only once lurkd
 * starts (after --check said yes): lurkd --check names it (docs/deploy.md §3).
 */
static bool parent_dir_ok(struct parse *p, const char *name, const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    char *dir;
    struct stat st;
    bool ok;

    if (path == NULL || strcmp(path, "stderr") == 0 || slash == NULL || slash == path)
        return true;
    dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return failf(p, "lurkd", name, "out of memory");
    ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ok)
        failf(p, "lurkd", name, "%s: directory %s does not exist", path, dir);
    free(dir);
    return ok;
}

static bool parse_main(struct parse *p, struct lurkd_config *cfg)
{
    STACK_OF(CONF_VALUE) *values = NCONF_get_section(p->conf, "lurkd");
    const char *user = NULL, *group = NULL;
    char why[256];

    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        const char *n = v->name;
        unsigned long long u;
        if (strcmp(n, "workers") == 0) {
            if (strcmp(v->value, "auto") != 0) {
                if (!parse_uint(v->value, 1, 1024, false, &u))
                    return failf(p, "lurkd", n, "workers must be auto or 1..1024");
                cfg->workers = (unsigned)u;
            }
        } else if (strcmp(n, "io_threads") == 0) {
            if (strcmp(v->value, "auto") != 0) {
                if (!parse_uint(v->value, 1, 64, false, &u))
                    return failf(p, "lurkd", n, "io_threads must be auto or 1..64");
                cfg->io_threads = (unsigned)u;
            }
        } else if (strcmp(n, "idle_poll_us") == 0) {
            if (!parse_uint(v->value, 0, 1000, false, &u))
                return failf(p, "lurkd", n, "idle_poll_us must be 0..1000");
            cfg->idle_poll_us = (unsigned)u;
        } else if (strcmp(n, "max_frame_size") == 0) {
            /* The largest request is a tls13 handshake_context: 1 MiB is plenty. */
            if (!parse_uint(v->value, 1024, 16 * 1024 * 1024, false, &u))
                return failf(p, "lurkd", n, "max_frame_size must be 1k..16m");
            cfg->max_frame = (size_t)u;
        } else if (strcmp(n, "queue_limit") == 0) {
            if (!parse_uint(v->value, 1, 1000000, false, &u))
                return failf(p, "lurkd", n, "queue_limit must be 1..1000000");
            cfg->queue_limit = (unsigned)u;
        } else if (strcmp(n, "peer_queue_limit") == 0) {
            if (!parse_uint(v->value, 1, 1000000, false, &u))
                return failf(p, "lurkd", n, "peer_queue_limit must be 1..1000000");
            cfg->peer_queue_limit = (unsigned)u;
        } else if (strcmp(n, "connection_queue_limit") == 0) {
            if (!parse_uint(v->value, 1, 100000, false, &u))
                return failf(p, "lurkd", n, "connection_queue_limit must be 1..100000");
            cfg->connection_limit = (unsigned)u;
        } else if (strcmp(n, "max_connections") == 0) {
            if (!parse_uint(v->value, 1, 1000000, false, &u))
                return failf(p, "lurkd", n, "max_connections must be 1..1000000");
            cfg->max_connections = (unsigned)u;
        } else if (strcmp(n, "max_connections_per_peer") == 0) {
            if (!parse_uint(v->value, 1, 1000000, false, &u))
                return failf(p, "lurkd", n, "max_connections_per_peer must be 1..1000000");
            cfg->max_connections_per_peer = (unsigned)u;
        } else if (strcmp(n, "request_timeout") == 0) {
            if (!parse_uint(v->value, 1, 3600, true, &u))
                return failf(p, "lurkd", n, "request_timeout must be 1s..1h");
            cfg->request_timeout = (unsigned)u;
        } else if (strcmp(n, "idle_timeout") == 0) {
            if (!parse_uint(v->value, 1, 86400 * 7, true, &u))
                return failf(p, "lurkd", n, "idle_timeout must be 1s..7d");
            cfg->idle_timeout = (unsigned)u;
        } else if (strcmp(n, "drain_timeout") == 0) {
            if (!parse_uint(v->value, 0, 3600, true, &u))
                return failf(p, "lurkd", n, "drain_timeout must be 0..1h");
            cfg->drain_timeout = (unsigned)u;
        } else if (strcmp(n, "audit_log") == 0) {
            free(cfg->audit_log);
            cfg->audit_log = resolve_path(p, v->value);
        } else if (strcmp(n, "audit_repeat_interval") == 0) {
            if (!parse_uint(v->value, 0, 3600, true, &u))
                return failf(p, "lurkd", n, "audit_repeat_interval must be 0..1h");
            cfg->audit_repeat_interval = (unsigned)u;
        } else if (strcmp(n, "error_log") == 0) {
            free(cfg->error_log);
            cfg->error_log =
                strcmp(v->value, "stderr") == 0 ? strdup("stderr") : resolve_path(p, v->value);
        } else if (strcmp(n, "log_level") == 0) {
            if (!lurkd_log_level_parse(v->value, &cfg->log_level))
                return failf(p, "lurkd", n, "log_level must be error, warn, notice, info or debug");
        } else if (strcmp(n, "user") == 0) {
            user = v->value;
        } else if (strcmp(n, "group") == 0) {
            group = v->value;
        } else if (strcmp(n, "run_as_root") == 0) {
            if (!parse_bool(v->value, &cfg->run_as_root))
                return failf(p, "lurkd", n, "run_as_root must be yes or no");
        } else if (strcmp(n, "pid_file") == 0) {
            free(cfg->pid_file);
            cfg->pid_file = resolve_path(p, v->value);
        } else if (strcmp(n, "stats_clients") == 0) {
            free_list(cfg->stats_clients, cfg->n_stats_clients);
            cfg->stats_clients = split_list(v->value, &cfg->n_stats_clients);
        } else if (strcmp(n, "certificate") == 0) {
            cfg->certificate = resolve_path(p, v->value);
        } else if (strcmp(n, "private_key") == 0) {
            cfg->private_key = resolve_path(p, v->value);
        } else if (strcmp(n, "client_ca") == 0) {
            cfg->client_ca = resolve_path(p, v->value);
        } else if (strcmp(n, "client_crl") == 0) {
            cfg->client_crl = resolve_path(p, v->value);
        } else {
            return failf(p, "lurkd", n, "unknown setting \"%s\" in [lurkd]", n);
        }
    }
    if (!parent_dir_ok(p, "audit_log", cfg->audit_log) ||
        !parent_dir_ok(p, "error_log", cfg->error_log) ||
        !parent_dir_ok(p, "pid_file", cfg->pid_file))
        return false;
    gid_t gid;
    if (group != NULL && user != NULL && !lookup_group(group, &gid))
        return failf(p, "lurkd", "group", "unknown group \"%s\"", group);
    if ((user != NULL || group != NULL) && !set_user(cfg, user, group, why, sizeof(why)))
        return failf(p, "lurkd", user != NULL ? "user" : "group", "%s", why);
    if (user != NULL)
        cfg->user_where = where(p, "lurkd", "user");
    return true;
}

/* config.c's helpers, lent to config_tls13.c for [tls13] and [psk.NAME]. */
static bool reader_fail(void *ctx, const char *section, const char *name, const char *msg)
{
    return failf(ctx, section, name, "%s", msg);
}

static char *reader_where(void *ctx, const char *section, const char *name)
{
    return where(ctx, section, name);
}

static char *reader_path(void *ctx, const char *value)
{
    return resolve_path(ctx, value);
}

static bool reader_client_exists(void *ctx, const char *name)
{
    return lurkd_config_find_client(((struct parse *)ctx)->cfg, name) != NULL;
}

static void tls13_reader(struct parse *p, struct lurkd_config_reader *r)
{
    *r = (struct lurkd_config_reader){
        .ctx = p,
        .fail = reader_fail,
        .where = reader_where,
        .path = reader_path,
        .parse_bool = parse_bool,
        .parse_uint = parse_uint,
        .split_list = split_list,
        .free_list = free_list,
        .client_exists = reader_client_exists,
    };
}

/* qsort-style comparison has no context argument: the index of the file being sorted. */
static const struct lurkd_conf_index *order_ix;

static long section_pos(const char *section)
{
    const struct lurkd_conf_loc *l = lurkd_conf_index_find(order_ix, section, NULL);

    return l != NULL ? (long)(l - order_ix->locs) : -1;
}

static int section_cmp(const char *const *a, const char *const *b)
{
    long pa = section_pos(*a), pb = section_pos(*b);

    return pa < pb ? -1 : pa > pb;
}

static void parse_free(struct parse *p)
{
    lurkd_conf_index_free(&p->ix);
    if (p->keys_defaults != NULL) {
        free_key_conf(p->keys_defaults);
        free(p->keys_defaults);
    }
    free_list(p->dir_keys, p->n_dir_keys);
    free(p->dir_key_claimed);
}

struct lurkd_config *lurkd_config_load(const char *path, char *err, size_t errlen)
{
    struct parse p = {.path = path, .err = err, .errlen = errlen};
    struct lurkd_config *cfg = lurkd_config_new();
    STACK_OF(OPENSSL_CSTRING) *sections = NULL;
    struct lurkd_config_reader tls13;
    long eline = -1;
    FILE *probe;

    if (cfg == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cfg->path = strdup(path);
    probe = fopen(path, "r");
    if (probe == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    fclose(probe);
    if (!lurkd_conf_index_build(&p.ix, path)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p.conf = NCONF_new(NULL);
    if (p.conf == NULL || NCONF_load(p.conf, path, &eline) != 1) {
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        if (eline > 0)
            snprintf(err, errlen, "%s:%ld: syntax error: %s", path, eline,
                     reason ? reason : "unparsable line");
        else
            snprintf(err, errlen, "%s: cannot parse: %s", path, reason ? reason : "error");
        ERR_clear_error();
        goto fail;
    }
    if (NCONF_get_section(p.conf, "lurkd") == NULL) {
        snprintf(err, errlen, "%s: no [lurkd] section", path);
        goto fail;
    }
    sections = NCONF_get_section_names(p.conf);
    p.cfg = cfg;
    tls13_reader(&p, &tls13);
    /* NCONF keeps the last of two equal settings: an operator's mistake, not a choice. */
    const struct lurkd_conf_loc *first, *second;
    if (lurkd_conf_index_duplicate(&p.ix, &first, &second)) {
        snprintf(err, errlen, "%s:%d: \"%s\" is set twice in [%s] (first at %s:%d)", second->file,
                 second->line, second->name, second->section, first->file, first->line);
        goto fail;
    }
    /* [keys] first: the [key.NAME] sections may override its directory's keys. */
    if (NCONF_get_section(p.conf, "keys") != NULL && !parse_keys_section(&p, cfg))
        goto fail;
    ERR_clear_error();
    /* NCONF lists sections in hash order; listeners and keys are reported in file order. */
    order_ix = &p.ix;
    sk_OPENSSL_CSTRING_set_cmp_func(sections, section_cmp);
    sk_OPENSSL_CSTRING_sort(sections);
    for (int i = 0; i < sk_OPENSSL_CSTRING_num(sections); i++) {
        const char *s = sk_OPENSSL_CSTRING_value(sections, i);
        bool ok;
        if (strcmp(s, "lurkd") == 0)
            ok = parse_main(&p, cfg);
        else if (strcmp(s, "keys") == 0)
            ok = true; /* read above */
        else if (strncmp(s, "listener.", 9) == 0 && s[9] != '\0')
            ok = parse_listener(&p, cfg, s, s + 9);
        else if (strncmp(s, "key.", 4) == 0 && s[4] != '\0')
            ok = parse_key(&p, cfg, s, s + 4);
        else if (strncmp(s, "client.", 7) == 0 && s[7] != '\0')
            ok = parse_client(&p, cfg, s, s + 7);
        else if (strcmp(s, "tls13") == 0)
            ok = lurkd_config_tls13_section(&tls13, &cfg->tls13, s, NCONF_get_section(p.conf, s));
        else if (strncmp(s, "psk.", 4) == 0 && s[4] != '\0')
            ok = lurkd_config_psk_section(&tls13, &cfg->tls13, s, s + 4,
                                          NCONF_get_section(p.conf, s));
        else if (strcmp(s, "metrics") == 0)
            ok = lurkd_config_metrics_section(&tls13, &cfg->metrics, s,
                                              NCONF_get_section(p.conf, s));
        else if (strcmp(s, "default") == 0)
            ok = sk_CONF_VALUE_num(NCONF_get_section(p.conf, s)) <= 0 ||
                 failf(&p, "default", sk_CONF_VALUE_value(NCONF_get_section(p.conf, s), 0)->name,
                       "setting outside any section");
        else
            ok = failf(&p, s, NULL,
                       "unknown section [%s] (expected [lurkd], [listener.NAME], [key.NAME], "
                       "[keys], [client.NAME], [tls13], [psk.NAME] or [metrics])",
                       s);
        if (!ok)
            goto fail;
    }
    sk_OPENSSL_CSTRING_free(sections);
    sections = NULL;
    if (p.keys_defaults != NULL) {
        for (size_t c = 0; c < p.keys_defaults->n_clients; c++) {
            if (strcmp(p.keys_defaults->clients[c], "*") == 0 ||
                lurkd_config_find_client(cfg, p.keys_defaults->clients[c]))
                continue;
            failf(&p, "keys", "clients", "unknown client \"%s\" (no [client.%s] section)",
                  p.keys_defaults->clients[c], p.keys_defaults->clients[c]);
            goto fail;
        }
        if (!add_directory_keys(&p, cfg))
            goto fail;
    }
    for (size_t c = 0; c < cfg->n_stats_clients; c++) {
        if (strcmp(cfg->stats_clients[c], "*") == 0 ||
            lurkd_config_find_client(cfg, cfg->stats_clients[c]))
            continue;
        failf(&p, "lurkd", "stats_clients", "unknown client \"%s\" (no [client.%s] section)",
              cfg->stats_clients[c], cfg->stats_clients[c]);
        goto fail;
    }
    /* Keys may only name clients that exist. */
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const struct lurkd_key_conf *k = &cfg->keys[i];
        for (size_t c = 0; c < k->n_clients; c++) {
            char section[512];
            if (strcmp(k->clients[c], "*") == 0 || lurkd_config_find_client(cfg, k->clients[c]))
                continue;
            snprintf(section, sizeof(section), "key.%s", k->name);
            failf(&p, section, "clients", "unknown client \"%s\" (no [client.%s] section)",
                  k->clients[c], k->clients[c]);
            goto fail;
        }
    }
    if (!lurkd_config_tls13_finish(&tls13, cfg->tls13))
        goto fail;
    NCONF_free(p.conf);
    parse_free(&p);
    return cfg;
fail:
    sk_OPENSSL_CSTRING_free(sections);
    NCONF_free(p.conf);
    parse_free(&p);
    lurkd_config_free(cfg);
    return NULL;
}

bool lurkd_config_add_listener(struct lurkd_config *cfg, const char *address, char *err,
                               size_t errlen)
{
    struct lurkd_listener_conf *l;
    void *grown = realloc(cfg->listeners, (cfg->n_listeners + 1) * sizeof(*cfg->listeners));

    if (grown == NULL)
        return false;
    cfg->listeners = grown;
    l = &cfg->listeners[cfg->n_listeners];
    memset(l, 0, sizeof(*l));
    if (!lurk_address_parse(address, &l->addr, err, errlen))
        return false;
    cfg->n_listeners++;
    l->name = strdup(address);
    l->mode = 0660;
    l->where = strdup("--listen");
    l->address_where = strdup("--listen");
    return true;
}

bool lurkd_config_add_key(struct lurkd_config *cfg, const char *source, char *err, size_t errlen)
{
    struct lurkd_key_conf *k = add_key(cfg, source);

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    /* A quick-start key: the signing exchanges, every client that can reach a listener. */
    k->source = strdup(source);
    k->any_client = true;
    k->null_freshness = true;
    k->check_time = false;
    k->where = strdup("--key");
    k->source_where = strdup("--key");
    return true;
}

bool lurkd_config_set_user(struct lurkd_config *cfg, const char *spec, char *err, size_t errlen)
{
    char *copy = strdup(spec), *colon = copy ? strchr(copy, ':') : NULL, why[256];
    bool ok;

    if (copy == NULL)
        return false;
    if (colon != NULL)
        *colon++ = '\0';
    ok = set_user(cfg, copy, colon, why, sizeof(why));
    if (!ok)
        snprintf(err, errlen, "--user: %s", why);
    free(copy);
    free(cfg->user_where);
    cfg->user_where = strdup("--user");
    return ok;
}

/* A listener's client_crl, kept for the checks at each request (conf/policy.h). */
static bool add_crls(struct lurkd_config *cfg, const struct lurkd_listener_conf *l, char *err,
                     size_t errlen)
{
    STACK_OF(X509_CRL) * crls;
    char why[256];

    if (!lurkd_crl_file_load(l->client_crl, &crls, why, sizeof(why))) {
        snprintf(err, errlen, "%s: client_crl %s: %s", l->where, l->client_crl, why);
        return false;
    }
    if (cfg->crls == NULL && (cfg->crls = sk_X509_CRL_new_null()) == NULL) {
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    while (sk_X509_CRL_num(crls) > 0) {
        X509_CRL *crl = sk_X509_CRL_pop(crls);
        if (!sk_X509_CRL_push(cfg->crls, crl))
            X509_CRL_free(crl);
    }
    sk_X509_CRL_free(crls);
    return true;
}

/* Whether a CA certificate of the ca = file (mine) chains up to one of cas (an intermediate). */
static bool ca_certified(STACK_OF(X509) * cas, STACK_OF(X509) * mine)
{
    bool ok = false;

    for (int i = 0; !ok && i < sk_X509_num(mine); i++)
        ok = lurkd_trusted_cas_certify(cas, sk_X509_value(mine, i));
    return ok;
}

/*
 * identity = ca (docs/deploy.md §2): any CA of client_ca can write the
 * names a rule matches. With more than one CA trusted, by any listener,
 * a rule without ca = would let each of them name the client (another
 * tenant's CA issuing cn:fe1), so the client must say which CA with ca =
 * (docs/security.md, "Controls in lurkd"); and a ca = must name a CA a
 * listener trusts or one under it (an intermediate the clients send in
 * their chain), or the client matches nothing. A CA counts once however
 * many intermediates it has signed: who may issue under a root is the
 * root's business, and a ca = naming the root trusts all of them.
 */
static bool check_ca_clients(const struct lurkd_config *cfg, char *err, size_t errlen)
{
    STACK_OF(X509) *cas = NULL;
    char why[600], names[512];
    bool ok = false, any = false;
    size_t n;

    for (size_t i = 0; i < cfg->n_clients; i++)
        any |= by_ca(&cfg->clients[i]);
    if (!any)
        return true;
    if ((cas = sk_X509_new_null()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct lurkd_listener_conf *l = &cfg->listeners[i];
        if (l->addr.kind != LURK_ADDRESS_TLS || l->client_ca == NULL)
            continue;
        if (!lurkd_trusted_cas_add_file(cas, l->client_ca, why, sizeof(why))) {
            snprintf(err, errlen, "%s: client_ca %s", l->where, why);
            goto out;
        }
    }
    n = lurkd_trusted_cas_count(cas);
    lurkd_trusted_cas_names(cas, names, sizeof(names));
    for (size_t i = 0; i < cfg->n_clients; i++) {
        const struct lurkd_client_conf *c = &cfg->clients[i];
        bool held = false;
        if (!by_ca(c))
            continue;
        if (c->n_ca == 0 && n > 1) {
            snprintf(err, errlen,
                     "%s: [client.%s]: identity = ca without ca = would accept a certificate "
                     "with a matching name from any of the %zu CAs of client_ca: %s; say which "
                     "CA issues this client's certificates with ca = FILE",
                     c->where, c->name, n, names);
            goto out;
        }
        if (c->n_ca == 0)
            continue;
        /* The ca = certificates themselves (read as digests at load): empty if unreadable now. */
        STACK_OF(X509) *mine = sk_X509_new_null();
        if (mine == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (!lurkd_trusted_cas_add_file(mine, c->ca_file, why, sizeof(why)))
            ERR_clear_error();
        for (size_t k = 0; !held && k < c->n_ca; k++)
            held = lurkd_trusted_cas_hold(cas, c->ca_sha256[k]);
        if (!held)
            held = ca_certified(cas, mine);
        /* Right while a CA is replaced by another; otherwise the tenants are not kept apart. */
        size_t let_in = held && n > 1 ? lurkd_trusted_cas_covered(cas, mine) : 0;
        sk_X509_pop_free(mine, X509_free);
        if (!held) {
            snprintf(err, errlen,
                     "%s: [client.%s]: ca %s: no certificate in it is a CA of a listener's "
                     "client_ca or a CA under one (%s%s), so this client could never match",
                     c->ca_where, c->name, c->ca_file, n > 0 ? "they hold " : "no tls:// listener",
                     n > 0 ? names : "");
            goto out;
        }
        if (let_in == n && n > 1)
            lurkd_warn("%s: [client.%s]: ca %s lets in every one of the %zu CAs of client_ca (%s): "
                       "a certificate with a matching name from any of them is this client; "
                       "unless a CA rollover is under way, keep only the CA that issues its "
                       "certificates",
                       c->ca_where, c->name, c->ca_file, n, names);
    }
    ok = true;
out:
    sk_X509_pop_free(cas, X509_free);
    return ok;
}

bool lurkd_config_finish(struct lurkd_config *cfg, char *err, size_t errlen)
{
    if (cfg->max_connections_per_peer == 0)
        cfg->max_connections_per_peer = cfg->max_connections / DEFAULT_PER_PEER_SHARE > 0
                                            ? cfg->max_connections / DEFAULT_PER_PEER_SHARE
                                            : 1;
    if (cfg->peer_queue_limit == 0)
        cfg->peer_queue_limit = cfg->queue_limit / DEFAULT_PER_PEER_SHARE > 0
                                    ? cfg->queue_limit / DEFAULT_PER_PEER_SHARE
                                    : 1;
    if (cfg->n_listeners == 0) {
        snprintf(err, errlen, "%s%sno listener (add a [listener.NAME] section or --listen)",
                 cfg->path ? cfg->path : "", cfg->path ? ": " : "");
        return false;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        struct lurkd_listener_conf *l = &cfg->listeners[i];
        const char *at = l->where, *address_at = l->address_where ? l->address_where : at;
        if (l->addr.kind == LURK_ADDRESS_TLS) {
            if (l->certificate == NULL && cfg->certificate)
                l->certificate = strdup(cfg->certificate);
            if (l->private_key == NULL && cfg->private_key)
                l->private_key = strdup(cfg->private_key);
            if (l->client_ca == NULL && cfg->client_ca)
                l->client_ca = strdup(cfg->client_ca);
            if (l->client_crl == NULL && cfg->client_crl)
                l->client_crl = strdup(cfg->client_crl);
            if (l->client_crl != NULL && !add_crls(cfg, l, err, errlen))
                return false;
            /* docs/architecture.md §3: tls:// is mutually authenticated, always. */
            if (l->certificate == NULL || l->private_key == NULL || l->client_ca == NULL) {
                snprintf(err, errlen,
                         "%s: listener %s needs certificate, private_key and client_ca (tls:// "
                         "requires client certificates)",
                         at, l->addr.text);
                return false;
            }
        } else if (l->certificate || l->private_key || l->client_ca || l->client_crl) {
            snprintf(err, errlen,
                     "%s: certificate, private_key, client_ca and client_crl apply to tls:// only",
                     at);
            return false;
        }
        if (l->addr.kind == LURK_ADDRESS_TCP && !lurk_address_is_loopback(&l->addr) &&
            !l->insecure) {
            snprintf(err, errlen,
                     "%s: plain tcp:// on non-loopback address %s is refused (use tls://, or set "
                     "insecure = yes)",
                     address_at, l->addr.text);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->listeners[j].addr.text, l->addr.text) == 0) {
                const struct lurkd_listener_conf *first = &cfg->listeners[j];
                snprintf(err, errlen, "%s: address %s is also used by %s", address_at, l->addr.text,
                         first->address_where ? first->address_where : first->where);
                return false;
            }
        }
    }
    return check_ca_clients(cfg, err, errlen);
}

const struct lurkd_tls13_conf *lurkd_tls13_conf(const struct lurkd_config *cfg)
{
    return cfg != NULL && cfg->tls13 != NULL ? cfg->tls13 : lurkd_config_tls13_defaults();
}

bool lurkd_key_source_is_engine(const char *source)
{
    return source != NULL && strncmp(source, "engine:", strlen("engine:")) == 0;
}

const struct lurkd_client_conf *lurkd_config_find_client(const struct lurkd_config *cfg,
                                                         const char *name)
{
    for (size_t i = 0; i < cfg->n_clients; i++)
        if (strcmp(cfg->clients[i].name, name) == 0)
            return &cfg->clients[i];
    return NULL;
}

void lurkd_config_free(struct lurkd_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        struct lurkd_listener_conf *l = &cfg->listeners[i];
        free(l->name);
        free(l->certificate);
        free(l->private_key);
        free(l->client_ca);
        free(l->client_crl);
        free(l->where);
        free(l->address_where);
    }
    for (size_t i = 0; i < cfg->n_keys; i++)
        free_key_conf(&cfg->keys[i]);
    for (size_t i = 0; i < cfg->n_clients; i++) {
        free(cfg->clients[i].name);
        free(cfg->clients[i].ids);
        for (size_t k = 0; k < cfg->clients[i].n_rules; k++)
            free(cfg->clients[i].rules[k].pattern);
        free(cfg->clients[i].rules);
        free(cfg->clients[i].ca_sha256);
        free(cfg->clients[i].ca_file);
        free(cfg->clients[i].where);
        free(cfg->clients[i].ca_where);
    }
    lurkd_config_tls13_free(cfg->tls13);
    lurkd_config_metrics_free(cfg->metrics);
    free(cfg->listeners);
    free(cfg->keys);
    free(cfg->clients);
    free(cfg->path);
    free(cfg->audit_log);
    free(cfg->error_log);
    free(cfg->pid_file);
    free(cfg->user);
    free(cfg->user_where);
    free_list(cfg->stats_clients, cfg->n_stats_clients);
    free(cfg->certificate);
    free(cfg->private_key);
    free(cfg->client_ca);
    free(cfg->client_crl);
    sk_X509_CRL_pop_free(cfg->crls, X509_CRL_free);
    free(cfg->keys_directory);
    free(cfg);
}
