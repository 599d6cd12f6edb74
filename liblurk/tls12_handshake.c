/* TLS 1.2 client handshake parser; see tls12_handshake.h. */
#include "lurk/tls12_handshake.h"

#include <string.h>

#include "lurk/tls12.h"

#define TLS12_VERSION         0x0303
#define EXT_STATUS_REQUEST    5      /* RFC 6066 §8 */
#define EXT_SUPPORTED_VERSION 43     /* RFC 8446 §4.2.1: a TLS 1.3 ServerHello */
#define EXT_RENEGOTIATION     0xff01 /* RFC 5746 §3.2 */
#define SCSV_RENEGOTIATION    0x00ff /* RFC 5746 §3.3 */
#define MAX_EXTENSIONS        64
#define EC_NAMED_CURVE        3 /* RFC 8422 §5.4 */
#define OCSP_STATUS_TYPE      1 /* RFC 6066 §8 */

/*
 * Cipher suites whose key exchange lurk knows: certificate-authenticated
 * RSA, DHE_RSA, ECDHE_RSA and ECDHE_ECDSA suites of RFC 5246, 5288, 5289,
 * 7905 and 8422 (AES and ChaCha20 only; capabilities announce the same list). PSK, anonymous and
 * TLS 1.3 suites are not among them.
 */
static const struct {
    uint16_t suite;
    enum lurk_tls12_kx kx;
} suites[] = {
    {0x002f, LURK_TLS12_KX_RSA},   {0x0035, LURK_TLS12_KX_RSA},   {0x003c, LURK_TLS12_KX_RSA},
    {0x003d, LURK_TLS12_KX_RSA},   {0x009c, LURK_TLS12_KX_RSA},   {0x009d, LURK_TLS12_KX_RSA},
    {0x0033, LURK_TLS12_KX_DHE},   {0x0039, LURK_TLS12_KX_DHE},   {0x0067, LURK_TLS12_KX_DHE},
    {0x006b, LURK_TLS12_KX_DHE},   {0x009e, LURK_TLS12_KX_DHE},   {0x009f, LURK_TLS12_KX_DHE},
    {0xccaa, LURK_TLS12_KX_DHE},   {0xc009, LURK_TLS12_KX_ECDHE}, {0xc00a, LURK_TLS12_KX_ECDHE},
    {0xc013, LURK_TLS12_KX_ECDHE}, {0xc014, LURK_TLS12_KX_ECDHE}, {0xc023, LURK_TLS12_KX_ECDHE},
    {0xc024, LURK_TLS12_KX_ECDHE}, {0xc027, LURK_TLS12_KX_ECDHE}, {0xc028, LURK_TLS12_KX_ECDHE},
    {0xc02b, LURK_TLS12_KX_ECDHE}, {0xc02c, LURK_TLS12_KX_ECDHE}, {0xc02f, LURK_TLS12_KX_ECDHE},
    {0xc030, LURK_TLS12_KX_ECDHE}, {0xcca8, LURK_TLS12_KX_ECDHE}, {0xcca9, LURK_TLS12_KX_ECDHE},
};

/* Where parsing stopped and why: the first problem wins. */
struct parse {
    lurk_cbs in;
    const char *why;
    uint8_t status;
};

static bool fail(struct parse *p, const char *why)
{
    if (p->why == NULL) {
        p->why = why;
        p->status = LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT;
    }
    return false;
}

/* The next handshake message must be of type want; its body in *body. */
static bool next_msg(struct parse *p, uint8_t want, lurk_cbs *body, const char *missing)
{
    lurk_cbs copy = p->in;
    uint8_t type;

    if (!lurk_cbs_get_u8(&copy, &type))
        return fail(p, missing);
    if (type != want)
        return fail(p, missing);
    if (!lurk_cbs_get_u24_prefixed(&copy, body))
        return fail(p, "a handshake message is longer than the bytes left");
    p->in = copy;
    return true;
}

static bool peek_type(const struct parse *p, uint8_t type)
{
    uint8_t t;
    return lurk_cbs_peek_u8(&p->in, &t) && t == type;
}

static bool u16_list_has(lurk_cbs list, uint16_t v)
{
    uint16_t x;
    while (lurk_cbs_get_u16(&list, &x))
        if (x == v)
            return true;
    return false;
}

/*
 * extensions<0..2^16-1> (RFC 5246 §7.4.1.4): absent when the hello ends
 * before it; each Extension must fill it exactly and no type may repeat.
 */
