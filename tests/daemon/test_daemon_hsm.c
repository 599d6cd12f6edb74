/*
 * Keys inside an HSM, reached through libp11's pkcs11 engine (source =
 * engine:pkcs11:..., engine_key.h), with a throwaway SoftHSM token: lurkd
 * signs tls13 CertificateVerify (RSA-PSS, ECDSA) and tls12 ServerKeyExchange
 * with keys it never sees, each signature verified here with the public key
 * of the same test PKI file the token imported; it refuses RSA key transport
 * for them; keeps signing across SIGHUP; and refuses a wrong PIN, a missing
 * object and the other engine mistakes with "FILE:LINE: reason" and exit
 * status 1. Skipped (77) when softhsm2 or libengine-pkcs11-openssl is not
 * installed (scripts/bootstrap installs them).
 */
#include <check.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/tls12.h"
#include "lurk/tls12_poo.h"
#include "lurk/tls13.h"
#include "lurk/names.h"

#define PIN      "1234"
#define SO_PIN   "123456"
#define SRC_RSA  "engine:pkcs11:pkcs11:token=lurk;object=rsa;type=private"
#define SRC_P256 "engine:pkcs11:pkcs11:token=lurk;object=p256;type=private"

static char hsm_dir[64];   /* the token directory, its softhsm2.conf and PIN files */
static const char *module; /* SoftHSM's PKCS#11 module */
static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

/* The public halves, from the files the token imported. */
static struct key {
    const char *name, *pki;
    EVP_PKEY *pkey;
    uint8_t id[4];
} keys[] = {{"hsm-rsa", "server-rsa2048.key", NULL, {0}},
            {"hsm-p256", "server-p256.key", NULL, {0}}};
enum { K_RSA, K_P256 };

/* ---- the token, made once before the tests ---- */

static int run_quiet(const char *cmd)
{
    char full[2048];

    snprintf(full, sizeof(full), "%s >/dev/null", cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *find_module(void)
{
    static const char *const paths[] = {"/usr/lib/softhsm/libsofthsm2.so",
                                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                                        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
                                        "/usr/local/lib/softhsm/libsofthsm2.so"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    return NULL;
}

/* What the test needs but the system may lack; NULL when everything is there. */
static const char *missing(void)
{
    static char why[600];
    const char *dir = getenv("OPENSSL_ENGINES");
    char engine[512];

    snprintf(engine, sizeof(engine), "%s/pkcs11.so",
             dir ? dir : OPENSSL_info(OPENSSL_INFO_ENGINES_DIR));
    if (access(engine, R_OK) != 0) {
        snprintf(why, sizeof(why), "no pkcs11 engine at %s (libengine-pkcs11-openssl)", engine);
        return why;
    }
    if ((module = find_module()) == NULL || run_quiet("command -v softhsm2-util") != 0)
        return "no SoftHSM (softhsm2)";
    return NULL;
}

/* A file only its owner may read: lurkd refuses a shared PIN file. */
static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, 0600) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(EXIT_FAILURE);
    }
}

static const char *hsm_path(const char *name)
{
    static char path[4][128];
    static int slot;

    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof(path[slot]), "%s/%s", hsm_dir, name);
    return path[slot];
}

/* A SoftHSM token "lurk" of its own (SOFTHSM2_CONF), holding the two keys. */
static bool make_token(void)
{
    char conf[512], cmd[1024];

    snprintf(hsm_dir, sizeof(hsm_dir), "/tmp/lurk-hsm-XXXXXX");
    if (mkdtemp(hsm_dir) == NULL || mkdir(hsm_path("tokens"), 0700) != 0)
        return false;
    snprintf(conf, sizeof(conf),
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
             hsm_path("tokens"));
    write_text(hsm_path("softhsm2.conf"), conf);
    /* lurkd inherits it. */
    setenv("SOFTHSM2_CONF", hsm_path("softhsm2.conf"), 1);
    write_text(hsm_path("pin"), PIN "\n");
    write_text(hsm_path("wrong-pin"), "4321\n");
    write_text(hsm_path("shared-pin"), PIN "\n");
    chmod(hsm_path("shared-pin"), 0644);
    if (run_quiet("softhsm2-util --init-token --free --label lurk --pin " PIN
                  " --so-pin " SO_PIN) != 0)
        return false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(cmd, sizeof(cmd),
                 "softhsm2-util --import %s --token lurk --label %s --id 0%zu --pin " PIN,
                 lurk_test_pki(keys[i].pki), i == K_RSA ? "rsa" : "p256", i + 1);
        if (run_quiet(cmd) != 0)
            return false;
    }
    return true;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- lurkd with the two engine keys ---- */

