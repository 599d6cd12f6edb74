/*
 * Client identities by certificate (identity = ca, docs/deploy.md §2): the
 * name rules of a [client.NAME] section, the names and issuers lurkd takes
 * from a verified client certificate, and how the two match.
 *
 * A rule is cn:PATTERN (a subject commonName), san:PATTERN (a subjectAltName
 * dNSName) or uri:URI (a subjectAltName URI, compared exactly). A PATTERN is
 * a name, compared without regard to ASCII case, or "*." followed by a name
 * of at least two labels: the "*" stands for exactly one left-most label,
 * never empty and never a dot (RFC 6125 §6.4.3), so san:*.fe.example.net
 * matches a.fe.example.net and neither fe.example.net nor a.b.fe.example.net.
 */
#ifndef LURKD_CONF_IDENTITY_H
#define LURKD_CONF_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

enum lurkd_name_kind {
    LURKD_NAME_CN,  /* "cn:" */
    LURKD_NAME_DNS, /* "san:" */
    LURKD_NAME_URI, /* "uri:" */
};

struct lurkd_name_rule {
    enum lurkd_name_kind kind;
    char *pattern;
};

/* Issuers of the verified chain kept per connection; a longer chain's top ones are not. */
#define LURKD_PEER_CHAIN_MAX 4
/* Room for a certificate's names; names that do not fit are not kept (they match nothing). */
#define LURKD_PEER_NAMES_LEN 1024

/* What a verified client certificate says about its holder (struct lurkd_peer). */
struct lurkd_cert_identity {
    uint8_t chain_sha256[LURKD_PEER_CHAIN_MAX][32]; /* SHA-256 of each issuer's DER */
    size_t n_chain;
    /* "cn:NAME\0san:NAME\0uri:URI\0...\0": the subject CNs and SAN dNSNames and URIs */
    char names[LURKD_PEER_NAMES_LEN];
    /*
     * For the CRLs in force at each request (lurkd_crls_revoked): the
     * verified chain itself, leaf first, up-referenced, so that every
     * certificate's issuer name and serial are compared as OpenSSL does
     * (X509_NAME_cmp, X509_CRL_get0_by_serial), whatever their size or sign.
     */
    STACK_OF(X509) * chain;
};

/* Parses one rule; false with a message in why. */
bool lurkd_name_rule_parse(const char *text, struct lurkd_name_rule *rule, char *why,
                           size_t whylen);
/* Whether pattern (a cn: or san: PATTERN above) matches name. */
bool lurkd_name_pattern_match(const char *pattern, const char *name);
/* Whether one of the identity's names matches rule. */
bool lurkd_name_rule_match(const struct lurkd_name_rule *rule,
                           const struct lurkd_cert_identity *id);
/*
 * Fills id from the leaf and the verified chain (leaf first, as
 * X509_STORE_CTX_get0_chain gives it). Names with a NUL byte or a "*" are
 * skipped: a certificate cannot claim a pattern.
 */
void lurkd_cert_identity_from_chain(struct lurkd_cert_identity *id, STACK_OF(X509) * chain);
/* Releases what lurkd_cert_identity_from_chain kept (the chain); id itself stays. */
void lurkd_cert_identity_clear(struct lurkd_cert_identity *id);
/* lurkd_cert_identity_clear, then free(id); NULL is fine. */
void lurkd_cert_identity_free(struct lurkd_cert_identity *id);
/*
 * The CRLs of a client_crl file: every PEM CRL, or one DER CRL; false with
 * a message in why when it holds none. Signatures are checked where the
 * listener loads them (net/tls.c).
 */
bool lurkd_crl_file_load(const char *path, STACK_OF(X509_CRL) * *out, char *why, size_t whylen);
/*
 * Whether one of crls revokes a certificate of the chain id describes (the
 * leaf or any CA above it, as X509_V_FLAG_CRL_CHECK_ALL at the handshake):
 * the same CRLs the handshake checked, applied again at each request, so
 * that a connection opened before a reload that revoked its certificate,
 * or its intermediate CA, is refused. No chain kept: revoked (fail closed).
 */
bool lurkd_crls_revoked(STACK_OF(X509_CRL) * crls, const struct lurkd_cert_identity *id);
/*
 * The CAs lurkd trusts for client certificates (docs/deploy.md §2): every
 * certificate of the listeners' client_ca files, read as the listeners'
 * stores read them (X509_STORE_load_file). A name rule without ca = is
 * only meaningful when one CA can have written the name (docs/security.md,
 * "Controls in lurkd"); conf/config.c counts them with these.
 *
 * Adds the certificates of one client_ca file to cas, each once; false
 * with a message in why when the file holds none.
 */
bool lurkd_trusted_cas_add_file(STACK_OF(X509) * cas, const char *path, char *why, size_t whylen);
/*
 * How many CAs cas holds: certificates with one subject and one public key
 * are one CA (a CA certificate renewed with its key, both in client_ca).
 */
size_t lurkd_trusted_cas_count(STACK_OF(X509) * cas);
/* Whether cas holds the certificate whose DER has this SHA-256 (a ca = certificate). */
bool lurkd_trusted_cas_hold(STACK_OF(X509) * cas, const uint8_t sha256[32]);
/*
 * How many CAs of cas (counted as lurkd_trusted_cas_count does) a ca =
 * file's certificates (mine) let in: those that are one of mine, or chain
 * up to one (through the others of cas), since the handshake accepts a
 * chain holding any ca = certificate (conf/policy.c).
 */
size_t lurkd_trusted_cas_covered(STACK_OF(X509) * cas, STACK_OF(X509) * mine);
/*
 * Whether ca is a CA certificate (basicConstraints CA) that chains up to one
 * of cas: an intermediate that clients send in their chain (a per-tenant CA
 * under a shared root), which a ca = may name although client_ca holds only
 * the root. Validity dates are not checked here: the handshake checks them.
 */
bool lurkd_trusted_cas_certify(STACK_OF(X509) * cas, X509 *ca);
/* The CAs' subjects, quoted and comma-separated, each CA once, for messages; cut with "...". */
void lurkd_trusted_cas_names(STACK_OF(X509) * cas, char *buf, size_t len);
/* SHA-256 of each certificate in a PEM file; false with a message in why. */
bool lurkd_cert_file_digests(const char *path, uint8_t (**out)[32], size_t *n, char *why,
                             size_t whylen);

#endif
