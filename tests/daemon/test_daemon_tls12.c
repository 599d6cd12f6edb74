/*
 * Designation tls12 against a real lurkd over unix, tcp and tls: every
 * exchange (rsa_master, rsa_master_with_poh, rsa_extended_master,
 * rsa_extended_master_with_poh, ecdhe, rsa_premaster).
 *
 * Expected values never come from lurkd: they are the external vectors
 * (tests/vectors/data: real Go RSA key-exchange captures, the Illustrated
 * TLS 1.2 and Go ECDHE signatures) or are computed here with OpenSSL's
 * EVP (TLS1-PRF, SHA-256, RSA encryption, signature verification), from
 * handshakes built here.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/tls12.h"
#include "lurk/tls12_poo.h"
#include "vectors.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];

static const char *transport(int i)
{
    return i == 0 ? lurkd.unix_addr : i == 1 ? tcp_addr : tls_addr;
}

/* ---- keys and vectors ---- */

/* The keys lurkd holds; their ids are computed here from the same files. */
enum { K_GO, K_ILLUSTRATED, K_RSA, K_P256, K_SIGN_ONLY, N_KEYS };
static EVP_PKEY *pkeys[N_KEYS];
static uint8_t key_ids[N_KEYS][4];

/* The Go TLS 1.2 RSA key exchange captures (rsa-kx-vectors.json), 1024-bit key. */
struct capture {
    uint8_t client_random[32], server_random[32], epms[128], premaster[48];
    uint8_t master[48], other_master[48], finished[12];
    uint8_t hs[2048];
    size_t hs_len;
};
static struct capture captures[2]; /* 0: classic master secret, 1: extended master secret */

/* ServerKeyExchange signatures (ecdhe-signing-vectors.json). */
struct ecdhe_vector {
    int key;
    uint8_t client_random[32], server_random[32], params[128], signature[512], signed_data[256];
    size_t params_len, sig_len, signed_len;
    uint16_t sig_alg;
};
static struct ecdhe_vector ecdhe_vectors[8];
static size_t n_ecdhe_vectors;

static size_t hex_field(const json_t *root, const char *path, uint8_t *out, size_t cap)
{
    struct lurk_vectors_bytes b;

    ck_assert_msg(lurk_vectors_hex_path(root, path, &b), "vector field %s", path);
    ck_assert_uint_le(b.len, cap);
    size_t len = b.len;
    memcpy(out, b.data, len);
    lurk_vectors_bytes_free(&b);
    return len;
}

static void hex_exact(const json_t *root, const char *path, uint8_t *out, size_t len)
{
    ck_assert_msg(lurk_vectors_hex_path_fixed(root, path, out, len), "vector field %s", path);
}

static char *load_captures(void)
{
    json_t *root = lurk_vectors_load(LURK_VECTORS_DIR, "rsa-kx-vectors.json");
    char path[128];
    char *pem;

    ck_assert(root != NULL);
    for (int i = 0; i < 2; i++) {
        struct capture *c = &captures[i];
        struct lurk_vectors_bytes hs;
#define FIELD(name) (snprintf(path, sizeof(path), "handshakes.%d.%s", i, name), path)
        hex_exact(root, FIELD("client_random"), c->client_random, 32);
        hex_exact(root, FIELD("server_random"), c->server_random, 32);
        hex_exact(root, FIELD("encrypted_premaster"), c->epms, 128);
        hex_exact(root, FIELD("premaster_secret"), c->premaster, 48);
        hex_exact(root, FIELD("master_secret"), c->master, 48);
        hex_exact(
            root,
            FIELD(i == 0 ? "alternative_master_secret_ems" : "alternative_master_secret_classic"),
            c->other_master, 48);
        hex_exact(root, FIELD("client_finished_verify_data"), c->finished, 12);
        ck_assert(
            lurk_vectors_hex_concat(lurk_jsondoc_path(root, FIELD("handshake_messages")), &hs));
        ck_assert_uint_le(hs.len, sizeof(c->hs));
        memcpy(c->hs, hs.data, hs.len);
        c->hs_len = hs.len;
        lurk_vectors_bytes_free(&hs);
#undef FIELD
    }
    pem = strdup(lurk_jsondoc_path_string(root, "handshakes.0.server_private_key_pem"));
    json_decref(root);
    return pem;
}

static void add_ecdhe_vector(const json_t *h, int key)
{
    struct ecdhe_vector *v = &ecdhe_vectors[n_ecdhe_vectors++];
    uint8_t alg[2];

    v->key = key;
    hex_exact(h, "client_random", v->client_random, 32);
    hex_exact(h, "server_random", v->server_random, 32);
    v->params_len = hex_field(h, "ecdhe_params", v->params, sizeof(v->params));
    v->sig_len = hex_field(h, "signature", v->signature, sizeof(v->signature));
    v->signed_len = hex_field(h, "signed_data", v->signed_data, sizeof(v->signed_data));
    hex_exact(h, "signature_algorithm", alg, 2);
    v->sig_alg = (uint16_t)(alg[0] << 8 | alg[1]);
}

static char *load_ecdhe_vectors(void)
{
    json_t *root = lurk_vectors_load(LURK_VECTORS_DIR, "ecdhe-signing-vectors.json");
    const json_t *go = lurk_jsondoc_path(root, "go_recordings.handshakes");
    char *pem;

    ck_assert(root != NULL && go != NULL);
    n_ecdhe_vectors = 0;
    add_ecdhe_vector(lurk_jsondoc_path(root, "handshakes.0"), K_ILLUSTRATED);
    for (size_t i = 0; i < json_array_size(go); i++)
        add_ecdhe_vector(json_array_get(go, i), K_GO);
    pem = strdup(lurk_jsondoc_path_string(root, "handshakes.0.server_rsa_private_key_pem"));
    json_decref(root);
    return pem;
}

static void setup(void)
{
    char *go_pem = load_captures(), *illustrated_pem = load_ecdhe_vectors(), extra[4096];
    /* RSA key transport is off unless a key names it (docs/security.md). */
    static const char common[] = "clients = client1, local, tcp\n",
                      every[] = "exchanges = rsa_master, rsa_master_with_poh, rsa_extended_master, "
                                "rsa_extended_master_with_poh, rsa_premaster, ecdhe\n";

    ck_assert(lurk_test_lurkd_init(&lurkd));
    dc_write_file(&lurkd, "go.key", go_pem);
    dc_write_file(&lurkd, "illustrated.key", illustrated_pem);
    pkeys[K_GO] = dc_key_from_pem(go_pem);
    pkeys[K_ILLUSTRATED] = dc_key_from_pem(illustrated_pem);
    pkeys[K_RSA] = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    pkeys[K_P256] = dc_load_key(lurk_test_pki("server-p256.key"));
    pkeys[K_SIGN_ONLY] = dc_load_key(lurk_test_pki("server-rsa3072.key"));
    for (int k = 0; k < N_KEYS; k++)
        dc_key_id(pkeys[k], key_ids[k]);
    free(go_pem);
    free(illustrated_pem);
    /*
     * go and illustrated replay recorded handshakes: null freshness, no time
     * check. rsa keeps the defaults (sha256 only, time checked). sign_only
     * may not be used by any tls12 exchange.
     */
    snprintf(extra, sizeof(extra),
             "[key.go]\nsource = go.key\n%s%snull_freshness = yes\ncheck_time = no\n"
             "[key.illustrated]\nsource = illustrated.key\n%sexchanges = ecdhe\n"
             "null_freshness = yes\ncheck_time = no\n"
             "[key.rsa]\nsource = %s\n%s%s"
             "[key.p256]\nsource = %s\n%sexchanges = ecdhe\nnull_freshness = yes\n"
             "check_time = no\n"
             "[key.sign_only]\nsource = %s\n%sexchanges = sign_certificate_verify\n",
             common, every, common, lurk_test_pki("server-rsa2048.key"), common, every,
             lurk_test_pki("server-p256.key"), common, lurk_test_pki("server-rsa3072.key"), common);
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
}

