/*
 * LURK client transport, shared by the provider and lurkctl: one blocking
 * connection to lurkd over unix, tcp or tls, with deadlines, length-based
 * framing and id-matched request/response. A request can also be sent and
 * its response collected without waiting, for a caller that waits
 * elsewhere (the provider inside an OpenSSL ASYNC job).
 *
 * Nothing here uses global state. The TLS context is built by the caller's
 * choice of library context, so the provider can keep its link to lurkd in a
 * private OSSL_LIB_CTX that only holds the default provider.
 */
#ifndef LURK_CLIENT_H
#define LURK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "lurk/address.h"
#include "lurk/header.h"

/* Largest response the client accepts (a capabilities response lists certificates). */
#define LURK_CLIENT_MAX_FRAME (1024 * 1024)

/*
 * A TLS 1.3 client context for tls:// addresses: verifies lurkd's certificate
 * against ca_file and presents cert_file/key_file (PEM). libctx may be NULL
 * for the default library context.
 */
SSL_CTX *lurk_client_tls_ctx_new(OSSL_LIB_CTX *libctx, const char *ca_file, const char *cert_file,
                                 const char *key_file, char *err, size_t errlen);

struct lurk_conn;

/* Connects (and completes the TLS handshake) within timeout_ms. */
struct lurk_conn *lurk_conn_open(const struct lurk_address *addr, SSL_CTX *tls_ctx, int timeout_ms,
                                 char *err, size_t errlen);
/* Closes politely (TLS close_notify) and frees. NULL is fine. */
void lurk_conn_close(struct lurk_conn *conn);
/*
 * Frees without writing anything: for a connection inherited across fork(),
 * whose TLS state belongs to the parent. Only the fd copy is closed.
 */
void lurk_conn_abandon(struct lurk_conn *conn);
int lurk_conn_fd(const struct lurk_conn *conn);
const struct lurk_address *lurk_conn_address(const struct lurk_conn *conn);

/*
 * Polling for the answer (docs/performance.md, "Polling for the answer";
 * docs/provider.md, lurk-poll-us): lurk_conn_call and lurk_conn_recv poll
 * the socket for a while before they sleep in poll(), so that an answer
 * coming soon finds this thread awake instead of paying the wake-up of an
 * idle vCPU. How long adapts per connection (lurk/poll_window.h) up to
 * cap_us, once per answer (the rest of an answer that comes in pieces is
 * slept for); a poll that loses the CPU stops at once, and none goes past the
 * call's deadline. With sleep_first, an answer that usually takes longer
 * than the cap (an RSA signature) is first slept for, in a ppoll with a
 * timeout learned from the connection's recent answers, and polled for
 * only near its expected arrival. A connection whose answers came no
 * sooner when polled for than when slept for lately (a busy machine, a
 * distant lurkd) sleeps, and polls again once a poll now and then shows
 * it pays. cap_us 0, the default of a new
 * connection, never polls. Connecting, writing and lurk_conn_response
 * (the provider's ASYNC path, whose caller has an event loop to get back
 * to) never poll.
 */
#define LURK_CLIENT_POLL_US_DEFAULT 100
#define LURK_CLIENT_POLL_US_MAX     100000
void lurk_conn_set_poll(struct lurk_conn *conn, unsigned cap_us, bool sleep_first);

/* How this connection's waits for an answer ended, for tests and lurk-bench. */
struct lurk_conn_poll_stats {
    uint64_t polled;               /* the answer came while polling */
    uint64_t woken;                /* it came after the thread blocked (or slept) */
    uint64_t slept;                /* waits that began with a learned sleep */
    uint64_t unpolled;             /* answers slept for: polling did not pay lately, or a probe */
    uint32_t window_ns, answer_ns; /* the window in force; the learned answer time */
};
void lurk_conn_poll_stats(const struct lurk_conn *conn, struct lurk_conn_poll_stats *out);

/* Sends one whole message. */
bool lurk_conn_send(struct lurk_conn *conn, const uint8_t *msg, size_t len, int timeout_ms,
                    char *err, size_t errlen);
/* Receives one whole message into a malloc'd buffer (the caller frees it). */
bool lurk_conn_recv(struct lurk_conn *conn, uint8_t **msg, size_t *len, int timeout_ms, char *err,
                    size_t errlen);

/* A received response: the raw bytes and a parsed view into them. */
struct lurk_response {
    uint8_t *buf;
    size_t len;
    struct lurk_message msg;
};
void lurk_response_free(struct lurk_response *resp);

/*
 * One request/response: builds the header (random id, status request),
 * sends, and waits until a response with the same id arrives, discarding
 * others (late answers to earlier requests that timed out). False on
 * transport failure or timeout; true when a response arrived, whatever its
 * status: the caller reads resp->msg.hdr.status.
 */
bool lurk_conn_call(struct lurk_conn *conn, uint8_t designation, uint8_t type,
                    const uint8_t *payload, size_t payload_len, struct lurk_response *resp,
                    int timeout_ms, char *err, size_t errlen);

/* lurk_conn_call in two halves: a request sent, and what its response must match. */
struct lurk_conn_request {
    int64_t deadline_ms; /* CLOCK_MONOTONIC, in ms: when the whole call times out */
    uint64_t id;
    uint8_t designation, type;
};

enum lurk_conn_status {
    LURK_CONN_FAILED, /* transport failure, timeout or a mismatched answer: err says which */
    LURK_CONN_DONE,   /* the response is in resp */
    LURK_CONN_AGAIN,  /* not (entirely) arrived yet; the bytes so far stay in the connection */
};

/* Sends the request (within timeout_ms, which also bounds the response). */
bool lurk_conn_request(struct lurk_conn *conn, uint8_t designation, uint8_t type,
                       const uint8_t *payload, size_t payload_len, int timeout_ms,
                       struct lurk_conn_request *req, char *err, size_t errlen);
/*
 * Collects the response to req, as lurk_conn_call does. With wait, waits
 * until req's deadline (never AGAIN); without, takes only what the socket
 * already holds and returns LURK_CONN_AGAIN when that is not a whole
 * response: the caller then waits for lurk_conn_fd to become readable.
 */
enum lurk_conn_status lurk_conn_response(struct lurk_conn *conn,
                                         const struct lurk_conn_request *req,
                                         struct lurk_response *resp, bool wait, char *err,
                                         size_t errlen);

/* An unpredictable 64-bit request id (lurk-lurk §5.2). */
uint64_t lurk_random_id(void);

#endif
