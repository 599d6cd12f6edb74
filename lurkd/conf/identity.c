/* Client identities by certificate; see identity.h. */
#include "conf/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* A name of at least min_labels non-empty labels of letters, digits, '-' and '_'. */
static bool plain_name(const char *s, int min_labels)
{
    int labels = 0;
    size_t len = 0;

    for (;; s++) {
        if (*s == '.' || *s == '\0') {
            if (len == 0)
                return false;
            labels++;
            len = 0;
            if (*s == '\0')
                break;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || *s == '-' || *s == '_') {
            len++;
        } else {
            return false;
        }
    }
    return labels >= min_labels;
}

bool lurkd_name_rule_parse(const char *text, struct lurkd_name_rule *rule, char *why, size_t whylen)
{
    const char *p;

    memset(rule, 0, sizeof(*rule));
    if (strncmp(text, "cn:", 3) == 0) {
        rule->kind = LURKD_NAME_CN;
        p = text + 3;
    } else if (strncmp(text, "san:", 4) == 0) {
        rule->kind = LURKD_NAME_DNS;
        p = text + 4;
    } else if (strncmp(text, "uri:", 4) == 0) {
        rule->kind = LURKD_NAME_URI;
        p = text + 4;
    } else {
        snprintf(why, whylen, "bad match rule \"%s\" (expected cn:PATTERN, san:PATTERN or uri:URI)",
                 text);
        return false;
    }
    if (*p == '\0') {
        snprintf(why, whylen, "empty match rule \"%s\"", text);
        return false;
    }
    if (rule->kind == LURKD_NAME_URI) {
        if (strchr(p, '*') != NULL || strstr(p, "://") == NULL) {
            snprintf(why, whylen, "bad match rule \"%s\" (a URI, compared exactly, no \"*\")",
                     text);
            return false;
        }
    } else if (strncmp(p, "*.", 2) == 0 ? !plain_name(p + 2, 2) : strchr(p, '*') != NULL) {
        snprintf(why, whylen,
                 "bad match rule \"%s\" (\"*\" only as the whole left-most label, followed by at "
                 "least two labels: *.fe.example.net)",
                 text);
        return false;
    }
    rule->pattern = strdup(p);
    if (rule->pattern == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    return true;
}

bool lurkd_name_pattern_match(const char *pattern, const char *name)
{
    if (strncmp(pattern, "*.", 2) != 0)
        return strcasecmp(pattern, name) == 0;
    /* "*" is exactly one non-empty left-most label. */
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name)
        return false;
    return strcasecmp(dot + 1, pattern + 2) == 0;
}

bool lurkd_name_rule_match(const struct lurkd_name_rule *rule, const struct lurkd_cert_identity *id)
{
    static const char *const prefix[] = {"cn:", "san:", "uri:"};
    const char *want = prefix[rule->kind];
    size_t plen = strlen(want);

    for (const char *n = id->names; *n != '\0'; n += strlen(n) + 1) {
        if (strncmp(n, want, plen) != 0)
            continue;
        if (rule->kind == LURKD_NAME_URI ? strcmp(rule->pattern, n + plen) == 0
                                         : lurkd_name_pattern_match(rule->pattern, n + plen))
            return true;
    }
    return false;
}

/* Appends "prefix" + value (len bytes) to the list, when it is a clean name and fits. */
static void add_name(struct lurkd_cert_identity *id, size_t *used, const char *prefix,
                     const unsigned char *value, int len)
{
    size_t plen = strlen(prefix);

    if (len <= 0 || memchr(value, '\0', (size_t)len) != NULL || memchr(value, '*', (size_t)len))
        return;
    /* The entry, its NUL, and the list's final NUL. */
    if (*used + plen + (size_t)len + 2 > sizeof(id->names))
        return;
    memcpy(id->names + *used, prefix, plen);
    memcpy(id->names + *used + plen, value, (size_t)len);
    *used += plen + (size_t)len;
    id->names[(*used)++] = '\0';
    id->names[*used] = '\0';
}

