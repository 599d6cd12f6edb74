/* Client side of the daemon tests: connections to a test lurkd, calls, raw frames. */
#ifndef LURK_TEST_DAEMON_CLIENT_H
#define LURK_TEST_DAEMON_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lurk/client.h"
#include "proc.h"

/* Connects to addr; tls:// uses the test CA and clientN's certificate (1 or 2). */
struct lurk_conn *dc_connect(const char *addr, int client);
/* One request; fails the test on a transport error; returns the response status. */
uint8_t dc_call(struct lurk_conn *c, uint8_t designation, uint8_t type, const uint8_t *payload,
                size_t len, struct lurk_response *resp);
/* Sends raw bytes and reads one message back (false on transport error or close). */
bool dc_raw(struct lurk_conn *c, const uint8_t *msg, size_t len, struct lurk_response *resp);
/* One sample of lurk stats (the Prometheus text) asked on c, a stats client; -1 when absent. */
long long dc_stat(struct lurk_conn *c, const char *series);
/* Builds a whole request message (header with the given fields + payload). */
size_t dc_message(uint8_t *out, size_t cap, uint8_t designation, uint8_t version, uint8_t type,
                  uint8_t status, uint64_t id, const uint8_t *payload, size_t len);
/*
 * A config with a unix listener, a tcp://127.0.0.1:0 and a tls://127.0.0.1:0
 * listener, audit log (every refusal on its own line unless lurkd_settings
 * sets audit_repeat_interval), run_as_root when the test runs as root,
 * clients client1 (tls), local (uid of this process) and tcp, followed by
 * extra (key sections etc.).
 */
bool dc_write_config(struct lurkd_proc *p, const char *lurkd_settings, const char *extra);

/* ---- lurkd processes ---- */

/*
 * A lurkd with dc_write_config(settings, extra), started; *tcp and *tls (when
 * not NULL) receive the chosen listener addresses. Fails the test otherwise.
 * p is initialised first unless p->dir is already set (a test may have
 * written files there). The process is killed if the test process exits
 * without dc_stop.
 */
void dc_start(struct lurkd_proc *p, const char *settings, const char *extra, char *tcp, char *tls,
              size_t addr_len);
/* Starts lurkd -f with exactly args (no -c added), waits for "started:". */
bool dc_start_args(struct lurkd_proc *p, const char *const *args);
/*
 * Runs lurkd with args to completion (killed after timeout_ms); returns its
 * exit status (-1 on timeout) and its output (stdout + stderr) in out.
 * Fails the test if the output holds a sanitizer report.
 */
int dc_run(const struct lurkd_proc *p, const char *const *args, char *out, size_t outlen,
           int timeout_ms);
/* lurkd's exit status for a configuration or key error (EX_CONFIG, docs/deploy.md §3). */
#define DC_EXIT_CONFIG 78
/* Waits for the process to exit on its own; its exit status, -1 on timeout. */
int dc_wait_exit(struct lurkd_proc *p, int timeout_ms);
/*
 * SIGTERM, asserts exit status 0 and no sanitizer report in the log, then
 * removes the directory. Use as teardown.
 */
void dc_stop(struct lurkd_proc *p);
/* Fails the test when the log holds an AddressSanitizer/LeakSanitizer/UBSan report. */
void dc_assert_no_sanitizer_report(const char *log_path);

/* ---- logs ---- */

/* Occurrences of needle in the file (0 when it cannot be read). */
int dc_count(const char *path, const char *needle);
/* Waits until needle occurs at least n times; false after timeout_ms. */
bool dc_wait_count(const char *path, const char *needle, int n, int timeout_ms);
/* The audit line (malloc'd, without newline) of request id, waiting up to 5 s; NULL if none. */
char *dc_audit_line(const struct lurkd_proc *p, uint64_t id);
/*
 * Asserts that request id was audited with status_name and a note that
 * contains note (any non-null note when note is NULL).
 */
void dc_assert_audited(const struct lurkd_proc *p, uint64_t id, const char *status_name,
                       const char *note);

/*
 * Batched form (audit lines are flushed every 100 ms): record what request id
 * must show, then check every recorded expectation at once and forget them.
 */
void dc_expect_audit(uint64_t id, const char *status_name, const char *note);
void dc_check_audits(const struct lurkd_proc *p);

/* ---- raw pipelining ---- */

/* Sends bytes; fails the test on a transport error. */
void dc_send(struct lurk_conn *c, const uint8_t *buf, size_t len);
/* Receives one whole message (false on close, error or timeout). */
bool dc_recv(struct lurk_conn *c, struct lurk_response *resp, int timeout_ms);

/* ---- keys and signatures, computed here with OpenSSL, independently of lurkd ---- */

/* A private key from a PEM file, or from PEM text. Fails the test otherwise. */
EVP_PKEY *dc_load_key(const char *path);
EVP_PKEY *dc_key_from_pem(const char *pem);
/* key id: SHA-256 over the SubjectPublicKeyInfo DER, first 4 bytes (docs/architecture.md §5). */
void dc_key_id(EVP_PKEY *pkey, uint8_t id[4]);
void dc_key_id_hex(EVP_PKEY *pkey, char hex[9]);
/*
 * Verifies sig over msg: md NULL for EdDSA; pss selects RSASSA-PSS with
 * MGF1(md) and a salt as long as the hash (RFC 8446 §4.2.3).
 */
bool dc_verify(EVP_PKEY *pkey, const char *md, bool pss, const uint8_t *msg, size_t len,
               const uint8_t *sig, size_t sig_len);
/*
 * A tls13 sign_certificate_verify payload (docs/protocol.md): key_id
 * (type, 4 bytes), SignatureScheme, role, transcript_hash<1 byte length>.
 */
size_t dc_sign_cv_payload(uint8_t *out, uint8_t key_id_type, const uint8_t key_id[4],
                          uint16_t scheme, uint8_t role, const uint8_t *hash, size_t hash_len);
/* RFC 8446 §4.4.3: 64 spaces, the context string of role, 0x00, the hash; its length. */
size_t dc_cv_content(uint8_t *out, uint8_t role, const uint8_t *hash, size_t hash_len);
/*
 * A TLS 1.2 RSA handshake as -05 §4.1 handshake_messages: ClientHello
 * (random cr, one suite, extended_master_secret when ems), ServerHello (random
 * s, the suite, ems), ServerHelloDone, ClientKeyExchange carrying epms.
 */
size_t dc_tls12_rsa_handshake(uint8_t *out, size_t cap, const uint8_t cr[32], const uint8_t s[32],
                              uint16_t suite, bool ems, const uint8_t *epms, size_t epms_len);
/* Writes text to dir/name and returns the path (static buffer, one at a time). */
const char *dc_write_file(const struct lurkd_proc *p, const char *name, const char *text);

#endif
