/*
 * lurk.so loaded the way nginx and haproxy load it: OPENSSL_CONF names an
 * openssl.cnf listing default then lurk with its lurk-* settings,
 * OPENSSL_init_ssl loads it into the default library context, and the key
 * file is read with PEM_read_bio_PrivateKey. Each test runs in its own
 * process (the default context loads its configuration once).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "check_run.h"
#include "prov_test_util.h"

static char conf[64];

/* Points OPENSSL_CONF at a config with these lurk-* lines and initialises libssl. */
static void load(const char *lurk_settings)
{
    char errs[1024];
    int fd;

    snprintf(conf, sizeof(conf), "/tmp/lurk-conf-XXXXXX");
    fd = mkstemp(conf);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(test_write_config(conf, lurk_settings));
    setenv("OPENSSL_CONF", conf, 1);
    /* What nginx's ngx_ssl_init and haproxy's SSL_library_init do. */
    ck_assert_int_eq(OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL), 1);
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(OSSL_PROVIDER_available(NULL, "lurk"), "lurk not loaded: %s", errs);
    ck_assert(OSSL_PROVIDER_available(NULL, "default"));
    ck_assert_uint_eq(ERR_peek_error(), 0);
}

static void cleanup(void)
{
    unlink(conf);
}

/* Loads a P-256 key reference from "the key file" and installs it with its certificate. */
static EVP_PKEY *nginx_key(EVP_PKEY **orig)
{
    EVP_PKEY *key = test_keygen(&test_key_kinds[2]);
    X509 *cert = test_self_signed(key, "conf test");
    char *pem = test_keyref_pem(key, NULL);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *ref = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    ck_assert_ptr_nonnull(ref);
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(ref)), "lurk");
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, ref), 1);
    ck_assert_uint_eq(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);
    X509_free(cert);
    BIO_free(bio);
    free(pem);
    *orig = key;
    return ref;
}

/* A TLS 1.3 server CertificateVerify signature, as libssl asks for it. */
static int sign_cv(EVP_PKEY *key)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    uint8_t tbs[130], sig[128];
    size_t siglen = sizeof(sig);
    int ok;

    memset(tbs, 0x20, 64);
    memcpy(tbs + 64, "TLS 1.3, server CertificateVerify", 34);
    memset(tbs + 98, 0x77, 32);
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL), 1);
    ok = EVP_DigestSign(mctx, sig, &siglen, tbs, sizeof(tbs));
    EVP_MD_CTX_free(mctx);
    return ok;
}

static void expect(const char *reason, const char *needle1, const char *needle2)
{
    char data[1024];

    ck_assert_msg(test_errors_have_reason(reason, data, sizeof(data)), "no \"%s\"", reason);
    ERR_clear_error();
    if (needle1 != NULL)
        ck_assert_msg(strstr(data, needle1) != NULL, "\"%s\" not in \"%s\"", needle1, data);
    if (needle2 != NULL)
        ck_assert_msg(strstr(data, needle2) != NULL, "\"%s\" not in \"%s\"", needle2, data);
}

static void expect_none_left(void)
{
    ck_assert_uint_eq(ERR_peek_error(), 0);
}

/*
 * A bad setting makes the key load fail (nginx -t, haproxy -c), naming the
 * setting; the provider itself still loads, so the application starts.
 */
static void expect_load_fails(const char *settings, const char *needle1, const char *needle2)
{
    EVP_PKEY *key, *ref;
    char *pem;
    BIO *bio;

    load(settings); /* first: OpenSSL reads the configuration once, at its first use */
    key = test_keygen(&test_key_kinds[2]);
    pem = test_keyref_pem(key, NULL);
    bio = BIO_new_mem_buf(pem, -1);
    ref = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    ck_assert_msg(ref == NULL, "the key loaded despite: %s", settings);
    expect("bad lurk provider setting", needle1, needle2);
    BIO_free(bio);
    free(pem);
    EVP_PKEY_free(key);
    cleanup();
}

START_TEST(settings_are_read)
{
    EVP_PKEY *orig, *ref;

    load("lurk-server = unix:/nonexistent/lurk-conf/lurkd.sock\nlurk-timeout-ms = 300\n");
    ref = nginx_key(&orig);
    ck_assert_int_eq(sign_cv(ref), 0);
    expect("cannot reach lurkd", "server unix:/nonexistent/lurk-conf/lurkd.sock, key id",
           "No such file");
    EVP_PKEY_free(ref);
    EVP_PKEY_free(orig);
    cleanup();
}
END_TEST

/* A request goes to one server, then once to another; both are named with their causes. */
START_TEST(failed_request_tries_another_server)
{
    EVP_PKEY *orig, *ref;

    load("lurk-server = unix:/nonexistent/a.sock , unix:/nonexistent/b.sock\n"
         "lurk-log = stderr\n");
    ref = nginx_key(&orig);
    ck_assert_int_eq(sign_cv(ref), 0);
    expect("cannot reach lurkd", "a.sock: connect", "b.sock: connect");
    expect_none_left();
    /* Both down: still tried (a down server is never skipped when no other is up). */
    ck_assert_int_eq(sign_cv(ref), 0);
    expect("cannot reach lurkd", "a.sock", "b.sock");
    EVP_PKEY_free(ref);
    EVP_PKEY_free(orig);
    cleanup();
}
END_TEST

