/* Request routing; see dispatch.h. */
#include "exchange/dispatch.h"

#include <string.h>
#include <time.h>

#include "ops/audit.h"
#include "ops/metrics.h"
#include "exchange/exchange.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"

#define PAYLOAD_MAX (1024 * 1024 - LURK_HEADER_LEN)

/* key_op: a private-key operation, audited whatever its outcome (docs/architecture.md §5). */
static const struct {
    uint8_t designation;
    uint8_t type;
    lurkd_exchange_fn fn;
    bool key_op;
} exchanges[] = {
    {LURK_DESIGNATION_LURK, LURK_TYPE_CAPABILITIES, lurkd_ex_lurk_capabilities, false},
    {LURK_DESIGNATION_LURK, LURK_TYPE_PING, lurkd_ex_ping, false},
    {LURK_DESIGNATION_LURK, LURK_TYPE_STATS, lurkd_ex_lurk_stats, false},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CAPABILITIES, lurkd_ex_tls12_capabilities, false},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_PING, lurkd_ex_ping, false},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_MASTER, lurkd_ex_tls12_rsa_master, true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_MASTER_WITH_POH, lurkd_ex_tls12_rsa_handshake,
     true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_EXTENDED_MASTER, lurkd_ex_tls12_rsa_handshake,
     true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH,
     lurkd_ex_tls12_rsa_handshake, true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_ECDHE, lurkd_ex_tls12_ecdhe, true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER, lurkd_ex_tls12_rsa_premaster, true},
    {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY,
     lurkd_ex_tls12_client_certificate_verify, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_CAPABILITIES, lurkd_ex_tls13_capabilities, false},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_PING, lurkd_ex_ping, false},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
     lurkd_ex_tls13_sign_certificate_verify, true},
    /* tls13 -01 key schedule: secrets of held keys and PSKs, audited like signatures. */
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_BINDER_KEY, lurkd_ex_tls13_binder_key, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_EARLY_SECRET, lurkd_ex_tls13_early_secret, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_HANDSHAKE_AND_APP_SECRET,
     lurkd_ex_tls13_handshake_and_app_secret, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_INIT_HANDSHAKE_SECRET,
     lurkd_ex_tls13_init_handshake_secret, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_HANDSHAKE_SECRET, lurkd_ex_tls13_handshake_secret,
     true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_APP_SECRET, lurkd_ex_tls13_app_secret, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_INIT_CERTIFICATE_VERIFY,
     lurkd_ex_tls13_init_certificate_verify, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_CERTIFICATE_VERIFY, lurkd_ex_tls13_certificate_verify,
     true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_POST_HANDSHAKE, lurkd_ex_tls13_post_handshake, true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_NEW_SESSION_TICKET, lurkd_ex_tls13_new_session_ticket,
     true},
    {LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_REGISTER_SESSION_TICKET,
     lurkd_ex_tls13_register_session_ticket, true},
};

static bool extension_supported(uint8_t designation, uint8_t version)
{
    return version == LURK_VERSION &&
           (designation == LURK_DESIGNATION_LURK || designation == LURK_DESIGNATION_TLS12 ||
            designation == LURK_DESIGNATION_TLS13);
}

static lurkd_exchange_fn find_exchange(uint8_t designation, uint8_t type, bool *key_op)
{
    for (size_t i = 0; i < sizeof(exchanges) / sizeof(exchanges[0]); i++) {
        if (exchanges[i].designation == designation && exchanges[i].type == type) {
            *key_op = exchanges[i].key_op;
            return exchanges[i].fn;
        }
    }
    return NULL;
}

/* What was answered, for the request metrics. */
struct answer {
    uint8_t designation;
    uint8_t status;
};

static struct answer write_response(lurk_cbb *out, const struct lurk_header *req,
                                    uint8_t designation, uint8_t version, uint8_t status,
                                    const uint8_t *payload, size_t payload_len)
{
    struct lurk_header hdr = {
        .designation = designation,
        .version = version,
        .type = req->type,
        .status = status,
        .id = req->id,
    };
    size_t start;

    lurk_message_begin(out, &start, &hdr);
    lurk_cbb_add_bytes(out, payload, payload_len);
    lurk_message_end(out, start);
    return (struct answer){designation, status};
}

/* lurk-lurk §4.2: an error carries lurk_state so the client can tell the config changed. */
static struct answer write_error(lurk_cbb *out, const struct lurk_header *req, uint8_t designation,
                                 uint8_t version, uint8_t status, const struct lurkd_runtime *rt)
{
    return write_response(out, req, designation, version, status, rt->state, LURK_STATE_LEN);
}