static void teardown(void)
{
    dc_stop(&lurkd);
    for (int k = 0; k < N_KEYS; k++) {
        EVP_PKEY_free(pkeys[k]);
        pkeys[k] = NULL;
    }
}

/* ---- computations done here, independently of lurkd and liblurk ---- */

/* PRF(secret, label, seed) of RFC 5246 §5 through EVP_KDF TLS1-PRF. */
static void prf(const char *md, const uint8_t *secret, size_t secret_len, const char *label,
                const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    uint8_t ls[256];
    size_t n = strlen(label);

    ck_assert(ctx != NULL && n + seed_len <= sizeof(ls));
    memcpy(ls, label, n);
    memcpy(ls + n, seed, seed_len);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, ls, n + seed_len),
        OSSL_PARAM_construct_end(),
    };
    ck_assert(EVP_KDF_derive(ctx, out, out_len, params) == 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static size_t digest(const char *md, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int n = 0;

    ck_assert(EVP_Digest(in, len, out, &n, EVP_get_digestbyname(md), NULL) == 1);
    return n;
}

/* draft-mglt-lurk-tls12 §4.1.1: ServerHello.random = S[0..3] || SHA-256(S || "tls12 pfs")[4..31].
 */
static void server_hello_random(uint8_t freshness, const uint8_t s[32], uint8_t out[32])
{
    uint8_t in[41], d[32];

    if (freshness == LURK_FRESHNESS_NULL) {
        memcpy(out, s, 32);
        return;
    }
    memcpy(in, s, 32);
    memcpy(in + 32, "tls12 pfs", 9);
    digest("SHA256", in, sizeof(in), d);
    memcpy(out, s, 4);
    memcpy(out + 4, d + 4, 28);
}

/* A random S whose gmt_unix_time is now + offset seconds. */
static void make_s(uint8_t s[32], long offset)
{
    uint32_t t = (uint32_t)(time(NULL) + offset);

    ck_assert(RAND_bytes(s, 32) == 1);
    s[0] = (uint8_t)(t >> 24);
    s[1] = (uint8_t)(t >> 16);
    s[2] = (uint8_t)(t >> 8);
    s[3] = (uint8_t)t;
}

static size_t rsa_encrypt(EVP_PKEY *pkey, int padding, const uint8_t *in, size_t in_len,
                          uint8_t *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = 512;

    ck_assert(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1 &&
              EVP_PKEY_encrypt(ctx, out, &len, in, in_len) == 1);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

/* The ciphertexts a client may send: only CT_GOOD carries the premaster as the server expects. */
enum ciphertext {
    CT_GOOD,
    CT_BAD_BLOCK,   /* a valid RSA integer whose PKCS#1 block is type 1, not 2 */
    CT_RANDOM,      /* a random integer below the modulus */
    CT_BAD_VERSION, /* a well-formed block whose premaster says 0x0301, not 0x0303 */
};

/* A fresh premaster (version 0x0303 unless CT_BAD_VERSION) and its ciphertext. */
static size_t make_premaster(EVP_PKEY *pkey, enum ciphertext ct, uint8_t pms[48], uint8_t *epms)
{
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t block[512];

    ck_assert(RAND_bytes(pms, 48) == 1);
    pms[0] = 0x03;
    pms[1] = ct == CT_BAD_VERSION ? 0x01 : 0x03;
    switch (ct) {
    case CT_GOOD:
    case CT_BAD_VERSION:
        return rsa_encrypt(pkey, RSA_PKCS1_PADDING, pms, 48, epms);
    case CT_BAD_BLOCK:
        block[0] = 0x00;
        block[1] = 0x01;
        memset(block + 2, 0xff, k - 51);
        block[k - 49] = 0x00;
        memcpy(block + k - 48, pms, 48);
        break;
    case CT_RANDOM:
        ck_assert(RAND_bytes(block, (int)k) == 1);
        block[0] = 0x00;
        break;
    }
    return rsa_encrypt(pkey, RSA_NO_PADDING, block, k, epms);
}

/* ---- requests, encoded here byte by byte (docs/protocol.md, "Designation tls12") ---- */

enum ex {
    RM = 1 << 0,   /* rsa_master */
    RMP = 1 << 1,  /* rsa_master_with_poh */
    REM = 1 << 2,  /* rsa_extended_master */
    REMP = 1 << 3, /* rsa_extended_master_with_poh */
    EC = 1 << 4,   /* ecdhe */
    PM = 1 << 5,   /* rsa_premaster */
    HS = RMP | REM | REMP,
    FRESH = RM | HS | EC,
    RSA_ALL = RM | HS | PM,
    ALL = RSA_ALL | EC,
};

static uint8_t ex_type(enum ex e)
{
    switch (e) {
    case RM:
        return LURK_TLS12_TYPE_RSA_MASTER;
    case RMP:
        return LURK_TLS12_TYPE_RSA_MASTER_WITH_POH;
    case REM:
        return LURK_TLS12_TYPE_RSA_EXTENDED_MASTER;
    case REMP:
        return LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH;
    case EC:
        return LURK_TLS12_TYPE_ECDHE;
    default:
        return LURK_TLS12_TYPE_RSA_PREMASTER;
    }
}

struct t12 {
    enum ex ex;
    uint8_t key_id_type, key_id[4], freshness, prf_hash;
    uint8_t client_random[32], server_random[32];
    uint8_t epms[512];
    size_t epms_len;
    uint16_t client_version;
    uint8_t hs[2048];
    size_t hs_len;
    uint8_t finished[12];
    uint16_t sig_and_hash;
    uint8_t curve_type;
    uint16_t curve;
    uint8_t point[256], vg[256], r[128];
    size_t point_len, vg_len, r_len;
    uint8_t poo_prf;
};

static void put(lurk_cbb *b, const void *p, size_t n)
{
    ck_assert(lurk_cbb_add_bytes(b, p, n));
}

static size_t t12_encode(const struct t12 *q, uint8_t *out, size_t cap)
{
    lurk_cbb b;

    lurk_cbb_init_fixed(&b, out, cap);
    lurk_cbb_add_u8(&b, q->key_id_type);
    put(&b, q->key_id, 4);
    if (q->ex == PM) {
        lurk_cbb_add_u16(&b, q->client_version);
        lurk_cbb_add_prefixed(&b, 2, q->epms, q->epms_len);
    } else if (q->ex & HS) {
        lurk_cbb_add_u8(&b, q->freshness);
        lurk_cbb_add_prefixed(&b, 2, q->hs, q->hs_len);
        if (q->ex != REM)
            put(&b, q->finished, 12);
    } else {
        lurk_cbb_add_u8(&b, q->freshness);
        if (q->ex == RM)
            lurk_cbb_add_u8(&b, q->prf_hash);
        put(&b, q->client_random, 32);
        put(&b, q->server_random, 32);
        if (q->ex == RM) {
            put(&b, q->epms, q->epms_len);
        } else {
            lurk_cbb_add_u16(&b, q->sig_and_hash);
            lurk_cbb_add_u8(&b, q->curve_type);
            lurk_cbb_add_u16(&b, q->curve);
            lurk_cbb_add_prefixed(&b, 1, q->point, q->point_len);
            lurk_cbb_add_u8(&b, q->poo_prf);
            if (q->poo_prf != LURK_POO_PRF_NULL) {
                lurk_cbb_add_prefixed(&b, 1, q->vg, q->vg_len);
                put(&b, q->r, q->r_len);
            }
        }
    }
    ck_assert(lurk_cbb_ok(&b));
    return lurk_cbb_len(&b);
}

static uint8_t t12_call(struct lurk_conn *c, const struct t12 *q, struct lurk_response *resp)
{
    uint8_t buf[4096];
    size_t n = t12_encode(q, buf, sizeof(buf));

    return dc_call(c, LURK_DESIGNATION_TLS12, ex_type(q->ex), buf, n, resp);
}

static void set_key(struct t12 *q, int key)
{
    q->key_id_type = LURK_KEY_ID_TYPE_SHA256_32;
    memcpy(q->key_id, key_ids[key], 4);
}

/* ServerECDHParams as recorded (named_curve, 1-byte point length) into the request fields. */
static void set_params(struct t12 *q, const uint8_t *params, size_t len)
{
    ck_assert(len >= 4 && params[3] == len - 4);
    q->curve_type = params[0];
    q->curve = (uint16_t)(params[1] << 8 | params[2]);
    q->point_len = len - 4;
    memcpy(q->point, params + 4, q->point_len);
}

static size_t params_bytes(const struct t12 *q, uint8_t *out)
{
    out[0] = q->curve_type;
    out[1] = (uint8_t)(q->curve >> 8);
    out[2] = (uint8_t)q->curve;
    out[3] = (uint8_t)q->point_len;
    memcpy(out + 4, q->point, q->point_len);
    return 4 + q->point_len;
}

/* The requests of the recorded handshakes (go key, null freshness, randoms as recorded). */
static void base(struct t12 *q, enum ex e)
{
    const struct capture *cap = &captures[e == REM || e == REMP ? 1 : 0];
    const struct ecdhe_vector *v = &ecdhe_vectors[1]; /* Go rsa_pkcs1_sha256 recording */

    memset(q, 0, sizeof(*q));
    q->ex = e;
    set_key(q, K_GO);
    q->freshness = LURK_FRESHNESS_NULL;
    q->prf_hash = LURK_PRF_HASH_SHA256;
    if (e == EC) {
        memcpy(q->client_random, v->client_random, 32);
        memcpy(q->server_random, v->server_random, 32);
        q->sig_and_hash = v->sig_alg;
        set_params(q, v->params, v->params_len);
        q->poo_prf = LURK_POO_PRF_NULL;
        return;
    }
    memcpy(q->client_random, cap->client_random, 32);
    memcpy(q->server_random, cap->server_random, 32);
    memcpy(q->epms, cap->epms, 128);
    q->epms_len = 128;
    q->client_version = 0x0303;
    memcpy(q->hs, cap->hs, cap->hs_len);
    q->hs_len = cap->hs_len;
    memcpy(q->finished, cap->finished, 12);
}

/* Offset of ServerHello.random in handshake_messages (the ClientHello comes first). */
static size_t sh_random_at(const struct t12 *q)
{
    return 4 + ((size_t)q->hs[1] << 16 | (size_t)q->hs[2] << 8 | q->hs[3]) + 4 + 2;
}

/* Offset of the ServerHello's cipher_suite. */
static size_t sh_suite_at(const struct t12 *q)
{
    size_t at = sh_random_at(q) + 32;

    return at + 1 + q->hs[at];
}

/* What a successful answer must be. */
struct expect {
    bool signature;
    uint8_t master[48]; /* or premaster for rsa_premaster */
    uint8_t pms[48];    /* the premaster the client encrypted */
    uint8_t tbs[512];   /* ecdhe: client_random || ServerHello.random || params */
    size_t tbs_len;
    int key;
    const char *md;
    bool pss;
};

static const char *suite_md(uint16_t suite)
{
    return suite == 0x009d ? "SHA384" : "SHA256";
}

/*
 * A request of exchange e for key with freshness and S, on a premaster made
 * here (ciphertext kind ct); RSA handshakes are synthetic, with suite.
 * *want is what a success must contain when ct is CT_GOOD.
 */
static void fresh_request(struct t12 *q, enum ex e, int key, uint8_t freshness, const uint8_t s[32],
                          uint16_t suite, enum ciphertext ct, struct expect *want)
{
    uint8_t pms[48], shr[32], seed[64], hash[64];
    const char *md = suite_md(suite);

    memset(q, 0, sizeof(*q));
    memset(want, 0, sizeof(*want));
    q->ex = e;
    set_key(q, key);
    q->freshness = freshness;
    q->prf_hash = LURK_PRF_HASH_SHA256;
    q->client_version = 0x0303;
    ck_assert(RAND_bytes(q->client_random, 32) == 1);
    memcpy(q->server_random, s, 32);
    server_hello_random(freshness, s, shr);
    want->key = key;
    if (e == EC) {
        const struct ecdhe_vector *v = &ecdhe_vectors[0]; /* x25519 params */
        q->sig_and_hash = key == K_P256 ? 0x0403 : 0x0401;
        set_params(q, v->params, v->params_len);
        want->signature = true;
        want->md = "SHA256";
        memcpy(want->tbs, q->client_random, 32);
        memcpy(want->tbs + 32, shr, 32);
        want->tbs_len = 64 + params_bytes(q, want->tbs + 64);
        return;
    }
    q->epms_len = make_premaster(pkeys[key], ct, pms, q->epms);
    memcpy(want->pms, pms, 48);
    if (e == PM) {
        memcpy(want->master, pms, 48);
        return;
    }
    memcpy(seed, q->client_random, 32);
    memcpy(seed + 32, shr, 32);
    if (e == RM) {
        prf("SHA256", pms, 48, "master secret", seed, 64, want->master, 48);
        return;
    }
    q->hs_len = dc_tls12_rsa_handshake(q->hs, sizeof(q->hs), q->client_random, s, suite, e != RMP,
                                       q->epms, q->epms_len);
    /* Every hash lurkd takes is over the messages with ServerHello.random in place of S. */
    uint8_t wire[2048];
    memcpy(wire, q->hs, q->hs_len);
    memcpy(wire + sh_random_at(q), shr, 32);
    size_t hash_len = digest(md, wire, q->hs_len, hash);
    if (e == RMP)
        prf(md, pms, 48, "master secret", seed, 64, want->master, 48);
    else
        prf(md, pms, 48, "extended master secret", hash, hash_len, want->master, 48);
    prf(md, want->master, 48, "client finished", hash, hash_len, q->finished, 12);
}

static void check_expect(const struct lurk_response *resp, const struct expect *want)
{
    lurk_cbs in = resp->msg.payload, sig;

    ck_assert_uint_eq(resp->msg.hdr.status, LURK_STATUS_SUCCESS);
    if (!want->signature) {
        ck_assert_uint_eq(lurk_cbs_len(&in), 48);
        ck_assert_mem_eq(lurk_cbs_data(&in), want->master, 48);
        return;
    }
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig) && lurk_cbs_len(&in) == 0);
    ck_assert_msg(dc_verify(pkeys[want->key], want->md, want->pss, want->tbs, want->tbs_len,
                            lurk_cbs_data(&sig), lurk_cbs_len(&sig)),
                  "signature does not verify over client_random || ServerHello.random || params");
}

