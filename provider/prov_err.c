/* Reason codes and error raising; see provider.h and docs/provider.md §5. */
#include <stdarg.h>
#include <stdio.h>

#include <openssl/err.h>

#include "provider.h"

static const OSSL_ITEM reasons[] = {
    {LURK_PROV_R_NO_EXCHANGE, "no LURK exchange for this content"},
    {LURK_PROV_R_KEYREF_MALFORMED, "malformed LURK key reference"},
    {LURK_PROV_R_KEYREF_VERSION, "unsupported LURK key reference version"},
    {LURK_PROV_R_KEYREF_KEY_ID_TYPE, "unsupported LURK key id type"},
    {LURK_PROV_R_KEYREF_KEY_ID_MISMATCH, "LURK key id does not match the public key"},
    {LURK_PROV_R_KEYREF_BAD_SPKI, "bad public key in LURK key reference"},
    {LURK_PROV_R_KEYREF_BAD_SERVER, "bad server address in LURK key reference"},
    {LURK_PROV_R_KEYREF_TRAILING_DATA, "trailing data after LURK key reference"},
    {LURK_PROV_R_UNSUPPORTED_KEY_TYPE, "key type not supported by the lurk provider"},
    {LURK_PROV_R_CONFIG, "bad lurk provider setting"},
    {LURK_PROV_R_NO_SERVER, "no lurk-server configured"},
    {LURK_PROV_R_TRANSPORT, "cannot reach lurkd"},
    {LURK_PROV_R_LURK_ERROR, "lurkd refused the request"},
    {LURK_PROV_R_BAD_RESPONSE, "malformed response from lurkd"},
    {LURK_PROV_R_BAD_SIGNATURE, "signature from lurkd does not verify"},
    {LURK_PROV_R_UNSUPPORTED_DIGEST, "digest not usable with this LURK key"},
    {LURK_PROV_R_UNSUPPORTED_PADDING, "padding not usable with this LURK key"},
    {LURK_PROV_R_BAD_SALT_LENGTH, "PSS salt length must equal the digest length"},
    {LURK_PROV_R_BUFFER_TOO_SMALL, "output buffer too small"},
    {LURK_PROV_R_BAD_PARAMETER, "bad parameter"},
    {LURK_PROV_R_KEY_NOT_FOUND, "key id not found at lurkd"},
    {LURK_PROV_R_BAD_URI, "bad lurk: URI"},
    {LURK_PROV_R_INTERNAL, "internal error in the lurk provider"},
    {LURK_PROV_R_NOT_EXPORTABLE, "the private key is held by lurkd and is never exported"},
    {0, NULL},
};

static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;

const OSSL_ITEM *lurk_prov_reason_strings(void)
{
    return reasons;
}

/* The text of a reason, for an error raised without a core handle (see lurk_prov_raise). */
static const char *reason_text(int reason)
{
    for (const OSSL_ITEM *r = reasons; r->ptr != NULL; r++)
        if (r->id == (unsigned int)reason)
            return r->ptr;
    return "unknown reason";
}

/* Called once, from OSSL_provider_init (see there). */
void lurk_prov_err_init(const OSSL_DISPATCH *in)
{
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
}

void lurk_prov_raise(const OSSL_CORE_HANDLE *handle, int reason, const char *file, int line,
                     const char *func, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (handle != NULL && c_new_error != NULL && c_set_error_debug != NULL &&
        c_vset_error != NULL) {
        /* The core attributes the error to our library number: our reason text shows. */
        c_new_error(handle);
        c_set_error_debug(handle, file, line, func);
        c_vset_error(handle, (uint32_t)reason, fmt, ap);
    } else {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        ERR_new();
        ERR_set_debug(file, line, func);
        ERR_set_error(ERR_LIB_PROV, ERR_R_INTERNAL_ERROR, "%s: %s", reason_text(reason), buf);
    }
    va_end(ap);
}
