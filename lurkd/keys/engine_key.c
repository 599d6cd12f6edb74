/*
 * Engine keys; see engine_key.h.
 *
 * The ENGINE API is deprecated in OpenSSL 3, but on Debian 12 libp11's
 * pkcs11 engine is the only packaged way to an HSM (there is no pkcs11
 * provider), so this file, and only this file, silences the deprecation
 * warnings. The rest of lurkd sees a plain EVP_PKEY.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "keys/engine_key.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ui.h>

#include "keys/secret_file.h"

#define ENGINE_PREFIX "engine:"
#define PIN_MAX       256

/*
 * What this process gave each engine. libp11 loads the PKCS#11 module of
 * MODULE_PATH at the first key and keeps it while any functional reference
 * is held (during a reload the old keys still hold one), and it keeps the
 * last PIN it was given for the life of the process. Keys are loaded by one
 * thread, but the last holder of an old configuration frees its keys from
 * any thread: hence the lock.
 */
struct engine_use {
    char id[64];
    char *module;  /* the engine_module in force; NULL: the engine's default */
    unsigned keys; /* keys holding the engine; while > 0 the module is fixed */
    bool pin_given;
};
static struct engine_use uses[8];
static size_t n_uses;
static pthread_mutex_t uses_lock = PTHREAD_MUTEX_INITIALIZER;

/* "engine:ID:KEY_ID" into id and key_id (which points into source). */
static bool parse_source(const char *source, char *id, size_t idlen, const char **key_id)
{
    const char *p = source + strlen(ENGINE_PREFIX), *colon = strchr(p, ':');

    if (colon == NULL || colon == p || (size_t)(colon - p) >= idlen || colon[1] == '\0')
        return false;
    /* OpenSSL makes a file name of it (dynamic engines): no path of its own. */
    for (const char *c = p; c < colon; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            return false;
    memcpy(id, p, (size_t)(colon - p));
    id[colon - p] = '\0';
    *key_id = colon + 1;
    return true;
}

static bool same_module(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The module of engine id: the engine_module of the keys of cfg that use
 * it, which must agree (libp11 has one module per engine).
 */
static bool module_of(const struct lurkd_config *cfg, const char *id, const char **module,
                      const char **module_at, char *why, size_t whylen)
{
    *module = NULL;
    *module_at = NULL;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const struct lurkd_key_conf *k = &cfg->keys[i];
        char other[64];
        const char *unused;
        if (k->engine_module == NULL || !lurkd_key_source_is_engine(k->source) ||
            !parse_source(k->source, other, sizeof(other), &unused) || strcmp(other, id) != 0)
            continue;
        if (*module == NULL) {
            *module = k->engine_module;
            *module_at = k->engine_module_where;
        } else if (strcmp(*module, k->engine_module) != 0) {
            snprintf(why, whylen,
                     "engine %s gets module %s here but %s at %s: the keys of one engine share "
                     "its module",
                     id, k->engine_module, *module, *module_at ? *module_at : "another key");
            *module_at = k->engine_module_where;
            return false;
        }
    }
    return true;
}

/* The record of engine id, added if new; NULL when the table is full. Under uses_lock. */
static struct engine_use *use_of(const char *id)
{
    for (size_t i = 0; i < n_uses; i++)
        if (strcmp(uses[i].id, id) == 0)
            return &uses[i];
    if (n_uses == sizeof(uses) / sizeof(uses[0]))
        return NULL;
    snprintf(uses[n_uses].id, sizeof(uses[n_uses].id), "%s", id);
    return &uses[n_uses++];
}

/* The PIN on the first line of path, without its line end. */
static bool read_pin(const char *path, char pin[PIN_MAX], char *why, size_t whylen)
{
    FILE *f;
    size_t n;
    bool ok;

    if (!lurkd_secret_file_private(path, why, whylen))
        return false;
    if ((f = fopen(path, "r")) == NULL) {
        snprintf(why, whylen, "cannot open pin_file %s: %s", path, strerror(errno));
        return false;
    }
    n = fread(pin, 1, PIN_MAX - 1, f);
    ok = feof(f) && !ferror(f);
    fclose(f);
    pin[n] = '\0';
    pin[strcspn(pin, "\r\n")] = '\0';
    if (!ok || pin[0] == '\0') {
        OPENSSL_cleanse(pin, PIN_MAX);
        snprintf(why, whylen, "pin_file %s must hold the PIN on its first line%s", path,
                 ok ? "" : " (it is too long)");
        return false;
    }
    return true;
}

/*
 * The UI the engine gets: a token that asks for a PIN lurkd was not given
 * is refused on the spot. A daemon cannot prompt, and logging in with an
 * empty PIN would count against the token's retry limit.
 */
static int refuse_pin(UI *ui, UI_STRING *uis)
{
    bool *asked = UI_get0_user_data(ui);

    (void)uis;
    if (asked != NULL)
        *asked = true;
    return 0;
}

static UI_METHOD *no_prompt_method;

static void no_prompt_init(void)
{
    no_prompt_method = UI_create_method("lurkd: no PIN prompt");
    if (no_prompt_method != NULL)
        UI_method_set_reader(no_prompt_method, refuse_pin);
}

/* Made once, kept for the life of the process. */
static UI_METHOD *no_prompt(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, no_prompt_init);
    return no_prompt_method;
}

