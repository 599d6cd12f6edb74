/*
 * lurk.so against a real lurkd (tls://) with the client's polling for the
 * answer (lurk-poll-us, docs/provider.md) off, at its default and at its
 * largest: RSA-2048 (PSS) and P-256 CertificateVerify signatures are
 * made one after another and from 4 threads at once, and every one
 * verifies with the certificate's public key in the default provider.
 * The deadlines and the ASYNC path are test_client_poll's.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "check_run.h"
#include "lurk/client.h"
#include "prov_lurkd.h"
#include "prov_test_util.h"

#define SERIAL  30
#define THREADS 4
#define PER_THR 15

static const struct prov_kind kinds[] = {
    {"rsa2048", "SHA256", true},
    {"p256", "SHA256", false},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* lurk-poll-us of each run: never, the default, the largest. */
static const int caps[] = {0, LURK_CLIENT_POLL_US_DEFAULT, LURK_CLIENT_POLL_US_MAX};

struct job {
    const struct prov_signer *s;
    bool ok;
    char why[1024];
};

static void *signer_thread(void *arg)
{
    struct job *j = arg;

    j->ok = true;
    for (int i = 0; i < PER_THR && j->ok; i++)
        j->ok = prov_sign_one(j->s, j->why, sizeof(j->why));
    return NULL;
}

START_TEST(signatures_verify_with_polling_off_and_on)
{
    static const char *const keys[] = {"rsa2048", "p256", NULL};
    struct prov_lurkd lurkd;
    char settings[128], why[1024];
    int cap = caps[_i];

    snprintf(settings, sizeof(settings),
             "lurk-poll-us = %d\nlurk-connections = %d\nlurk-timeout-ms = 15000", cap, THREADS);
    prov_lurkd_start(&lurkd, keys, settings);
    for (size_t k = 0; k < N_KINDS; k++) {
        struct prov_signer s;
        struct job jobs[THREADS];
        pthread_t t[THREADS];

        prov_signer_open(&s, &kinds[k], lurkd.provider_conf, false);
        for (int i = 0; i < SERIAL; i++)
            ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "lurk-poll-us %d, signature %d: %s",
                          cap, i, why);
        for (int i = 0; i < THREADS; i++) {
            jobs[i] = (struct job){.s = &s};
            ck_assert_int_eq(pthread_create(&t[i], NULL, signer_thread, &jobs[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            ck_assert_msg(jobs[i].ok, "lurk-poll-us %d, thread %d: %s", cap, i, jobs[i].why);
        }
        prov_signer_close(&s);
    }
    prov_lurkd_stop(&lurkd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_poll");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, signatures_verify_with_polling_off_and_on, 0,
                        (int)(sizeof(caps) / sizeof(caps[0])));
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