void lurkd_dispatch_reject(const struct lurkd_runtime *rt, const struct lurk_header *req,
                           uint8_t lurk_status, lurk_cbb *out)
{
    write_error(out, req, LURK_DESIGNATION_LURK, LURK_VERSION, lurk_status, rt);
    lurkd_metrics_request(req->designation, req->type, LURK_DESIGNATION_LURK, lurk_status, 0);
}

static uint64_t elapsed_us(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000u +
           (uint64_t)((t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Nothing is looked up or formatted for an audit log that is off. */
static void audit(const struct lurkd_request *req, uint8_t status, const struct timespec *t0)
{
    if (!lurkd_audit_enabled())
        return;

    const struct lurkd_client_conf *client = lurkd_policy_client(req->rt->cfg, req->peer);
    struct lurkd_audit_event ev = {
        .peer = req->peer->text,
        .client = client ? client->name : NULL,
        .key_id = req->has_key_id ? req->key_id.id : NULL,
        .key = req->key ? req->key->conf->name : NULL,
        .designation = req->lurk_error ? LURK_DESIGNATION_LURK : req->hdr->designation,
        .type = req->hdr->type,
        .status = status,
        .request_id = req->hdr->id,
        .micros = elapsed_us(t0),
        .note = req->note,
    };

    lurkd_audit_log(&ev);
}

static struct answer dispatch(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                              const struct lurkd_dispatch_msg *m, lurk_cbb *out,
                              const struct timespec *t0);

/* Requests that named a key are also counted per key; unknown ids in one series (metrics.h). */
static void count_key(const struct lurkd_request *req, const struct answer *a)
{
    if (req->has_key_id)
        lurkd_metrics_key_request(req->key ? req->key_id.id : NULL, req->hdr->designation,
                                  req->hdr->type, a->designation, a->status);
}

bool lurkd_dispatch_parse(const uint8_t *frame, size_t len, struct lurkd_dispatch_msg *m)
{
    m->sign_cv_decoded = false;
    return lurk_message_parse(frame, len, &m->msg);
}

/* Every answer is counted by request type and response status (metrics.h). */
void lurkd_dispatch_msg(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                        const struct lurkd_dispatch_msg *m, lurk_cbb *out)
{
    struct timespec t0;
    size_t start = lurk_cbb_len(out);
    struct answer a;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    a = dispatch(rt, peer, m, out, &t0);
    if (lurk_cbb_len(out) < start + LURK_HEADER_LEN)
        return;
    lurkd_metrics_request(m->msg.hdr.designation, m->msg.hdr.type, a.designation, a.status,
                          elapsed_us(&t0));
}

void lurkd_dispatch(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                    const uint8_t *frame, size_t len, lurk_cbb *out)
{
    struct lurkd_dispatch_msg m;

    /* The I/O thread frames exactly; nothing else reaches here. */
    if (lurkd_dispatch_parse(frame, len, &m))
        lurkd_dispatch_msg(rt, peer, &m, out);
}

static struct answer dispatch(const struct lurkd_runtime *rt, const struct lurkd_peer *peer,
                              const struct lurkd_dispatch_msg *m, lurk_cbb *out,
                              const struct timespec *t0)
{
    const struct lurk_header *hdr = &m->msg.hdr;
    struct answer a;
    lurkd_exchange_fn fn;
    lurk_cbb payload;
    uint8_t status;
    bool key_op = false;

    /* lurk-lurk §5.3, in order; errors before the payload use designation lurk. */
    if (!extension_supported(hdr->designation, hdr->version))
        return write_error(out, hdr, LURK_DESIGNATION_LURK, LURK_VERSION,
                           LURK_STATUS_INVALID_EXTENSION, rt);
    if (hdr->status != LURK_STATUS_REQUEST)
        return write_error(out, hdr, LURK_DESIGNATION_LURK, LURK_VERSION,
                           LURK_STATUS_INVALID_STATUS, rt);
    fn = find_exchange(hdr->designation, hdr->type, &key_op);
    if (fn == NULL)
        return write_error(out, hdr, LURK_DESIGNATION_LURK, LURK_VERSION, LURK_STATUS_INVALID_TYPE,
                           rt);

    /* Refused key operations are audited too, the malformed ones included. */
    struct lurkd_request req = {.rt = rt,
                                .peer = peer,
                                .hdr = hdr,
                                .payload = m->msg.payload,
                                .sign_cv = m->sign_cv_decoded ? &m->sign_cv : NULL,
                                .audited = key_op};
    if (!lurk_cbb_init(&payload, 256, PAYLOAD_MAX))
        return write_error(out, hdr, LURK_DESIGNATION_LURK, LURK_VERSION,
                           LURK_STATUS_TEMPORARY_FAILURE, rt);
    status = fn(&req, &payload);
    /* A handler's designation-lurk answer (a resource limit: temporary_failure). */
    if (req.lurk_error != 0) {
        status = req.lurk_error;
        a = write_error(out, hdr, LURK_DESIGNATION_LURK, LURK_VERSION, status, rt);
        lurk_cbb_cleanup(&payload);
        if (req.audited)
            audit(&req, status, t0);
        count_key(&req, &a);
        return a;
    }
    if (status == LURK_STATUS_SUCCESS && !lurk_cbb_ok(&payload))
        status = LURK_STATUS_UNDEFINED_ERROR; /* same value in every designation */
    if (status == LURK_STATUS_SUCCESS)
        a = write_response(out, hdr, hdr->designation, hdr->version, status,
                           lurk_cbb_data(&payload), lurk_cbb_len(&payload));
    else
        a = write_error(out, hdr, hdr->designation, hdr->version, status, rt);
    lurk_cbb_cleanup(&payload);
    /* Every refusal says why; handlers note all but their decoder's refusals. */
    if (status != LURK_STATUS_SUCCESS && req.note == NULL)
        req.note = "request payload does not decode";
    if (req.audited)
        audit(&req, status, t0);
    count_key(&req, &a);
    return a;
}

const struct lurkd_key *lurkd_request_key(struct lurkd_request *req,
                                          const struct lurk_key_id *key_id, enum lurkd_exchange ex)
{
    const struct lurkd_key *key;
    const char *reason;

    req->audited = true;
    /* Kept raw: the audit log formats it only when it writes the line. */
    req->key_id = *key_id;
    req->has_key_id = true;
    key = lurkd_keystore_find(req->rt->keys, key_id->id);
    if (key == NULL) {
        req->note = "unknown key";
        lurkd_metrics_count(LURKD_COUNTER_REFUSED_UNKNOWN_KEY);
        return NULL;
    }
    req->key = key;
    if (!lurkd_policy_allows(req->rt->cfg, key, req->peer, ex, &reason)) {
        req->note = reason;
        lurkd_metrics_count(LURKD_COUNTER_REFUSED_KEY_NOT_ALLOWED);
        return NULL;
    }
    return key;
}

enum lurkd_dispatch_cost lurkd_dispatch_cost(const struct lurkd_runtime *rt,
                                             const struct lurkd_peer *peer,
                                             struct lurkd_dispatch_msg *m)
{
    const struct lurk_header *hdr = &m->msg.hdr;
    lurk_cbs in = m->msg.payload;
    const struct lurkd_key *key;
    const char *reason;

    if (hdr->status != LURK_STATUS_REQUEST)
        return LURKD_COST_WORKER;
    if (hdr->type == LURK_TYPE_PING) /* the same number in every designation */
        return LURKD_COST_SHORT;
    if (hdr->designation != LURK_DESIGNATION_TLS13 ||
        hdr->type != LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY ||
        lurk_tls13_sign_cv_request_decode(&in, &m->sign_cv) != LURK_STATUS_SUCCESS)
        return LURKD_COST_WORKER;
    /* Trailing bytes: the handler decodes again and says so. */
    m->sign_cv_decoded = lurk_cbs_len(&in) == 0;
    /*
     * A refusal is answered at once, and the same way for a key lurkd does
     * not have and for one this peer may not use: who answers, and when,
     * must not tell a client which keys exist (docs/security.md, "Controls
     * in lurkd": exactly like an unknown key).
     */
    if ((key = lurkd_keystore_find(rt->keys, m->sign_cv.key_id.id)) == NULL ||
        !lurkd_policy_allows(rt->cfg, key, peer, LURKD_EX_SIGN_CERTIFICATE_VERIFY, &reason))
        return LURKD_COST_SHORT;
    /*
     * A key in memory signs in tens (ECDSA, EdDSA) or hundreds (RSA up to
     * 3072 bits) of microseconds, which the I/O thread's time budget bounds
     * (checked before each answer, so one answer may overrun it); larger
     * RSA keys take milliseconds, and a key in a token (an engine, pkcs11:
     * or another provider) as long as the token takes (docs/performance.md,
     * "Signing in the loops").
     */
    if (!key->in_memory)
        return LURKD_COST_WORKER;
    if (key->kind == LURKD_KEY_RSA || key->kind == LURKD_KEY_RSA_PSS)
        return key->bits <= LURKD_INLINE_RSA_MAX_BITS ? LURKD_COST_LONG : LURKD_COST_WORKER;
    return LURKD_COST_SHORT;
}

uint8_t lurkd_ex_ping(struct lurkd_request *req, lurk_cbb *out)
{
    (void)out;
    /* Every designation numbers its format error 3 (invalid_format / invalid_payload_format). */
    return lurk_cbs_len(&req->payload) == 0 ? LURK_STATUS_SUCCESS : LURK_STATUS_INVALID_FORMAT;
}
