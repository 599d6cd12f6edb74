/*
 * The provider's TLS 1.2 client CertificateVerify path (prov_signature.c,
 * prov_content.c; docs/provider.md §3) against a fake lurkd on a unix
 * socket, which checks what the provider sends and answers either as a
 * lurkd with tls12 client_certificate_verify (a signature with the key over
 * the handshake messages it received) or as one without it (invalid_type in
 * designation lurk, lurk-lurk §5.3). The real lurkd's side is
 * tests/daemon/test_daemon_tls12_client_cv.c and the whole chain
 * tests/e2e/test_tls12_client_cert.sh.
 *
 * What libssl signs is recorded from a real OpenSSL TLS 1.2 handshake
 * (tests/support/tls12_client_hs.c) and handed to EVP_DigestSign with the
 * key reference, as libssl's tls_construct_cert_verify does.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "check_run.h"
#include "fake_lurkd.h"
#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"
#include "prov_test_util.h"
#include "tls12_client_hs.h"

enum mode { MODE_SIGN, MODE_WITHOUT_EXCHANGE };
static _Atomic int mode = MODE_SIGN;
static _Atomic int served;

static EVP_PKEY *key;
static X509 *cert;
static uint8_t *msgs;
static size_t msgs_len;
static uint16_t msgs_sig;

/* What the fake lurkd saw in the last client_certificate_verify request. */
static _Atomic int seen_type = -1;
static _Atomic int seen_sig_and_hash = -1;
static atomic_bool seen_same_messages;

static OSSL_LIB_CTX *cctx;

/* The signature lurkd makes for 0x0403: ECDSA with SHA-256 over the messages as received. */
static bool sign_messages(const lurk_cbs *m, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    bool ok = mctx != NULL &&
              EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
              EVP_DigestSign(mctx, sig, sig_len, lurk_cbs_data(m), lurk_cbs_len(m)) == 1;
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* The fake lurkd's answer (fake_lurkd.h): with or without the exchange, by mode. */
static bool answer(const struct lurk_message *m, lurk_cbb *cbb)
{
    static const uint8_t state[4] = {0x3f, 0x8e, 0x21, 0xc4};
    uint8_t sig[256];
    size_t sig_len = sizeof(sig), start;
    struct lurk_tls12_client_cv_request r;
    struct lurk_tls12_ecdhe_response resp;
    struct lurk_header hdr = m->hdr;
    bool ok;

    atomic_store(&seen_type, m->hdr.type);
    if (atomic_load(&mode) == MODE_WITHOUT_EXCHANGE) {
        /* A lurkd that does not know the type: lurk-lurk §5.3 step 3. */
        hdr.designation = LURK_DESIGNATION_LURK;
        hdr.status = LURK_STATUS_INVALID_TYPE;
        ok = lurk_message_begin(cbb, &start, &hdr) && lurk_cbb_add_bytes(cbb, state, 4) &&
             lurk_message_end(cbb, start);
    } else {
        ok = m->hdr.designation == LURK_DESIGNATION_TLS12 &&
             lurk_tls12_client_cv_request_decode(&m->payload, &r) == LURK_STATUS_SUCCESS &&
             sign_messages(&r.handshake_messages, sig, &sig_len);
        if (ok) {
            atomic_store(&seen_sig_and_hash, r.sig_and_hash);
            atomic_store(&seen_same_messages,
                         lurk_cbs_equal(&r.handshake_messages, msgs, msgs_len));
            hdr.status = LURK_STATUS_SUCCESS;
            lurk_cbs_init(&resp.signature, sig, sig_len);
            ok = lurk_message_begin(cbb, &start, &hdr) &&
                 lurk_tls12_ecdhe_response_encode(cbb, &resp) && lurk_message_end(cbb, start);
        }
    }
    if (ok) /* counted before the provider can see the answer */
        atomic_fetch_add(&served, 1);
    return ok;
}

static void setup(void)
{
    struct lurk_test_tls12_hs o = {0};

    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(key);
    cert = lurk_test_self_signed(key, "front end");
    ck_assert_ptr_nonnull(cert);
    o.client_key = key;
    o.client_cert = cert;
    o.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    o.client_sigalgs = "ECDSA+SHA256";
    ck_assert(lurk_test_tls12_client_hs(&o, &msgs, &msgs_len, &msgs_sig));
    ck_assert_uint_eq(msgs_sig, 0x0403);

    cctx = fake_lurkd_start("lurk-prov-cv", answer);
}

static void teardown(void)
{
    fake_lurkd_stop(cctx);
    free(msgs);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* EVP_DigestSign with the key reference, as libssl signs a TLS 1.2 CertificateVerify. */
static int sign(const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len)
{
    char *pem = test_keyref_pem(key, NULL);
    EVP_PKEY *ref = test_read_key(cctx, pem);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok;

    ck_assert_ptr_nonnull(ref);
    ck_assert_ptr_nonnull(mctx);
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, NULL, "SHA256", cctx, NULL, ref, NULL), 1);
    ok = EVP_DigestSign(mctx, sig, sig_len, tbs, tbs_len);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(ref);
    free(pem);
    return ok;
}

