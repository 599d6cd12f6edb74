/*
 * lurk.so entry point: OSSL_provider_init, the settings from the provider's
 * openssl.cnf section, the algorithm tables and the provider's own
 * parameters (docs/architecture.md §6, docs/provider.md).
 *
 * Init is cheap and cannot fail the host application: no network, no
 * threads, no library context (openssl #20653: init runs inside config
 * loading), and a missing or bad setting is remembered and reported by the
 * first key operation instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "lurk/client.h"
#include "provider.h"

/*
 * The functions of the dispatch table, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_provider_teardown_fn teardown;
static OSSL_FUNC_provider_gettable_params_fn gettable_params;
static OSSL_FUNC_provider_get_params_fn get_params;
static OSSL_FUNC_provider_query_operation_fn query_operation;
static OSSL_FUNC_provider_get_reason_strings_fn get_reason_strings;

static OSSL_FUNC_core_get_params_fn *c_get_params;
static pthread_mutex_t upcalls_lock = PTHREAD_MUTEX_INITIALIZER;
static bool upcalls_captured;

/* ---- settings ---- */

static void cfg_error(struct lurk_prov_config *cfg, const char *fmt, const char *a, const char *b)
{
    /* The first problem is the one worth reading. */
    if (cfg->error[0] == '\0')
        snprintf(cfg->error, sizeof(cfg->error), fmt, a, b);
}

static void parse_servers(struct lurk_prov_config *cfg, const char *list)
{
    char *copy = OPENSSL_strdup(list), *save = NULL, *item;
    char err[256];

    if (copy == NULL)
        return;
    for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *end = item + strlen(item);
        struct lurk_address *a;
        while (*item == ' ' || *item == '\t')
            item++;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*item == '\0')
            continue;
        if (cfg->n_servers == LURK_PROV_MAX_SERVERS) {
            cfg_error(cfg, "lurk-server lists more than %s servers%s", "8", "");
            break;
        }
        a = &cfg->servers[cfg->n_servers];
        cfg->weight[cfg->n_servers] = 1;
        cfg->backup[cfg->n_servers] = false;
        /* "ADDRESS [weight=N] [backup]" (docs/provider.md §1). */
        {
            char *opt_save = NULL, *addr = strtok_r(item, " \t", &opt_save), *opt;
            bool bad = false;
            while ((opt = strtok_r(NULL, " \t", &opt_save)) != NULL) {
                char *end;
                long wt;
                if (strcmp(opt, "backup") == 0) {
                    cfg->backup[cfg->n_servers] = true;
                    continue;
                }
                if (strncmp(opt, "weight=", 7) == 0) {
                    errno = 0;
                    wt = strtol(opt + 7, &end, 10);
                    if (errno == 0 && end != opt + 7 && *end == '\0' && wt >= 1 &&
                        wt <= LURK_PROV_MAX_WEIGHT) {
                        cfg->weight[cfg->n_servers] = (int)wt;
                        continue;
                    }
                }
                cfg_error(cfg, "lurk-server %s: unknown option \"%s\" (weight=1..100 or backup)",
                          addr, opt);
                bad = true;
            }
            if (bad)
                continue;
            item = addr;
        }
        if (!lurk_address_parse(item, a, err, sizeof(err))) {
            cfg_error(cfg, "lurk-server: %s%s", err, "");
            continue;
        }
        /* docs/architecture.md §3: plain TCP carries premasters in clear; loopback only. */
        if (a->kind == LURK_ADDRESS_TCP && !lurk_address_is_loopback(a)) {
            cfg_error(cfg, "lurk-server %s: plain tcp:// is allowed only on loopback%s", item, "");
            continue;
        }
        cfg->n_servers++;
    }
    OPENSSL_free(copy);
}

