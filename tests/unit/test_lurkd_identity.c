/*
 * lurkd/conf/identity.c on its own: the match rules' syntax, the wildcard's
 * one-label semantics (RFC 6125 §6.4.3), and the names, issuers and serial
 * taken from a certificate built here with OpenSSL (a SAN with a "*" or a
 * NUL byte is no name at all), and CRL lookups by issuer and serial.
 */
#include <check.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "check_run.h"
#include "conf/identity.h"

START_TEST(rules_parse_or_say_why)
{
    static const char *const good[] = {"cn:fe1", "san:a.fe.example.net", "san:*.fe.example.net",
                                       "uri:spiffe://example.net/fe/1", "cn:*.fe.example.net"};
    static const char *const bad[] = {
        "dns:a.example.net",   "san:",       "san:*.net", "san:a.*.example.net",
        "san:*fe.example.net", "san:**.a.b", "san:*",     "uri:spiffe://x/*",
        "uri:not-a-uri",       "san:*.a..b", "cn:fe*"};
    struct lurkd_name_rule r;
    char why[256];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(lurkd_name_rule_parse(good[i], &r, why, sizeof(why)), "%s: %s", good[i], why);
        free(r.pattern);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        ck_assert_msg(!lurkd_name_rule_parse(bad[i], &r, why, sizeof(why)), "%s accepted", bad[i]);
        ck_assert_msg(why[0] != '\0', "%s: no reason", bad[i]);
    }
}
END_TEST

START_TEST(wildcard_is_exactly_one_left_most_label)
{
    const char *p = "*.fe.example.net";

    ck_assert(lurkd_name_pattern_match(p, "a1.fe.example.net"));
    ck_assert(lurkd_name_pattern_match(p, "A1.FE.Example.NET"));
    ck_assert(!lurkd_name_pattern_match(p, "fe.example.net"));
    ck_assert(!lurkd_name_pattern_match(p, ".fe.example.net"));
    ck_assert(!lurkd_name_pattern_match(p, "x.a1.fe.example.net"));
    ck_assert(!lurkd_name_pattern_match(p, "a1.fe.example.net."));
    ck_assert(!lurkd_name_pattern_match(p, "a1.fe.example.network"));
    ck_assert(!lurkd_name_pattern_match(p, "a1-fe.example.net"));
    ck_assert(lurkd_name_pattern_match("fe1", "FE1"));
    ck_assert(!lurkd_name_pattern_match("fe1", "fe10"));
}
END_TEST

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, long serial)
{
    X509 *x = X509_new();
    X509V3_CTX ctx;

    ck_assert_ptr_nonnull(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"unit CA", -1, -1, 0);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    if (san != NULL) {
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

/* A DNS SAN whose bytes hold a NUL: "a1.fe.example.net\0.evil.example". */
static void add_nul_san(X509 *x, EVP_PKEY *key)
{
    static const char name[] = "a1.fe.example.net\0.evil.example";
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

    ASN1_STRING_set(ia5, name, (int)sizeof(name) - 1);
    GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(gens, gen);
    ck_assert(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_REPLACE) == 1);
    GENERAL_NAMES_free(gens);
    ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
}

static bool matches(const struct lurkd_cert_identity *id, const char *rule_text)
{
    struct lurkd_name_rule r;
    char why[256];

    ck_assert_msg(lurkd_name_rule_parse(rule_text, &r, why, sizeof(why)), "%s", why);
    bool m = lurkd_name_rule_match(&r, id);
    free(r.pattern);
    return m;
}

START_TEST(names_from_a_certificate)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *leaf = make_cert(key, "fe1", "DNS:a1.fe.example.net,URI:spiffe://example.net/fe/1", 4242);
    X509 *wild = make_cert(key, "*.fe.example.net", "DNS:*.fe.example.net", 2);
    X509 *nul = make_cert(key, "nul", NULL, 3);
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct lurkd_cert_identity id;

    ck_assert_ptr_nonnull(key);
    sk_X509_push(chain, leaf);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert(matches(&id, "cn:fe1"));
    ck_assert(matches(&id, "san:*.fe.example.net"));
    ck_assert(matches(&id, "san:a1.fe.example.net"));
    ck_assert(matches(&id, "uri:spiffe://example.net/fe/1"));
    ck_assert(!matches(&id, "uri:spiffe://example.net/fe/10"));
    ck_assert(!matches(&id, "san:fe1")); /* a CN is not a SAN */
    ck_assert(!matches(&id, "cn:a1.fe.example.net"));
    ck_assert_uint_eq(id.serial_len, 2); /* 4242 = 0x1092 */
    ck_assert_uint_eq(id.serial[0], 0x10);
    ck_assert_uint_eq(id.n_chain, 0);

    /* A certificate cannot claim a pattern: its "*" names are no names. */
    sk_X509_set(chain, 0, wild);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert(!matches(&id, "san:*.fe.example.net"));
    ck_assert(!matches(&id, "cn:*.fe.example.net"));

    /* Nor smuggle a name past a NUL byte. */
    add_nul_san(nul, key);
    sk_X509_set(chain, 0, nul);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert(!matches(&id, "san:a1.fe.example.net"));
    ck_assert(!matches(&id, "san:*.fe.example.net"));

    /* Issuers above the leaf are kept, by digest. */
    sk_X509_set(chain, 0, leaf);
    sk_X509_push(chain, wild);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert_uint_eq(id.n_chain, 1);
    unsigned char d[32];
    unsigned int dlen = 0;
    ck_assert(X509_digest(wild, EVP_sha256(), d, &dlen) == 1);
    ck_assert_mem_eq(id.chain_sha256[0], d, 32);

    /* A CRL of "unit CA" revoking serial 4242 revokes leaf, not another serial. */
    X509_CRL *crl = X509_CRL_new();
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    ASN1_INTEGER_set(serial, 4242);
    X509_REVOKED_set_serialNumber(rev, serial);
    X509_REVOKED_set_revocationDate(rev, now);
    X509_CRL_add0_revoked(crl, rev);
    X509_CRL_set_issuer_name(crl, X509_get_issuer_name(leaf));
    X509_CRL_set1_lastUpdate(crl, now);
    X509_CRL_sort(crl);
    ck_assert(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    ck_assert(lurkd_crls_revoked(crls, &id));
    id.serial[1] ^= 1;
    ck_assert(!lurkd_crls_revoked(crls, &id));
    id.serial[1] ^= 1;
    id.issuer_sha256[0] ^= 1; /* the same serial from another issuer */
    ck_assert(!lurkd_crls_revoked(crls, &id));
    ck_assert(!lurkd_crls_revoked(NULL, &id));

    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(now);
    sk_X509_free(chain);
    X509_free(leaf);
    X509_free(wild);
    X509_free(nul);
    EVP_PKEY_free(key);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lurkd_identity");
    TCase *tc = tcase_create("identity");
    tcase_add_test(tc, rules_parse_or_say_why);
    tcase_add_test(tc, wildcard_is_exactly_one_left_most_label);
    tcase_add_test(tc, names_from_a_certificate);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