static bool extensions_parse(struct parse *p, lurk_cbs *hello, lurk_cbs *exts)
{
    lurk_cbs walk, data;
    uint16_t types[MAX_EXTENSIONS];
    size_t n = 0;
    uint16_t type;

    lurk_cbs_init(exts, NULL, 0);
    if (lurk_cbs_len(hello) == 0)
        return true;
    if (!lurk_cbs_get_u16_prefixed(hello, exts) || lurk_cbs_len(hello) != 0)
        return fail(p, "hello extensions do not fill the message");
    walk = *exts;
    while (lurk_cbs_len(&walk) > 0) {
        if (!lurk_cbs_get_u16(&walk, &type) || !lurk_cbs_get_u16_prefixed(&walk, &data))
            return fail(p, "malformed hello extension");
        if (n == MAX_EXTENSIONS)
            return fail(p, "more than 64 hello extensions");
        for (size_t i = 0; i < n; i++)
            if (types[i] == type)
                return fail(p, "a hello extension appears twice");
        types[n++] = type;
    }
    return true;
}

static bool extension_present(lurk_cbs exts, uint16_t want)
{
    lurk_cbs data;
    uint16_t type;

    while (lurk_cbs_get_u16(&exts, &type) && lurk_cbs_get_u16_prefixed(&exts, &data))
        if (type == want)
            return true;
    return false;
}

struct hello {
    lurk_cbs suites;
    lurk_cbs compressions;
    lurk_cbs exts;
};

/* RFC 5246 §7.4.1.2 */
static bool client_hello(struct parse *p, struct hello *ch)
{
    lurk_cbs body, session_id;
    uint16_t version;

    if (!next_msg(p, LURK_TLS12_HS_CLIENT_HELLO, &body, "the first message is not a ClientHello"))
        return false;
    if (!lurk_cbs_get_u16(&body, &version) || !lurk_cbs_skip(&body, LURK_RANDOM_LEN) ||
        !lurk_cbs_get_u8_prefixed(&body, &session_id) || lurk_cbs_len(&session_id) > 32 ||
        !lurk_cbs_get_u16_prefixed(&body, &ch->suites) || lurk_cbs_len(&ch->suites) < 2 ||
        lurk_cbs_len(&ch->suites) % 2 != 0 || !lurk_cbs_get_u8_prefixed(&body, &ch->compressions) ||
        lurk_cbs_len(&ch->compressions) == 0)
        return fail(p, "malformed ClientHello");
    /* TLS 1.2 clients, and TLS 1.3 clients (legacy_version), both send 3,3. */
    if (version != TLS12_VERSION)
        return fail(p, "ClientHello.client_version is not TLS 1.2 (3,3)");
    return extensions_parse(p, &body, &ch->exts);
}

/* RFC 5246 §7.4.1.3, against the ClientHello it answers. */
static bool server_hello(struct parse *p, const struct hello *ch, uint16_t *suite, lurk_cbs *exts)
{
    lurk_cbs body, session_id, data, walk, comp = ch->compressions;
    uint16_t version, type;
    uint8_t method, m;
    bool offered = false;

    if (!next_msg(p, LURK_TLS12_HS_SERVER_HELLO, &body,
                  "the ClientHello is not followed by a "
                  "ServerHello"))
        return false;
    if (!lurk_cbs_get_u16(&body, &version) || !lurk_cbs_skip(&body, LURK_RANDOM_LEN) ||
        !lurk_cbs_get_u8_prefixed(&body, &session_id) || lurk_cbs_len(&session_id) > 32 ||
        !lurk_cbs_get_u16(&body, suite) || !lurk_cbs_get_u8(&body, &method))
        return fail(p, "malformed ServerHello");
    if (version != TLS12_VERSION)
        return fail(p, "ServerHello.server_version is not TLS 1.2 (3,3)");
    if (!extensions_parse(p, &body, exts))
        return false;
    if (extension_present(*exts, EXT_SUPPORTED_VERSION))
        return fail(p, "a TLS 1.3 ServerHello (supported_versions): not a TLS 1.2 handshake");
    if (!u16_list_has(ch->suites, *suite))
        return fail(p, "the ServerHello's cipher suite is not one the ClientHello offered");
    while (lurk_cbs_get_u8(&comp, &m))
        offered |= m == method;
    if (!offered)
        return fail(p, "the ServerHello's compression method is not one the ClientHello offered");
    /* §7.4.1.4: only extensions the client asked for (renegotiation_info: RFC 5746 §3.6). */
    walk = *exts;
    while (lurk_cbs_get_u16(&walk, &type) && lurk_cbs_get_u16_prefixed(&walk, &data)) {
        if (extension_present(ch->exts, type))
            continue;
        if (type == EXT_RENEGOTIATION && u16_list_has(ch->suites, SCSV_RENEGOTIATION))
            continue;
        return fail(p, "the ServerHello has an extension the ClientHello did not offer");
    }
    return true;
}