/* Reads a credential file now: after chroot and setuid it may be out of reach. */
static uint8_t *read_file(struct lurk_prov_config *cfg, const char *setting, const char *path,
                          size_t *len, struct lurk_prov_file_stamp *st)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 4096;
    struct stat sb;

    *len = 0;
    memset(st, 0, sizeof(*st));
    /* What was read, for noticing a rotated file later (docs/provider.md §4). */
    if (f != NULL && fstat(fileno(f), &sb) == 0) {
        st->ok = true;
        st->dev = (uint64_t)sb.st_dev;
        st->ino = (uint64_t)sb.st_ino;
        st->size = (uint64_t)sb.st_size;
        st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    }
    if (f == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
        cfg_error(cfg, "%s %s", setting, why);
        return NULL;
    }
    buf = OPENSSL_malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            uint8_t *nb = NULL;
            if (cap < LURK_PROV_MAX_CREDENTIAL_BYTES)
                nb = OPENSSL_clear_realloc(buf, cap, cap * 2);
            if (nb == NULL) {
                OPENSSL_clear_free(buf, cap);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf == NULL || ferror(f) || n == 0) {
        cfg_error(cfg, "%s %s: unreadable, empty or larger than 256 KiB", setting, path);
        if (buf != NULL)
            OPENSSL_clear_free(buf, cap);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int parse_int(struct lurk_prov_config *cfg, const char *setting, const char *text, int min,
                     int max, int dflt)
{
    char *end;
    long v;

    if (text == NULL)
        return dflt;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        cfg_error(cfg, "%s = %s: not a number in range", setting, text);
        return dflt;
    }
    return (int)v;
}

/* lurk-log = syslog | stderr | /path: the file is opened now, before chroot and setuid. */
static void parse_log(struct lurk_prov_config *cfg, const char *text)
{
    cfg->log_fd = -1;
    cfg->log_sink = LURK_PROV_LOG_SYSLOG;
    if (text == NULL || strcmp(text, "syslog") == 0)
        return;
    if (strcmp(text, "stderr") == 0) {
        cfg->log_sink = LURK_PROV_LOG_STDERR;
        return;
    }
    if (text[0] != '/') {
        cfg_error(cfg, "lurk-log = %s: not syslog, stderr or an absolute path%s", text, "");
        return;
    }
    cfg->log_sink = LURK_PROV_LOG_FILE;
    cfg->log_path = OPENSSL_strdup(text);
    cfg->log_fd = open(text, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (cfg->log_fd < 0) {
        cfg_error(cfg, "lurk-log %s: %s", text, strerror(errno));
        cfg->log_sink = LURK_PROV_LOG_SYSLOG; /* the error itself still gets logged somewhere */
    }
}

/*
 * The settings this provider knows. The core hands a provider only the
 * values it asks for, so a misspelt one would be silently ignored: the
 * section is read again from the configuration file (lurk_prov_conf_check,
 * at key load) and any other lurk-* name is an error.
 */
static const char *const known_settings[] = {
    "lurk-server",       "lurk-ca",
    "lurk-cert",         "lurk-key",
    "lurk-timeout-ms",   "lurk-connections",
    "lurk-log",          "lurk-stats",
    "lurk-stats-ms",     "lurk-probe-min-ms",
    "lurk-probe-max-ms", "lurk-resolve-ms",
    "lurk-poll-us",      NULL,
};

/* The provider's section of the configuration file, read with NCONF; unknown lurk-* names. */
static void check_unknown_settings(LURK_PROV_CTX *pc)
{
    struct lurk_prov_config *cfg = &pc->cfg;
    char *file = CONF_get1_default_config_file();
    const char *name = NULL, *init_sect, *prov_sect, *sect;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_CORE_PROV_NAME, (char **)&name, 0),
        OSSL_PARAM_END,
    };
    CONF *conf = NULL;
    STACK_OF(CONF_VALUE) * values;

    /* Only when the file can be read: another file loaded by the application is not checked. */
    if (file == NULL || c_get_params == NULL || !c_get_params(pc->handle, params) || name == NULL)
        goto out;
    conf = NCONF_new_ex(NULL, NULL);
    ERR_set_mark();
    if (conf == NULL || NCONF_load(conf, file, NULL) <= 0) {
        ERR_pop_to_mark();
        goto out;
    }
    init_sect = NCONF_get_string(conf, NULL, "openssl_conf");
    prov_sect = init_sect != NULL ? NCONF_get_string(conf, init_sect, "providers") : NULL;
    sect = prov_sect != NULL ? NCONF_get_string(conf, prov_sect, name) : NULL;
    values = sect != NULL ? NCONF_get_section(conf, sect) : NULL;
    ERR_pop_to_mark();
    for (int i = 0; values != NULL && i < sk_CONF_VALUE_num(values); i++) {
        const CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        bool known = false;
        if (strncmp(v->name, "lurk-", 5) != 0)
            continue;
        for (size_t k = 0; known_settings[k] != NULL; k++)
            known |= strcmp(v->name, known_settings[k]) == 0;
        if (!known) {
            char where[300];
            snprintf(where, sizeof(where), "%.60s (section [%.60s] of %.150s)", v->name, sect,
                     file);
            cfg_error(cfg, "unknown setting %s%s", where, "");
        }
    }