static void expect_master(struct lurk_conn *c, const struct t12 *q, const uint8_t want[48],
                          const char *what)
{
    struct lurk_response resp;

    ck_assert_msg(t12_call(c, q, &resp) == LURK_STATUS_SUCCESS, "%s: status %u", what,
                  resp.msg.hdr.status);
    ck_assert_msg(lurk_cbs_len(&resp.msg.payload) == 48, "%s: %zu bytes", what,
                  lurk_cbs_len(&resp.msg.payload));
    ck_assert_msg(memcmp(lurk_cbs_data(&resp.msg.payload), want, 48) == 0, "%s: wrong secret",
                  what);
    lurk_response_free(&resp);
}

/* The signature of an ecdhe success, copied out. */
static size_t ecdhe_signature(struct lurk_conn *c, const struct t12 *q, uint8_t *sig)
{
    struct lurk_response resp;
    lurk_cbs in, s;

    ck_assert_uint_eq(t12_call(c, q, &resp), LURK_STATUS_SUCCESS);
    in = resp.msg.payload;
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &s) && lurk_cbs_len(&in) == 0);
    memcpy(sig, lurk_cbs_data(&s), lurk_cbs_len(&s));
    size_t n = lurk_cbs_len(&s);
    lurk_response_free(&resp);
    return n;
}