START_TEST(handshake_messages_go_to_client_certificate_verify)
{
    uint8_t sig[256];
    size_t sig_len = sizeof(sig);
    char errs[1024];
    EVP_MD_CTX *v = EVP_MD_CTX_new();

    atomic_store(&mode, MODE_SIGN);
    if (sign(msgs, msgs_len, sig, &sig_len) != 1) {
        test_errors_text(errs, sizeof(errs));
        ck_abort_msg("EVP_DigestSign: %s", errs);
    }
    ck_assert_int_eq(atomic_load(&seen_type), LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY);
    ck_assert_int_eq(atomic_load(&seen_sig_and_hash), 0x0403);
    ck_assert(atomic_load(&seen_same_messages));
    /* The signature libssl gets verifies over the handshake messages, without lurk.so. */
    ck_assert(EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, NULL, key, NULL) == 1);
    ck_assert(EVP_DigestVerify(v, sig, sig_len, msgs, msgs_len) == 1);
    EVP_MD_CTX_free(v);
}
END_TEST

START_TEST(lurkd_without_the_exchange_is_named)
{
    uint8_t sig[256];
    size_t sig_len = sizeof(sig);
    char data[1024];

    atomic_store(&mode, MODE_WITHOUT_EXCHANGE);
    ck_assert_int_ne(sign(msgs, msgs_len, sig, &sig_len), 1);
    ck_assert_int_eq(atomic_load(&seen_type), LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY);
    ck_assert(test_errors_have_reason("lurkd refused the request", data, sizeof(data)));
    ck_assert_msg(strstr(data, "lurkd does not announce tls12 client_certificate_verify") != NULL,
                  "%s", data);
}
END_TEST

/* A bare digest and a handshake cut short never leave the provider. */
START_TEST(not_a_handshake_is_not_sent)
{
    uint8_t sig[256], digest[32];
    size_t sig_len = sizeof(sig);
    char data[1024];
    int before = atomic_load(&served);

    atomic_store(&mode, MODE_SIGN);
    memset(digest, 0x01, sizeof(digest));
    ck_assert_int_ne(sign(digest, sizeof(digest), sig, &sig_len), 1);
    ck_assert(test_errors_have_reason("no LURK exchange for this content", data, sizeof(data)));
    ck_assert_msg(strstr(data, "first message is not a ClientHello") != NULL ||
                      strstr(data, "longer than the bytes left") != NULL,
                  "%s", data);
    sig_len = sizeof(sig);
    ck_assert_int_ne(sign(msgs, msgs_len - 1, sig, &sig_len), 1);
    ck_assert(test_errors_have_reason("no LURK exchange for this content", data, sizeof(data)));
    ck_assert_msg(strstr(data, "TLS 1.2 client CertificateVerify content") != NULL, "%s", data);
    ck_assert_int_eq(atomic_load(&served), before);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_client_cv");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, handshake_messages_go_to_client_certificate_verify);
    tcase_add_test(tc, lurkd_without_the_exchange_is_named);
    tcase_add_test(tc, not_a_handshake_is_not_sent);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