/* The key sections; the p256 key takes the engine's module from the rsa key. */
static void key_sections(char *out, size_t len, const char *clients)
{
    snprintf(out, len,
             "[key.hsm-rsa]\nsource = " SRC_RSA "\nengine_module = %s\npin_file = %s\n"
             "clients = %s\nnull_freshness = yes\ncheck_time = no\n"
             "[key.hsm-p256]\nsource = " SRC_P256 "\npin_file = %s\n"
             "clients = %s\nnull_freshness = yes\ncheck_time = no\n",
             module, hsm_path("pin"), clients, hsm_path("pin"), clients);
}

static void setup(void)
{
    char extra[2048];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        keys[i].pkey = dc_load_key(lurk_test_pki(keys[i].pki));
        dc_key_id(keys[i].pkey, keys[i].id);
    }
    key_sections(extra, sizeof(extra), "client1, local, tcp");
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY_free(keys[i].pkey);
        keys[i].pkey = NULL;
    }
}

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

static const struct {
    int key;
    uint16_t scheme;
    const char *md;
    bool pss;
} schemes[] = {
    {K_RSA, 0x0804, "SHA256", true},   /* rsa_pss_rsae_sha256 */
    {K_RSA, 0x0805, "SHA384", true},   /* rsa_pss_rsae_sha384 */
    {K_RSA, 0x0806, "SHA512", true},   /* rsa_pss_rsae_sha512 */
    {K_P256, 0x0403, "SHA256", false}, /* ecdsa_secp256r1_sha256 */
};
#define N_SCHEMES (sizeof(schemes) / sizeof(schemes[0]))

/* One sign_certificate_verify; the signature must verify, for role and not for the other. */
static void sign_and_verify(struct lurk_conn *c, size_t s, uint8_t role)
{
    const struct key *k = &keys[schemes[s].key];
    uint8_t hash[32], payload[64], content[200];
    struct lurk_response resp;
    lurk_cbs in, sig;
    size_t len, n;

    ck_assert(RAND_bytes(hash, sizeof(hash)) == 1);
    len = dc_sign_cv_payload(payload, 0, k->id, schemes[s].scheme, role, hash, sizeof(hash));
    ck_assert_msg(dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                          payload, len, &resp) == LURK_STATUS_SUCCESS,
                  "%s 0x%04x: status %u", k->name, schemes[s].scheme, resp.msg.hdr.status);
    in = resp.msg.payload;
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
    n = dc_cv_content(content, role, hash, sizeof(hash));
    ck_assert_msg(dc_verify(k->pkey, schemes[s].md, schemes[s].pss, content, n, lurk_cbs_data(&sig),
                            lurk_cbs_len(&sig)),
                  "%s 0x%04x role %u does not verify", k->name, schemes[s].scheme, role);
    n = dc_cv_content(content, (uint8_t)!role, hash, sizeof(hash));
    ck_assert(!dc_verify(k->pkey, schemes[s].md, schemes[s].pss, content, n, lurk_cbs_data(&sig),
                         lurk_cbs_len(&sig)));
    lurk_response_free(&resp);
}

