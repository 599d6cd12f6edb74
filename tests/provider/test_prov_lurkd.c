/*
 * lurk.so against a real lurkd (issue 4, "Tests"): a key reference loaded
 * through an openssl.cnf in a fresh library context signs TLS 1.3
 * CertificateVerify contents
 *   - in a parent and 4 forked children at once (100 signatures each): the
 *     children inherit the parent's live connection to lurkd and must
 *     neither use nor disturb it, so lurkd sees exactly one new TLS
 *     connection per child and none from a retry;
 *   - from 8 threads sharing the key, more threads than lurk-connections;
 * and every signature verifies with the certificate's public key, checked
 * here in the default provider, independently of lurk.so. Generic signing
 * (arbitrary data, bare digests, X.509 structures) fails with "no LURK
 * exchange for this content" and sends nothing to lurkd.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "check_run.h"
#include "prov_lurkd.h"
#include "prov_test_util.h"

#define R_NO_EXCHANGE "no LURK exchange for this content"
#define EX_SIGN_CV    "tls13/sign_certificate_verify"
#define TLS_CONN      "TLS connection from"

#define CHILDREN    4
#define PER_PROCESS 100
#define THREADS     8
#define PER_THREAD  100
#define CONNECTIONS 3 /* lurk-connections: fewer than THREADS, so threads wait for one */

static const struct prov_kind kinds[] = {
    {"rsa2048", "SHA256", true},
    {"p256", "SHA256", false},
    {"ed25519", NULL, false},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static struct prov_lurkd lurkd;

static void start(void)
{
    static const char *const keys[] = {"rsa2048", "p256", "ed25519", NULL};
    char settings[128];

    /*
     * Nothing here is meant to time out: a generous lurk-timeout-ms keeps the
     * fork test's burst of RSA signatures (parent and children at once) from
     * failing on a loaded 2-CPU machine, as the 2 s default once did.
     */
    snprintf(settings, sizeof(settings), "lurk-connections = %d\nlurk-timeout-ms = 15000",
             CONNECTIONS);
    prov_lurkd_start(&lurkd, keys, settings);
}

static void stop(void)
{
    prov_lurkd_stop(&lurkd);
}

/* ---- a process's view: the key through lurk.so, its public key through the default provider */

static bool sign_many(const struct prov_signer *s, int n, char *why, size_t why_len)
{
    for (int i = 0; i < n; i++)
        if (!prov_sign_one(s, why, why_len))
            return false;
    return true;
}

static int audited(const char *key)
{
    return prov_count(lurkd.proc.audit, prov_audit_needle(key, EX_SIGN_CV, "success"));
}

static void wait_audited(const char *key, int n)
{
    ck_assert_msg(
        prov_wait_count(lurkd.proc.audit, prov_audit_needle(key, EX_SIGN_CV, "success"), n, 10000),
        "lurkd audited %d successful signatures with %s, expected %d", audited(key), key, n);
}

/* ---- fork ---- */

static void fork_test(const struct prov_kind *kind, bool default_ctx)
{
    int audit0 = audited(kind->name), conns;
    int start_pipe[2], report[2];
    pid_t pids[CHILDREN];
    struct prov_signer s;
    char why[1024];
    ssize_t got;

    prov_signer_open(&s, kind, lurkd.provider_conf, default_ctx);
    /* The parent's connection exists before the fork: the children inherit it. */
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    ck_assert(prov_wait_count(lurkd.proc.log, TLS_CONN, 1, 5000));
    conns = prov_count(lurkd.proc.log, TLS_CONN);

    ck_assert_int_eq(pipe(start_pipe), 0);
    ck_assert_int_eq(pipe(report), 0);
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            char buf;
            bool ok;
            close(start_pipe[1]);
            close(report[0]);
            /* Wait until every child exists, then all sign at once with the parent. */
            while (read(start_pipe[0], &buf, 1) < 0 && errno == EINTR)
                ;
            ok = sign_many(&s, PER_PROCESS, why, sizeof(why));
            if (!ok) {
                char line[1100];
                int n = snprintf(line, sizeof(line), "child %d: %s\n", c, why);
                if (write(report[1], line, (size_t)n) < 0)
                    _exit(3);
            }
            _exit(ok ? 0 : 1); /* no atexit handlers: Check's and OpenSSL's belong to the parent */
        }
    }
    close(start_pipe[0]);
    close(report[1]);
    close(start_pipe[1]); /* go */
    ck_assert_msg(sign_many(&s, PER_PROCESS, why, sizeof(why)), "parent: %s", why);

    for (int c = 0; c < CHILDREN; c++) {
        int status;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char msg[4096] = "";
            got = read(report[0], msg, sizeof(msg) - 1);
            msg[got > 0 ? got : 0] = '\0';
            ck_abort_msg("child %d failed (status 0x%x): %s", c, status, msg);
        }
    }
    close(report[0]);

    /* Each signature was one lurkd operation: 1 + 100 by the parent, 100 by each child. */
    wait_audited(kind->name, audit0 + 1 + PER_PROCESS * (CHILDREN + 1));
    /*
     * One new connection per child and none for the parent: had a child
     * written on the inherited connection, lurkd would have dropped it and
     * the parent would have reconnected.
     */
    ck_assert(prov_wait_count(lurkd.proc.log, TLS_CONN, conns + CHILDREN, 5000));
    ck_assert_int_eq(prov_count(lurkd.proc.log, TLS_CONN), conns + CHILDREN);
    prov_signer_close(&s);
}

