/*
 * The provider's check of the signatures lurkd returns (prov_signature.c),
 * against a fake lurkd on a unix socket that answers sign_certificate_verify
 * with a well-formed signature over the right content, made either with the
 * key of the key reference or with another key of the same type: the case
 * of another key behind a key id (a misrouted or misconfigured server).
 *
 * For RSA, ECDSA and EdDSA keys alike the policy is "verified until the
 * first good signature per key object": the first answers with the other
 * key's signature fail with "signature from lurkd does not verify" (and a
 * failure does not count as a check passed), an answer with the right key
 * then succeeds and verifies here independently; after that the provider
 * no longer verifies that key's signatures. The last step pins the policy,
 * so that changing it back to per-signature RSA checks is a visible
 * decision (see the header of prov_signature.c for why a faulty RSA-CRT
 * signature cannot come out of lurkd's software keys).
 */
#include <check.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"
#include "fake_lurkd.h"
#include "prov_test_util.h"

#define R_BAD_SIGNATURE "signature from lurkd does not verify"

/* The kinds under test: indexes into test_key_kinds (RSA-2048, P-256, Ed25519). */
static const char *const labels[] = {"RSA-2048", "P-256", "Ed25519"};
#define N_KINDS (sizeof(labels) / sizeof(labels[0]))

static struct {
    const struct test_key_kind *kind;
    EVP_PKEY *key;   /* the key of the key reference */
    EVP_PKEY *other; /* another key of the same type */
    uint8_t id[LURK_KEY_ID_LEN];
    char *pem;
} k[N_KINDS];

enum answer { ANSWER_OTHER_KEY, ANSWER_RIGHT_KEY };
static _Atomic int answer_with = ANSWER_OTHER_KEY;
static _Atomic int served;

static OSSL_LIB_CTX *cctx;

static bool is_rsa(const struct test_key_kind *kind)
{
    return strncmp(kind->type, "RSA", 3) == 0;
}

static bool is_eddsa(const struct test_key_kind *kind)
{
    return strncmp(kind->type, "ED", 2) == 0;
}

/* RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash. */
static size_t cv_content(uint8_t *out, uint8_t role, const uint8_t *hash, size_t hash_len)
{
    const char *context = role == LURK_TLS13_ROLE_CLIENT ? "TLS 1.3, client CertificateVerify"
                                                         : "TLS 1.3, server CertificateVerify";
    size_t n = 64;

    memset(out, 0x20, 64);
    memcpy(out + n, context, strlen(context) + 1);
    n += strlen(context) + 1;
    memcpy(out + n, hash, hash_len);
    return n + hash_len;
}

/* What lurkd would do for the scheme the provider asks for (0x0804, 0x0403, 0x0807). */
static bool sign_with(EVP_PKEY *key, const struct test_key_kind *kind, const uint8_t *tbs,
                      size_t tbs_len, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = mctx != NULL && EVP_DigestSignInit_ex(mctx, &pctx, is_eddsa(kind) ? NULL : "SHA256",
                                                    NULL, NULL, key, NULL) == 1;

    if (ok && is_rsa(kind))
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) == 1;
    ok = ok && EVP_DigestSign(mctx, sig, sig_len, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* Reads len bytes; false on end of stream, error or teardown. */
/* The fake lurkd's answer (fake_lurkd.h): the key's signature, or another key's. */
static bool answer(const struct lurk_message *m, lurk_cbb *cbb)
{
    uint8_t tbs[200], sig[1024];
    size_t tbs_len, sig_len = sizeof(sig), start, i;
    struct lurk_tls13_request rq;
    struct lurk_tls13_response resp = {0};
    struct lurk_header hdr = m->hdr;
    bool ok;

    if (m->hdr.designation != LURK_DESIGNATION_TLS13 ||
        m->hdr.type != LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY ||
        lurk_tls13_request_decode(m->hdr.type, &m->payload, &rq) != LURK_STATUS_SUCCESS)
        return false;
    for (i = 0; i < N_KINDS; i++)
        if (memcmp(rq.sign_cv.key_id.id, k[i].id, LURK_KEY_ID_LEN) == 0)
            break;
    if (i == N_KINDS)
        return false;
    tbs_len = cv_content(tbs, rq.sign_cv.role, lurk_cbs_data(&rq.sign_cv.transcript_hash),
                         lurk_cbs_len(&rq.sign_cv.transcript_hash));
    if (!sign_with(atomic_load(&answer_with) == ANSWER_RIGHT_KEY ? k[i].key : k[i].other, k[i].kind,
                   tbs, tbs_len, sig, &sig_len))
        return false;
    hdr.status = LURK_STATUS_SUCCESS;
    resp.type = m->hdr.type;
    lurk_cbs_init(&resp.signing.signature, sig, sig_len);
    ok = lurk_message_begin(cbb, &start, &hdr) && lurk_tls13_response_encode(cbb, &resp) &&
         lurk_message_end(cbb, start);
    if (ok) /* counted before the provider can see the answer */
        atomic_fetch_add(&served, 1);
    return ok;
}

static void setup(void)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        for (size_t j = 0; j < n_test_key_kinds && k[i].kind == NULL; j++)
            if (strcmp(test_key_kinds[j].label, labels[i]) == 0)
                k[i].kind = &test_key_kinds[j];
        ck_assert_ptr_nonnull(k[i].kind);
        k[i].key = test_keygen(k[i].kind);
        k[i].other = test_keygen(k[i].kind);
        ck_assert_ptr_nonnull(k[i].key);
        ck_assert_ptr_nonnull(k[i].other);
        ck_assert(lurk_keyid_from_pkey(NULL, k[i].key, k[i].id));
        k[i].pem = test_keyref_pem(k[i].key, NULL);
        ck_assert_ptr_nonnull(k[i].pem);
    }
    cctx = fake_lurkd_start("lurk-prov-verify", answer);
}

