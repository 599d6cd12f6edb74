/*
 * Unit tests of lurkd's core linked directly (lurkd_core, docs/architecture.md
 * §2.2), without a process or a socket: the config reader's errors, the
 * policy of who may use which key for what, and whole requests through the
 * dispatcher with the keys of a real key store.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "conf/policy.h"
#include "conf/runtime.h"
#include "exchange/dispatch.h"
#include "keys/secret_file.h"
#include "keys/sign.h"
#include "keys/sign_cache.h"
#include "lurk/header.h"
#include "lurk/keyid.h"
#include "lurk/tls13.h"

#include "check_run.h"

static char dir[] = "/tmp/lurk-core-XXXXXX";
static EVP_PKEY *p256, *rsa;
static uint8_t p256_id[LURK_KEY_ID_LEN], rsa_id[LURK_KEY_ID_LEN];

static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0 && chmod(path, mode) == 0);
}

static EVP_PKEY *write_key(const char *name, EVP_PKEY *k, uint8_t id[LURK_KEY_ID_LEN])
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert(k != NULL && f != NULL);
    ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 && fclose(f) == 0);
    ck_assert(chmod(path, 0600) == 0);
    ck_assert(lurk_keyid_from_pkey(NULL, k, id));
    return k;
}

static void setup(void)
{
    ck_assert(mkdtemp(dir) != NULL);
    p256 = write_key("p256.key", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), p256_id);
    rsa = write_key("rsa.key", EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), rsa_id);
}

static void teardown(void)
{
    char cmd[600];

    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Loads text as a config file; NULL with err set when it is refused. */
static struct lurkd_config *load(const char *text, char *err, size_t errlen)
{
    char path[512];

    write_file("lurkd.conf", text, 0600, path, sizeof(path));
    return lurkd_config_load(path, err, errlen);
}

static const char config[] = "[lurkd]\n"
                             "[client.fe1]\nidentity = uid:1001\n"
                             "[client.fe2]\nidentity = uid:1002\n"
                             "[key.www]\nsource = p256.key\nclients = fe1\n"
                             "[key.legacy]\nsource = rsa.key\nclients = fe1, fe2\n"
                             "exchanges = sign_certificate_verify, rsa_premaster\n";

static const struct lurkd_peer fe1 = {.kind = LURKD_PEER_UNIX, .uid = 1001, .text = "uid:1001"};
static const struct lurkd_peer fe2 = {.kind = LURKD_PEER_UNIX, .uid = 1002, .text = "uid:1002"};
static const struct lurkd_peer stranger = {
    .kind = LURKD_PEER_UNIX, .uid = 4242, .text = "uid:4242"};

START_TEST(config_errors_name_file_and_line)
{
    static const struct {
        const char *text, *line, *says;
    } cases[] = {
        {"[lurkd]\nworkers = many\n", ":2:", "workers"},
        {"[lurkd]\n\n[key.a]\nsource = p256.key\nexchanges = sign_everything\n",
         ":5:", "sign_everything"},
        {"[lurkd]\n[key.a]\nsource = p256.key\nclients = nobody\n", ":4:", "nobody"},
        {"[lurkd]\n[listener.a]\naddress = carrier-pigeon://x\n", ":3:", "address"},
        {"[lurkd]\n[surprise]\n", ":2:", "surprise"},
    };
    char err[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lurkd_config *cfg = load(cases[i].text, err, sizeof(err));
        ck_assert_msg(cfg == NULL, "case %zu accepted", i);
        ck_assert_msg(strstr(err, "lurkd.conf") && strstr(err, cases[i].line) &&
                          strstr(err, cases[i].says),
                      "case %zu: %s", i, err);
    }
}
END_TEST

/* A group-readable key file is refused at load, naming the file (security.md). */
START_TEST(readable_key_file_is_refused)
{
    char err[1024], path[512];
    struct lurkd_config *cfg;
    struct lurkd_runtime *rt;

    snprintf(path, sizeof(path), "%s/p256.key", dir);
    ck_assert(chmod(path, 0640) == 0);
    cfg = load("[lurkd]\n[key.a]\nsource = p256.key\nclients = *\n", err, sizeof(err));
    rt = cfg != NULL ? lurkd_runtime_build(cfg, err, sizeof(err)) : NULL;
    ck_assert_msg(rt == NULL && strstr(err, "lurkd.conf:3:") && strstr(err, "p256.key"), "%s", err);
    ck_assert(chmod(path, 0600) == 0);
}
END_TEST

/*
 * Every spelling OSSL_STORE opens as that file is checked as that file: a
 * file: URI in any case, with an empty or "localhost" authority, and a name
 * with a colon (no loader knows its "scheme", so the store opens it as a
 * file). On the tree of 1f9f050 all but "file:/PATH" passed a 0644 key.
 */
