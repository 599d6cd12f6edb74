/*
 * Signatures with remote keys (docs/architecture.md §4, §6, §8.3).
 *
 * One implementation serves RSA, RSA-PSS, ECDSA, Ed25519 and Ed448 keys; it
 * looks at the key at init. What libssl calls (docs/architecture.md §8.3):
 *   newctx, digest_sign_init(md, key)   per candidate sigalg, per handshake:
 *                                       local and cheap, refuses digests the
 *                                       key cannot be used with, no network
 *   set_ctx_params(pad-mode, saltlen)   int and string forms (strict path)
 *   digest_sign(NULL) / digest_sign(sig, tbs)
 *                                       size query (no network), then the
 *                                       whole to-be-signed content
 *   dupctx, digest_sign_update/final    other callers; the message is kept
 *                                       (bounded) and signed whole at final
 *
 * The content decides the exchange (prov_content.c): a TLS 1.3
 * CertificateVerify content becomes tls13 sign_certificate_verify, a TLS
 * 1.2 ECDHE ServerKeyExchange becomes tls12 ecdhe (freshness null, poo
 * null), the handshake messages of a TLS 1.2 client CertificateVerify
 * become tls12 client_certificate_verify; anything else fails with "no LURK exchange for this
 * content". A bare digest (sign_init/sign) is never sent anywhere: lurkd signs only what it can
 * rebuild from TLS structures.
 *
 * Signatures lurkd returns are verified here with the public key of the
 * key reference before libssl sees them, until the first one that passes
 * for the key (the key object, in this process), for every key type. That
 * is the check of which key lurkd holds behind the key id (4 bytes of hash:
 * a misrouted server, a lurkd bug): a clear server-side error instead of
 * handshakes that clients reject. A failed check does not count, so a key
 * stays checked until lurkd has signed one thing with it correctly. Later
 * signatures go to libssl unverified: a wrong or corrupted one fails the
 * client's own check and leaks nothing.
 *
 * RSA signatures used to be verified every time, against a faulty RSA-CRT
 * result (one CRT half wrong: gcd(s^e - m, n) gives whoever checks the
 * signature a factor of n; Lenstra). Dropped after measuring (decision of
 * the performance issue; figures in docs/performance.md, "nginx: full TLS
 * handshakes per second"): that verify costs about 9 % of the nginx worker
 * CPU of a full TLS 1.3 RSA-2048 handshake, and protects nothing more for
 * the keys lurkd holds in software. Their CRT results are checked where
 * they are made: RSA_private_encrypt's rsa_ossl_mod_exp
 * (crypto/rsa/rsa_ossl.c, OpenSSL 3.0) raises every CRT result to e,
 * compares it with the input and recomputes it with d on a mismatch, so a
 * faulty CRT signature never leaves libcrypto (tried on 3.0.19 with a key
 * whose dP is wrong: correct signatures, each 9 times slower). Keys lurkd
 * holds through an engine (lurkd/keys/engine_key.c, an HSM) do not run
 * that code: the token signs, and a faulty result is caught by the token's
 * own check, or by a verify in lurkd before it answers (one public-key
 * operation next to a token signature), never here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "lurk/client.h"
#include "lurk/lurk.h"
#include "lurk/names.h"
#include "lurk/tls12.h"
#include "lurk/tls12_client_cv.h"
#include "lurk/tls13.h"
#include "prov_content.h"
#include "provider.h"

/*
 * The functions of the dispatch table, declared with OpenSSL's typedefs
 * (openssl/core_dispatch.h): a definition that disagrees with the signature
 * libcrypto calls fails to compile instead of hiding behind the table's
 * (void (*)(void)) cast.
 */
static OSSL_FUNC_signature_newctx_fn sig_newctx;
static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_digest_sign_init_fn sig_digest_sign_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_digest_sign_update;
static OSSL_FUNC_signature_digest_sign_final_fn sig_digest_sign_final;
static OSSL_FUNC_signature_digest_sign_fn sig_digest_sign;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn sig_gettable_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;
static OSSL_FUNC_signature_settable_ctx_params_fn sig_settable_ctx_params;

