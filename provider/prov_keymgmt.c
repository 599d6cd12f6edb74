/*
 * Key management for remote keys, one dispatch table per key type
 * (docs/architecture.md §6, §8.2).
 *
 * - load: from the decoder's or the store's reference (a pointer to our key
 *   pointer, detached here so the caller's cleanup does not free it).
 * - has: private, public and domain parts all "present": the private half
 *   is in lurkd. PEM_read_bio_PrivateKey insists on has(PRIVATE).
 * - get_params: answered by the public key (a default-provider key in our
 *   private context), so bits, security-bits, max-size (ECDSA: the DER
 *   maximum), default or mandatory digest, group name, point format,
 *   public components and encoded public key are exactly what the default
 *   provider would say for the same key.
 * - export: public and domain parameters only. Refusing any PRIVATE
 *   selection is what makes OpenSSL 3.0's operation fallback (3.0.1+,
 *   m_sigver.c, asymcipher.c) pick our signature and asym cipher for our
 *   keys while the default provider keeps everything else (docs/architecture.md §8.2);
 *   the public export is what lets X509_check_private_key compare our key
 *   with a certificate's (evp_keymgmt_util_match exports our key into the
 *   certificate key's keymgmt).
 * - no gen, and an import that refuses everything: a remote key is only
 *   ever made from a reference, and a generic import would let our keymgmt
 *   take foreign keys (docs/architecture.md §8.2). new exists for one reason, see key_new.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "provider.h"

/*
 * The functions of the dispatch tables, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_keymgmt_new_fn key_new;
static OSSL_FUNC_keymgmt_import_fn key_import;
static OSSL_FUNC_keymgmt_import_types_fn import_types;
static OSSL_FUNC_keymgmt_free_fn key_free;
static OSSL_FUNC_keymgmt_dup_fn key_dup;
static OSSL_FUNC_keymgmt_has_fn has;
static OSSL_FUNC_keymgmt_match_fn match;
static OSSL_FUNC_keymgmt_get_params_fn get_params;
static OSSL_FUNC_keymgmt_export_fn key_export;
static OSSL_FUNC_keymgmt_load_fn rsa_load, rsa_pss_load, ec_load, ed25519_load, ed448_load;
static OSSL_FUNC_keymgmt_gettable_params_fn rsa_gettable_params, ec_gettable_params,
    ed_gettable_params;
static OSSL_FUNC_keymgmt_export_types_fn rsa_export_types, rsa_pss_export_types, ec_export_types,
    ed_export_types;
static OSSL_FUNC_keymgmt_query_operation_name_fn rsa_query_operation_name, ec_query_operation_name;

static void *load(enum lurk_keyref_key_type type, const void *reference, size_t reference_sz)
{
    struct lurk_prov_key *key;

    if (reference == NULL || reference_sz != sizeof(key))
        return NULL;
    key = *(struct lurk_prov_key *const *)reference;
    if (key == NULL || key->type != type)
        return NULL;
    /* Detach: the reference is volatile and its owner frees what is left in it. */
    *(struct lurk_prov_key **)reference = NULL;
    return key;
}

static void *rsa_load(const void *r, size_t n)
{
    return load(LURK_KEYREF_KEY_RSA, r, n);
}

static void *rsa_pss_load(const void *r, size_t n)
{
    return load(LURK_KEYREF_KEY_RSA_PSS, r, n);
}

static void *ec_load(const void *r, size_t n)
{
    return load(LURK_KEYREF_KEY_EC, r, n);
}

static void *ed25519_load(const void *r, size_t n)
{
    return load(LURK_KEYREF_KEY_ED25519, r, n);
}

static void *ed448_load(const void *r, size_t n)
{
    return load(LURK_KEYREF_KEY_ED448, r, n);
}

/*
 * new + import exist only so that libcrypto's cross-provider comparison
 * (evp_keymgmt_util_match, first direction: the certificate's key into our
 * keymgmt) fails quietly: without new, 3.0's evp_keymgmt_util_try_import
 * leaves a "malloc failure" on the error queue of a successful
 * X509_check_private_key, which nginx later logs as a stale error. The
 * empty key this makes has nothing in it and import refuses everything:
 * a remote key is only ever made from a reference. The comparison then
 * succeeds the other way round (our public export into the default keymgmt).
 */
static void *key_new(void *provctx)
{
    struct lurk_prov_key *key = OPENSSL_zalloc(sizeof(*key));

    if (key != NULL)
        key->pc = provctx;
    return key;
}

static int key_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    (void)keydata;
    (void)selection;
    (void)params;
    return 0; /* silently: the caller falls back to exporting our key instead */
}

