/*
 * Decode/re-encode oracle for designation tls12; see roundtrip.h. One case
 * per (type, request/response) pair of docs/protocol.md "Designation tls12".
 */
#include "roundtrip.h"

#include "lurk/header.h"
#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"

/*
 * An encoder refusing what its decoder accepted is a codec bug: reported as
 * undefined_error so that a test comparing statuses sees it.
 */
static uint8_t reencoded(bool ok)
{
    return ok ? LURK_STATUS_SUCCESS : LURK_TLS12_STATUS_UNDEFINED_ERROR;
}

static uint8_t roundtrip_request(uint8_t type, const lurk_cbs *payload, lurk_cbb *out)
{
    uint8_t st;

    switch (type) {
    case LURK_TLS12_TYPE_CAPABILITIES:
    case LURK_TLS12_TYPE_PING:
        return lurk_tls12_empty_payload_decode(payload);
    case LURK_TLS12_TYPE_RSA_MASTER: {
        struct lurk_tls12_rsa_master_request m;
        st = lurk_tls12_rsa_master_request_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_rsa_master_request_encode(out, &m));
    }
    case LURK_TLS12_TYPE_RSA_MASTER_WITH_POH:
    case LURK_TLS12_TYPE_RSA_EXTENDED_MASTER:
    case LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH: {
        struct lurk_tls12_handshake_request m;
        st = lurk_tls12_handshake_request_decode(type, payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_handshake_request_encode(out, &m));
    }
    case LURK_TLS12_TYPE_ECDHE: {
        struct lurk_tls12_ecdhe_request m;
        st = lurk_tls12_ecdhe_request_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st : reencoded(lurk_tls12_ecdhe_request_encode(out, &m));
    }
    case LURK_TLS12_TYPE_RSA_PREMASTER: {
        struct lurk_tls12_rsa_premaster_request m;
        st = lurk_tls12_rsa_premaster_request_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS
                   ? st
                   : reencoded(lurk_tls12_rsa_premaster_request_encode(out, &m));
    }
    case LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY: {
        struct lurk_tls12_client_cv_request m;
        st = lurk_tls12_client_cv_request_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_client_cv_request_encode(out, &m));
    }
    default:
        return LURK_TEST_UNKNOWN_MESSAGE;
    }
}

static uint8_t roundtrip_response(uint8_t type, const lurk_cbs *payload, lurk_cbb *out)
{
    uint8_t st;

    switch (type) {
    case LURK_TLS12_TYPE_CAPABILITIES: {
        struct lurk_tls12_capabilities_response m;
        st = lurk_tls12_capabilities_response_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS
                   ? st
                   : reencoded(lurk_tls12_capabilities_response_encode(out, &m));
    }
    case LURK_TLS12_TYPE_PING:
        return lurk_tls12_empty_payload_decode(payload);
    case LURK_TLS12_TYPE_RSA_MASTER:
    case LURK_TLS12_TYPE_RSA_MASTER_WITH_POH:
    case LURK_TLS12_TYPE_RSA_EXTENDED_MASTER:
    case LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH: {
        struct lurk_tls12_master_response m;
        st = lurk_tls12_master_response_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_master_response_encode(out, &m));
    }
    case LURK_TLS12_TYPE_ECDHE:
    case LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY: { /* same response format */
        struct lurk_tls12_ecdhe_response m;
        st = lurk_tls12_ecdhe_response_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_ecdhe_response_encode(out, &m));
    }
    case LURK_TLS12_TYPE_RSA_PREMASTER: {
        struct lurk_tls12_premaster_response m;
        st = lurk_tls12_premaster_response_decode(payload, &m);
        return st != LURK_STATUS_SUCCESS ? st
                                         : reencoded(lurk_tls12_premaster_response_encode(out, &m));
    }
    default:
        return LURK_TEST_UNKNOWN_MESSAGE;
    }
}

uint8_t lurk_test_roundtrip_tls12(uint8_t type, bool request, const lurk_cbs *payload,
                                  lurk_cbb *out)
{
    return request ? roundtrip_request(type, payload, out) : roundtrip_response(type, payload, out);
}