/* Longer than any TLS content LURK signs (a 146-byte CertificateVerify, a
 * ServerKeyExchange under 400 bytes); update/final keep at most this much. */
#define MAX_MESSAGE (64 * 1024)

enum md {
    MD_NONE = 0,
    MD_SHA256,
    MD_SHA384,
    MD_SHA512,
};

static const struct {
    const char *name;       /* canonical, for messages and EVP fetches */
    const char *aliases[4]; /* the names libcrypto may hand us */
    size_t len;
    uint8_t tls12_hash; /* HashAlgorithm, RFC 5246 §7.4.1.4.1 */
} mds[] = {
    [MD_NONE] = {"", {NULL}, 0, 0},
    [MD_SHA256] = {"SHA256", {"SHA2-256", "SHA-256", "2.16.840.1.101.3.4.2.1", NULL}, 32, 4},
    [MD_SHA384] = {"SHA384", {"SHA2-384", "SHA-384", "2.16.840.1.101.3.4.2.2", NULL}, 48, 5},
    [MD_SHA512] = {"SHA512", {"SHA2-512", "SHA-512", "2.16.840.1.101.3.4.2.3", NULL}, 64, 6},
};

struct sig_ctx {
    LURK_PROV_CTX *pc;
    const struct lurk_prov_key *key; /* owned by the EVP_PKEY the EVP_PKEY_CTX holds */
    bool digest_sign;                /* false: sign_init (pre-hashed input) */
    enum md md;
    enum md mgf1_md; /* MD_NONE: same as md */
    int pad;         /* RSA keys: RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    int saltlen;     /* RSA_PSS_SALTLEN_DIGEST unless set otherwise */
    uint8_t *msg;    /* update/final */
    size_t msg_len, msg_cap;
};

static bool is_rsa(const struct lurk_prov_key *key)
{
    return key->type == LURK_KEYREF_KEY_RSA || key->type == LURK_KEYREF_KEY_RSA_PSS;
}

static bool is_eddsa(const struct lurk_prov_key *key)
{
    return key->type == LURK_KEYREF_KEY_ED25519 || key->type == LURK_KEYREF_KEY_ED448;
}

/*
 * SHA-1 (and MD5+SHA-1) is what libssl falls back to for a TLS 1.2 client
 * that sends no signature_algorithms (RFC 5246 §7.4.1.4.1), allowed only at
 * security level 0. lurk never signs with it (docs/security.md): the error
 * says so by name.
 */
static bool is_sha1(const char *name)
{
    return OPENSSL_strcasecmp(name, "SHA1") == 0 || OPENSSL_strcasecmp(name, "SHA-1") == 0 ||
           OPENSSL_strcasecmp(name, "MD5-SHA1") == 0 ||
           OPENSSL_strcasecmp(name, "1.3.14.3.2.26") == 0;
}

/* -1 for a digest we do not sign with. */
static int md_from_name(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return MD_NONE;
    for (int m = MD_SHA256; m <= MD_SHA512; m++) {
        if (OPENSSL_strcasecmp(name, mds[m].name) == 0)
            return m;
        for (int a = 0; mds[m].aliases[a] != NULL; a++)
            if (OPENSSL_strcasecmp(name, mds[m].aliases[a]) == 0)
                return m;
    }
    return -1;
}

/* ---- context ---- */

static void *sig_newctx(void *provctx, const char *propq)
{
    struct sig_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    (void)propq;
    if (ctx != NULL)
        ctx->pc = provctx;
    return ctx;
}

static void sig_freectx(void *vctx)
{
    struct sig_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    OPENSSL_clear_free(ctx->msg, ctx->msg_cap);
    OPENSSL_free(ctx);
}