/* Certificate (§7.4.2): certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>; first in *leaf. */
static bool certificate(struct parse *p, lurk_cbs *leaf, const char *missing, const char *empty)
{
    lurk_cbs body, list, cert;
    bool first = true;

    if (!next_msg(p, LURK_TLS12_HS_CERTIFICATE, &body, missing))
        return false;
    if (!lurk_cbs_get_u24_prefixed(&body, &list) || lurk_cbs_len(&body) != 0)
        return fail(p, "malformed Certificate");
    if (lurk_cbs_len(&list) == 0)
        return fail(p, empty);
    while (lurk_cbs_len(&list) > 0) {
        if (!lurk_cbs_get_u24_prefixed(&list, &cert) || lurk_cbs_len(&cert) == 0)
            return fail(p, "malformed Certificate");
        if (first)
            *leaf = cert;
        first = false;
    }
    return true;
}

/* CertificateStatus (RFC 6066 §8): status_type ocsp, OCSPResponse<1..2^24-1>. */
static bool certificate_status(struct parse *p)
{
    lurk_cbs body, response;
    uint8_t type;

    if (!next_msg(p, LURK_TLS12_HS_CERTIFICATE_STATUS, &body, "missing CertificateStatus"))
        return false;
    if (!lurk_cbs_get_u8(&body, &type) || type != OCSP_STATUS_TYPE ||
        !lurk_cbs_get_u24_prefixed(&body, &response) || lurk_cbs_len(&response) == 0 ||
        lurk_cbs_len(&body) != 0)
        return fail(p, "malformed CertificateStatus");
    return true;
}

/* ServerKeyExchange (§7.4.3, RFC 8422 §5.4): params, then a digitally-signed struct. */
static bool server_key_exchange(struct parse *p, enum lurk_tls12_kx kx)
{
    lurk_cbs body, a, b, c, sig;
    uint8_t curve_type;
    uint16_t curve, sig_and_hash;
    bool ok;

    if (kx == LURK_TLS12_KX_RSA) {
        if (peek_type(p, LURK_TLS12_HS_SERVER_KEY_EXCHANGE))
            return fail(p, "a ServerKeyExchange in an RSA key exchange");
        return true;
    }
    if (!next_msg(p, LURK_TLS12_HS_SERVER_KEY_EXCHANGE, &body,
                  "missing ServerKeyExchange (the cipher suite is (EC)DHE)"))
        return false;
    if (kx == LURK_TLS12_KX_ECDHE)
        ok = lurk_cbs_get_u8(&body, &curve_type) && curve_type == EC_NAMED_CURVE &&
             lurk_cbs_get_u16(&body, &curve) && lurk_cbs_get_u8_prefixed(&body, &a) &&
             lurk_cbs_len(&a) > 0;
    else
        ok = lurk_cbs_get_u16_prefixed(&body, &a) && lurk_cbs_len(&a) > 0 &&
             lurk_cbs_get_u16_prefixed(&body, &b) && lurk_cbs_len(&b) > 0 &&
             lurk_cbs_get_u16_prefixed(&body, &c) && lurk_cbs_len(&c) > 0;
    if (!ok || !lurk_cbs_get_u16(&body, &sig_and_hash) || !lurk_cbs_get_u16_prefixed(&body, &sig) ||
        lurk_cbs_len(&sig) == 0 || lurk_cbs_len(&body) != 0)
        return fail(p, "malformed ServerKeyExchange");
    return true;
}