/* Each scheme three times (the sign cache: a new context, then copies of it), both roles. */
START_TEST(tls13_certificate_verify_verifies)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);

    for (size_t s = 0; s < N_SCHEMES; s++)
        for (int round = 0; round < 3; round++)
            sign_and_verify(c, s, (uint8_t)(round & 1));
    lurk_conn_close(c);
}
END_TEST

/* Pipelined requests run on both workers at once, on shared cached contexts. */
START_TEST(concurrent_signatures_verify)
{
    enum { N = 48 };
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    static uint8_t buf[N * 128], hashes[N][32];
    size_t len = 0;

    for (uint64_t i = 0; i < N; i++) {
        const struct key *k = &keys[schemes[i % N_SCHEMES].key];
        uint8_t payload[64];
        ck_assert(RAND_bytes(hashes[i], 32) == 1);
        size_t n = dc_sign_cv_payload(payload, 0, k->id, schemes[i % N_SCHEMES].scheme,
                                      LURK_TLS13_ROLE_SERVER, hashes[i], 32);
        len += dc_message(buf + len, sizeof(buf) - len, LURK_DESIGNATION_TLS13, 1,
                          LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, 1000 + i, payload, n);
    }
    dc_send(c, buf, len);
    for (int r = 0; r < N; r++) {
        struct lurk_response resp;
        uint8_t content[200];
        lurk_cbs in, sig;
        ck_assert_msg(dc_recv(c, &resp, 20000), "answer %d of %d missing", r, N);
        uint64_t i = resp.msg.hdr.id - 1000;
        ck_assert_uint_lt(i, N);
        ck_assert_uint_eq(resp.msg.hdr.status, LURK_STATUS_SUCCESS);
        in = resp.msg.payload;
        ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig));
        size_t n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, hashes[i], 32);
        ck_assert_msg(dc_verify(keys[schemes[i % N_SCHEMES].key].pkey, schemes[i % N_SCHEMES].md,
                                schemes[i % N_SCHEMES].pss, content, n, lurk_cbs_data(&sig),
                                lurk_cbs_len(&sig)),
                      "request %u does not verify", (unsigned)i);
        lurk_response_free(&resp);
    }
    lurk_conn_close(c);
}
END_TEST

/*
 * tls12 ecdhe (docs/protocol.md): freshness null, so lurkd signs
 * client_random || server_random || ServerECDHParams as sent.
 */
START_TEST(tls12_ecdhe_signature_verifies)
{
    static const struct {
        int key;
        uint16_t sig_and_hash;
        bool pss;
    } cases[] = {{K_RSA, 0x0401, false}, {K_RSA, 0x0804, true}, {K_P256, 0x0403, false}};
    struct lurk_conn *c = dc_connect(transport(_i), 1);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct key *k = &keys[cases[i].key];
        uint8_t payload[256], tbs[256], point[32];
        size_t point_len = sizeof(point);
        struct lurk_response resp;
        lurk_cbs in, sig;
        lurk_cbb b;
        EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");

        ck_assert(eph != NULL && EVP_PKEY_get_raw_public_key(eph, point, &point_len) == 1);
        EVP_PKEY_free(eph);
        ck_assert(RAND_bytes(tbs, 64) == 1); /* client_random, server_random */
        tbs[64] = 3;                         /* named_curve x25519 (29), 32-byte point */
        tbs[65] = 0;
        tbs[66] = 29;
        tbs[67] = 32;
        memcpy(tbs + 68, point, 32);
        lurk_cbb_init_fixed(&b, payload, sizeof(payload));
        lurk_cbb_add_u8(&b, LURK_KEY_ID_TYPE_SHA256_32);
        lurk_cbb_add_bytes(&b, k->id, 4);
        lurk_cbb_add_u8(&b, LURK_FRESHNESS_NULL);
        lurk_cbb_add_bytes(&b, tbs, 64);
        lurk_cbb_add_u16(&b, cases[i].sig_and_hash);
        lurk_cbb_add_bytes(&b, tbs + 64, 4 + 32);
        lurk_cbb_add_u8(&b, LURK_POO_PRF_NULL);
        ck_assert(lurk_cbb_ok(&b));
        ck_assert_msg(dc_call(c, LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_ECDHE, payload,
                              lurk_cbb_len(&b), &resp) == LURK_STATUS_SUCCESS,
                      "%s 0x%04x: status %u", k->name, cases[i].sig_and_hash, resp.msg.hdr.status);
        in = resp.msg.payload;
        ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
        ck_assert_msg(dc_verify(k->pkey, "SHA256", cases[i].pss, tbs, 68 + 32, lurk_cbs_data(&sig),
                                lurk_cbs_len(&sig)),
                      "%s 0x%04x does not verify", k->name, cases[i].sig_and_hash);
        lurk_response_free(&resp);
    }
    lurk_conn_close(c);
}
END_TEST