static void *sig_dupctx(void *vctx)
{
    const struct sig_ctx *ctx = vctx;
    struct sig_ctx *dup = OPENSSL_memdup(ctx, sizeof(*ctx));

    if (dup == NULL)
        return NULL;
    dup->msg = NULL;
    dup->msg_cap = 0;
    if (ctx->msg != NULL) {
        dup->msg = OPENSSL_memdup(ctx->msg, ctx->msg_cap);
        if (dup->msg == NULL) {
            OPENSSL_free(dup);
            return NULL;
        }
        dup->msg_cap = ctx->msg_cap;
    }
    return dup;
}

/* ---- parameters ---- */

static bool set_md(struct sig_ctx *ctx, const char *name, bool mgf1)
{
    const struct lurk_prov_key *key = ctx->key;
    int m = md_from_name(name);

    if (m < 0 && name != NULL && is_sha1(name)) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_UNSUPPORTED_DIGEST,
                        "key id %s: %s%s: SHA-1 signatures are refused (LURK signs with SHA-256, "
                        "SHA-384 or SHA-512; a TLS 1.2 client that sends no signature_algorithms "
                        "asks for SHA-1)",
                        key->key_id_hex, mgf1 ? "MGF1 with " : "", name);
        return false;
    }
    if (m < 0 || (m == MD_NONE && !is_eddsa(key)) || (m != MD_NONE && is_eddsa(key))) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_UNSUPPORTED_DIGEST, "key id %s: %s%s (%s)",
                        key->key_id_hex, mgf1 ? "MGF1 with " : "",
                        name != NULL && name[0] != '\0' ? name : "no digest",
                        is_eddsa(key) ? "EdDSA keys sign without a separate digest"
                                      : "LURK signs with SHA-256, SHA-384 or SHA-512");
        return false;
    }
    /* RSA-PSS keys whose parameters pin a digest (docs/architecture.md §8.2: refused at init). */
    if (!mgf1 && key->mandatory_md[0] != '\0' && md_from_name(key->mandatory_md) != m) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_UNSUPPORTED_DIGEST,
                        "key id %s: %s (this RSA-PSS key is restricted to %s)", key->key_id_hex,
                        name, key->mandatory_md);
        return false;
    }
    if (mgf1)
        ctx->mgf1_md = (enum md)m;
    else
        ctx->md = (enum md)m;
    return true;
}

static bool set_pad(struct sig_ctx *ctx, const OSSL_PARAM *p)
{
    int pad = 0;

    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        const char *s = p->data;
        if (OPENSSL_strcasecmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
            pad = RSA_PKCS1_PADDING;
        else if (OPENSSL_strcasecmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
            pad = RSA_PKCS1_PSS_PADDING;
        else if (OPENSSL_strcasecmp(s, OSSL_PKEY_RSA_PAD_MODE_NONE) == 0)
            pad = RSA_NO_PADDING;
        else if (OPENSSL_strcasecmp(s, OSSL_PKEY_RSA_PAD_MODE_X931) == 0)
            pad = RSA_X931_PADDING;
        else if (OPENSSL_strcasecmp(s, OSSL_PKEY_RSA_PAD_MODE_OAEP) == 0)
            pad = RSA_PKCS1_OAEP_PADDING;
    } else if (!OSSL_PARAM_get_int(p, &pad)) {
        return false;
    }
    /* Never raw RSA; RSA-PSS keys sign with PSS only. */
    if (!is_rsa(ctx->key) ||
        (pad != RSA_PKCS1_PSS_PADDING &&
         (pad != RSA_PKCS1_PADDING || ctx->key->type == LURK_KEYREF_KEY_RSA_PSS))) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_UNSUPPORTED_PADDING,
                        "key id %s: padding mode %d (LURK signs with PKCS#1 v1.5 or PSS, and "
                        "RSA-PSS keys with PSS only)",
                        ctx->key->key_id_hex, pad);
        return false;
    }
    ctx->pad = pad;
    return true;
}