void lurkd_cert_identity_from_chain(struct lurkd_cert_identity *id, STACK_OF(X509) * chain)
{
    X509 *leaf = sk_X509_value(chain, 0);
    const X509_NAME *subject;
    GENERAL_NAMES *sans;
    size_t used = 0;
    int i = -1;

    memset(id, 0, sizeof(*id));
    if (leaf == NULL)
        return;
    for (int k = 1; k < sk_X509_num(chain) && id->n_chain < LURKD_PEER_CHAIN_MAX; k++) {
        unsigned int len = 0;
        if (X509_digest(sk_X509_value(chain, k), EVP_sha256(), id->chain_sha256[id->n_chain],
                        &len) == 1 &&
            len == 32)
            id->n_chain++;
    }
    /* Out of memory: no chain, and lurkd_crls_revoked refuses. */
    id->chain = X509_chain_up_ref(chain);
    subject = X509_get_subject_name(leaf);
    while ((i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0) {
        unsigned char *utf8 = NULL;
        int len =
            ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
        if (len > 0)
            add_name(id, &used, "cn:", utf8, len);
        OPENSSL_free(utf8);
    }
    sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (int k = 0; k < sk_GENERAL_NAME_num(sans); k++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, k);
        if (gn->type == GEN_DNS)
            add_name(id, &used, "san:", ASN1_STRING_get0_data(gn->d.dNSName),
                     ASN1_STRING_length(gn->d.dNSName));
        else if (gn->type == GEN_URI)
            add_name(id, &used, "uri:", ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                     ASN1_STRING_length(gn->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(sans);
    ERR_clear_error();
}

void lurkd_cert_identity_clear(struct lurkd_cert_identity *id)
{
    if (id == NULL)
        return;
    sk_X509_pop_free(id->chain, X509_free);
    id->chain = NULL;
}

void lurkd_cert_identity_free(struct lurkd_cert_identity *id)
{
    lurkd_cert_identity_clear(id);
    free(id);
}

bool lurkd_crl_file_load(const char *path, STACK_OF(X509_CRL) * *out, char *why, size_t whylen)
{
    BIO *bio = BIO_new_file(path, "rb");
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *crl;

    *out = NULL;
    if (bio == NULL || crls == NULL) {
        ERR_clear_error();
        BIO_free(bio);
        sk_X509_CRL_free(crls);
        snprintf(why, whylen, "cannot read it");
        return false;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_CRL_push(crls, crl))
            X509_CRL_free(crl);
    if (sk_X509_CRL_num(crls) == 0 && BIO_reset(bio) == 0 &&
        (crl = d2i_X509_CRL_bio(bio, NULL)) != NULL && !sk_X509_CRL_push(crls, crl))
        X509_CRL_free(crl);
    ERR_clear_error();
    BIO_free(bio);
    if (sk_X509_CRL_num(crls) == 0) {
        sk_X509_CRL_free(crls);
        snprintf(why, whylen, "no CRL in it (PEM or DER expected)");
        return false;
    }
    *out = crls;
    return true;
}

bool lurkd_crls_revoked(STACK_OF(X509_CRL) * crls, const struct lurkd_cert_identity *id)
{
    bool revoked = false;

    if (crls == NULL)
        return false;
    if (id->chain == NULL)
        return true; /* nothing kept to check: refuse rather than guess */
    for (int k = 0; !revoked && k < sk_X509_num(id->chain); k++) {
        X509 *cert = sk_X509_value(id->chain, k);
        for (int i = 0; !revoked && i < sk_X509_CRL_num(crls); i++) {
            X509_CRL *crl = sk_X509_CRL_value(crls, i);
            X509_REVOKED *rev = NULL;
            revoked = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) == 0 &&
                      X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(cert)) == 1;
        }
    }
    ERR_clear_error();
    return revoked;
}

bool lurkd_cert_file_digests(const char *path, uint8_t (**out)[32], size_t *n, char *why,
                             size_t whylen)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *cert;

    *out = NULL;
    *n = 0;
    if (bio == NULL) {
        ERR_clear_error();
        snprintf(why, whylen, "cannot read %s", path);
        return false;
    }
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        uint8_t(*grown)[32] = realloc(*out, (*n + 1) * sizeof(**out));
        unsigned int len = 0;
        if (grown == NULL || X509_digest(cert, EVP_sha256(), grown[*n], &len) != 1) {
            if (grown != NULL)
                *out = grown;
            X509_free(cert);
            break;
        }
        *out = grown;
        (*n)++;
        X509_free(cert);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (*n == 0) {
        free(*out);
        *out = NULL;
        snprintf(why, whylen, "%s holds no PEM certificate", path);
        return false;
    }
    return true;
}