/* Each bad setting fails the key load, naming the setting (not lurkd's reachability). */
static const struct {
    const char *settings, *needle1, *needle2;
} bad_settings[] = {
    {"lurk-server = tls://127.0.0.1:9\nlurk-ca = /nonexistent/lurk-ca.pem\n",
     "lurk-ca /nonexistent/lurk-ca.pem", "No such file"},
    {"lurk-server = tcp://192.0.2.1:9400\n", "lurk-server", "loopback"},
    {"lurk-server = tls://127.0.0.1:9\nlurk-timeout-ms = 300\n", "tls://", "lurk-ca"},
    {"lurk-server = unix:/x.sock\nlurk-timeout = 300\n", "unknown setting lurk-timeout", NULL},
    {"lurk-server = unix:/x.sock\nlurk-connections = many\n", "lurk-connections = many", NULL},
    {"lurk-server = unix:/x.sock\nlurk-poll-us = -1\n", "lurk-poll-us = -1", "not a number"},
    {"lurk-server = unix:/x.sock\nlurk-poll-us = 50us\n", "lurk-poll-us = 50us", NULL},
    {"lurk-server = unix:/x.sock\nlurk-poll-us = 100001\n", "lurk-poll-us = 100001", NULL},
    {"lurk-server = unix:/x.sock\nlurk-poll = 50\n", "unknown setting lurk-poll", NULL},
    {"lurk-server = unix:/x.sock weight=0\n", "lurk-server unix:/x.sock", "weight=0"},
    {"lurk-server = unix:/x.sock primary\n", "unknown option", "primary"},
    {"lurk-server = unix:/x.sock\nlurk-log = syslog:local0\n", "lurk-log = syslog:local0", NULL},
    {"lurk-server = unix:/x.sock\nlurk-log = /nonexistent/dir/lurk.log\n",
     "lurk-log /nonexistent/dir/lurk.log", "No such file"},
    {"lurk-server = unix:/x.sock\nlurk-stats = relative/path\n", "lurk-stats", NULL},
    {"lurk-server = unix:/x.sock\nlurk-probe-min-ms = 5000\nlurk-probe-max-ms = 100\n",
     "lurk-probe-max-ms", NULL},
    /* client1's certificate with client2's key. */
    {"lurk-server = tls://127.0.0.1:9\nlurk-ca = " LURK_TEST_PKI_DIR
     "/ca.crt\nlurk-cert = " LURK_TEST_PKI_DIR "/client1.crt\nlurk-key = " LURK_TEST_PKI_DIR
     "/client2.key\n",
     "lurk-key", "not an unencrypted PEM private key matching lurk-cert"},
    {"lurk-server = tls://127.0.0.1:9\nlurk-ca = " LURK_TEST_PKI_DIR "/client1.key\n", "lurk-ca",
     "no usable certificate"},
};

START_TEST(bad_settings_fail_the_key_load)
{
    expect_load_fails(bad_settings[_i].settings, bad_settings[_i].needle1,
                      bad_settings[_i].needle2);
}
END_TEST

/* An unreachable lurkd is no reason to refuse the key: start-up must not depend on it. */
START_TEST(unreachable_lurkd_does_not_fail_the_load)
{
    EVP_PKEY *orig, *ref;

    load("lurk-server = tls://127.0.0.1:9\nlurk-ca = " LURK_TEST_PKI_DIR
         "/ca.crt\nlurk-cert = " LURK_TEST_PKI_DIR "/client1.crt\nlurk-key = " LURK_TEST_PKI_DIR
         "/client1.key\n"
         "lurk-timeout-ms = 300\n");
    ref = nginx_key(&orig);
    ck_assert_int_eq(sign_cv(ref), 0);
    expect("cannot reach lurkd", "tls://127.0.0.1:9", "connect");
    EVP_PKEY_free(ref);
    EVP_PKEY_free(orig);
    cleanup();
}
END_TEST

START_TEST(no_settings_at_all)
{
    EVP_PKEY *orig, *ref;

    load(NULL);
    ref = nginx_key(&orig);
    ck_assert_int_eq(sign_cv(ref), 0);
    expect("no lurk-server configured", "key id", NULL);
    EVP_PKEY_free(ref);
    EVP_PKEY_free(orig);
    cleanup();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("provider_conf");
    TCase *tc = tcase_create("openssl.cnf");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, settings_are_read);
    tcase_add_test(tc, failed_request_tries_another_server);
    tcase_add_loop_test(tc, bad_settings_fail_the_key_load, 0,
                        (int)(sizeof(bad_settings) / sizeof(bad_settings[0])));
    tcase_add_test(tc, unreachable_lurkd_does_not_fail_the_load);
    tcase_add_test(tc, no_settings_at_all);
    suite_add_tcase(s, tc);
    /* One process per test: the default library context reads OPENSSL_CONF once. */
    return lurk_test_run(s, CK_FORK);
}
