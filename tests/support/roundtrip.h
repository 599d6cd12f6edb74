/*
 * Test oracle shared by the unit tests, the protocol.md example check and
 * the fuzzers: decode a payload as a given message, re-encode the result.
 * A decoder and encoder that agree give back the input bytes exactly.
 */
#ifndef LURK_TEST_ROUNDTRIP_H
#define LURK_TEST_ROUNDTRIP_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"

/*
 * Decodes payload as the request (request = true) or success response of
 * (designation, type). Returns the decoder's status; on LURK_STATUS_SUCCESS
 * the re-encoding has been appended to out. Unknown (designation, type)
 * returns 0xff.
 */
uint8_t lurk_test_roundtrip(uint8_t designation, uint8_t type, bool request,
                            const lurk_cbs *payload, lurk_cbb *out);
/* Same for an error payload (any designation). */
uint8_t lurk_test_roundtrip_error(const lurk_cbs *payload, lurk_cbb *out);

/* Per-designation halves, in roundtrip_<designation>.c. */
uint8_t lurk_test_roundtrip_lurk(uint8_t type, bool request, const lurk_cbs *payload,
                                 lurk_cbb *out);
uint8_t lurk_test_roundtrip_tls12(uint8_t type, bool request, const lurk_cbs *payload,
                                  lurk_cbb *out);
uint8_t lurk_test_roundtrip_tls13(uint8_t type, bool request, const lurk_cbs *payload,
                                  lurk_cbb *out);

#define LURK_TEST_UNKNOWN_MESSAGE 0xff

#endif