/* CertificateRequest (§7.4.4). */
static bool certificate_request(struct parse *p, struct lurk_tls12_client_hs *out)
{
    lurk_cbs body, cas, dn;

    if (!next_msg(p, LURK_TLS12_HS_CERTIFICATE_REQUEST, &body,
                  "no CertificateRequest where RFC 5246 §7.3 puts it (the server did not ask "
                  "for a client certificate)"))
        return false;
    if (!lurk_cbs_get_u8_prefixed(&body, &out->certificate_types) ||
        lurk_cbs_len(&out->certificate_types) == 0 ||
        !lurk_cbs_get_u16_prefixed(&body, &out->signature_algorithms) ||
        lurk_cbs_len(&out->signature_algorithms) < 2 ||
        lurk_cbs_len(&out->signature_algorithms) % 2 != 0 ||
        !lurk_cbs_get_u16_prefixed(&body, &cas) || lurk_cbs_len(&body) != 0)
        return fail(p, "malformed CertificateRequest");
    while (lurk_cbs_len(&cas) > 0)
        if (!lurk_cbs_get_u16_prefixed(&cas, &dn) || lurk_cbs_len(&dn) == 0)
            return fail(p, "malformed CertificateRequest");
    return true;
}

/* ClientKeyExchange (§7.4.7, RFC 8422 §5.7): exactly the structure of the key exchange. */
static bool client_key_exchange(struct parse *p, enum lurk_tls12_kx kx)
{
    lurk_cbs body, v;
    bool ok;

    if (!next_msg(p, LURK_TLS12_HS_CLIENT_KEY_EXCHANGE, &body,
                  "the client Certificate is not followed by a ClientKeyExchange"))
        return false;
    if (kx == LURK_TLS12_KX_ECDHE)
        ok = lurk_cbs_get_u8_prefixed(&body, &v);
    else
        ok = lurk_cbs_get_u16_prefixed(&body, &v);
    if (!ok || lurk_cbs_len(&v) == 0 || lurk_cbs_len(&body) != 0)
        return fail(p, "malformed ClientKeyExchange");
    return true;
}

static bool suite_kx(uint16_t suite, enum lurk_tls12_kx *kx)
{
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (suites[i].suite == suite) {
            *kx = suites[i].kx;
            return true;
        }
    }
    return false;
}

static bool parse(struct parse *p, struct lurk_tls12_client_hs *out)
{
    struct hello ch;
    lurk_cbs sh_exts, leaf, body;

    if (!client_hello(p, &ch) || !server_hello(p, &ch, &out->cipher_suite, &sh_exts))
        return false;
    if (!suite_kx(out->cipher_suite, &out->kx)) {
        p->why = "the cipher suite is not a TLS 1.2 RSA, DHE or ECDHE suite with certificates";
        p->status = LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH;
        return false;
    }
    if (!certificate(p, &leaf, "the ServerHello is not followed by the server's Certificate",
                     "the server's Certificate is empty"))
        return false;
    if (peek_type(p, LURK_TLS12_HS_CERTIFICATE_STATUS)) {
        if (!extension_present(sh_exts, EXT_STATUS_REQUEST))
            return fail(p, "a CertificateStatus without status_request in the ServerHello");
        if (!certificate_status(p))
            return false;
    }
    if (!server_key_exchange(p, out->kx) || !certificate_request(p, out))
        return false;
    if (!next_msg(p, LURK_TLS12_HS_SERVER_HELLO_DONE, &body,
                  "the CertificateRequest is not followed by a ServerHelloDone"))
        return false;
    if (lurk_cbs_len(&body) != 0)
        return fail(p, "malformed ServerHelloDone");
    if (!certificate(p, &out->client_certificate,
                     "the ServerHelloDone is not followed by the client's Certificate",
                     "the client's Certificate is empty (nothing to sign for)"))
        return false;
    if (!client_key_exchange(p, out->kx))
        return false;
    if (lurk_cbs_len(&p->in) != 0)
        return fail(p, "bytes after the ClientKeyExchange");
    return true;
}

uint8_t lurk_tls12_client_hs_parse(const lurk_cbs *messages, struct lurk_tls12_client_hs *out,
                                   const char **why)
{
    struct parse p = {.in = *messages};

    memset(out, 0, sizeof(*out));
    if (parse(&p, out)) {
        *why = NULL;
        return LURK_STATUS_SUCCESS;
    }
    *why = p.why;
    return p.status;
}

bool lurk_tls12_client_hs_offers_sig(const struct lurk_tls12_client_hs *hs, uint16_t sig_and_hash)
{
    return u16_list_has(hs->signature_algorithms, sig_and_hash);
}

bool lurk_tls12_client_hs_offers_cert_type(const struct lurk_tls12_client_hs *hs,
                                           uint8_t certificate_type)
{
    lurk_cbs l = hs->certificate_types;
    uint8_t t;

    while (lurk_cbs_get_u8(&l, &t))
        if (t == certificate_type)
            return true;
    return false;
}
