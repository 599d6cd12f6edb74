/* A real lurkd for the provider's integration tests; see prov_lurkd.h. */
#include "prov_lurkd.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "prov_test_util.h"

/*
 * Daemons started by this process, killed if it exits early (a failed check
 * exits). Check's forked test processes inherit the table and the atexit
 * handler: only the process that started a daemon kills it.
 */
static struct prov_lurkd *running[4];
static pid_t owner[4];

static void kill_leftovers(void)
{
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
        if (running[i] != NULL && owner[i] == getpid() && running[i]->proc.pid > 0) {
            kill(running[i]->proc.pid, SIGKILL);
            waitpid(running[i]->proc.pid, NULL, 0);
            running[i]->proc.pid = 0;
            lurk_test_lurkd_cleanup(&running[i]->proc);
        }
    }
}

static void remember(struct prov_lurkd *l)
{
    static bool registered;

    if (!registered) {
        atexit(kill_leftovers);
        registered = true;
    }
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
        if (running[i] == NULL || running[i] == l) {
            running[i] = l;
            owner[i] = getpid();
            return;
        }
    }
}

static void forget(struct prov_lurkd *l)
{
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
        if (running[i] == l)
            running[i] = NULL;
}

static char *first_line(const char *path)
{
    char *text = lurk_test_read_file(path, NULL);

    ck_assert_msg(text != NULL, "cannot read %s", path);
    text[strcspn(text, "\n")] = '\0';
    return text;
}

void prov_lurkd_start(struct prov_lurkd *l, const char *const *keys, const char *extra_settings)
{
    char *spki1 = first_line(lurk_test_pki("client1.spki"));
    char *spki2 = first_line(lurk_test_pki("client2.spki"));
    char *conf = NULL, *settings = NULL;
    size_t len = 0;
    FILE *f;

    memset(l, 0, sizeof(*l));
    ck_assert(lurk_test_lurkd_init(&l->proc));
    f = open_memstream(&conf, &len);
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[lurkd]\n"
            "workers = 4\n"
            "audit_log = audit.log\n"
            "log_level = debug\n"
            "%s"
            "[listener.tls]\n"
            "address = tls://127.0.0.1:0\n"
            "certificate = %s\n"
            "private_key = %s\n"
            "client_ca = %s\n"
            "[client.frontend]\n"
            "identity = spki-sha256:%s\n"
            "[client.other]\n"
            "identity = spki-sha256:%s\n",
            geteuid() == 0 ? "run_as_root = yes\n" : "", lurk_test_pki("lurkd.crt"),
            lurk_test_pki("lurkd.key"), lurk_test_pki("ca.crt"), spki1, spki2);
    for (size_t i = 0; keys[i] != NULL; i++) {
        char key[64], crt[64];
        snprintf(key, sizeof(key), "server-%s.key", keys[i]);
        snprintf(crt, sizeof(crt), "server-%s.crt", keys[i]);
        fprintf(f,
                "[key.%s]\n"
                "source = %s\n"
                "certificate = %s\n"
                "clients = frontend\n"
                "exchanges = all, rsa_premaster\n"
                "null_freshness = yes\n"
                "check_time = no\n",
                keys[i], lurk_test_pki(key), lurk_test_pki(crt));
    }
    ck_assert_int_eq(fclose(f), 0);
    ck_assert(lurk_test_write_file(&l->proc, "lurkd.conf", conf));
    free(conf);
    free(spki1);
    free(spki2);

    remember(l);
    ck_assert_msg(lurk_test_lurkd_start(&l->proc, NULL), "lurkd did not start");
    ck_assert(lurk_test_lurkd_address(&l->proc, "tls://", l->tls_addr, sizeof(l->tls_addr)));

    ck_assert(asprintf(&settings,
                       "lurk-server = %s\n"
                       "lurk-ca = %s\n"
                       "lurk-cert = %s\n"
                       "lurk-key = %s\n"
                       "%s\n",
                       l->tls_addr, lurk_test_pki("ca.crt"), lurk_test_pki("client1.crt"),
                       lurk_test_pki("client1.key"), extra_settings ? extra_settings : "") > 0);
    snprintf(l->provider_conf, sizeof(l->provider_conf), "%s/openssl.cnf", l->proc.dir);
    ck_assert(test_write_config(l->provider_conf, settings));
    free(settings);
}