out:
    NCONF_free(conf);
    OPENSSL_free(file);
}

static void read_config(LURK_PROV_CTX *pc)
{
    struct lurk_prov_config *cfg = &pc->cfg;
    const char *server = NULL, *ca = NULL, *cert = NULL, *key = NULL, *timeout = NULL,
               *conns = NULL, *log = NULL, *stats = NULL, *stats_ms = NULL, *probe_min = NULL,
               *probe_max = NULL, *resolve = NULL, *poll_us = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr("lurk-server", (char **)&server, 0),
        OSSL_PARAM_utf8_ptr("lurk-ca", (char **)&ca, 0),
        OSSL_PARAM_utf8_ptr("lurk-cert", (char **)&cert, 0),
        OSSL_PARAM_utf8_ptr("lurk-key", (char **)&key, 0),
        OSSL_PARAM_utf8_ptr("lurk-timeout-ms", (char **)&timeout, 0),
        OSSL_PARAM_utf8_ptr("lurk-connections", (char **)&conns, 0),
        OSSL_PARAM_utf8_ptr("lurk-log", (char **)&log, 0),
        OSSL_PARAM_utf8_ptr("lurk-stats", (char **)&stats, 0),
        OSSL_PARAM_utf8_ptr("lurk-stats-ms", (char **)&stats_ms, 0),
        OSSL_PARAM_utf8_ptr("lurk-probe-min-ms", (char **)&probe_min, 0),
        OSSL_PARAM_utf8_ptr("lurk-probe-max-ms", (char **)&probe_max, 0),
        OSSL_PARAM_utf8_ptr("lurk-resolve-ms", (char **)&resolve, 0),
        OSSL_PARAM_utf8_ptr("lurk-poll-us", (char **)&poll_us, 0),
        OSSL_PARAM_END,
    };

    cfg->timeout_ms = LURK_PROV_DEFAULT_TIMEOUT_MS;
    cfg->poll_us = LURK_CLIENT_POLL_US_DEFAULT;
    cfg->connections = LURK_PROV_DEFAULT_CONNECTIONS;
    cfg->probe_min_ms = LURK_PROV_DEFAULT_PROBE_MIN_MS;
    cfg->probe_max_ms = LURK_PROV_DEFAULT_PROBE_MAX_MS;
    cfg->resolve_ms = LURK_PROV_DEFAULT_RESOLVE_MS;
    cfg->stats_ms = LURK_PROV_DEFAULT_STATS_MS;
    cfg->log_fd = -1;
    if (c_get_params == NULL || !c_get_params(pc->handle, params))
        return; /* loaded without a config section: key references must name a server */
    parse_log(cfg, log);
    cfg->probe_min_ms =
        parse_int(cfg, "lurk-probe-min-ms", probe_min, 10, 600000, LURK_PROV_DEFAULT_PROBE_MIN_MS);
    cfg->probe_max_ms =
        parse_int(cfg, "lurk-probe-max-ms", probe_max, 10, 3600000, LURK_PROV_DEFAULT_PROBE_MAX_MS);
    if (cfg->probe_max_ms < cfg->probe_min_ms)
        cfg_error(cfg, "lurk-probe-max-ms %s is below lurk-probe-min-ms%s",
                  probe_max ? probe_max : "", "");
    cfg->resolve_ms =
        parse_int(cfg, "lurk-resolve-ms", resolve, 1000, 86400000, LURK_PROV_DEFAULT_RESOLVE_MS);
    cfg->stats_ms =
        parse_int(cfg, "lurk-stats-ms", stats_ms, 100, 3600000, LURK_PROV_DEFAULT_STATS_MS);
    if (stats != NULL) {
        if (stats[0] != '/')
            cfg_error(cfg, "lurk-stats = %s: not an absolute path%s", stats, "");
        else
            cfg->stats_path = OPENSSL_strdup(stats);
    }
    if (server != NULL)
        parse_servers(cfg, server);
    cfg->timeout_ms =
        parse_int(cfg, "lurk-timeout-ms", timeout, 1, 600000, LURK_PROV_DEFAULT_TIMEOUT_MS);
    /* docs/provider.md §1: the front end's CPU spent waiting for each answer. */
    cfg->poll_us = parse_int(cfg, "lurk-poll-us", poll_us, 0, LURK_CLIENT_POLL_US_MAX,
                             LURK_CLIENT_POLL_US_DEFAULT);
    cfg->connections = parse_int(cfg, "lurk-connections", conns, 1, LURK_PROV_MAX_CONNECTIONS,
                                 LURK_PROV_DEFAULT_CONNECTIONS);
    if (ca != NULL && (cfg->ca_path = OPENSSL_strdup(ca)) != NULL)
        cfg->ca_pem = read_file(cfg, "lurk-ca", ca, &cfg->ca_len, &cfg->ca_stamp);
    if (cert != NULL && (cfg->cert_path = OPENSSL_strdup(cert)) != NULL)
        cfg->cert_pem = read_file(cfg, "lurk-cert", cert, &cfg->cert_len, &cfg->cert_stamp);
    if (key != NULL && (cfg->key_path = OPENSSL_strdup(key)) != NULL)
        cfg->key_pem = read_file(cfg, "lurk-key", key, &cfg->key_len, &cfg->key_stamp);
    check_unknown_settings(pc);
}

