/* Client side of the daemon tests; see daemon_client.h. */
#include "daemon_client.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lurk/header.h"

struct lurk_conn *dc_connect(const char *addr_text, int client)
{
    struct lurk_address addr;
    char err[512], cert[32], key[32];
    SSL_CTX *tls = NULL;
    struct lurk_conn *c;

    ck_assert_msg(lurk_address_parse(addr_text, &addr, err, sizeof(err)), "%s", err);
    if (addr.kind == LURK_ADDRESS_TLS) {
        snprintf(cert, sizeof(cert), "client%d.crt", client);
        snprintf(key, sizeof(key), "client%d.key", client);
        tls = lurk_client_tls_ctx_new(NULL, lurk_test_pki("ca.crt"), lurk_test_pki(cert),
                                      lurk_test_pki(key), err, sizeof(err));
        ck_assert_msg(tls != NULL, "%s", err);
    }
    c = lurk_conn_open(&addr, tls, 5000, err, sizeof(err));
    SSL_CTX_free(tls); /* the connection keeps its own reference */
    ck_assert_msg(c != NULL, "connect %s: %s", addr_text, err);
    return c;
}

uint8_t dc_call(struct lurk_conn *c, uint8_t designation, uint8_t type, const uint8_t *payload,
                size_t len, struct lurk_response *resp)
{
    char err[512];

    ck_assert_msg(lurk_conn_call(c, designation, type, payload, len, resp, 10000, err, sizeof(err)),
                  "%s/%s: %s", lurk_designation_name(designation),
                  lurk_type_name(designation, type), err);
    return resp->msg.hdr.status;
}

bool dc_raw(struct lurk_conn *c, const uint8_t *msg, size_t len, struct lurk_response *resp)
{
    char err[512];

    memset(resp, 0, sizeof(*resp));
    if (!lurk_conn_send(c, msg, len, 5000, err, sizeof(err)) ||
        !lurk_conn_recv(c, &resp->buf, &resp->len, 5000, err, sizeof(err)))
        return false;
    return lurk_message_parse(resp->buf, resp->len, &resp->msg);
}

size_t dc_message(uint8_t *out, size_t cap, uint8_t designation, uint8_t version, uint8_t type,
                  uint8_t status, uint64_t id, const uint8_t *payload, size_t len)
{
    struct lurk_header hdr = {designation, version, type, status, id, 0};
    lurk_cbb cbb;
    size_t start;

    lurk_cbb_init_fixed(&cbb, out, cap);
    ck_assert(lurk_message_begin(&cbb, &start, &hdr));
    ck_assert(lurk_cbb_add_bytes(&cbb, payload, len));
    ck_assert(lurk_message_end(&cbb, start));
    return lurk_cbb_len(&cbb);
}

bool dc_write_config(struct lurkd_proc *p, const char *lurkd_settings, const char *extra)
{
    char *spki = lurk_test_read_file(lurk_test_pki("client1.spki"), NULL);
    char *spki2 = lurk_test_read_file(lurk_test_pki("client2.spki"), NULL);
    char *text = NULL;
    bool ok;

    ck_assert(spki != NULL && spki2 != NULL);
    spki[strcspn(spki, "\n")] = '\0';
    spki2[strcspn(spki2, "\n")] = '\0';
    ok = asprintf(&text,
                  "[lurkd]\n"
                  "workers = 2\n"
                  "audit_log = audit.log\n"
                  "log_level = info\n"
                  "%s\n"
                  "[listener.local]\n"
                  "address = %s\n"
                  "[listener.tcp]\n"
                  "address = tcp://127.0.0.1:0\n"
                  "[listener.tls]\n"
                  "address = tls://127.0.0.1:0\n"
                  "certificate = %s\n"
                  "private_key = %s\n"
                  "client_ca = %s\n"
                  "[client.client1]\n"
                  "identity = spki-sha256:%s\n"
                  "[client.client2]\n"
                  "identity = spki-sha256:%s\n"
                  "[client.local]\n"
                  "identity = uid:%u\n"
                  "[client.tcp]\n"
                  "identity = tcp\n"
                  "%s",
                  lurkd_settings ? lurkd_settings : "", p->unix_addr, lurk_test_pki("lurkd.crt"),
                  lurk_test_pki("lurkd.key"), lurk_test_pki("ca.crt"), spki, spki2,
                  (unsigned)getuid(), extra ? extra : "") > 0 &&
         lurk_test_write_file(p, "lurkd.conf", text);
    free(text);
    free(spki);
    free(spki2);
    return ok;
}
