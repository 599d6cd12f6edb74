/* Signing; see sign.h. */
#include "keys/sign.h"

#include "keys/sign_cache.h"

#include "lurk/tls13.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

/* RFC 8446 §4.2.3 schemes; TLS 1.3 ties each ECDSA scheme to one curve. */
const struct lurkd_sig_alg lurkd_sig_algs_tls13[] = {
    {0x0804, "SHA256", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0805, "SHA384", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0806, "SHA512", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0809, "SHA256", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x080a, "SHA384", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x080b, "SHA512", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x0403, "SHA256", LURKD_SIG_PLAIN, LURKD_KEY_EC, 23},
    {0x0503, "SHA384", LURKD_SIG_PLAIN, LURKD_KEY_EC, 24},
    {0x0603, "SHA512", LURKD_SIG_PLAIN, LURKD_KEY_EC, 25},
    {0x0807, NULL, LURKD_SIG_PLAIN, LURKD_KEY_ED25519, 0},
    {0x0808, NULL, LURKD_SIG_PLAIN, LURKD_KEY_ED448, 0},
};
const size_t lurkd_n_sig_algs_tls13 =
    sizeof(lurkd_sig_algs_tls13) / sizeof(lurkd_sig_algs_tls13[0]);

/*
 * TLS 1.2 (RFC 5246 §7.4.1.4.1): hash(1) signature(1) with SHA-256/384/512
 * for rsa(1) and ecdsa(3) on any curve, plus the RFC 8446 code points a TLS
 * 1.2 stack may negotiate. MD5 and SHA-1 are not offered.
 */
static const struct lurkd_sig_alg tls12_algs[] = {
    {0x0401, "SHA256", LURKD_SIG_PKCS1, LURKD_KEY_RSA, 0},
    {0x0501, "SHA384", LURKD_SIG_PKCS1, LURKD_KEY_RSA, 0},
    {0x0601, "SHA512", LURKD_SIG_PKCS1, LURKD_KEY_RSA, 0},
    {0x0403, "SHA256", LURKD_SIG_PLAIN, LURKD_KEY_EC, 0},
    {0x0503, "SHA384", LURKD_SIG_PLAIN, LURKD_KEY_EC, 0},
    {0x0603, "SHA512", LURKD_SIG_PLAIN, LURKD_KEY_EC, 0},
    {0x0804, "SHA256", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0805, "SHA384", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0806, "SHA512", LURKD_SIG_PSS, LURKD_KEY_RSA, 0},
    {0x0809, "SHA256", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x080a, "SHA384", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x080b, "SHA512", LURKD_SIG_PSS, LURKD_KEY_RSA_PSS, 0},
    {0x0807, NULL, LURKD_SIG_PLAIN, LURKD_KEY_ED25519, 0},
    {0x0808, NULL, LURKD_SIG_PLAIN, LURKD_KEY_ED448, 0},
};

static const struct lurkd_sig_alg *find(const struct lurkd_sig_alg *algs, size_t n, uint16_t code,
                                        const struct lurkd_key *key)
{
    for (size_t i = 0; i < n; i++) {
        const struct lurkd_sig_alg *a = &algs[i];
        if (a->code == code && a->kind == key->kind &&
            (a->ec_group == 0 || a->ec_group == key->ec_group))
            return a;
    }
    return NULL;
}

const struct lurkd_sig_alg *lurkd_sig_alg_tls13(uint16_t scheme, const struct lurkd_key *key)
{
    return find(lurkd_sig_algs_tls13, lurkd_n_sig_algs_tls13, scheme, key);
}

const struct lurkd_sig_alg *lurkd_sig_alg_tls12(uint16_t sig_and_hash, const struct lurkd_key *key)
{
    return find(tls12_algs, sizeof(tls12_algs) / sizeof(tls12_algs[0]), sig_and_hash, key);
}