/* RSA key transport needs OpenSSL's TLS padding check: never offered for an engine key. */
START_TEST(rsa_key_transport_is_not_offered)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    uint8_t payload[300], epms[256];
    struct lurk_response resp;
    lurk_cbb b;

    ck_assert(RAND_bytes(epms, sizeof(epms)) == 1);
    lurk_cbb_init_fixed(&b, payload, sizeof(payload));
    lurk_cbb_add_u8(&b, LURK_KEY_ID_TYPE_SHA256_32);
    lurk_cbb_add_bytes(&b, keys[K_RSA].id, 4);
    lurk_cbb_add_u16(&b, 0x0303);
    lurk_cbb_add_prefixed(&b, 2, epms, sizeof(epms));
    ck_assert(lurk_cbb_ok(&b));
    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER, payload,
                              lurk_cbb_len(&b), &resp),
                      LURK_TLS12_STATUS_INVALID_KEY_ID);
    dc_assert_audited(&lurkd, resp.msg.hdr.id,
                      lurk_status_name(LURK_DESIGNATION_TLS12, LURK_TLS12_STATUS_INVALID_KEY_ID),
                      "exchange not allowed for this key");
    lurk_response_free(&resp);
    lurk_conn_close(c);
}
END_TEST

/* SIGHUP loads the keys again while the old ones still hold the engine; both keep signing. */
START_TEST(reload_keeps_signing)
{
    char extra[2048];
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);

    sign_and_verify(c, 0, 0);
    key_sections(extra, sizeof(extra), "client1, local");
    ck_assert(dc_write_config(&lurkd, NULL, extra));
    ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
    ck_assert_msg(dc_wait_count(lurkd.log, "configuration reloaded: 2 keys", 1, 10000),
                  "no reload in the log");
    for (size_t s = 0; s < N_SCHEMES; s++)
        sign_and_verify(c, s, 1);
    lurk_conn_close(c);
}
END_TEST

/*
 * A SIGHUP that moves a key from its file into the token and back (same
 * public key, same key id), with requests in flight across each reload: a
 * request is answered under one configuration snapshot, the one its cost
 * was computed under or a later one, never a freed one and never an I/O
 * thread waiting on the token (docs/performance.md, "Signing in the
 * loops"). Every answer must be a signature that verifies.
 */
