/*
 * libFuzzer target: the TLS 1.2 client handshake parser lurkd runs on the
 * handshake_messages of tls12 client_certificate_verify
 * (liblurk/tls12_handshake.c, docs/protocol.md), the request codec in front
 * of it, and the lookups over what it returns. Nothing may read out of
 * bounds; every view it returns must lie inside its input, and a refusal
 * must say why.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"
#include "lurk/tls12_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const lurk_cbs *view, const uint8_t *base, size_t len)
{
    const uint8_t *p = lurk_cbs_data(view);

    if (lurk_cbs_len(view) > 0 && (p < base || p + lurk_cbs_len(view) > base + len))
        abort();
}

static void parse(const uint8_t *data, size_t size)
{
    struct lurk_tls12_client_hs hs;
    const char *why;
    lurk_cbs in;

    lurk_cbs_init(&in, data, size);
    if (lurk_tls12_client_hs_parse(&in, &hs, &why) != LURK_STATUS_SUCCESS) {
        if (why == NULL)
            abort();
        return;
    }
    inside(&hs.certificate_types, data, size);
    inside(&hs.signature_algorithms, data, size);
    inside(&hs.client_certificate, data, size);
    if (lurk_cbs_len(&hs.client_certificate) == 0 || lurk_cbs_len(&hs.certificate_types) == 0)
        abort();
    (void)lurk_tls12_client_hs_offers_sig(&hs, 0x0403);
    (void)lurk_tls12_client_hs_offers_cert_type(&hs, LURK_TLS12_CERT_TYPE_ECDSA_SIGN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurk_tls12_client_cv_request r;
    lurk_cbs payload;

    /* The input as handshake_messages, and as a whole request payload. */
    parse(data, size);
    lurk_cbs_init(&payload, data, size);
    if (lurk_tls12_client_cv_request_decode(&payload, &r) == LURK_STATUS_SUCCESS) {
        inside(&r.handshake_messages, data, size);
        parse(lurk_cbs_data(&r.handshake_messages), lurk_cbs_len(&r.handshake_messages));
    }
    return 0;
}
