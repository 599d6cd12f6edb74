/*
 * tls12 client_certificate_verify (project type 129, docs/protocol.md): the
 * TLS 1.2 client CertificateVerify of a front end that authenticates to a
 * server with a key lurkd holds (RFC 5246 §7.4.8). The request carries the
 * handshake messages themselves, never a digest: lurkd parses them as a
 * TLS 1.2 client handshake (liblurk/tls12_handshake.c), checks that the
 * server asked for a certificate with this signature algorithm and that the
 * client Certificate is the key's, and only then signs those bytes
 * (docs/security.md, "What lurkd will sign or decrypt").
 */
#include <string.h>

#include <openssl/x509.h>

#include "exchange/exchange.h"
#include "keys/sign.h"
#include "lurk/tls12_client_cv.h"
#include "lurk/tls12_handshake.h"

/* The ClientCertificateType a key of this kind is (RFC 5246 §7.4.4; RFC 8422 §5.5 for EdDSA). */
static uint8_t certificate_type(const struct lurkd_key *key)
{
    return key->kind == LURKD_KEY_RSA || key->kind == LURKD_KEY_RSA_PSS
               ? LURK_TLS12_CERT_TYPE_RSA_SIGN
               : LURK_TLS12_CERT_TYPE_ECDSA_SIGN;
}

/* Whether the DER certificate holds the key's public key (its SubjectPublicKeyInfo). */
static bool certificate_is_key(const lurk_cbs *der, const struct lurkd_key *key)
{
    const unsigned char *p = lurk_cbs_data(der);
    X509 *x = d2i_X509(NULL, &p, (long)lurk_cbs_len(der));
    unsigned char *spki = NULL;
    int len;
    bool same = false;

    /* d2i reads at most the view's length; it must be one whole certificate. */
    if (x != NULL && p == lurk_cbs_data(der) + lurk_cbs_len(der)) {
        len = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
        same = len > 0 && (size_t)len == key->spki_der_len &&
               memcmp(spki, key->spki_der, key->spki_der_len) == 0;
    }
    OPENSSL_free(spki);
    X509_free(x);
    return same;
}

uint8_t lurkd_ex_tls12_client_certificate_verify(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_tls12_client_cv_request r;
    struct lurk_tls12_client_hs hs;
    const struct lurkd_key *key;
    const struct lurkd_sig_alg *alg;
    const char *why;
    uint8_t st = lurk_tls12_client_cv_request_decode(&req->payload, &r);

    if (st != LURK_STATUS_SUCCESS)
        return st;
    if ((key = lurkd_request_key(req, &r.key_id, LURKD_EX_CLIENT_CERTIFICATE_VERIFY)) == NULL)
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    st = lurk_tls12_client_hs_parse(&r.handshake_messages, &hs, &why);
    if (st != LURK_STATUS_SUCCESS) {
        req->note = why;
        return st;
    }
    /* The draft has no status for these; protocol.md pins invalid_payload_format. */
    if (!lurk_tls12_client_hs_offers_sig(&hs, r.sig_and_hash)) {
        req->note =
            "sig_and_hash is not in the CertificateRequest's supported_signature_algorithms";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    if ((alg = lurkd_sig_alg_tls12(r.sig_and_hash, key)) == NULL) {
        /* HashAlgorithm md5(1), sha1(2) (RFC 5246 §7.4.1.4.1): never signed, said by name. */
        req->note = (r.sig_and_hash >> 8) == 1 || (r.sig_and_hash >> 8) == 2
                        ? "SHA-1 and MD5 signatures are refused"
                        : "sig_and_hash does not fit the key";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    if (!lurk_tls12_client_hs_offers_cert_type(&hs, certificate_type(key))) {
        req->note = "the CertificateRequest's certificate_types do not include the key's type";
        return LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    /* The key id names the key; the handshake must be that key's (protocol.md). */
    if (!certificate_is_key(&hs.client_certificate, key)) {
        req->note = "the client Certificate does not hold the key's public key";
        return LURK_TLS12_STATUS_INVALID_KEY_ID;
    }
    /* RFC 5246 §7.4.8: the signature covers handshake_messages exactly as received. */
    if (!lurkd_sign(key, alg, lurk_cbs_data(&r.handshake_messages),
                    lurk_cbs_len(&r.handshake_messages), out)) {
        req->note = "signing failed";
        return LURK_TLS12_STATUS_UNDEFINED_ERROR;
    }
    return LURK_STATUS_SUCCESS;
}