static bool set_saltlen(struct sig_ctx *ctx, const OSSL_PARAM *p)
{
    int saltlen;

    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        const char *s = p->data;
        char *end;
        long v;
        if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
            saltlen = RSA_PSS_SALTLEN_DIGEST;
        else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0)
            saltlen = RSA_PSS_SALTLEN_MAX;
        else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0)
            saltlen = RSA_PSS_SALTLEN_AUTO;
        else {
            v = strtol(s, &end, 10);
            if (*s == '\0' || *end != '\0' || v < 0 || v > 1024)
                return false;
            saltlen = (int)v;
        }
    } else if (!OSSL_PARAM_get_int(p, &saltlen)) {
        return false;
    }
    /* Kept as given; sign time says whether TLS can use it (salt = hash length). */
    ctx->saltlen = saltlen;
    return true;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if (ctx->key == NULL)
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL &&
        (p->data_type != OSSL_PARAM_UTF8_STRING || !set_md(ctx, (const char *)p->data, false)))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != NULL && !set_pad(ctx, p))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != NULL && !set_saltlen(ctx, p))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    if (p != NULL &&
        (p->data_type != OSSL_PARAM_UTF8_STRING || !set_md(ctx, (const char *)p->data, true)))
        return 0;
    return 1;
}

static const OSSL_PARAM settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return settable;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;
    OSSL_PARAM *p;

    /*
     * The AlgorithmIdentifier is asked for only to sign X.509 structures
     * (ASN1_item_sign_ctx: certificates, CSRs, CRLs, OCSP), which no LURK
     * exchange signs. Refuse here, naming the reason: answering 1 and leaving
     * the parameter unset made OpenSSL 3.0 decode return_size
     * (OSSL_PARAM_UNMODIFIED) bytes of an uninitialised buffer and crash.
     */
    if (OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID) != NULL) {
        if (ctx->key != NULL)
            LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE,
                            "server %s, key id %s: an X.509 signature (certificate, request, CRL "
                            "or OCSP; LURK signs only TLS handshake content)",
                            lurk_prov_key_server_text(ctx->key), ctx->key->key_id_hex);
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL && !OSSL_PARAM_set_utf8_string(p, mds[ctx->md].name))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    if (p != NULL &&
        !OSSL_PARAM_set_utf8_string(p, mds[ctx->mgf1_md != MD_NONE ? ctx->mgf1_md : ctx->md].name))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != NULL) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_set_utf8_string(p, ctx->pad == RSA_PKCS1_PSS_PADDING
                                                   ? OSSL_PKEY_RSA_PAD_MODE_PSS
                                                   : OSSL_PKEY_RSA_PAD_MODE_PKCSV15))
                return 0;
        } else if (!OSSL_PARAM_set_int(p, ctx->pad)) {
            return 0;
        }
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != NULL) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            char text[16];
            if (ctx->saltlen == RSA_PSS_SALTLEN_DIGEST)
                snprintf(text, sizeof(text), "%s", OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST);
            else if (ctx->saltlen == RSA_PSS_SALTLEN_MAX)
                snprintf(text, sizeof(text), "%s", OSSL_PKEY_RSA_PSS_SALT_LEN_MAX);
            else if (ctx->saltlen == RSA_PSS_SALTLEN_AUTO)
                snprintf(text, sizeof(text), "%s", OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO);
            else
                snprintf(text, sizeof(text), "%d", ctx->saltlen);
            if (!OSSL_PARAM_set_utf8_string(p, text))
                return 0;
        } else if (!OSSL_PARAM_set_int(p, ctx->saltlen)) {
            return 0;
        }
    }
    return 1;
}

static const OSSL_PARAM gettable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
    OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return gettable;
}

/* ---- init ---- */

static int init(struct sig_ctx *ctx, void *provkey, const char *mdname, bool digest_sign,
                const OSSL_PARAM params[])
{
    const struct lurk_prov_key *key = provkey != NULL ? provkey : ctx->key;

    if (key == NULL || key->pub == NULL) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_PARAMETER, "no key");
        return 0;
    }
    ctx->key = key;
    ctx->digest_sign = digest_sign;
    ctx->md = MD_NONE;
    ctx->mgf1_md = MD_NONE;
    ctx->pad = key->type == LURK_KEYREF_KEY_RSA_PSS ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
    ctx->saltlen = RSA_PSS_SALTLEN_DIGEST;
    ctx->msg_len = 0;
    /* No digest given: what our keymgmt announces as the default (SHA-256, or none for EdDSA). */
    if (mdname == NULL || mdname[0] == '\0')
        mdname = is_eddsa(key) ? NULL : key->mandatory_md[0] != '\0' ? key->mandatory_md : "SHA256";
    if (!set_md(ctx, mdname, false))
        return 0;
    return sig_set_ctx_params(ctx, params);
}