static void free_config(struct lurk_prov_config *cfg)
{
    OPENSSL_free(cfg->ca_path);
    OPENSSL_free(cfg->cert_path);
    OPENSSL_free(cfg->key_path);
    OPENSSL_free(cfg->ca_pem);
    OPENSSL_free(cfg->cert_pem);
    OPENSSL_clear_free(cfg->key_pem, cfg->key_len);
    OPENSSL_free(cfg->log_path);
    OPENSSL_free(cfg->stats_path);
    if (cfg->log_fd >= 0)
        close(cfg->log_fd);
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_fd = -1;
}

/* ---- algorithms ---- */

/* clang-format off */
#define ALG(names, fns) {(names), LURK_PROV_PROPS, (fns), NULL}
/* clang-format on */
#define DECODER_PROPS LURK_PROV_PROPS ",input=der,structure=" LURK_KEYREF_STRUCTURE

static const OSSL_ALGORITHM keymgmt_algs[] = {
    ALG(LURK_PROV_NAMES_RSA, lurk_prov_rsa_keymgmt_functions),
    ALG(LURK_PROV_NAMES_RSA_PSS, lurk_prov_rsa_pss_keymgmt_functions),
    ALG(LURK_PROV_NAMES_EC, lurk_prov_ec_keymgmt_functions),
    ALG(LURK_PROV_NAMES_ED25519, lurk_prov_ed25519_keymgmt_functions),
    ALG(LURK_PROV_NAMES_ED448, lurk_prov_ed448_keymgmt_functions),
    {NULL, NULL, NULL, NULL},
};

