/*
 * A fake lurkd for the provider's single-module tests (prov_verify,
 * prov_client_cv): a unix socket in a fresh directory, a thread per
 * connection of the provider's pool, and every request, read and parsed as a
 * whole LURK message, handed to the test's answer function. Real lurkd
 * processes are prov_lurkd.h's.
 */
#ifndef LURK_TEST_FAKE_LURKD_H
#define LURK_TEST_FAKE_LURKD_H

#include <stdbool.h>

#include <openssl/types.h>

#include "lurk/bytes.h"
#include "lurk/header.h"

/*
 * Writes the whole response message to req into out (header included);
 * false drops the connection without an answer. Runs on the connection's
 * thread.
 */
typedef bool (*fake_lurkd_answer_fn)(const struct lurk_message *req, lurk_cbb *out);

/*
 * Starts the fake lurkd in a new directory named after prefix and returns a
 * library context whose lurk provider talks to it (lurk-timeout-ms 5000).
 * Fails the test on error.
 */
OSSL_LIB_CTX *fake_lurkd_start(const char *prefix, fake_lurkd_answer_fn answer);
/* Frees cctx, stops the threads (each within 100 ms) and removes the files. */
void fake_lurkd_stop(OSSL_LIB_CTX *cctx);

#endif