static int sig_digest_sign_init(void *vctx, const char *mdname, void *provkey,
                                const OSSL_PARAM params[])
{
    return init(vctx, provkey, mdname, true, params);
}

static int sig_sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
    return init(vctx, provkey, NULL, false, params);
}

/* ---- content -> LURK request ---- */

/* RFC 8446 §4.2.3 SignatureScheme for a TLS 1.3 CertificateVerify; 0 with why set. */
static uint16_t tls13_scheme(const struct sig_ctx *ctx, const char **why)
{
    const struct lurk_prov_key *key = ctx->key;
    static const uint16_t rsae[] = {
        [MD_SHA256] = 0x0804, [MD_SHA384] = 0x0805, [MD_SHA512] = 0x0806};
    static const uint16_t pss[] = {
        [MD_SHA256] = 0x0809, [MD_SHA384] = 0x080a, [MD_SHA512] = 0x080b};

    switch (key->type) {
    case LURK_KEYREF_KEY_RSA:
    case LURK_KEYREF_KEY_RSA_PSS:
        if (ctx->pad != RSA_PKCS1_PSS_PADDING) {
            *why = "TLS 1.3 CertificateVerify with RSA PKCS#1 v1.5 (TLS 1.3 signs with PSS)";
            return 0;
        }
        return key->type == LURK_KEYREF_KEY_RSA ? rsae[ctx->md] : pss[ctx->md];
    case LURK_KEYREF_KEY_EC:
        if (key->curve == LURK_KEYREF_CURVE_P256 && ctx->md == MD_SHA256)
            return 0x0403;
        if (key->curve == LURK_KEYREF_CURVE_P384 && ctx->md == MD_SHA384)
            return 0x0503;
        if (key->curve == LURK_KEYREF_CURVE_P521 && ctx->md == MD_SHA512)
            return 0x0603;
        *why = "TLS 1.3 ECDSA with a digest that does not match the curve";
        return 0;
    case LURK_KEYREF_KEY_ED25519:
        return 0x0807;
    case LURK_KEYREF_KEY_ED448:
        return 0x0808;
    default:
        *why = "key type";
        return 0;
    }
}

/* RFC 5246 §7.4.1.4.1 SignatureAndHashAlgorithm (RFC 8446 code points for PSS and EdDSA). */
static uint16_t tls12_sig_and_hash(const struct sig_ctx *ctx)
{
    const struct lurk_prov_key *key = ctx->key;

    switch (key->type) {
    case LURK_KEYREF_KEY_RSA:
        if (ctx->pad == RSA_PKCS1_PSS_PADDING)
            return (uint16_t)(0x0804 + (ctx->md - MD_SHA256));
        return (uint16_t)(mds[ctx->md].tls12_hash << 8 | 1);
    case LURK_KEYREF_KEY_RSA_PSS:
        return (uint16_t)(0x0809 + (ctx->md - MD_SHA256));
    case LURK_KEYREF_KEY_EC:
        return (uint16_t)(mds[ctx->md].tls12_hash << 8 | 3);
    case LURK_KEYREF_KEY_ED25519:
        return 0x0807;
    default:
        return 0x0808;
    }
}