START_TEST(key_moved_between_file_and_token_in_flight)
{
    enum { ROUNDS = 8, DEPTH = 16 };
    const struct key *k = &keys[K_P256];
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    char extra[2048], p256_file[900];

    for (int r = 0; r < ROUNDS; r++) {
        uint8_t frames[DEPTH * 128], hashes[DEPTH][32], payload[64];
        size_t at = 0;

        /* Even rounds: the file; odd rounds: the token, as the other tests have it. */
        key_sections(extra, sizeof(extra), "client1, local");
        if (r % 2 == 0) {
            snprintf(p256_file, sizeof(p256_file),
                     "[key.hsm-p256]\nsource = %s\nclients = client1, local\n"
                     "null_freshness = yes\ncheck_time = no\n",
                     lurk_test_pki(k->pki));
            *strstr(extra, "[key.hsm-p256]") = '\0';
            strncat(extra, p256_file, sizeof(extra) - strlen(extra) - 1);
        }
        ck_assert(dc_write_config(&lurkd, NULL, extra));
        for (int j = 0; j < DEPTH; j++) {
            ck_assert(RAND_bytes(hashes[j], 32) == 1);
            size_t n = dc_sign_cv_payload(payload, 0, k->id, 0x0403, 0, hashes[j], 32);
            at += dc_message(frames + at, sizeof(frames) - at, LURK_DESIGNATION_TLS13, 1,
                             LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, 0, (uint64_t)j, payload, n);
        }
        dc_send(c, frames, at);
        ck_assert_int_eq(lurk_test_lurkd_signal(&lurkd, SIGHUP), 0);
        for (int j = 0; j < DEPTH; j++) {
            struct lurk_response resp;
            uint8_t content[200];
            lurk_cbs in, sig;
            ck_assert(dc_recv(c, &resp, 10000));
            ck_assert_msg(resp.msg.hdr.status == LURK_STATUS_SUCCESS, "round %d: status %u", r,
                          resp.msg.hdr.status);
            ck_assert_uint_lt(resp.msg.hdr.id, DEPTH);
            in = resp.msg.payload;
            ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
            size_t n = dc_cv_content(content, 0, hashes[resp.msg.hdr.id], 32);
            ck_assert_msg(dc_verify(k->pkey, "SHA256", false, content, n, lurk_cbs_data(&sig),
                                    lurk_cbs_len(&sig)),
                          "round %d: request %u does not verify", r, (unsigned)resp.msg.hdr.id);
            lurk_response_free(&resp);
        }
        ck_assert_msg(dc_wait_count(lurkd.log, "configuration reloaded: 2 keys", r + 1, 10000),
                      "round %d: no reload in the log", r);
        /* And after the reload, from where it now is. */
        sign_and_verify(c, 3, 1);
    }
    lurk_conn_close(c);
}
END_TEST

/* --check prints each key with the id of the file the token imported. */
START_TEST(check_prints_key_ids)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char out[8192], want[128], id[9];

    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 20000), 0);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        dc_key_id_hex(keys[i].pkey, id);
        snprintf(want, sizeof(want), "key %s: id %s, %s", keys[i].name, id,
                 i == K_RSA ? "RSA-2048, exchanges ecdhe,sign_certificate_verify,tls13,"
                            : "EC-256, exchanges ecdhe,sign_certificate_verify,tls13,");
        ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    }
    ck_assert_msg(strstr(out, PIN "\n") == NULL, "the PIN in the output:\n%s", out);
}
END_TEST

/* ---- bad engine settings: FILE:LINE: reason, exit status 1, nothing started ---- */

#define MARK " #<" /* marks the line the error must name */

