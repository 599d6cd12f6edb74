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
#include "lurk/header.h"
#include "lurk/tls13.h"
#include "conf/policy.h"
#include "conf/runtime.h"

/*
 * A request message as the I/O thread parsed it (net/request.c), once: the
 * header and payload view, and the payload of a quick sign_certificate_verify
 * as lurkd_dispatch_cost decoded it, so that its handler does not decode
 * it again. Views point into the frame, which must outlive this.
 */
struct lurkd_dispatch_msg {
    struct lurk_message msg;
    bool sign_cv_decoded; /* sign_cv holds the whole payload, decoded */
    struct lurk_tls13_sign_cv_request sign_cv;
};

/* Parses one whole request frame; false when it is not exactly one message. */
bool lurkd_dispatch_parse(const uint8_t *frame, size_t len, struct lurkd_dispatch_msg *m);
/* Answers m and appends the whole response to out. */
void lurkd_dispatch_msg(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                        const struct lurkd_dispatch_msg *m, lurk_cbb *out);
/* Processes one whole request frame and appends the whole response to out. */
void lurkd_dispatch(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                    const uint8_t *frame, size_t len, lurk_cbb *out);
/*
 * What a request costs, for who answers it (net/request.c): a ping or a
 * CertificateVerify of a key in memory has a bounded, known cost, which the
 * I/O thread may take on itself within its time budget: tens of
 * microseconds for ECDSA and EdDSA (short), hundreds for RSA of up to
 * LURKD_INLINE_RSA_MAX_BITS (long). Larger RSA keys, keys in a token (an
 * engine, pkcs11: or another provider: lurkd_key.in_memory false) and the
 * other exchanges go to a worker. A CertificateVerify that will be refused
 * (an unknown key, or one peer may not use) is short, whatever the key.
 * Only a hint: dispatch checks all. Keeps the payload it decodes in m.
 */
#define LURKD_INLINE_RSA_MAX_BITS 3072
enum lurkd_dispatch_cost {
    LURKD_COST_WORKER,
    LURKD_COST_SHORT,
    LURKD_COST_LONG,
};
enum lurkd_dispatch_cost lurkd_dispatch_cost(const struct lurkd_runtime *rt,
                                             const struct lurkd_peer *peer,
                                             struct lurkd_dispatch_msg *m);
/*
 * An answer decided before the payload is looked at (e.g. temporary_failure
 * when the queues are full): designation lurk, the request's type and id.
 */
void lurkd_dispatch_reject(const struct lurkd_runtime *rt, const struct lurk_header *req,
                           uint8_t lurk_status, lurk_cbb *out);

#endif
