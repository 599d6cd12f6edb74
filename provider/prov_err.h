/*
 * The provider's error reasons. They are registered with the core through
 * OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, so ERR_reason_error_string() and
 * nginx's error log print the text; the data string says which server, which
 * key id and what happened ("server %s, key id %s: %s").
 */
#ifndef LURK_PROV_ERR_H
#define LURK_PROV_ERR_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>

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
};

/* The reason table handed to the core (terminated by {0, NULL}). */
const OSSL_ITEM *lurk_prov_reason_strings(void);
const char *lurk_prov_reason_text(int reason);

/* Captures core_new_error/core_set_error_debug/core_vset_error at init. */
void lurk_prov_err_init(const OSSL_DISPATCH *in);

/*
 * Raises one error attributed to this provider (handle), with a printf-style
 * data string. handle may be NULL before init: the error then goes under
 * ERR_LIB_PROV with the reason text in the data.
 */
void lurk_prov_raise(const OSSL_CORE_HANDLE *handle, int reason, const char *file, int line,
                     const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define LURK_PROV_RAISE(pc, reason, ...)                                                           \
    lurk_prov_raise((pc) != NULL ? (pc)->handle : NULL, (reason), OPENSSL_FILE, OPENSSL_LINE,      \
                    OPENSSL_FUNC, __VA_ARGS__)

#endif
