/* Designation "tls13" payload codecs; see tls13.h. */
#include "lurk/tls13.h"

const char *lurk_tls13_type_name(uint8_t type)
{
    static const char *const names[] = {
        "capabilities",
        "ping",
        "binder_key",
        "early_secret",
        "handshake_and_app_secret",
        "init_handshake_secret",
        "handshake_secret",
        "app_secret",
        "init_certificate_verify",
        "certificate_verify",
        "post_handshake",
        "new_session_ticket",
        "register_session_ticket",
    };
    if (type < sizeof(names) / sizeof(names[0]))
        return names[type];
    return type == LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY ? "sign_certificate_verify" : "unknown";
}

const char *lurk_tls13_status_name(uint8_t status)
{
    static const char *const names[] = {
        "request",
        "success",
        "undefined_error",
        "invalid_payload_format",
        "invalid_psk",
        "invalid_freshness_funct",
        "invalid_h_opaque",
        "invalid_ctx_type",
        "invalid_request",
        "invalid_key_id_type",
        "invalid_key_id",
        "invalid_signature_scheme",
        "invalid_certificate_type",
        "invalid_certificate",
        "invalid_certificate_verify",
        "invalid_key_request",
        "invalid_handshake",
        "invalid_extension",
        "invalid_ephemeral",
        "invalid_cookie_h",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}
