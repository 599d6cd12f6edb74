/* Decode/re-encode oracle for designation tls13; see roundtrip.h. */
#include "roundtrip.h"

uint8_t lurk_test_roundtrip_tls13(uint8_t type, bool request, const lurk_cbs *payload, lurk_cbb *out)
{
    (void)type;
    (void)request;
    (void)payload;
    (void)out;
    return LURK_TEST_UNKNOWN_MESSAGE;
}
