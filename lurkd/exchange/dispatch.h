/*
 * From a request message to a response message: the server behaviour of
 * lurk-lurk §5.3 (extension, then status, then type, then the payload) and
 * the routing of each (designation, type) to its exchange handler.
 */
#ifndef LURKD_EXCHANGE_DISPATCH_H
#define LURKD_EXCHANGE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "conf/policy.h"
#include "conf/runtime.h"

/* Processes one whole request frame and appends the whole response to out. */
void lurkd_dispatch(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                    const uint8_t *frame, size_t len, lurk_cbb *out);
/*
 * An answer decided before the payload is looked at (e.g. temporary_failure
 * when the queues are full): designation lurk, the request's type and id.
 */
/*
 * A request that costs about as little as handing it to a worker (a ping, an
 * ECDSA or EdDSA CertificateVerify): the I/O thread may answer it itself
 * when the workers are idle (io_loop.c). Only a hint: dispatch checks all.
 */
bool lurkd_dispatch_is_quick(const struct lurkd_runtime *rt, const uint8_t *frame, size_t len);
void lurkd_dispatch_reject(const struct lurkd_runtime *rt, const uint8_t *frame, size_t len,
                           uint8_t lurk_status, lurk_cbb *out);

#endif