/* ---- tests ---- */

/* The recorded handshakes, over each transport. */
START_TEST(vectors_every_exchange)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct t12 q;

    /* Classic capture: rsa_master and rsa_master_with_poh (its real Finished). */
    base(&q, RM);
    expect_master(c, &q, captures[0].master, "rsa_master, classic capture");
    base(&q, RMP);
    expect_master(c, &q, captures[0].master, "rsa_master_with_poh, classic capture");
    /* EMS capture: the extended variants; rsa_master gives the classic derivation. */
    base(&q, REM);
    expect_master(c, &q, captures[1].master, "rsa_extended_master, EMS capture");
    base(&q, REMP);
    expect_master(c, &q, captures[1].master, "rsa_extended_master_with_poh, EMS capture");
    base(&q, RM);
    memcpy(q.client_random, captures[1].client_random, 32);
    memcpy(q.epms, captures[1].epms, 128);
    expect_master(c, &q, captures[1].other_master, "rsa_master on the EMS capture's randoms");
    /* rsa_premaster: the premaster the captures' ciphertexts hold. */
    for (int i = 0; i < 2; i++) {
        base(&q, PM);
        memcpy(q.epms, captures[i].epms, 128);
        expect_master(c, &q, captures[i].premaster, "rsa_premaster");
    }
    /* ecdhe: PKCS#1 v1.5 is deterministic (byte for byte); PSS is verified. */
    size_t byte_for_byte = 0;
    ck_assert_uint_eq(n_ecdhe_vectors, 6);
    for (size_t i = 0; i < n_ecdhe_vectors; i++) {
        const struct ecdhe_vector *v = &ecdhe_vectors[i];
        uint8_t sig[512], tbs[256];
        bool pss = v->sig_alg >> 8 == 0x08;
        memset(&q, 0, sizeof(q));
        q.ex = EC;
        set_key(&q, v->key);
        q.freshness = LURK_FRESHNESS_NULL;
        memcpy(q.client_random, v->client_random, 32);
        memcpy(q.server_random, v->server_random, 32);
        q.sig_and_hash = v->sig_alg;
        set_params(&q, v->params, v->params_len);
        size_t n = ecdhe_signature(c, &q, sig);
        memcpy(tbs, v->client_random, 32);
        memcpy(tbs + 32, v->server_random, 32);
        memcpy(tbs + 64, v->params, v->params_len);
        ck_assert_uint_eq(v->signed_len, 64 + v->params_len);
        ck_assert_mem_eq(tbs, v->signed_data, v->signed_len);
        if (!pss) {
            ck_assert_uint_eq(n, v->sig_len);
            ck_assert_mem_eq(sig, v->signature, n);
            byte_for_byte++;
        }
        ck_assert_msg(dc_verify(pkeys[v->key], "SHA256", pss, tbs, v->signed_len, sig, n),
                      "ecdhe vector %zu", i);
        /* the recorded signature verifies with the same check (the check itself is sound) */
        ck_assert(
            dc_verify(pkeys[v->key], "SHA256", pss, tbs, v->signed_len, v->signature, v->sig_len));
    }
    ck_assert_uint_eq(byte_for_byte, 2); /* Illustrated TLS 1.2, Go rsa_pkcs1_sha256 */
    /* ecdhe with an ECDSA key (DER Ecdsa-Sig-Value), P-256 params. */
    uint8_t s[32];
    struct expect want;
    make_s(s, 0);
    fresh_request(&q, EC, K_P256, LURK_FRESHNESS_NULL, s, 0, CT_GOOD, &want);
    for (size_t i = 0; i < n_ecdhe_vectors; i++)
        if (ecdhe_vectors[i].params[2] == 23) /* the Go P-256 recording */
            set_params(&q, ecdhe_vectors[i].params, ecdhe_vectors[i].params_len);
    ck_assert_uint_eq(q.curve, 23);
    want.tbs_len = 64 + params_bytes(&q, want.tbs + 64);
    struct lurk_response resp;
    t12_call(c, &q, &resp);
    check_expect(&resp, &want);
    lurk_response_free(&resp);
    lurk_conn_close(c);
}
END_TEST