void prov_lurkd_stop(struct prov_lurkd *l)
{
    forget(l);
    lurk_test_lurkd_cleanup(&l->proc);
}

EVP_PKEY *prov_cert_pubkey(const char *cert_file)
{
    FILE *f = fopen(lurk_test_pki(cert_file), "r");
    X509 *x = NULL;
    EVP_PKEY *key = NULL;

    ck_assert_msg(f != NULL, "cannot open %s", lurk_test_pki(cert_file));
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    key = X509_get_pubkey(x);
    X509_free(x);
    ck_assert_ptr_nonnull(key);
    return key;
}

char *prov_keyref_for_cert(const char *cert_file, const char *server)
{
    EVP_PKEY *pub = prov_cert_pubkey(cert_file);
    char *pem = test_keyref_pem(pub, server);

    EVP_PKEY_free(pub);
    ck_assert_ptr_nonnull(pem);
    return pem;
}

const char *prov_write(const struct prov_lurkd *l, const char *name, const char *text)
{
    static char path[600];

    ck_assert(lurk_test_write_file(&l->proc, name, text));
    snprintf(path, sizeof(path), "%s/%s", l->proc.dir, name);
    return path;
}

void prov_signer_open(struct prov_signer *s, const struct prov_kind *kind, const char *conf,
                      bool default_ctx)
{
    char crt[64], errs[1024];
    char *pem;

    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (!default_ctx) {
        s->libctx = OSSL_LIB_CTX_new();
        ck_assert_ptr_nonnull(s->libctx);
    }
    ck_assert_msg(OSSL_LIB_CTX_load_config(s->libctx, conf) == 1, "config %s", conf);
    snprintf(crt, sizeof(crt), "server-%s.crt", kind->name);
    pem = prov_keyref_for_cert(crt, NULL);
    s->key = test_read_key(s->libctx, pem);
    free(pem);
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(s->key != NULL, "%s: %s", kind->name, errs);
    ck_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(s->key)), "lurk");
    s->pub = prov_cert_pubkey(crt);
}

void prov_signer_close(struct prov_signer *s)
{
    EVP_PKEY_free(s->key);
    EVP_PKEY_free(s->pub);
    OSSL_LIB_CTX_free(s->libctx);
}

bool prov_signer_set_pss(EVP_PKEY_CTX *pctx, const struct prov_kind *kind)
{
    return !kind->pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
}

size_t prov_cv_content(uint8_t *out, size_t hash_len)
{
    static const char context[] = "TLS 1.3, server CertificateVerify";

    memset(out, 0x20, 64);
    memcpy(out + 64, context, sizeof(context)); /* with its 0x00 */
    if (RAND_bytes(out + 64 + sizeof(context), (int)hash_len) != 1)
        return 0;
    return 64 + sizeof(context) + hash_len;
}

bool prov_signer_sign(const struct prov_signer *s, const uint8_t *tbs, size_t len, uint8_t *sig,
                      size_t *sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = mctx != NULL &&
              EVP_DigestSignInit_ex(mctx, &pctx, s->kind->md, s->libctx, NULL, s->key, NULL) == 1 &&
              prov_signer_set_pss(pctx, s->kind) &&
              EVP_DigestSign(mctx, sig, sig_len, tbs, len) == 1;

    EVP_MD_CTX_free(mctx);
    return ok;
}

bool prov_signer_verify(const struct prov_signer *s, const uint8_t *tbs, size_t len,
                        const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = mctx != NULL &&
              EVP_DigestVerifyInit_ex(mctx, &pctx, s->kind->md, NULL, NULL, s->pub, NULL) == 1 &&
              prov_signer_set_pss(pctx, s->kind) &&
              EVP_DigestVerify(mctx, sig, sig_len, tbs, len) == 1;

    EVP_MD_CTX_free(mctx);
    return ok;
}