/* TLS signs PSS with salt = hash length and MGF1 = the message hash (RFC 8446 §4.2.3). */
static bool pss_params_ok(const struct sig_ctx *ctx)
{
    if (!is_rsa(ctx->key) || ctx->pad != RSA_PKCS1_PSS_PADDING)
        return true;
    if (ctx->mgf1_md != MD_NONE && ctx->mgf1_md != ctx->md) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_PARAMETER,
                        "key id %s: MGF1 digest %s differs from the signature digest %s",
                        ctx->key->key_id_hex, mds[ctx->mgf1_md].name, mds[ctx->md].name);
        return false;
    }
    if (ctx->saltlen != RSA_PSS_SALTLEN_DIGEST && ctx->saltlen != (int)mds[ctx->md].len) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_SALT_LENGTH, "key id %s: salt length %d, need %zu",
                        ctx->key->key_id_hex, ctx->saltlen, mds[ctx->md].len);
        return false;
    }
    return true;
}

static bool build_tls13(const struct sig_ctx *ctx, const struct lurk_prov_content *c, lurk_cbb *cbb)
{
    struct lurk_tls13_sign_cv_request req = {0};
    const char *why = NULL;

    req.sig_algo = tls13_scheme(ctx, &why);
    if (req.sig_algo == 0) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE, "server %s, key id %s: %s",
                        lurk_prov_key_server_text(ctx->key), ctx->key->key_id_hex, why);
        return false;
    }
    req.key_id = ctx->key->key_id;
    req.role = c->role;
    req.transcript_hash = c->transcript_hash;
    return lurk_tls13_sign_cv_request_encode(cbb, &req) && lurk_cbb_ok(cbb);
}

static bool build_tls12(const struct sig_ctx *ctx, const struct lurk_prov_content *c, lurk_cbb *cbb)
{
    struct lurk_tls12_ecdhe_request req;

    memset(&req, 0, sizeof(req));
    req.key_id = ctx->key->key_id;
    /* Null freshness: libssl already put server_random in its ServerHello (digest §2.10). */
    req.freshness_funct = LURK_FRESHNESS_NULL;
    lurk_cbs client_random = c->client_random, server_random = c->server_random;
    if (!lurk_cbs_copy_bytes(&client_random, req.client_random, LURK_RANDOM_LEN) ||
        !lurk_cbs_copy_bytes(&server_random, req.server_random, LURK_RANDOM_LEN))
        return false;
    req.sig_and_hash = tls12_sig_and_hash(ctx);
    req.ecdhe_params_bytes = c->ecdh_params_bytes;
    req.ecdhe_params = c->ecdh_params;
    req.poo_prf = LURK_POO_PRF_NULL;
    return lurk_tls12_ecdhe_request_encode(cbb, &req) && lurk_cbb_ok(cbb);
}

/*
 * RFC 5246 §7.4.8: libssl hands over handshake_messages whole and has chosen
 * the SignatureAndHashAlgorithm from the CertificateRequest; the digest and
 * padding it set on this context say which.
 */
static bool build_tls12_client_cv(const struct sig_ctx *ctx, const struct lurk_prov_content *c,
                                  lurk_cbb *cbb)
{
    struct lurk_tls12_client_cv_request req = {0};

    req.key_id = ctx->key->key_id;
    req.sig_and_hash = tls12_sig_and_hash(ctx);
    req.handshake_messages = c->handshake_messages;
    return lurk_tls12_client_cv_request_encode(cbb, &req) && lurk_cbb_ok(cbb);
}

/* The signature in a success response; false when the payload is malformed. */
static bool response_signature(const struct lurk_prov_content *c, const struct lurk_response *r,
                               lurk_cbs *sig)
{
    if (c->kind == LURK_CONTENT_TLS13_CERTIFICATE_VERIFY) {
        struct lurk_tls13_signing_response out;
        lurk_cbs payload = r->msg.payload;
        if (lurk_tls13_signing_response_decode(&payload, &out) != LURK_STATUS_SUCCESS ||
            lurk_cbs_len(&payload) != 0)
            return false;
        *sig = out.signature;
        return true;
    }
    struct lurk_tls12_ecdhe_response out;
    if (lurk_tls12_ecdhe_response_decode(&r->msg.payload, &out) != LURK_STATUS_SUCCESS)
        return false;
    *sig = out.signature;
    return true;
}

