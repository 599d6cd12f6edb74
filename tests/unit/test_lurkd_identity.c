/*
 * lurkd/conf/identity.c on its own: the match rules' syntax, the wildcard's
 * one-label semantics (RFC 6125 §6.4.3), and the names, issuers and serial
 * taken from a certificate built here with OpenSSL (a SAN with a "*" or a
 * NUL byte is no name at all), and CRL lookups by issuer and serial; the
 * CAs of client_ca files counted, and the check that a name rule several
 * CAs could satisfy says which (conf/config.c, through lurkd_config_finish).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check_run.h"
#include "conf/config.h"
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

/* A CA certificate (basicConstraints CA) named cn, signed by issuer (self-signed when NULL). */
static X509 *make_ca(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509V3_CTX ctx;

    ck_assert_ptr_nonnull(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    ck_assert_ptr_nonnull(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
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

static char tmpdir[64];

/* tmpdir/name holding the certificates in PEM (none: an empty file); its path. */
static const char *write_pem(const char *name, X509 *const *certs, size_t n)
{
    static char path[4][128];
    static int next;
    char *p = path[next = (next + 1) % 4];
    FILE *f;

    snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        ck_assert(PEM_write_X509(f, certs[i]) == 1);
    fclose(f);
    return p;
}

static void sha256_of(X509 *x, uint8_t md[32])
{
    unsigned int len = 0;
    ck_assert(X509_digest(x, EVP_sha256(), md, &len) == 1 && len == 32);
}

/*
 * Two tenants' CAs, A (and A renewed: same name, same key) and B: one CA
 * per subject and key, each certificate once, named in messages.
 */
START_TEST(trusted_cas_are_counted_once_each)
{
    EVP_PKEY *ka = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *kb = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *a = make_cert(ka, "tenant A CA", NULL, 1), *a2 = make_cert(ka, "tenant A CA", NULL, 2);
    X509 *b = make_cert(kb, "tenant B CA", NULL, 3),
         *b_as_a = make_cert(kb, "tenant A CA", NULL, 4);
    STACK_OF(X509) *cas = sk_X509_new_null();
    char why[300], names[200], small[24];
    uint8_t md[32];

    ck_assert_ptr_nonnull(mkdtemp(strcpy(tmpdir, "/tmp/lurk-unit-cas-XXXXXX")));
    ck_assert(lurkd_trusted_cas_add_file(cas, write_pem("a.pem", &a, 1), why, sizeof(why)));
    ck_assert(lurkd_trusted_cas_add_file(cas, write_pem("a.pem", &a, 1), why, sizeof(why)));
    ck_assert_int_eq(sk_X509_num(cas), 1);
    ck_assert_uint_eq(lurkd_trusted_cas_count(cas), 1);
    X509 *a_and_renewed[] = {a, a2};
    ck_assert(
        lurkd_trusted_cas_add_file(cas, write_pem("a2.pem", a_and_renewed, 2), why, sizeof(why)));
    ck_assert_int_eq(sk_X509_num(cas), 2);
    ck_assert_uint_eq(lurkd_trusted_cas_count(cas), 1); /* renewed with its key: one CA */
    lurkd_trusted_cas_names(cas, names, sizeof(names));
    ck_assert_str_eq(names, "\"/CN=tenant A CA\"");
    sha256_of(b, md);
    ck_assert(!lurkd_trusted_cas_hold(cas, md));

    X509 *both[] = {b, b_as_a};
    ck_assert(lurkd_trusted_cas_add_file(cas, write_pem("b.pem", both, 2), why, sizeof(why)));
    /* B, and B's key under A's name: another CA, whatever its name says. */
    ck_assert_uint_eq(lurkd_trusted_cas_count(cas), 3);
    ck_assert(lurkd_trusted_cas_hold(cas, md));
    sha256_of(a2, md);
    ck_assert(lurkd_trusted_cas_hold(cas, md));
    lurkd_trusted_cas_names(cas, names, sizeof(names));
    /* A file's certificates come out of an X509_STORE in its order, which OpenSSL 3.5 changed. */
    ck_assert_msg(
        strcmp(names, "\"/CN=tenant A CA\", \"/CN=tenant B CA\", \"/CN=tenant A CA\"") == 0 ||
            strcmp(names, "\"/CN=tenant A CA\", \"/CN=tenant A CA\", \"/CN=tenant B CA\"") == 0,
        "%s", names);
    lurkd_trusted_cas_names(cas, small, sizeof(small));
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    /* Let in: A by its renewal alone, B, and B's key under A's name only by itself. */
    STACK_OF(X509) *mine = sk_X509_new_null();
    ck_assert_uint_eq(lurkd_trusted_cas_covered(cas, mine), 0);
    sk_X509_push(mine, a2);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(cas, mine), 1);
    sk_X509_push(mine, b);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(cas, mine), 2);
    sk_X509_push(mine, b_as_a);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(cas, mine), 3);
    (void)sk_X509_shift(mine);
    (void)sk_X509_shift(mine);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(cas, mine), 1);
    sk_X509_free(mine);
    ck_assert_str_eq(small + sizeof(small) - 4, "...");

    why[0] = '\0';
    ck_assert(!lurkd_trusted_cas_add_file(cas, write_pem("none.pem", NULL, 0), why, sizeof(why)));
    ck_assert_msg(strstr(why, "none.pem") != NULL, "%s", why);
    ck_assert(!lurkd_trusted_cas_add_file(cas, "/nonexistent/ca.pem", why, sizeof(why)));
    ck_assert_uint_eq(lurkd_trusted_cas_count(cas), 3);

    sk_X509_pop_free(cas, X509_free);
    X509 *all[] = {a, a2, b, b_as_a};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        X509_free(all[i]);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}
