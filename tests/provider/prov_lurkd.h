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
#include <stdint.h>
#include <sys/types.h>

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

/* ---- a server key as an application sees it: through lurk.so ---- */

/* A PKI server key lurkd holds: server-<name>.crt, [key.<name>]. */
struct prov_kind {
    const char *name;
    const char *md; /* NULL for EdDSA */
    bool pss;       /* RSA-PSS (rsa_pss_rsae_*), salt as long as the digest */
};

struct prov_signer {
    const struct prov_kind *kind;
    OSSL_LIB_CTX *libctx; /* NULL: the default context */
    EVP_PKEY *key;        /* the key reference, decoded by lurk.so */
    EVP_PKEY *pub;        /* the certificate's key, default provider (for verifying) */
};

/*
 * Loads the openssl.cnf conf into a fresh library context, or into the
 * default one (the context nginx and haproxy use) when default_ctx, and
 * decodes there the key reference of kind's certificate. Fails the test
 * unless the key is lurk.so's.
 */
void prov_signer_open(struct prov_signer *s, const struct prov_kind *kind, const char *conf,
                      bool default_ctx);
void prov_signer_close(struct prov_signer *s);
/* The kind's padding on a signing or verifying context (nothing to do unless RSA-PSS). */
bool prov_signer_set_pss(EVP_PKEY_CTX *pctx, const struct prov_kind *kind);
/*
 * RFC 8446 §4.4.3: 64 spaces, the server context string, 0x00 and a random
 * transcript hash of hash_len bytes, into out (98 + hash_len bytes); 0 when
 * no random bytes could be had.
 */
size_t prov_cv_content(uint8_t *out, size_t hash_len);
/*
 * Signs tbs through lurk.so; *sig_len is sig's size on entry. No Check
 * assertion: it also runs in ASYNC jobs, forked children and threads.
 */
bool prov_signer_sign(const struct prov_signer *s, const uint8_t *tbs, size_t len, uint8_t *sig,
                      size_t *sig_len);
/* Verifies with the public key alone, in the default provider: lurk.so is not involved. */
bool prov_signer_verify(const struct prov_signer *s, const uint8_t *tbs, size_t len,
                        const uint8_t *sig, size_t sig_len);
/*
 * One CertificateVerify signature of fresh content through lurk.so,
 * verified with the public key; false with why (what failed, and
 * OpenSSL's errors, which name the lurkd addresses tried). No Check
 * assertion: it runs in threads and forked children too.
 */
bool prov_sign_one(const struct prov_signer *s, char *why, size_t why_len);

/*
 * openssl s_server (the openssl binary, LURK_OPENSSL_BIN) as the
 * application holding a key reference: `openssl s_server ARGS...` (args
 * NULL-terminated, what follows "s_server"), stdout and stderr into the
 * file out, OPENSSL_CONF set to conf (NULL: unset, stock OpenSSL) and, when
 * lurk.so is instrumented, the ASan runtime preloaded. Waits until it
 * accepts; if it exits first or takes longer than timeout_ms the test fails
 * with its output. One server at a time per process; it is killed if the
 * process exits (a failed check) before prov_s_server_wait reaped it.
 */
pid_t prov_s_server_start(const char *conf, const char *out, const char *const *args,
                          int timeout_ms);
/*
 * Waits for a server that serves one connection (-naccept 1) to exit: its
 * wait status. After timeout_ms the server is killed and the test fails.
 */
int prov_s_server_wait(pid_t pid, int timeout_ms);

/* Occurrences of needle in the file (0 when it cannot be read). */
int prov_count(const char *path, const char *needle);
/* Waits until needle occurs at least n times; false after timeout_ms. */
bool prov_wait_count(const char *path, const char *needle, int n, int timeout_ms);
/* The audit needle of a key's successful (or other status) operation. */
const char *prov_audit_needle(const char *key, const char *exchange, const char *status);

#endif