/*
 * The reasons in OpenSSL's error queue, outermost last, joined; *pin is set
 * when one of them is about the PIN (libp11 reports PKCS#11 return values
 * such as CKR_PIN_INCORRECT by name). Empties the queue.
 */
static void queue_reasons(char *buf, size_t len, bool *pin)
{
    unsigned long e;
    size_t at = 0;

    buf[0] = '\0';
    *pin = false;
    while ((e = ERR_get_error()) != 0 && at + 1 < len) {
        const char *r = ERR_reason_error_string(e);
        char upper[128];
        size_t i;
        if (r == NULL || strstr(buf, r) != NULL)
            continue;
        for (i = 0; r[i] != '\0' && i + 1 < sizeof(upper); i++)
            upper[i] = (char)toupper((unsigned char)r[i]);
        upper[i] = '\0';
        *pin = *pin || strstr(upper, "PIN") != NULL;
        at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ": " : "", r);
    }
    ERR_clear_error();
    if (buf[0] == '\0')
        snprintf(buf, len, "no details");
}

/* Refusals that need no engine: the source's syntax and PINs in it. */
static bool check_source(const char *source, char id[64], const char **key_id, char *why,
                         size_t whylen)
{
    if (!parse_source(source, id, 64, key_id)) {
        snprintf(why, whylen,
                 "an engine key is engine:ENGINE_ID:KEY_ID (ENGINE_ID: [A-Za-z0-9_-])");
        return false;
    }
    /* lurkd prints the source (--check, errors): a PIN does not belong in it. */
    if (strstr(*key_id, "pin-value=") != NULL) {
        snprintf(why, whylen, "the PIN would be printed with the source: use pin_file");
        return false;
    }
    /* libp11 0.4 keeps the file's newline in the PIN: a failed login each start. */
    if (strstr(*key_id, "pin-source=") != NULL) {
        snprintf(why, whylen, "use pin_file rather than pin-source");
        return false;
    }
    return true;
}

/*
 * The record of engine id if a key with module and (or without) a pin_file
 * may use the engine now; NULL with why otherwise (*module_fault: because of
 * the module). *set_module: whether the engine must be given module (no key
 * holds it yet).
 */
static struct engine_use *claim(const char *id, const char *module, bool has_pin_file,
                                bool *set_module, bool *module_fault, char *why, size_t whylen)
{
    struct engine_use *use;

    *module_fault = false;
    pthread_mutex_lock(&uses_lock);
    use = use_of(id);
    if (use == NULL) {
        snprintf(why, whylen, "too many engines");
    } else if (use->keys > 0 && !same_module(use->module, module)) {
        snprintf(why, whylen,
                 "engine %s already runs module %s for the keys in use: another engine_module "
                 "takes a restart",
                 id, use->module ? use->module : "(its default)");
        *module_fault = true;
        use = NULL;
    } else if (use->pin_given && !has_pin_file) {
        snprintf(why, whylen,
                 "engine %s keeps the PIN of another key and would try it on this key's token: "
                 "give this key a pin_file too",
                 id);
        use = NULL;
    } else {
        *set_module = module != NULL && use->keys == 0;
    }
    pthread_mutex_unlock(&uses_lock);
    return use;
}

/*
 * A functional reference to engine id, given module first when set_module.
 * *module_fault: the failure is the module's.
 */
static ENGINE *open_engine(const char *id, const char *module, bool set_module, bool *module_fault,
                           char *why, size_t whylen)
{
    char reasons[256];
    bool pin_error;
    ENGINE *e;

    *module_fault = false;
    ERR_clear_error();
    /* Built-in engines, then OPENSSL_ENGINES or OpenSSL's engines directory (dynamic). */
    e = ENGINE_by_id(id);
    if (e == NULL) {
        const char *dir = getenv("OPENSSL_ENGINES");
        ERR_clear_error();
        snprintf(why, whylen, "no engine \"%s\" (not built in, no %s/%s.so)", id,
                 dir ? dir : OPENSSL_info(OPENSSL_INFO_ENGINES_DIR), id);
        return NULL;
    }
    if (set_module && ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) != 1) {
        queue_reasons(reasons, sizeof(reasons), &pin_error);
        snprintf(why, whylen, "engine %s does not take MODULE_PATH %s: %s", id, module, reasons);
        *module_fault = true;
        ENGINE_free(e);
        return NULL;
    }
    if (ENGINE_init(e) != 1) {
        queue_reasons(reasons, sizeof(reasons), &pin_error);
        snprintf(why, whylen, "engine %s fails to initialise: %s", id, reasons);
        ENGINE_free(e);
        return NULL;
    }
    ENGINE_free(e); /* the functional reference of ENGINE_init keeps it */
    return e;
}