/* A proof of handshake is the real client Finished: any flipped bit is refused. */
START_TEST(poh_rejects_any_flipped_bit)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    static const enum ex types[] = {RMP, REMP};
    struct lurk_response resp;
    struct t12 q;

    for (size_t t = 0; t < 2; t++) {
        for (size_t bit = 0; bit < 96; bit += 7) {
            base(&q, types[t]);
            q.finished[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            ck_assert_uint_eq(t12_call(c, &q, &resp), LURK_TLS12_STATUS_INVALID_FINISHED);
            dc_expect_audit(resp.msg.hdr.id, "invalid_finished", "client Finished does not verify");
            lurk_response_free(&resp);
        }
        /* The Finished covers every message: change one byte of the Certificate. */
        base(&q, types[t]);
        q.hs[sh_suite_at(&q) + 40] ^= 0x01;
        ck_assert_uint_eq(t12_call(c, &q, &resp), LURK_TLS12_STATUS_INVALID_FINISHED);
        lurk_response_free(&resp);
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/*
 * Freshness sha256: lurkd derives ServerHello.random from S and signs and
 * derives with it, never with S. Synthetic handshakes put S in the
 * ServerHello; suite 0x009d has the SHA-384 PRF.
 */
START_TEST(freshness_sha256_derives_server_hello_random)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    static const struct {
        uint16_t sig;
        const char *md;
        bool pss;
    } sigs[] = {{0x0401, "SHA256", false}, {0x0501, "SHA384", false}, {0x0601, "SHA512", false},
                {0x0804, "SHA256", true},  {0x0805, "SHA384", true},  {0x0806, "SHA512", true}};
    static const uint16_t suites[] = {0x002f, 0x009d};
    static const enum ex hs_types[] = {RMP, REM, REMP};
    struct lurk_response resp;
    struct expect want;
    struct t12 q;
    uint8_t s[32];

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        make_s(s, 0);
        fresh_request(&q, EC, K_RSA, LURK_FRESHNESS_SHA256, s, 0, CT_GOOD, &want);
        q.sig_and_hash = sigs[i].sig;
        want.md = sigs[i].md;
        want.pss = sigs[i].pss;
        t12_call(c, &q, &resp);
        check_expect(&resp, &want);
        /* and not over S itself */
        memcpy(want.tbs + 32, s, 32);
        lurk_cbs in = resp.msg.payload, sig;
        ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig));
        ck_assert(!dc_verify(pkeys[K_RSA], want.md, want.pss, want.tbs, want.tbs_len,
                             lurk_cbs_data(&sig), lurk_cbs_len(&sig)));
        lurk_response_free(&resp);
    }
    for (uint8_t h = LURK_PRF_HASH_SHA256; h <= LURK_PRF_HASH_SHA512; h++) {
        static const char *const mds[] = {"SHA256", "SHA384", "SHA512"};
        uint8_t seed[64], shr[32];
        make_s(s, 0);
        fresh_request(&q, RM, K_RSA, LURK_FRESHNESS_SHA256, s, 0, CT_GOOD, &want);
        q.prf_hash = h;
        server_hello_random(LURK_FRESHNESS_SHA256, s, shr);
        memcpy(seed, q.client_random, 32);
        memcpy(seed + 32, shr, 32);
        prf(mds[h], want.pms, 48, "master secret", seed, 64, want.master, 48);
        expect_master(c, &q, want.master, "rsa_master, freshness sha256");
    }
    for (size_t su = 0; su < 2; su++) {
        for (size_t t = 0; t < 3; t++) {
            make_s(s, 0);
            fresh_request(&q, hs_types[t], K_RSA, LURK_FRESHNESS_SHA256, s, suites[su], CT_GOOD,
                          &want);
            expect_master(c, &q, want.master, "handshake with freshness sha256");
        }
    }
    lurk_conn_close(c);
}
END_TEST

/* check_time = yes: S's gmt_unix_time must be within time_window (300 s) of now. */
START_TEST(time_window)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    static const long offsets[] = {-10L * 86400, -301 - 60, 10L * 86400};
    static const enum ex types[] = {RM, RMP, REM, REMP, EC};
    struct lurk_response resp;
    struct expect want;
    struct t12 q;
    uint8_t s[32];

    for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            make_s(s, offsets[o]);
            /* key rsa checks the time */
            fresh_request(&q, types[t], K_RSA, LURK_FRESHNESS_SHA256, s, 0x002f, CT_GOOD, &want);
            ck_assert_uint_eq(t12_call(c, &q, &resp), LURK_TLS12_STATUS_INVALID_TLS_RANDOM);
            dc_expect_audit(resp.msg.hdr.id, "invalid_tls_random",
                            "gmt_unix_time outside the time window");
            lurk_response_free(&resp);
            /* key go does not (check_time = no): the same S is used as is */
            fresh_request(&q, types[t], K_GO, LURK_FRESHNESS_SHA256, s, 0x002f, CT_GOOD, &want);
            t12_call(c, &q, &resp);
            check_expect(&resp, &want);
            lurk_response_free(&resp);
        }
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/* ---- proof of ownership ---- */

/* The Schnorr check of tls12_poo.h, computed here with BIGNUM/EC_POINT: rG + c·bG == vG. */
static bool poo_holds(const struct t12 *q, int nid)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
    BN_CTX *bn = BN_CTX_new();
    EC_POINT *bg = EC_POINT_new(g), *vg = EC_POINT_new(g), *sum = EC_POINT_new(g);
    uint8_t gen[133], other[512], params[300], d[32], prefix[4];
    size_t gen_len = EC_POINT_point2oct(g, EC_GROUP_get0_generator(g),
                                        POINT_CONVERSION_UNCOMPRESSED, gen, sizeof(gen), bn);
    size_t n = 0, pl = params_bytes(q, params);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const uint8_t *items[5];
    size_t lens[5];
    uint8_t user[64];

    other[n++] = q->key_id_type;
    memcpy(other + n, q->key_id, 4);
    n += 4;
    other[n++] = q->freshness;
    other[n++] = (uint8_t)(q->sig_and_hash >> 8);
    other[n++] = (uint8_t)q->sig_and_hash;
    memcpy(other + n, params, pl);
    n += pl;
    memcpy(other + n, "tls12 poo", 9);
    n += 9;
    memcpy(user, q->client_random, 32);
    memcpy(user + 32, q->server_random, 32);
    items[0] = gen, lens[0] = gen_len;
    items[1] = q->vg, lens[1] = q->vg_len;
    items[2] = q->point, lens[2] = q->point_len;
    items[3] = user, lens[3] = 64;
    items[4] = other, lens[4] = n;
    ck_assert(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
    for (int i = 0; i < 5; i++) {
        prefix[0] = (uint8_t)(lens[i] >> 24);
        prefix[1] = (uint8_t)(lens[i] >> 16);
        prefix[2] = (uint8_t)(lens[i] >> 8);
        prefix[3] = (uint8_t)lens[i];
        EVP_DigestUpdate(md, prefix, 4);
        EVP_DigestUpdate(md, items[i], lens[i]);
    }
    ck_assert(EVP_DigestFinal_ex(md, d, NULL) == 1);
    BIGNUM *c = BN_bin2bn(d, q->poo_prf == LURK_POO_PRF_SHA256_128 ? 16 : 32, NULL);
    BIGNUM *r = BN_bin2bn(q->r, (int)q->r_len, NULL);
    bool ok = EC_POINT_oct2point(g, bg, q->point, q->point_len, bn) == 1 &&
              EC_POINT_oct2point(g, vg, q->vg, q->vg_len, bn) == 1 &&
              EC_POINT_mul(g, sum, r, bg, c, bn) == 1 && EC_POINT_cmp(g, sum, vg, bn) == 0;
    BN_free(c);
    BN_free(r);
    EC_POINT_free(bg);
    EC_POINT_free(vg);
    EC_POINT_free(sum);
    EVP_MD_CTX_free(md);
    BN_CTX_free(bn);
    EC_GROUP_free(g);
    return ok;
}

