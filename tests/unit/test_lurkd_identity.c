/*
 * lurkd/conf/identity.c on its own: the match rules' syntax, the wildcard's
 * one-label semantics (RFC 6125 §6.4.3), and the names, issuers and serial
 * taken from a certificate built here with OpenSSL (a SAN with a "*" or a
 * NUL byte is no name at all), and CRL lookups by issuer and serial.
 */
#include <check.h>
#include <string.h>

#include <openssl/bn.h>
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

/* 39 octets with the last one: longer than RFC 5280's 20 (some CAs issue them). */
#define BIG_SERIAL "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20212223242526"

/* x with its serial set to hex (may start with "-"); no signature is checked here. */
static X509 *with_serial(X509 *x, const char *hex)
{
    BIGNUM *bn = NULL;

    ck_assert(BN_hex2bn(&bn, hex) > 0);
    ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
    return x;
}

/* Whether crls revoke the chain leaf (, issuer) as lurkd checks it at each request. */
static bool chain_revoked(STACK_OF(X509_CRL) * crls, X509 *leaf, X509 *issuer)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct lurkd_cert_identity id;

    sk_X509_push(chain, leaf);
    if (issuer != NULL)
        sk_X509_push(chain, issuer);
    lurkd_cert_identity_from_chain(&id, chain);
    bool revoked = lurkd_crls_revoked(crls, &id);
    lurkd_cert_identity_clear(&id);
    sk_X509_free(chain);
    return revoked;
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
    ck_assert_uint_eq(id.n_chain, 0);
    ck_assert_int_eq(sk_X509_num(id.chain), 1);
    lurkd_cert_identity_clear(&id);

    /* A certificate cannot claim a pattern: its "*" names are no names. */
    sk_X509_set(chain, 0, wild);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert(!matches(&id, "san:*.fe.example.net"));
    ck_assert(!matches(&id, "cn:*.fe.example.net"));
    lurkd_cert_identity_clear(&id);

    /* Nor smuggle a name past a NUL byte. */
    add_nul_san(nul, key);
    sk_X509_set(chain, 0, nul);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert(!matches(&id, "san:a1.fe.example.net"));
    ck_assert(!matches(&id, "san:*.fe.example.net"));
    lurkd_cert_identity_clear(&id);

    /* Issuers above the leaf are kept, by digest. */
    sk_X509_set(chain, 0, leaf);
    sk_X509_push(chain, wild);
    lurkd_cert_identity_from_chain(&id, chain);
    ck_assert_uint_eq(id.n_chain, 1);
    unsigned char d[32];
    unsigned int dlen = 0;
    ck_assert(X509_digest(wild, EVP_sha256(), d, &dlen) == 1);
    ck_assert_mem_eq(id.chain_sha256[0], d, 32);
    lurkd_cert_identity_clear(&id);

    /*
     * A CRL of "unit CA" (spelt "UNIT   ca": the same name to X509_NAME_cmp)
     * revoking 4242, 77 (an intermediate), -5 and a 39-octet serial.
     */
    static const char *const revoked_serials[] = {"1092", "4D", "-5", BIG_SERIAL "01"};
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    for (size_t i = 0; i < sizeof(revoked_serials) / sizeof(revoked_serials[0]); i++) {
        X509_REVOKED *rev = X509_REVOKED_new();
        BIGNUM *bn = NULL;
        ck_assert(BN_hex2bn(&bn, revoked_serials[i]) > 0);
        ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
        X509_REVOKED_set_serialNumber(rev, serial);
        X509_REVOKED_set_revocationDate(rev, now);
        X509_CRL_add0_revoked(crl, rev);
        ASN1_INTEGER_free(serial);
        BN_free(bn);
    }
    X509_NAME *crl_issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(crl_issuer, "CN", MBSTRING_UTF8, (const unsigned char *)"UNIT   ca",
                               -1, -1, 0);
    X509_CRL_set_issuer_name(crl, crl_issuer);
    X509_NAME_free(crl_issuer);
    X509_CRL_set1_lastUpdate(crl, now);
    X509_CRL_sort(crl);
    ck_assert(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);

    X509 *other = with_serial(make_cert(key, "fe1", NULL, 1), "1093");
    X509 *inter = with_serial(make_cert(key, "unit intermediate", NULL, 1), "4D");
    X509 *neg = with_serial(make_cert(key, "neg", NULL, 1), "-5");
    X509 *pos = with_serial(make_cert(key, "pos", NULL, 1), "5");
    X509 *big = with_serial(make_cert(key, "big", NULL, 1), BIG_SERIAL "01");
    X509 *big2 = with_serial(make_cert(key, "big2", NULL, 1), BIG_SERIAL "02");
    X509 *elsewhere = with_serial(make_cert(key, "elsewhere", NULL, 1), "1092");
    X509_NAME *en = X509_NAME_new();
    X509_NAME_add_entry_by_txt(en, "CN", MBSTRING_ASC, (const unsigned char *)"another CA", -1, -1,
                               0);
    X509_set_issuer_name(elsewhere, en);
    X509_NAME_free(en);

    ck_assert(chain_revoked(crls, leaf, NULL));
    ck_assert(!chain_revoked(crls, other, NULL));
    ck_assert(chain_revoked(crls, other, inter)); /* its intermediate CA is revoked */
    ck_assert(chain_revoked(crls, neg, NULL));
    ck_assert(!chain_revoked(crls, pos, NULL)); /* 5 is not -5 */
    ck_assert(chain_revoked(crls, big, NULL));
    ck_assert(!chain_revoked(crls, big2, NULL));
    ck_assert(!chain_revoked(crls, elsewhere, NULL)); /* the same serial from another issuer */
    /* Nothing kept (out of memory): refused while CRLs are in force. */
    memset(&id, 0, sizeof(id));
    ck_assert(lurkd_crls_revoked(crls, &id));
    ck_assert(!lurkd_crls_revoked(NULL, &id));

    X509 *all[] = {other, inter, neg, pos, big, big2, elsewhere};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        X509_free(all[i]);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
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
