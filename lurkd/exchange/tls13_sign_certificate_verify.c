/*
 * tls13 sign_certificate_verify (project type 128, docs/architecture.md §3): the
 * signing path of a TLS 1.3 stack that only has the transcript hash (the
 * OpenSSL provider). lurkd builds the CertificateVerify content around the
 * hash itself, so it never signs anything but a TLS 1.3 CertificateVerify.
 */
#include "exchange/exchange.h"
#include "lurk/tls13.h"
#include "keys/sign.h"

uint8_t lurkd_ex_tls13_sign_certificate_verify(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_tls13_sign_cv_request r;
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;

    /* The I/O thread may have decoded it already, to see whether it is quick. */
    if (req->sign_cv != NULL) {
        r = *req->sign_cv;
    } else {
        lurk_cbs in = req->payload;
        uint8_t st = lurk_tls13_sign_cv_request_decode(&in, &r);
        if (st != LURK_STATUS_SUCCESS)
            return st;
        if (lurk_cbs_len(&in) != 0)
            return LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    if ((key = lurkd_request_key(req, &r.key_id, LURKD_EX_SIGN_CERTIFICATE_VERIFY)) == NULL)
        return LURK_TLS13_STATUS_INVALID_KEY_ID;
    /* -01 §3.6: a scheme the key cannot sign with (ECDSA: the curve must match). */
    if ((alg = lurkd_sig_alg_tls13(r.sig_algo, key)) == NULL) {
        req->note = "signature scheme does not fit the key";
        return LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME;
    }
    if (!lurkd_sign_certificate_verify(key, alg, r.role, lurk_cbs_data(&r.transcript_hash),
                                       lurk_cbs_len(&r.transcript_hash), out)) {
        req->note = "signing failed";
        return LURK_TLS13_STATUS_INVALID_CERTIFICATE_VERIFY;
    }
    return LURK_STATUS_SUCCESS;
}
