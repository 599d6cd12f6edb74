/* Designation "tls12" payload codecs; see tls12.h. */
#include "lurk/tls12.h"

#include <string.h>

const char *lurk_tls12_type_name(uint8_t type)
{
    static const char *const names[] = {
        "capabilities",        "ping", "rsa_master", "rsa_master_with_poh", "rsa_extended_master",
        "rsa_extended_master_with_poh", "ecdhe",
    };
    if (type < sizeof(names) / sizeof(names[0]))
        return names[type];
    return type == LURK_TLS12_TYPE_RSA_PREMASTER ? "rsa_premaster" : "unknown";
}

const char *lurk_tls12_status_name(uint8_t status)
{
    static const char *const names[] = {
        "request",
        "success",
        "undefined_error",
        "invalid_payload_format",
        "invalid_key_id_type",
        "invalid_key_id",
        "invalid_tls_random",
        "invalid_freshness_funct",
        "invalid_encrypted_premaster",
        "invalid_finished",
        "invalid_ec_type",
        "invalid_ec_curve",
        "invalid_poo_prf",
        "invalid_poo",
        "invalid_cipher_or_prf_hash",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}