static const struct bad_case {
    const char *what;
    const char *key; /* the key section; @MODULE@, @PIN@, @WRONG@, @SHARED@ are replaced */
    const char *reason;
} bad_cases[] = {
    {"wrong PIN", "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @WRONG@" MARK "\n",
     "login refused with the PIN of"},
    {"missing object",
     "source = engine:pkcs11:pkcs11:token=lurk;object=none;type=private" MARK
     "\nengine_module = @MODULE@\npin_file = @PIN@\n",
     "engine pkcs11 did not load the key"},
    {"missing token",
     "source = engine:pkcs11:pkcs11:token=other;object=rsa;type=private" MARK
     "\nengine_module = @MODULE@\npin_file = @PIN@\n",
     "engine pkcs11 did not load the key"},
    {"no PIN for a token that needs one", "source = " SRC_RSA MARK "\nengine_module = @MODULE@\n",
     "the token wants a PIN"},
    {"pin_file readable by others",
     "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @SHARED@" MARK "\n",
     "may be read or written by its group or others (mode 0644)"},
    {"missing pin_file",
     "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @PIN@.none" MARK "\n",
     "cannot open pin_file"},
    {"unknown engine",
     "source = engine:nosuchengine:pkcs11:token=lurk;object=rsa" MARK "\npin_file = @PIN@\n",
     "no engine \"nosuchengine\""},
    {"unreadable module",
     "source = " SRC_RSA "\nengine_module = @MODULE@.none" MARK "\npin_file = @PIN@\n",
     "cannot read engine_module"},
    {"RSA key transport named",
     "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @PIN@\n"
     "exchanges = sign_certificate_verify, rsa_premaster" MARK "\n",
     "cannot do the RSA key transport exchanges"},
    {"PIN in the source", "source = " SRC_RSA ";pin-value=" PIN MARK "\nengine_module = @MODULE@\n",
     "use pin_file"},
    {"no key id", "source = engine:pkcs11:" MARK "\n", "engine:ENGINE_ID:KEY_ID"},
    {"engine id with a path", "source = engine:../pkcs11:pkcs11:token=lurk" MARK "\n",
     "engine:ENGINE_ID:KEY_ID"},
    {"second key without its PIN",
     "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @PIN@\n"
     "[key.k2]\nclients = local\nsource = " SRC_P256 MARK "\n",
     "keeps the PIN of another key"},
    {"two modules for one engine",
     "source = " SRC_RSA "\nengine_module = @MODULE@\npin_file = @PIN@\n"
     "[key.k2]\nclients = local\nsource = " SRC_P256 "\npin_file = @PIN@\n"
     "engine_module = @MODULE@.other" MARK "\n",
     "the keys of one engine share its module"},
    {"pin_file for a file key", "source = @KEYFILE@\npin_file = @PIN@" MARK "\n",
     "applies to engine keys only"},
};

static void bad_setup(void)
{
    ck_assert(lurk_test_lurkd_init(&lurkd));
}

START_TEST(bad_setting_names_file_and_line)
{
    const struct bad_case *bc = &bad_cases[_i];
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    const char *const run[] = {"-f", "-c", lurkd.conf, NULL};
    const char *const *modes[] = {check, run};
    char head[1024], out[8192], prefix[600];
    char *a, *b, *c, *d, *text, *mark;
    int line = 1;

    snprintf(head, sizeof(head),
             "[lurkd]\n[listener.local]\naddress = %s\n[client.local]\nidentity = uid:%u\n"
             "[key.k]\nclients = local\n%s",
             lurkd.unix_addr, (unsigned)getuid(), bc->key);
    a = lurk_test_replace_all(head, "@MODULE@", module);
    b = lurk_test_replace_all(a, "@PIN@", hsm_path("pin"));
    c = lurk_test_replace_all(b, "@WRONG@", hsm_path("wrong-pin"));
    d = lurk_test_replace_all(c, "@SHARED@", hsm_path("shared-pin"));
    text = lurk_test_replace_all(d, "@KEYFILE@", lurk_test_pki("server-p256.key"));
    free(a);
    free(b);
    free(c);
    free(d);
    mark = strstr(text, MARK);
    ck_assert(mark != NULL);
    for (const char *p = text; p < mark; p++)
        line += *p == '\n';
    memmove(mark, mark + strlen(MARK), strlen(mark + strlen(MARK)) + 1);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    snprintf(prefix, sizeof(prefix), "lurkd: %s:%d: ", lurkd.conf, line);
    for (int m = 0; m < 2; m++) {
        int st = dc_run(&lurkd, modes[m], out, sizeof(out), 20000);
        ck_assert_msg(st == DC_EXIT_CONFIG, "%s (%s): exit status %d, output:\n%s", bc->what,
                      modes[m][0], st, out);
        ck_assert_msg(strstr(out, prefix) != NULL, "%s (%s): no \"%s\" in:\n%s", bc->what,
                      modes[m][0], prefix, out);
        ck_assert_msg(strstr(out, bc->reason) != NULL, "%s (%s): no \"%s\" in:\n%s", bc->what,
                      modes[m][0], bc->reason, out);
        ck_assert_msg(strstr(out, "pin-value=" PIN) == NULL && strstr(out, "4321") == NULL,
                      "%s: a PIN in the output:\n%s", bc->what, out);
        ck_assert(access(lurkd.unix_addr + strlen("unix:"), F_OK) != 0);
    }
}
END_TEST