bool prov_sign_one(const struct prov_signer *s, char *why, size_t why_len)
{
    uint8_t tbs[160], sig[512];
    size_t len = prov_cv_content(tbs, 32), sig_len = sizeof(sig);
    bool ok = false;

    if (len == 0) {
        snprintf(why, why_len, "no random bytes");
    } else if (!prov_signer_sign(s, tbs, len, sig, &sig_len)) {
        char errs[700];
        test_errors_text(errs, sizeof(errs));
        snprintf(why, why_len, "%s: signing failed: %s", s->kind->name, errs);
    } else if (!prov_signer_verify(s, tbs, len, sig, sig_len)) {
        snprintf(why, why_len, "%s: a %zu-byte signature does not verify", s->kind->name, sig_len);
    } else {
        ok = true;
    }
    ERR_clear_error();
    return ok;
}

#ifndef LURK_OPENSSL_BIN
#error "LURK_OPENSSL_BIN must name the openssl binary"
#endif

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The s_server this process started and has not reaped; killed at exit (a failed check exits). */
static pid_t s_server_pid;

static void s_server_kill(void)
{
    if (s_server_pid > 0) {
        kill(s_server_pid, SIGKILL);
        waitpid(s_server_pid, NULL, 0);
        s_server_pid = 0;
    }
}

pid_t prov_s_server_start(const char *conf, const char *out, const char *const *args,
                          int timeout_ms)
{
    static bool registered;
    const char *argv[32] = {LURK_OPENSSL_BIN, "s_server"};
    size_t n = 2;
    int fd;

    for (; args[n - 2] != NULL; n++) {
        ck_assert_uint_lt(n, sizeof(argv) / sizeof(argv[0]) - 1);
        argv[n] = args[n - 2];
    }
    if (!registered) {
        atexit(s_server_kill);
        registered = true;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    s_server_pid = fork();
    ck_assert_int_ge(s_server_pid, 0);
    if (s_server_pid == 0) {
        if (conf == NULL)
            unsetenv("OPENSSL_CONF");
        else
            setenv("OPENSSL_CONF", conf, 1);
#ifdef LURK_ASAN_RUNTIME
        /* lurk.so is instrumented, the openssl binary is not: the runtime must come first. */
        setenv("LD_PRELOAD", LURK_ASAN_RUNTIME, 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
#endif
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd);
    for (int waited = 0;; waited += 10) {
        if (prov_count(out, "ACCEPT") > 0)
            return s_server_pid;
        bool exited = waitpid(s_server_pid, NULL, WNOHANG) == s_server_pid;
        if (exited)
            s_server_pid = 0;
        if (exited || waited > timeout_ms) {
            char *text = lurk_test_read_file(out, NULL);
            s_server_kill();
            ck_abort_msg("s_server (%s) did not start:\n%s", out, text ? text : "");
        }
        sleep_ms(10);
    }
}

int prov_s_server_wait(pid_t pid, int timeout_ms)
{
    int status;

    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (pid == s_server_pid)
                s_server_pid = 0;
            return status;
        }
        sleep_ms(10);
    }
    s_server_kill();
    ck_abort_msg("s_server did not exit after its connection");
    return -1;
}

int prov_count(const char *path, const char *needle)
{
    char *text = lurk_test_read_file(path, NULL);
    int n = 0;

    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(text);
    return n;
}

bool prov_wait_count(const char *path, const char *needle, int n, int timeout_ms)
{
    struct timespec ts = {0, 20 * 1000000L};

    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (prov_count(path, needle) >= n)
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

const char *prov_audit_needle(const char *key, const char *exchange, const char *status)
{
    static char needle[256];

    snprintf(needle, sizeof(needle), "\"key\":\"%s\",\"exchange\":\"%s\",\"status\":\"%s\"", key,
             exchange, status);
    return needle;
}