/* One implementation serves every key type; it looks at the key at init. */
static const OSSL_ALGORITHM signature_algs[] = {
    ALG(LURK_PROV_NAMES_RSA, lurk_prov_signature_functions),
    ALG(LURK_PROV_NAMES_ECDSA, lurk_prov_signature_functions),
    ALG(LURK_PROV_NAMES_ED25519, lurk_prov_signature_functions),
    ALG(LURK_PROV_NAMES_ED448, lurk_prov_signature_functions),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM asym_cipher_algs[] = {
    ALG(LURK_PROV_NAMES_RSA, lurk_prov_rsa_asym_cipher_functions),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM decoder_algs[] = {
    {"DER", LURK_PROV_PROPS ",input=pem", lurk_prov_pem_to_der_decoder_functions, NULL},
    {LURK_PROV_NAMES_RSA, DECODER_PROPS, lurk_prov_der_to_rsa_decoder_functions, NULL},
    {LURK_PROV_NAMES_RSA_PSS, DECODER_PROPS, lurk_prov_der_to_rsa_pss_decoder_functions, NULL},
    {LURK_PROV_NAMES_EC, DECODER_PROPS, lurk_prov_der_to_ec_decoder_functions, NULL},
    {LURK_PROV_NAMES_ED25519, DECODER_PROPS, lurk_prov_der_to_ed25519_decoder_functions, NULL},
    {LURK_PROV_NAMES_ED448, DECODER_PROPS, lurk_prov_der_to_ed448_decoder_functions, NULL},
    {NULL, NULL, NULL, NULL},
};

/* Encoders of the private half (prov_encoder.c), for every key type. */
#define ENC_PROPS(out, st) LURK_PROV_PROPS ",output=" out ",structure=" st
#define PRIVATE_ENCODERS(names)                                                                    \
    {(names), LURK_PROV_PROPS ",output=text", lurk_prov_text_encoder_functions, NULL},             \
        {(names), ENC_PROPS("pem", "PrivateKeyInfo"), lurk_prov_private_encoder_functions, NULL},  \
        {(names), ENC_PROPS("der", "PrivateKeyInfo"), lurk_prov_private_encoder_functions, NULL},  \
        {(names), ENC_PROPS("pem", "EncryptedPrivateKeyInfo"),                                     \
         lurk_prov_private_encoder_functions, NULL},                                               \
        {(names), ENC_PROPS("der", "EncryptedPrivateKeyInfo"),                                     \
         lurk_prov_private_encoder_functions, NULL},                                               \
        {(names), ENC_PROPS("pem", "type-specific"), lurk_prov_private_encoder_functions, NULL},   \
    {                                                                                              \
        (names), ENC_PROPS("der", "type-specific"), lurk_prov_private_encoder_functions, NULL      \
    }

static const OSSL_ALGORITHM encoder_algs[] = {
    PRIVATE_ENCODERS(LURK_PROV_NAMES_RSA),   PRIVATE_ENCODERS(LURK_PROV_NAMES_RSA_PSS),
    PRIVATE_ENCODERS(LURK_PROV_NAMES_EC),    PRIVATE_ENCODERS(LURK_PROV_NAMES_ED25519),
    PRIVATE_ENCODERS(LURK_PROV_NAMES_ED448), {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM store_algs[] = {
    ALG("lurk", lurk_prov_store_functions),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *query_operation(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher_algs;
    case OSSL_OP_DECODER:
        return decoder_algs;
    case OSSL_OP_ENCODER:
        return encoder_algs;
    case OSSL_OP_STORE:
        return store_algs;
    default:
        return NULL;
    }
}

/* ---- provider parameters ---- */

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
        OSSL_PARAM_END,
    };

    (void)provctx;
    return params;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "lurk remote-key provider"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, LURK_PROV_VERSION))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "lurk " LURK_PROV_VERSION))
        return 0;
    /* Always usable: whether lurkd answers is known only per operation. */
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return lurk_prov_reason_strings();
}

static void teardown(void *provctx)
{
    LURK_PROV_CTX *pc = provctx;

    if (pc == NULL)
        return;
    /* The health thread uses the pool and the log: it stops first. */
    lurk_prov_fleet_free(pc->fleet);
    lurk_prov_pool_free(pc->pool);
    lurk_prov_log_free(pc->log);
    OSSL_PROVIDER_unload(pc->libctx_default);
    OSSL_LIB_CTX_free(pc->libctx);
    pthread_mutex_destroy(&pc->libctx_lock);
    free_config(&pc->cfg);
    OPENSSL_free(pc);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {0, NULL},
};

__attribute__((visibility("default"))) int OSSL_provider_init(const OSSL_CORE_HANDLE *handle,
                                                              const OSSL_DISPATCH *in,
                                                              const OSSL_DISPATCH **out,
                                                              void **provctx)
{
    LURK_PROV_CTX *pc;
    bool upcalls_ok;

    /*
     * The upcalls are libcrypto's own functions, the same for every handle:
     * captured once, so a second load (another library context) never
     * rewrites what a running instance reads.
     */
    pthread_mutex_lock(&upcalls_lock);
    if (!upcalls_captured) {
        for (const OSSL_DISPATCH *f = in; f->function_id != 0; f++)
            if (f->function_id == OSSL_FUNC_CORE_GET_PARAMS)
                c_get_params = OSSL_FUNC_core_get_params(f);
        lurk_prov_err_init(in);
        upcalls_captured = lurk_prov_bio_init(in);
    }
    upcalls_ok = upcalls_captured;
    pthread_mutex_unlock(&upcalls_lock);
    if (!upcalls_ok)
        return 0;
    pc = OPENSSL_zalloc(sizeof(*pc));
    if (pc == NULL)
        return 0;
    pc->handle = handle;
    pthread_mutex_init(&pc->libctx_lock, NULL);
    pc->cfg.log_fd = -1;
    read_config(pc);
    pc->pool = lurk_prov_pool_new();
    pc->log = lurk_prov_log_new();
    pc->fleet = lurk_prov_fleet_new(&pc->cfg);
    if (pc->pool == NULL || pc->log == NULL || pc->fleet == NULL) {
        teardown(pc);
        return 0;
    }
    *out = provider_functions;
    *provctx = pc;
    return 1;
}
