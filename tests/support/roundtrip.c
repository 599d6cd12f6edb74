/* Dispatch of the decode/re-encode oracle; see roundtrip.h. */
#include "roundtrip.h"

#include "lurk/header.h"
#include "lurk/lurk.h"

uint8_t lurk_test_roundtrip(uint8_t designation, uint8_t type, bool request,
                            const lurk_cbs *payload, lurk_cbb *out)
{
    switch (designation) {
    case LURK_DESIGNATION_LURK:
        return lurk_test_roundtrip_lurk(type, request, payload, out);
    case LURK_DESIGNATION_TLS12:
        return lurk_test_roundtrip_tls12(type, request, payload, out);
    case LURK_DESIGNATION_TLS13:
        return lurk_test_roundtrip_tls13(type, request, payload, out);
    default:
        return LURK_TEST_UNKNOWN_MESSAGE;
    }
}

uint8_t lurk_test_roundtrip_error(const lurk_cbs *payload, lurk_cbb *out)
{
    struct lurk_error_payload e;
    uint8_t st = lurk_error_payload_decode(payload, &e);

    if (st == LURK_STATUS_SUCCESS && !lurk_error_payload_encode(out, &e))
        return LURK_STATUS_UNDEFINED_ERROR;
    return st;
}

uint8_t lurk_test_roundtrip_lurk(uint8_t type, bool request, const lurk_cbs *payload,
                                 lurk_cbb *out)
{
    switch (type) {
    case LURK_TYPE_PING:
        return lurk_empty_payload_decode(payload);
    case LURK_TYPE_CAPABILITIES: {
        if (request)
            return lurk_empty_payload_decode(payload);
        struct lurk_capabilities_response r;
        uint8_t st = lurk_capabilities_response_decode(payload, &r);
        if (st == LURK_STATUS_SUCCESS && !lurk_capabilities_response_encode(out, &r))
            return LURK_STATUS_UNDEFINED_ERROR;
        return st;
    }
    case LURK_TYPE_STATS: {
        if (request)
            return lurk_empty_payload_decode(payload);
        lurk_cbs text;
        uint8_t st = lurk_stats_response_decode(payload, &text);
        if (st == LURK_STATUS_SUCCESS && !lurk_cbb_add_cbs(out, &text))
            return LURK_STATUS_UNDEFINED_ERROR;
        return st;
    }
    default:
        return LURK_TEST_UNKNOWN_MESSAGE;
    }
}
