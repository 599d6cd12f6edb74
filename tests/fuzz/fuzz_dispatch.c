/*
 * libFuzzer target: whole requests through lurkd's dispatcher and every
 * exchange handler (lurkd/exchange/), framed by its stream reader
 * as a connection's bytes are, with real keys in lurkd's key store: the
 * Go, Illustrated TLS 1.2 and RFC 8448 keys of the vectors (so that the
 * examples of docs/protocol.md, the seeds, name keys lurkd holds), a P-256
 * and an Ed25519 key, and an external PSK; RSA key transport, tls12 and
 * tls13 exchanges allowed, null freshness, sessions kept from one input to
 * the next (their tables are bounded). Every message must get exactly one
 * well-formed response with its id; nothing may crash, leak or read out of
 * bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "exchange/dispatch.h"
#include "lurk/header.h"
#include "net/reader.h"
#include "conf/runtime.h"
#include "vectors.h"

#ifndef LURK_VECTORS_DIR
#error "LURK_VECTORS_DIR must name tests/vectors/data"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lurkd_runtime *rt;
static const struct lurkd_peer peer = {.kind = LURKD_PEER_UNIX, .uid = 0, .text = "uid:0"};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, 0600) != 0)
        abort();
}

static void write_vector_key(const char *dir, const char *name, const char *file, const char *path)
{
    json_t *root = lurk_vectors_load(LURK_VECTORS_DIR, file);
    const char *pem = root ? lurk_jsondoc_path_string(root, path) : NULL;

    if (pem == NULL)
        abort();
    write_file(dir, name, pem);
    json_decref(root);
}

static void write_new_key(const char *dir, const char *name, const char *type, const char *curve)
{
    EVP_PKEY *k =
        curve ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (k == NULL || f == NULL || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        fclose(f) != 0 || chmod(path, 0600) != 0)
        abort();
    EVP_PKEY_free(k);
}

static const char config[] =
    "[lurkd]\n"
    "[client.fuzz]\nidentity = uid:0\n"
    "[key.go]\nsource = go.key\nclients = *\nnull_freshness = yes\ncheck_time = no\n"
    "exchanges = all, rsa_master, rsa_master_with_poh, rsa_extended_master, "
    "rsa_extended_master_with_poh, rsa_premaster\n"
    "[key.illustrated]\nsource = illustrated.key\nclients = *\nnull_freshness = yes\n"
    "check_time = no\n"
    "[key.rfc8448]\nsource = rfc8448.key\nclients = *\nnull_freshness = yes\ncheck_time = no\n"
    "[key.p256]\nsource = p256.key\nclients = *\nnull_freshness = yes\ncheck_time = no\n"
    "[key.ed25519]\nsource = ed25519.key\nclients = *\nnull_freshness = yes\n"
    "[tls13]\nnull_freshness = yes\nmax_sessions = 256\nmax_sessions_per_client = 256\n"
    "[psk.fuzz]\nidentity = client_identity\nsecret = 00112233445566778899aabbccddeeff\n"
    "clients = *\nnull_freshness = yes\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/lurk-fuzz-dispatch-XXXXXX", path[512], err[1024];
    struct lurkd_config *cfg;

    (void)argc;
    (void)argv;
    if (mkdtemp(dir) == NULL)
        abort();
    write_vector_key(dir, "go.key", "rsa-kx-vectors.json", "handshakes.0.server_private_key_pem");
    write_vector_key(dir, "illustrated.key", "ecdhe-signing-vectors.json",
                     "handshakes.0.server_rsa_private_key_pem");
    write_vector_key(dir, "rfc8448.key", "rfc8448-simple-1rtt.json", "server_rsa_key.pem_pkcs8");
    write_new_key(dir, "p256.key", "EC", "P-256");
    write_new_key(dir, "ed25519.key", "ED25519", NULL);
    write_file(dir, "lurkd.conf", config);
    snprintf(path, sizeof(path), "%s/lurkd.conf", dir);
    cfg = lurkd_config_load(path, err, sizeof(err));
    rt = cfg ? lurkd_runtime_build(cfg, err, sizeof(err)) : NULL;
    if (rt == NULL) {
        fprintf(stderr, "fuzz_dispatch: %s\n", err);
        abort();
    }
    lurkd_runtime_install(rt);
    return 0;
}

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct lurk_message req, resp;
    lurk_cbb out;
    lurk_cbs cbs;

    (void)arg;
    lurk_cbs_init(&cbs, frame, len);
    if (!lurk_header_parse(&cbs, &req.hdr) || !lurk_cbb_init(&out, 512, 1 << 21))
        abort();
    lurkd_dispatch(rt, &peer, frame, len, &out);
    /* One whole response, with the request's id and type, never status "request". */
    if (!lurk_cbb_ok(&out) || !lurk_message_parse(lurk_cbb_data(&out), lurk_cbb_len(&out), &resp) ||
        resp.hdr.id != req.hdr.id || resp.hdr.type != req.hdr.type ||
        resp.hdr.status == LURK_STATUS_REQUEST)
        abort();
    lurk_cbb_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurkd_reader r = {0};
    uint32_t length;

    (void)lurkd_reader_feed(&r, data, size, 1 << 16, on_frame, NULL, &length);
    lurkd_reader_clear(&r);
    return 0;
}