static bool verify(const struct sig_ctx *ctx, const uint8_t *tbs, size_t tbs_len,
                   const uint8_t *sig, size_t sig_len)
{
    const struct lurk_prov_key *key = ctx->key;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok;

    ERR_set_mark();
    ok = mctx != NULL &&
         EVP_DigestVerifyInit_ex(mctx, &pctx, ctx->md != MD_NONE ? mds[ctx->md].name : NULL,
                                 lurk_prov_libctx(key->pc), NULL, key->pub, NULL) == 1;
    if (ok && is_rsa(key)) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, ctx->pad) == 1;
        if (ok && ctx->pad == RSA_PKCS1_PSS_PADDING)
            ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mds[ctx->md].name, NULL) == 1;
    }
    ok = ok && EVP_DigestVerify(mctx, sig, sig_len, tbs, tbs_len) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int sign_content(struct sig_ctx *ctx, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                        size_t *sig_len, size_t sig_size)
{
    const struct lurk_prov_key *key = ctx->key;
    struct lurk_prov_content c;
    struct lurk_response resp = {0};
    char server[400];
    uint8_t designation, type;
    lurk_cbb cbb;
    lurk_cbs s;
    int ok = 0;

    lurk_prov_content_classify(tbs, tbs_len, &c);
    if (c.kind == LURK_CONTENT_NONE) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE, "server %s, key id %s: %s",
                        lurk_prov_key_server_text(key), key->key_id_hex, c.why);
        return 0;
    }
    if (sig_size < key->max_sig_len) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BUFFER_TOO_SMALL, "key id %s: %zu < %zu",
                        key->key_id_hex, sig_size, key->max_sig_len);
        return 0;
    }
    if (!pss_params_ok(ctx))
        return 0;
    /* A client CertificateVerify carries the handshake, certificate chains included. */
    if (!lurk_cbb_init(&cbb, 256, 1024 * 1024)) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_INTERNAL, "out of memory");
        return 0;
    }
    if (c.kind == LURK_CONTENT_TLS13_CERTIFICATE_VERIFY) {
        designation = LURK_DESIGNATION_TLS13;
        type = LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY;
        if (!build_tls13(ctx, &c, &cbb))
            goto out;
    } else if (c.kind == LURK_CONTENT_TLS12_CLIENT_CERTIFICATE_VERIFY) {
        designation = LURK_DESIGNATION_TLS12;
        type = LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY;
        if (!build_tls12_client_cv(ctx, &c, &cbb)) {
            LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_INTERNAL,
                            "key id %s: cannot encode client_certificate_verify (handshake "
                            "messages of %zu bytes)",
                            key->key_id_hex, tbs_len);
            goto out;
        }
    } else {
        designation = LURK_DESIGNATION_TLS12;
        type = LURK_TLS12_TYPE_ECDHE;
        if (!build_tls12(ctx, &c, &cbb)) {
            LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_INTERNAL, "key id %s: cannot encode ecdhe",
                            key->key_id_hex);
            goto out;
        }
    }
    if (!lurk_prov_pool_call(ctx->pc, key->has_server ? &key->server : NULL, key->key_id_hex,
                             designation, type, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb), &resp,
                             server, sizeof(server)))
        goto out;
    /*
     * lurk-lurk §5.3: a lurkd without the exchange answers invalid_type in
     * designation lurk; its tls12 capabilities do not announce type 129.
     */
    if (resp.msg.hdr.status == LURK_STATUS_INVALID_TYPE &&
        resp.msg.hdr.designation == LURK_DESIGNATION_LURK &&
        type == LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_LURK_ERROR,
                        "server %s, key id %s: lurkd does not announce tls12 "
                        "client_certificate_verify in its capabilities (a lurkd older than "
                        "TLS 1.2 client certificates): it cannot sign a TLS 1.2 client "
                        "CertificateVerify",
                        server, key->key_id_hex);
        goto out;
    }
    if (resp.msg.hdr.status != LURK_STATUS_SUCCESS) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_LURK_ERROR, "server %s, key id %s: %s %s: %s", server,
                        key->key_id_hex, lurk_designation_name(designation),
                        lurk_type_name(designation, type),
                        lurk_status_name(resp.msg.hdr.designation, resp.msg.hdr.status));
        goto out;
    }
    if (!response_signature(&c, &resp, &s) || lurk_cbs_len(&s) == 0 ||
        lurk_cbs_len(&s) > key->max_sig_len) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_RESPONSE, "server %s, key id %s: %s response",
                        server, key->key_id_hex, lurk_type_name(designation, type));
        goto out;
    }
    if (!atomic_load(&key->verified) &&
        !verify(ctx, tbs, tbs_len, lurk_cbs_data(&s), lurk_cbs_len(&s))) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_BAD_SIGNATURE,
                        "server %s, key id %s: the %s signature does not verify with the key "
                        "reference's public key (another key behind this key id?)",
                        server, key->key_id_hex, lurk_type_name(designation, type));
        goto out;
    }
    /* The key object is shared read-only; this flag only ever goes from false to true. */
    if (!atomic_load(&key->verified))
        atomic_store((atomic_bool *)&key->verified, true);
    memcpy(sig, lurk_cbs_data(&s), lurk_cbs_len(&s));
    *sig_len = lurk_cbs_len(&s);
    ok = 1;
