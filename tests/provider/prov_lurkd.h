/*
 * The provider with a real lurkd (suite 'provider', integration tests): a
 * lurkd process holding server keys of the test PKI behind a tls://
 * listener, an openssl.cnf that loads lurk.so and points at it with
 * client1's mTLS identity, key references for the PKI certificates, and
 * the log counting the tests wait on.
 */
#ifndef LURK_PROV_LURKD_H
#define LURK_PROV_LURKD_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "proc.h"

struct prov_lurkd {
    struct lurkd_proc proc;
    char tls_addr[128];      /* tls://127.0.0.1:<port> the listener got */
    char provider_conf[400]; /* proc.dir/openssl.cnf: default, then lurk with lurk-* settings */
};

/*
 * Starts lurkd (log_level debug: it logs every TLS connection) with the
 * PKI's server-<name> keys (NULL-terminated names), usable by client1 for
 * every exchange, and writes the provider's openssl.cnf with
 * extra_settings (lurk-connections, ...; may be NULL) appended. Fails the
 * test otherwise. The daemon is killed if the process exits without
 * prov_lurkd_stop.
 */
void prov_lurkd_start(struct prov_lurkd *l, const char *const *keys, const char *extra_settings);
/* SIGTERM, waits, removes the directory. */
void prov_lurkd_stop(struct prov_lurkd *l);

/* PEM key reference (malloc'd) for the PKI certificate file (e.g. "server-rsa2048.crt"). */
char *prov_keyref_for_cert(const char *cert_file, const char *server);
/* The PKI certificate's public key, in the default library context (for verifying). */
EVP_PKEY *prov_cert_pubkey(const char *cert_file);
/* Writes text to dir/name; returns the path (static buffer, one at a time). */
const char *prov_write(const struct prov_lurkd *l, const char *name, const char *text);

/* Occurrences of needle in the file (0 when it cannot be read). */
int prov_count(const char *path, const char *needle);
/* Waits until needle occurs at least n times; false after timeout_ms. */
bool prov_wait_count(const char *path, const char *needle, int n, int timeout_ms);
/* The audit needle of a key's successful (or other status) operation. */
const char *prov_audit_needle(const char *key, const char *exchange, const char *status);

#endif