/* A signing context for (key, alg), ready for EVP_DigestSign. */
static EVP_MD_CTX *sign_ctx_new(const struct lurkd_key *key, const struct lurkd_sig_alg *alg)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    if (md == NULL || EVP_DigestSignInit_ex(md, &pctx, alg->md, NULL, NULL, key->pkey, NULL) != 1 ||
        (alg->padding == LURKD_SIG_PSS &&
         (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
        (alg->padding == LURKD_SIG_PKCS1 &&
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    return md;
}

/* A fresh signing context: from a copy of the key's template for alg (made on first use). */
static EVP_MD_CTX *sign_ctx_get(const struct lurkd_key *key, const struct lurkd_sig_alg *alg)
{
    const EVP_MD_CTX *tmpl = lurkd_sign_cache_find(key->sign_cache, alg->code);
    EVP_MD_CTX *md = NULL, *made;

    if (tmpl == NULL && (made = sign_ctx_new(key, alg)) != NULL)
        tmpl = lurkd_sign_cache_store(key->sign_cache, alg->code, made);
    /* A context that cannot be copied (EdDSA in some OpenSSL versions) is made afresh. */
    if (tmpl != NULL && (md = EVP_MD_CTX_new()) != NULL && EVP_MD_CTX_copy_ex(md, tmpl) != 1) {
        EVP_MD_CTX_free(md);
        md = NULL;
        ERR_clear_error();
    }
    if (md == NULL && (md = sign_ctx_new(key, alg)) == NULL)
        return NULL;
    /*
     * The context signs once: without this flag EVP_DigestSignFinal signs
     * with a duplicate of the signature context, to keep this one usable.
     */
    EVP_MD_CTX_set_flags(md, EVP_MD_CTX_FLAG_FINALISE);
    return md;
}

/* Whether sig verifies over tbs with the key's check_key, as alg says. */
static bool signature_checks(const struct lurkd_key *key, const struct lurkd_sig_alg *alg,
                             const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md != NULL &&
              EVP_DigestVerifyInit_ex(md, &pctx, alg->md, NULL, NULL, key->check_key, NULL) == 1 &&
              (alg->padding != LURKD_SIG_PSS ||
               (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
              (alg->padding != LURKD_SIG_PKCS1 ||
               EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
              EVP_DigestVerify(md, sig, len, tbs, tbs_len) == 1;

    EVP_MD_CTX_free(md);
    if (!ok && ERR_peek_error() != 0)
        ERR_clear_error();
    return ok;
}

bool lurkd_sign(const struct lurkd_key *key, const struct lurkd_sig_alg *alg, const uint8_t *tbs,
                size_t tbs_len, lurk_cbb *out)
{
    EVP_MD_CTX *md = sign_ctx_get(key, alg);
    size_t len = 0;
    uint8_t *sig;
    lurk_cbb_mark m;
    bool ok = false;

    if (md == NULL)
        goto out;
    if (EVP_DigestSign(md, NULL, &len, tbs, tbs_len) != 1 || len > 0xffff)
        goto out;
    if (!lurk_cbb_begin(out, &m, 2) || !lurk_cbb_add_space(out, &sig, len))
        goto out;
    size_t at = (size_t)(sig - lurk_cbb_data(out));
    if (EVP_DigestSign(md, sig, &len, tbs, tbs_len) != 1 ||
        (key->check_key != NULL &&
         !signature_checks(key, alg, tbs, tbs_len, lurk_cbb_data(out) + at, len)))
        goto out;
    /* ECDSA signatures are often shorter than the maximum. */
    ok = lurk_cbb_truncate(out, at + len) && lurk_cbb_end(out, &m);
out:
    EVP_MD_CTX_free(md);
    return ok;
}

bool lurkd_sign_certificate_verify(const struct lurkd_key *key, const struct lurkd_sig_alg *alg,
                                   uint8_t role, const uint8_t *transcript_hash, size_t hash_len,
                                   lurk_cbb *out)
{
    static const char server[] = "TLS 1.3, server CertificateVerify";
    static const char client[] = "TLS 1.3, client CertificateVerify";
    const char *context = role == LURK_TLS13_ROLE_SERVER ? server : client;
    uint8_t tbs[64 + sizeof(server) + EVP_MAX_MD_SIZE];
    size_t n = 0;

    if (hash_len > EVP_MAX_MD_SIZE)
        return false;
    memset(tbs, 0x20, 64);
    n = 64;
    /* The context string and its terminating 0x00 (sizeof counts the NUL). */
    memcpy(tbs + n, context, sizeof(server));
    n += sizeof(server);
    memcpy(tbs + n, transcript_hash, hash_len);
    n += hash_len;
    return lurkd_sign(key, alg, tbs, n, out);
}