static const OSSL_PARAM *import_types(int selection)
{
    static const OSSL_PARAM none[] = {OSSL_PARAM_END};

    (void)selection;
    return none;
}

static void key_free(void *keydata)
{
    lurk_prov_key_free(keydata);
}

/* A key made by key_new and never filled. */
static bool empty(const struct lurk_prov_key *key)
{
    return key == NULL || key->pub == NULL;
}

static void *key_dup(const void *keydata, int selection)
{
    (void)selection;
    return !empty(keydata) ? lurk_prov_key_dup(keydata) : NULL;
}

static int has(const void *keydata, int selection)
{
    if (keydata == NULL)
        return 0;
    return selection == 0 || !empty(keydata);
}

static int match(const void *keydata1, const void *keydata2, int selection)
{
    const struct lurk_prov_key *a = keydata1, *b = keydata2;

    (void)selection;
    if (empty(a) || empty(b) || a->type != b->type)
        return 0;
    /* Same public key, same private key: lurkd holds one per key id. */
    return EVP_PKEY_eq(a->pub, b->pub) == 1;
}

static int get_params(void *keydata, OSSL_PARAM params[])
{
    const struct lurk_prov_key *key = keydata;

    if (empty(key))
        return 0;
    /* An empty request (or only names the public key cannot answer) is fine. */
    if (params == NULL || params[0].key == NULL)
        return 1;
    return EVP_PKEY_get_params(key->pub, params);
}

#define COMMON_GETTABLE                                                                            \
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),                                                    \
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),                                       \
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL)

static const OSSL_PARAM rsa_gettable[] = {
    COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_gettable[] = {
    COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_FIELD_TYPE, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_X, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_Y, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ed_gettable[] = {
    COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *rsa_gettable_params(void *provctx)
{
    (void)provctx;
    return rsa_gettable;
}

static const OSSL_PARAM *ec_gettable_params(void *provctx)
{
    (void)provctx;
    return ec_gettable;
}

static const OSSL_PARAM *ed_gettable_params(void *provctx)
{
    (void)provctx;
    return ed_gettable;
}

static int key_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    const struct lurk_prov_key *key = keydata;

    /* Silently: this refusal is the expected first step of every signature init. */
    if (empty(key) || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        return 0;
    if ((selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) == 0)
        return 0;
    return EVP_PKEY_export(key->pub, selection, cb, cbarg);
}

static const OSSL_PARAM rsa_export[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_pss_export[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MASKGENFUNC, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_export[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ed_export[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *export_types(const OSSL_PARAM *list, int selection)
{
    static const OSSL_PARAM none[] = {OSSL_PARAM_END};

    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        return none;
    return list;
}

static const OSSL_PARAM *rsa_export_types(int selection)
{
    return export_types(rsa_export, selection);
}

static const OSSL_PARAM *rsa_pss_export_types(int selection)
{
    return export_types(rsa_pss_export, selection);
}

static const OSSL_PARAM *ec_export_types(int selection)
{
    return export_types(ec_export, selection);
}

static const OSSL_PARAM *ed_export_types(int selection)
{
    return export_types(ed_export, selection);
}

/* The operation names the default provider uses for these key types. */
static const char *rsa_query_operation_name(int operation_id)
{
    (void)operation_id;
    return "RSA"; /* signature and asym cipher (RSA-PSS keys sign with "RSA" too) */
}

static const char *ec_query_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_KEYEXCH ? "ECDH" : "ECDSA";
}

/* clang-format off */
#define KEYMGMT_COMMON                                                                 \
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))key_new},                                 \
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))key_import},                           \
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))import_types},                   \
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))key_free},                               \
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))key_dup},                                 \
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))has},                                     \
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))match},                                 \
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))get_params},                       \
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))key_export}
/* clang-format on */

const OSSL_DISPATCH lurk_prov_rsa_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))rsa_load},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name},
    {0, NULL},
};

const OSSL_DISPATCH lurk_prov_rsa_pss_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))rsa_pss_load},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_pss_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name},
    {0, NULL},
};

const OSSL_DISPATCH lurk_prov_ec_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ec_load},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ec_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_query_operation_name},
    {0, NULL},
};

/* EdDSA: no query_operation_name, the key type name is the signature name. */
const OSSL_DISPATCH lurk_prov_ed25519_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ed25519_load},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ed_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed_export_types},
    {0, NULL},
};

const OSSL_DISPATCH lurk_prov_ed448_keymgmt_functions[] = {
    KEYMGMT_COMMON,
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ed448_load},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ed_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed_export_types},
    {0, NULL},
};