static void teardown(void)
{
    fake_lurkd_stop(cctx);
    for (size_t i = 0; i < N_KINDS; i++) {
        EVP_PKEY_free(k[i].key);
        EVP_PKEY_free(k[i].other);
        free(k[i].pem);
    }
}

/* A TLS 1.3 server CertificateVerify through lurk.so; 1 on success, sig filled. */
static int sign(EVP_PKEY *ref, size_t i, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                size_t *sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    ck_assert_ptr_nonnull(mctx);
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, is_eddsa(k[i].kind) ? NULL : "SHA256", cctx,
                                           NULL, ref, NULL),
                     1);
    if (is_rsa(k[i].kind)) {
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL), 1);
    }
    ok = EVP_DigestSign(mctx, sig, sig_len, tbs, tbs_len);
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* Verifies in the default library context, without lurk.so. */
static bool verifies(size_t i, EVP_PKEY *key, const uint8_t *tbs, size_t tbs_len,
                     const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok =
        mctx != NULL && EVP_DigestVerifyInit_ex(mctx, &pctx, is_eddsa(k[i].kind) ? NULL : "SHA256",
                                                NULL, NULL, key, NULL) == 1;

    if (ok && is_rsa(k[i].kind))
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(mctx, sig, sig_len, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

START_TEST(another_key_behind_the_key_id_is_caught)
{
    const size_t i = (size_t)_i;
    uint8_t hash[32], tbs[200], sig[1024];
    size_t tbs_len, sig_len;
    char data[1024], id_hex[2 * LURK_KEY_ID_LEN + 1], errs[1024];
    EVP_PKEY *ref;
    int before;

    memset(hash, 0xa5 + (int)i, sizeof(hash));
    tbs_len = cv_content(tbs, LURK_TLS13_ROLE_SERVER, hash, sizeof(hash));
    lurk_hex_encode(k[i].id, LURK_KEY_ID_LEN, id_hex);
    ERR_clear_error();
    ref = test_read_key(cctx, k[i].pem);
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(ref != NULL, "%s: %s", labels[i], errs);

    /* The key's first signatures come from another key: refused, every time. */
    atomic_store(&answer_with, ANSWER_OTHER_KEY);
    for (int round = 0; round < 2; round++) {
        before = atomic_load(&served);
        sig_len = sizeof(sig);
        ck_assert_msg(sign(ref, i, tbs, tbs_len, sig, &sig_len) != 1,
                      "%s: a signature of another key was accepted (round %d)", labels[i], round);
        ck_assert_int_eq(atomic_load(&served), before + 1); /* it did reach the fake lurkd */
        ck_assert_msg(test_errors_have_reason(R_BAD_SIGNATURE, data, sizeof(data)),
                      "%s: no \"%s\" error", labels[i], R_BAD_SIGNATURE);
        ck_assert_msg(strstr(data, id_hex) != NULL && strstr(data, "another key") != NULL,
                      "%s: \"%s\"", labels[i], data);
    }

    /* The right key: accepted, and it is a good signature. */
    atomic_store(&answer_with, ANSWER_RIGHT_KEY);
    sig_len = sizeof(sig);
    ck_assert_int_eq(sign(ref, i, tbs, tbs_len, sig, &sig_len), 1);
    ck_assert(verifies(i, k[i].key, tbs, tbs_len, sig, sig_len));

    /*
     * The policy, pinned: the key has been checked (lurkd holds it), so its
     * later signatures are passed on unverified (for RSA, lurkd's OpenSSL
     * verifies its own CRT results; prov_signature.c).
     */
    atomic_store(&answer_with, ANSWER_OTHER_KEY);
    sig_len = sizeof(sig);
    ck_assert_int_eq(sign(ref, i, tbs, tbs_len, sig, &sig_len), 1);
    ck_assert(!verifies(i, k[i].key, tbs, tbs_len, sig, sig_len));
    ck_assert(verifies(i, k[i].other, tbs, tbs_len, sig, sig_len));

    /* A key loaded afresh from the same reference is checked again. */
    EVP_PKEY_free(ref);
    ref = test_read_key(cctx, k[i].pem);
    ck_assert_ptr_nonnull(ref);
    sig_len = sizeof(sig);
    ck_assert_int_ne(sign(ref, i, tbs, tbs_len, sig, &sig_len), 1);
    ck_assert(test_errors_have_reason(R_BAD_SIGNATURE, NULL, 0));
    EVP_PKEY_free(ref);
    ERR_clear_error();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_verify");
    TCase *tc = tcase_create("verify");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, another_key_behind_the_key_id_is_caught, 0, N_KINDS);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