/*
 * Started as root with user = nobody, lurkd logs in to the token, then drops
 * root (docs/security.md): the token session it opened keeps signing.
 * SoftHSM re-reads its object files for every operation, so its token
 * directory belongs to the user lurkd runs as (docs/deploy.md, HSMs).
 */
START_TEST(signs_after_dropping_root)
{
    char extra[2048];

    if (geteuid() != 0) {
        printf("signs_after_dropping_root: not root, nothing to drop\n");
        return;
    }
    dc_stop(&lurkd);
    memset(&lurkd, 0, sizeof(lurkd));
    char chown_cmd[300];
    snprintf(chown_cmd, sizeof(chown_cmd), "chown -R nobody:nogroup %s", hsm_path("tokens"));
    ck_assert_int_eq(run_quiet(chown_cmd), 0);
    ck_assert_int_eq(chmod(hsm_dir, 0711), 0);
    key_sections(extra, sizeof(extra), "client1, local, tcp");
    dc_start(&lurkd, "user = nobody\ngroup = nogroup\n", extra, tcp_addr, tls_addr,
             sizeof(tcp_addr));
    ck_assert(dc_wait_count(lurkd.log, "running as user nobody", 1, 5000));
    for (int t = 0; t < 3; t++) {
        struct lurk_conn *c = dc_connect(transport(t), 1);
        for (size_t s = 0; s < N_SCHEMES; s++)
            sign_and_verify(c, s, LURK_TLS13_ROLE_SERVER);
        lurk_conn_close(c);
    }
}
END_TEST

/*
 * The lurkd processes (sanitizer builds) ignore the engine's one-time
 * allocations (lsan-engine.supp); libcrypto has no frame pointers, so only
 * the slow unwinder sees the frames the suppressions name.
 */
static void lsan_suppressions(void)
{
    const char *old = getenv("LSAN_OPTIONS");
    char opts[1024];

    snprintf(opts, sizeof(opts),
             "%s%sfast_unwind_on_malloc=0:suppressions=%s/tests/daemon/lsan-engine.supp",
             old ? old : "", old && *old ? ":" : "", LURK_SOURCE_ROOT);
    setenv("LSAN_OPTIONS", opts, 1);
}

int main(void)
{
    const char *why = missing();

    if (why != NULL) {
        printf("SKIP: %s; scripts/bootstrap installs softhsm2 and libengine-pkcs11-openssl\n", why);
        return 77;
    }
    lsan_suppressions();
    if (!make_token()) {
        fprintf(stderr, "cannot make the SoftHSM token in %s\n", hsm_dir);
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("daemon_hsm");
    TCase *tc = tcase_create("engine keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, tls13_certificate_verify_verifies, 0, 3);
    tcase_add_test(tc, concurrent_signatures_verify);
    tcase_add_loop_test(tc, tls12_ecdhe_signature_verifies, 0, 3);
    tcase_add_test(tc, rsa_key_transport_is_not_offered);
    tcase_add_test(tc, reload_keeps_signing);
    tcase_add_test(tc, key_moved_between_file_and_token_in_flight);
    tcase_add_test(tc, check_prints_key_ids);
    tcase_add_test(tc, signs_after_dropping_root);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("bad engine settings");
    tcase_add_checked_fixture(bad, bad_setup, teardown);
    tcase_set_timeout(bad, 60);
    tcase_add_loop_test(bad, bad_setting_names_file_and_line, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    suite_add_tcase(s, bad);
    int status = lurk_test_run(s, CK_FORK_GETENV);
    nftw(hsm_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