static const struct {
    uint16_t curve;
    const char *name;
    int nid;
    size_t r_len;
} poo_curves[] = {
    {23, "P-256", NID_X9_62_prime256v1, 32},
    {24, "P-384", NID_secp384r1, 48},
    {25, "P-521", NID_secp521r1, 66},
};

/* An ecdhe request for a fresh ECDHE key on the curve, with a proof made by liblurk. */
static void poo_request(struct t12 *q, size_t curve, uint8_t poo_prf, struct expect *want)
{
    EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", poo_curves[curve].name);
    BIGNUM *b = NULL;
    struct lurk_tls12_ecdhe_request req;
    uint8_t params[300], vg[133], r[66], s[32];

    ck_assert(eph != NULL && EVP_PKEY_get_bn_param(eph, OSSL_PKEY_PARAM_PRIV_KEY, &b) == 1);
    make_s(s, 0);
    fresh_request(q, EC, K_P256, LURK_FRESHNESS_NULL, s, 0, CT_GOOD, want);
    q->curve = poo_curves[curve].curve;
    ck_assert(EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, q->point,
                                              sizeof(q->point), &q->point_len) == 1);
    ck_assert_uint_eq(q->point[0], 0x04);
    q->poo_prf = poo_prf;
    want->tbs_len = 64 + params_bytes(q, want->tbs + 64);
    memset(&req, 0, sizeof(req));
    req.key_id.type = q->key_id_type;
    memcpy(req.key_id.id, q->key_id, 4);
    req.freshness_funct = q->freshness;
    memcpy(req.client_random, q->client_random, 32);
    memcpy(req.server_random, q->server_random, 32);
    req.sig_and_hash = q->sig_and_hash;
    req.ecdhe_params.curve_type = q->curve_type;
    req.ecdhe_params.named_curve = q->curve;
    lurk_cbs_init(&req.ecdhe_params.point, q->point, q->point_len);
    lurk_cbs_init(&req.ecdhe_params_bytes, params, params_bytes(q, params));
    req.poo_prf = poo_prf;
    ck_assert(lurk_tls12_poo_prove(&req, b, vg, r));
    q->vg_len = lurk_cbs_len(&req.poo_vg);
    memcpy(q->vg, lurk_cbs_data(&req.poo_vg), q->vg_len);
    q->r_len = lurk_cbs_len(&req.poo_r);
    memcpy(q->r, lurk_cbs_data(&req.poo_r), q->r_len);
    /* the pinned format: r as long as the curve order */
    ck_assert_uint_eq(q->r_len, poo_curves[curve].r_len);
    ck_assert_msg(poo_holds(q, poo_curves[curve].nid), "liblurk's proof does not verify here");
    BN_clear_free(b);
    EVP_PKEY_free(eph);
}