bool lurkd_trusted_cas_add_file(STACK_OF(X509) * cas, const char *path, char *why, size_t whylen)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *certs = NULL;
    int added = 0;

    /* The same reader as SSL_CTX_load_verify_file (net/listener.c): the same certificates. */
    if (store != NULL && X509_STORE_load_file(store, path) == 1)
        certs = X509_STORE_get1_all_certs(store);
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        bool known = false;
        for (int k = 0; !known && k < sk_X509_num(cas); k++)
            known = X509_cmp(sk_X509_value(cas, k), cert) == 0;
        if (!known) {
            if (X509_up_ref(cert) != 1)
                continue;
            if (sk_X509_push(cas, cert) <= 0) {
                X509_free(cert);
                continue;
            }
        }
        added++;
    }
    sk_X509_pop_free(certs, X509_free);
    X509_STORE_free(store);
    ERR_clear_error();
    if (added == 0) {
        snprintf(why, whylen, "no certificate could be read from %s", path);
        return false;
    }
    return true;
}

/* One CA: the same subject and the same key (a CA certificate renewed with its key). */
static bool same_ca(X509 *a, X509 *b)
{
    return X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) == 0 &&
           EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

/* Whether the CA of cas[i] already came earlier in cas. */
static bool same_ca_earlier(STACK_OF(X509) * cas, int i)
{
    for (int k = 0; k < i; k++)
        if (same_ca(sk_X509_value(cas, k), sk_X509_value(cas, i)))
            return true;
    return false;
}

size_t lurkd_trusted_cas_count(STACK_OF(X509) * cas)
{
    size_t n = 0;

    for (int i = 0; i < sk_X509_num(cas); i++)
        n += !same_ca_earlier(cas, i);
    ERR_clear_error();
    return n;
}

bool lurkd_trusted_cas_hold(STACK_OF(X509) * cas, const uint8_t sha256[32])
{
    for (int i = 0; i < sk_X509_num(cas); i++) {
        uint8_t md[32];
        unsigned int len = 0;
        if (X509_digest(sk_X509_value(cas, i), EVP_sha256(), md, &len) == 1 && len == 32 &&
            memcmp(md, sha256, 32) == 0)
            return true;
    }
    ERR_clear_error();
    return false;
}

/*
 * Whether cert chains up to a certificate of trusted, through untrusted
 * (may be NULL), dates not checked; flags add to that (PARTIAL_CHAIN: a
 * trusted certificate that is not a root is an anchor too).
 */
static bool chains_to(X509 *cert, STACK_OF(X509) * untrusted, STACK_OF(X509) * trusted,
                      unsigned long flags)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = false;

    if (store != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, store, cert, untrusted) == 1) {
        X509_STORE_CTX_set0_trusted_stack(ctx, trusted);
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME | flags);
        ok = X509_verify_cert(ctx) == 1;
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

size_t lurkd_trusted_cas_covered(STACK_OF(X509) * cas, STACK_OF(X509) * mine)
{
    size_t covered = 0;

    /* Each CA once (its first certificate), let in through any certificate of it. */
    for (int i = 0; i < sk_X509_num(cas); i++) {
        if (same_ca_earlier(cas, i))
            continue;
        X509 *ca = sk_X509_value(cas, i);
        bool in = false;
        for (int k = i; !in && k < sk_X509_num(cas); k++) {
            X509 *cert = sk_X509_value(cas, k);
            in = (k == i || same_ca(cert, ca)) &&
                 chains_to(cert, cas, mine, X509_V_FLAG_PARTIAL_CHAIN);
        }
        covered += in;
    }
    ERR_clear_error();
    return covered;
}

bool lurkd_trusted_cas_certify(STACK_OF(X509) * cas, X509 *ca)
{
    bool ok = X509_check_ca(ca) == 1 && chains_to(ca, NULL, cas, 0);

    ERR_clear_error();
    return ok;
}

void lurkd_trusted_cas_names(STACK_OF(X509) * cas, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < sk_X509_num(cas); i++) {
        char subject[256];
        if (same_ca_earlier(cas, i))
            continue;
        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(cas, i)), subject, sizeof(subject));
        int n = snprintf(buf + used, len - used, "%s\"%s\"", used > 0 ? ", " : "", subject);
        if (n < 0 || (size_t)n >= len - used) {
            /* Cut: end with "..." where it still fits. */
            if (len > 4)
                memcpy(buf + len - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    ERR_clear_error();
}