END_TEST

/*
 * lurkd_config_load then lurkd_config_finish of a config with the given
 * listeners and client sections; true when both pass, else the error in err.
 */
static bool config_ok(const char *listeners, const char *clients, char *err, size_t errlen)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/lurkd.conf", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[lurkd]\n%s%s", listeners, clients);
    fclose(f);
    err[0] = '\0';
    struct lurkd_config *cfg = lurkd_config_load(path, err, errlen);
    bool ok = cfg != NULL && lurkd_config_finish(cfg, err, errlen);
    lurkd_config_free(cfg);
    return ok;
}

/* A tls:// listener on port PORT trusting CA_FILE (certificate and key are not read here). */
static char *listener(int port, const char *ca_file)
{
    char *text = NULL;
    ck_assert(asprintf(&text,
                       "[listener.l%d]\naddress = tls://127.0.0.1:%d\ncertificate = x.crt\n"
                       "private_key = x.key\nclient_ca = %s\n",
                       port, port, ca_file) > 0);
    return text;
}

/*
 * The configuration check: a name rule without ca = is refused when the
 * listeners trust more than one CA (two listeners, or one client_ca with
 * two), with file:line and the CAs; a ca = no client_ca holds is refused;
 * with one CA trusted anywhere, nothing changes.
 */