/* ENGINE_load_private_key, with why and *at saying which setting is at fault. */
static EVP_PKEY *load_key(ENGINE *e, const char *id, const char *key_id,
                          const struct lurkd_key_conf *conf, char *why, size_t whylen,
                          const char **at)
{
    char reasons[256];
    bool asked = false, pin_error;
    /* Without a UI method of its own, the engine would prompt on the terminal. */
    EVP_PKEY *pkey = no_prompt() ? ENGINE_load_private_key(e, key_id, no_prompt(), &asked) : NULL;

    if (pkey != NULL)
        return pkey;
    queue_reasons(reasons, sizeof(reasons), &pin_error);
    if (asked) {
        snprintf(why, whylen, "the token wants a PIN: set pin_file");
    } else if (pin_error && conf->pin_file != NULL) {
        /* Each refused PIN counts against the token's retry limit. */
        snprintf(why, whylen, "login refused with the PIN of %s: %s", conf->pin_file, reasons);
        *at = conf->pin_file_where;
    } else {
        snprintf(why, whylen, "engine %s did not load the key: %s", id, reasons);
    }
    return NULL;
}

EVP_PKEY *lurkd_engine_load_key(const struct lurkd_config *cfg, const struct lurkd_key_conf *conf,
                                ENGINE **engine, char *why, size_t whylen, const char **at)
{
    char id[64], pin[PIN_MAX] = "", reasons[256];
    const char *key_id, *module, *module_at;
    struct engine_use *use;
    bool set_module = false, module_fault, pin_error;
    ENGINE *e = NULL;
    EVP_PKEY *pkey = NULL;

    *engine = NULL;
    *at = conf->source_where ? conf->source_where : conf->where;
    if (!check_source(conf->source, id, &key_id, why, whylen))
        return NULL;
    if (!module_of(cfg, id, &module, &module_at, why, whylen)) {
        *at = module_at;
        return NULL;
    }
    use = claim(id, module, conf->pin_file != NULL, &set_module, &module_fault, why, whylen);
    if (use == NULL) {
        *at = module_fault && module_at ? module_at : *at;
        return NULL;
    }
    if (module != NULL && access(module, R_OK) != 0) {
        snprintf(why, whylen, "cannot read engine_module %s: %s", module, strerror(errno));
        *at = module_at;
        return NULL;
    }
    if (conf->pin_file != NULL && !read_pin(conf->pin_file, pin, why, whylen)) {
        *at = conf->pin_file_where;
        return NULL;
    }
    e = open_engine(id, module, set_module, &module_fault, why, whylen);
    if (e == NULL) {
        *at = module_fault && module_at ? module_at : *at;
        goto out;
    }
    if (pin[0] != '\0') {
        if (ENGINE_ctrl_cmd_string(e, "PIN", pin, 0) != 1) {
            queue_reasons(reasons, sizeof(reasons), &pin_error);
            snprintf(why, whylen, "engine %s does not take a PIN: %s", id, reasons);
            *at = conf->pin_file_where;
            goto out;
        }
        pthread_mutex_lock(&uses_lock);
        use->pin_given = true;
        pthread_mutex_unlock(&uses_lock);
    }
    pkey = load_key(e, id, key_id, conf, why, whylen, at);
out:
    OPENSSL_cleanse(pin, sizeof(pin));
    if (pkey == NULL) {
        if (e != NULL)
            ENGINE_finish(e);
        return NULL;
    }
    pthread_mutex_lock(&uses_lock);
    if (use->keys++ == 0) {
        free(use->module);
        use->module = module ? strdup(module) : NULL;
    }
    pthread_mutex_unlock(&uses_lock);
    *engine = e;
    return pkey;
}

void lurkd_engine_release(ENGINE *engine)
{
    if (engine == NULL)
        return;
    pthread_mutex_lock(&uses_lock);
    for (size_t i = 0; i < n_uses; i++)
        if (strcmp(uses[i].id, ENGINE_get_id(engine)) == 0 && uses[i].keys > 0)
            uses[i].keys--;
    pthread_mutex_unlock(&uses_lock);
    /* The last reference lets the engine unload its module (libp11: C_Finalize). */
    ENGINE_finish(engine);
}