out:
    lurk_response_free(&resp);
    lurk_cbb_cleanup(&cbb);
    return ok;
}

/* ---- operations ---- */

static int sig_digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                           const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;

    if (ctx->key == NULL || !ctx->digest_sign)
        return 0;
    if (sig == NULL) {
        /* The size query libssl makes first: answered locally. */
        *siglen = ctx->key->max_sig_len;
        return 1;
    }
    return sign_content(ctx, tbs, tbslen, sig, siglen, sigsize);
}

static int sig_digest_sign_update(void *vctx, const unsigned char *data, size_t len)
{
    struct sig_ctx *ctx = vctx;

    if (ctx->key == NULL || !ctx->digest_sign)
        return 0;
    if (len > MAX_MESSAGE - ctx->msg_len) {
        LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE,
                        "server %s, key id %s: more than %d bytes of data (no TLS content LURK "
                        "signs is this long)",
                        lurk_prov_key_server_text(ctx->key), ctx->key->key_id_hex, MAX_MESSAGE);
        return 0;
    }
    if (ctx->msg_len + len > ctx->msg_cap) {
        size_t cap = ctx->msg_cap == 0 ? 512 : ctx->msg_cap;
        uint8_t *m;
        while (cap < ctx->msg_len + len)
            cap *= 2;
        m = OPENSSL_clear_realloc(ctx->msg, ctx->msg_cap, cap);
        if (m == NULL)
            return 0;
        ctx->msg = m;
        ctx->msg_cap = cap;
    }
    if (len > 0)
        memcpy(ctx->msg + ctx->msg_len, data, len);
    ctx->msg_len += len;
    return 1;
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct sig_ctx *ctx = vctx;

    if (ctx->key == NULL || !ctx->digest_sign)
        return 0;
    if (sig == NULL) {
        *siglen = ctx->key->max_sig_len;
        return 1;
    }
    return sign_content(ctx, ctx->msg, ctx->msg_len, sig, siglen, sigsize);
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;

    (void)sigsize;
    (void)tbs;
    (void)tbslen;
    if (ctx->key == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = ctx->key->max_sig_len;
        return 1;
    }
    /* docs/architecture.md §4: lurkd never signs a digest it cannot see the content of. */
    LURK_PROV_RAISE(ctx->pc, LURK_PROV_R_NO_EXCHANGE,
                    "server %s, key id %s: a bare digest (LURK signs TLS handshake content "
                    "lurkd can check, never a caller-chosen digest)",
                    lurk_prov_key_server_text(ctx->key), ctx->key->key_id_hex);
    return 0;
}

const OSSL_DISPATCH lurk_prov_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_sign_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
    {0, NULL},
};