START_TEST(name_rule_of_several_cas_needs_ca)
{
    EVP_PKEY *ka = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *kb = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *a = make_cert(ka, "tenant A CA", NULL, 1), *a2 = make_cert(ka, "tenant A CA", NULL, 2);
    X509 *b = make_cert(kb, "tenant B CA", NULL, 3);
    X509 *ab[] = {a, b}, *renewed[] = {a, a2};
    char err[1024], pa[128], pb[128], pab[128], pren[128], clients[600];

    ck_assert_ptr_nonnull(mkdtemp(strcpy(tmpdir, "/tmp/lurk-unit-cas-XXXXXX")));
    snprintf(pa, sizeof(pa), "%s", write_pem("a.pem", &a, 1));
    snprintf(pb, sizeof(pb), "%s", write_pem("b.pem", &b, 1));
    snprintf(pab, sizeof(pab), "%s", write_pem("ab.pem", ab, 2));
    snprintf(pren, sizeof(pren), "%s", write_pem("renewed.pem", renewed, 2));
    char *la = listener(9401, pa), *lb = listener(9402, pb), *lab = listener(9403, pab);
    char *lren = listener(9404, pren), *two = NULL;
    ck_assert(asprintf(&two, "%s%s", la, lb) > 0);
    const char *fe1 = "[client.fe1]\nidentity = ca\nmatch = cn:fe1\n";

    /* Two listeners, two CAs: line 12 is [client.fe1]. */
    ck_assert(!config_ok(two, fe1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "lurkd.conf:12: [client.fe1]: identity = ca without ca =") &&
                      strstr(err, "any of the 2 CAs of client_ca: \"/CN=tenant A CA\", "
                                  "\"/CN=tenant B CA\""),
                  "%s", err);
    /* One client_ca holding both. */
    ck_assert(!config_ok(lab, fe1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "lurkd.conf:7: [client.fe1]: identity = ca without ca ="), "%s", err);
    /* ca = A: accepted; a pin or uid client needs nothing. */
    snprintf(clients, sizeof(clients), "%sca = %s\n[client.pinned]\nidentity = uid:0\n", fe1, pa);
    ck_assert_msg(config_ok(two, clients, err, sizeof(err)), "%s", err);
    ck_assert_msg(config_ok(lab, clients, err, sizeof(err)), "%s", err);
    /* One CA anywhere (a renewed CA certificate too): no ca = needed, as before. */
    ck_assert_msg(config_ok(la, fe1, err, sizeof(err)), "%s", err);
    ck_assert_msg(config_ok(lren, fe1, err, sizeof(err)), "%s", err);
    /* ca = B where only A is trusted: never matches, refused at its line (10). */
    snprintf(clients, sizeof(clients), "%sca = %s\n", fe1, pb);
    ck_assert(!config_ok(la, clients, err, sizeof(err)));
    ck_assert_msg(strstr(err, "lurkd.conf:10: [client.fe1]: ca ") &&
                      strstr(err, "b.pem: no certificate in it is a CA of a listener's client_ca "
                                  "or a CA under one (they hold \"/CN=tenant A CA\")"),
                  "%s", err);
    /* No tls:// listener at all: a ca = is refused, a rule alone is not (it matches nothing). */
    ck_assert(!config_ok("[listener.u]\naddress = unix:/tmp/lurk-unit.sock\n", clients, err,
                         sizeof(err)));
    ck_assert_msg(strstr(err, "(no tls:// listener)"), "%s", err);
    ck_assert_msg(
        config_ok("[listener.u]\naddress = unix:/tmp/lurk-unit.sock\n", fe1, err, sizeof(err)),
        "%s", err);
    /*
     * client_ca holding only a root: a ca = naming a tenant's intermediate
     * under it is accepted (the clients send it in their chain), a CA not
     * under the root is not.
     */
    EVP_PKEY *kr = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ki = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *root = make_ca(kr, "shared root", NULL, NULL);
    X509 *mid = make_ca(ki, "tenant A intermediate", root, kr);
    X509 *stray = make_ca(ki, "stray intermediate", NULL, NULL);
    char *lroot = listener(9406, write_pem("root.pem", &root, 1));
    snprintf(clients, sizeof(clients), "%sca = %s\n", fe1, write_pem("mid.pem", &mid, 1));
    ck_assert_msg(config_ok(lroot, clients, err, sizeof(err)), "%s", err);
    snprintf(clients, sizeof(clients), "%sca = %s\n", fe1, write_pem("stray.pem", &stray, 1));
    ck_assert(!config_ok(lroot, clients, err, sizeof(err)));
    ck_assert_msg(strstr(err, "stray.pem: no certificate in it is a CA"), "%s", err);
    /* With both tenants' intermediates in client_ca, a ca = naming the root lets all three in. */
    EVP_PKEY *kb2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *mid_b = make_ca(kb2, "tenant B intermediate", root, kr);
    STACK_OF(X509) *three = sk_X509_new_null(), *mine = sk_X509_new_null();
    sk_X509_push(three, root);
    sk_X509_push(three, mid);
    sk_X509_push(three, mid_b);
    ck_assert_uint_eq(lurkd_trusted_cas_count(three), 3);
    sk_X509_push(mine, mid);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(three, mine), 1);
    sk_X509_push(mine, mid_b);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(three, mine), 2);
    (void)sk_X509_pop(mine);
    (void)sk_X509_pop(mine);
    sk_X509_push(mine, root);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(three, mine), 3);
    (void)sk_X509_pop(mine);
    sk_X509_push(mine, stray);
    ck_assert_uint_eq(lurkd_trusted_cas_covered(three, mine), 0);
    sk_X509_free(mine);
    sk_X509_free(three);
    X509_free(mid_b);
    EVP_PKEY_free(kb2);
    free(lroot);
    X509_free(root);
    X509_free(mid);
    X509_free(stray);
    EVP_PKEY_free(kr);
    EVP_PKEY_free(ki);

    /* A client_ca without a certificate, with identity = ca in use: named. */
    char *lnone = listener(9405, write_pem("none.pem", NULL, 0));
    ck_assert(!config_ok(lnone, fe1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "lurkd.conf:2: client_ca no certificate could be read from"), "%s",
                  err);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(la);
    free(lb);
    free(lab);
    free(lren);
    free(lnone);
    free(two);
    X509_free(a);
    X509_free(a2);
    X509_free(b);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lurkd_identity");
    TCase *tc = tcase_create("identity");
    tcase_add_test(tc, rules_parse_or_say_why);
    tcase_add_test(tc, wildcard_is_exactly_one_left_most_label);
    tcase_add_test(tc, names_from_a_certificate);
    tcase_add_test(tc, trusted_cas_are_counted_once_each);
    tcase_add_test(tc, name_rule_of_several_cas_needs_ca);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