START_TEST(readable_key_file_is_refused_however_named)
{
    static const char *const spellings[] = {"%s/p256.key",
                                            "file:%s/p256.key",
                                            "FILE:%s/p256.key",
                                            "file://%s/p256.key",
                                            "file://localhost%s/p256.key",
                                            "File://LOCALHOST%s/p256.key"};
    char err[1024], path[512], name[600], cwd[512];

    snprintf(path, sizeof(path), "%s/p256.key", dir);
    for (mode_t mode = 0600; mode <= 0644; mode += 044) {
        ck_assert(chmod(path, mode) == 0);
        for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
            snprintf(name, sizeof(name), spellings[i], dir);
            bool private = lurkd_secret_file_private(name, err, sizeof(err));
            ck_assert_msg(private == (mode == 0600), "%s (mode %o): %s", name, mode,
                          private ? "passed" : err);
            if (!private)
                ck_assert_msg(strstr(err, path) != NULL, "%s: %s", name, err);
        }
    }
    /* A relative name with a colon, from the directory it is in. */
    ck_assert(getcwd(cwd, sizeof(cwd)) != NULL && chdir(dir) == 0);
    ck_assert(link("p256.key", "x:p256.key") == 0);
    ck_assert(!lurkd_secret_file_private("x:p256.key", err, sizeof(err)));
    ck_assert(chmod(path, 0600) == 0);
    ck_assert(lurkd_secret_file_private("x:p256.key", err, sizeof(err)));
    /* Other URIs name no file. */
    ck_assert(lurkd_secret_file_private("pkcs11:token=lurk;object=www", err, sizeof(err)));
    ck_assert(lurkd_secret_file_private("file://otherhost/etc/passwd", err, sizeof(err)));
    /* Nor does a relative file: URI (the loader refuses it), however readable the file. */
    ck_assert(chmod(path, 0644) == 0);
    bool relative_uri = lurkd_secret_file_private("file:p256.key", err, sizeof(err));
    ck_assert(chmod(path, 0600) == 0);
    ck_assert(unlink("x:p256.key") == 0 && chdir(cwd) == 0);
    ck_assert(relative_uri);
}
END_TEST

static struct lurkd_runtime *runtime(void)
{
    char err[1024];
    struct lurkd_config *cfg = load(config, err, sizeof(err));
    struct lurkd_runtime *rt;

    ck_assert_msg(cfg != NULL, "%s", err);
    rt = lurkd_runtime_build(cfg, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    return rt;
}

START_TEST(policy_decides_per_peer_key_and_exchange)
{
    struct lurkd_runtime *rt = runtime();
    const struct lurkd_key *www = lurkd_keystore_find(rt->keys, p256_id);
    const struct lurkd_key *legacy = lurkd_keystore_find(rt->keys, rsa_id);
    const char *why = NULL;

    ck_assert(www != NULL && legacy != NULL);
    ck_assert_str_eq(lurkd_policy_client(rt->cfg, &fe1)->name, "fe1");
    ck_assert(lurkd_policy_client(rt->cfg, &stranger) == NULL);
    ck_assert(lurkd_policy_allows(rt->cfg, www, &fe1, LURKD_EX_SIGN_CERTIFICATE_VERIFY, &why));
    ck_assert(!lurkd_policy_allows(rt->cfg, www, &fe2, LURKD_EX_SIGN_CERTIFICATE_VERIFY, &why) &&
              why != NULL);
    ck_assert(!lurkd_policy_visible(rt->cfg, www, &stranger));
    /* RSA key transport only where the key's section names it (security.md). */
    ck_assert(!lurkd_policy_allows(rt->cfg, www, &fe1, LURKD_EX_RSA_PREMASTER, &why));
    ck_assert(lurkd_policy_allows(rt->cfg, legacy, &fe2, LURKD_EX_RSA_PREMASTER, &why));
    lurkd_runtime_unref(rt);
}
END_TEST

/*
 * A sign_certificate_verify request for key id with a transcript hash of
 * hash_len bytes, written field by field (protocol.md) so that lengths the
 * encoder refuses can be sent too.
 */
static size_t scv_request(const uint8_t id[LURK_KEY_ID_LEN], uint16_t scheme, size_t hash_len,
                          uint8_t *buf, size_t cap)
{
    static const uint8_t hash[64] = {1, 2, 3};
    struct lurk_header hdr = {.designation = LURK_DESIGNATION_TLS13,
                              .version = 1,
                              .type = LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                              .status = LURK_STATUS_REQUEST,
                              .id = 77};
    lurk_cbb c;
    size_t start;

    lurk_cbb_init_fixed(&c, buf, cap);
    ck_assert(lurk_message_begin(&c, &start, &hdr));
    lurk_cbb_add_u8(&c, LURK_KEY_ID_TYPE_SHA256_32);
    lurk_cbb_add_bytes(&c, id, LURK_KEY_ID_LEN);
    lurk_cbb_add_u16(&c, scheme);
    lurk_cbb_add_u8(&c, LURK_TLS13_ROLE_SERVER);
    lurk_cbb_add_prefixed(&c, 1, hash, hash_len);
    ck_assert(lurk_message_end(&c, start));
    return lurk_cbb_len(&c);
}

/* Dispatches one request from peer; returns the response's status (and its signature). */
static uint8_t dispatch(struct lurkd_runtime *rt, const struct lurkd_peer *peer, const uint8_t *req,
                        size_t len, uint8_t *sig, size_t *sig_len)
{
    struct lurk_message msg;
    struct lurk_tls13_response resp;
    lurk_cbb out;
    uint8_t status;

    ck_assert(lurk_cbb_init(&out, 256, 1 << 16));
    lurkd_dispatch(rt, peer, req, len, &out);
    ck_assert(lurk_cbb_ok(&out));
    ck_assert(lurk_message_parse(lurk_cbb_data(&out), lurk_cbb_len(&out), &msg));
    ck_assert_uint_eq(msg.hdr.id, 77);
    status = msg.hdr.status;
    if (status == LURK_STATUS_SUCCESS && sig != NULL) {
        ck_assert_uint_eq(lurk_tls13_response_decode(msg.hdr.type, &msg.payload, &resp),
                          LURK_STATUS_SUCCESS);
        *sig_len = lurk_cbs_len(&resp.signing.signature);
        memcpy(sig, lurk_cbs_data(&resp.signing.signature), *sig_len);
    }
    lurk_cbb_cleanup(&out);
    return status;
}

START_TEST(dispatch_signs_only_what_policy_allows)
{
    struct lurkd_runtime *rt = runtime();
    uint8_t req[256], sig[512], content[64 + 34 + 32];
    size_t len = scv_request(p256_id, 0x0403, 32, req, sizeof(req)), sig_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    ck_assert_uint_eq(dispatch(rt, &fe1, req, len, sig, &sig_len), LURK_STATUS_SUCCESS);
    /* What lurkd signed is the RFC 8446 §4.4.3 content it built around the hash. */
    memset(content, 0x20, 64);
    memcpy(content + 64, "TLS 1.3, server CertificateVerify", 34);
    memset(content + 98, 0, 32);
    content[98] = 1, content[99] = 2, content[100] = 3;
    ck_assert(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, p256, NULL) == 1);
    ck_assert(EVP_DigestVerify(md, sig, sig_len, content, sizeof(content)) == 1);
    EVP_MD_CTX_free(md);

