/* Decode/re-encode oracle for designation tls13; see roundtrip.h. */
#include "roundtrip.h"

#include "lurk/tls13.h"

uint8_t lurk_test_roundtrip_tls13(uint8_t type, bool request, const lurk_cbs *payload,
                                  lurk_cbb *out)
{
    uint8_t st;

    if (!lurk_tls13_type_known(type))
        return LURK_TEST_UNKNOWN_MESSAGE;
    if (request) {
        struct lurk_tls13_request r;
        st = lurk_tls13_request_decode(type, payload, &r);
        if (st == LURK_STATUS_SUCCESS && !lurk_tls13_request_encode(out, &r))
            return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    } else {
        struct lurk_tls13_response r;
        st = lurk_tls13_response_decode(type, payload, &r);
        if (st == LURK_STATUS_SUCCESS && !lurk_tls13_response_encode(out, &r))
            return LURK_TLS13_STATUS_UNDEFINED_ERROR;
    }
    return st;
}