START_TEST(poo_schnorr_nist_curves)
{
    struct lurk_conn *c = dc_connect(transport(_i), 1);
    struct lurk_response resp;
    struct expect want;
    struct t12 q, bad;

    for (size_t curve = 0; curve < 3; curve++) {
        for (uint8_t prf_id = LURK_POO_PRF_SHA256_128; prf_id <= LURK_POO_PRF_SHA256_256;
             prf_id++) {
            poo_request(&q, curve, prf_id, &want);
            t12_call(c, &q, &resp);
            check_expect(&resp, &want);
            lurk_response_free(&resp);
            /* A corrupted r, a different vG, a vG off the curve, r one byte short. */
            for (int k = 0; k < 4; k++) {
                bad = q;
                if (k == 0)
                    bad.r[bad.r_len - 1] ^= 0x01;
                else if (k == 1)
                    memcpy(bad.vg, q.point, bad.vg_len = q.point_len);
                else if (k == 2)
                    bad.vg[bad.vg_len - 1] ^= 0x01;
                else
                    bad.r_len--;
                ck_assert(!poo_holds(&bad, poo_curves[curve].nid) || k == 3);
                ck_assert_uint_eq(t12_call(c, &bad, &resp), LURK_TLS12_STATUS_INVALID_POO);
                dc_expect_audit(resp.msg.hdr.id, "invalid_poo",
                                "proof of ownership does not verify");
                lurk_response_free(&resp);
            }
        }
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/* ---- every status ---- */

static void m_key_id_type(struct t12 *q)
{
    q->key_id_type = 1;
}
static void m_unknown_key(struct t12 *q)
{
    q->key_id[0] ^= 0x5a;
}
static void m_sign_only_key(struct t12 *q)
{
    set_key(q, K_SIGN_ONLY);
}
static void m_p256_key(struct t12 *q)
{
    set_key(q, K_P256);
}
static void set_s(struct t12 *q, const uint8_t s[32])
{
    memcpy(q->server_random, s, 32);
    if (q->ex & HS)
        memcpy(q->hs + sh_random_at(q), s, 32);
}
static void m_rsa_old_time(struct t12 *q)
{
    uint8_t s[32];
    make_s(s, -10L * 86400);
    set_key(q, K_RSA);
    q->freshness = LURK_FRESHNESS_SHA256;
    set_s(q, s);
}
static void m_rsa_null(struct t12 *q)
{
    set_key(q, K_RSA);
}
static void m_freshness_unknown(struct t12 *q)
{
    q->freshness = 7;
}
static void m_flip_finished(struct t12 *q)
{
    q->finished[11] ^= 0x80;
}
static void m_ec_type(struct t12 *q)
{
    q->curve_type = 1; /* explicit_prime */
}
static void m_curve_unsupported(struct t12 *q)
{
    q->curve = 22; /* secp256k1 */
}
/* The P-256 key's public point, with its last byte changed: off the curve. */
static void m_point_off_curve(struct t12 *q)
{
    q->curve = 23;
    ck_assert(EVP_PKEY_get_octet_string_param(pkeys[K_P256], OSSL_PKEY_PARAM_PUB_KEY, q->point,
                                              sizeof(q->point), &q->point_len) == 1);
    q->point[q->point_len - 1] ^= 0x01;
}
static void m_point_compressed(struct t12 *q)
{
    m_point_off_curve(q);
    q->point[q->point_len - 1] ^= 0x01;
    q->point[0] = 0x02 | (q->point[64] & 1);
    q->point_len = 33;
}
static void m_x25519_short(struct t12 *q)
{
    q->point_len = 31;
}
static void m_poo_unknown(struct t12 *q)
{
    q->poo_prf = 3;
}
static void m_x25519_zero(struct t12 *q)
{
    memset(q->point, 0, q->point_len);
}
static void m_x25519_order8(struct t12 *q)
{
    /* 325606250916557431795983626356110631294008115727848805560023387167927233504, little-endian */
    static const uint8_t u[32] = {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
                                  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
                                  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
    memcpy(q->point, u, sizeof(u));
}
static void m_x448_one(struct t12 *q)
{
    q->curve = 30;
    memset(q->point, 0, q->point_len = 56);
    q->point[0] = 1;
}
static void m_poo_x25519(struct t12 *q)
{
    q->poo_prf = LURK_POO_PRF_SHA256_128;
    memcpy(q->vg, q->point, q->vg_len = 32);
    memset(q->r, 0x11, q->r_len = 32);
}
static void m_prf_unknown(struct t12 *q)
{
    q->prf_hash = 3;
}
static void m_suite_ecdhe(struct t12 *q)
{
    q->hs[sh_suite_at(q)] = 0xc0;
    q->hs[sh_suite_at(q) + 1] = 0x2f;
}
static void m_epms_plus_one(struct t12 *q)
{
    q->epms[q->epms_len++] = 0;
}
static void m_epms_above_modulus(struct t12 *q)
{
    memset(q->epms, 0xff, q->epms_len);
}
static void m_sig_ecdsa_on_rsa(struct t12 *q)
{
    q->sig_and_hash = 0x0403;
}
/* RFC 5246 §7.4.1.4.1: rsa (1) with sha1 (2) and md5 (1); lurkd signs neither. */
static void m_sig_rsa_sha1(struct t12 *q)
{
    q->sig_and_hash = 0x0201;
}
static void m_sig_rsa_md5(struct t12 *q)
{
    q->sig_and_hash = 0x0101;
}
static void m_hs_garbage(struct t12 *q)
{
    static const uint8_t done[] = {14, 0, 0, 0, 14, 0, 0, 0};
    memcpy(q->hs, done, q->hs_len = sizeof(done));
}
static void m_hs_classic(struct t12 *q)
{
    memcpy(q->hs, captures[0].hs, q->hs_len = captures[0].hs_len);
}
static void m_hs_ems(struct t12 *q)
{
    memcpy(q->hs, captures[1].hs, q->hs_len = captures[1].hs_len);
}

struct status_case {
    const char *what;
    unsigned on; /* enum ex bits */
    void (*mutate)(struct t12 *q);
    int client; /* 0: unix (client local), 2: tls as client2 */
    uint8_t status;
    const char *note; /* the audit note, NULL: any */
};

static const struct status_case status_cases[] = {
    {"key id type 1", ALL, m_key_id_type, 0, LURK_TLS12_STATUS_INVALID_KEY_ID_TYPE, NULL},
    {"unknown key", ALL, m_unknown_key, 0, LURK_TLS12_STATUS_INVALID_KEY_ID, "unknown key"},
    {"client2 not listed", ALL, NULL, 2, LURK_TLS12_STATUS_INVALID_KEY_ID,
     "client not allowed to use this key"},
    {"exchange not in the key's exchanges", ALL, m_sign_only_key, 0,
     LURK_TLS12_STATUS_INVALID_KEY_ID, "exchange not allowed for this key"},
    {"EC key for RSA key transport", RSA_ALL, m_p256_key, 0, LURK_TLS12_STATUS_INVALID_KEY_ID,
     "exchange not allowed for this key"},
    {"gmt_unix_time 10 days ago", FRESH, m_rsa_old_time, 0, LURK_TLS12_STATUS_INVALID_TLS_RANDOM,
     "gmt_unix_time outside the time window"},
    {"null freshness on a key that forbids it", FRESH, m_rsa_null, 0,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT, "null freshness not allowed for this key"},
    {"unknown freshness function", FRESH, m_freshness_unknown, 0,
     LURK_TLS12_STATUS_INVALID_FRESHNESS_FUNCT, NULL},
    {"Finished with a flipped bit", RMP | REMP, m_flip_finished, 0,
     LURK_TLS12_STATUS_INVALID_FINISHED, "client Finished does not verify"},
    {"explicit_prime curve type", EC, m_ec_type, 0, LURK_TLS12_STATUS_INVALID_EC_TYPE, NULL},
    {"unsupported curve", EC, m_curve_unsupported, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "unsupported curve"},
    {"point not on P-256", EC, m_point_off_curve, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is not a point of the curve"},
    {"compressed P-256 point", EC, m_point_compressed, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is not a point of the curve"},
    {"X25519 key of 31 bytes", EC, m_x25519_short, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is not a point of the curve"},
    {"X25519 all-zero point", EC, m_x25519_zero, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is a point of small order"},
    {"X25519 point of order 8", EC, m_x25519_order8, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is a point of small order"},
    {"X448 point 1", EC, m_x448_one, 0, LURK_TLS12_STATUS_INVALID_EC_CURVE,
     "ECDHE public key is a point of small order"},
    {"unknown poo_prf", EC, m_poo_unknown, 0, LURK_TLS12_STATUS_INVALID_POO_PRF, NULL},
    {"Schnorr proof on X25519", EC, m_poo_x25519, 0, LURK_TLS12_STATUS_INVALID_POO_PRF,
     "proof of ownership is only supported on P-256, P-384 and P-521"},
    {"unknown prf_hash", RM, m_prf_unknown, 0, LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH, NULL},
    {"ServerHello with an ECDHE suite", HS, m_suite_ecdhe, 0,
     LURK_TLS12_STATUS_INVALID_CIPHER_OR_PRF_HASH,
     "ServerHello selected no RSA key exchange suite"},
    {"ciphertext one byte too long", RM, m_epms_plus_one, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "encrypted premaster is longer than"},
    {"ciphertext not below the modulus", RM | PM, m_epms_above_modulus, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "encrypted premaster is not below"},
    {"ciphertext one byte longer than the modulus", PM, m_epms_plus_one, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "encrypted premaster is longer than"},
    {"ECDSA sig_and_hash with an RSA key", EC, m_sig_ecdsa_on_rsa, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "sig_and_hash does not fit the key"},
    {"RSA with SHA-1", EC, m_sig_rsa_sha1, 0, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
     "SHA-1 and MD5 signatures are refused"},
    {"RSA with MD5", EC, m_sig_rsa_md5, 0, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
     "SHA-1 and MD5 signatures are refused"},
    {"handshake_messages not a handshake", HS, m_hs_garbage, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "handshake_messages is not a TLS 1.2 RSA handshake"},
    {"extended type without EMS", REM | REMP, m_hs_classic, 0,
     LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT, "ServerHello did not negotiate"},
    {"classic type with EMS", RMP, m_hs_ems, 0, LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
     "ServerHello negotiated extended_master_secret"},
};

START_TEST(every_status_and_its_audit_line)
{
    struct lurk_conn *local = dc_connect(lurkd.unix_addr, 0), *client2 = dc_connect(tls_addr, 2);
    struct lurk_response resp;
    struct t12 q;

    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const struct status_case *sc = &status_cases[i];
        for (unsigned e = RM; e <= PM; e <<= 1) {
            if (!(sc->on & e))
                continue;
            base(&q, (enum ex)e);
            if (sc->mutate != NULL)
                sc->mutate(&q);
            uint8_t st = t12_call(sc->client ? client2 : local, &q, &resp);
            ck_assert_msg(st == sc->status, "%s (%s): status %s, expected %s", sc->what,
                          lurk_tls12_type_name(ex_type(e)), lurk_tls12_status_name(st),
                          lurk_tls12_status_name(sc->status));
            ck_assert_uint_eq(resp.msg.hdr.designation, LURK_DESIGNATION_TLS12);
            ck_assert_uint_eq(resp.msg.hdr.type, ex_type(e));
            ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 4); /* lurk_state */
            dc_expect_audit(resp.msg.hdr.id, lurk_tls12_status_name(sc->status), sc->note);
            lurk_response_free(&resp);
        }
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(local);
    lurk_conn_close(client2);
}
END_TEST

/*
 * Every truncation of every exchange's payload is a format error, except
 * inside rsa_master's ciphertext: it is the rest of the payload, and a
 * shorter one is a smaller integer (rsa_premaster.h), which decrypts.
 */
START_TEST(truncations)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    struct lurk_response resp;
    struct expect want;
    struct t12 q;
    uint8_t s[32], buf[4096];

    for (unsigned e = RM; e <= PM; e <<= 1) {
        make_s(s, 0);
        fresh_request(&q, (enum ex)e, K_GO, LURK_FRESHNESS_NULL, s, 0x002f, CT_GOOD, &want);
        size_t len = t12_encode(&q, buf, sizeof(buf));
        size_t last = e == RM ? len - q.epms_len : len;
        for (size_t cut = 0; cut <= last && cut < len; cut++) {
            uint8_t st = dc_call(c, LURK_DESIGNATION_TLS12, ex_type(e), buf, cut, &resp);
            ck_assert_msg(st == LURK_TLS12_STATUS_INVALID_PAYLOAD_FORMAT,
                          "%s cut at %zu of %zu: %s", lurk_tls12_type_name(ex_type(e)), cut, len,
                          lurk_tls12_status_name(st));
            if (cut % 16 == 0)
                dc_expect_audit(resp.msg.hdr.id, "invalid_payload_format", NULL);
            lurk_response_free(&resp);
        }
        /* and the whole request succeeds */
        ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS12, ex_type(e), buf, len, &resp),
                          LURK_STATUS_SUCCESS);
        check_expect(&resp, &want);
        lurk_response_free(&resp);
    }
    dc_check_audits(&lurkd);
    lurk_conn_close(c);
}
END_TEST

/*
 * invalid_encrypted_premaster is never answered (implicit rejection): a bad
 * PKCS#1 block, a random integer and a wrong premaster version all give a
 * success of the same length as a good ciphertext, and a secret that is not
 * the one the client encrypted.
 */
START_TEST(bad_ciphertexts_look_like_good_ones)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    static const enum ex types[] = {RM, REM, PM};
    static const int keys[] = {K_GO, K_RSA};

    for (size_t k = 0; k < 2; k++) {
        /* key rsa forbids null freshness; its time window accepts now */
        uint8_t freshness = keys[k] == K_RSA ? LURK_FRESHNESS_SHA256 : LURK_FRESHNESS_NULL;
        for (size_t t = 0; t < 3; t++) {
            size_t good_len = 0;
            for (int ct = CT_GOOD; ct <= CT_BAD_VERSION; ct++) {
                struct lurk_response resp;
                struct expect want;
                struct t12 q;
                uint8_t s[32];
                make_s(s, 0);
                fresh_request(&q, types[t], keys[k], freshness, s, 0x002f, (enum ciphertext)ct,
                              &want);
                ck_assert_uint_eq(t12_call(c, &q, &resp), LURK_STATUS_SUCCESS);
                ck_assert_uint_eq(lurk_cbs_len(&resp.msg.payload), 48);
                if (ct == CT_GOOD)
                    good_len = resp.len;
                ck_assert_uint_eq(resp.len, good_len);
                /* only the good ciphertext gives the client's secret */
                ck_assert_int_eq(memcmp(lurk_cbs_data(&resp.msg.payload), want.master, 48) == 0,
                                 ct == CT_GOOD);
                lurk_response_free(&resp);
            }
        }
    }
    lurk_conn_close(c);
}
END_TEST

/*
 * rsa_premaster's version bytes are the client_version it is given, never
 * the block's own, and the rest is the block's (RFC 5246 §7.4.7.1, third
 * case): a block saying 03 01 asked as 03 01 is the client's premaster, and
 * asked as 03 03 it is 03 03 and the same 46 bytes.
 */
START_TEST(premaster_version_is_the_given_client_version)
{
    struct lurk_conn *c = dc_connect(lurkd.unix_addr, 0);
    struct expect want;
    struct t12 q;
    uint8_t s[32] = {0};

    fresh_request(&q, PM, K_GO, 0, s, 0, CT_BAD_VERSION, &want);
    q.client_version = 0x0301;
    expect_master(c, &q, want.master, "rsa_premaster, client_version 0x0301");
    q.client_version = 0x0303;
    want.master[1] = 0x03;
    expect_master(c, &q, want.master, "rsa_premaster, client_version 0x0303");
    lurk_conn_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_tls12");
    TCase *tc = tcase_create("tls12");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, vectors_every_exchange, 0, 3);
    tcase_add_test(tc, poh_rejects_any_flipped_bit);
    tcase_add_loop_test(tc, freshness_sha256_derives_server_hello_random, 0, 3);
    tcase_add_test(tc, time_window);
    tcase_add_loop_test(tc, poo_schnorr_nist_curves, 0, 3);
    tcase_add_test(tc, every_status_and_its_audit_line);
    tcase_add_test(tc, truncations);
    tcase_add_test(tc, bad_ciphertexts_look_like_good_ones);
    tcase_add_test(tc, premaster_version_is_the_given_client_version);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
