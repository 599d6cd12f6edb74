/*
 * libFuzzer target: the TLS 1.3 handshake message parsers lurkd runs on the
 * handshake_context a LURK client sends (ClientHello, ServerHello,
 * EncryptedExtensions, CertificateRequest, Certificate, NewSessionTicket
 * extensions) and the lookups over what they return. The first input byte
 * chooses the parser, the rest is the message. Nothing may read out of
 * bounds; every view a parser returns must lie inside its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/tls13_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A view must lie inside [base, base + len). */
static void inside(const lurk_cbs *view, const uint8_t *base, size_t len)
{
    const uint8_t *p = lurk_cbs_data(view);

    if (lurk_cbs_len(view) > 0 && (p < base || p + lurk_cbs_len(view) > base + len))
        abort();
}

static void client_hello(const lurk_cbs *in, const uint8_t *base, size_t len)
{
    struct lurk_tls13_hs_client_hello ch;
    lurk_cbs share, binder, identity = *in;
    uint32_t age;

    if (!lurk_tls13_hs_parse_client_hello(in, &ch))
        return;
    inside(&ch.random, base, len);
    inside(&ch.cipher_suites, base, len);
    inside(&ch.key_shares, base, len);
    inside(&ch.identities, base, len);
    inside(&ch.binders, base, len);
    inside(&ch.sig_algs, base, len);
    if (ch.random_off + LURK_TLS13_HS_RANDOM_LEN > len || ch.truncated_len > len)
        abort();
    for (uint16_t g = 23; g <= 30; g++)
        if (lurk_tls13_hs_client_key_share(&ch, g, &share))
            inside(&share, base, len);
    lurk_cbs_init(&identity, base, len > 8 ? 8 : len);
    (void)lurk_tls13_hs_client_psk_index(&ch, &identity, &age);
    for (unsigned i = 0; i < 4; i++)
        if (lurk_tls13_hs_client_psk_binder(&ch, i, &binder))
            inside(&binder, base, len);
    (void)lurk_tls13_hs_scheme_listed(&ch.sig_algs, 0x0804);
}

static void server_hello(const lurk_cbs *in, const uint8_t *base, size_t len)
{
    struct lurk_tls13_hs_server_hello sh;
    uint8_t out[1024], share[133];
    size_t out_len;

    if (!lurk_tls13_hs_parse_server_hello(in, &sh))
        return;
    inside(&sh.key_exchange, base, len);
    if (sh.random_off + LURK_TLS13_HS_RANDOM_LEN > len)
        abort();
    if (sh.has_key_share && lurk_cbs_len(&sh.key_exchange) == 0) {
        memset(share, 0x42, sizeof(share));
        (void)lurk_tls13_hs_server_hello_fill_share(&sh, share, 32, out, sizeof(out), &out_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lurk_cbs in, ctx, algs;
    bool flag;
    uint32_t max;

    if (size < 1)
        return 0;
    lurk_cbs_init(&in, data + 1, size - 1);
    switch (data[0] % 6) {
    case 0:
        client_hello(&in, data + 1, size - 1);
        break;
    case 1:
        server_hello(&in, data + 1, size - 1);
        break;
    case 2:
        (void)lurk_tls13_hs_parse_encrypted_extensions(&in, &flag);
        break;
    case 3:
        if (lurk_tls13_hs_parse_certificate_request(&in, &ctx, &algs)) {
            inside(&ctx, data + 1, size - 1);
            inside(&algs, data + 1, size - 1);
        }
        break;
    case 4:
        (void)lurk_tls13_hs_parse_certificate(&in, &flag);
        break;
    default:
        (void)lurk_tls13_hs_ticket_max_early_data(&in, &max);
        break;
    }
    return 0;
}