START_TEST(fork_children_and_parent_sign)
{
    fork_test(&kinds[_i], false);
}
END_TEST

/* nginx's way: the master loads the key in the default context, then forks workers. */
START_TEST(fork_in_the_default_context)
{
    fork_test(&kinds[0], true);
}
END_TEST

/* ---- threads ---- */

struct worker {
    pthread_t thread;
    const struct prov_signer *s;
    pthread_barrier_t *go;
    bool ok;
    char why[1024];
};

static void *work(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(w->go);
    w->ok = sign_many(w->s, PER_THREAD, w->why, sizeof(w->why));
    return NULL;
}

START_TEST(threads_share_the_key)
{
    const struct prov_kind *kind = &kinds[_i];
    int audit0 = audited(kind->name), conns0 = prov_count(lurkd.proc.log, TLS_CONN), conns;
    struct worker w[THREADS];
    pthread_barrier_t go;
    struct prov_signer s;

    prov_signer_open(&s, kind, lurkd.provider_conf, false);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, THREADS), 0);
    for (int t = 0; t < THREADS; t++) {
        memset(&w[t], 0, sizeof(w[t]));
        w[t].s = &s;
        w[t].go = &go;
        ck_assert_int_eq(pthread_create(&w[t].thread, NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(w[t].thread, NULL), 0);
    pthread_barrier_destroy(&go);
    for (int t = 0; t < THREADS; t++)
        ck_assert_msg(w[t].ok, "thread %d: %s", t, w[t].why);

    wait_audited(kind->name, audit0 + THREADS * PER_THREAD);
    /* The pool never holds more than lurk-connections connections. */
    conns = prov_count(lurkd.proc.log, TLS_CONN) - conns0;
    ck_assert_msg(conns >= 1 && conns <= CONNECTIONS, "%d connections for %d threads (limit %d)",
                  conns, THREADS, CONNECTIONS);
    prov_signer_close(&s);
}
END_TEST

/* ---- nothing but TLS content ---- */

static void expect_no_exchange(const struct prov_signer *s, const char *what)
{
    char data[1024];

    ck_assert_msg(test_errors_have_reason(R_NO_EXCHANGE, data, sizeof(data)),
                  "%s with %s: no \"%s\" error", what, s->kind->name, R_NO_EXCHANGE);
    ck_assert_msg(strstr(data, lurkd.tls_addr) != NULL, "%s: the server is not named: %s", what,
                  data);
}

START_TEST(generic_signing_refused)
{
    const struct prov_kind *kind = &kinds[_i];
    int lines0 = prov_count(lurkd.proc.audit, "\n");
    uint8_t data[300], sig[512], digest[32];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    struct prov_signer s;
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    char why[1024];

    prov_signer_open(&s, kind, lurkd.provider_conf, false);
    ck_assert_int_eq(RAND_bytes(data, sizeof(data)), 1);
    memset(digest, 0x5a, sizeof(digest));

    /* EVP_DigestSign on arbitrary data (openssl dgst -sign, pkeyutl -rawin). */
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, kind->md, s.libctx, NULL, s.key, NULL), 1);
    ck_assert(prov_signer_set_pss(pctx, kind));
    ck_assert_int_le(EVP_DigestSign(mctx, sig, &sig_len, data, sizeof(data)), 0);
    expect_no_exchange(&s, "EVP_DigestSign");

    /* A bare digest (openssl pkeyutl -sign). EdDSA has no pre-hashed form to refuse. */
    if (kind->md != NULL) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(s.libctx, s.key, NULL);
        sig_len = sizeof(sig);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
        ck_assert_int_le(EVP_PKEY_sign(ctx, sig, &sig_len, digest, sizeof(digest)), 0);
        expect_no_exchange(&s, "EVP_PKEY_sign");
        EVP_PKEY_CTX_free(ctx);
    }

    /* X.509 signing: the AlgorithmIdentifier query is refused (it used to crash OpenSSL 3.0). */
    ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"x", -1,
                                         -1, 0));
    ck_assert(X509_REQ_set_subject_name(req, name));
    ck_assert(X509_REQ_set_pubkey(req, s.pub));
    EVP_MD_CTX_reset(mctx);
    ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, kind->md, s.libctx, NULL, s.key, NULL), 1);
    ck_assert(prov_signer_set_pss(pctx, kind));
    ck_assert_int_le(X509_REQ_sign_ctx(req, mctx), 0);
    expect_no_exchange(&s, "X509_REQ_sign_ctx");

    /*
     * Nothing reached lurkd: one real signature now, and its audit line is
     * the only new one (lurkd writes them in order).
     */
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    ck_assert(prov_wait_count(lurkd.proc.audit, "\n", lines0 + 1, 10000));
    ck_assert_int_eq(prov_count(lurkd.proc.audit, "\n"), lines0 + 1);

    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_MD_CTX_free(mctx);
    prov_signer_close(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_lurkd");
    TCase *tc = tcase_create("lurkd");

    /* One lurkd for every test; each test opens its own library context. */
    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, generic_signing_refused, 0, N_KINDS);
    tcase_add_loop_test(tc, fork_children_and_parent_sign, 0, N_KINDS);
    tcase_add_test(tc, fork_in_the_default_context);
    tcase_add_loop_test(tc, threads_share_the_key, 0, N_KINDS);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