    ck_assert_uint_eq(dispatch(rt, &fe2, req, len, NULL, NULL), LURK_TLS13_STATUS_INVALID_KEY_ID);
    ck_assert_uint_eq(dispatch(rt, &stranger, req, len, NULL, NULL),
                      LURK_TLS13_STATUS_INVALID_KEY_ID);
    /* The hash must have the scheme's length (security.md). */
    len = scv_request(p256_id, 0x0403, 31, req, sizeof(req));
    ck_assert_uint_eq(dispatch(rt, &fe1, req, len, NULL, NULL),
                      LURK_TLS13_STATUS_INVALID_PAYLOAD_FORMAT);
    /* A P-256 key does not sign with RSA-PSS. */
    len = scv_request(p256_id, 0x0804, 32, req, sizeof(req));
    ck_assert_uint_eq(dispatch(rt, &fe1, req, len, NULL, NULL),
                      LURK_TLS13_STATUS_INVALID_SIGNATURE_SCHEME);
    lurkd_runtime_unref(rt);
}
END_TEST

/*
 * An HSM's RSA signature is checked with the public key before it leaves
 * lurkd (keys/sign.h): here a key whose check key is another RSA key stands
 * for a token that returned a faulty signature.
 */
START_TEST(checked_signatures_that_fail_are_not_sent)
{
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    struct lurkd_key key = {.pkey = rsa, .kind = LURKD_KEY_RSA, .bits = 2048};
    const struct lurkd_sig_alg *alg;
    static const uint8_t tbs[130] = {0x20};
    lurk_cbb out;

    key.sign_cache = lurkd_sign_cache_new();
    ck_assert(other != NULL && key.sign_cache != NULL);
    alg = lurkd_sig_alg_tls13(0x0804, &key);
    ck_assert(alg != NULL);
    ck_assert(lurk_cbb_init(&out, 512, 4096));
    key.check_key = rsa;
    ck_assert(lurkd_sign(&key, alg, tbs, sizeof(tbs), &out));
    ck_assert_uint_eq(lurk_cbb_len(&out), 2 + 256);
    ck_assert(lurk_cbb_truncate(&out, 0));
    key.check_key = other;
    ck_assert(!lurkd_sign(&key, alg, tbs, sizeof(tbs), &out));
    ck_assert_uint_eq(ERR_peek_error(), 0); /* nothing left for the next request */
    lurk_cbb_cleanup(&out);
    lurkd_sign_cache_free(key.sign_cache);
    EVP_PKEY_free(other);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lurkd_core");
    TCase *tc = tcase_create("lurkd_core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, config_errors_name_file_and_line);
    tcase_add_test(tc, readable_key_file_is_refused);
    tcase_add_test(tc, readable_key_file_is_refused_however_named);
    tcase_add_test(tc, policy_decides_per_peer_key_and_exchange);
    tcase_add_test(tc, dispatch_signs_only_what_policy_allows);
    tcase_add_test(tc, checked_signatures_that_fail_are_not_sent);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
