/* tls12 client_certificate_verify codec; see tls12_client_cv.h. */
#include "lurk/tls12_client_cv.h"

#include <string.h>

uint8_t lurk_tls12_client_cv_request_decode(const lurk_cbs *payload,
                                            struct lurk_tls12_client_cv_request *out)
{
    lurk_cbs in = *payload;
    uint8_t st;

    memset(out, 0, sizeof(*out));
    st = lurk_key_id_decode(&in, &out->key_id);
    if (st != LURK_STATUS_SUCCESS)
        return st;
    if (!lurk_cbs_get_u16(&in, &out->sig_and_hash) ||
        !lurk_cbs_get_u24_prefixed(&in, &out->handshake_messages) ||
        lurk_cbs_len(&out->handshake_messages) < LURK_TLS12_CLIENT_CV_MESSAGES_MIN ||
        lurk_cbs_len(&in) != 0)
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_tls12_client_cv_request_encode(lurk_cbb *cbb,
                                         const struct lurk_tls12_client_cv_request *in)
{
    size_t n = lurk_cbs_len(&in->handshake_messages);

    if (n < LURK_TLS12_CLIENT_CV_MESSAGES_MIN || n > LURK_TLS12_CLIENT_CV_MESSAGES_MAX) {
        /* Same sticky failure as a write that does not fit (bytes.h). */
        cbb->failed = true;
        return false;
    }
    if (!lurk_key_id_encode(cbb, &in->key_id))
        return false;
    lurk_cbb_add_u16(cbb, in->sig_and_hash);
    lurk_cbb_add_prefixed(cbb, 3, lurk_cbs_data(&in->handshake_messages), n);
    return lurk_cbb_ok(cbb);
}
