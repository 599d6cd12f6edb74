/* A real lurkd for the provider's integration tests; see prov_lurkd.h. */
#include "prov_lurkd.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
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
            geteuid() == 0 ? "run_as_root = yes\n" : "", lurk_test_pki("lurkd.crt"), lurk_test_pki("lurkd.key"), lurk_test_pki("ca.crt"), spki1,
            spki2);
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
